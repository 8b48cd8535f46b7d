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
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection

from hierarchy.models import Operator, Package, Subscriber
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
    """The owner's chain with each node's price and commission mode for the package (one query)."""
    ids = [int(part) for part in owner.path.strip("/").split("/")]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.id, o.parent_id, o.depth, o.name, o.share_percent, o.billing_mode, a.price, a.commission_mode "
            "FROM hierarchy_operator o LEFT JOIN hierarchy_packageassignment a "
            "ON a.operator_id = o.id AND a.package_id = %s WHERE o.id = ANY(%s) ORDER BY o.depth",
            [package.pk, ids],
        )
        rows = cursor.fetchall()
    return chain_from_rows(rows, package_name=package.name, master_price=to_minor(package.price))


def chain_from_rows(rows: list[tuple[Any, ...]], *, package_name: str, master_price: int) -> Chain:
    """A Chain from rows (id, parent_id, depth, name, share_percent, billing_mode, price, mode) by depth."""
    prices: dict[int, int] = {}
    modes: dict[int, str] = {}
    nodes = []
    for pk, parent_id, depth, name, share, billing_mode, price, mode in rows:
        if depth == 0:
            prices[pk] = master_price
            continue
        if price is None:
            raise ValidationError({"package": f"“{package_name}” is not assigned to {name}."})
        nodes.append(Operator(id=pk, parent_id=parent_id, depth=depth, name=name, share_percent=share,
                              billing_mode=billing_mode))
        prices[pk] = to_minor(price)
        modes[pk] = mode
    return Chain(nodes=tuple(nodes), prices=prices, modes=modes, master_price=master_price)


def customer_price(*, customer: Subscriber, chain: Chain) -> int:
    if customer.special_price is not None:
        return to_minor(customer.special_price)
    return chain.prices.get(customer.owner_id, chain.master_price)
