"""A site's start page: what needs the person who opens it, at a glance (issue 13).

Each part is shown only to those who may act on it, decided by the same permission functions as the
pages it links to, so the overview never points somebody at a page that refuses them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from .access_request import pending_count
from .base import db, utcnow
from .contact import contact_warnings
from .policy import holds, may_manage_support, secondary_seats_taken
from .review import last_review, open_review, review_progress
from .support import pending_support_count
from .tables import MAX_SECONDARIES, ROLES, UPDATE, VIEW, Invitation, Membership
from .tool import CONTACT_UPDATES, MANAGE_ACCESS

EXPIRING_WITHIN = timedelta(hours=24)


@dataclass
class SiteOverview:
    """What the start page shows; a part left at None is not for this person."""
    members_by_role: dict[str, int] | None = None
    secondary_seats_left: int | None = None
    pending_invitations: int | None = None
    expiring_invitations: list[Invitation] = field(default_factory=list)
    pending_requests: int | None = None
    pending_support_requests: int | None = None
    contact_warnings: list[str] | None = None
    contacts_reviewed_at: datetime | None = None
    review: dict | None = None
    review_started_at: datetime | None = None
    last_review_completed_at: datetime | None = None
    coverage_ends_on: date | None = None
    coverage_days_left: int | None = None

    @property
    def needs_attention(self) -> bool:
        """Tell whether anything waits for the person: requests, invitations about to expire, warnings."""
        return bool(self.pending_requests or self.pending_support_requests or self.expiring_invitations
                    or self.contact_warnings or (self.review and self.review["to_review"]))


def _members_by_role(site_id: int) -> dict[str, int]:
    counts = dict(db.session.execute(sa.select(Membership.role, sa.func.count()).where(Membership.site_id == site_id)
                                     .group_by(Membership.role)).all())
    return {role: int(counts.get(role, 0)) for role in ROLES}


def _waiting_invitations(site_id: int, now: datetime) -> tuple[int, list[Invitation]]:
    """How many invitations wait for their invitee, and those of them that expire within a day."""
    waiting = sa.select(Invitation).where(Invitation.site_id == site_id, Invitation.accepted_at.is_(None),
                                          Invitation.revoked_at.is_(None), Invitation.expires_at > now)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(waiting.subquery())) or 0
    expiring = db.session.scalars(waiting.where(Invitation.expires_at <= now + EXPIRING_WITHIN)
                                  .order_by(Invitation.expires_at).limit(10)).all()
    return count, list(expiring)


def site_overview(site, membership: Membership | None, operator: bool, today: date | None = None) -> SiteOverview:
    """Gather what the start page of `site` shows to a member (or an operator, who sees every part
    operators may open): members by role and secondary seats left, waiting invitations and those
    expiring within 24 hours, pending access and support requests, contact warnings (SPEC §6) and
    when contacts were last reviewed, the access review in progress or the last one, and coverage."""
    now = utcnow()
    today = today or now.date()
    overview = SiteOverview(coverage_ends_on=site.coverage_ends_on)
    if site.coverage_ends_on:
        overview.coverage_days_left = (site.coverage_ends_on - today).days
    if operator or holds(membership, MANAGE_ACCESS, VIEW):
        overview.members_by_role = _members_by_role(site.id)
        members, invited = secondary_seats_taken(site.id)
        overview.secondary_seats_left = max(MAX_SECONDARIES - members - invited, 0)
        overview.pending_invitations, overview.expiring_invitations = _waiting_invitations(site.id, now)
        running = open_review(site.id)
        if running is not None:
            overview.review, overview.review_started_at = review_progress(running), running.started_at
        else:
            finished = last_review(site.id)
            overview.last_review_completed_at = finished.completed_at if finished else None
    if holds(membership, MANAGE_ACCESS, UPDATE):
        overview.pending_requests = pending_count(site.id)
    if operator or may_manage_support(membership):
        overview.pending_support_requests = pending_support_count(site.id)
    if operator or holds(membership, CONTACT_UPDATES, VIEW):
        overview.contact_warnings = contact_warnings(site)
        overview.contacts_reviewed_at = site.contacts_reviewed_at
    return overview
