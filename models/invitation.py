"""Invitations: a single-use link, valid 48 hours, through which an unknown email joins a site."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import db, utcnow
from .errors import RuleViolation
from .membership import (PRIMARY, ROLES, SECONDARY, Membership, Privilege, membership_of, primary_of,
                         require_secondary_seat)
from .tokens import hash_token, new_token

INVITATION_VALIDITY = timedelta(hours=48)

# What a link can find; the accept page explains each.
OPEN, EXPIRED, REVOKED, ACCEPTED = "open", "expired", "revoked", "accepted"
STATE_LABELS = {OPEN: _l("Invited"), EXPIRED: _l("Invitation expired"), REVOKED: _l("Revoked"),
                ACCEPTED: _l("Accepted")}


class Invitation(db.Model):
    __tablename__ = "invitation"
    __table_args__ = (sa.CheckConstraint("role IN ('primary', 'secondary', 'user')", name="role"),
                      sa.Index("ix_invitation_site_email", "site_id", "email"))

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.String(16))
    business_justification: Mapped[str] = mapped_column(sa.Text, default="")
    # Tool id → rank to grant on acceptance (ranks are checked again then).
    levels: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The reminder mail carries a second link (only hashes are kept, so the first cannot be repeated).
    reminder_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    site: Mapped["Site"] = relationship()  # noqa: F821
    invited_by: Mapped["Person | None"] = relationship(foreign_keys=[invited_by_id])  # noqa: F821

    def __repr__(self) -> str:
        return f"<Invitation {self.id} {self.email} site={self.site_id} {self.status()}>"

    def status(self, now: datetime | None = None) -> str:
        if self.accepted_at is not None:
            return ACCEPTED
        if self.revoked_at is not None:
            return REVOKED
        if (now or utcnow()) >= self.expires_at:
            return EXPIRED
        return OPEN


def invite(site, email: str, role: str, actor, justification: str = "", levels: dict | None = None,
           remote_addr: str | None = None) -> tuple[Invitation, str]:
    """Invite an email to a site with a role; any earlier open invitation of it stops working.

    Returns the invitation and its raw token (mailed; never stored).
    """
    from .audit import record
    from .outbox import queue_mail
    from .person import normalize_email

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
           after={"email": email, "role": role, "expires_at": invitation.expires_at.isoformat()},
           remote_addr=remote_addr)
    queue_mail(None, "invitation", to=email, token=raw, site=site, role=role,
               inviter=getattr(actor, "display_name", None), expires_at=invitation.expires_at)
    return invitation, raw


def find_invitation(raw: str) -> Invitation | None:
    """Return the invitation a link points to, in whatever state it is."""
    digest = hash_token(raw or "")
    return db.session.scalar(sa.select(Invitation).where(
        sa.or_(Invitation.token_hash == digest, Invitation.reminder_token_hash == digest)))


def accept_invitation(invitation: Invitation, person, remote_addr: str | None = None) -> Membership:
    """Make the invited person a member with the invited role and levels; the link is spent.

    The person's login email must be the invited one. Of two simultaneous accepts only one wins.
    """
    from .audit import record
    from .site import lock_site

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
    membership = Membership(site_id=site.id, person_id=person.id, role="user" if replaced else role,
                            business_justification=invitation.business_justification,
                            granted_by_id=invitation.invited_by_id)
    if role != PRIMARY:
        for tool_id, rank in levels.items():
            if rank:
                membership.privileges.append(Privilege(tool_id=tool_id, rank=rank))
    db.session.add(membership)
    from .membership import record_access
    record_access(person, "invitation.accepted", site, membership, before={"invitation": invitation.id},
                  remote_addr=remote_addr)
    if replaced is not None:
        from .outbox import queue_mail
        from .primary_transfer import hand_over

        old_person = replaced.person
        demoted_to = hand_over(site, replaced, membership, person, remote_addr)
        record(person, "primary.recovered", site=site, target=person, before={"primary": old_person.email},
               after={"primary": person.email, "old_primary_role": demoted_to,
                      "justification": invitation.business_justification}, remote_addr=remote_addr)
        for recipient in (person, old_person):
            queue_mail(recipient, "primary_transferred", site=site, new_primary=person, old_primary=old_person,
                       old_role=demoted_to)
    return membership


def _grant_of_inviter(invitation: Invitation) -> dict[int, int]:
    """Return the levels an invitation grants, checked against what its inviter may grant today.

    An invitation is a grant made in the inviter's name: if they were removed or demoted since, or
    their own levels were lowered, it is refused rather than handing on rights they no longer have.
    A primary contact's invitation comes from an operator, who must still be one. An invitation with
    no inviter was made on the command line by whoever runs the server, and is granted as made.
    """
    from .membership import SECONDARY, UPDATE, check_levels, holds
    from .tool import MANAGE_ACCESS, catalog

    inviter = invitation.invited_by
    levels = {int(k): int(v) for k, v in invitation.levels.items()}
    if inviter is None:
        # Still only what the catalog has today, and nothing a user may not hold.
        return {tool.id: levels[tool.id] for tool in catalog()
                if 0 < levels.get(tool.id, 0) <= tool.top_rank
                and (invitation.role == SECONDARY or not tool.secondary_only)}
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


def accept_invitation_as_invitee(invitation: Invitation, password: str, first_name: str, last_name: str,
                                 remote_addr: str | None = None) -> Membership:
    """Accept an invitation by its link without signing in: the link proves the mailbox, so the one who
    accepts gets the account of the invited email (created, or an unverified one taken over)."""
    from .person import claim_account

    if invitation.status() != OPEN:
        raise RuleViolation(_l("This invitation can no longer be used."))
    person = claim_account(invitation.email, password, first_name, last_name)
    return accept_invitation(invitation, person, remote_addr)


def _require_manage_update(site, actor):
    from .membership import _require_manage_update as require

    require(membership_of(actor, site.id))


def resend_invitation(site, actor, invitation: Invitation, remote_addr: str | None = None) -> Invitation:
    """Send a fresh link for an open or expired invitation; the old link stops working."""
    if invitation.site_id != site.id or invitation.status() in (ACCEPTED, REVOKED):
        raise RuleViolation(_l("This invitation can no longer be resent."))
    _require_manage_update(site, actor)
    if invitation.role == PRIMARY:
        raise RuleViolation(_l("Only an operator can invite a primary contact."))
    if invitation.role == SECONDARY:
        # An expired invitation kept no seat: a fresh link needs one (the open one it replaces frees its own).
        require_secondary_seat(site.id, replacing_email=invitation.email)
    from .membership import check_levels
    from .tool import catalog

    # Resending grants anew: the levels must be within the resender's own.
    levels = check_levels(membership_of(actor, site.id), invitation.role,
                          {int(k): int(v) for k, v in invitation.levels.items()}, catalog())
    fresh, _raw = invite(site, invitation.email, invitation.role, actor,
                         justification=invitation.business_justification,
                         levels={tool_id: rank for tool_id, rank in levels.items() if rank}, remote_addr=remote_addr)
    return fresh


def revoke_invitation(site, actor, invitation: Invitation, remote_addr: str | None = None) -> None:
    """Withdraw an invitation that was not accepted; its link stops working."""
    from .audit import record

    if invitation.site_id != site.id or invitation.status() in (ACCEPTED, REVOKED):
        raise RuleViolation(_l("This invitation can no longer be revoked."))
    _require_manage_update(site, actor)
    if invitation.role == PRIMARY:
        raise RuleViolation(_l("Only an operator can withdraw an invitation to become primary contact."))
    invitation.revoked_at = utcnow()
    record(actor, "invitation.revoked", site=site, target=("invitation", invitation.id, invitation.email),
           before={"status": "open"}, after={"status": "revoked"}, remote_addr=remote_addr)


REMINDER_BEFORE_EXPIRY = timedelta(hours=24)


def send_invitation_reminders(now: datetime | None = None) -> int:
    """Mail one reminder to each open invitation with less than 24 hours left; return how many.

    The reminder carries a second link (only hashes are stored, so the first one cannot be repeated);
    both work until the invitation is used, revoked or expires. Running it twice sends nothing new.
    """
    from .audit import record
    from .outbox import queue_mail

    now = now or utcnow()
    due = db.session.scalars(sa.select(Invitation).where(
        Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.reminded_at.is_(None),
        Invitation.expires_at > now, Invitation.expires_at <= now + REMINDER_BEFORE_EXPIRY)).all()
    for invitation in due:
        raw, digest = new_token()
        invitation.reminder_token_hash = digest
        invitation.reminded_at = now
        queue_mail(None, "invitation_reminder", to=invitation.email, token=raw, site=invitation.site,
                   expires_at=invitation.expires_at)
        record(None, "invitation.reminded", site=invitation.site_id,
               target=("invitation", invitation.id, invitation.email))
    return len(due)
