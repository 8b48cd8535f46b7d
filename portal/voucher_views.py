"""Voucher redemption pages: the customer portal (a signed-in customer) and the hotspot captive portal
(no sign-in: the device's own MAC address, as the router passes it, and the PIN). Thin: a form, one service
call. The hotspot reaches only the device's own hotspot account: it takes no username, and anything that is
not a MAC address gets one answer whatever accounts exist, so the page never tells whether a customer does.

Wrong PINs count toward the same Redis limit as the API (5 per 15 minutes per address and per
customer/device); while it is full the form says how long to wait."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlparse

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import Role
from hierarchy.audit import Actor
from hierarchy.models import Package, Subscriber
from hierarchy.subscribers import mac_normalize
from ledger.models import StripeAccount
from ledger.pricing import from_minor
from ledger.vouchers.limits import TooManyAttempts, pin_attempt, wrong_guess
from ledger.vouchers.models import Channel, Recharge, Unit
from ledger.vouchers.recharge import MAX_QUANTITY
from ledger.vouchers.self_recharge import (
    SelfRechargeQuote,
    self_recharge_buy,
    self_recharge_intent,
    self_recharge_packages,
    self_recharge_quote,
)
from ledger.vouchers.services import Redemption, VoucherRejected, voucher_redeem

NOT_A_DEVICE = "Enter this device's MAC address (the hotspot fills it in for you)."
PIN_WIDGET = forms.TextInput(attrs={"class": "form-control form-control-lg font-monospace", "autocomplete": "off",
                                    "placeholder": "XXXX-XXXX-XXXX-XXXX", "autocapitalize": "characters"})


class RedeemForm(forms.Form):
    pin = forms.CharField(label="Voucher PIN", max_length=40, widget=PIN_WIDGET)


class HotspotForm(forms.Form):
    identity = forms.CharField(label="Device MAC address", max_length=64,
                               widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}))
    pin = forms.CharField(label="Voucher PIN", max_length=40, widget=PIN_WIDGET)


def _redeem(request: HttpRequest, form: forms.Form, *, who: str, channel: str, **target: Any) -> Redemption | None:
    """Redeem under the brute-force limit; on refusal the reason goes on the form and nothing changed."""
    address = request.META.get("REMOTE_ADDR")
    user = request.user if request.user.is_authenticated else None
    try:
        with pin_attempt(address=address, who=who) as wrong:
            try:
                return voucher_redeem(pin=form.cleaned_data["pin"], actor=Actor(user=user, ip=address),
                                      channel=channel, **target)
            except VoucherRejected as exc:
                wrong[0] = True
                form.add_error("pin", exc.message_dict.get("pin", exc.messages)[0])
            except ValidationError as exc:  # e.g. the customer is disabled, or the package is not sold by its owner
                form.add_error(None, "; ".join(exc.messages))
    except TooManyAttempts as exc:
        form.add_error("pin", str(exc))
    return None


@login_required
@require_http_methods(["GET", "POST"])
def customer_vouchers(request: HttpRequest) -> HttpResponse:
    subscriber = Subscriber.objects.select_related("package", "owner").filter(user_id=request.user.pk or 0).first()
    if getattr(request.user, "role", "") != Role.CUSTOMER or subscriber is None:
        return render(request, "403.html", status=403)
    form = RedeemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = _redeem(request, form, who=f"customer:{subscriber.pk}", channel=Channel.PORTAL, customer=subscriber)
        if result is not None:
            messages.success(request, f"Voucher accepted: {result.recharge.quantity} {result.recharge.unit} of "
                                      f"{result.recharge.package.name}. You are connected until "
                                      f"{result.customer.expires_at:%Y-%m-%d %H:%M} UTC.")
            return redirect("portal-vouchers")
    recharges = Recharge.objects.filter(customer=subscriber).select_related("package").order_by("-id")[:10]
    return render(request, "portal/vouchers/redeem.html",
                  {"form": form, "subscriber": subscriber, "recharges": recharges},
                  status=400 if form.errors else 200)


class SelfRechargeForm(forms.Form):
    package: forms.ModelChoiceField[Package] = forms.ModelChoiceField(
        queryset=Package.objects.none(), empty_label=None, widget=forms.Select(attrs={"class": "form-select"}))
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY[Unit.HOURS], initial=1,
                                  widget=forms.NumberInput(attrs={"class": "form-control"}))
    unit = forms.ChoiceField(choices=Unit.choices, initial=Unit.DAYS, widget=forms.Select(attrs={"class": "form-select"}))
    key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, customer: Subscriber, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = self_recharge_packages(customer=customer)  # type: ignore[attr-defined]


def _form_error(form: forms.Form, exc: ValidationError) -> None:
    for field, errors in (exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]):
        form.add_error(field if field in form.fields else None, "; ".join(errors))


@login_required
@require_http_methods(["GET", "POST"])
def customer_recharge(request: HttpRequest) -> HttpResponse:
    """Preview the price of N days/hours, then buy from credit or start a card payment."""
    subscriber = Subscriber.objects.select_related("package", "owner").filter(user_id=request.user.pk or 0).first()
    if getattr(request.user, "role", "") != Role.CUSTOMER or subscriber is None:
        return render(request, "403.html", status=403)
    initial = {"package": subscriber.package_id, "key": uuid.uuid4().hex}
    form = SelfRechargeForm(request.POST or None, customer=subscriber, initial=initial)
    stripe_account = StripeAccount.objects.first()
    quote: SelfRechargeQuote | None = None
    action = request.POST.get("action", "preview")
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        order = {"customer": subscriber, "package": values["package"], "quantity": values["quantity"],
                 "unit": values["unit"]}
        try:
            if action == "credit":
                recharge, _ = self_recharge_buy(**order, idempotency_key=f"portal:{values['key']}",
                                                actor=Actor(user=request.user, ip=request.META.get("REMOTE_ADDR")),
                                                channel=Channel.PORTAL)
                subscriber.refresh_from_db()
                messages.success(request, f"Recharged: {recharge.quantity} {recharge.unit} of {recharge.package.name} "
                                          f"for {from_minor(recharge.price)}. You are connected until "
                                          f"{subscriber.expires_at:%Y-%m-%d %H:%M} UTC.")
                return redirect("portal-recharge")
            if action == "card" and stripe_account is not None:
                intent = self_recharge_intent(**order, idempotency_key=f"portal:{values['key']}")
                return render(request, "portal/vouchers/recharge_card.html", {
                    "subscriber": subscriber, "intent": intent, "amount": from_minor(intent["amount"]),
                    "publishable_key": stripe_account.publishable_key, "order": order})
            quote = self_recharge_quote(**order)
        except ValidationError as exc:
            _form_error(form, exc)
            quote = None
    recharges = Recharge.objects.filter(customer=subscriber).select_related("package").order_by("-id")[:10]
    return render(request, "portal/vouchers/recharge.html", {
        "form": form, "subscriber": subscriber, "quote": quote, "stripe": stripe_account is not None,
        "price": from_minor(quote.price) if quote else None, "credit": from_minor(quote.credit) if quote else None,
        "recharges": recharges}, status=400 if form.errors else 200)


def _router_login_url(raw: str) -> str:
    """MikroTik's $(link-login-only), to send the device back to the router after redemption."""
    parsed = urlparse(raw or "")
    return raw if parsed.scheme in ("http", "https") and parsed.netloc else ""


@require_http_methods(["GET", "POST"])
def hotspot_login(request: HttpRequest) -> HttpResponse:
    router_login = _router_login_url(request.POST.get("link_login_only") or request.GET.get("link-login-only", ""))
    initial = {"identity": request.GET.get("mac", "")}
    form = HotspotForm(request.POST or None, initial=initial)
    result = None
    if request.method == "POST" and form.is_valid():
        identity = form.cleaned_data["identity"].strip()
        try:
            mac = mac_normalize(identity)
        except ValidationError:
            mac = None
        if mac is None:  # one answer for every non-MAC identity: no account is looked up
            try:
                wrong_guess(address=request.META.get("REMOTE_ADDR"), who="hotspot:not-a-device")
                form.add_error("identity", NOT_A_DEVICE)
            except TooManyAttempts as exc:
                form.add_error("pin", str(exc))
        else:
            result = _redeem(request, form, who=f"device:{mac}", channel=Channel.HOTSPOT, hotspot_mac=mac)
    context = {"form": form, "result": result, "router_login": router_login,
               "login_name": (result.customer.mac_address or result.customer.username) if result else ""}
    return render(request, "portal/hotspot/login.html", context, status=400 if form.errors else 200)
