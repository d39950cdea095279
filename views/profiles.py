"""Access profiles (SPEC §4): named sets of levels a site keeps to grant them in one choice."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import AccessProfile, RuleViolation, db
from models import membership as members
from models.profile import delete_profile, save_profile
from models.tool import MANAGE_ACCESS, catalog, profiles_of

from .access import of_site, site_view
from .forms import ProfileForm
from .parsing import levels_from_form
from .rendering import apply_rule_violation, render

bp = Blueprint("profiles", __name__, url_prefix="/sites/<int:site_id>")

VIEW, UPDATE = members.VIEW, members.UPDATE


def _profiles_page(site, membership, new_form=None, failed=None, status=200):
    tools = catalog()
    return render("members/profiles.html", None, status=status, site=site, membership=membership, tools=tools,
                  profiles=profiles_of(site.id), new_form=new_form or ProfileForm(formdata=None),
                  failed=failed or {}, is_primary=membership is not None and membership.role == members.PRIMARY)


@bp.get("/profiles")
@site_view(MANAGE_ACCESS, VIEW)
def index(site, membership):
    return _profiles_page(site, membership)


@bp.post("/profiles")
@site_view(MANAGE_ACCESS, UPDATE)
def create(site, membership):
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            profile = save_profile(site, current_user, form.name.data, levels_from_form(request.form, catalog()))
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            flash(_("Profile %(name)s created.", name=profile.name), "success")
            return redirect(url_for("profiles.index", site_id=site.id), 303)
    return _profiles_page(site, membership, new_form=form, status=422)



@bp.post("/profiles/<int:profile_id>")
@site_view(MANAGE_ACCESS, UPDATE)
def update(site, membership, profile_id):
    profile = of_site(AccessProfile, profile_id, site)
    form = ProfileForm(prefix=f"p{profile.id}")
    if form.validate_on_submit():
        try:
            save_profile(site, current_user, form.name.data,
                         levels_from_form(request.form, catalog(), prefix=f"p{profile.id}-tool_"), profile)
        except RuleViolation as violation:
            db.session.rollback()
            return _profiles_page(site, membership, failed={profile_id: violation.message}, status=422)
        db.session.commit()
        flash(_("Profile %(name)s saved.", name=form.name.data), "success")
        return redirect(url_for("profiles.index", site_id=site.id), 303)
    return _profiles_page(site, membership, failed={profile_id: " ".join(form.name.errors)}, status=422)


@bp.post("/profiles/<int:profile_id>/delete")
@site_view(MANAGE_ACCESS, UPDATE)
def remove(site, membership, profile_id):
    profile = of_site(AccessProfile, profile_id, site)
    name = profile.name
    try:
        delete_profile(site, current_user, profile)
    except RuleViolation as violation:
        db.session.rollback()
        return _profiles_page(site, membership, failed={profile_id: violation.message}, status=422)
    db.session.commit()
    flash(_("Profile %(name)s deleted; members keep their levels.", name=name), "success")
    return redirect(url_for("profiles.index", site_id=site.id), 303)
