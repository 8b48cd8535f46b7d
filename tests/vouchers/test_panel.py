"""Staff panel pages for voucher batches (/vouchers/, portal/voucher_panel_views.py) through Django's test
client: scoping by the role tree, printing a batch, refusals on the form that change nothing, read-only
roles, handing stock to a distributor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from hierarchy.audit import SYSTEM
from hierarchy.models import Membership, Package
from ledger.billing.documents import tenant_today
from ledger.vouchers.models import Voucher, VoucherBatch
from ledger.vouchers.services import stock_assign
from tests.support.personas import PASSWORD
from tests.vouchers.factories import batch, distributor, signed_in

pytestmark = pytest.mark.django_db



def _print(client: Client, isp, **overrides):
    body = {"package": isp.package.pk, "owner": isp.reseller.pk, "quantity": 30, "unit": "days",
            "face_price": "125.00", "count": 5, "commission_percent": "10", "valid_until": "", "note": "Shop A",
            **overrides}
    return client.post("/vouchers/", body)


def test_batches_page_is_scoped_by_the_role_tree(alpha, beta):
    with schema_context(alpha.schema):
        mine = batch(alpha.reseller, alpha.package, count=4)
        theirs = batch(alpha.sibling, alpha.package, count=2)
    admin = signed_in(alpha, alpha.admin).get("/vouchers/")
    assert admin.status_code == 200
    assert f'data-batch="{mine.pk}"'.encode() in admin.content and f'data-batch="{theirs.pk}"'.encode() in admin.content
    reseller = signed_in(alpha, alpha.reseller_user)
    page = reseller.get("/vouchers/")
    assert f'data-batch="{mine.pk}"'.encode() in page.content and f'data-batch="{theirs.pk}"'.encode() not in page.content
    assert b'id="batch-form"' in page.content
    detail = reseller.get(f"/vouchers/{mine.pk}/")
    assert detail.status_code == 200 and b'data-status="new">4<' in detail.content
    assert reseller.get(f"/vouchers/{theirs.pk}/").status_code == 404
    assert signed_in(beta, beta.admin).get(f"/vouchers/{mine.pk}/").status_code == 404
    assert signed_in(alpha, alpha.customer_user).get("/vouchers/").status_code == 403
    assert Client(HTTP_HOST=alpha.host).get("/vouchers/").status_code == 302  # sign in first


def test_reseller_prints_a_batch_and_hands_cards_to_a_distributor(alpha):
    reseller = signed_in(alpha, alpha.reseller_user)
    until = tenant_today() + timedelta(days=90)
    done = _print(reseller, alpha, owner=alpha.sub_reseller.pk, valid_until=until.isoformat())
    assert done.status_code == 303, done.content
    with schema_context(alpha.schema):
        made = VoucherBatch.objects.get()
        assert (made.owner_id, made.count, made.face_price, made.valid_until) == (alpha.sub_reseller.pk, 5, 125_00, until)
        assert made.created_by_id == alpha.reseller_user.pk and Voucher.objects.filter(batch=made).count() == 5
        seller = distributor(alpha.sub_reseller)
        outsider = distributor(alpha.sibling)
    page = reseller.get(done["Location"])
    assert b"Printed batch" in page.content and until.isoformat().encode() in page.content
    assert f'value="{seller.pk}"'.encode() in page.content and f'value="{outsider.pk}"'.encode() not in page.content
    handed = reseller.post(done["Location"], {"distributor": seller.pk, "count": 3})
    assert handed.status_code == 303
    page = reseller.get(done["Location"])
    assert b'id="unassigned">2<' in page.content and seller.email.encode() in page.content
    refused = [
        reseller.post(done["Location"], {"distributor": outsider.pk, "count": 1}),  # not of this branch
        reseller.post(done["Location"], {"distributor": seller.pk, "count": 3}),  # only 2 left
    ]
    assert [r.status_code for r in refused] == [400, 400]
    assert b"Select a valid choice" in refused[0].content and b"Only 2 unassigned vouchers left" in refused[1].content
    with schema_context(alpha.schema):
        assert Voucher.objects.filter(distributor=seller).count() == 3
        assert not Voucher.objects.filter(distributor=outsider).exists()


def test_bad_batches_are_form_errors_and_print_nothing(alpha):
    with schema_context(alpha.schema):
        isp_only = Package.objects.create(name="ISP only", type="pppoe", download_kbps=1, upload_kbps=1, price=9)
    reseller = signed_in(alpha, alpha.reseller_user)
    cases = [
        ({"face_price": "0"}, b"Ensure this value is greater than or equal to 0.01"),
        ({"count": "10001"}, b"less than or equal to 10000"),
        ({"package": isp_only.pk}, b"Select a valid choice"),  # not offered to this reseller
        ({"owner": alpha.sibling.pk}, b"Select a valid choice"),  # another branch
        ({"valid_until": (tenant_today() - timedelta(days=1)).isoformat()}, b"cannot be in the past"),
        ({"quantity": "100000", "unit": "days"}, b""),
    ]
    for overrides, message in cases:
        response = _print(reseller, alpha, **overrides)
        assert response.status_code == 400, (overrides, response.status_code)
        assert message in response.content and b"invalid-feedback" in response.content, overrides
    with schema_context(alpha.schema):
        assert not VoucherBatch.objects.exists() and not Voucher.objects.exists()


def test_read_only_roles_see_batches_without_forms(alpha):
    with schema_context(alpha.schema):
        made = batch(alpha.root, alpha.package, count=2)
        # An accountant sees the batches and may sell or void cards, but prints none and hands none out.
        accountant = User.objects.create_user(email="accountant@alpha.test", password=PASSWORD,
                                              role=Role.ACCOUNTANT, full_name="Ann Accountant")
        Membership.objects.create(user=accountant, operator=alpha.root)
        seller = distributor(alpha.root)
    client = signed_in(alpha, accountant)
    page = client.get("/vouchers/")
    assert f'data-batch="{made.pk}"'.encode() in page.content and b'id="batch-form"' not in page.content
    assert b'id="assign-form"' not in client.get(f"/vouchers/{made.pk}/").content
    assert _print(client, alpha, owner=alpha.root.pk).status_code == 403
    assert client.post(f"/vouchers/{made.pk}/", {"distributor": seller.pk, "count": 1}).status_code == 403
    with schema_context(alpha.schema):
        assert VoucherBatch.objects.count() == 1 and not Voucher.objects.filter(distributor=seller).exists()


def test_cards_are_sold_and_voided_by_number_on_the_batch_page(alpha):
    from ledger.checks import ledger_check
    from ledger.models import JournalEntry

    with schema_context(alpha.schema):
        made = batch(alpha.sub_reseller, alpha.package, count=4, face_price=5_00, commission="10")
        seller = distributor(alpha.sub_reseller)
        stock_assign(actor=SYSTEM, batch=made, distributor=seller, count=2)  # cards 1 and 2
        support = User.objects.create_user(email="support2@alpha.test", password=PASSWORD, role=Role.SUPPORT,
                                           full_name="Sue Support")
        Membership.objects.create(user=support, operator=alpha.root)
        entries = JournalEntry.objects.count()
    url = f"/vouchers/{made.pk}/"
    cards = signed_in(alpha, seller)
    page = cards.get(url)
    assert b'id="card-form"' in page.content and b'value="void"' not in page.content and b'id="assign-form"' not in page.content
    assert cards.post(url, {"action": "sell", "number": 1}).status_code == 303
    not_mine = cards.post(url, {"action": "sell", "number": 3})  # the batch's, but not in this distributor's stock
    assert not_mine.status_code == 400 and b"No card 3 of this batch in your stock" in not_mine.content
    assert cards.post(url, {"action": "void", "number": 2}).status_code == 403
    staff = signed_in(alpha, alpha.sub_reseller_user)
    assert b'value="void"' in staff.get(url).content
    assert staff.post(url, {"action": "sell", "number": 3}).status_code == 303  # a direct sale by the node's staff
    assert staff.post(url, {"action": "void", "number": 3}).status_code == 303  # its sale is reversed
    again = staff.post(url, {"action": "sell", "number": 3})
    assert again.status_code == 400 and b"not in stock" in again.content
    assert signed_in(alpha, support).post(url, {"action": "sell", "number": 4}).status_code in (403, 404)
    with schema_context(alpha.schema):
        status = dict(Voucher.objects.filter(batch=made).values_list("number", "status"))
        assert status == {1: "sold", 2: "new", 3: "void", 4: "new"}
        assert JournalEntry.objects.count() == entries + 3  # two sales, one reversal
        assert ledger_check().ok
