from decimal import Decimal
from fractions import Fraction
from math import floor

from hypothesis import given
from hypothesis import strategies as st

from ledger.commission import PRICE_DIFFERENCE, ChainNode, Split, commission_split


def test_share_of_parent_share_example():
    split = commission_split(gross=10_000, chain=[ChainNode(1, Decimal("60")), ChainNode(2, Decimal("50"))])
    assert split.isp == 4_000 and split.nodes == ((1, 3_000), (2, 3_000))


def test_rounding_remainder_goes_to_the_isp():
    split = commission_split(gross=1, chain=[ChainNode(1, Decimal("60")), ChainNode(2, Decimal("50"))])
    assert split.nodes == ((1, 0), (2, 0)) and split.isp == 1
    split = commission_split(gross=333, chain=[ChainNode(1, Decimal("33.33")), ChainNode(2, Decimal("33.33"))])
    assert split.total == 333 and split.nodes == ((1, 73), (2, 36))


def test_price_difference_mode():
    # Master 100, reseller sells at 110, sub-reseller at 120; the customer pays 120.
    chain = [ChainNode(1, Decimal("0"), PRICE_DIFFERENCE, cost=10_000),
             ChainNode(2, Decimal("0"), PRICE_DIFFERENCE, cost=11_000)]
    split = commission_split(gross=12_000, chain=chain, customer_price=12_000)
    assert split.isp == 10_000 and split.nodes == ((1, 1_000), (2, 1_000))


@given(gross=st.integers(1, 10**9), shares=st.lists(st.decimals(0, 100, places=2), max_size=4),
       modes=st.lists(st.booleans(), min_size=4, max_size=4), price=st.integers(0, 10**6))
def test_split_is_exact_and_never_negative(gross, shares, modes, price):
    chain = [ChainNode(i, share, PRICE_DIFFERENCE if modes[i] else "share", cost=price // (i + 2))
             for i, share in enumerate(shares)]
    split = commission_split(gross=gross, chain=chain, customer_price=price)
    assert split.total == gross
    assert split.isp >= 0 and all(amount >= 0 for _, amount in split.nodes)
    assert commission_split(gross=gross, chain=chain, customer_price=price) == split


def _reference_split(gross: int, chain: list[ChainNode], customer_price: int) -> Split:
    """The split computed pool by pool (the definition), to check the cached-factor arithmetic against."""
    pools: list[Fraction] = []
    parent = Fraction(gross)
    for node in chain:
        if node.mode == PRICE_DIFFERENCE:
            pool = Fraction(gross) * (customer_price - node.cost) / customer_price if customer_price > 0 else Fraction(0)
        else:
            pool = parent * Fraction(node.share_percent) / 100
        pool = min(max(pool, Fraction(0)), parent)
        pools.append(pool)
        parent = pool
    nodes = tuple((node.node_id, floor(pools[i] - (pools[i + 1] if i + 1 < len(pools) else 0)))
                  for i, node in enumerate(chain))
    return Split(isp=gross - sum(amount for _, amount in nodes), nodes=nodes)


@given(gross=st.integers(1, 10**9), price=st.integers(0, 10**6),
       shares=st.lists(st.decimals(0, 100, places=2), min_size=0, max_size=4),
       modes=st.lists(st.booleans(), min_size=4, max_size=4),
       costs=st.lists(st.integers(-10**4, 10**6), min_size=4, max_size=4))
def test_factor_arithmetic_equals_the_pool_by_pool_definition(gross, price, shares, modes, costs):
    chain = [ChainNode(i, share, PRICE_DIFFERENCE if modes[i] else "share", cost=costs[i])
             for i, share in enumerate(shares)]
    assert commission_split(gross=gross, chain=chain, customer_price=price) == _reference_split(gross, chain, price)
