"""Membership of a person in a site: the commands that give, change and take access (SPEC §3, §4),
and the user list."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .base import db, utcnow
from .errors import RuleViolation
from .grants import create_membership, end_membership, record_access, record_change, set_levels, snapshot
from .invitation import invite
from .outbox import queue_mail
from .person import Person, display_name, find_proven_person, normalize_email
from .policy import check_levels, require_manage_update, require_secondaries_within_cap, require_secondary_seat
from .profile import chosen_levels
from .review import settle_review
from .tables import ROLE_LABELS  # noqa: F401 (the views name the roles through this module)
from .tables import (PRIMARY, ROLES, SECONDARY, USER, Invitation, Membership, Privilege,
                     levels_of, like_pattern, lock_site, membership_of, rank_held, site_member_count)
from .tool import catalog

# The names of the lower layers this module's callers (views, tests) have always found here.
from .policy import holds, matching_profile, profile_levels  # noqa: F401,E402
from .tables import UPDATE, VIEW, memberships_of, primary_of  # noqa: F401,E402


def add_member(site, actor, email: str, role: str, justification: str, levels: dict[int, int]):
    """Give a person access to a site: an existing account at once with a Welcome mail, an unknown
    email through an invitation (single use, 48 hours). Returns the membership or the invitation."""
    actor_membership = membership_of(actor, site.id)
    require_manage_update(actor_membership)
    email = normalize_email(email)
    if role not in (SECONDARY, USER):
        raise RuleViolation(_l("Choose secondary contact or user."), "role")
    justification = (justification or "").strip()
    if not justification:
        raise RuleViolation(_l("Give a business justification."), "business_justification")
    tools = catalog()
    granted = check_levels(actor_membership, role, levels, tools)
    lock_site(site.id)
    # An unverified account with this email is a stranger's: the mailbox's owner gets an invitation.
    person = find_proven_person(email)
    if person is not None and membership_of(person, site.id) is not None:
        raise RuleViolation(_l("%(email)s is already a member of this site.", email=email), "email")
    if role == SECONDARY:
        require_secondary_seat(site.id, replacing_email=email)
    if person is None:
        invitation, _raw = invite(site, email, role, actor, justification=justification,
                                  levels={tool_id: rank for tool_id, rank in granted.items() if rank})
        return invitation
    membership = create_membership(site.id, person.id, role, justification, actor.id, granted)
    record_access(actor, "membership.added", site, membership)
    queue_mail(person, "welcome", site=site, role=role)
    return membership


def update_member(site, actor, membership: Membership, role: str, levels: dict[int, int],
                  *, _tools=None, _check_cap: bool = True,
                  notify: bool = True, actor_membership: Membership | None = None) -> bool:
    """Change a member's role and levels; return whether anything changed.

    Nobody edits themself; the primary's membership changes only by transfer; a secondary demoted
    to user loses the levels reserved to secondary contacts; at most four secondaries. The member is
    mailed the change when their preferences ask for it (and `notify` is left on). `actor_membership`:
    the actor's membership of the site as the caller read it in this transaction (the view's site
    check, bulk_change's), so that it is not read twice; read here when not given.
    """
    if actor_membership is None or actor_membership.person_id != actor.id or actor_membership.site_id != site.id:
        actor_membership = membership_of(actor, site.id)
    require_manage_update(actor_membership)
    if membership.site_id != site.id:
        raise RuleViolation(_l("No such member on this site."))
    if membership.person_id == actor.id:
        raise RuleViolation(_l("You cannot change your own role or privileges."))
    if membership.role == PRIMARY:
        raise RuleViolation(_l("The primary contact's access changes only by transferring the primary role."))
    if role not in (SECONDARY, USER):
        raise RuleViolation(_l("Choose secondary contact or user."), "role")
    tools = _tools or catalog()
    if role == USER:
        # Demotion resets what only secondary contacts may hold.
        levels = {**levels, **{tool.id: 0 for tool in tools if not tool.open_to(role)}}
    granted = check_levels(actor_membership, role, levels, tools, current=levels_of(membership, tools))
    if role == SECONDARY and membership.role != SECONDARY and _check_cap:
        require_secondary_seat(site.id)
    before = snapshot(membership, tools)
    membership.role = role
    set_levels(membership, granted)
    return record_change(site, actor, membership, before, tools, notify)


def member_to_change(site_id: int, membership_id: int) -> Membership | None:
    """Return a member of a site with their person, grantor and privileges read in the same statement (what
    update_member reads: the levels, the audit event's target, the mail; and what the row shows after it,
    listed()); None when the site has no such member."""
    return db.session.scalars(_member_to_change_statement(),
                              {"site_id": site_id, "membership_id": membership_id}).unique().one_or_none()


@functools.cache
def _member_to_change_statement():
    # Built once (building it cost more than running it); the values are bound at each call.
    return (sa.select(Membership)
            .where(Membership.id == sa.bindparam("membership_id"), Membership.site_id == sa.bindparam("site_id"))
            .options(sa.orm.joinedload(Membership.person), sa.orm.joinedload(Membership.granted_by),
                     sa.orm.joinedload(Membership.privileges)))


def listed(membership: Membership) -> ListedMember:
    """Return a membership loaded with its person, grantor and privileges (member_to_change) as its row of
    the User list shows it, without reading it again: what an inline save answers with."""
    person, grantor = membership.person, membership.granted_by
    return ListedMember(
        membership.id, membership.person_id, membership.role, membership.granted_at,
        ListedPerson(person.id, person.email, person.display_name),
        ListedPerson(grantor.id, grantor.email, grantor.display_name) if grantor is not None else None,
        tuple(ListedPrivilege(privilege.tool_id, privilege.rank) for privilege in membership.privileges))


def remove_member(site, actor, membership: Membership) -> None:
    """Take a member off a site; never the primary (transfer first), never oneself (leave instead)."""
    actor_membership = membership_of(actor, site.id)
    require_manage_update(actor_membership)
    if membership.site_id != site.id:
        raise RuleViolation(_l("No such member on this site."))
    if membership.role == PRIMARY:
        raise RuleViolation(_l("The primary contact cannot be removed; transfer the primary role first."))
    if membership.person_id == actor.id:
        raise RuleViolation(_l("You cannot remove yourself here; use Leave site."))
    end_membership(site, actor, membership, "membership.removed")
    settle_review(site, actor)


class BulkRefused(Exception):
    """Some rows of a bulk change were refused; nothing was changed. `errors` maps row id → message."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(f"{len(errors)} row(s) refused")
        self.errors = errors


def bulk_change(site, actor, changes: dict[int, dict]) -> int:
    """Apply several rows' changes at once — {"remove": True} or {"role": …, "profile_id": …} per
    membership id — all or none. Returns the number of rows changed; raises BulkRefused."""
    actor_membership = membership_of(actor, site.id)
    require_manage_update(actor_membership)
    lock_site(site.id)
    tools = catalog()
    errors: dict[int, str] = {}
    changed = 0
    members = {m.id: m for m in db.session.scalars(
        sa.select(Membership).where(Membership.site_id == site.id, Membership.id.in_(list(changes))))}
    was_secondary = {mid: m.role == SECONDARY for mid, m in members.items()}
    for membership_id, change in changes.items():
        membership = members.get(membership_id)
        try:
            if membership is None:
                raise RuleViolation(_l("No such member on this site."))
            if change.get("remove"):
                remove_member(site, actor, membership)
                changed += 1
                continue
            role = change.get("role") or membership.role
            levels = levels_of(membership, tools) if membership.role != PRIMARY else {}
            levels = chosen_levels(site, actor_membership, role, change.get("profile_id") or None, {}, base=levels)
            if update_member(site, actor, membership, role, levels, _tools=tools, _check_cap=False,
                             actor_membership=actor_membership):
                changed += 1
        except RuleViolation as violation:
            errors[membership_id] = str(violation.message)
    promoted = any(m.role == SECONDARY and not was_secondary[mid] for mid, m in members.items())
    if not errors and promoted:
        try:
            require_secondaries_within_cap(site.id)
        except RuleViolation as violation:
            errors = {mid: str(violation.message) for mid, change in changes.items()
                      if change.get("role") == SECONDARY and members.get(mid) is not None}
    if errors:
        raise BulkRefused(errors)
    return changed


def plan_bulk_change(site, actor, changes: dict[int, dict]) -> tuple[list[dict], dict[int, str]]:
    """Tell what bulk_change would do with these changes, member by member, without doing it: it is
    run in a savepoint that is rolled back, so the plan is judged by the very rules that apply it (all
    rows together: seats, own levels, the primary). Returns (plan, refusals): the plan is one entry per
    member found — name, role before and after (None when removed), and (tool, level before, level
    after) for each level that changes — and the refusals map row id → message, as BulkRefused does."""
    tools = catalog()
    found = {m.id: m for m in db.session.scalars(
        sa.select(Membership).where(Membership.site_id == site.id, Membership.id.in_(list(changes)))
        .options(sa.orm.joinedload(Membership.person), sa.orm.selectinload(Membership.privileges)))}
    before = {mid: (m.person.display_name, m.role, levels_of(m, tools)) for mid, m in found.items()}
    refusals: dict[int, str] = {}
    savepoint = db.session.begin_nested()
    try:
        try:
            bulk_change(site, actor, changes)
        except BulkRefused as refused:
            refusals = refused.errors
        db.session.flush()
        after = {}
        for mid, membership in found.items():
            if changes[mid].get("remove"):
                after[mid] = None
            else:
                db.session.refresh(membership)
                after[mid] = (membership.role, levels_of(membership, tools))
    finally:
        savepoint.rollback()
    plan = []
    for mid in changes:
        if mid not in before:
            continue
        name, role, levels = before[mid]
        if after[mid] is None:
            plan.append(dict(id=mid, name=name, role=role, new_role=None, levels=[]))
            continue
        new_role, new_levels = after[mid]
        plan.append(dict(id=mid, name=name, role=role, new_role=new_role,
                         levels=[(tool.name, tool.level_name(levels.get(tool.id, 0)),
                                  tool.level_name(new_levels.get(tool.id, 0)))
                                 for tool in tools if levels.get(tool.id, 0) != new_levels.get(tool.id, 0)]))
    return plan, refusals


# --- the user list ------------------------------------------------------------------------------

MEMBER_SORTS = ("name", "email", "role", "granted")
ACTIVE, INVITED, EXPIRED = "active", "invited", "expired"
MEMBER_STATUSES = (ACTIVE, INVITED, EXPIRED)


def _trigram_index() -> bool:
    """Whether the trigram index of migration 0003 serves searches (SQLite's FTS5 table membership_search)."""
    return db.session.get_bind().dialect.name == "sqlite"


COUNT_CAP = 1000  # a search counts its matches up to here ("1,000+"), so a common term stays cheap

# How a page of members is found: every member of the site, the hits of the trigram index, or a LIKE
# over the search text walking the site's sorted index.
_ALL, _HITS, _LIKE = "all", "hits", "like"


def list_members(site_id: int, query: str = "", role: str = "", status: str = "", sort: str = "name",
                 page: int = 1, per_page: int = 25):
    """Return one page of a site's members matching a search (name or email), role and status, and
    how many match (a search counts up to COUNT_CAP + 1). Pending and expired invitations are listed
    separately by list_invitations.

    Sorting and searching read the membership's own key columns (kept by triggers) through the
    site's indexes, and a search with few matches takes them from the trigram index, so the cost of
    a page does not grow with the size of the site. The statements are built once per shape
    (_page_statement, _count_statement) and run with this call's values.
    """
    if status in (INVITED, EXPIRED):
        return [], 0
    query = query.strip()
    by_role = role in ROLES
    sort = sort if sort in MEMBER_SORTS else "name"
    values = {"site_id": site_id, "limit": per_page, "offset": (page - 1) * per_page}
    if by_role:
        values["role"] = role
    if not query:
        # Counted in the same statement as the page's rows (an uncorrelated subquery, evaluated once).
        found = _read_listed(_page_statement(_ALL, by_role, sort), values)
        total = found[0][1][0] if found else db.session.scalar(_count_statement(_ALL, by_role), values)
        return [row for row, _extra in found], total or 0
    values["cap"] = COUNT_CAP + 1
    total = None
    if _trigram_index() and len(query) >= 3:
        # The page and the count of its hits (up to the cap) in one statement, the index searched once.
        values["phrase"] = '"' + query.lower().replace('"', '""') + '"'
        found = _read_listed(_page_statement(_HITS, by_role, sort), values)
        total = found[0][1][0] if found else db.session.scalar(_count_statement(_HITS, by_role), values) or 0
        if total <= COUNT_CAP:
            return [row for row, _extra in found], total
    # Many matches, or no trigram index: walking the sorted index finds a page quickly.
    values["pattern"] = like_pattern(query)
    if total is None:
        total = db.session.scalar(_count_statement(_LIKE, by_role), values) or 0
    found = _read_listed(_page_statement(_LIKE, by_role, sort), values)
    return [row for row, _extra in found], total


def _members_found(how: str, by_role: bool):
    """The memberships of the site (bound :site_id) found this way, of the bound :role when by_role."""
    role_filter = [Membership.role == sa.bindparam("role")] if by_role else []
    if how == _HITS:
        hits = sa.select(sa.column("rowid")).select_from(sa.table("membership_search")).where(
            sa.text("membership_search MATCH :phrase"))
        # "+site_id" keeps SQLite from walking the whole site to probe the few hits.
        return sa.select(Membership).where(sa.literal_column("+membership.site_id") == sa.bindparam("site_id"),
                                           Membership.id.in_(hits), *role_filter)
    statement = sa.select(Membership).where(Membership.site_id == sa.bindparam("site_id"), *role_filter)
    if how == _LIKE:
        statement = statement.where(Membership.search_text.like(sa.bindparam("pattern"), escape="\\"))
    return statement


@functools.cache
def _count_statement(how: str, by_role: bool):
    """How many members are found (a search up to COUNT_CAP + 1), built once per shape."""
    if how == _ALL:
        # From the counts the triggers keep: the same cost at 100,000 members as at 10.
        counted = site_member_count.c
        return sa.select(sa.func.coalesce(sa.func.sum(counted.members), 0)).where(
            counted.site_id == sa.bindparam("site_id"),
            *([counted.role == sa.bindparam("role")] if by_role else []))
    return sa.select(sa.func.count()).select_from(_capped(how, by_role).subquery())


def _capped(how: str, by_role: bool):
    """The ids of the members found, up to the bound :cap (COUNT_CAP + 1)."""
    return _members_found(how, by_role).with_only_columns(Membership.id).limit(sa.bindparam("cap"))


_SORT_KEYS = {
    "name": ((Membership.sort_name, Membership.id), False),
    "email": ((Membership.sort_email, Membership.id), False),
    # Alphabetical happens to be the rank: primary, secondary, user.
    "role": ((Membership.role, Membership.sort_name, Membership.id), False),
    "granted": ((Membership.granted_at, Membership.id), True),
}


@functools.cache
def _page_statement(how: str, by_role: bool, sort: str):
    """The statement of one page of members found this way (bound :limit and :offset), with what
    _read_listed reads of each, built once per shape; the whole list counts its members beside."""
    keys, descending = _SORT_KEYS[sort]
    columns = [*_LISTED_MEMBER, *(key for key in keys if not any(key is listed for listed in _LISTED_MEMBER))]
    found = _members_found(how, by_role)
    if how == _ALL:
        columns.append(_count_statement(_ALL, by_role).scalar_subquery().label("total"))
    elif how == _HITS:
        # The hits searched once (materialized), counted beside the page and sorted into it: at most
        # the cap of them, and a page is only shown when there are no more than COUNT_CAP.
        hits = _capped(_HITS, by_role).cte("hits").prefix_with("MATERIALIZED")
        found = sa.select(Membership).where(Membership.id.in_(sa.select(hits.c.id)))
        columns.append(sa.select(sa.func.count()).select_from(hits).scalar_subquery().label("total"))
    page_rows = (found.with_only_columns(*columns)
                 .order_by(*(key.desc() if descending else key for key in keys))
                 .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")).subquery("page"))
    order = [page_rows.c[key.key].desc() if descending else page_rows.c[key.key] for key in keys]
    extra = [page_rows.c.total] if how in (_ALL, _HITS) else []
    return _listed_statement(page_rows, order, extra)


def listed_member(site_id: int, membership_id: int) -> ListedMember | None:
    """Return one member of a site as its row of the User list shows it (person, grantor, privileges),
    read in one statement; None when the site has no such member."""
    found = _read_listed(_one_listed_statement(), {"membership_id": membership_id, "site_id": site_id})
    return found[0][0] if found else None


@functools.cache
def _one_listed_statement():
    table = Membership.__table__
    return _listed_statement(table, [], [], table.c.id == sa.bindparam("membership_id"),
                             table.c.site_id == sa.bindparam("site_id"))


class ListedPerson(NamedTuple):
    """What the User list shows of a person (the member, or who granted the access)."""
    id: int
    email: str
    display_name: str


class ListedPrivilege(NamedTuple):
    tool_id: int
    rank: int


@dataclass(frozen=True, slots=True)
class ListedMember:
    """A member as the User list (and the support levels' list) shows it: plain values read in one
    statement, not ORM objects (issue 15: the rows cost a third of the page's CPU as entities).
    Reads like a Membership for levels_of, may_edit and the templates (person, granted_by, privileges)."""
    id: int
    person_id: int
    role: str
    granted_at: datetime
    person: ListedPerson
    granted_by: ListedPerson | None
    privileges: tuple[ListedPrivilege, ...]

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS[self.role])

    def level(self, tool) -> int:
        """Return the rank this member holds on a tool (rank_held)."""
        return rank_held(self.role, {privilege.tool_id: privilege.rank for privilege in self.privileges}, tool)


# The membership's columns a listed row reads; the subquery of the page's rows carries them.
_LISTED_MEMBER = (Membership.id, Membership.person_id, Membership.role, Membership.granted_at,
                  Membership.granted_by_id)
# The tables a listed row joins, made once (Core aliases: an ORM alias per call costs more than the rows).
_LISTED_PERSON_TABLE = Person.__table__.alias("listed_person")
_GRANTOR_TABLE = Person.__table__.alias("grantor")
_INVITER_TABLE = Person.__table__.alias("inviter")
_PRIVILEGE_TABLE = Privilege.__table__


def _listed_statement(page_rows, order, extra, *where):
    """The statement _read_listed reads: the members of a subquery of memberships (_LISTED_MEMBER's
    columns; or the table itself with `where`) with their person, grantor and privileges (one result
    row per privilege), in `order`, with the `extra` columns after them."""
    person, grantor, privilege = _LISTED_PERSON_TABLE.c, _GRANTOR_TABLE.c, _PRIVILEGE_TABLE.c
    return (
        sa.select(page_rows.c.id, page_rows.c.person_id, page_rows.c.role, page_rows.c.granted_at,
                  person.email, person.first_name, person.last_name,
                  grantor.id, grantor.email, grantor.first_name, grantor.last_name,
                  privilege.tool_id, privilege.rank, *extra)
        .select_from(page_rows.join(_LISTED_PERSON_TABLE, person.id == page_rows.c.person_id)
                     .outerjoin(_GRANTOR_TABLE, grantor.id == page_rows.c.granted_by_id)
                     .outerjoin(_PRIVILEGE_TABLE, privilege.membership_id == page_rows.c.id))
        .where(*where).order_by(*order, page_rows.c.id))


def _read_listed(statement, values: dict) -> list[tuple[ListedMember, tuple]]:
    """Run a _listed_statement: the members it finds, each with the values of the extra columns of its
    first result row."""
    grouped: dict[int, list] = {}
    for result_row in db.session.execute(statement, values):
        (member_id, person_id, role, granted_at, email, first_name, last_name,
         grantor_id, grantor_email, grantor_first, grantor_last, tool_id, rank, *extra) = result_row
        entry = grouped.get(member_id)
        if entry is None:
            entry = grouped[member_id] = [
                (member_id, person_id, role, granted_at, ListedPerson(person_id, email,
                                                                      display_name(first_name, last_name, email)),
                 ListedPerson(grantor_id, grantor_email, display_name(grantor_first, grantor_last, grantor_email))
                 if grantor_id is not None else None),
                [], tuple(extra)]
        if tool_id is not None:
            entry[1].append(ListedPrivilege(tool_id, rank))
    return [(ListedMember(*fields, tuple(privileges)), extra) for fields, privileges, extra in grouped.values()]


@dataclass(frozen=True, slots=True)
class ListedInvitation:
    """An invitation still waiting, as the User list shows it: plain values read in one statement."""
    id: int
    email: str
    role: str
    created_at: datetime
    expired: bool
    invited_by: ListedPerson | None


def list_invitations(site_id: int, query: str = "", role: str = "", status: str = "") -> list[ListedInvitation]:
    """Return a site's invitations still waiting (open or expired, not accepted nor revoked), newest first."""
    if status == ACTIVE:
        return []
    query = query.strip()
    status = status if status in (INVITED, EXPIRED) else ""
    now = utcnow()
    values = {"site_id": site_id, "now": now}
    if role in ROLES:
        values["role"] = role
    if query:
        values["pattern"] = like_pattern(query)
    return [ListedInvitation(invitation_id, email, invited_role, created_at, now >= expires_at,
                             ListedPerson(person_id, person_email, display_name(first_name, last_name, person_email))
                             if person_id is not None else None)
            for (invitation_id, email, invited_role, created_at, expires_at, person_id, person_email, first_name,
                 last_name) in db.session.execute(_invitations_statement(role in ROLES, status, bool(query)), values)]


@functools.cache
def _invitations_statement(by_role: bool, status: str, search: bool):
    # Built once per shape (the User list runs it on every first page); the values are bound at each call.
    inviter = _INVITER_TABLE.c
    statement = (sa.select(Invitation.id, Invitation.email, Invitation.role, Invitation.created_at,
                           Invitation.expires_at, inviter.id, inviter.email, inviter.first_name, inviter.last_name)
                 .outerjoin(_INVITER_TABLE, inviter.id == Invitation.invited_by_id)
                 .where(Invitation.site_id == sa.bindparam("site_id"), Invitation.accepted_at.is_(None),
                        Invitation.revoked_at.is_(None))
                 .order_by(Invitation.created_at.desc(), Invitation.id.desc()))
    if by_role:
        statement = statement.where(Invitation.role == sa.bindparam("role"))
    if status == INVITED:
        statement = statement.where(Invitation.expires_at > sa.bindparam("now"))
    elif status == EXPIRED:
        statement = statement.where(Invitation.expires_at <= sa.bindparam("now"))
    if search:
        statement = statement.where(sa.func.lower(Invitation.email).like(sa.bindparam("pattern"), escape="\\"))
    return statement.limit(200)


def leave_site(site, person) -> None:
    """Give up one's own membership; the primary must transfer the role first."""
    membership = membership_of(person, site.id)
    if membership is None:
        raise RuleViolation(_l("You are not a member of this site."))
    if membership.role == PRIMARY:
        raise RuleViolation(_l("You are the primary contact: transfer the primary role before you leave."))
    end_membership(site, person, membership, "membership.left")
    settle_review(site, person)
