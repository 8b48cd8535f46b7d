"""Vouchers: batches, stock for card distributors, sale, void and redemption.

Ledger legs (integer minor units; F = face price, c = the seller's commission = F x batch percent,
rounded down; c = 0 when the ISP itself sells). Commissions are the ISP's expense, as for payments:
- sale:       Dr cash_held:<seller node> (cash if the ISP sells) F,  Cr voucher_liability F
              Dr commission_expense c,  Cr commission_payable:<seller node> c
  The cash is the ISP's money in the seller's hands until it is settled (ledger settlements); the
  distributor's commission is earned when it sells.
- redemption: Dr voucher_liability F,  Cr sales_revenue F (the service is delivered now), and the
  customer's chain earns its split of F - c like a payment by the customer (ledger.commission rules):
  Dr commission_expense, Cr commission_payable:<node> per reseller above the customer.
- void of a sold voucher: the mirror of its sale (linked by reversal_of); a new voucher voids without
  money; a redeemed voucher cannot be voided.
Entries carry the reporting dimensions: package always, the seller's node on a sale, the customer and
its owner on a redemption.
Selling on redemption: a batch with ``redeem_unsold`` lets a voucher never recorded as sold be redeemed;
its sale is then posted in the same transaction, as cash collected by the batch's owner, no commission.

Who may do what is ``hierarchy.authority``'s table: every service here takes the acting login (``actor``)
and checks it first. How much is bounded by the ISP's billing settings: a batch's face price, less the
distributor commission, never falls below its owner's cost for the package and quantity (or the ISP's
``max_voucher_discount_percent`` below it); the commission is at most the ISP's maximum and the owner's
own share; cards expire at most ``voucher_max_valid_days`` after printing. A card distributor sells only
its own stock; a sale moves cash held for the ISP, never wallet money.

Every PIN works once, also under concurrent attempts: redemption flips the voucher with one
conditional ``UPDATE … WHERE status = 'sold' … RETURNING``; a concurrent redeemer waits on the row and
then matches nothing. The recharge runs in the same transaction, so a failure undoes the flip.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Role, User
from config.crypto import secret_encrypt
from hierarchy import authority
from hierarchy.audit import SYSTEM, Actor
from hierarchy.authority import Act
from hierarchy.models import ConnectionType, Membership, Operator, Package, Subscriber
from hierarchy.selectors import packages_offered_by
from hierarchy.subscribers import subscriber_create
from ledger.billing.amounts import percent_of
from ledger.billing.bounds import as_actor
from ledger.billing.documents import billing_settings, tenant_today
from ledger.commission import commission_split
from ledger.journal import AccountRef, Leg, entry_post, isp_account, money_atomic, node_account
from ledger.models import AccountKind, EntryKind, JournalEntry
from ledger.pricing import chain_for, customer_price
from ledger.vouchers.models import (
    Channel,
    Recharge,
    RechargeSource,
    Voucher,
    VoucherBatch,
    VoucherStatus,
    expired,
)
from ledger.vouchers.pins import pin_digest, pin_generate, pin_normalize
from ledger.vouchers.recharge import (
    package_hours,
    pro_rata,
    quantity_check,
    quantity_hours,
    recharge_apply,
    subscriber_lock,
)

WRONG_PIN = "This PIN is not valid. Check it and try again."


class VoucherRejected(ValidationError):
    """The PIN does not redeem (unknown, used, void, not for this customer); nothing changed. Counts as a
    wrong guess for the brute-force limit."""


def _actor_id(actor: Any) -> int | None:
    user = as_actor(actor).user
    return int(user.pk) if user is not None and getattr(user, "is_authenticated", False) else None


def batch_cost(*, owner: Operator, package: Package, quantity: int, unit: str) -> int:
    """What ``quantity`` days/hours of ``package`` cost the batch's owner (its parent's price, pro rata as a
    recharge; 0 for the ISP itself): the floor of a card's face price."""
    if owner.depth == 0:
        return 0
    chain = chain_for(owner=owner, package=package)
    return pro_rata(chain.cost(owner), hours=quantity_hours(quantity=quantity, unit=unit),
                    period_hours=package_hours(package), round_up_half=True)


def _batch_bounds(*, package: Package, quantity: int, unit: str, face_price: int, owner: Operator,
                  commission_percent: Decimal, valid_until: datetime.date | None,
                  errors: dict[str, str]) -> datetime.date | None:
    """The ISP's bounds on a batch (errors named by field); returns the card's last valid day."""
    settings = billing_settings()
    most = Decimal(settings.max_voucher_commission_percent)
    if owner.depth > 0:
        most = min(most, Decimal(owner.share_percent))
    if commission_percent > most:
        errors["commission_percent"] = (f"The distributor commission is at most {most} % (the ISP's maximum and "
                                        f"{owner.name}'s own share).")
    elif face_price > 0 and owner.depth > 0 and "package" not in errors:
        cost = batch_cost(owner=owner, package=package, quantity=quantity, unit=unit)
        floor_price = cost - percent_of(cost, Decimal(settings.max_voucher_discount_percent))
        commission = floor(Fraction(face_price) * Fraction(commission_percent) / 100)
        if face_price - commission < floor_price:
            errors["face_price"] = (f"{owner.name} pays {cost / 100:.2f} for {quantity} {unit} of {package.name}: "
                                    f"the face price less the commission must be at least {floor_price / 100:.2f}.")
    if settings.voucher_max_valid_days is not None:
        last = tenant_today() + datetime.timedelta(days=settings.voucher_max_valid_days)
        if valid_until is None:
            return last
        if valid_until > last:
            errors["valid_until"] = (f"Cards are valid at most {settings.voucher_max_valid_days} days "
                                     f"(until {last}).")
    return valid_until


def batch_create(
    *, package: Package, quantity: int, unit: str, face_price: int, count: int, owner: Operator, actor: Any,
    commission_percent: Decimal = Decimal(0), redeem_unsold: bool = False, note: str = "",
    valid_until: datetime.date | None = None,
) -> VoucherBatch:
    """Print a batch of ``count`` vouchers (the ISP for any package, a reseller for packages it offers),
    valid until the end of ``valid_until`` in the ISP's time zone (None: the ISP's longest validity, or
    no expiry if it sets none). ``Act.VOUCHER_BATCH_CREATE`` at ``owner``; bounded as the module says."""
    authority.authorize(actor, Act.VOUCHER_BATCH_CREATE, node=owner)
    quantity_check(quantity=quantity, unit=unit)
    errors: dict[str, str] = {}
    if not 1 <= count <= 10_000:
        errors["count"] = "Print between 1 and 10000 vouchers at a time."
    if face_price <= 0:
        errors["face_price"] = "The face price must be positive."
    if not Decimal(0) <= commission_percent < Decimal(100):
        errors["commission_percent"] = "The commission is a percent from 0 up to (not including) 100."
    if valid_until is not None and valid_until < tenant_today():
        errors["valid_until"] = "The last day of validity cannot be in the past."
    if not packages_offered_by(operator=owner).filter(pk=package.pk).exists():
        errors["package"] = f"{package.name} is retired or not offered by {owner.name}."
    if not errors:
        valid_until = _batch_bounds(package=package, quantity=quantity, unit=unit, face_price=face_price,
                                    owner=owner, commission_percent=Decimal(commission_percent),
                                    valid_until=valid_until, errors=errors)
    if errors:
        raise ValidationError(errors)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                batch = VoucherBatch.objects.create(
                    package=package, quantity=quantity, unit=unit, face_price=face_price, count=count, owner=owner,
                    commission_percent=commission_percent, redeem_unsold=redeem_unsold, note=note[:120],
                    valid_until=valid_until, created_by_id=_actor_id(actor),
                )
                # In drawing order: a card's number says nothing about its PIN.
                pins: dict[str, None] = {}
                while len(pins) < count:
                    pins[pin_generate()] = None
                Voucher.objects.bulk_create([
                    Voucher(batch=batch, number=number, pin_digest=pin_digest(pin), pin_encrypted=secret_encrypt(pin))
                    for number, pin in enumerate(pins, start=1)
                ])
                return batch
        except IntegrityError as exc:  # a digest already used by another batch (about 2^-79 per PIN)
            if "pin_digest" not in str(exc):
                raise
    raise ValidationError({"count": "Could not draw unique PINs; try again."})


def stock_assign(*, batch: VoucherBatch, distributor: User, count: int, actor: Any) -> list[int]:
    """Give a card distributor ``count`` unassigned vouchers of the batch (lowest numbers first).
    The distributor must belong to the batch owner's node or a node below it. ``Act.VOUCHER_ASSIGN``."""
    authority.authorize(actor, Act.VOUCHER_ASSIGN, node=batch.owner)
    membership = Membership.objects.filter(user=distributor).select_related("operator").first()
    if distributor.role != Role.CARD_DISTRIBUTOR or membership is None:
        raise ValidationError({"distributor": "Choose a card distributor login."})
    if not membership.operator.path.startswith(batch.owner.path):
        raise ValidationError({"distributor": "This distributor does not belong to the batch owner's part of the tree."})
    if count < 1:
        raise ValidationError({"count": "Assign at least one voucher."})
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE vouchers_voucher SET distributor_id = %s WHERE id IN ("
                " SELECT id FROM vouchers_voucher WHERE batch_id = %s AND status = 'new' AND distributor_id IS NULL"
                " ORDER BY number LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
                [distributor.pk, batch.pk, count],
            )
            ids = sorted(row[0] for row in cursor.fetchall())
        if len(ids) < count:  # raising inside the block rolls the assignment back
            raise ValidationError({"count": f"Only {len(ids)} unassigned vouchers left in this batch."})
    return ids


def _commissions(shares: list[tuple[int, int]]) -> list[Leg]:
    legs = [Leg(node_account(AccountKind.COMMISSION_PAYABLE, node_id), -share) for node_id, share in shares if share]
    total = -sum(leg.amount for leg in legs)
    return [Leg(isp_account(AccountKind.COMMISSION_EXPENSE), total), *legs] if total else []


def _sale_legs(*, batch: VoucherBatch, seller: Operator) -> tuple[list[Leg], int]:
    liability = Leg(isp_account(AccountKind.VOUCHER_LIABILITY), -batch.face_price)
    if seller.depth == 0:
        return [Leg(isp_account(AccountKind.CASH), batch.face_price), liability], 0
    commission = floor(Fraction(batch.face_price) * Fraction(batch.commission_percent) / 100)
    return [Leg(node_account(AccountKind.CASH_HELD, seller.pk), batch.face_price), liability,
            *_commissions([(seller.pk, commission)])], commission


def _post_sale(*, voucher_id: int, batch: VoucherBatch, seller: Operator, sold_by: int | None,
               only_distributor: int | None, today: datetime.date) -> Voucher:
    """Inside a money transaction: post the sale and flip new → sold (conditional UPDATE)."""
    if batch.expired_on(today):
        raise ValidationError({"voucher": f"This voucher expired on {batch.valid_until}; it can no longer be sold."})
    legs, commission = _sale_legs(batch=batch, seller=seller)
    entry = entry_post(kind=EntryKind.VOUCHER_SALE, legs=legs, actor_id=sold_by, node_id=seller.pk,
                       package_id=batch.package_id, reason=f"Voucher {batch.pk:05d} #{voucher_id} sold by {seller.name}")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE vouchers_voucher SET status = 'sold', sold_at = now(), sold_by_id = %s, seller_node_id = %s,"
            " sale_entry_id = %s, commission = %s WHERE id = %s AND status = 'new'"
            + (" AND distributor_id = %s" if only_distributor else "") + " RETURNING id",
            [sold_by, seller.pk, entry.pk, commission, voucher_id] + ([only_distributor] if only_distributor else []),
        )
        if cursor.fetchone() is None:
            raise ValidationError({"voucher": "This voucher is not in stock (sold, void or someone else's)."})
    return Voucher.objects.select_related("batch").get(pk=voucher_id)


def voucher_sell(*, voucher: Voucher, actor: Any) -> Voucher:
    """A card distributor sells from its own stock only (or staff whose scope holds the batch sell
    directly). The cash is held by the seller's node for the ISP; the node's commission is posted now; no
    wallet moves. ``Act.VOUCHER_SELL``."""
    seller = as_actor(actor).user
    batch = voucher.batch
    distributor = seller.pk if seller is not None and seller.role == Role.CARD_DISTRIBUTOR else None
    # A distributor's scope is its stock (checked in the UPDATE below), not the batch owner's node.
    authority.authorize(actor, Act.VOUCHER_SELL, node=None if distributor else batch.owner)
    node = authority.user_node(user=seller)
    if node is None:
        raise ValidationError({"voucher": "Only a login attached to a node sells vouchers."})
    if distributor is not None and voucher.distributor_id != seller.pk:
        raise ValidationError({"voucher": "This voucher is not in your stock."})
    assert seller is not None
    return money_atomic(lambda: _post_sale(voucher_id=voucher.pk, batch=batch, seller=node, sold_by=seller.pk,
                                           only_distributor=distributor, today=tenant_today()))


def _mirror(entry: JournalEntry) -> list[Leg]:
    return [Leg(AccountRef(code=code, kind=kind, owner_id=owner_id, customer_id=customer_id), credit - debit)
            for code, kind, owner_id, customer_id, debit, credit in entry.postings.values_list(
                "account__code", "account__kind", "account__owner_id", "account__customer_id", "debit", "credit")]


def voucher_void(*, voucher: Voucher, actor: Any) -> Voucher:
    """Void a new voucher (no money) or a sold one (its sale is reversed); a redeemed one stays.
    ``Act.VOUCHER_VOID`` at the batch's owner."""
    authority.authorize(actor, Act.VOUCHER_VOID, node=voucher.batch.owner)

    def work() -> Voucher:
        locked = Voucher.objects.select_for_update().get(pk=voucher.pk)
        if locked.status not in (VoucherStatus.NEW, VoucherStatus.SOLD):
            raise ValidationError({"voucher": f"A {locked.status} voucher cannot be voided."})
        void_entry = None
        if locked.status == VoucherStatus.SOLD and locked.sale_entry is not None:
            sale = locked.sale_entry
            reversal = JournalEntry.objects.create(kind=EntryKind.VOUCHER_VOID, reversal_of=sale,
                                                   actor_id=_actor_id(actor), reason=f"Void of voucher {locked.serial}",
                                                   node_id=sale.node_id, package_id=sale.package_id)
            void_entry = entry_post(kind=EntryKind.VOUCHER_VOID, reason=reversal.reason, legs=_mirror(sale),
                                    entry=reversal)
        Voucher.objects.filter(pk=locked.pk, status=locked.status).update(
            status=VoucherStatus.VOID, voided_at=timezone.now(), void_entry=void_entry)
        return Voucher.objects.select_related("batch").get(pk=locked.pk)

    return money_atomic(work)


@dataclass(frozen=True)
class Redemption:
    voucher: Voucher
    recharge: Recharge
    customer: Subscriber


def _why_not(digest: str, owner_path: str, today: datetime.date) -> str:
    row = (Voucher.objects.filter(pin_digest=digest).values_list("status", "batch__owner__path",
                                                                "batch__redeem_unsold", "batch__valid_until").first())
    if row is None:
        return WRONG_PIN
    status, batch_path, redeem_unsold, valid_until = row
    if not owner_path.startswith(batch_path):
        return WRONG_PIN  # another reseller's card is as good as unknown to this customer
    if status in (VoucherStatus.NEW, VoucherStatus.SOLD) and expired(valid_until, today):
        return f"This voucher expired on {valid_until}."
    if status == VoucherStatus.NEW and redeem_unsold:
        return WRONG_PIN
    messages: dict[str, str] = {
        VoucherStatus.REDEEMED.value: "This voucher was already used.",
        VoucherStatus.VOID.value: "This voucher was cancelled by its seller.",
        VoucherStatus.NEW.value: "This voucher has not been sold yet; ask the shop that gave it to you.",
    }
    return messages.get(str(status), WRONG_PIN)


def _redemption_legs(*, voucher: Voucher, customer: Subscriber) -> list[Leg]:
    batch = voucher.batch
    legs = [Leg(isp_account(AccountKind.VOUCHER_LIABILITY), batch.face_price),
            Leg(isp_account(AccountKind.SALES_REVENUE), -batch.face_price)]
    net = batch.face_price - voucher.commission
    if net > 0:
        chain = chain_for(owner=customer.owner, package=batch.package)
        split = commission_split(gross=net, chain=chain.commission_chain(),
                                 customer_price=customer_price(customer=customer, chain=chain))
        legs += _commissions(list(split.nodes))
    return legs


def _hotspot_customer(*, mac: str, digest: str, actor: Actor) -> Subscriber:
    """The hotspot device ``mac`` itself: its own hotspot account, or — seen for the first time — a new
    customer of the voucher's batch owner. A MAC that belongs to any other kind of account is answered as
    a wrong PIN: the hotspot never reaches another customer, nor says one exists."""
    found = Subscriber.objects.filter(mac_address__iexact=mac).first()
    if found is not None:
        if found.connection_type != ConnectionType.HOTSPOT:
            raise VoucherRejected({"pin": WRONG_PIN})
        return found
    batch = VoucherBatch.objects.filter(vouchers__pin_digest=digest).select_related("owner", "package").first()
    if batch is None or Subscriber.objects.filter(username=mac.replace(":", "")).exists():
        raise VoucherRejected({"pin": WRONG_PIN})
    return subscriber_create(username=mac.replace(":", ""), password="", package=batch.package, owner=batch.owner,
                             connection_type=ConnectionType.HOTSPOT, mac_address=mac, actor=actor)


def voucher_redeem(
    *, pin: str, customer: Subscriber | None = None, hotspot_mac: str | None = None, actor: Actor = SYSTEM,
    channel: str = Channel.API,
) -> Redemption:
    """Redeem ``pin`` for ``customer`` (the signed-in customer itself, or one a staff login may recharge —
    the caller checks that) or for the hotspot device ``hotspot_mac`` (its own hotspot account, created as
    a customer of the batch's owner on its first voucher; never another customer). A customer may only use
    vouchers of its owner's part of the tree. Raises VoucherRejected (nothing changed) when the PIN does
    not redeem."""
    if customer is not None and hotspot_mac is not None:
        raise ValidationError({"customer": "Redeem for a customer or for a hotspot device, not both."})
    normal = pin_normalize(pin)
    if normal is None:
        raise VoucherRejected({"pin": WRONG_PIN})
    digest = pin_digest(normal)

    def work() -> Redemption:
        target = customer
        if target is None:
            if hotspot_mac is None:
                raise ValidationError({"customer": "Say which customer redeems the voucher."})
            target = _hotspot_customer(mac=hotspot_mac, digest=digest, actor=actor)
        locked = subscriber_lock(customer_id=target.pk)
        owner_path = locked.owner.path
        today = tenant_today()
        voucher_id = _flip(digest=digest, customer=locked, owner_path=owner_path, actor=actor, today=today)
        if voucher_id is None:
            raise VoucherRejected({"pin": _why_not(digest, owner_path, today)})
        voucher = Voucher.objects.select_related("batch__package", "batch__owner").get(pk=voucher_id)
        batch = voucher.batch
        legs = _redemption_legs(voucher=voucher, customer=locked)
        entry = entry_post(kind=EntryKind.VOUCHER_REDEMPTION, legs=legs, actor_id=_actor_id(actor),
                           customer_id=locked.pk, node_id=locked.owner_id, package_id=batch.package_id,
                           reason=f"Voucher {voucher.serial} redeemed by {locked.username}")
        recharge = recharge_apply(customer=locked, package=batch.package, quantity=batch.quantity, unit=batch.unit,
                                  source=RechargeSource.VOUCHER, actor=actor, channel=channel, voucher=voucher,
                                  entry=entry)
        locked = Subscriber.objects.select_related("owner", "package").get(pk=locked.pk)
        return Redemption(voucher=voucher, recharge=recharge, customer=locked)

    return money_atomic(work)


# models.expired in SQL, for the batch ``b`` on the day given as a parameter.
VALID_ON = "(b.valid_until IS NULL OR b.valid_until >= %s)"


def _flip(*, digest: str, customer: Subscriber, owner_path: str, actor: Actor, today: datetime.date) -> int | None:
    """sold → redeemed in one conditional UPDATE; for a batch that sells on redemption, new → sold first."""
    sql = ("UPDATE vouchers_voucher v SET status = 'redeemed', redeemed_at = now(), redeemed_by_id = %s"
           " FROM vouchers_voucherbatch b JOIN hierarchy_operator o ON o.id = b.owner_id"
           " WHERE v.batch_id = b.id AND v.pin_digest = %s AND v.status = 'sold'"
           f" AND {VALID_ON} AND %s LIKE o.path || '%%' RETURNING v.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer.pk, digest, today, owner_path])
        row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        cursor.execute(
            "SELECT v.id, b.id FROM vouchers_voucher v JOIN vouchers_voucherbatch b ON b.id = v.batch_id"
            " JOIN hierarchy_operator o ON o.id = b.owner_id WHERE v.pin_digest = %s AND v.status = 'new'"
            f" AND b.redeem_unsold AND {VALID_ON} AND %s LIKE o.path || '%%' FOR UPDATE OF v", [digest, today, owner_path])
        unsold = cursor.fetchone()
    if unsold is None:
        return None
    batch = VoucherBatch.objects.select_related("owner").get(pk=unsold[1])
    # The row is locked (FOR UPDATE above), so this conditional sale cannot lose a race.
    _post_sale(voucher_id=unsold[0], batch=batch, seller=batch.owner, sold_by=_actor_id(actor),
               only_distributor=None, today=today)
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer.pk, digest, today, owner_path])
        row = cursor.fetchone()
    return int(row[0]) if row else None
