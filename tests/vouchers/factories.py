"""Voucher and recharge test data inside the active ISP schema (alpha/beta personas)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from config.crypto import secret_decrypt
from hierarchy.audit import SYSTEM
from hierarchy.models import Membership, Operator, Package
from ledger.vouchers.models import Voucher, VoucherBatch
from ledger.vouchers.services import batch_create, voucher_sell
from ledger.wallets import wallet_topup
from tests.support.personas import PASSWORD

_seq = itertools.count(1)


def fund(isp, *, reseller: int = 1_000_00, sub: int = 500_00) -> None:
    """Put money in the prepaid reseller's and sub-reseller's wallets."""
    wallet_topup(actor=SYSTEM, node=isp.reseller, amount=reseller, method="bank")
    if sub:
        wallet_topup(actor=SYSTEM, node=isp.sub_reseller, amount=sub, method="parent_wallet")


def distributor(node: Operator) -> User:
    user = User.objects.create_user(email=f"cards-{next(_seq)}-{node.pk}@test.example", password=PASSWORD,
                                    role=Role.CARD_DISTRIBUTOR, full_name="Dora Distributor")
    Membership.objects.create(user=user, operator=node)
    return user


def batch(owner: Operator, package: Package, *, count: int = 3, quantity: int = 1, unit: str = "days",
          face_price: int = 5_00, commission: str = "10", redeem_unsold: bool = False,
          valid_until: date | None = None) -> VoucherBatch:
    return batch_create(actor=SYSTEM, package=package, quantity=quantity, unit=unit, face_price=face_price, count=count,
                        owner=owner, commission_percent=Decimal(commission), redeem_unsold=redeem_unsold,
                        valid_until=valid_until)


def signed_in(isp, user) -> Client:
    """A test client on the ISP's host, signed in as ``user``."""
    client = Client(HTTP_HOST=isp.host)
    with schema_context(isp.schema):
        client.force_login(user)
    return client


def pin_of(voucher: Voucher) -> str:
    return secret_decrypt(voucher.pin_encrypted)


def sold_pin(isp, *, owner: Operator | None = None, **kwargs) -> tuple[Voucher, str]:
    """A voucher of a new batch, sold by a card distributor of ``owner`` (the sub-reseller by default)."""
    owner = owner or isp.sub_reseller
    made = batch(owner, isp.package, **kwargs)
    seller = distributor(owner)
    from ledger.vouchers.services import stock_assign

    stock_assign(actor=SYSTEM, batch=made, distributor=seller, count=1)
    voucher = Voucher.objects.select_related("batch").get(batch=made, number=1)
    sold = voucher_sell(voucher=voucher, actor=seller)
    return sold, pin_of(sold)
