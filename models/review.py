"""Access review (SPEC §8): the primary starts a review of every membership of a site; the primary and
the secondaries with Manage access = Update confirm or revoke each one; the site keeps when each
membership was last confirmed."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .audit import record
from .base import db, utcnow
from .errors import Conflict, RuleViolation
from .grants import end_membership
from .policy import require_manage_update, require_primary
from .tables import PRIMARY, AccessReview, AccessReviewItem, Membership, like_pattern, lock_site, membership_of

CONFIRMED, REVOKED = "confirmed", "revoked"
DECISION_LABELS = {CONFIRMED: _l("Confirmed"), REVOKED: _l("Revoked")}
# The filters of the review list: still to decide, confirmed in this review, joined after it started.
TO_REVIEW, NOT_IN_REVIEW = "to_review", "not_in_review"
REVIEW_FILTERS = (TO_REVIEW, CONFIRMED, NOT_IN_REVIEW)


def open_review(site_id: int) -> AccessReview | None:
    """Return the site's review in progress, if any."""
    return db.session.scalar(sa.select(AccessReview).where(AccessReview.site_id == site_id,
                                                           AccessReview.completed_at.is_(None)))


def last_review(site_id: int) -> AccessReview | None:
    """Return the site's most recent review, in progress or finished."""
    return db.session.scalar(sa.select(AccessReview).where(AccessReview.site_id == site_id)
                             .order_by(AccessReview.started_at.desc(), AccessReview.id.desc()).limit(1))


def start_review(site, actor) -> AccessReview:
    """Start a review of every membership but the primary's (which changes only by transfer); only
    the primary starts one, and one at a time."""
    require_primary(site, actor, _l("Only the primary contact starts an access review."))
    lock_site(site.id)
    if open_review(site.id) is not None:
        raise RuleViolation(_l("An access review is already in progress."))
    review = AccessReview(site_id=site.id, started_by_id=actor.id, started_at=utcnow())
    db.session.add(review)
    db.session.flush()
    # One statement, so that a site of 100,000 members starts its review at once.
    db.session.execute(sa.insert(AccessReviewItem).from_select(
        ["review_id", "person_id"],
        sa.select(sa.literal(review.id), Membership.person_id).where(Membership.site_id == site.id,
                                                                     Membership.role != PRIMARY)))
    progress = review_progress(review)
    record(actor, "review.started", site=site, target=("access_review", review.id, ""),
           after={"members": progress["total"]})
    if progress["total"] == 0:
        _complete(site, review, actor)
    return review


def review_progress(review: AccessReview) -> dict:
    """How far a review has got: members to decide, confirmed, revoked, and their total.

    Members who left or were removed otherwise while the review ran drop out of it.
    """
    # The primary is never reviewed: a member who became primary while the review ran drops out.
    still_member = sa.exists().where(Membership.site_id == review.site_id,
                                     Membership.person_id == AccessReviewItem.person_id,
                                     Membership.granted_at <= review.started_at, Membership.role != PRIMARY)
    counts = db.session.execute(sa.select(
        sa.func.count().filter(sa.and_(AccessReviewItem.decision.is_(None), still_member)),
        sa.func.count().filter(AccessReviewItem.decision == CONFIRMED),
        sa.func.count().filter(AccessReviewItem.decision == REVOKED),
    ).where(AccessReviewItem.review_id == review.id)).one()
    to_review, confirmed, revoked = (int(n or 0) for n in counts)
    total = to_review + confirmed + revoked
    return {"to_review": to_review, "confirmed": confirmed, "revoked": revoked, "total": total,
            "decided": confirmed + revoked, "percent": round(100 * (confirmed + revoked) / total) if total else 100}


def decide_review_item(site, actor, line: AccessReviewItem, decision: str) -> AccessReviewItem:
    """Confirm a member's line (the membership records when) or revoke it (the member loses access at
    once), once.

    Reviewers are the primary and the secondaries with Manage access = Update; nobody decides their
    own line; of two reviewers deciding the same line at the same moment, one wins and the other is
    told who decided (also after a revocation took the membership away).
    """
    require_manage_update(membership_of(actor, site.id))
    if decision not in (CONFIRMED, REVOKED):
        raise RuleViolation(_l("Choose Confirm or Revoke."), "decision")
    review = db.session.get(AccessReview, line.review_id)
    if review is None or review.site_id != site.id:
        raise RuleViolation(_l("No such member on this site."))
    lock_site(site.id)
    db.session.refresh(review)
    db.session.refresh(line)
    if line.decision:
        raise Conflict(already_reviewed(line))
    if review.completed_at is not None:
        raise Conflict(_l("This access review is finished."))
    person = line.person
    if person.id == actor.id:
        raise RuleViolation(_l("You cannot review your own access."))
    membership = membership_of(person, site.id)
    if membership is None or membership.granted_at > review.started_at:
        # Gone since the review started (or gone and given access again: a new grant, not reviewed here).
        raise Conflict(_l("%(name)s is no longer a member of this site.", name=person.display_name)
                             if membership is None else
                             _l("%(name)s was given access after this review started.", name=person.display_name))
    if membership.role == PRIMARY:
        raise RuleViolation(_l("The primary contact's access is not reviewed; it changes only by transfer."))
    now = utcnow()
    won = db.session.execute(
        sa.update(AccessReviewItem).where(AccessReviewItem.id == line.id, AccessReviewItem.decision.is_(None))
        .values(decision=decision, decided_by_id=actor.id, decided_at=now)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(line)
    if won != 1:
        raise Conflict(already_reviewed(line))
    if decision == CONFIRMED:
        membership.last_confirmed_at = now
        record(actor, "review.confirmed", site=site, target=person, after={"review": review.id})
    else:
        record(actor, "review.revoked", site=site, target=person, after={"review": review.id})
        end_membership(site, actor, membership, "membership.removed")
    settle_review(site, actor)
    return line


def settle_review(site, actor=None) -> None:
    """Complete the site's review in progress once nobody is left to decide (after a decision, and
    after a member left or was removed while it ran)."""
    db.session.flush()
    review = open_review(site.id)
    if review is not None and review_progress(review)["to_review"] == 0:
        _complete(site, review, actor)


def include_former_primary(site, person_id: int) -> None:
    """Give the review in progress a line for a primary contact who just handed the role on: the
    review covers every membership but the primary's, and they are no longer primary."""
    review = open_review(site.id)
    if review is not None and review_line(review, person_id) is None:
        db.session.add(AccessReviewItem(review_id=review.id, person_id=person_id))
        db.session.flush()


def primary_stepped_down(site, person_id: int, actor=None) -> None:
    """Bring the review in progress up to date after the primary role moved on: the former primary
    gets a line, and a review with nobody left to decide completes."""
    include_former_primary(site, person_id)
    settle_review(site, actor)


def review_line(review: AccessReview | None, person_id: int) -> AccessReviewItem | None:
    """Return a person's line in a review, if they are part of it."""
    if review is None:
        return None
    return db.session.scalar(sa.select(AccessReviewItem).where(AccessReviewItem.review_id == review.id,
                                                              AccessReviewItem.person_id == person_id))


def already_reviewed(item: AccessReviewItem) -> str:
    """Say who already decided a review line."""
    who = item.decided_by.display_name if item.decided_by else str(_l("another reviewer"))
    return str(_l("%(who)s already decided this one (%(decision)s).", who=who,
                  decision=DECISION_LABELS[item.decision]))


def finish_review(site, actor) -> AccessReview:
    """End the review in progress before every line is decided; the undecided stay unconfirmed.
    Only the primary does this."""
    require_primary(site, actor, _l("Only the primary contact ends an access review."))
    lock_site(site.id)
    review = open_review(site.id)
    if review is None:
        raise RuleViolation(_l("No access review is in progress."))
    _complete(site, review, actor)
    return review


def _complete(site, review: AccessReview, actor) -> None:
    review.completed_at = utcnow()
    progress = review_progress(review)
    record(actor, "review.completed", site=site, target=("access_review", review.id, ""),
           after={key: progress[key] for key in ("total", "confirmed", "revoked", "to_review")})


def review_rows(site_id: int, review: AccessReview | None, query: str = "", show: str = "", page: int = 1,
                per_page: int = 25):
    """Return one page of (membership, review line or None) for every member but the primary, by name,
    and how many match; `show` narrows to those still to review, confirmed, or not in the review."""
    item = sa.orm.aliased(AccessReviewItem)
    statement = sa.select(Membership, item).where(Membership.site_id == site_id, Membership.role != PRIMARY)
    if review is not None:
        # A membership granted after the start is not part of the review, even if the same person's
        # earlier membership was (removed and given access again meanwhile).
        statement = statement.outerjoin(item, sa.and_(item.review_id == review.id,
                                                      item.person_id == Membership.person_id,
                                                      Membership.granted_at <= review.started_at))
        if show == TO_REVIEW:
            statement = statement.where(item.id.is_not(None), item.decision.is_(None))
        elif show == CONFIRMED:
            statement = statement.where(item.decision == CONFIRMED)
        elif show == NOT_IN_REVIEW:
            statement = statement.where(item.id.is_(None))
    else:
        statement = statement.outerjoin(item, sa.false())
    query = (query or "").strip()
    if query:
        statement = statement.where(Membership.search_text.like(like_pattern(query), escape="\\"))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery())) or 0
    rows = db.session.execute(statement.order_by(Membership.sort_name, Membership.id)
                              .limit(per_page).offset((page - 1) * per_page)
                              .options(sa.orm.joinedload(Membership.person))).all()
    return [(membership, line) for membership, line in rows], total


def revoked_in(review: AccessReview, limit: int = 100) -> list[AccessReviewItem]:
    """Return the lines of a review whose membership was revoked, newest first."""
    return list(db.session.scalars(
        sa.select(AccessReviewItem).where(AccessReviewItem.review_id == review.id,
                                          AccessReviewItem.decision == REVOKED)
        .order_by(AccessReviewItem.decided_at.desc()).limit(limit)
        .options(sa.orm.selectinload(AccessReviewItem.person), sa.orm.selectinload(AccessReviewItem.decided_by))))
