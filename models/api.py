"""API keys (issue 16): the vendor's other tools ask Sitepass, read-only, with a per-application key.

A key is shown once when it is created and only its SHA-256 is stored (models/tokens.py); it reaches
every site, or only the sites of chosen customers. Missing, wrong, revoked and expired keys are all
refused alike; a site outside a key's scope is answered like a site that does not exist. Every
create, revoke and scope change is in the operators' audit log (site None). Each key has a rate
limit counted in the database (models/throttle.py), so every worker process sees the same count.
"""
from __future__ import annotations

import binascii
import math
import threading
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .audit import record
from .base import db, utcnow, write_intent
from .contact import effective_contacts
from .errors import RuleViolation
from .person import Person, find_proven_person
from .report import access_at
from .roles import PRIMARY, ROLES
from .tables import ContactRecord, Customer, Membership, Privilege, Site, primary_of, rank_held
from .throttle import HORIZON, ThrottleEvent, count_events
from .tokens import hash_token, new_token
from .tool import SUPPORT, Tool, catalog

# Every key starts with this, so a leaked one is recognisable (secret scanners, logs).
KEY_PREFIX = "sp_"
# How much of the key the console shows to tell keys apart (the marker and 8 random characters).
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8
MAX_NAME_LENGTH = 200

# Requests one key may make: 600 a minute, counted in the database across every process (the
# setting API_REQUESTS_PER_MINUTE, e.g. SITEPASS_API_REQUESTS_PER_MINUTE, changes the 600: `make bench`).
THROTTLE_KIND = "api_request"
REQUEST_LIMIT = (600, timedelta(minutes=1))
# A process writes the requests it counted every COUNT_BATCH of them or when the oldest waited
# COUNT_DELAY (take_request), and a key's last use at most every LAST_USED_EVERY.
COUNT_BATCH = 20
COUNT_DELAY = timedelta(seconds=1)
LAST_USED_EVERY = timedelta(minutes=1)

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
        """Neither revoked nor past its expiry (usable)."""
        return usable(self.revoked_at, self.expires_at, now)

    @property
    def scope(self) -> list[str]:
        """The customers' names, or [] for every site (for the audit log and the console)."""
        return [] if self.all_sites else [customer.name for customer in self.customers]


def usable(revoked_at: datetime | None, expires_at: datetime | None, now: datetime | None = None) -> bool:
    """Tell whether a key with these moments works now: neither revoked nor past its expiry."""
    now = now or utcnow()
    return revoked_at is None and (expires_at is None or expires_at > now)


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
    """Give a key every site (None) or only the chosen customers' sites; return whether it changed.
    A revoked key keeps the scope it had."""
    if key.revoked_at is not None:
        raise RuleViolation(_l("This key is revoked: its scope cannot change."), "scope")
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

@dataclass(frozen=True)
class CallerKey:
    """The key of one API request, as plain values: what its checks need (scope, rate limit, last use)."""

    id: int
    all_sites: bool
    customer_ids: frozenset[int]
    last_used_at: datetime | None


# Built once: every API request runs them (the ORM's object for a key cost more than the lookup).
_KEY_BY_HASH = (sa.select(ApiKey.id, ApiKey.all_sites, ApiKey.last_used_at, ApiKey.expires_at, ApiKey.revoked_at)
                .where(ApiKey.key_hash == sa.bindparam("key_hash")))
_KEY_CUSTOMERS = sa.select(api_key_customer.c.customer_id).where(api_key_customer.c.api_key_id == sa.bindparam("key"))


def authenticate(authorization: str | None) -> CallerKey | None:
    """Return the usable key an `Authorization: Bearer <key>` header carries; None when the header is
    missing or malformed, or the key is unknown, revoked or expired (all refused alike)."""
    scheme, _space, presented = (authorization or "").strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    connection = db.session.connection()
    row = connection.execute(_KEY_BY_HASH, {"key_hash": hash_token(presented)}).first()
    if row is None or not usable(row.revoked_at, row.expires_at):
        return None
    customers = frozenset() if row.all_sites else frozenset(connection.execute(_KEY_CUSTOMERS, {"key": row.id}).scalars())
    return CallerKey(row.id, row.all_sites, customers, row.last_used_at)


class _PendingRequests:
    """The requests this process let through and has not written to the database yet: key id → their
    moments, and the oldest of them all (one per app, in app.extensions; a lock, for servers with threads)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.moments: dict[int, list[datetime]] = {}
        self.oldest: datetime | None = None

    def take(self, key_ids=None) -> dict[int, list[datetime]]:
        """Remove and return the waiting moments of these keys (every key when None)."""
        taken = {key_id: moments for key_id, moments in self.moments.items()
                 if moments and (key_ids is None or key_id in key_ids)}
        for key_id in taken:
            self.moments[key_id] = []
        firsts = [moments[0] for moments in self.moments.values() if moments]
        self.oldest = min(firsts) if firsts else None
        return taken


def _pending() -> _PendingRequests:
    return current_app.extensions.setdefault("sitepass_api_pending", _PendingRequests())


def take_request(key: CallerKey) -> int | None:
    """Count one request of a key against its rate limit; when over the limit return the seconds to
    wait (for Retry-After) and count nothing.

    Writing every request would take SQLite's write lock (and an fsync) per API GET. Instead the
    request is counted against the events in the database plus those this process has let through
    and not yet written, and this process writes them in one short transaction: a key's every
    COUNT_BATCH requests, or when its last use is older than LAST_USED_EVERY (so last_used_at is
    written at most once a minute) — and every key's together when the oldest of them all waited
    COUNT_DELAY, so that many keys making a request now and then cost one write a second, not one
    each. One process alone is exact; with P processes a key gets at most REQUEST_LIMIT +
    (COUNT_BATCH - 1) × (P - 1) requests within the window, and a process that dies forgets at most
    the requests of its last COUNT_DELAY (fewer than COUNT_BATCH per key).
    """
    most, window = request_limit()
    now = utcnow()
    pending = _pending()
    with pending.lock:
        waiting = [moment for moment in pending.moments.get(key.id, []) if moment > now - window]
        if count_events(THROTTLE_KIND, str(key.id), window, most) + len(waiting) >= most:
            return _retry_after(key.id, waiting, now)
        waiting.append(now)
        pending.moments[key.id] = waiting
        if pending.oldest is None:
            pending.oldest = now
        if pending.oldest <= now - COUNT_DELAY:
            due = pending.take()
        elif (len(waiting) >= COUNT_BATCH or key.last_used_at is None
              or key.last_used_at <= now - LAST_USED_EVERY):
            due = pending.take({key.id})
        else:
            due = {}
    if due:
        _write_requests(due, now)
    return None


def request_limit() -> tuple[int, timedelta]:
    """The requests a key may make within a window: REQUEST_LIMIT, or API_REQUESTS_PER_MINUTE when set."""
    most, window = REQUEST_LIMIT
    return int(current_app.config.get("API_REQUESTS_PER_MINUTE") or most), window


def _retry_after(key_id: int, waiting: list[datetime], now: datetime) -> int:
    """Seconds until the oldest request within the window leaves it, so that one more fits."""
    most, window = request_limit()
    written = db.session.scalars(
        sa.select(ThrottleEvent.created_at).where(
            ThrottleEvent.kind == THROTTLE_KIND, ThrottleEvent.key == str(key_id),
            ThrottleEvent.created_at > now - window)
        .order_by(ThrottleEvent.created_at.desc()).limit(most)).all()
    newest = sorted([*written, *waiting], reverse=True)
    if len(newest) < most:
        return 1
    return max(1, math.ceil((newest[most - 1] + window - now).total_seconds()))


def _write_requests(due: dict[int, list[datetime]], now: datetime) -> None:
    """Write the waiting requests of these keys and their last use in one write transaction of its own
    (the API request itself only reads: views.security begins it without the write lock)."""
    db.session.rollback()  # nothing was written: end the read transaction
    token = write_intent.set(True)
    keys = [str(key_id) for key_id in due]
    try:
        db.session.execute(sa.delete(ThrottleEvent).where(
            ThrottleEvent.kind == THROTTLE_KIND, ThrottleEvent.key.in_(keys),
            ThrottleEvent.created_at < now - HORIZON))
        db.session.execute(sa.insert(ThrottleEvent), [
            {"kind": THROTTLE_KIND, "key": str(key_id), "created_at": moment}
            for key_id, moments in due.items() for moment in moments])
        db.session.execute(sa.update(ApiKey).where(
            ApiKey.id.in_(list(due)),
            sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_EVERY))
            .values(last_used_at=now))
        db.session.commit()
    finally:
        write_intent.reset(token)


def flush_request_counts() -> None:
    """Write every request this process has counted and not yet written (tests; a worker's exit)."""
    pending = _pending()
    with pending.lock:
        due = pending.take()
    if due:
        _write_requests(due, utcnow())


def site_in_scope(key: CallerKey, site: Site) -> bool:
    """Tell whether a key reaches a site: every site, or the sites of its customers."""
    return customer_in_scope(key, site.customer_id)


def customer_in_scope(key: CallerKey, customer_id: int) -> bool:
    """Tell whether a key reaches the sites of a customer."""
    return key.all_sites or customer_id in key.customer_ids


def _site_by_number(key: CallerKey, site_number: str) -> Site | None:
    site = db.session.scalar(sa.select(Site).where(Site.site_number == (site_number or "").strip()))
    return site if site is not None and site_in_scope(key, site) else None


def _level(tool: Tool, rank: int) -> dict:
    if not 0 <= rank <= tool.top_rank:
        # A rank the catalog no longer has (a level removed since the audit log recorded it).
        return {"rank": rank, "key": f"rank_{rank}", "name": str(rank)}
    return {"rank": rank, "key": tool.level_key(rank), "name": tool.level_name(rank)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment is not None else None


def _access(values: dict, role: str, ranks: dict[int, int], tools) -> dict:
    support = next((tool for tool in tools if tool.key == SUPPORT), None)
    return {
        "site_number": values["site_number"],
        "site_name": values["site_name"],
        "customer": values["customer"],
        "email": values["email"],
        "role": role,
        "tools": {tool.key: _level(tool, rank_held(role, ranks, tool)) for tool in tools},
        "support_level": _level(support, rank_held(role, ranks, support)) if support is not None else None,
        "granted_by": values["granted_by"],
        "granted_at": _iso(values["granted_at"]),
        "last_confirmed_at": _iso(values["last_confirmed_at"]),
    }


def describe_access(membership: Membership, tools) -> dict:
    """What the API says about one membership: the site, role, each tool's level, the support level,
    who granted it and when, and when an access review last confirmed it."""
    site = membership.site
    values = {"site_number": site.site_number, "site_name": site.name, "customer": site.customer.name,
              "email": membership.person.email,
              "granted_by": membership.granted_by.email if membership.granted_by is not None else None,
              "granted_at": membership.granted_at, "last_confirmed_at": membership.last_confirmed_at}
    ranks = {privilege.tool_id: privilege.rank for privilege in membership.privileges}
    return _access(values, membership.role, ranks, tools)


def _catalog():
    """The catalog as plain data, kept per catalog version (models.tool.catalog): a change of the
    catalog shows in the next API answer, in every process."""
    return catalog()


# The member lookup, the API's busiest request, in two plain queries built once: the membership with
# its site, customer, person and grantor, then its privileges (the ORM's objects cost more than the
# lookup itself). find_proven_person's rule (lower-case email, a proven account) is in the first.
_GRANTOR = sa.orm.aliased(Person)
_MEMBER_ROW = (
    sa.select(Membership.id, Membership.role, Membership.granted_at, Membership.last_confirmed_at,
              Site.site_number, Site.name.label("site_name"), Site.customer_id, Customer.name.label("customer"),
              Person.email, _GRANTOR.email.label("granted_by"))
    .select_from(Membership).join(Person, Person.id == Membership.person_id)
    .join(Site, Site.id == Membership.site_id).join(Customer, Customer.id == Site.customer_id)
    .outerjoin(_GRANTOR, _GRANTOR.id == Membership.granted_by_id)
    .where(Site.site_number == sa.bindparam("site_number"), sa.func.lower(Person.email) == sa.bindparam("email"),
           Person.email_verified_at.is_not(None)))
_PRIVILEGES = sa.select(Privilege.tool_id, Privilege.rank).where(Privilege.membership_id == sa.bindparam("membership"))


def member_access(key: CallerKey, site_number: str, email: str) -> dict | None:
    """The access of a person at a site; None when the site is unknown or outside the key's scope, or
    the person is no member of it, or their account's address is not proven."""
    connection = db.session.connection()
    row = connection.execute(_MEMBER_ROW, {"site_number": (site_number or "").strip(),
                                           "email": (email or "").strip().lower()}).first()
    if row is None or not customer_in_scope(key, row.customer_id):
        return None
    ranks = dict(connection.execute(_PRIVILEGES, {"membership": row.id}).all())
    return _access(row._asdict(), row.role, ranks, _catalog())


def sites_of(key: CallerKey, email: str) -> list[dict]:
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


# --- the lists for sync jobs (issue 16) ---------------------------------------------------------------

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_PARAMETER_LENGTH = 200


def _digits(text: str | None, most: int) -> int | None:
    """A whole number in ASCII digits from 0 to `most`; None for anything else."""
    if not text or len(text) > len(str(most)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= most else None


def page_size(text: str | None) -> int:
    """The `limit` of a list: 1 to MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE when absent."""
    if text is None:
        return DEFAULT_PAGE_SIZE
    size = _digits(text.strip(), MAX_PAGE_SIZE)
    if not size:
        raise RuleViolation(_l("limit must be a whole number from 1 to %(most)d.", most=MAX_PAGE_SIZE), "limit")
    return size


def encode_cursor(membership_id: int) -> str:
    """The opaque cursor after a membership: its id, base64url-encoded (the order of the list is by id)."""
    return urlsafe_b64encode(f"m{membership_id}".encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> int:
    """The membership id a cursor from encode_cursor names (0 when absent); any other value is refused."""
    if text is None:
        return 0
    refused = RuleViolation(_l("cursor is not a cursor this API gave: start again without it."), "cursor")
    if not text.isascii() or len(text) > 32:
        raise refused
    try:
        plain = urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise refused from None
    membership_id = _digits(plain[1:], 2**63 - 1) if plain.startswith("m") else None
    if not membership_id:
        raise refused
    return membership_id


def _tool_filter(tools: list[Tool], tool_key: str | None, level: str | None) -> tuple[Tool, int] | None:
    """The tool and the lowest rank a member must hold on it: `min_level` is a level key of that tool
    (its rank in digits is accepted too); a tool without `min_level` means any level above its lowest."""
    if tool_key is None:
        if level is not None:
            raise RuleViolation(_l("min_level needs tool: name the tool the level belongs to."), "min_level")
        return None
    tool = next((tool for tool in tools if tool.key == tool_key.strip()), None)
    if tool is None:
        raise RuleViolation(_l("tool is not a tool key of the catalog."), "tool")
    if level is None:
        return tool, 1
    level = level.strip()
    for rank in range(tool.top_rank + 1):
        if level in (tool.level_key(rank), str(rank)):
            return tool, rank
    raise RuleViolation(_l("min_level is not a level key of this tool."), "min_level")


def list_site_members(key: CallerKey, site_number: str, tool: str | None = None, min_level: str | None = None,
                      role: str | None = None, cursor: str | None = None, limit: str | None = None) -> dict | None:
    """One page of a site's members (proven accounts only, like the lookups), in the order of their
    membership, filtered by role and by a lowest level on one tool; None when the site is unknown or
    outside the key's scope. The parameters come as sent; a bad one raises RuleViolation naming it.

    `next_cursor` continues after the last member of the page, and is None on the last page; members
    added while a job pages through come at the end, so a sync job misses nobody who was there when it began.
    """
    size = page_size(limit)
    after = decode_cursor(cursor)
    if role is not None and role.strip() not in ROLES:
        raise RuleViolation(_l("role must be primary, secondary or user."), "role")
    tools = _catalog()
    wanted = _tool_filter(tools, tool, min_level)
    site = _site_by_number(key, site_number)
    if site is None:
        return None
    statement = (sa.select(Membership).join(Membership.person)
                 .where(Membership.site_id == site.id, Membership.id > after, Person.email_verified_at.is_not(None)))
    if role is not None:
        statement = statement.where(Membership.role == role.strip())
    if wanted is not None:
        wanted_tool, rank = wanted
        statement = statement.where(sa.or_(Membership.role == PRIMARY, sa.exists().where(
            Privilege.membership_id == Membership.id, Privilege.tool_id == wanted_tool.id, Privilege.rank >= rank)))
    rows = db.session.scalars(statement.order_by(Membership.id).limit(size + 1).options(
        sa.orm.contains_eager(Membership.person), sa.orm.selectinload(Membership.privileges),
        sa.orm.selectinload(Membership.granted_by))).all()
    page = rows[:size]
    return {"site_number": site.site_number,
            "members": [describe_access(membership, tools) for membership in page],
            "next_cursor": encode_cursor(page[-1].id) if len(rows) > size else None}


def _contact(record: ContactRecord) -> dict:
    return {"first_name": record.first_name, "last_name": record.last_name, "email": record.email,
            "phone": record.phone, "address": record.address, "address_line2": record.address_line2,
            "city": record.city, "subdivision": record.subdivision, "postal_code": record.postal_code,
            "country": record.country, "is_primary_contact": False}


def _primary_contact(person: Person) -> dict:
    return {"first_name": person.first_name, "last_name": person.last_name, "email": person.email,
            "phone": None, "address": None, "address_line2": None, "city": None, "subdivision": None,
            "postal_code": None, "country": None, "is_primary_contact": True}


def site_contacts(key: CallerKey, site_number: str) -> dict | None:
    """The effective contact of each contact type (SPEC §6: its holders, or the primary contact acting
    for a type nobody holds), as the Site contacts page shows them; None for an unknown site or one
    outside the key's scope."""
    site = _site_by_number(key, site_number)
    if site is None:
        return None
    types = []
    for entry in effective_contacts(site):
        holders = [_contact(record) for record in entry["holders"]]
        if entry["primary_acts"] and entry["primary"] is not None:
            holders = [_primary_contact(entry["primary"])]
        types.append({"type": entry["type"].key, "type_name": entry["type"].name,
                      "primary_acts": entry["primary_acts"], "contacts": holders})
    primary = primary_of(site.id)
    primary = primary.person if primary is not None else None
    return {"site_number": site.site_number, "site_name": site.name,
            "primary_contact": _primary_contact(primary) if primary is not None else None, "types": types}


def parse_moment(text: str | None) -> datetime:
    """A moment in ISO 8601 with its zone ("2026-03-01T00:00:00Z", "…+01:00"), as naive UTC like the
    database; anything else (no zone, a date alone, garbage) is refused."""
    refused = RuleViolation(_l("at must be a date and time in ISO 8601 with its zone, e.g. "
                               "2026-03-01T00:00:00Z."), "at")
    text = (text or "").strip()
    if not text or len(text) > 64 or not text.isascii() or "T" not in text.upper():
        raise refused
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise refused
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise refused from None


def access_at_moment(key: CallerKey, site_number: str, at: str | None) -> dict | None:
    """The access of every member of a site at a past moment, rebuilt from the audit log by the Reports
    page's own function (models.report.access_at); None for an unknown site or one outside the scope."""
    moment = parse_moment(at)
    site = _site_by_number(key, site_number)
    if site is None:
        return None
    tools = _catalog()
    members = [{"email": row["email"], "name": row["name"], "role": row["role"],
                "tools": {tool.key: _level(tool, row["levels"][tool.key]) for tool in tools},
                "contact_types": row["contact_types"], "granted_by": row["granted_by"] or None}
               for row in access_at(site, moment, tools)]
    return {"site_number": site.site_number, "at": _iso(moment), "members": members}
