"""Support access (SPEC §7): the site's support levels, set by the primary, the site technical contacts
and support Administrators, and the requests for a higher support level they decide."""
from __future__ import annotations

from functools import partial

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import Membership, RuleViolation, db
from models import membership as members
from models.access_request import STATUS_LABELS
from models.policy import may_change_support
from models.support import may_manage_support, set_support_level, support_requests
from models.tool import SUPPORT, tool_by_key

from .access import looks_at_support, of_site, site_view
from .parsing import whole_number
from .rendering import render
from .pages import paged

bp = Blueprint("support", __name__, url_prefix="/sites/<int:site_id>")

PER_PAGE = 25


def _page_context(site, membership, errors=None):
    query = request.args.get("q", "").strip()[:100]
    page = paged(lambda number: members.list_members(site.id, query, page=number, per_page=PER_PAGE),
                 "support.index", per_page=PER_PAGE, site_id=site.id, q=query)
    tool = tool_by_key(SUPPORT)
    return dict(site=site, membership=membership, page=page, q=query, tool=tool, errors=errors or {},
                own_rank=membership.level(tool) if membership else -1,
                may_change=partial(may_change_support, membership, tool=tool),
                requests=support_requests(site.id, limit=50), request_status_labels=STATUS_LABELS)


@bp.get("/support")
@site_view(allow=looks_at_support)
def index(site, membership):
    return render("support/index.html", "support/_list.html", **_page_context(site, membership))


def _row_context(site, membership, row, **extra):
    tool = tool_by_key(SUPPORT)
    return dict(site=site, membership=membership, row=row, tool=tool, own_rank=membership.level(tool), errors={},
                may_change=partial(may_change_support, membership, tool=tool), **extra)


@bp.post("/support/<int:membership_id>")
@site_view(allow=may_manage_support)
def update(site, membership, membership_id):
    row = of_site(Membership, membership_id, site)
    raw = request.form.get("level", "")
    rank = whole_number(raw)
    try:
        if rank is None:
            raise RuleViolation(_("Choose a level."), "level")
        changed = set_support_level(site, current_user, row, rank)
    except RuleViolation as violation:
        db.session.rollback()
        errors = {membership_id: str(violation.message)}
        if request.htmx:
            context = _row_context(site, membership, of_site(Membership, membership_id, site), chosen=raw)
            return render("support/_row.html", "support/_row.html", status=422, **{**context, "errors": errors})
        return render("support/index.html", None, status=422, **_page_context(site, membership, errors=errors))
    db.session.commit()
    message = (_("%(name)s now holds %(level)s.", name=row.person.display_name,
                 level=tool_by_key(SUPPORT).level_name(rank)) if changed else _("Nothing changed."))
    if request.htmx:
        return render("support/_row.html", "support/_row.html", **_row_context(site, membership, row, saved=message))
    flash(message, "success")
    return redirect(url_for("support.index", site_id=site.id), 303)
