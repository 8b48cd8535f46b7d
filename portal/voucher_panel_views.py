"""Staff panel pages for voucher batches, under /vouchers/: the batches of your part of the tree with their
stock, printing a batch (the same service as ``POST /api/v1/voucher-batches/``), one batch with its cards
per status, the printable sheet and handing stock to a card distributor. Scoped exactly as the API
(ledger.vouchers.selectors, hierarchy.authority): outside your subtree 404; a role that may only read sees
no forms and gets 403 on a POST. Thin: a form, one service call; a refusal lands on the form and changes
nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import Role, User
from hierarchy import authority
from hierarchy.audit import Actor
from hierarchy.authority import Act
from hierarchy.models import Operator, Package
from hierarchy.selectors import packages_for
from ledger.pricing import from_minor, to_minor
from ledger.vouchers import selectors
from ledger.vouchers.models import Unit, VoucherBatch, VoucherStatus
from ledger.vouchers.recharge import MAX_QUANTITY
from ledger.vouchers.services import batch_create, stock_assign, voucher_sell, voucher_void

_INPUT = {"class": "form-control"}
T = TypeVar("T")


class BatchForm(forms.Form):
    package = forms.ModelChoiceField(queryset=Package.objects.none(), widget=forms.Select(attrs={"class": "form-select"}))
    owner = forms.ModelChoiceField(queryset=Operator.objects.none(), label="Owner node",
                                   widget=forms.Select(attrs={"class": "form-select"}),
                                   help_text="The node whose stock and cash the cards are.")
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY[Unit.HOURS], initial=30,
                                  widget=forms.NumberInput(attrs=_INPUT))
    unit = forms.ChoiceField(choices=Unit.choices, initial=Unit.DAYS, widget=forms.Select(attrs={"class": "form-select"}))
    face_price = forms.DecimalField(label="Face price", max_digits=12, decimal_places=2, min_value=Decimal("0.01"),
                                    widget=forms.NumberInput(attrs={**_INPUT, "step": "0.01"}))
    count = forms.IntegerField(label="Cards", min_value=1, max_value=10_000, initial=100,
                               widget=forms.NumberInput(attrs=_INPUT))
    commission_percent = forms.DecimalField(label="Distributor commission %", max_digits=5, decimal_places=2,
                                            min_value=Decimal(0), max_value=Decimal("99.99"), initial=Decimal(0),
                                            widget=forms.NumberInput(attrs={**_INPUT, "step": "0.01"}))
    valid_until = forms.DateField(label="Valid until", required=False,
                                  widget=forms.DateInput(attrs={**_INPUT, "type": "date"}),
                                  help_text="Last day a card may be sold or redeemed; empty: no expiry.")
    redeem_unsold = forms.BooleanField(label="A card never recorded as sold may be redeemed", required=False,
                                       widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))
    note = forms.CharField(max_length=120, required=False, widget=forms.TextInput(attrs=_INPUT))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        package_field = cast(forms.ModelChoiceField, self.fields["package"])
        package_field.queryset = packages_for(user=user).order_by("name")
        owner_field = cast(forms.ModelChoiceField, self.fields["owner"])
        owner_field.queryset = authority.restrict(Operator.objects.all(), user, Act.VOUCHER_BATCH_CREATE).order_by("path")
        owner_field.initial = authority.user_node(user=user)


class AssignForm(forms.Form):
    distributor = forms.ModelChoiceField(queryset=User.objects.none(), label="Card distributor",
                                         widget=forms.Select(attrs={"class": "form-select"}))
    count = forms.IntegerField(label="Cards", min_value=1, max_value=10_000, widget=forms.NumberInput(attrs=_INPUT))

    def __init__(self, *args: Any, batch: VoucherBatch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["distributor"])
        field.queryset = distributors_for(batch)


def distributors_for(batch: VoucherBatch) -> QuerySet[User]:
    """Card distributor logins attached to the batch owner's node or below (who may take its stock)."""
    return (User.objects.filter(role=Role.CARD_DISTRIBUTOR, is_active=True,
                                membership__operator__path__startswith=batch.owner.path)
            .order_by("full_name", "email"))


def _actor(request: HttpRequest, user: User) -> Actor:
    return Actor(user=user, ip=request.META.get("REMOTE_ADDR"))


def _money(request: HttpRequest, minor: int) -> str:
    return f"{from_minor(minor)} {request.tenant.currency}"  # type: ignore[attr-defined]


def _staff(request: HttpRequest) -> User:
    """The signed-in login, if the table lets it see vouchers at all (customers and support do not)."""
    user = cast(User, request.user)
    authority.authorize(user, Act.VOUCHER_VIEW)
    return user


def _may_print(user: User) -> bool:
    return authority.allowed(user, Act.VOUCHER_BATCH_CREATE) and authority.user_node(user=user) is not None


def _submitted(form: forms.Form, call: Callable[[], T]) -> T | None:
    """``call()`` (a service); its ValidationError lands on the form (a named field when the form has it,
    else the form) and gives None: nothing changed."""
    try:
        return call()
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, messages_ in error.message_dict.items():
                for message in messages_:
                    form.add_error(field if field in form.fields else None, message)
        else:
            for message in error.messages:
                form.add_error(None, message)
        return None


def _to_batch_page(pk: int) -> HttpResponse:
    return HttpResponseRedirect(reverse("voucher_panel:batch", args=[pk]), status=303)


@login_required
@require_http_methods(["GET", "POST"])
def batches(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    may_print = _may_print(user)
    form = BatchForm(user=user)
    status = 200
    if request.method == "POST":
        if not may_print:
            raise PermissionDenied("Your role may not print vouchers.")
        form = BatchForm(request.POST, user=user)
        if form.is_valid():
            values = form.cleaned_data
            batch = _submitted(form, lambda: batch_create(
                package=values["package"], quantity=values["quantity"], unit=values["unit"],
                face_price=to_minor(values["face_price"]), count=values["count"], owner=values["owner"],
                commission_percent=values["commission_percent"], redeem_unsold=values["redeem_unsold"],
                note=values["note"], valid_until=values["valid_until"], actor=_actor(request, user),
            ))
            if batch is not None:
                messages.success(request, f"Printed batch {batch.pk:05d}: {batch.count} cards.")
                return _to_batch_page(batch.pk)
        status = 400
    found = selectors.with_stock_counts(selectors.batches_in_scope(user=user).order_by("-id")[:200])
    for row in found:
        counts = row.status_counts  # type: ignore[attr-defined]
        row.stock_row = [(s, counts.get(s, 0)) for s in VoucherStatus.values]  # type: ignore[attr-defined]
        row.face_price_display = _money(request, row.face_price)  # type: ignore[attr-defined]
    return render(request, "portal/vouchers/batches.html",
                  {"batches": found, "form": form if may_print else None, "statuses": VoucherStatus.values},
                  status=status)


class CardForm(forms.Form):
    action = forms.ChoiceField(choices=[("sell", "Sell"), ("void", "Void")], widget=forms.HiddenInput)
    number = forms.IntegerField(label="Card number", min_value=1, max_value=10_000,
                                widget=forms.NumberInput(attrs=_INPUT),
                                help_text="The number after the dash in the card's serial.")


def _card_actions(user: User, batch: VoucherBatch) -> list[str]:
    """What the table lets this login do to the batch's cards (a card distributor: sell its own stock)."""
    acts = {"sell": Act.VOUCHER_SELL, "void": Act.VOUCHER_VOID}
    if user.role == Role.CARD_DISTRIBUTOR:
        return [name for name, act in acts.items() if act == Act.VOUCHER_SELL and authority.allowed(user, act)]
    return [name for name, act in acts.items()
            if authority.allowed(user, act) and authority.node_in_scope(user=user, node=batch.owner)]


@login_required
@require_http_methods(["GET", "POST"])
def batch(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff(request)
    found = get_object_or_404(selectors.batches_in_scope(user=user), pk=pk)
    may_assign = (user.role != Role.CARD_DISTRIBUTOR
                  and selectors.batches_in_scope(user=user, act=Act.VOUCHER_ASSIGN).filter(pk=pk).exists())
    actions = _card_actions(user, found)
    form = AssignForm(batch=found) if may_assign else None
    card_form = CardForm(initial={"action": "sell"}) if actions else None
    status = 200
    if request.method == "POST" and "action" in request.POST:
        card_form = CardForm(request.POST)
        if request.POST["action"] not in actions:
            raise PermissionDenied("Your role may not do this to vouchers.")
        if card_form.is_valid() and _card_action(request, user, found, card_form):
            return _to_batch_page(pk)
        status = 400
    elif request.method == "POST":
        if not may_assign:
            raise PermissionDenied("Your role may not hand out vouchers.")
        form = AssignForm(request.POST, batch=found)
        if form.is_valid():
            values = form.cleaned_data
            ids = _submitted(form, lambda: stock_assign(batch=found, distributor=values["distributor"],
                                                        count=values["count"], actor=_actor(request, user)))
            if ids is not None:
                messages.success(request, f"{len(ids)} cards handed to {values['distributor']}.")
                return _to_batch_page(pk)
        status = 400
    (counted,) = selectors.with_stock_counts([found])
    counts = counted.status_counts  # type: ignore[attr-defined]
    cards = selectors.vouchers_in_scope(user=user).filter(batch=found).select_related("distributor")
    holders = (cards.filter(distributor__isnull=False).values("distributor__email", "status")
               .annotate(n=Count("id")).order_by("distributor__email", "status"))
    return render(request, "portal/vouchers/batch.html", {
        "batch": found,
        "face_price": _money(request, found.face_price),
        "stock": [(s, counts.get(s, 0)) for s in VoucherStatus.values],
        "unassigned": cards.filter(status=VoucherStatus.NEW, distributor__isnull=True).count(),
        "holders": _by_holder(holders),
        "form": form,
        "card_form": card_form,
        "card_actions": actions,
    }, status=status)


def _card_action(request: HttpRequest, user: User, batch: VoucherBatch, form: CardForm) -> bool:
    """Sell or void card ``number`` of the batch (the same services as the API); False: refused on the form."""
    action, number = form.cleaned_data["action"], form.cleaned_data["number"]
    voucher = selectors.vouchers_in_scope(user=user).filter(batch=batch, number=number).first()
    if voucher is None:
        form.add_error("number", f"No card {number} of this batch in your stock.")
        return False
    done = _submitted(form, lambda: voucher_sell(voucher=voucher, actor=_actor(request, user)) if action == "sell"
                      else voucher_void(voucher=voucher, actor=_actor(request, user)))
    if done is None:
        return False
    messages.success(request, f"Card {done.serial} {'sold' if action == 'sell' else 'voided'}.")
    return True


def _by_holder(rows: Any) -> list[dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = table.setdefault(row["distributor__email"], {"email": row["distributor__email"]})
        entry[row["status"]] = row["n"]
    return list(table.values())
