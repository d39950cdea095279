"""Invitations: a single-use link, valid 48 hours, through which an unknown email joins a site."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .audit import record
from .base import db, utcnow
from .errors import RuleViolation
from .grants import announce_primary_change, create_membership, hand_over, record_access
from .outbox import queue_mail
from .person import claim_account, normalize_email
from .policy import check_levels, holds, require_manage_update, require_secondary_seat
from .review import primary_stepped_down
from .tables import (ACCEPTED, OPEN, PRIMARY, REVOKED, ROLES, SECONDARY, UPDATE, USER, Invitation, Membership,
                     lock_site, membership_of, primary_of)
from .tokens import hash_token, new_token
from .tool import MANAGE_ACCESS, catalog

# The names of the table layer this module's callers (views, tests) have always found here.
from .tables import EXPIRED, STATE_LABELS  # noqa: F401,E402

INVITATION_VALIDITY = timedelta(hours=48)


def invite(site, email: str, role: str, actor, justification: str = "",
           levels: dict | None = None) -> tuple[Invitation, str]:
    """Invite an email to a site with a role; any earlier open invitation of it stops working.

    Returns the invitation and its raw token (mailed; never stored).
    """
    if role not in ROLES:
        raise RuleViolation(_l("Choose a role."), "role")
    email = normalize_email(email)
    now = utcnow()
    db.session.execute(
        sa.update(Invitation)
        .where(Invitation.site_id == site.id, sa.func.lower(Invitation.email) == email,
               Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    raw, digest = new_token()
    invitation = Invitation(site_id=site.id, email=email, role=role, business_justification=str(justification),
                            levels={str(k): v for k, v in (levels or {}).items()},
                            invited_by_id=getattr(actor, "id", None), token_hash=digest,
                            created_at=now, expires_at=now + INVITATION_VALIDITY)
    db.session.add(invitation)
    db.session.flush()
    record(actor, "invitation.sent", site=site, target=("invitation", invitation.id, email),
           after={"email": email, "role": role, "expires_at": invitation.expires_at.isoformat()})
    queue_mail(None, "invitation", to=email, on_behalf_of=actor, token=raw, site=site, role=role,
               inviter=getattr(actor, "display_name", None), expires_at=invitation.expires_at)
    return invitation, raw


def find_invitation(raw: str) -> Invitation | None:
    """Return the invitation a link points to, in whatever state it is."""
    digest = hash_token(raw or "")
    return db.session.scalar(sa.select(Invitation).where(
        sa.or_(Invitation.token_hash == digest, Invitation.reminder_token_hash == digest)))


def accept_invitation(invitation: Invitation, person) -> Membership:
    """Make the invited person a member with the invited role and levels; the link is spent.

    The person's login email must be the invited one. Of two simultaneous accepts only one wins.
    """
    if invitation.status() != OPEN:
        raise RuleViolation(_l("This invitation can no longer be used."))
    if person.email.lower() != invitation.email.lower():
        raise RuleViolation(_l("This invitation is for someone else."))
    site = lock_site(invitation.site_id)
    spent = db.session.execute(
        sa.update(Invitation).where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None),
                                    Invitation.revoked_at.is_(None))
        .values(accepted_at=utcnow(), accepted_by_id=person.id)
    ).rowcount
    if spent != 1:
        raise RuleViolation(_l("This invitation can no longer be used."))
    if not person.is_verified:
        # The link proves the mailbox only together with claim_account, which sets name and password anew.
        raise RuleViolation(_l("Confirm your email address first."))

    if membership_of(person, site.id) is not None:
        raise RuleViolation(_l("You are already a member of this site."))
    role = invitation.role
    levels = _grant_of_inviter(invitation)
    # An operator's recovery invitation replaces a primary who is still there (SPEC §2).
    replaced = primary_of(site.id) if role == PRIMARY else None
    if role == SECONDARY:
        # The invitation kept its seat; the re-check is the hard cap on members, under the site's lock.
        try:
            require_secondary_seat(site.id, invitations=False)
        except RuleViolation as full:
            raise RuleViolation(full.message) from None  # a refusal of the invitation, not of a form field
    membership = create_membership(site.id, person.id, USER if replaced else role, invitation.business_justification,
                                   invitation.invited_by_id, levels if role != PRIMARY else None)
    record_access(person, "invitation.accepted", site, membership, before={"invitation": invitation.id})
    if replaced is not None:
        old_person = replaced.person
        demoted_to = hand_over(site, replaced, membership, person)
        primary_stepped_down(site, old_person.id, person)
        record(person, "primary.recovered", site=site, target=person, before={"primary": old_person.email},
               after={"primary": person.email, "old_primary_role": demoted_to,
                      "justification": invitation.business_justification})
        announce_primary_change(site, person, old_person, demoted_to)
    return membership


def _grant_of_inviter(invitation: Invitation) -> dict[int, int]:
    """Return the levels an invitation grants, checked against what its inviter may grant today.

    An invitation is a grant made in the inviter's name: if they were removed or demoted since, or
    their own levels were lowered, it is refused rather than handing on rights they no longer have.
    A primary contact's invitation comes from an operator, who must still be one. An invitation with
    no inviter was made on the command line by whoever runs the server, and is granted as made.
    """
    inviter = invitation.invited_by
    levels = {int(k): int(v) for k, v in invitation.levels.items()}
    if inviter is None:
        # Still only what the catalog has today, and nothing a user may not hold.
        return {tool.id: levels[tool.id] for tool in catalog()
                if 0 < levels.get(tool.id, 0) <= tool.top_rank
                and tool.open_to(invitation.role)}
    refused = RuleViolation(_l("The person who invited you may no longer grant this access. Ask the site's "
                               "primary contact to invite you again."))
    if invitation.role == PRIMARY:
        if not (inviter.is_operator and inviter.active):
            raise refused
        return {}
    inviter_membership = membership_of(inviter, invitation.site_id)
    if not inviter.active or not holds(inviter_membership, MANAGE_ACCESS, UPDATE):
        raise refused
    try:
        return check_levels(inviter_membership, invitation.role, levels, catalog())
    except RuleViolation:
        raise refused from None


def accept_invitation_as_invitee(invitation: Invitation, password: str, first_name: str, last_name: str) -> Membership:
    """Accept an invitation by its link without signing in: the link proves the mailbox, so the one who
    accepts gets the account of the invited email (created, or an unverified one taken over)."""
    if invitation.status() != OPEN:
        raise RuleViolation(_l("This invitation can no longer be used."))
    person = claim_account(invitation.email, password, first_name, last_name)
    return accept_invitation(invitation, person)


def resend_invitation(site, actor, invitation: Invitation) -> Invitation:
    """Send a fresh link for an open or expired invitation; the old link stops working."""
    if invitation.site_id != site.id or invitation.status() in (ACCEPTED, REVOKED):
        raise RuleViolation(_l("This invitation can no longer be resent."))
    require_manage_update(membership_of(actor, site.id))
    if invitation.role == PRIMARY:
        raise RuleViolation(_l("Only an operator can invite a primary contact."))
    if invitation.role == SECONDARY:
        # An expired invitation kept no seat: a fresh link needs one (the open one it replaces frees its own).
        require_secondary_seat(site.id, replacing_email=invitation.email)
    # Resending grants anew: the levels must be within the resender's own.
    levels = check_levels(membership_of(actor, site.id), invitation.role,
                          {int(k): int(v) for k, v in invitation.levels.items()}, catalog())
    fresh, _raw = invite(site, invitation.email, invitation.role, actor,
                         justification=invitation.business_justification,
                         levels={tool_id: rank for tool_id, rank in levels.items() if rank})
    return fresh


def revoke_invitation(site, actor, invitation: Invitation) -> None:
    """Withdraw an invitation that was not accepted; its link stops working."""
    if invitation.site_id != site.id or invitation.status() in (ACCEPTED, REVOKED):
        raise RuleViolation(_l("This invitation can no longer be revoked."))
    require_manage_update(membership_of(actor, site.id))
    if invitation.role == PRIMARY:
        raise RuleViolation(_l("Only an operator can withdraw an invitation to become primary contact."))
    invitation.revoked_at = utcnow()
    record(actor, "invitation.revoked", site=site, target=("invitation", invitation.id, invitation.email),
           before={"status": "open"}, after={"status": "revoked"})


REMINDER_BEFORE_EXPIRY = timedelta(hours=24)


def send_invitation_reminders(now: datetime | None = None) -> int:
    """Mail one reminder to each open invitation with less than 24 hours left; return how many.

    The reminder carries a second link (only hashes are stored, so the first one cannot be repeated);
    both work until the invitation is used, revoked or expires. Running it twice sends nothing new.
    """
    now = now or utcnow()
    due = db.session.scalars(sa.select(Invitation).where(
        Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.reminded_at.is_(None),
        Invitation.expires_at > now, Invitation.expires_at <= now + REMINDER_BEFORE_EXPIRY)).all()
    for invitation in due:
        raw, digest = new_token()
        invitation.reminder_token_hash = digest
        invitation.reminded_at = now
        queue_mail(None, "invitation_reminder", to=invitation.email, on_behalf_of=invitation.invited_by,
                   token=raw, site=invitation.site,
                   expires_at=invitation.expires_at)
        record(None, "invitation.reminded", site=invitation.site_id,
               target=("invitation", invitation.id, invitation.email))
    return len(due)
