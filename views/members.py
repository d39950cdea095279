"""Manage access (SPEC §4): the user list, Add new user, inline edits, removal, bulk changes and
invitations. Access profiles are in views/profiles.py, My access in views/my_access.py."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from models import AccessProfile, Invitation, Membership, RuleViolation, db
from models.base import commit_keeping_loaded
from models import invitation as invitations
from models import membership as members
from models.membership import ROLE_LABELS, SECONDARY, USER
from models.person import find_proven_person, normalize_email
from models.policy import may_edit_rows
from models.profile import chosen_levels
from models.tool import MANAGE_ACCESS, catalog, profiles_of

from .access import of_site, site_view
from .parsing import hand_set_tools, id_from, ids_from, levels_from_form, profile_choice, submitted_levels
from .rendering import apply_rule_violation, render, url_pattern
from .forms import AddMemberForm
from .pages import paged

bp = Blueprint("members", __name__, url_prefix="/sites/<int:site_id>")

VIEW, UPDATE = members.VIEW, members.UPDATE


def _list_state():
    return {
        "q": request.args.get("q", "").strip()[:100],
        "role": request.args.get("role", "") if request.args.get("role") in members.ROLES else "",
        "status": request.args.get("status", "") if request.args.get("status") in members.MEMBER_STATUSES else "",
        "sort": request.args.get("sort", "name") if request.args.get("sort") in members.MEMBER_SORTS else "name",
    }


def _list_context(site, membership, message=None, errors=None, status_code=200):
    state = _list_state()
    page = paged(lambda number: members.list_members(site.id, state["q"], state["role"], state["status"],
                                                     state["sort"], number),
                 "members.index", per_page=25, site_id=site.id, q=state["q"], role=state["role"],
                 status=state["status"], sort=state["sort"] if state["sort"] != "name" else None)
    rows, total = page.items, page.total
    pending = members.list_invitations(site.id, state["q"], state["role"], state["status"]) if page.page == 1 else []
    tools = catalog()
    profiles = profiles_of(site.id)
    return dict(site=site, membership=membership, page=page, rows=rows, total=total, pending=pending, state=state,
                tools=tools, profiles=profiles, message=message, errors=errors or {}, **_row_pieces(site),
                can_update=members.holds(membership, MANAGE_ACCESS, UPDATE),
                may_edit=may_edit_rows(membership), capped=total > members.COUNT_CAP,
                summary=_summaries(rows, profiles, tools))


def _status_context(site, message):
    state = _list_state()
    _rows, total = members.list_members(site.id, state["q"], state["role"], state["status"], page=1, per_page=1)
    pending = members.list_invitations(site.id, state["q"], state["role"], state["status"])
    return {"message": message, "total": total, "pending": pending, "capped": total > members.COUNT_CAP}


def _after_list_action(site, membership, message):
    """Answer a list action: the list fragment with its status for htmx, a redirect with a flash otherwise."""
    if request.htmx:
        return render("members/index.html", "members/_list.html", **_list_context(site, membership, message=message))
    flash(message, "success")
    return redirect(url_for("members.index", site_id=site.id), 303)


def _list_refusal(site, membership, message):
    """Answer a refused list action with 422 and the reason in the list's status line: the list
    fragment for htmx, the whole User list otherwise (a redirect would read as success)."""
    return render("members/index.html", "members/_list.html", status=422,
                  **_list_context(site, membership, message=message))


def _listed(site, membership_id):
    """The member of the site in the URL with what its row shows, in one statement (404 when none)."""
    row = members.listed_member(site.id, membership_id)
    if row is None:
        abort(404)
    return row


def _row_pieces(site):
    """What every row of the User list shows alike, made once per page (templates/members/_row.html):
    its Edit link by member id, and its fixed words in the reader's language."""
    return {"edit_url": url_pattern("members.edit", "membership_id", site_id=site.id),
            "row_words": {"active": _("Active"), "edit": _("Edit"),
                          "roles": {role: str(label) for role, label in ROLE_LABELS.items()}}}


def _summaries(rows, profiles, tools):
    summary = {}
    everything, custom = _("Everything (primary contact)"), _("Custom")
    known = {}
    for row in rows:
        if row.role == members.PRIMARY:
            summary[row.id] = everything
            continue
        profile = members.matching_profile(members.levels_of(row, tools), profiles, tools, row.role, known)
        summary[row.id] = profile.name if profile else custom
    return summary


@bp.get("/members")
@site_view(MANAGE_ACCESS, VIEW)
def index(site, membership):
    return render("members/index.html", "members/_list.html", **_list_context(site, membership))




# --- one row: display, click to edit, save, remove ----------------------------------------------

def _edit_context(site, row, role, levels, profile_id, errors=None):
    """What a member's edit form shows (templates/members/_edit.html): not the row's words nor its summary."""
    tools = catalog()
    return dict(site=site, row=row, tools=tools, profiles=profiles_of(site.id), current=members.levels_of(row, tools),
                role=role, levels=levels, profile_id=profile_id, errors=errors or {})


def _row_context(site, actor_membership, row, **extra):
    """What a member's row shows (templates/members/_row.html): its words, its summary, whether it may be edited."""
    tools = catalog()
    profiles = profiles_of(site.id)
    return dict(site=site, row=row, tools=tools, profiles=profiles, **_row_pieces(site),
                can_update=members.holds(actor_membership, MANAGE_ACCESS, UPDATE),
                may_edit=may_edit_rows(actor_membership),
                summary=_summaries([row], profiles, tools), errors={}, **extra)


@bp.get("/members/<int:membership_id>")
@site_view(MANAGE_ACCESS, VIEW)
def row(site, membership, membership_id):
    row = _listed(site, membership_id)
    return render("members/member_page.html", "members/_row.html", **_row_context(site, membership, row))


@bp.get("/members/<int:membership_id>/edit")
@site_view(MANAGE_ACCESS, UPDATE)
def edit(site, membership, membership_id):
    row = _listed(site, membership_id)
    tools = catalog()
    role = request.args.get("role") if request.args.get("role") in (SECONDARY, USER) else row.role
    levels = members.levels_of(row, tools)
    profile_id = id_from(request.args.get("profile_id"))
    if profile_id:
        profile = db.session.get(AccessProfile, profile_id)
        if profile is None or profile.site_id != site.id:
            abort(404)
        levels = {**levels, **members.profile_levels(profile, tools, role, membership)}
    return render("members/member_page.html", "members/_edit.html",
                  **_edit_context(site, row, role, levels, profile_id))


@bp.post("/members/<int:membership_id>")
@site_view(MANAGE_ACCESS, UPDATE)
def update(site, membership, membership_id):
    row = members.member_to_change(site.id, membership_id)
    if row is None:
        abort(404)
    tools = catalog()
    role = request.form.get("role", "")
    try:
        levels = chosen_levels(site, membership, role, profile_choice(request.form.get("profile_id")),
                               levels_from_form(request.form, tools), hand_set_tools(request.form))
        changed = members.update_member(site, current_user, row, role, levels, actor_membership=membership)
    except RuleViolation as violation:
        db.session.rollback()
        row = of_site(Membership, membership_id, site)
        submitted = submitted_levels(request.form, tools)
        return render("members/member_page.html", "members/_edit.html", status=422,
                      **_edit_context(site, row, role if role in (SECONDARY, USER) else row.role, submitted, None,
                                      {violation.field or "form": violation.message}))
    if not request.htmx:
        db.session.commit()
        flash(_("Changes saved for %(name)s.", name=row.person.display_name) if changed else _("Nothing changed."),
              "success")
        return redirect(url_for("members.index", site_id=site.id), 303)
    # The row answers with the member as this transaction wrote it, and the site, the reader and their
    # membership as it read them: nothing of it is read again after the commit.
    commit_keeping_loaded()
    return render("members/member_page.html", "members/_row.html",
                  **_row_context(site, membership, members.listed(row)))


@bp.post("/members/<int:membership_id>/remove")
@site_view(MANAGE_ACCESS, UPDATE)
def remove(site, membership, membership_id):
    row = of_site(Membership, membership_id, site)
    name = row.person.display_name
    try:
        members.remove_member(site, current_user, row)
    except RuleViolation as violation:
        db.session.rollback()
        if request.htmx:
            return render("members/member_page.html", "members/_row.html", status=422,
                          **{**_row_context(site, membership, of_site(Membership, membership_id, site)),
                             "errors": {"form": violation.message}})
        flash(violation.message, "error")
        return redirect(url_for("members.index", site_id=site.id), 303)
    db.session.commit()
    if request.htmx:
        # The row is swapped for nothing (200: htmx does not swap on 204); status and count update out of band.
        return render("members/_status.html", "members/_status.html", oob=True,
                      **_status_context(site, _("%(name)s no longer has access to this site.", name=name)))
    flash(_("%(name)s no longer has access to this site.", name=name), "success")
    return redirect(url_for("members.index", site_id=site.id), 303)


@bp.post("/members/bulk")
@site_view(MANAGE_ACCESS, UPDATE)
def bulk(site, membership):
    """The bulk bar: remove the selected rows, or give them the chosen role and/or profile — shown first
    member by member (action=preview, nothing saved), then saved all or none (action=save)."""
    selected = ids_from(request.form.getlist("selected"))
    action = request.form.get("action", "save")
    changes = {}
    for membership_id in selected:
        if action == "remove":
            changes[membership_id] = {"remove": True}
        else:
            # The bar's one choice for all rows; a row's own field (bulk_role_<id>) still wins when sent.
            role = request.form.get(f"bulk_role_{membership_id}") or request.form.get("bulk_role", "")
            profile_id = request.form.get(f"bulk_profile_{membership_id}") or request.form.get("bulk_profile", "")
            changes[membership_id] = {"role": role if role in (SECONDARY, USER) else None,
                                      "profile_id": id_from(profile_id)}
    found = set(db.session.scalars(sa.select(Membership.id).where(Membership.site_id == site.id,
                                                                  Membership.id.in_(list(changes)))))
    if found != set(changes):
        abort(404)  # an id of another site: nothing to say about it
    if not changes:
        context = _list_context(site, membership, message=_("Select at least one row."), status_code=422)
        context["bulk_values"] = request.form
        return render("members/index.html", "members/_list.html", status=422, **context)
    if action == "preview":
        return _bulk_preview(site, membership, changes)
    try:
        count = members.bulk_change(site, current_user, changes)
    except members.BulkRefused as refused:
        db.session.rollback()
        context = _list_context(site, membership, errors=refused.errors,
                                message=ngettext("Nothing was changed: %(num)d row was refused, see below.",
                                                 "Nothing was changed: %(num)d rows were refused, see below.",
                                                 len(refused.errors)))
        context["bulk_values"] = request.form
        return render("members/index.html", "members/_list.html", status=422, **context)
    db.session.commit()
    if action == "remove":
        message = ngettext("%(num)d member removed.", "%(num)d members removed.", count)
    else:
        message = ngettext("%(num)d member changed.", "%(num)d members changed.", count)
    return _after_list_action(site, membership, message)


def _bulk_preview(site, membership, changes):
    """Show what the bulk bar's choice would change, member by member, and save nothing."""
    if not any(change.get("role") or change.get("profile_id") for change in changes.values()):
        context = _list_context(site, membership, message=_("Choose a new role or a profile for the selected rows."))
        context["bulk_values"] = request.form
        return render("members/index.html", "members/_list.html", status=422, **context)
    plan, refusals = members.plan_bulk_change(site, current_user, changes)
    db.session.rollback()  # the plan was made in a savepoint; nothing of it stays
    if refusals:
        message = ngettext("%(num)d row would be refused, see below; nothing can be saved as it is.",
                           "%(num)d rows would be refused, see below; nothing can be saved as they are.",
                           len(refusals))
    else:
        message = _("Check the changes below, then save them.")
    context = _list_context(site, membership, message=message, errors=refusals)
    context.update(bulk_values=request.form, plan=plan, plan_refused=bool(refusals))
    return render("members/index.html", "members/_list.html", status=422 if refusals else 200, **context)


# --- Add new user -------------------------------------------------------------------------------

def _add_context(site, membership, form, check=None, levels=None):
    tools = catalog()
    return dict(site=site, membership=membership, form=form, check=check, tools=tools,
                profiles=profiles_of(site.id), levels=levels or {}, errors={})


@bp.get("/members/new")
@site_view(MANAGE_ACCESS, UPDATE)
def new(site, membership):
    form = AddMemberForm(formdata=None)
    form.profile_id.choices = _profile_choices(site)
    return render("members/new.html", None, **_add_context(site, membership, form))


def _profile_choices(site):
    return [SelectChoice("", _("— none: choose levels below —"))] + \
        [SelectChoice(str(p.id), p.name) for p in profiles_of(site.id)]


@bp.get("/levels")
@site_view(MANAGE_ACCESS, UPDATE)
def levels(site, membership):
    """The level choosers filled from a profile (htmx, when a profile is chosen)."""
    tools = catalog()
    role = request.args.get("role") if request.args.get("role") in (SECONDARY, USER) else USER
    chosen = {}
    profile_id = id_from(request.args.get("profile_id"))
    if profile_id:
        profile = db.session.get(AccessProfile, profile_id)
        if profile is None or profile.site_id != site.id:
            abort(404)
        chosen = members.profile_levels(profile, tools, role, membership)
    return render("members/_levels.html", "members/_levels.html", site=site, tools=tools, levels=chosen,
                  role=role, errors={}, fieldset_id="levels")


@bp.post("/members/check")
@site_view(MANAGE_ACCESS, UPDATE)
def check(site, membership):
    """Check user: tell whether an account exists for the email (and its name), and if already a member."""
    result = _check_email(site, request.form.get("email", ""))
    if request.htmx:
        return render("members/_check.html", "members/_check.html", check=result)
    form = AddMemberForm()
    form.profile_id.choices = _profile_choices(site)
    return render("members/new.html", None, **_add_context(site, membership, form, check=result))


def _check_email(site, raw_email):
    try:
        email = normalize_email(raw_email)
    except RuleViolation as violation:
        return {"error": violation.message}
    # An unverified account is unknown here: its name is whatever a stranger typed.
    person = find_proven_person(email)
    if person is None:
        return {"email": email, "exists": False}
    return {"email": email, "exists": True, "name": person.display_name,
            "member": members.membership_of(person, site.id) is not None}


@bp.post("/members")
@site_view(MANAGE_ACCESS, UPDATE)
def create(site, membership):
    form = AddMemberForm()
    form.profile_id.choices = _profile_choices(site)
    tools = catalog()
    levels = {}
    if form.validate_on_submit():
        try:
            levels = chosen_levels(site, membership, form.role.data, profile_choice(form.profile_id.data),
                                   levels_from_form(request.form, tools), hand_set_tools(request.form))
            outcome = members.add_member(site, current_user, form.email.data, form.role.data,
                                         form.business_justification.data, levels)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
            context = _add_context(site, membership, form, levels=levels)
            if violation.field and violation.field.startswith("tool_"):
                context["errors"] = {violation.field: violation.message}
            return render("members/new.html", None, status=422, **context)
        db.session.commit()
        if isinstance(outcome, Invitation):
            flash(_("Invitation sent to %(email)s. The link is valid for 48 hours.", email=outcome.email), "success")
        else:
            flash(_("%(name)s now has access as %(role)s; we sent them a Welcome mail.",
                    name=outcome.person.display_name, role=str(ROLE_LABELS[outcome.role]).lower()), "success")
        return redirect(url_for("members.index", site_id=site.id), 303)
    levels = submitted_levels(request.form, tools)
    return render("members/new.html", None, status=422, **_add_context(site, membership, form, levels=levels))


# --- invitations --------------------------------------------------------------------------------

@bp.post("/invitations/<int:invitation_id>/resend")
@site_view(MANAGE_ACCESS, UPDATE)
def resend_invitation(site, membership, invitation_id):
    invitation = of_site(Invitation, invitation_id, site)
    try:
        fresh = invitations.resend_invitation(site, current_user, invitation)
    except RuleViolation as violation:
        db.session.rollback()
        return _list_refusal(site, membership, violation.message)
    db.session.commit()
    return _after_list_action(site, membership, _("A new invitation went to %(email)s; the previous link no longer "
                                                  "works.", email=fresh.email))


@bp.post("/invitations/<int:invitation_id>/revoke")
@site_view(MANAGE_ACCESS, UPDATE)
def revoke_invitation(site, membership, invitation_id):
    invitation = of_site(Invitation, invitation_id, site)
    try:
        invitations.revoke_invitation(site, current_user, invitation)
    except RuleViolation as violation:
        db.session.rollback()
        return _list_refusal(site, membership, violation.message)
    db.session.commit()
    return _after_list_action(site, membership, _("The invitation to %(email)s is revoked.", email=invitation.email))
