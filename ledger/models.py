"""The double-entry book of one ISP (lives in the ISP's schema).

Amounts are integers in minor units (cents). A posting's balance effect is ``debit - credit``. An
account's maintained balance is the sum of its AccountBalance rows, written only by the database trigger
that inserts postings (migration 0002), in the same statement, so it cannot drift from the postings.
Busy accounts (revenue, bank, a reseller's commission) have several balance *slots* (one per database
backend modulo BALANCE_SLOTS) so concurrent payments do not queue on one row; a prepaid wallet always
uses the single slot 0, so its CHECK (>= 0 available) sees the whole balance. So does a postpaid node's
receivable (what it owes the ISP): its slot 0 carries a ``ceiling``, the node's credit limit in minor units,
kept there by a trigger on ``hierarchy_operator.credit_limit`` (migration 0008), and the CHECK
``node_receivable_within_credit`` refuses any posting that would make the node owe more.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from hierarchy import authority

BALANCE_SLOTS = 64


class AccountKind(models.TextChoices):
    CASH = "cash", "Cash"
    BANK = "bank", "Bank"
    STRIPE_CLEARING = "stripe_clearing", "Stripe clearing"
    RECEIVABLE = "receivable", "Customer receivable"
    SALES_REVENUE = "sales_revenue", "Sales revenue"
    TAX_PAYABLE = "tax_payable", "Tax payable"
    LATE_FEE_INCOME = "late_fee_income", "Late-fee income"
    REFUNDS = "refunds", "Refunds"
    EXPENSES = "expenses", "Expenses"
    OTHER_INCOME = "other_income", "Other income"
    COMMISSION_EXPENSE = "commission_expense", "Commissions earned by resellers"
    # Vouchers sold but not yet redeemed: service the ISP still owes (unearned revenue, ledger.vouchers).
    VOUCHER_LIABILITY = "voucher_liability", "Vouchers sold, not yet redeemed"
    # Per operator node.
    WALLET = "wallet", "Prepaid wallet (owed to the node)"
    COMMISSION_PAYABLE = "commission_payable", "Commission payable (owed to the node)"
    CASH_HELD = "cash_held", "Cash held by the node for the ISP"
    NODE_RECEIVABLE = "node_receivable", "Owed by the postpaid node"


ISP_KINDS = {
    AccountKind.CASH, AccountKind.BANK, AccountKind.STRIPE_CLEARING, AccountKind.SALES_REVENUE,
    AccountKind.TAX_PAYABLE, AccountKind.LATE_FEE_INCOME, AccountKind.REFUNDS, AccountKind.EXPENSES,
    AccountKind.OTHER_INCOME, AccountKind.COMMISSION_EXPENSE, AccountKind.VOUCHER_LIABILITY,
}
NODE_KINDS = {AccountKind.WALLET, AccountKind.COMMISSION_PAYABLE, AccountKind.CASH_HELD, AccountKind.NODE_RECEIVABLE}


class AccountQuerySet(models.QuerySet["Account"]):
    def with_balance(self) -> QuerySet[Account]:
        return self.annotate(balance=Coalesce(Sum("balances__balance"), 0))


def account_balance(account: Account) -> int:
    """The balance annotated by ``Account.objects.with_balance()``."""
    return int(getattr(account, "balance", 0))


def code_balance(code: str) -> int:
    """Σ debit - credit of the account ``code`` (its balance slots, kept by the posting trigger); 0 if the
    account does not exist yet."""
    return int(AccountBalance.objects.filter(account__code=code).aggregate(total=Sum("balance"))["total"] or 0)


class Account(models.Model):
    """One account of the chart. ``code`` names it uniquely ("sales_revenue", "wallet:42",
    "receivable:c7"), so concurrent lazy creation is decided by the unique index."""

    code = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=24, choices=AccountKind.choices)
    owner = models.ForeignKey("hierarchy.Operator", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="ledger_accounts")
    customer = models.ForeignKey("hierarchy.Subscriber", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="ledger_accounts")
    currency = models.CharField(max_length=3)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AccountKind.values), name="account_kind_valid"),
            models.CheckConstraint(
                condition=(Q(kind__in=sorted(k.value for k in NODE_KINDS), owner__isnull=False, customer__isnull=True)
                           | Q(kind="receivable", customer__isnull=False, owner__isnull=True)
                           | Q(kind__in=sorted(k.value for k in ISP_KINDS), owner__isnull=True, customer__isnull=True)),
                name="account_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class AccountBalance(models.Model):
    """A slot of an account's maintained balance (Σ slots = Σ postings, checked by ledger_check)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="balances")
    slot = models.PositiveSmallIntegerField()
    is_wallet = models.BooleanField()
    balance = models.BigIntegerField()
    # A postpaid node's receivable only: the most it may owe (its credit limit, minor units), maintained by
    # the database from hierarchy_operator.credit_limit. NULL for every other account.
    ceiling = models.BigIntegerField(null=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "slot"], name="balance_slot_unique"),
            # A prepaid wallet is a liability to the node: its (debit - credit) balance never goes above 0,
            # and it lives in one slot so this CHECK sees all of it.
            models.CheckConstraint(condition=Q(is_wallet=False) | Q(slot=0, balance__lte=0),
                                   name="wallet_never_negative"),
            # A postpaid node never owes more than its credit limit (the receivable lives in slot 0 too).
            models.CheckConstraint(condition=Q(ceiling__isnull=True) | Q(slot=0, balance__lte=models.F("ceiling")),
                                   name="node_receivable_within_credit"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}[{self.slot}] = {self.balance}"


class EntryKind(models.TextChoices):
    PAYMENT = "payment", "Customer payment"
    REFUND = "refund", "Refund / chargeback"
    TOPUP = "topup", "Wallet top-up"
    ACTIVATION = "activation", "Activation / renewal"
    SETTLEMENT = "settlement", "Settlement"
    MANUAL = "manual", "Manual entry"
    REVERSAL = "reversal", "Reversal"
    RECHARGE = "recharge", "Prepaid recharge"
    VOUCHER_SALE = "voucher_sale", "Voucher sold"
    VOUCHER_REDEMPTION = "voucher_redeem", "Voucher redeemed"
    VOUCHER_VOID = "voucher_void", "Voucher voided"


class JournalEntry(models.Model):
    """An append-only journal entry. Balanced per currency at commit (deferred constraint trigger);
    UPDATE and DELETE are refused by the database; reversible once (unique ``reversal_of``)."""

    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    reason = models.CharField(max_length=255)
    external_reference = models.CharField(max_length=128, blank=True)
    reversal_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="reversed_by")
    # Reporting dimensions, fixed when the entry is posted: the customer it concerns, the operator node
    # (the customer's owner at the time, or the node a top-up/settlement is with) and the package sold.
    customer = models.ForeignKey("hierarchy.Subscriber", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    node = models.ForeignKey("hierarchy.Operator", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey("hierarchy.Package", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="entry_has_reason"),
            models.CheckConstraint(condition=Q(reversal_of__isnull=True) | ~Q(reversal_of=models.F("id")),
                                   name="entry_not_self_reversal"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}: {self.reason}"


class Posting(models.Model):
    # No foreign-key constraints (they would take FOR KEY SHARE locks on the busiest account rows, which
    # concurrent payments turn into multixacts): the statement trigger ``ledger_balances_apply`` (migration
    # 0006) refuses a posting whose account or entry does not exist, and neither is ever deleted.
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings", db_constraint=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_constraint=False,
                                db_index=False)  # the (account, entry) index serves
    currency = models.CharField(max_length=3)
    debit = models.BigIntegerField(default=0)
    credit = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "entry"], name="posting_account_entry")]
        constraints = [
            models.CheckConstraint(condition=Q(debit__gt=0, credit=0) | Q(credit__gt=0, debit=0),
                                   name="posting_one_positive_side"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} D{self.debit} C{self.credit}"


class EntryAttachment(models.Model):
    """A supporting document (receipt, invoice scan) of a journal entry; append-only like the entry."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(max_length=255)  # stored by ledger.attachments under ledger/<schema>/attachments/
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.entry_id}: {self.name}"


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    BANK = "bank", "Bank transfer"
    STRIPE = "stripe", "Stripe"


class Payment(models.Model):
    """A customer payment; its entry holds the receipt and the whole commission split."""

    customer = models.ForeignKey("hierarchy.Subscriber", on_delete=models.PROTECT, related_name="payments")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    collector = models.ForeignKey("hierarchy.Operator", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="collected_payments")
    idempotency_key = models.CharField(max_length=200)  # unique: payment_idempotency_key_unique
    payload_hash = models.CharField(max_length=64)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="payment")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A constraint rather than unique=True, which would add a LIKE index nobody uses to every insert.
            models.UniqueConstraint(fields=["idempotency_key"], name="payment_idempotency_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(method__in=PaymentMethod.values), name="payment_method_valid"),
        ]

    def __str__(self) -> str:
        return f"payment #{self.pk} {self.amount}"


class SettlementDirection(models.TextChoices):
    NODE_PAYS = "node_pays", "The node hands over cash it holds"
    ISP_PAYS = "isp_pays", "The ISP pays out the node's commission"
    NETTING = "netting", "The node keeps its commission out of the cash it holds"
    NODE_DUES = "node_dues", "A postpaid node pays what its activations cost"


class Settlement(models.Model):
    node = models.ForeignKey("hierarchy.Operator", on_delete=models.PROTECT, related_name="settlements")
    direction = models.CharField(max_length=10, choices=SettlementDirection.choices)
    method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    amount = models.BigIntegerField()
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="settlement")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="settlement_amount_positive")]

    def __str__(self) -> str:
        return f"settlement #{self.pk} {self.node_id} {self.amount}"


class WalletTopup(models.Model):
    node = models.ForeignKey("hierarchy.Operator", on_delete=models.PROTECT, related_name="wallet_topups")
    amount = models.BigIntegerField()
    method = models.CharField(max_length=16)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payload_hash = models.CharField(max_length=64)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="topup")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="topup_amount_positive")]

    def __str__(self) -> str:
        return f"top-up #{self.pk} {self.node_id} {self.amount}"


class StripeAccount(models.Model):
    """The ISP's own Stripe keys (one row per ISP schema); secrets encrypted at rest (config/crypto.py)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    publishable_key = models.CharField(max_length=255)
    secret_key_encrypted = models.TextField()
    webhook_secret_encrypted = models.TextField()
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(singleton=True), name="stripe_account_single")]

    def __str__(self) -> str:
        return f"Stripe {self.publishable_key[:12]}…"


class StripeEventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Being handled"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (type not handled)"
    FAILED = "failed", "Failed (retried)"


class StripeEvent(models.Model):
    """Every verified webhook event, once (unique Stripe event id: a second delivery finds this row), with
    how it was handled: its status, how many attempts, the last error. Failed events are retried by the
    ``ledger.stripe_events_retry`` task; the postings themselves are idempotent by the PaymentIntent."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=StripeEventStatus.choices, default=StripeEventStatus.RECEIVED)
    error = models.TextField(blank=True, help_text="The last attempt's error")
    payload = models.JSONField()
    payload_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the signed payload")
    attempts = models.PositiveIntegerField(default=0)
    claimed = models.DateTimeField(null=True, blank=True, help_text="When the running attempt started")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    handled = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "created"], name="stripe_event_status")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=StripeEventStatus.values),
                                   name="stripe_event_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} {self.status}"


# Where each money row's node path lives, for the scope gate (hierarchy.authority.restrict).
authority.scoped(Payment, path_field="customer__owner__path")
authority.scoped(Settlement, path_field="node__path")
authority.scoped(WalletTopup, path_field="node__path")
