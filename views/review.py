"""Access review (SPEC §8): start, confirm or revoke each membership, see how far it has got."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import AccessReviewItem, RuleViolation, db
from models import membership as members
from models import review as reviews
from models.errors import Conflict
from models.tool import MANAGE_ACCESS

from .access import is_primary, of_site, site_view
from .rendering import render
from .pages import paged

bp = Blueprint("review", __name__, url_prefix="/sites/<int:site_id>/review")

PER_PAGE = 25


def _state():
    show = request.args.get("show", "")
    return {"q": request.args.get("q", "").strip()[:100], "show": show if show in reviews.REVIEW_FILTERS else ""}


def _review_context(site, membership) -> dict:
    """What the progress section needs: the review running (or the last one) and how far it got."""
    review = reviews.open_review(site.id)
    last = review or reviews.last_review(site.id)
    return dict(site=site, membership=membership, review=review, last=last,
                progress=reviews.review_progress(last) if last else None,
                can_decide=review is not None and members.holds(membership, MANAGE_ACCESS, members.UPDATE),
                is_primary=membership is not None and membership.role == members.PRIMARY,
                decision_labels=reviews.DECISION_LABELS)


def _context(site, membership, errors=None, **extra):
    state = _state()
    context = _review_context(site, membership)
    page = paged(lambda number: reviews.review_rows(site.id, context["review"], state["q"], state["show"], number,
                                                    PER_PAGE),
                 "review.index", per_page=PER_PAGE, site_id=site.id, q=state["q"], show=state["show"])
    return dict(context, page=page, state=state,
                errors=errors or {}, revoked=reviews.revoked_in(context["last"]) if context["last"] else [], **extra)


@bp.get("")
@site_view(MANAGE_ACCESS, members.VIEW)
def index(site, membership):
    return render("review/index.html", "review/_list.html", **_context(site, membership))


@bp.post("")
@site_view(MANAGE_ACCESS, members.UPDATE, allow=is_primary)
def start(site, membership):
    return _primary_step(site, membership, reviews.start_review,
                         _("The access review has started: confirm or revoke each member below."))


@bp.post("/finish")
@site_view(MANAGE_ACCESS, members.UPDATE, allow=is_primary)
def finish(site, membership):
    return _primary_step(site, membership, reviews.finish_review, _("The access review is finished."))


def _primary_step(site, membership, step, done_message):
    """Start or finish the review (the primary's steps); a conflict shows the page with why."""
    try:
        step(site, current_user)
    except RuleViolation as violation:
        db.session.rollback()
        return render("review/index.html", None, status=409,
                      **_context(site, membership, page_error=str(violation.message)))
    db.session.commit()
    flash(done_message, "success")
    return redirect(url_for("review.index", site_id=site.id), 303)


@bp.post("/lines/<int:line_id>")
@site_view(MANAGE_ACCESS, members.UPDATE)
def decide(site, membership, line_id):
    line = of_site(AccessReviewItem, line_id, site)
    name = line.person.display_name
    decision = request.form.get("decision", "")
    try:
        reviews.decide_review_item(site, current_user, line, decision)
    except RuleViolation as violation:
        db.session.rollback()
        status = 409 if isinstance(violation, Conflict) else 422
        if request.htmx:
            return _line_response(site, membership, line_id, status, error=str(violation.message))
        return render("review/index.html", None, status=status,
                      **_context(site, membership, errors={line_id: str(violation.message)},
                                 page_error=str(violation.message)))
    db.session.commit()
    message = (_("%(name)s is confirmed.", name=name) if decision == reviews.CONFIRMED
               else _("%(name)s no longer has access to this site.", name=name))
    if request.htmx:
        return _line_response(site, membership, line_id, 200, message=message)
    flash(message, "success")
    return redirect(url_for("review.index", site_id=site.id, **{k: v for k, v in _state().items() if v}),
                    303)


def _line_response(site, membership, line_id, status, error=None, message=None):
    """The decided line's row (what is left of it, when revoked), with the progress (and the buttons to
    start or finish a review) and the status updated out of band."""
    line = db.session.get(AccessReviewItem, line_id)
    row = members.membership_of(line.person, site.id)
    if row is not None and row.granted_at > line.review.started_at:
        row = None
    return render("review/_decided.html", "review/_decided.html", status=status, row=row, line=line,
                  errors={line_id: error} if error else {}, message=message or error, line_response=True,
                  **_review_context(site, membership))
