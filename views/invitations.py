"""Accepting an invitation: the generic flow every invitation (primary, secondary, user) uses."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import RuleViolation, db
from models import invitation as invitations
from models import person as people

from .common import apply_rule_violation, start_session
from .forms import AcceptInvitationForm, ConfirmForm

bp = Blueprint("invitations", __name__, url_prefix="/invitations")


def _load(token):
    invitation = invitations.find_invitation(token)
    if invitation is None:
        return None, render_template("invitations/unusable.html", state="unknown", invitation=None), 404
    state = invitation.status()
    if state != invitations.OPEN:
        return invitation, render_template("invitations/unusable.html", state=state, invitation=invitation), 410
    if current_user.is_authenticated and current_user.email.lower() != invitation.email.lower():
        return invitation, render_template("invitations/someone_else.html", invitation=invitation), 403
    return invitation, None, 200


@bp.get("/<token>")
def show(token):
    invitation, refusal, status = _load(token)
    if refusal is not None:
        return refusal, status
    if current_user.is_authenticated:
        return render_template("invitations/accept.html", invitation=invitation, form=ConfirmForm(),
                               token=token, has_account=True)
    if people.find_person(invitation.email) is not None:
        return render_template("invitations/accept.html", invitation=invitation, form=None, token=token,
                               has_account=True)
    return render_template("invitations/accept.html", invitation=invitation, form=AcceptInvitationForm(),
                           token=token, has_account=False)


@bp.post("/<token>")
def accept(token):
    invitation, refusal, status = _load(token)
    if refusal is not None:
        return refusal, status
    if current_user.is_authenticated:
        form = ConfirmForm()
        if not form.validate_on_submit():
            abort(400)
        person = current_user
    else:
        if people.find_person(invitation.email) is not None:
            # The account exists: its owner signs in first, then accepts.
            return redirect(url_for("auth.sign_in", next=url_for("invitations.show", token=token)))
        form = AcceptInvitationForm()
        if not form.validate_on_submit():
            return render_template("invitations/accept.html", invitation=invitation, form=form, token=token,
                                   has_account=False), 422
        try:
            person = people.create_person(invitation.email, form.password.data, form.first_name.data,
                                          form.last_name.data, verified=True)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
            return render_template("invitations/accept.html", invitation=invitation, form=form, token=token,
                                   has_account=False), 422
    try:
        membership = invitations.accept_invitation(invitation, person, request.remote_addr)
    except RuleViolation as violation:
        db.session.rollback()
        return render_template("invitations/unusable.html", state="refused", invitation=invitation,
                               reason=violation.message), 409
    db.session.commit()
    if not current_user.is_authenticated:
        start_session(person)
    flash(_("Welcome to %(site)s. You are now %(role)s.", site=membership.site.name,
            role=membership.role_label.lower()), "success")
    return redirect(url_for("sites.start", site_id=membership.site_id))
