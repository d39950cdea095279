"""The Operator console's webhooks of an API key (issue 16): add and delete endpoints, see recent
deliveries and resend one. Operators only; every change is a POST with CSRF and is audited
(models/webhook.py)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import RuleViolation, db
from models import webhook
from models.api import ApiKey

from .access import operator_required
from .forms import WebhookForm
from .rendering import apply_rule_violation, render

bp = Blueprint("webhooks", __name__, url_prefix="/operator/api-keys/<int:key_id>/webhooks")


def _page(key, form=None, created=None, secret=None, status=200):
    return render("operator/webhooks.html", status=status, key=key, form=form or WebhookForm(formdata=None),
                  endpoints=webhook.endpoints_of(key), deliveries=webhook.recent_deliveries(key),
                  events=webhook.EVENTS, created=created, secret=secret,
                  allow_loopback=webhook.loopback_allowed())


def _endpoint(key, endpoint_id) -> webhook.WebhookEndpoint:
    endpoint = db.get_or_404(webhook.WebhookEndpoint, endpoint_id)
    if endpoint.api_key_id != key.id:
        abort(404)
    return endpoint


@bp.get("/")
@operator_required
def list_webhooks(key_id):
    return _page(db.get_or_404(ApiKey, key_id))


@bp.post("/")
@operator_required
def add_endpoint(key_id):
    """Add an endpoint and show its secret once, in this answer."""
    key = db.get_or_404(ApiKey, key_id)
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            endpoint, secret = webhook.add_endpoint(current_user, key, form.url.data, form.events.data)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            return _page(key, created=endpoint, secret=secret, status=201)
    return _page(key, form=form, status=422)


@bp.get("/<int:endpoint_id>/delete")
@operator_required
def confirm_delete_endpoint(key_id, endpoint_id):
    key = db.get_or_404(ApiKey, key_id)
    return render("operator/delete_webhook.html", key=key, endpoint=_endpoint(key, endpoint_id))


@bp.post("/<int:endpoint_id>/delete")
@operator_required
def delete_endpoint(key_id, endpoint_id):
    key = db.get_or_404(ApiKey, key_id)
    endpoint = _endpoint(key, endpoint_id)
    url = endpoint.url
    webhook.delete_endpoint(current_user, endpoint)
    db.session.commit()
    flash(_("The webhook endpoint %(url)s is deleted.", url=url), "success")
    return redirect(url_for("webhooks.list_webhooks", key_id=key.id), 303)


@bp.post("/deliveries/<int:delivery_id>/resend")
@operator_required
def resend_delivery(key_id, delivery_id):
    key = db.get_or_404(ApiKey, key_id)
    delivery = db.get_or_404(webhook.WebhookDelivery, delivery_id)
    if delivery.endpoint.api_key_id != key.id:
        abort(404)
    try:
        webhook.resend_delivery(current_user, delivery)
    except RuleViolation as violation:
        db.session.rollback()
        flash(str(violation.message), "error")
    else:
        db.session.commit()
        flash(_("The delivery is queued again: it is sent within a few seconds."), "success")
    return redirect(url_for("webhooks.list_webhooks", key_id=key.id), 303)
