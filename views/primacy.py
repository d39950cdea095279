"""The primary role (SPEC §2): Transfer primary role, accepting an offer, leaving a site."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from models import Membership, PrimaryTransfer, RuleViolation, db, utcnow
from models import membership as members
from models import primary_transfer as transfers

from .access import is_primary, site_view
from .parsing import id_from
from .rendering import apply_rule_violation, render
from .forms import ConfirmForm, TransferForm

bp = Blueprint("primacy", __name__)


def _transfer_page(site, membership, form=None, status=200):
    form = form or TransferForm(formdata=None)
    others = db.session.scalars(sa.select(Membership).join(Membership.person).where(
        Membership.site_id == site.id, Membership.role != members.PRIMARY)
        .order_by(Membership.role, Membership.sort_name).limit(500)).all()
    form.nominee.choices = [SelectChoice(str(m.id), f"{m.person.display_name} <{m.person.email}> · {m.role_label}")
                            for m in others]
    return render("primacy/transfer.html", status=status, site=site, membership=membership, form=form,
                  offer=transfers.open_transfer(site.id), cancel_form=ConfirmForm(formdata=None))


@bp.get("/sites/<int:site_id>/primary")
@site_view(allow=is_primary)
def transfer(site, membership):
    return _transfer_page(site, membership)


@bp.post("/sites/<int:site_id>/primary")
@site_view(allow=is_primary)
def offer_transfer(site, membership):
    form = TransferForm()
    if form.validate_on_submit():
        nominee = db.session.get(Membership, nominee_id) if (nominee_id := id_from(form.nominee.data)) else None
        if nominee is not None and nominee.site_id != site.id:
            abort(404)
        try:
            transfers.offer_transfer(site, current_user, nominee)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            flash(_("%(name)s is offered the primary role and has 48 hours to accept. Until then nothing changes.",
                    name=nominee.person.display_name), "success")
            return redirect(url_for("primacy.transfer", site_id=site.id), 303)
    return _transfer_page(site, membership, form, status=422)


@bp.post("/sites/<int:site_id>/primary/cancel")
@site_view(allow=is_primary)
def cancel_transfer(site, _membership):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        transfers.cancel_transfer(site, current_user)
    except RuleViolation as violation:
        db.session.rollback()
        flash(violation.message, "error")
    else:
        db.session.commit()
        flash(_("The offer is cancelled."), "success")
    return redirect(url_for("primacy.transfer", site_id=site.id), 303)


@bp.get("/primary-offers/<token>")
@login_required
def offer(token):
    """The link in the offer mail: leads the nominee to the offer on the site."""
    found = transfers.find_transfer(token)
    if found is None:
        abort(404)
    return redirect(url_for("primacy.show_offer", site_id=found.site_id, offer_id=found.id))


def _offer_of(site_id, offer_id):
    found = db.session.get(PrimaryTransfer, offer_id)
    if found is None or found.site_id != site_id:
        abort(404)
    return found


@bp.get("/sites/<int:site_id>/primary/offers/<int:offer_id>")
@login_required
def show_offer(site_id, offer_id):
    offer = _offer_of(site_id, offer_id)
    if offer.to_person_id != current_user.id:
        return render("primacy/offer.html", status=403, offer=offer, form=None, state="someone_else")
    usable = offer.accepted_at is None and offer.cancelled_at is None and offer.expires_at > utcnow()
    return render("primacy/offer.html", status=200 if usable else 410, offer=offer, form=ConfirmForm(formdata=None),
                  state="open" if usable else "closed")


@bp.post("/sites/<int:site_id>/primary/offers/<int:offer_id>")
@login_required
def accept(site_id, offer_id):
    offer = _offer_of(site_id, offer_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        transfers.accept_transfer(offer, current_user)
    except RuleViolation as violation:
        db.session.rollback()
        return render("primacy/offer.html", status=409, offer=offer, form=None, state="refused",
                      reason=violation.message)
    db.session.commit()
    flash(_("You are now the primary contact of this site."), "success")
    return redirect(url_for("sites.start", site_id=offer.site_id), 303)


@bp.post("/sites/<int:site_id>/leave")
@site_view(member_only=True)
def leave(site, _membership):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        members.leave_site(site, current_user)
    except RuleViolation as violation:
        db.session.rollback()
        flash(violation.message, "error")
        return redirect(url_for("sites.start", site_id=site.id), 303)
    db.session.commit()
    flash(_("You left %(site)s.", site=site.name), "success")
    if request.htmx:
        return "", 200, {"HX-Redirect": url_for("sites.index")}
    return redirect(url_for("sites.index"), 303)
