"""My settings (SPEC §6): name, password, language, notification email and preferences, login email."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from models import RuleViolation, db
from models import person as people
from models.base import TIME_ZONES

from .access import start_session
from .extensions import LANGUAGE_NAMES
from .rendering import apply_rule_violation, render
from .forms import ConfirmForm, EmailChangeForm, PasswordChangeForm, SettingsForm

bp = Blueprint("settings", __name__, url_prefix="/settings")



def _page(settings_form=None, password_form=None, email_form=None, status=200):
    if settings_form is None:
        prefs = current_user.notification_preferences or {}
        settings_form = SettingsForm(formdata=None, first_name=current_user.first_name,
                                     last_name=current_user.last_name, language=current_user.language or "",
                                     time_zone=current_user.time_zone or "",
                                     notification_email=current_user.notification_email or "",
                                     access_requests=prefs.get("access_requests", True),
                                     privilege_changes=prefs.get("privilege_changes", True))
    settings_form.language.choices = [SelectChoice("", _("As my browser prefers"))] + \
        [SelectChoice(code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]]
    settings_form.time_zone.choices = [SelectChoice("", _("As this Sitepass's (%(zone)s)",
                                                          zone=current_app.config["TIMEZONE"]))] + \
        [SelectChoice(name, name) for name in sorted(TIME_ZONES)]
    return render("settings/index.html", status=status, settings_form=settings_form,
                  pending_notification_email=people.pending_notification_email(current_user),
                  password_form=password_form or PasswordChangeForm(formdata=None),
                  email_form=email_form or EmailChangeForm(formdata=None))


def _settle(violation: RuleViolation) -> None:
    """Undo a refused change; a wrong current password stays counted as a failed sign-in (its only write)."""
    if isinstance(violation, people.WrongPassword):
        db.session.commit()
    else:
        db.session.rollback()


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/")
@login_required
def save():
    form = SettingsForm()
    form.language.choices = form.time_zone.choices = []
    if form.validate_on_submit():
        try:
            requested = people.update_settings(
                current_user, form.first_name.data, form.last_name.data, form.language.data,
                form.notification_email.data,
                {"access_requests": form.access_requests.data, "privilege_changes": form.privilege_changes.data},
                current_app.config["LANGUAGES"], form.time_zone.data)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            flash(_("Settings saved."), "success")
            if requested:
                flash(_("We sent a link to %(email)s. Mail goes there once you open it.", email=requested), "info")
            return redirect(url_for("settings.index"), 303)
    return _page(settings_form=form, status=422)


@bp.post("/password")
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            people.change_password(current_user, form.current_password.data, form.password.data)
        except RuleViolation as violation:
            _settle(violation)
            apply_rule_violation(form, violation)
        else:
            person = current_user._get_current_object()
            db.session.commit()
            # Every other session ended with the new session version; this one starts afresh.
            start_session(person)
            flash(_("Your password is changed; other sessions are signed out."), "success")
            return redirect(url_for("settings.index"), 303)
    return _page(password_form=form, status=422)


@bp.post("/email")
@login_required
def change_email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            people.request_email_change(current_user, form.new_email.data, form.current_password.data)
        except RuleViolation as violation:
            _settle(violation)
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            flash(_("We sent a link to %(email)s. Your login email changes when you open it.",
                    email=form.new_email.data), "success")
            return redirect(url_for("settings.index"), 303)
    return _page(email_form=form, status=422)


def _confirmation(kind, token, form, usable=False, new_email=None):
    """The page of a login- or notification-email link: 200 while usable, 400 for a bad form, 410 else."""
    status = 200 if usable else (400 if form.errors else 410)
    return render("settings/confirm_address.html", status=status, kind=kind, form=form, token=token, usable=usable,
                  new_email=new_email)


def _confirmation_page(kind, token, purpose):
    found = people.find_account_token(token, purpose)
    usable = found is not None and found.is_usable()
    return _confirmation(kind, token, ConfirmForm(), usable, found.new_email if usable else None)


@bp.get("/email/<token>")
def confirm_email_page(token):
    return _confirmation_page("login", token, "change_email")


@bp.post("/email/<token>")
def confirm_email(token):
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _confirmation("login", token, form)
    try:
        person = people.confirm_email_change(token)
    except RuleViolation as violation:
        db.session.rollback()
        flash(violation.message, "error")
        return _confirmation("login", token, form)
    db.session.commit()
    flash(_("Your login email is now %(email)s. Sign in with it.", email=person.email), "success")
    return redirect(url_for("auth.sign_in"), 303)


@bp.get("/notification-email/<token>")
def confirm_notification_email_page(token):
    return _confirmation_page("notification", token, "notification_email")


@bp.post("/notification-email/<token>")
def confirm_notification_email(token):
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _confirmation("notification", token, form)
    try:
        person = people.confirm_notification_email(token)
    except RuleViolation:
        db.session.rollback()
        return _confirmation("notification", token, form)
    db.session.commit()
    flash(_("Your Sitepass mail now goes to %(email)s.", email=person.notification_email), "success")
    return redirect(url_for("settings.index"), 303)
