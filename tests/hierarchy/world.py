"""A small, per-test world on top of alpha's personas for the permission matrix: for each acting role a
node, and objects of every kind inside its scope, in a sibling's subtree and above it."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from hierarchy.audit import SYSTEM
from hierarchy.models import Membership, Operator, Package, PackageAssignment, Subscriber
from hierarchy.services import operator_create
from tests.support.personas import Isp


@dataclass
class Place:
    """Objects of every kind at one location."""

    node: Operator  # where creates point (parent / operator / owner)
    operator: Operator  # the operator object acted on (an empty leaf when possible)
    user: User
    package: Package
    assignment: PackageAssignment | None  # None at the root (the ISP sells at the master price)
    customer: Subscriber
    create_package: Package  # a package the place's node offers (for customer creates)
    assign_package: Package  # a package the place's node may re-sell down (for assignment creates)
    spare: Operator  # an empty node at the place (deletable; assignment creates target it)
    spare_package: Package  # offered at the place but used by nobody (deletable)
    spare_assignment: PackageAssignment | None


@dataclass
class World:
    isp: Isp
    actor: User
    token: str
    places: dict[str, Place] = field(default_factory=dict)


def _package(name: str, price: str = "100.00") -> Package:
    return Package.objects.create(name=name, type="pppoe", download_kbps=10_000, upload_kbps=2_000,
                                  price=Decimal(price), validity_days=30)


def _offer(package: Package, *nodes: Operator, price: str = "100.00") -> None:
    for node in nodes:
        PackageAssignment.objects.get_or_create(package=package, operator=node, defaults={"price": Decimal(price)})


def _user(email: str, role: str, node: Operator | None) -> User:
    user = User.objects.create(email=email, role=role, password="!")
    if node is not None:
        Membership.objects.create(user=user, operator=node)
    return user


def _chain(node: Operator) -> list[Operator]:
    """The node and its ancestors below the root, top first (a package must be offered along all)."""
    ids = [int(p) for p in node.path.strip("/").split("/")][1:]
    by_id = {o.pk: o for o in Operator.objects.filter(pk__in=ids)}
    return [by_id[i] for i in ids]


_counter = iter(range(10_000_000))


def _place(tag: str, node: Operator, leaf: bool) -> Place:
    """Objects at `node` (or at a fresh empty leaf under it when `leaf`)."""
    n = next(_counter)
    target = operator_create(actor=SYSTEM, parent=node, name=f"{tag} leaf {n}") if leaf else node
    seen = _package(f"{tag} seen {n}")
    _offer(seen, *_chain(target))
    assignment = None if target.is_root else PackageAssignment.objects.get(package=seen, operator=target)
    resell = _package(f"{tag} resell {n}")
    _offer(resell, *_chain(node))
    customer = Subscriber.objects.create(username=f"{tag}-cust-{n}", password="x", package=seen, owner=target)
    spare = operator_create(actor=SYSTEM, parent=node, name=f"{tag} spare {n}") if leaf else node
    spare_package = _package(f"{tag} spare {n}")
    _offer(spare_package, *_chain(target))
    spare_assignment = None if target.is_root else PackageAssignment.objects.get(package=spare_package,
                                                                                  operator=target)
    return Place(node=node, operator=target, user=_user(f"{tag}-user-{n}@alpha.test", Role.SUPPORT, target),
                 package=seen, assignment=assignment, customer=customer, create_package=seen,
                 assign_package=resell, spare=spare, spare_package=spare_package,
                 spare_assignment=spare_assignment)


def build(isp: Isp, role: str) -> World:
    root, reseller, sub, sibling = isp.root, isp.reseller, isp.sub_reseller, isp.sibling
    if role == Role.ADMIN:
        actor, places = isp.admin, {"inside": _place("in", root, leaf=True)}
    elif role == Role.CUSTOMER:
        actor = isp.customer_user
        places = {"inside": _place("in", sub, leaf=True), "sibling": _place("sib", sibling, leaf=True),
                  "above": _place("up", reseller, leaf=False)}
        places["inside"].customer = isp.customer
    elif role == Role.SUB_RESELLER:
        actor = _user("acting-sub@alpha.test", Role.SUB_RESELLER, sub)
        sub_sibling = operator_create(actor=SYSTEM, parent=reseller, name="alpha Sub Sibling")
        places = {"inside": _place("in", sub, leaf=True), "sibling": _place("sib", sub_sibling, leaf=True),
                  "above": _place("up", reseller, leaf=False)}
    else:
        actor = _user(f"acting-{role}@alpha.test", role, reseller)
        places = {"inside": _place("in", reseller, leaf=True), "sibling": _place("sib", sibling, leaf=True),
                  "above": _place("up", root, leaf=False)}
    token = Token.objects.create(user=actor).key
    return World(isp=isp, actor=actor, token=token, places=places)


def auth(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Token {token}"}
