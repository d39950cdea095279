"""Support access (SPEC §7): who manages a site's support levels, how they change them, and the
requests of members for a higher support level.

The support level is the member's level on the Support cases tool of the catalog (No access, Basic,
Full, Administrator), so the audit snapshots, reports and My access carry it like any other level;
what differs is who may change it: the primary, the site's technical contacts and its support
Administrators, instead of those with Manage access = Update.
"""
from __future__ import annotations

import functools

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .base import db
from .errors import RuleViolation
from .grants import record_change, set_levels, snapshot
from .policy import check_support_change, may_manage_support
from .tables import PENDING, PRIMARY, PRIVILEGE, AccessRequest, membership_of
from .tool import SUPPORT, catalog, tool_by_key

# The policy of SPEC §7 lives in models.policy; its callers (views, tests) have always found it here.
from .policy import is_support_request, support_managers_of, technical_contact_ids  # noqa: F401,E402

TECHNICAL = "technical"  # the contact type key of the site technical contact


def set_support_level(site, actor, membership, rank: int,
                      notify: bool = True) -> bool:
    """Change one member's support level; return whether it changed.

    Nobody changes their own level (so an Administrator cannot raise themself), the primary always
    holds Administrator, and the grant rules of check_support_change apply. Audited like every
    access change; the member is mailed when their preferences ask for it.
    """
    actor_membership = membership_of(actor, site.id)
    if not may_manage_support(actor_membership):
        raise RuleViolation(_l("Support levels are set by the primary contact, the site technical contacts and "
                               "support Administrators."))
    if membership.site_id != site.id:
        raise RuleViolation(_l("No such member on this site."))
    if membership.person_id == actor.id:
        raise RuleViolation(_l("You cannot change your own support level."), "level")
    if membership.role == PRIMARY:
        raise RuleViolation(_l("The primary contact always holds every support right."), "level")
    tools = catalog()
    tool = next(t for t in tools if t.key == SUPPORT)
    if not 0 <= rank <= tool.top_rank:
        raise RuleViolation(_l("%(tool)s has no such level.", tool=tool.name), "level")
    current = membership.level(tool)
    if rank == current:
        return False
    try:
        check_support_change(actor_membership, tool, current, rank, membership.person.display_name)
    except RuleViolation as violation:
        raise RuleViolation(violation.message, "level") from None
    before = snapshot(membership, tools)
    set_levels(membership, {tool.id: rank})
    return record_change(site, actor, membership, before, tools, notify)


def support_requests(site_id: int, pending_only: bool = False, limit: int = 100) -> list:
    """Return a site's requests for a higher support level, pending first, then the newest decided."""
    statement = sa.select(AccessRequest).where(AccessRequest.site_id == site_id, AccessRequest.kind == PRIVILEGE,
                                               AccessRequest.tool_id == tool_by_key(SUPPORT).id)
    if pending_only:
        statement = statement.where(AccessRequest.status == PENDING)
    statement = statement.order_by(sa.case((AccessRequest.status == PENDING, 0), else_=1),
                                   sa.func.coalesce(AccessRequest.decided_at, AccessRequest.created_at).desc(),
                                   AccessRequest.id.desc())
    return list(db.session.scalars(statement.limit(limit).options(sa.orm.selectinload(AccessRequest.requester),
                                                                  sa.orm.selectinload(AccessRequest.decided_by))))


def pending_support_count(site_id: int) -> int:
    """Return how many requests for a higher support level wait for a decision."""
    return db.session.scalar(pending_support_statement(), pending_support_values(site_id)) or 0


@functools.cache
def pending_support_statement():
    """The count of pending_support_count, as a statement (to be read together with other counts) with
    the values of pending_support_values: built once, as it runs on every page of the sidebar."""
    return sa.select(sa.func.count()).select_from(AccessRequest).where(
        AccessRequest.site_id == sa.bindparam("site_id"), AccessRequest.kind == PRIVILEGE,
        AccessRequest.status == PENDING, AccessRequest.tool_id == sa.bindparam("support_tool_id"))


def pending_support_values(site_id: int) -> dict:
    """The values pending_support_statement is run with."""
    return {"site_id": site_id, "support_tool_id": tool_by_key(SUPPORT).id}
