"""Accepting an invitation: the generic flow every invitation (primary, secondary, user) uses."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import RuleViolation, db
from models import invitation as invitations
from models import person as people
from models.roles import ROLE_IN_SENTENCE

from .access import start_session
from .rendering import apply_rule_violation, render
from .forms import AcceptInvitationForm, ConfirmForm

bp = Blueprint("invitations", __name__, url_prefix="/invitations")


def _load(token):
    invitation = invitations.find_invitation(token)
    if invitation is None:
        return None, render("invitations/unusable.html", status=404, state="unknown", invitation=None), 404
    state = invitation.status()
    if state != invitations.OPEN:
        return invitation, render("invitations/unusable.html", status=410, state=state, invitation=invitation), 410
    if current_user.is_authenticated and current_user.email.lower() != invitation.email.lower():
        return invitation, render("invitations/someone_else.html", status=403, invitation=invitation), 403
    return invitation, None, 200


def _owner_signs_in(invitation) -> bool:
    """Whether the invited email belongs to a proven account, whose owner signs in to accept.

    An unverified account with that email is a stranger's claim: the link's holder takes it over.
    """
    if current_user.is_authenticated:
        return current_user.is_verified
    return people.find_proven_person(invitation.email) is not None


@bp.get("/<token>")
def show(token):
    invitation, refusal, status = _load(token)
    if refusal is not None:
        return refusal, status
    if current_user.is_authenticated and current_user.is_verified:
        return render("invitations/accept.html", invitation=invitation, form=ConfirmForm(),
                      token=token, has_account=True)
    if _owner_signs_in(invitation):
        return render("invitations/accept.html", invitation=invitation, form=None, token=token,
                      has_account=True)
    return render("invitations/accept.html", invitation=invitation, form=AcceptInvitationForm(),
                  token=token, has_account=False)


@bp.post("/<token>")
def accept(token):
    invitation, refusal, status = _load(token)
    if refusal is not None:
        return refusal, status
    try:
        if current_user.is_authenticated and current_user.is_verified:
            if not ConfirmForm().validate_on_submit():
                abort(400)
            membership = invitations.accept_invitation(invitation, current_user)
        elif _owner_signs_in(invitation):
            return redirect(url_for("auth.sign_in", next=url_for("invitations.show", token=token)), 303)
        else:
            form = AcceptInvitationForm()
            if not form.validate_on_submit():
                return render("invitations/accept.html", status=422, invitation=invitation, form=form, token=token,
                              has_account=False)
            try:
                membership = invitations.accept_invitation_as_invitee(
                    invitation, form.password.data, form.first_name.data, form.last_name.data)
            except RuleViolation as violation:
                if violation.field is None:
                    raise
                db.session.rollback()
                apply_rule_violation(form, violation)
                return render("invitations/accept.html", status=422, invitation=invitation, form=form, token=token,
                              has_account=False)
    except RuleViolation as violation:
        db.session.rollback()
        return render("invitations/unusable.html", status=409, state="refused", invitation=invitation,
                      reason=violation.message)
    db.session.commit()
    # A fresh session for whoever proved the mailbox; an unverified session of the same account ended.
    start_session(membership.person)
    flash(_("Welcome to %(site)s. You are now %(role)s.", site=membership.site.name,
            role=ROLE_IN_SENTENCE[membership.role]), "success")
    return redirect(url_for("sites.start", site_id=membership.site_id), 303)
