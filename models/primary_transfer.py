"""Two-party transfer of the primary role: an offer the nominee accepts within 48 hours (SPEC §2)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import db, utcnow


class PrimaryTransfer(db.Model):
    __tablename__ = "primary_transfer"
    __table_args__ = (
        # One open offer per site; accepting, cancelling or lapsing closes it.
        sa.Index("uq_primary_transfer_open", "site_id", unique=True,
                 sqlite_where=sa.text("accepted_at IS NULL AND cancelled_at IS NULL"),
                 postgresql_where=sa.text("accepted_at IS NULL AND cancelled_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    from_person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"))
    to_person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    site: Mapped["Site"] = relationship()  # noqa: F821
    to_person: Mapped["Person"] = relationship(foreign_keys=[to_person_id])  # noqa: F821
    from_person: Mapped["Person"] = relationship(foreign_keys=[from_person_id])  # noqa: F821

    def __repr__(self) -> str:
        return f"<PrimaryTransfer site={self.site_id} {self.from_person_id}->{self.to_person_id}>"


# --- the two-party transfer of SPEC §2 ----------------------------------------------------------

from datetime import timedelta  # noqa: E402

import sqlalchemy as sa_  # noqa: E402
from flask_babel import lazy_gettext as _l  # noqa: E402

TRANSFER_VALIDITY = timedelta(hours=48)


def open_transfer(site_id: int) -> PrimaryTransfer | None:
    """Return the site's offer that waits for an answer and has not lapsed."""
    return db.session.scalar(sa_.select(PrimaryTransfer).where(
        PrimaryTransfer.site_id == site_id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None), PrimaryTransfer.expires_at > utcnow()))


def offers_to(person) -> list[PrimaryTransfer]:
    """Return the open offers made to a person (shown on their start page)."""
    return list(db.session.scalars(sa_.select(PrimaryTransfer).where(
        PrimaryTransfer.to_person_id == person.id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None), PrimaryTransfer.expires_at > utcnow())))


def offer_transfer(site, actor, nominee_membership, remote_addr: str | None = None) -> PrimaryTransfer:
    """Nominate another member to become primary; they have 48 hours to accept. Nothing changes until then."""
    from .audit import record
    from .errors import RuleViolation
    from .membership import PRIMARY, membership_of
    from .outbox import queue_mail
    from .tokens import new_token

    mine = membership_of(actor, site.id)
    if mine is None or mine.role != PRIMARY:
        raise RuleViolation(_l("Only the primary contact can transfer the primary role."))
    if nominee_membership is None or nominee_membership.site_id != site.id or nominee_membership.role == PRIMARY:
        raise RuleViolation(_l("Choose another member of this site."), "nominee")
    # A lapsed offer still holds the one-open-offer index: close it first.
    db.session.execute(sa_.update(PrimaryTransfer).where(
        PrimaryTransfer.site_id == site.id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None), PrimaryTransfer.expires_at <= utcnow()).values(cancelled_at=utcnow()))
    if open_transfer(site.id) is not None:
        raise RuleViolation(_l("An offer is already waiting for an answer; cancel it first."), "nominee")
    raw, digest = new_token()
    now = utcnow()
    transfer = PrimaryTransfer(site_id=site.id, from_person_id=actor.id, to_person_id=nominee_membership.person_id,
                               token_hash=digest, created_at=now, expires_at=now + TRANSFER_VALIDITY)
    db.session.add(transfer)
    db.session.flush()
    nominee = nominee_membership.person
    record(actor, "primary.offered", site=site, target=nominee, after={"expires_at": transfer.expires_at.isoformat()},
           remote_addr=remote_addr)
    queue_mail(nominee, "primary_transfer_offer", site=site, token=raw, offered_by=actor,
               expires_at=transfer.expires_at)
    return transfer


def cancel_transfer(site, actor, remote_addr: str | None = None) -> None:
    """Withdraw the open offer of the primary role.

    Under the site's lock, as accept_transfer, and with a conditional UPDATE: an acceptance committed
    by another worker or server a moment earlier wins, and the offer is never both accepted and
    cancelled (on PostgreSQL nothing else serialises the two).
    """
    from .audit import record
    from .errors import RuleViolation
    from .site import lock_site

    lock_site(site.id)
    transfer = open_transfer(site.id)
    if transfer is None or transfer.from_person_id != actor.id:
        raise RuleViolation(_l("There is no offer of yours to cancel."))
    won = db.session.execute(sa_.update(PrimaryTransfer).where(
        PrimaryTransfer.id == transfer.id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None)).values(cancelled_at=utcnow())).rowcount
    if won != 1:
        raise RuleViolation(_l("There is no offer of yours to cancel."))
    record(actor, "primary.offer_cancelled", site=site, target=("person", transfer.to_person_id, ""),
           remote_addr=remote_addr)


def find_transfer(raw: str) -> PrimaryTransfer | None:
    """Return the offer a link points to, in whatever state it is."""
    from .tokens import hash_token

    return db.session.scalar(sa_.select(PrimaryTransfer).where(PrimaryTransfer.token_hash == hash_token(raw or "")))


def hand_over(site, old_membership, new_membership, actor=None, remote_addr: str | None = None) -> str:
    """Make new_membership the primary and old_membership a secondary (a user when four exist), in an
    order the one-primary index accepts at every statement; both changes are audited. Returns the
    old primary's new role."""
    from .membership import MAX_SECONDARIES, PRIMARY, SECONDARY, USER, _snapshot, record_access, secondary_seats_taken
    from .tool import catalog

    tools = catalog()
    before_old, before_new = _snapshot(old_membership, tools), _snapshot(new_membership, tools)

    # Pending secondary invitations keep their seats (membership.secondary_seats_taken).
    secondaries = sum(secondary_seats_taken(site.id)) - (1 if new_membership.role == SECONDARY else 0)
    demoted_to = SECONDARY if secondaries < MAX_SECONDARIES else USER
    old_membership.role = demoted_to
    db.session.flush()  # the old primary steps down before the new one steps up
    new_membership.role = PRIMARY
    new_membership.privileges.clear()
    db.session.flush()
    record_access(actor, "membership.changed", site, old_membership, before=before_old, remote_addr=remote_addr)
    record_access(actor, "membership.changed", site, new_membership, before=before_new, remote_addr=remote_addr)
    from .review import include_former_primary, settle_review

    include_former_primary(site, old_membership.person_id)
    settle_review(site, actor, remote_addr)
    return demoted_to


def accept_transfer(transfer: PrimaryTransfer, person, remote_addr: str | None = None):
    """Accept an offer: in one transaction the nominee becomes primary and the old primary a secondary
    contact (a user where four secondaries exist). Both are mailed."""
    from .audit import record
    from .errors import RuleViolation
    from .membership import PRIMARY, membership_of
    from .outbox import queue_mail
    from .site import Site, lock_site

    if transfer.to_person_id != person.id:
        raise RuleViolation(_l("This offer is for someone else."))
    if transfer.accepted_at or transfer.cancelled_at or transfer.expires_at <= utcnow():
        raise RuleViolation(_l("This offer was cancelled, has lapsed or was already accepted."))
    site = lock_site(transfer.site_id) or db.session.get(Site, transfer.site_id)
    won = db.session.execute(sa_.update(PrimaryTransfer).where(
        PrimaryTransfer.id == transfer.id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None)).values(accepted_at=utcnow())).rowcount
    if won != 1:
        raise RuleViolation(_l("This offer was cancelled, has lapsed or was already accepted."))
    new_membership = membership_of(person, site.id)
    old_person = transfer.from_person
    old_membership = membership_of(old_person, site.id)
    if new_membership is None or old_membership is None or old_membership.role != PRIMARY:
        raise RuleViolation(_l("The site changed since the offer was made; ask for a new one."))
    demoted_to = hand_over(site, old_membership, new_membership, person, remote_addr)
    record(person, "primary.transferred", site=site, target=person,
           before={"primary": old_person.email}, after={"primary": person.email, "old_primary_role": demoted_to},
           remote_addr=remote_addr)
    for recipient in (person, old_person):
        queue_mail(recipient, "primary_transferred", site=site, new_primary=person, old_primary=old_person,
                   old_role=demoted_to)
    return new_membership


def recover_site(site, operator, justification: str, membership=None, email: str | None = None,
                 remote_addr: str | None = None):
    """An operator names a site's new primary: an existing member at once, or an email that gets an
    invitation to become primary. Audited with the justification; old and new primary are mailed."""
    from .audit import record
    from .errors import RuleViolation
    from .invitation import invite
    from .membership import primary_of
    from .outbox import queue_mail
    from .site import lock_site

    if not getattr(operator, "is_operator", False):
        raise RuleViolation(_l("Only an operator can recover a site."))
    justification = (justification or "").strip()
    if not justification:
        raise RuleViolation(_l("Give the reason for this change."), "justification")
    lock_site(site.id)
    old = primary_of(site.id)
    old_person = old.person if old else None
    if membership is not None:
        if membership.site_id != site.id:
            raise RuleViolation(_l("Choose a member of this site."), "membership_id")
        if old is not None and old.id == membership.id:
            raise RuleViolation(_l("This member is already the primary contact."), "membership_id")
        if not membership.person.is_verified:
            raise RuleViolation(_l("This member has not confirmed their email address: name them by email, "
                                   "so that they get an invitation."), "membership_id")
        demoted_to = hand_over(site, old, membership, operator, remote_addr) if old is not None else None
        if old is None:
            from .membership import _snapshot, record_access
            from .tool import catalog

            before = _snapshot(membership, catalog())
            membership.role = "primary"
            membership.privileges.clear()
            record_access(operator, "membership.changed", site, membership, before=before, remote_addr=remote_addr)
        record(operator, "primary.recovered", site=site, target=membership.person,
               before={"primary": old_person.email if old_person else None},
               after={"primary": membership.person.email, "justification": justification,
                      "old_primary_role": demoted_to}, remote_addr=remote_addr)
        for recipient in filter(None, (membership.person, old_person)):
            queue_mail(recipient, "primary_transferred", site=site, new_primary=membership.person,
                       old_primary=old_person, old_role=demoted_to)
        return membership
    if not email:
        raise RuleViolation(_l("Choose a member or give an email address."), "email")
    from .membership import membership_of
    from .person import find_proven_person, normalize_email

    existing = find_proven_person(normalize_email(email))
    if existing is not None and membership_of(existing, site.id) is not None:
        # Already on the site: no invitation to accept, the role moves at once.
        return recover_site(site, operator, justification, membership=membership_of(existing, site.id),
                            remote_addr=remote_addr)
    invitation, _raw = invite(site, email, "primary", operator, justification=justification, remote_addr=remote_addr)
    record(operator, "primary.recovery_invited", site=site, target=("invitation", invitation.id, invitation.email),
           before={"primary": old_person.email if old_person else None},
           after={"invited": invitation.email, "justification": justification}, remote_addr=remote_addr)
    return invitation
