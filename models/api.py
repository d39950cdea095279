"""API keys (issue 16): the vendor's other tools ask Sitepass, read-only, with a per-application key.

A key is shown once when it is created and only its SHA-256 is stored (models/tokens.py); it reaches
every site, or only the sites of chosen customers. Missing, wrong, revoked and expired keys are all
refused alike; a site outside a key's scope is answered like a site that does not exist. Every
create, revoke and scope change is in the operators' audit log (site None). Each key has a rate
limit counted in the database (models/throttle.py), so every worker process sees the same count.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .audit import record
from .base import db, utcnow
from .errors import RuleViolation
from .person import Person, find_proven_person
from .tables import Customer, Membership, Site
from .throttle import ThrottleEvent, take
from .tokens import hash_token, new_token
from .tool import SUPPORT, Tool

# Every key starts with this, so a leaked one is recognisable (secret scanners, logs).
KEY_PREFIX = "sp_"
# How much of the key the console shows to tell keys apart (the marker and 8 random characters).
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8
MAX_NAME_LENGTH = 200

# Requests one key may make: 600 a minute, counted in the database across every process.
THROTTLE_KIND = "api_request"
REQUEST_LIMIT = (600, timedelta(minutes=1))

api_key_customer = sa.Table(
    "api_key_customer", db.metadata,
    sa.Column("api_key_id", sa.ForeignKey("api_key.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_api_key_customer_customer_id", "customer_id"),
)


class ApiKey(db.Model):
    """One application's key. `all_sites` or the sites of `customers`; never deleted, only revoked."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(MAX_NAME_LENGTH))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    all_sites: Mapped[bool] = mapped_column(default=True)
    expires_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    created_by: Mapped[Person | None] = relationship()
    customers: Mapped[list[Customer]] = relationship(secondary=api_key_customer, order_by="Customer.name")

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.prefix} {self.name}>"

    def is_usable(self, now: datetime | None = None) -> bool:
        """Neither revoked nor past its expiry."""
        now = now or utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def scope(self) -> list[str]:
        """The customers' names, or [] for every site (for the audit log and the console)."""
        return [] if self.all_sites else [customer.name for customer in self.customers]


# --- the operators' commands ------------------------------------------------------------------------

def _customers(customer_ids) -> list[Customer]:
    ids = sorted(set(customer_ids or []))
    if not ids:
        raise RuleViolation(_l("Choose at least one customer, or give the key every site."), "customers")
    customers = list(db.session.scalars(sa.select(Customer).where(Customer.id.in_(ids))))
    if len(customers) != len(ids):
        raise RuleViolation(_l("One of the chosen customers does not exist any more."), "customers")
    return customers


def create_api_key(actor, name: str, customer_ids=None, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Create a key for an application; return it and its plain text, which is never available again.

    `customer_ids` None gives every site; a list limits the key to those customers' sites.
    """
    name = (name or "").strip()
    if not name:
        raise RuleViolation(_l("Give the key a name (the application that uses it)."), "name")
    if len(name) > MAX_NAME_LENGTH:
        raise RuleViolation(_l("The name is longer than %(most)d characters.", most=MAX_NAME_LENGTH), "name")
    if expires_at is not None and expires_at <= utcnow():
        raise RuleViolation(_l("The expiry must be in the future."), "expires_on")
    customers = None if customer_ids is None else _customers(customer_ids)
    token, _hash = new_token()
    plain = KEY_PREFIX + token
    key = ApiKey(name=name, prefix=plain[:SHOWN_PREFIX_LENGTH], key_hash=hash_token(plain),
                 all_sites=customers is None, customers=customers or [], expires_at=expires_at,
                 created_by_id=getattr(actor, "id", None))
    db.session.add(key)
    db.session.flush()
    record(actor, "api_key.created", target=("api_key", key.id, key.name),
           after={"prefix": key.prefix, "scope": key.scope,
                  "expires_at": expires_at.isoformat() if expires_at else None})
    return key, plain


def revoke_api_key(actor, key: ApiKey) -> bool:
    """End a key at once; return False when it was already revoked (nothing changes then)."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    record(actor, "api_key.revoked", target=("api_key", key.id, key.name), before={"prefix": key.prefix})
    return True


def set_api_key_scope(actor, key: ApiKey, customer_ids=None) -> bool:
    """Give a key every site (None) or only the chosen customers' sites; return whether it changed."""
    before = key.scope
    customers = None if customer_ids is None else _customers(customer_ids)
    if (customers is None and key.all_sites) or \
            (customers is not None and not key.all_sites and set(customers) == set(key.customers)):
        return False
    key.all_sites = customers is None
    key.customers = customers or []
    record(actor, "api_key.scope_changed", target=("api_key", key.id, key.name),
           before={"scope": before}, after={"scope": key.scope})
    return True


def api_keys() -> list[ApiKey]:
    """Every key for the console: usable ones first, newest first."""
    return list(db.session.scalars(sa.select(ApiKey).order_by(
        ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())))


# --- a request with a key ---------------------------------------------------------------------------

def authenticate(authorization: str | None) -> ApiKey | None:
    """Return the usable key an `Authorization: Bearer <key>` header carries; None when the header is
    missing or malformed, or the key is unknown, revoked or expired (all refused alike)."""
    scheme, _space, presented = (authorization or "").strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    key = db.session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == hash_token(presented)))
    if key is None or not key.is_usable():
        return None
    return key


def take_request(key: ApiKey) -> int | None:
    """Count one request of a key against its rate limit and note when it was used; when over the
    limit return the seconds to wait (for Retry-After) and count nothing."""
    most, window = REQUEST_LIMIT
    if take(THROTTLE_KIND, str(key.id), [REQUEST_LIMIT]):
        key.last_used_at = utcnow()
        return None
    # The oldest request within the window leaves it first.
    oldest = db.session.scalar(
        sa.select(ThrottleEvent.created_at).where(
            ThrottleEvent.kind == THROTTLE_KIND, ThrottleEvent.key == str(key.id),
            ThrottleEvent.created_at > utcnow() - window)
        .order_by(ThrottleEvent.created_at.desc()).offset(most - 1).limit(1))
    if oldest is None:
        return 1
    return max(1, math.ceil((oldest + window - utcnow()).total_seconds()))


def site_in_scope(key: ApiKey, site: Site) -> bool:
    """Tell whether a key reaches a site: every site, or the sites of its customers."""
    return key.all_sites or any(customer.id == site.customer_id for customer in key.customers)


def _site_by_number(key: ApiKey, site_number: str) -> Site | None:
    site = db.session.scalar(sa.select(Site).where(Site.site_number == (site_number or "").strip()))
    return site if site is not None and site_in_scope(key, site) else None


def level_key(name: str) -> str:
    """The key of a tool level for the API: its catalog name in lower case, words joined by "_"
    ("Downloads and media" → "downloads_and_media"); the catalog has no separate key for levels."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _level(tool: Tool, rank: int) -> dict:
    return {"rank": rank, "key": level_key(tool.level_name(rank)), "name": tool.level_name(rank)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment is not None else None


def describe_access(membership: Membership, tools: list[Tool]) -> dict:
    """What the API says about one membership: the site, role, each tool's level, the support level,
    who granted it and when, and when an access review last confirmed it."""
    site = membership.site
    support = next((tool for tool in tools if tool.key == SUPPORT), None)
    return {
        "site_number": site.site_number,
        "site_name": site.name,
        "customer": site.customer.name,
        "email": membership.person.email,
        "role": membership.role,
        "tools": {tool.key: _level(tool, membership.level(tool)) for tool in tools},
        "support_level": _level(support, membership.level(support)) if support is not None else None,
        "granted_by": membership.granted_by.email if membership.granted_by is not None else None,
        "granted_at": _iso(membership.granted_at),
        "last_confirmed_at": _iso(membership.last_confirmed_at),
    }


def _catalog() -> list[Tool]:
    return list(db.session.scalars(sa.select(Tool).order_by(Tool.position, Tool.id)))


def member_access(key: ApiKey, site_number: str, email: str) -> dict | None:
    """The access of a person at a site; None when the site is unknown or outside the key's scope, or
    the person is no member of it, or their account's address is not proven."""
    site = _site_by_number(key, site_number)
    person = find_proven_person(email) if site is not None else None
    if person is None:
        return None
    membership = db.session.scalar(sa.select(Membership).where(
        Membership.site_id == site.id, Membership.person_id == person.id))
    return describe_access(membership, _catalog()) if membership is not None else None


def sites_of(key: ApiKey, email: str) -> list[dict]:
    """Every site within the key's scope the person belongs to, by site number; [] when none, and
    [] too when no proven account has this address (a key learns nothing of people outside its sites)."""
    person = find_proven_person(email)
    if person is None:
        return []
    memberships = db.session.scalars(
        sa.select(Membership).join(Membership.site).where(Membership.person_id == person.id)
        .order_by(Site.site_number))
    tools = _catalog()
    return [describe_access(membership, tools) for membership in memberships
            if site_in_scope(key, membership.site)]
