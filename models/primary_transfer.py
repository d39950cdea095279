"""Two-party transfer of the primary role: an offer the nominee accepts within 48 hours (SPEC §2), and
the operator's recovery of a site whose primary is gone."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .audit import record
from .base import db, utcnow
from .errors import RuleViolation
from .grants import announce_primary_change, hand_over, record_access, snapshot
from .invitation import invite
from .outbox import queue_mail
from .person import find_proven_person, normalize_email
from .policy import require_primary
from .review import primary_stepped_down
from .tables import PRIMARY, PrimaryTransfer, Site, lock_site, membership_of, primary_of
from .tokens import hash_token, new_token
from .tool import catalog

TRANSFER_VALIDITY = timedelta(hours=48)


def open_transfer(site_id: int) -> PrimaryTransfer | None:
    """Return the site's offer that waits for an answer and has not lapsed."""
    return db.session.scalar(sa.select(PrimaryTransfer).where(
        PrimaryTransfer.site_id == site_id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None), PrimaryTransfer.expires_at > utcnow()))


def offers_to(person) -> list[PrimaryTransfer]:
    """Return the open offers made to a person (shown on their start page)."""
    return list(db.session.scalars(sa.select(PrimaryTransfer).where(
        PrimaryTransfer.to_person_id == person.id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None), PrimaryTransfer.expires_at > utcnow())))


def offer_transfer(site, actor, nominee_membership) -> PrimaryTransfer:
    """Nominate another member to become primary; they have 48 hours to accept. Nothing changes until then."""
    require_primary(site, actor, _l("Only the primary contact can transfer the primary role."))
    if nominee_membership is None or nominee_membership.site_id != site.id or nominee_membership.role == PRIMARY:
        raise RuleViolation(_l("Choose another member of this site."), "nominee")
    # A lapsed offer still holds the one-open-offer index: close it first.
    db.session.execute(sa.update(PrimaryTransfer).where(
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
    record(actor, "primary.offered", site=site, target=nominee, after={"expires_at": transfer.expires_at.isoformat()})
    queue_mail(nominee, "primary_transfer_offer", site=site, token=raw, offered_by=actor,
               expires_at=transfer.expires_at)
    return transfer


def cancel_transfer(site, actor) -> None:
    """Withdraw the open offer of the primary role.

    Under the site's lock, as accept_transfer, and with a conditional UPDATE: an acceptance committed
    by another worker or server a moment earlier wins, and the offer is never both accepted and
    cancelled (on PostgreSQL nothing else serialises the two).
    """
    lock_site(site.id)
    transfer = open_transfer(site.id)
    if transfer is None or transfer.from_person_id != actor.id:
        raise RuleViolation(_l("There is no offer of yours to cancel."))
    won = db.session.execute(sa.update(PrimaryTransfer).where(
        PrimaryTransfer.id == transfer.id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None)).values(cancelled_at=utcnow())).rowcount
    if won != 1:
        raise RuleViolation(_l("There is no offer of yours to cancel."))
    record(actor, "primary.offer_cancelled", site=site, target=("person", transfer.to_person_id, ""))


def find_transfer(raw: str) -> PrimaryTransfer | None:
    """Return the offer a link points to, in whatever state it is."""
    return db.session.scalar(sa.select(PrimaryTransfer).where(PrimaryTransfer.token_hash == hash_token(raw or "")))


def accept_transfer(transfer: PrimaryTransfer, person):
    """Accept an offer: in one transaction the nominee becomes primary and the old primary a secondary
    contact (a user where four secondaries exist). Both are mailed."""
    if transfer.to_person_id != person.id:
        raise RuleViolation(_l("This offer is for someone else."))
    if transfer.accepted_at or transfer.cancelled_at or transfer.expires_at <= utcnow():
        raise RuleViolation(_l("This offer was cancelled, has lapsed or was already accepted."))
    site = lock_site(transfer.site_id) or db.session.get(Site, transfer.site_id)
    won = db.session.execute(sa.update(PrimaryTransfer).where(
        PrimaryTransfer.id == transfer.id, PrimaryTransfer.accepted_at.is_(None),
        PrimaryTransfer.cancelled_at.is_(None)).values(accepted_at=utcnow())).rowcount
    if won != 1:
        raise RuleViolation(_l("This offer was cancelled, has lapsed or was already accepted."))
    new_membership = membership_of(person, site.id)
    old_person = transfer.from_person
    old_membership = membership_of(old_person, site.id)
    if new_membership is None or old_membership is None or old_membership.role != PRIMARY:
        raise RuleViolation(_l("The site changed since the offer was made; ask for a new one."))
    demoted_to = hand_over(site, old_membership, new_membership, person)
    primary_stepped_down(site, old_person.id, person)
    record(person, "primary.transferred", site=site, target=person,
           before={"primary": old_person.email}, after={"primary": person.email, "old_primary_role": demoted_to})
    announce_primary_change(site, person, old_person, demoted_to)
    return new_membership


def recover_site(site, operator, justification: str, membership=None, email: str | None = None):
    """An operator names a site's new primary: an existing member at once, or an email that gets an
    invitation to become primary. Audited with the justification; old and new primary are mailed."""
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
        demoted_to = None
        if old is not None:
            demoted_to = hand_over(site, old, membership, operator)
            primary_stepped_down(site, old.person_id, operator)
        else:
            before = snapshot(membership, catalog())
            membership.role = PRIMARY
            membership.privileges.clear()
            record_access(operator, "membership.changed", site, membership, before=before)
        record(operator, "primary.recovered", site=site, target=membership.person,
               before={"primary": old_person.email if old_person else None},
               after={"primary": membership.person.email, "justification": justification,
                      "old_primary_role": demoted_to})
        announce_primary_change(site, membership.person, old_person, demoted_to)
        return membership
    if not email:
        raise RuleViolation(_l("Choose a member or give an email address."), "email")
    existing = find_proven_person(normalize_email(email))
    if existing is not None and membership_of(existing, site.id) is not None:
        # Already on the site: no invitation to accept, the role moves at once.
        return recover_site(site, operator, justification, membership=membership_of(existing, site.id))
    invitation, _raw = invite(site, email, PRIMARY, operator, justification=justification)
    record(operator, "primary.recovery_invited", site=site, target=("invitation", invitation.id, invitation.email),
           before={"primary": old_person.email if old_person else None},
           after={"invited": invitation.email, "justification": justification})
    return invitation
