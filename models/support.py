"""Support access (SPEC §7): who manages a site's support levels, how they change them, and the
requests of members for a higher support level.

The support level is the member's level on the Support cases tool of the catalog (No access, Basic,
Full, Administrator), so the audit snapshots, reports and My access carry it like any other level;
what differs is who may change it: the primary, the site's technical contacts and its support
Administrators, instead of those with Manage access = Update.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .base import db

TECHNICAL = "technical"  # the contact type key of the site technical contact


def technical_contact_ids(site_id: int) -> set[int]:
    """Return the ids of the people who are a site technical contact of this site.

    A contact record names a person by its link to the account or, as the portals do, by the
    person's login email; either way only a verified account counts (an address nobody proved
    gives nobody rights). Every contact type that carries rights counts (today: the site
    technical contact).
    """
    from .contact import ContactRecord, ContactType, contact_record_type
    from .person import Person

    records = (sa.select(ContactRecord.person_id, ContactRecord.email)
               .join(contact_record_type, contact_record_type.c.contact_record_id == ContactRecord.id)
               .join(ContactType, ContactType.id == contact_record_type.c.contact_type_id)
               .where(ContactRecord.site_id == site_id, ContactType.carries_rights.is_(True)))
    rows = db.session.execute(records).all()
    linked = {person_id for person_id, _email in rows if person_id}
    emails = {email.lower() for _person_id, email in rows if email}
    if not linked and not emails:
        return set()
    named = sa.or_(Person.id.in_(linked) if linked else sa.false(),
                   sa.func.lower(Person.email).in_(emails) if emails else sa.false())
    return set(db.session.scalars(sa.select(Person.id).where(named, Person.email_verified_at.is_not(None))))


def may_manage_support(membership) -> bool:
    """Tell whether a member sets support levels and decides support requests: the primary, a site
    technical contact, or a member holding Support cases = Administrator."""
    from .membership import PRIMARY
    from .tool import tool_by_key, SUPPORT

    if membership is None:
        return False
    if membership.role == PRIMARY:
        return True
    tool = tool_by_key(SUPPORT)
    if membership.level(tool) >= tool.top_rank:
        return True
    return membership.person_id in technical_contact_ids(membership.site_id)


def may_change_support(actor_membership, membership, tool) -> bool:
    """Tell whether a support manager (may_manage_support, checked once per page) may change this
    member's support level (the level chooser of its row): never their own, never the primary's, never
    a level above their own. set_support_level and check_support_change refuse the same, with the reason."""
    from .membership import PRIMARY

    return (actor_membership is not None and membership.role != PRIMARY
            and membership.person_id != actor_membership.person_id
            and membership.level(tool) <= actor_membership.level(tool))


def support_managers_of(site_id: int) -> list:
    """Return the people who manage a site's support levels, primary first."""
    from .membership import PRIMARY, Membership, Privilege
    from .tool import SUPPORT, tool_by_key

    tool = tool_by_key(SUPPORT)
    technical = technical_contact_ids(site_id)
    members = db.session.scalars(
        sa.select(Membership).where(Membership.site_id == site_id).where(sa.or_(
            Membership.role == PRIMARY,
            Membership.person_id.in_(technical) if technical else sa.false(),
            Membership.privileges.any(sa.and_(Privilege.tool_id == tool.id, Privilege.rank >= tool.top_rank)),
        )).options(sa.orm.selectinload(Membership.person))).all()
    return [m.person for m in sorted(members, key=lambda m: (m.role != PRIMARY, m.person.display_name.lower()))]


def check_support_change(actor_membership, tool, current: int, rank: int, name: str | None = None) -> None:
    """Refuse a change of a support level the actor may not make: only support managers change
    support levels, nobody grants above their own, and nobody changes a level above their own."""
    from .errors import RuleViolation

    field = f"tool_{tool.id}"
    if not may_manage_support(actor_membership):
        raise RuleViolation(_l("Support levels are set by the primary contact, the site technical contacts and "
                               "support Administrators."), field)
    own = actor_membership.level(tool)
    if rank > own:
        raise RuleViolation(_l("You cannot grant %(level)s on %(tool)s: it is above your own level.",
                               level=tool.level_name(rank), tool=tool.name), field)
    if current > own:
        raise RuleViolation(_l("%(who)s holds %(level)s on %(tool)s, above your own level.",
                               who=name or _l("This member"), level=tool.level_name(current), tool=tool.name), field)


def set_support_level(site, actor, membership, rank: int, remote_addr: str | None = None,
                      notify: bool = True) -> bool:
    """Change one member's support level; return whether it changed.

    Nobody changes their own level (so an Administrator cannot raise themself), the primary always
    holds Administrator, and the grant rules of check_support_change apply. Audited like every
    access change; the member is mailed when their preferences ask for it.
    """
    from .errors import RuleViolation
    from .membership import PRIMARY, _record_change, _set_levels, _snapshot, membership_of
    from .tool import SUPPORT, catalog

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
    before = _snapshot(membership, tools)
    _set_levels(membership, {tool.id: rank})
    return _record_change(site, actor, membership, before, tools, notify, remote_addr)


def is_support_request(access_request) -> bool:
    """Tell whether a request asks for a higher support level (decided by the support managers)."""
    from .access_request import PRIVILEGE
    from .tool import SUPPORT

    return access_request.kind == PRIVILEGE and access_request.tool is not None and access_request.tool.key == SUPPORT


def support_requests(site_id: int, pending_only: bool = False, limit: int = 100) -> list:
    """Return a site's requests for a higher support level, pending first, then the newest decided."""
    from .access_request import PENDING, PRIVILEGE, AccessRequest
    from .tool import SUPPORT, tool_by_key

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
    from .access_request import PENDING, PRIVILEGE, AccessRequest
    from .tool import SUPPORT, tool_by_key

    return db.session.scalar(sa.select(sa.func.count()).select_from(AccessRequest).where(
        AccessRequest.site_id == site_id, AccessRequest.kind == PRIVILEGE, AccessRequest.status == PENDING,
        AccessRequest.tool_id == tool_by_key(SUPPORT).id)) or 0
