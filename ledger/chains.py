"""Commission chains cached per process, checked by the database on every payment.

A payment's split depends on the owner's chain (path, shares, package prices, commission modes) and the
master price. Reading them costs a query per payment; caching them blindly would split on stale prices
after a change. So each cached chain carries the *fingerprint* PostgreSQL computed for it
(``ledger_chain_fingerprint``, migration 0006) and ``ledger_payment_post`` compares it with the current
one in the same statement that posts: a stale chain posts nothing, is read again and the split redone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from ledger.commission import ChainNode
from ledger.pricing import Chain, chain_from_rows, to_minor
from tenants.db import schema_current

MAX_CACHED = 4096


@dataclass(frozen=True)
class CachedChain:
    chain: Chain
    commission_chain: tuple[ChainNode, ...]
    fingerprint: str


_cache: dict[tuple[str, int, int], CachedChain] = {}


def chain_cached(*, owner_id: int, package_id: int, refresh: bool = False) -> CachedChain:
    """The chain of ``owner_id`` for the package with its fingerprint, read in one statement (current path,
    so a moved owner is followed)."""
    key = (schema_current(), owner_id, package_id)
    cached = None if refresh else _cache.get(key)
    if cached is not None:
        return cached
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.id, o.parent_id, o.depth, o.name, o.share_percent, o.billing_mode, a.price, a.commission_mode,"
            " ledger_chain_fingerprint(%s, %s), p.price, p.name "
            "FROM hierarchy_package p CROSS JOIN hierarchy_operator o LEFT JOIN hierarchy_packageassignment a "
            " ON a.operator_id = o.id AND a.package_id = p.id "
            "WHERE p.id = %s AND o.id = ANY(string_to_array(trim(BOTH '/' FROM "
            " (SELECT w.path FROM hierarchy_operator w WHERE w.id = %s)), '/')::bigint[]) ORDER BY o.depth",
            [owner_id, package_id, package_id, owner_id],
        )
        rows = cursor.fetchall()
    if not rows:
        raise LookupError(f"No chain for node {owner_id} and package {package_id}.")
    chain = chain_from_rows([row[:8] for row in rows], package_name=rows[0][10], master_price=to_minor(rows[0][9]))
    cached = CachedChain(chain=chain, commission_chain=tuple(chain.commission_chain()), fingerprint=rows[0][8])
    if len(_cache) >= MAX_CACHED:
        _cache.clear()
    _cache[key] = cached
    return cached
