"""The operator console: customers, their sites, primary contacts, coverage and instance settings."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from datetime import datetime, time, timedelta

from models import Customer, Invitation, Membership, RuleViolation, Site, db, get_setting, set_setting
from models import api as api_keys
from models import site as sites
from models.membership import membership_of, primary_of

from .access import operator_required, show_site_navigation
from .parsing import id_from
from .rendering import apply_rule_violation, render
from .forms import ALL_SITES, CHOSEN_CUSTOMERS, ApiKeyForm, ApiKeyScopeForm, CoverageForm, CustomerForm, InstanceSettingsForm, RecoveryForm, SiteForm
from .pages import paged

bp = Blueprint("operator", __name__, url_prefix="/operator")


def _customer_page(query: str, page: int):
    statement = sa.select(Customer).order_by(sa.func.lower(Customer.name), Customer.id)
    if query:
        pattern = f"%{query.lower()}%"
        statement = statement.where(sa.or_(
            sa.func.lower(Customer.name).like(pattern),
            Customer.id.in_(sa.select(Site.customer_id).where(sa.or_(
                sa.func.lower(Site.site_number).like(pattern), sa.func.lower(Site.name).like(pattern)))),
        ))
    return db.paginate(statement, page=page, per_page=25, error_out=False)


def _console(customer_form=None, settings_form=None, status=200):
    query = request.args.get("q", "").strip()
    customers = paged(lambda number: _customer_page(query, number), "operator.console", q=query)
    settings_form = settings_form or InstanceSettingsForm(signup_open=get_setting("signup_open"))
    return render("operator/console.html", "operator/_customers.html", status=status,
                  customers=customers, query=query, customer_form=customer_form or CustomerForm(),
                  settings_form=settings_form)


@bp.get("/")
@operator_required
def console():
    return _console()


@bp.post("/customers")
@operator_required
def create_customer():
    form = CustomerForm()
    if form.validate_on_submit():
        try:
            customer = sites.create_customer(form.name.data, current_user)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            flash(_("Customer %(name)s created.", name=customer.name), "success")
            return redirect(url_for("operator.customer", customer_id=customer.id), 303)
    return _console(customer_form=form, status=422)


@bp.get("/customers/<int:customer_id>")
@operator_required
def customer(customer_id):
    return _customer(db.get_or_404(Customer, customer_id), SiteForm())


def _customer(customer, form, status=200):
    primaries = {site.id: primary_of(site.id) for site in customer.sites}
    return render("operator/customer.html", status=status, customer=customer, form=form,
                  primaries=primaries)


@bp.post("/customers/<int:customer_id>/sites")
@operator_required
def create_site(customer_id):
    customer = db.get_or_404(Customer, customer_id)
    form = SiteForm()
    if form.validate_on_submit():
        try:
            site = sites.create_site(customer, form.site_number.data, form.name.data, form.kind.data,
                                     form.primary_email.data, current_user)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            flash(_("Site %(number)s created.", number=site.site_number), "success")
            return redirect(url_for("operator.site", site_id=site.id), 303)
    return _customer(customer, form, 422)


@bp.get("/sites/<int:site_id>")
@operator_required
def site(site_id):
    return _site(db.get_or_404(Site, site_id))


def _site(site, coverage_form=None, recovery_form=None, status=200):
    show_site_navigation(site, membership_of(current_user, site.id))  # the site's sidebar, as operators see it
    invitations = db.session.scalars(sa.select(Invitation).where(Invitation.site_id == site.id)
                                     .order_by(Invitation.created_at.desc()).limit(20)).all()
    coverage_form = coverage_form or CoverageForm(formdata=None, coverage_ends_on=site.coverage_ends_on)
    recovery_form = recovery_form or RecoveryForm(formdata=None)
    candidates = db.session.scalars(sa.select(Membership).where(
        Membership.site_id == site.id, Membership.role != "primary").order_by(Membership.sort_name).limit(500)).all()
    recovery_form.membership_id.choices = [SelectChoice("", _("— invite an email instead —"))] + \
        [SelectChoice(str(m.id), f"{m.person.display_name} <{m.person.email}>") for m in candidates]
    return render("operator/site.html", status=status, site=site, primary=primary_of(site.id), invitations=invitations,
                  coverage_form=coverage_form, recovery_form=recovery_form)


@bp.post("/sites/<int:site_id>/coverage")
@operator_required
def set_coverage(site_id):
    site = db.get_or_404(Site, site_id)
    form = CoverageForm()
    if not form.validate_on_submit():
        return _site(site, coverage_form=form, status=422)
    sites.set_coverage_end(site, form.coverage_ends_on.data, current_user)
    db.session.commit()
    flash(_("Coverage saved."), "success")
    return redirect(url_for("operator.site", site_id=site.id), 303)


@bp.post("/settings")
@operator_required
def save_settings():
    form = InstanceSettingsForm()
    if not form.validate_on_submit():
        abort(400)
    set_setting("signup_open", bool(form.signup_open.data), current_user)
    db.session.commit()
    flash(_("Settings saved."), "success")
    return redirect(url_for("operator.console"), 303)


@bp.post("/sites/<int:site_id>/primary")
@operator_required
def recover(site_id):
    """Orphaned-site recovery: name a new primary (a member, or an email invited as primary)."""
    from models.primary_transfer import recover_site

    site = db.get_or_404(Site, site_id)
    form = RecoveryForm()
    form.membership_id.choices = []
    if form.validate_on_submit():
        membership = None
        if form.membership_id.data:
            membership = db.session.get(Membership, membership_id) \
                if (membership_id := id_from(form.membership_id.data)) else None
            if membership is None or membership.site_id != site.id:
                abort(404)
        try:
            outcome = recover_site(site, current_user, form.justification.data, membership=membership,
                                   email=form.email.data)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            if isinstance(outcome, Invitation):
                flash(_("%(email)s is invited to become primary contact.", email=outcome.email), "success")
            else:
                flash(_("%(name)s is now the primary contact.", name=outcome.person.display_name), "success")
            return redirect(url_for("operator.site", site_id=site.id), 303)
    return _site(site, recovery_form=form, status=422)


# --- API keys (issue 16) ------------------------------------------------------------------------

def _api_key_form(blank: bool = False) -> ApiKeyForm:
    form = ApiKeyForm(formdata=None) if blank else ApiKeyForm()
    form.customers.choices = [SelectChoice(customer.id, customer.name) for customer in db.session.scalars(
        sa.select(Customer).order_by(sa.func.lower(Customer.name), Customer.id))]
    return form


def _customer_choices() -> list[SelectChoice]:
    return [SelectChoice(customer.id, customer.name) for customer in db.session.scalars(
        sa.select(Customer).order_by(sa.func.lower(Customer.name), Customer.id))]


def _api_keys_page(form=None, created=None, plain_key=None, status=200):
    return render("operator/api_keys.html", status=status, keys=api_keys.api_keys(),
                  form=form or _api_key_form(blank=True), created=created, plain_key=plain_key)


@bp.get("/api-keys")
@operator_required
def list_api_keys():
    return _api_keys_page()


@bp.post("/api-keys")
@operator_required
def create_api_key():
    """Create a key and show it once, in this answer (it is stored hashed: no later page can show it)."""
    form = _api_key_form()
    if form.validate_on_submit():
        customer_ids = form.customers.data if form.scope.data == CHOSEN_CUSTOMERS else None
        expires_at = datetime.combine(form.expires_on.data, time()) + timedelta(days=1) \
            if form.expires_on.data else None
        try:
            key, plain = api_keys.create_api_key(current_user, form.name.data, customer_ids, expires_at)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            return _api_keys_page(created=key, plain_key=plain, status=201)
    return _api_keys_page(form=form, status=422)


@bp.get("/api-keys/<int:key_id>/revoke")
@operator_required
def confirm_revoke_api_key(key_id):
    return render("operator/revoke_api_key.html", key=db.get_or_404(api_keys.ApiKey, key_id))


@bp.post("/api-keys/<int:key_id>/revoke")
@operator_required
def revoke_api_key(key_id):
    key = db.get_or_404(api_keys.ApiKey, key_id)
    if api_keys.revoke_api_key(current_user, key):
        db.session.commit()
        flash(_("API key %(name)s is revoked.", name=key.name), "success")
    return redirect(url_for("operator.list_api_keys"), 303)


def _scope_page(key, form=None, status=200):
    if form is None:
        form = ApiKeyScopeForm(formdata=None, scope=ALL_SITES if key.all_sites else CHOSEN_CUSTOMERS,
                               customers=[customer.id for customer in key.customers])
    form.customers.choices = _customer_choices()
    return render("operator/api_key_scope.html", status=status, key=key, form=form)


@bp.get("/api-keys/<int:key_id>/scope")
@operator_required
def api_key_scope(key_id):
    return _scope_page(db.get_or_404(api_keys.ApiKey, key_id))


@bp.post("/api-keys/<int:key_id>/scope")
@operator_required
def change_api_key_scope(key_id):
    key = db.get_or_404(api_keys.ApiKey, key_id)
    form = ApiKeyScopeForm()
    form.customers.choices = _customer_choices()
    if form.validate_on_submit():
        customer_ids = form.customers.data if form.scope.data == CHOSEN_CUSTOMERS else None
        try:
            changed = api_keys.set_api_key_scope(current_user, key, customer_ids)
        except RuleViolation as violation:
            db.session.rollback()
            apply_rule_violation(form, violation)
        else:
            db.session.commit()
            if changed:
                flash(_("The scope of API key %(name)s is saved.", name=key.name), "success")
            return redirect(url_for("operator.list_api_keys"), 303)
    return _scope_page(key, form, 422)
