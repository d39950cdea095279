"""The grants that change access: levels, a membership's creation and end, the primary's hand-over,
and the audit snapshot each of them leaves (the reports rebuild the past from these).

They check nothing: the commands above ask the policy first, then call these.
"""
from __future__ import annotations

from .audit import record
from .base import db
from .outbox import queue_mail
from .policy import secondary_seat_free
from .tables import PRIMARY, SECONDARY, USER, Membership, Privilege
from .tool import catalog

# The audit actions whose target is a person and whose `after` is that person's whole access on the
# site (None when it ended): together they tell who held what at any moment.
ACCESS_ACTIONS = ("membership.added", "membership.changed", "membership.removed", "membership.left",
                  "membership.primary_granted", "invitation.accepted")
GRANT_ACTIONS = ("membership.added", "membership.primary_granted", "invitation.accepted")


def set_levels(membership: Membership, levels: dict[int, int]) -> None:
    """Give a membership these ranks (tool id → rank; 0 takes the privilege away)."""
    by_tool = {privilege.tool_id: privilege for privilege in membership.privileges}
    for tool_id, rank in levels.items():
        privilege = by_tool.get(tool_id)
        if rank == 0:
            if privilege is not None:
                membership.privileges.remove(privilege)
        elif privilege is None:
            membership.privileges.append(Privilege(tool_id=tool_id, rank=rank))
        else:
            privilege.rank = rank


def snapshot(membership: Membership, tools, grant: bool = False) -> dict:
    """A membership's access as the audit log keeps it: role and levels, and for the event that grants
    it who granted it and why (the reports rebuild the past from these)."""
    taken = {"role": membership.role,
             "levels": {tool.key: membership.level(tool) for tool in tools if membership.role != PRIMARY}}
    if grant:
        taken["granted_by"] = membership.granted_by.email if membership.granted_by else None
        taken["justification"] = membership.business_justification or ""
    return taken


def record_access(actor, action: str, site, membership: Membership, before=None):
    """Audit a change of one person's access with its full snapshot."""
    db.session.flush()
    db.session.refresh(membership)
    return record(actor, action, site=site, target=membership.person, before=before,
                  after=snapshot(membership, catalog(), grant=action in GRANT_ACTIONS))


def record_change(site, actor, membership: Membership, before: dict, tools, notify: bool) -> bool:
    """Audit a changed membership against its snapshot from before, and mail the member when their
    preferences ask for it; return False (nothing recorded) when nothing changed. The change, its audit
    event and its mail are written together by the next flush (the commit's, or a query's)."""
    # set_levels changes the privileges through the collection: it holds what will be written.
    after = snapshot(membership, tools)
    if before == after:
        return False
    record(actor, "membership.changed", site=site, target=membership.person, before=before, after=after)
    person = membership.person
    if notify and person.notification_preferences.get("privilege_changes", True):
        queue_mail(person, "privilege_changed", site=site, membership=membership, tools=tools,
                   changed_by=actor.display_name)
    return True


def create_membership(site_id: int, person_id: int, role: str, justification, granted_by_id: int | None,
                      levels: dict[int, int] | None = None) -> Membership:
    """Add the one membership row of a person in a site, with its levels (the caller audits it)."""
    membership = Membership(site_id=site_id, person_id=person_id, role=role,
                            business_justification=str(justification or ""), granted_by_id=granted_by_id)
    db.session.add(membership)
    set_levels(membership, levels or {})
    return membership


def end_membership(site, actor, membership: Membership, action: str) -> None:
    """Delete a membership and audit its end (`membership.removed` or `membership.left`) with what it held."""
    before = snapshot(membership, catalog())
    person = membership.person
    db.session.delete(membership)
    db.session.flush()
    record(actor, action, site=site, target=person, before=before)


def hand_over(site, old_membership, new_membership, actor=None) -> str:
    """Make new_membership the primary and old_membership a secondary (a user when four exist), in an
    order the one-primary index accepts at every statement; both changes are audited. Returns the
    old primary's new role. (The caller then gives the review in progress a line for the old primary.)"""
    tools = catalog()
    before_old, before_new = snapshot(old_membership, tools), snapshot(new_membership, tools)
    # Pending secondary invitations keep their seats; a secondary who becomes primary frees theirs.
    free = secondary_seat_free(site.id, vacating=1 if new_membership.role == SECONDARY else 0)
    demoted_to = SECONDARY if free else USER
    old_membership.role = demoted_to
    db.session.flush()  # the old primary steps down before the new one steps up
    new_membership.role = PRIMARY
    new_membership.privileges.clear()
    db.session.flush()
    record_access(actor, "membership.changed", site, old_membership, before=before_old)
    record_access(actor, "membership.changed", site, new_membership, before=before_new)
    return demoted_to


def announce_primary_change(site, new_primary, old_primary, old_role: str | None) -> None:
    """Mail the new primary contact and the old one (when there was one) that the role moved."""
    for recipient in filter(None, (new_primary, old_primary)):
        queue_mail(recipient, "primary_transferred", site=site, new_primary=new_primary, old_primary=old_primary,
                   old_role=old_role)
