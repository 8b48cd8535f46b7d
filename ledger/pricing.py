"""Prices and costs along a customer's owner chain, in minor units.

Definitions (documented in README, Ledger):
- a node's *price* for a package is its PackageAssignment price (the ISP's price is the master
  Package.price); a customer pays its owner's price (or its own ``special_price``);
- a node's *cost* is its parent's price: a reseller under the ISP costs the master price, a
  sub-reseller costs its reseller's assignment price. Activating/renewing a customer debits the owner's
  wallet by the owner's cost, and each ancestor earns its price minus its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from hierarchy.models import Operator, Package, PackageAssignment, Subscriber
from ledger.commission import SHARE, ChainNode


def to_minor(amount: Decimal) -> int:
    """Decimal with at most two places → integer minor units (refuses sub-cent amounts)."""
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise ValidationError({"amount": "Use at most two decimal places."})
    return int(cents)


def from_minor(amount: int) -> Decimal:
    return (Decimal(amount) / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Chain:
    """The nodes from the reseller under the ISP down to ``owner`` (empty for the ISP's own customers)."""

    nodes: tuple[Operator, ...]
    prices: dict[int, int]  # node id → its price for the package; the root included
    modes: dict[int, str]
    master_price: int

    def cost(self, node: Operator) -> int:
        return self.prices.get(node.parent_id or 0, self.master_price)

    def commission_chain(self) -> list[ChainNode]:
        return [ChainNode(node_id=n.pk, share_percent=n.share_percent, mode=self.modes.get(n.pk, SHARE),
                          cost=self.cost(n)) for n in self.nodes]


def chain_for(*, owner: Operator, package: Package) -> Chain:
    ids = [int(part) for part in owner.path.strip("/").split("/")]
    operators = {op.pk: op for op in Operator.objects.filter(pk__in=ids)}
    ordered = [operators[pk] for pk in ids]
    nodes = tuple(op for op in ordered if op.depth > 0)
    master = to_minor(package.price)
    prices: dict[int, int] = {ordered[0].pk: master}
    modes: dict[int, str] = {}
    assignments = {a.operator_id: a for a in PackageAssignment.objects.filter(package=package, operator_id__in=ids)}
    for node in nodes:
        assignment = assignments.get(node.pk)
        if assignment is None:
            raise ValidationError({"package": f"“{package.name}” is not assigned to {node.name}."})
        prices[node.pk] = to_minor(assignment.price)
        modes[node.pk] = assignment.commission_mode
    return Chain(nodes=nodes, prices=prices, modes=modes, master_price=master)


def customer_price(*, customer: Subscriber, chain: Chain) -> int:
    if customer.special_price is not None:
        return to_minor(customer.special_price)
    return chain.prices.get(customer.owner_id, chain.master_price)
