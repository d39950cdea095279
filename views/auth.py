"""Sign in and out, accounts, email verification, password reset and the first-run page."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from models import RuleViolation, db, get_setting
from models import person as people

from .access import start_session
from .extensions import LANGUAGE_NAMES, SESSION_LANGUAGE, visitor_language
from .parsing import safe_next
from .rendering import apply_rule_violation, render
from .forms import (ConfirmAccountForm, ConfirmForm, FirstRunForm, ForgotPasswordForm, ResetPasswordForm, SignInForm,
                    SignUpForm)

bp = Blueprint("auth", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    if form.validate_on_submit():
        person = people.authenticate(form.email.data, form.password.data)
        db.session.commit()  # the failure counter is kept whatever the answer
        if person is not None:
            start_session(person)
            return redirect(safe_next(request.args.get("next"), url_for("sites.index")), 303)
        # One answer for unknown, locked and wrong: it must not tell whether an account exists.
        form.form_errors.append(_("Wrong email or password, or the account is locked for a while. "
                                  "Try again later or reset your password."))
        return render("auth/sign_in.html", status=401, form=form, **_switcher())
    status = 422 if form.is_submitted() else 200
    return render("auth/sign_in.html", status=status, form=form, **_switcher())


def _switcher() -> dict:
    """What the sign-in page's language switcher offers: each language named in itself."""
    return {"language_form": ConfirmForm(formdata=None),
            "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]]}


@bp.post("/sign-out")
@login_required
def sign_out():
    # Raising the session version ends every copy of the cookie, not only this browser's.
    people.end_all_sessions(current_user)
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.sign_in"), 303)


@bp.route("/sign-up", methods=["GET", "POST"])
def sign_up():
    if not get_setting("signup_open"):
        return render("auth/sign_up_closed.html", status=403)
    if current_user.is_authenticated:
        return redirect(url_for("sites.index"), 303 if request.method == "POST" else 302)
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            people.sign_up(form.email.data, form.password.data, form.first_name.data, form.last_name.data,
                           language=visitor_language())
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            # The same answer whether or not the address has an account (its owner gets a mail instead);
            # nobody is signed in before the link and the password confirm the account.
            flash(_("We sent a mail to %(email)s. Open the link in it to confirm your account, "
                    "then sign in with your password.", email=form.email.data), "success")
            return redirect(url_for("auth.sign_in"), 303)
    return render("auth/sign_up.html", status=422 if form.is_submitted() else 200, form=form)


@bp.post("/language")
def choose_language():
    """The sign-in page's language switcher: remembered in the session (an account's setting wins)."""
    form = ConfirmForm()
    language = request.form.get("language", "")
    if not form.validate_on_submit() or language not in current_app.config["LANGUAGES"]:
        abort(400)
    session[SESSION_LANGUAGE] = language
    return redirect(safe_next(request.args.get("next"), url_for("auth.sign_in")), 303)


@bp.get("/verify-email/<token>")
def verify_email(token):
    found = people.find_account_token(token, "verify_email")
    usable = found is not None and found.is_usable()
    return render("auth/verify_email.html", status=200 if usable else 410, form=ConfirmAccountForm(formdata=None),
                  token=token, usable=usable)


@bp.post("/verify-email/<token>")
def confirm_email(token):
    form = ConfirmAccountForm()
    found = people.find_account_token(token, "verify_email")
    if found is None or not found.is_usable():
        return render("auth/verify_email.html", status=410, form=form, token=token, usable=False)
    if not form.validate_on_submit():
        return render("auth/verify_email.html", status=422, form=form, token=token, usable=True)
    try:
        person = people.confirm_account(token, form.password.data)
    except people.WrongPassword as violation:
        db.session.commit()  # the failure stays counted, as at sign-in; the link stays usable
        apply_rule_violation(form, violation)
        return render("auth/verify_email.html", status=401, form=form, token=token, usable=True)
    except RuleViolation:
        db.session.rollback()
        return render("auth/verify_email.html", status=410, form=form, token=token, usable=False)
    db.session.commit()
    start_session(person)
    flash(_("Thank you: %(email)s is confirmed.", email=person.email), "success")
    return redirect(url_for("sites.index"), 303)


@bp.post("/verify-email/resend")
@login_required
def resend_verification():
    if current_user.email_verified_at is None:
        people.send_verification(current_user)
        db.session.commit()
    flash(_("We sent a new confirmation link to %(email)s.", email=current_user.email), "info")
    return redirect(url_for("sites.index"), 303)


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        people.request_password_reset(form.email.data)
        db.session.commit()
        # The same answer whether or not the account exists.
        flash(_("If an account uses %(email)s, a link to reset its password is on its way. "
                "It works once, within one hour.", email=form.email.data), "info")
        return redirect(url_for("auth.sign_in"), 303)
    return render("auth/forgot_password.html", status=422 if form.is_submitted() else 200, form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    found = people.find_account_token(token, "reset_password")
    if found is None or not found.is_usable():
        return render("auth/reset_password.html", status=410, form=None)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            people.reset_password(token, form.password.data)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            flash(_("Your password is changed. Sign in with the new one."), "success")
            logout_user()
            return redirect(url_for("auth.sign_in"), 303)
    return render("auth/reset_password.html", status=422 if form.is_submitted() else 200, form=form)


@bp.route("/first-run", methods=["GET", "POST"])
def first_run():
    """Create the first operator; the page exists only while there is none."""
    if people.count_operators():
        abort(404)
    form = FirstRunForm()
    if form.validate_on_submit():
        try:
            person = people.create_operator(form.email.data, form.password.data, form.first_name.data,
                                            form.last_name.data, first_run=True)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            start_session(person)
            flash(_("Welcome. You are the operator of this Sitepass."), "success")
            return redirect(url_for("operator.console"), 303)
    return render("auth/first_run.html", status=422 if form.is_submitted() else 200, form=form)
