"""Access requests (SPEC §5): self-nomination, privilege requests, the Requests page and decisions."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from models import AccessRequest, RuleViolation, db
from models import access_request as requests
from models import membership as members
from models.membership import membership_of
from models.support import is_support_request, may_manage_support
from models.profile import chosen_levels
from models.tool import MANAGE_ACCESS, SUPPORT, catalog, profiles_of

from .access import of_site, require_level, site_view
from .forms import ApproveForm, PrivilegeRequestForm, RejectForm, SelfNominationForm
from .my_access import my_access_page
from .parsing import hand_set_tools, levels_from_form, profile_choice, whole_number
from .rendering import apply_rule_violation, render
from .pages import paged

bp = Blueprint("requests", __name__)


# --- the requester's side -----------------------------------------------------------------------

@bp.route("/request-access", methods=["GET", "POST"])
@login_required
def self_nominate():
    form = SelfNominationForm()
    if request.method == "GET":
        form.first_name.data = form.first_name.data or current_user.first_name
        form.last_name.data = form.last_name.data or current_user.last_name
    if form.validate_on_submit():
        details = {"first_name": form.first_name.data.strip(), "last_name": form.last_name.data.strip(),
                   "job_title": (form.job_title.data or "").strip(), "phone": (form.phone.data or "").strip(),
                   "email": current_user.email}
        try:
            access_request = requests.submit_self_nomination(current_user, form.site_number.data,
                                                             form.company_name.data, details,
                                                             form.business_justification.data)
        except RuleViolation as violation:
            db.session.commit()  # the counted attempt is all a refusal leaves, and it must stay counted
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            flash(_("Your request for site %(number)s is sent. Its approvers decide and we mail you the answer.",
                    number=access_request.site.site_number), "success")
            return redirect(url_for("requests.mine"), 303)
    return render("requests/self_nominate.html", status=422 if form.is_submitted() else 200, form=form)


@bp.get("/my-requests")
@login_required
def mine():
    return render("requests/mine.html", access_requests=requests.requests_of(current_user),
                  status_labels=requests.STATUS_LABELS, reasons=requests.REJECTION_LABELS)


@bp.post("/my-requests/<int:request_id>/withdraw")
@login_required
def withdraw(request_id):
    access_request = db.session.get(AccessRequest, request_id)
    if access_request is None or access_request.requester_id != current_user.id:
        abort(404)
    try:
        requests.withdraw_request(current_user, access_request)
    except RuleViolation as violation:
        db.session.rollback()
        flash(violation.message, "error")
    else:
        db.session.commit()
        flash(_("Your request is withdrawn."), "success")
    return redirect(url_for("requests.mine"), 303)


@bp.post("/sites/<int:site_id>/my-access/request")
@site_view(member_only=True)
def request_privilege(site, membership):
    form = PrivilegeRequestForm()
    tools = {str(tool.id): tool for tool in catalog()}
    if form.validate_on_submit():
        tool_id, _sep, rank = (form.wanted.data or "").partition(":")
        tool, rank = tools.get(tool_id), whole_number(rank)
        try:
            if tool is None or rank is None:
                raise RuleViolation(_("Choose a tool and a level."), "wanted")
            requests.submit_privilege_request(membership, tool, rank, form.business_justification.data)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            if tool.key == SUPPORT:
                flash(_("Your request for %(tool)s is sent to the site technical contacts, support Administrators "
                        "and the primary contact.", tool=tool.name), "success")
            else:
                flash(_("Your request for %(tool)s is sent to the approvers of this site.", tool=tool.name), "success")
            return redirect(url_for("my_access.show", site_id=site.id), 303)
    return my_access_page(site, membership, form, status=422)


# --- the approvers' side ------------------------------------------------------------------------

def _decided_by(site, membership, request_id):
    """Return the request, to one who decides it: the support managers for a support level (SPEC §7),
    those with Manage access = Update otherwise (403 for anyone else)."""
    access_request = of_site(AccessRequest, request_id, site)
    if is_support_request(access_request):
        if not may_manage_support(membership):
            abort(403)
    else:
        require_level(membership, MANAGE_ACCESS, members.UPDATE)
    return access_request


def _back_to_list(site, access_request):
    if is_support_request(access_request):
        return url_for("support.index", site_id=site.id)
    return url_for("requests.index", site_id=site.id)


@bp.get("/sites/<int:site_id>/requests")
@site_view(MANAGE_ACCESS, members.UPDATE)
def index(site, _membership):
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    page = paged(lambda number: requests.list_requests(site.id, status, kind, number), "requests.index",
                 site_id=site.id, status=status, kind=kind)
    return render("requests/index.html", "requests/_list.html", site=site, page=page, status_filter=status, kind=kind,
                  status_labels=requests.STATUS_LABELS, kind_labels=requests.KIND_LABELS,
                  reasons=requests.REJECTION_LABELS)


@bp.get("/sites/<int:site_id>/requests/badge")
@site_view(MANAGE_ACCESS, members.UPDATE)
def badge(site, _membership):
    """The count of pending requests in the navigation, refreshed by htmx."""
    return render("requests/_badge.html", "requests/_badge.html", site=site, pending=requests.pending_count(site.id))



def _review(site, membership, access_request, approve_form=None, reject_form=None, levels=None, errors=None,
            status=200):
    tools = catalog()
    profiles = profiles_of(site.id)
    approve_form = approve_form or ApproveForm(formdata=None)
    approve_form.profile_id.choices = [SelectChoice("", _("— none —"))] + \
        [SelectChoice(str(p.id), p.name) for p in profiles]
    if levels is None:
        levels = {}
        if access_request.kind == requests.PRIVILEGE:
            holder = membership_of(access_request.requester, site.id)
            levels = members.levels_of(holder, tools) if holder else {}
        elif profiles:
            # A profile pre-selected: the most modest one, the last in the site's order.
            approve_form.profile_id.data = approve_form.profile_id.data or str(profiles[-1].id)
            levels = members.profile_levels(profiles[-1], tools, approve_form.role.data or "user", membership)
    reject_form = reject_form or RejectForm(formdata=None)
    reject_form.reason.choices = [SelectChoice(key, str(label)) for key, label in requests.REJECTION_LABELS.items()]
    return render("requests/review.html", status=status, site=site, access_request=access_request, tools=tools,
                  profiles=profiles,
                  approve_form=approve_form, reject_form=reject_form, levels=levels, errors=errors or {},
                  role=approve_form.role.data or "user", fieldset_id="levels",
                  status_labels=requests.STATUS_LABELS, reasons=requests.REJECTION_LABELS,
                  already=None if access_request.status == requests.PENDING
                  else requests.already_decided(access_request),
                  back_url=_back_to_list(site, access_request),
                  own_rank=membership.level(access_request.tool) if membership and access_request.tool else None
                  )


@bp.get("/sites/<int:site_id>/requests/<int:request_id>")
@site_view()
def review(site, membership, request_id):
    access_request = _decided_by(site, membership, request_id)
    return _review(site, membership, access_request)


@bp.post("/sites/<int:site_id>/requests/<int:request_id>/approve")
@site_view()
def approve(site, membership, request_id):
    access_request = _decided_by(site, membership, request_id)
    form = ApproveForm()
    form.profile_id.choices = [SelectChoice("", "")] + [SelectChoice(str(p.id), p.name) for p in profiles_of(site.id)]
    tools = catalog()
    levels = {}
    try:
        if not form.validate_on_submit():
            raise RuleViolation(_("Check the form."))
        levels = chosen_levels(site, membership, form.role.data or "user", profile_choice(form.profile_id.data),
                               levels_from_form(request.form, tools), hand_set_tools(request.form))
        requests.approve_request(site, current_user, access_request, form.role.data or "user", levels,
                                 form.business_justification.data or "")
    except RuleViolation as violation:
        db.session.rollback()
        apply_rule_violation(form, violation)
        errors = {violation.field: violation.message} if violation.field and violation.field.startswith("tool_") else {}
        return _review(site, membership, of_site(AccessRequest, request_id, site), approve_form=form,
                       levels=levels or None,
                       errors=errors, status=409 if access_request.status != requests.PENDING else 422)
    db.session.commit()
    flash(_("Approved: %(name)s has what was asked for, and we mailed them.",
            name=access_request.requester.display_name), "success")
    return redirect(_back_to_list(site, access_request), 303)


@bp.post("/sites/<int:site_id>/requests/<int:request_id>/reject")
@site_view()
def reject(site, membership, request_id):
    access_request = _decided_by(site, membership, request_id)
    form = RejectForm()
    form.reason.choices = [SelectChoice(key, str(label)) for key, label in requests.REJECTION_LABELS.items()]
    try:
        if not form.validate_on_submit():
            raise RuleViolation(_("Choose a reason."), "reason")
        requests.reject_request(site, current_user, access_request, form.reason.data, form.text.data or "")
    except RuleViolation as violation:
        db.session.rollback()
        apply_rule_violation(form, violation)
        return _review(site, membership, of_site(AccessRequest, request_id, site), reject_form=form,
                       status=409 if access_request.status != requests.PENDING else 422)
    db.session.commit()
    flash(_("Rejected; we mailed %(name)s the reason.", name=access_request.requester.display_name), "success")
    return redirect(_back_to_list(site, access_request), 303)
