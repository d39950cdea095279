"""Who may do what (SPEC §2–§7): the one owner of each permission and cap, asked by every command.

These functions read and refuse; they change nothing. They stand on the tables and the catalog only.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .base import db, utcnow
from .errors import RuleViolation
from .person import Person
from .tables import (MAX_SECONDARIES, PRIMARY, PRIVILEGE, SECONDARY, UPDATE, ContactRecord, ContactType, Invitation,
                     Membership, Privilege, contact_record_type, lock_site, membership_of)
from .tool import MANAGE_ACCESS, SUPPORT, tool_by_key


def holds(membership: Membership | None, tool_key: str, rank: int) -> bool:
    """Tell whether a membership holds at least `rank` on the tool with this key."""
    if membership is None:
        return False
    return membership.level(tool_by_key(tool_key)) >= rank


def may_edit(actor_membership: Membership | None, membership: Membership) -> bool:
    """Tell whether the actor may change or remove this member (the Edit, Remove and bulk controls of
    its row): with Manage access = Update, never themself, never the primary. update_member,
    remove_member and bulk_change refuse the same, each with its reason."""
    return may_edit_rows(actor_membership)(membership)


def may_edit_rows(actor_membership: Membership | None):
    """Return may_edit for this actor as a function of the member, the actor's level read once (a list's rows)."""
    allowed = holds(actor_membership, MANAGE_ACCESS, UPDATE)
    return lambda membership: (allowed and membership.role != PRIMARY
                               and membership.person_id != actor_membership.person_id)


def require_manage_update(actor_membership: Membership | None) -> None:
    """Refuse a change of access to anyone without Manage access = Update on the site."""
    if not holds(actor_membership, MANAGE_ACCESS, UPDATE):
        raise RuleViolation(_l("You need Manage access = Update to change access on this site."))


def require_primary(site, actor, message) -> Membership:
    """Refuse, with `message`, anyone but the site's primary contact; return their membership."""
    membership = membership_of(actor, site.id)
    if membership is None or membership.role != PRIMARY:
        raise RuleViolation(message)
    return membership


def approvers_of(site_id: int) -> list:
    """Return the people who decide a site's requests: the primary and secondaries with Manage access = Update."""
    deciders = db.session.scalars(sa.select(Membership).where(
        Membership.site_id == site_id, Membership.role.in_((PRIMARY, SECONDARY)))).all()
    return [m.person for m in deciders if holds(m, MANAGE_ACCESS, UPDATE)]


# --- the secondary cap (SPEC §2) ----------------------------------------------------------------

def count_secondaries(site_id: int) -> int:
    """Return how many secondary contacts a site has (the one count of them)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                             .where(Membership.site_id == site_id, Membership.role == SECONDARY)) or 0


def secondary_seats_taken(site_id: int, replacing_email: str | None = None) -> tuple[int, int]:
    """Return (secondary contacts, pending secondary-contact invitations) of a site: together they take
    its MAX_SECONDARIES seats, since a pending invitation (not accepted, revoked or expired) keeps a
    seat for its invitee. The invitations of `replacing_email` are left out: a new invitation of that
    email replaces them."""
    pending = (sa.select(sa.func.count()).select_from(Invitation)
               .where(Invitation.site_id == site_id, Invitation.role == SECONDARY, Invitation.accepted_at.is_(None),
                      Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow()))
    if replacing_email:
        pending = pending.where(sa.func.lower(Invitation.email) != replacing_email.strip().lower())
    return count_secondaries(site_id), db.session.scalar(pending) or 0


def secondary_seat_free(site_id: int, replacing_email: str | None = None, invitations: bool = True,
                        vacating: int = 0) -> bool:
    """Tell whether a site has a seat left for one more secondary contact (members and, unless
    `invitations` is off, pending invitations take seats); `vacating` seats are about to be freed."""
    members, invited = secondary_seats_taken(site_id, replacing_email)
    return members + (invited if invitations else 0) - vacating < MAX_SECONDARIES


def require_secondary_seat(site_id: int, replacing_email: str | None = None, invitations: bool = True) -> None:
    """Refuse one more secondary contact, or invitation to become one, when the site's seats are all
    taken (SPEC §2: at most four; pending invitations keep theirs). The site's row is locked first, so
    that of two concurrent requests for the last seat exactly one gets it (BEGIN IMMEDIATE on SQLite,
    SELECT … FOR UPDATE on PostgreSQL). `invitations=False` counts the members only: the acceptance of
    an invitation, whose own seat was kept, re-checks the hard cap that way."""
    lock_site(site_id)
    members, invited = secondary_seats_taken(site_id, replacing_email)
    if members >= MAX_SECONDARIES:
        raise RuleViolation(_l("This site already has %(n)d secondary contacts, the most allowed.",
                               n=MAX_SECONDARIES), "role")
    if invitations and members + invited >= MAX_SECONDARIES:
        raise RuleViolation(_l("All %(n)d secondary contact seats are taken: %(members)d secondary contacts and "
                               "%(invited)d pending invitations to become one. Revoking an invitation frees its seat.",
                               n=MAX_SECONDARIES, members=members, invited=invited), "role")


def require_secondaries_within_cap(site_id: int) -> None:
    """Refuse a state with more secondary contacts and pending invitations than the site's seats: a
    bulk change, which promotes several members at once, is checked after the fact this way (and
    rolled back by its caller)."""
    if sum(secondary_seats_taken(site_id)) > MAX_SECONDARIES:
        raise RuleViolation(_l("This site can have at most %(n)d secondary contacts.", n=MAX_SECONDARIES), "role")


# --- levels -------------------------------------------------------------------------------------

def check_levels(actor_membership: Membership, role: str, levels: dict[int, int], tools,
                 current: dict[int, int] | None = None) -> dict[int, int]:
    """Validate requested levels for a member with `role`; return them complete (every tool).

    A level may not exceed the tool's top, nor the actor's own level on that tool (unless it is
    unchanged); tools reserved to secondary contacts stay at their lowest level for users.
    """
    current = current or {}
    result = {}
    for tool in tools:
        rank = int(levels.get(tool.id, current.get(tool.id, 0)))
        if rank < 0 or rank > tool.top_rank:
            raise RuleViolation(_l("%(tool)s has no such level.", tool=tool.name), f"tool_{tool.id}")
        if rank > 0 and not tool.open_to(role):
            raise RuleViolation(_l("%(tool)s above %(lowest)s is for secondary contacts only.",
                                   tool=tool.name, lowest=tool.levels[0].name), f"tool_{tool.id}")
        if rank > actor_membership.level(tool) and rank != current.get(tool.id, 0):
            raise RuleViolation(_l("You cannot grant %(level)s on %(tool)s: it is above your own level.",
                                   level=tool.level_name(rank), tool=tool.name), f"tool_{tool.id}")
        if tool.key == SUPPORT and rank != current.get(tool.id, 0):
            check_support_change(actor_membership, tool, current.get(tool.id, 0), rank)
        result[tool.id] = rank
    return result


def profile_levels(profile, tools, role: str, actor_membership: Membership | None = None) -> dict[int, int]:
    """Return the levels a profile sets for a member with `role` (secondary-only tools kept for secondaries).

    Given the membership of the person applying it, a profile leaves out the support level when that
    person may not set support levels (SPEC §7): the member keeps the one they hold.
    """
    ranks = profile.ranks()
    levels = {tool.id: (ranks.get(tool.id, 0) if tool.open_to(role) else 0) for tool in tools}
    if actor_membership is not None and not may_manage_support(actor_membership):
        levels = {tool_id: rank for tool_id, rank in levels.items()
                  if tool_id not in {tool.id for tool in tools if tool.key == SUPPORT}}
    return levels


def matching_profile(levels: dict[int, int], profiles, tools, role: str, known: dict | None = None):
    """Return the profile whose levels equal these, if any (the user list shows its name). `known`, a
    dict kept by the caller across the rows of one list, holds each profile's levels per role once made."""
    known = {} if known is None else known
    for profile in profiles:
        key = (profile.id, role)
        if key not in known:
            known[key] = profile_levels(profile, tools, role)
        if known[key] == levels:
            return profile
    return None


# --- support access (SPEC §7) -------------------------------------------------------------------

def technical_contact_ids(site_id: int) -> set[int]:
    """Return the ids of the people who are a site technical contact of this site.

    A contact record names a person by its link to the account or, as the portals do, by the
    person's login email; either way only a verified account counts (an address nobody proved
    gives nobody rights). Every contact type that carries rights counts (today: the site
    technical contact).
    """
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
    return (actor_membership is not None and membership.role != PRIMARY
            and membership.person_id != actor_membership.person_id
            and membership.level(tool) <= actor_membership.level(tool))


def support_managers_of(site_id: int) -> list:
    """Return the people who manage a site's support levels, primary first."""
    tool = tool_by_key(SUPPORT)
    technical = technical_contact_ids(site_id)
    # Found by their own indexes and joined by id (the top level's holders from the privileges' (tool,
    # rank) index, migration 0017), not by testing every member of the site: 20 ms at 10,000 members.
    found = [sa.select(Membership.id).where(Membership.site_id == site_id, Membership.role == PRIMARY),
             sa.select(Privilege.membership_id).join(Membership, Membership.id == Privilege.membership_id)
             .where(Privilege.tool_id == tool.id, Privilege.rank >= tool.top_rank, Membership.site_id == site_id)]
    if technical:
        found.append(sa.select(Membership.id).where(Membership.site_id == site_id,
                                                    Membership.person_id.in_(technical)))
    members = db.session.scalars(sa.select(Membership).where(Membership.id.in_(sa.union(*found)))
                                 .options(sa.orm.selectinload(Membership.person))).all()
    return [m.person for m in sorted(members, key=lambda m: (m.role != PRIMARY, m.person.display_name.lower()))]


def check_support_change(actor_membership, tool, current: int, rank: int, name: str | None = None) -> None:
    """Refuse a change of a support level the actor may not make: only support managers change
    support levels, nobody grants above their own, and nobody changes a level above their own."""
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


def is_support_request(access_request) -> bool:
    """Tell whether a request asks for a higher support level (decided by the support managers)."""
    return access_request.kind == PRIVILEGE and access_request.tool is not None and access_request.tool.key == SUPPORT


def may_change_rights_types(actor, site) -> bool:
    """Tell whether the actor may give or take a contact type that carries rights on this site: only
    those who manage its support levels (the primary, a site technical contact, a support
    Administrator), since holding such a type makes its holder one of them."""
    return may_manage_support(membership_of(actor, site.id))
