"""Reading the audit log (SPEC §8): the log itself, and who held which access now or at any past moment."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from .audit import AuditEvent
from .base import db
from .contact import contact_types
from .grants import ACCESS_ACTIONS, GRANT_ACTIONS
from .person import Person
from .tables import PRIMARY, ContactRecord, Membership


def list_events(site_id: int | None, actor: str = "", action: str = "", member: str = "",
                since: datetime | None = None, until: datetime | None = None):
    """Return the audit events matching the filters, newest first (a statement, to paginate or export)."""
    statement = sa.select(AuditEvent)
    if site_id is not None:
        statement = statement.where(AuditEvent.site_id == site_id)
    if actor:
        statement = statement.where(sa.func.lower(AuditEvent.actor_label).contains(actor.lower(), autoescape=True))
    if action:
        statement = statement.where(AuditEvent.action.startswith(action, autoescape=True))
    if member:
        statement = statement.where(sa.func.lower(AuditEvent.target_label).contains(member.lower(), autoescape=True))
    if since:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until:
        statement = statement.where(AuditEvent.occurred_at <= until)
    return statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def actions_in_log(site_id: int | None) -> list[str]:
    """Return the distinct actions recorded (for the filter)."""
    statement = sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    if site_id is not None:
        statement = statement.where(AuditEvent.site_id == site_id)
    return list(db.session.scalars(statement))


def current_access(site, tools) -> list[dict]:
    """Every member of the site now: role, each tool's level, contact types, support level."""
    members = db.session.scalars(sa.select(Membership).where(Membership.site_id == site.id)
                                 .order_by(Membership.sort_name, Membership.id)
                                 .options(sa.orm.selectinload(Membership.privileges),
                                          sa.orm.joinedload(Membership.person),
                                          sa.orm.joinedload(Membership.granted_by))).all()
    types_by_email: dict[str, set[str]] = {}
    for contact in db.session.scalars(sa.select(ContactRecord).where(ContactRecord.site_id == site.id)
                                      .options(sa.orm.selectinload(ContactRecord.types))):
        types_by_email.setdefault(contact.email.lower(), set()).update(t.name for t in contact.types)
    rows = []
    for membership in members:
        person = membership.person
        rows.append({"name": person.display_name, "email": person.email, "role": membership.role,
                     "levels": {tool.key: membership.level(tool) for tool in tools},
                     "contact_types": sorted(types_by_email.get(person.email.lower(), ())),
                     "granted_by": membership.granted_by.email if membership.granted_by else "",
                     "justification": membership.business_justification or ""})
    return rows


def access_at(site, moment: datetime, tools) -> list[dict]:
    """Who held which role and levels on the site at a past moment, and who granted it and why,
    rebuilt from the audit log (each access event carries the person's whole access)."""
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.site_id == site.id, AuditEvent.action.in_(ACCESS_ACTIONS), AuditEvent.target_type == "person",
        AuditEvent.occurred_at <= moment).order_by(AuditEvent.occurred_at, AuditEvent.id)).all()
    state: dict[int, dict] = {}
    for event in events:
        if event.after is None:
            state.pop(event.target_id, None)
            continue
        entry = state.get(event.target_id, {})
        if event.action in GRANT_ACTIONS or not entry:
            entry = {"granted_by": event.after.get("granted_by") or event.actor_label,
                     "justification": event.after.get("justification", "")}
        entry.update(email=event.target_label, role=event.after["role"], levels=event.after.get("levels", {}))
        state[event.target_id] = entry

    types_by_email = _contact_types_at(site, moment)
    # Names as they are now (the log keeps emails); someone since deleted is named by their email.
    names = {person.id: person.display_name for person in db.session.scalars(
        sa.select(Person).where(Person.id.in_(list(state))))} if state else {}
    rows = []
    for person_id, entry in state.items():
        levels = {tool.key: (tool.top_rank if entry["role"] == PRIMARY else int(entry["levels"].get(tool.key, 0)))
                  for tool in tools}
        rows.append({"name": names.get(person_id, entry["email"]), "email": entry["email"], "role": entry["role"],
                     "levels": levels, "contact_types": sorted(types_by_email.get(entry["email"].lower(), ())),
                     "granted_by": entry["granted_by"] or "", "justification": entry["justification"]})
    return sorted(rows, key=lambda row: (row["name"].lower(), row["email"]))


def _contact_types_at(site, moment: datetime) -> dict[str, set[str]]:
    """Email → the names of the contact types held at a past moment, replayed from the contact events
    (each carries the contact's whole record with its types)."""
    names = {contact_type.key: contact_type.name for contact_type in contact_types()}
    contacts: dict[int, dict] = {}
    for event in db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.site_id == site.id, AuditEvent.target_type == "contact",
            AuditEvent.action.in_(("contact.added", "contact.saved", "contact.deleted")),
            AuditEvent.occurred_at <= moment).order_by(AuditEvent.occurred_at, AuditEvent.id)):
        if event.after is None:
            contacts.pop(event.target_id, None)
        else:
            contacts[event.target_id] = event.after
    types_by_email: dict[str, set[str]] = {}
    for contact in contacts.values():
        types_by_email.setdefault((contact.get("email") or "").lower(), set()).update(
            names.get(key, key) for key in contact.get("types", []))
    return types_by_email
