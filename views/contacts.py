"""Contacts (SPEC §6): Site contacts for every member, Contact updates with inline edits, reviews."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import ContactRecord, RuleViolation, db
from models import contact as contacts
from models.membership import PRIMARY, SECONDARY, UPDATE, VIEW, holds
from models.tool import CONTACT_UPDATES

from .access import of_site, site_view
from .rendering import render

bp = Blueprint("contacts", __name__, url_prefix="/sites/<int:site_id>")


@bp.get("/contacts")
@site_view()
def index(site, membership):
    """Site contacts ("View all contacts"): read-only, for every member."""
    warnings = contacts.contact_warnings(site) if (membership is None or membership.role in (PRIMARY, SECONDARY)) \
        else []
    from models.membership import primary_of
    return render("contacts/index.html", None, site=site, primary=primary_of(site.id),
                  effective=contacts.effective_contacts(site), warnings=warnings,
                  can_update=holds(membership, CONTACT_UPDATES, UPDATE))


def _manage_context(site, membership, **extra):
    return dict(site=site, membership=membership, records=contacts.contacts_of(site.id),
                types=contacts.contact_types(), countries=contacts.country_choices(),
                can_update=holds(membership, CONTACT_UPDATES, UPDATE), warnings=contacts.contact_warnings(site),
                **extra)


@bp.get("/contacts/manage")
@site_view(CONTACT_UPDATES, VIEW)
def manage(site, membership):
    """Contact updates: every contact of the site, edited in place."""
    return render("contacts/manage.html", None, **_manage_context(site, membership, values={}, errors={}))


def _form_values():
    values = {name: request.form.get(name, "") for name in contacts.CONTACT_FIELDS}
    return values, request.form.getlist("types")


def _row(site, membership, record, editing=False, values=None, chosen=None, errors=None, status=200):
    template = "contacts/_edit.html" if editing else "contacts/_contact.html"
    return render("contacts/contact_page.html", template, status=status, site=site, record=record, editing=editing,
                  types=contacts.contact_types(), countries=contacts.country_choices(),
                  can_update=holds(membership, CONTACT_UPDATES, UPDATE),
                  values=values if values is not None else {n: getattr(record, n) for n in contacts.CONTACT_FIELDS},
                  chosen=chosen if chosen is not None else [t.key for t in record.types], errors=errors or {})


@bp.get("/contacts/<int:contact_id>")
@site_view(CONTACT_UPDATES, VIEW)
def show(site, membership, contact_id):
    return _row(site, membership, of_site(ContactRecord, contact_id, site))


@bp.get("/contacts/<int:contact_id>/edit")
@site_view(CONTACT_UPDATES, UPDATE)
def edit(site, membership, contact_id):
    return _row(site, membership, of_site(ContactRecord, contact_id, site), editing=True)


@bp.post("/contacts/<int:contact_id>")
@site_view(CONTACT_UPDATES, UPDATE)
def update(site, membership, contact_id):
    record = of_site(ContactRecord, contact_id, site)
    values, chosen = _form_values()
    try:
        contacts.save_contact(site, current_user, values, chosen, record)
    except RuleViolation as violation:
        db.session.rollback()
        record = of_site(ContactRecord, contact_id, site)
        return _row(site, membership, record, editing=True, values=values, chosen=chosen,
                    errors={violation.field or "form": violation.message}, status=422)
    db.session.commit()
    if not request.htmx:
        flash(_("Contact saved."), "success")
        return redirect(url_for("contacts.manage", site_id=site.id), 303)
    return _row(site, membership, record)


@bp.post("/contacts")
@site_view(CONTACT_UPDATES, UPDATE)
def create(site, membership):
    values, chosen = _form_values()
    try:
        record = contacts.save_contact(site, current_user, values, chosen)
    except RuleViolation as violation:
        db.session.rollback()
        return render("contacts/manage.html", None, status=422,
                      **_manage_context(site, membership, values=values, chosen=chosen,
                                        errors={violation.field or "form": violation.message}))
    db.session.commit()
    flash(_("Contact %(name)s added.", name=f"{record.first_name} {record.last_name}"), "success")
    return redirect(url_for("contacts.manage", site_id=site.id), 303)


@bp.post("/contacts/<int:contact_id>/delete")
@site_view(CONTACT_UPDATES, UPDATE)
def delete(site, membership, contact_id):
    record = of_site(ContactRecord, contact_id, site)
    try:
        contacts.delete_contact(site, current_user, record)
    except RuleViolation as violation:
        db.session.rollback()
        return _row(site, membership, of_site(ContactRecord, contact_id, site),
                    errors={"form": violation.message}, status=422)
    db.session.commit()
    if request.htmx:
        return "", 200  # 200 with an empty body: htmx does not swap on 204, and the contact must go
    flash(_("Contact removed."), "success")
    return redirect(url_for("contacts.manage", site_id=site.id), 303)


@bp.post("/contacts/reviewed")
@site_view(CONTACT_UPDATES, UPDATE)
def reviewed(site, membership):
    contacts.mark_contacts_reviewed(site, current_user)
    db.session.commit()
    flash(_("Contacts marked as reviewed today."), "success")
    return redirect(url_for("contacts.manage", site_id=site.id), 303)


@bp.get("/contacts/address-fields")
@site_view(CONTACT_UPDATES, UPDATE)
def address_fields(site, _membership):
    """The address fields of a country, in its order and with its names (htmx, when the country changes);
    the values typed so far come along and stay."""
    prefix = request.args.get("prefix", "new")
    if not prefix.replace("-", "").replace("_", "").isalnum():
        abort(400)
    values = {name: request.args.get(name, "") for name in contacts.CONTACT_FIELDS}
    return render("contacts/_address.html", "contacts/_address.html", prefix=prefix, values=values, errors={},
                  site=site)
