"""The commission split of a customer payment up the owner's chain (pure arithmetic, no database).

Each node of the chain (depth 1 = reseller under the ISP, down to the customer's owner) has a *pool*:
what it and its subtree earn from the payment.

- share mode: ``pool = parent's pool * share_percent / 100`` (the ISP's pool is the whole payment), so
  with 60 % and 50 %: on 100 the reseller's pool is 60, the sub-reseller's 30;
- price-difference mode (per PackageAssignment): ``pool = gross * (customer price - node cost) /
  customer price`` (capped by the parent's pool), i.e. what the node sells for minus what it pays.

A node keeps ``its pool - its child's pool``. Amounts are computed exactly (fractions), each rounded down
to a minor unit, and the ISP gets ``gross - sum(node amounts)``: the split always sums to the gross and
every rounding remainder goes to the ISP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

SHARE = "share"
PRICE_DIFFERENCE = "price_difference"


@dataclass(frozen=True)
class ChainNode:
    node_id: int
    share_percent: Decimal
    mode: str = SHARE
    cost: int = 0  # minor units: what this node pays its parent for the package


@dataclass(frozen=True)
class Split:
    isp: int
    nodes: tuple[tuple[int, int], ...]  # (node id, amount), top of the chain first

    @property
    def total(self) -> int:
        return self.isp + sum(amount for _, amount in self.nodes)


def commission_split(*, gross: int, chain: Sequence[ChainNode], customer_price: int = 0) -> Split:
    if gross <= 0:
        raise ValueError("A split needs a positive gross amount.")
    amounts = tuple((node_id, gross * keep.numerator // keep.denominator)
                    for node_id, keep in commission_factors(tuple(chain), customer_price))
    isp = gross - sum(amount for _, amount in amounts)
    return Split(isp=isp, nodes=amounts)


@lru_cache(maxsize=4096)
def commission_factors(chain: tuple[ChainNode, ...], customer_price: int) -> tuple[tuple[int, Fraction], ...]:
    """What each node keeps as an exact fraction of the gross. Every pool is the gross times a factor that
    depends only on the chain (capping by the parent's pool commutes with a positive gross), so a node's
    amount ``floor(pool - child's pool)`` is ``floor(gross * (factor - child's factor))``: computed once per
    chain and price, then integer arithmetic per payment."""
    factors: list[Fraction] = []
    parent = Fraction(1)
    for node in chain:
        if node.mode == PRICE_DIFFERENCE:
            factor = Fraction(customer_price - node.cost, customer_price) if customer_price > 0 else Fraction(0)
        else:
            factor = parent * Fraction(node.share_percent) / 100
        factor = min(max(factor, Fraction(0)), parent)
        factors.append(factor)
        parent = factor
    return tuple((node.node_id, factors[i] - (factors[i + 1] if i + 1 < len(factors) else Fraction(0)))
                 for i, node in enumerate(chain))
