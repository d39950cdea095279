"""Customers and their sites, and the operator's rules that create and change them."""
from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .audit import record
from .base import db, utcnow
from .errors import RuleViolation
from .contact import contacts_of
from .grants import create_membership, record_access
from .invitation import invite
from .outbox import queue_mail
from .person import find_proven_person, normalize_email
from .tables import ORIGINATING, PRIMARY, SITE_KINDS, Customer, Site, membership_of, primary_of
from .tool import create_default_profiles

# The names of the table layer this module's callers (views, tests) have always found here.
from .tables import ADDITIONAL, SITE_KIND_LABELS, lock_site  # noqa: F401,E402

SITE_NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")


def create_customer(name: str, actor=None) -> Customer:
    """Create a customer organisation with a unique name."""
    name = (name or "").strip()
    if not name:
        raise RuleViolation(_l("Enter the customer's name."), "name")
    if len(name) > 200:
        raise RuleViolation(_l("Use at most %(n)d characters.", n=200), "name")
    exists = db.session.scalar(sa.select(Customer.id).where(sa.func.lower(Customer.name) == name.lower()))
    if exists:
        raise RuleViolation(_l("A customer with this name already exists."), "name")
    customer = Customer(name=name)
    db.session.add(customer)
    db.session.flush()
    record(actor, "customer.created", target=customer, after={"name": name})
    return customer


def create_site(customer: Customer, site_number: str, name: str, kind: str, primary_email: str,
                actor=None) -> Site:
    """Create a site with its primary contact: a known person gets the role and a Welcome mail at
    once, an unknown email an invitation to become primary (single use, 48 hours)."""
    site_number = (site_number or "").strip()
    name = (name or "").strip()
    if not SITE_NUMBER_PATTERN.match(site_number):
        raise RuleViolation(_l("A site number is 1 to 32 letters, digits or dashes."), "site_number")
    if not name:
        raise RuleViolation(_l("Enter the site's name."), "name")
    if kind not in SITE_KINDS:
        raise RuleViolation(_l("Choose originating or additional."), "kind")
    email = normalize_email(primary_email, "primary_email")
    if db.session.scalar(sa.select(Site.id).where(Site.site_number == site_number)):
        raise RuleViolation(_l("Site number %(n)s is already taken.", n=site_number), "site_number")
    if kind == ORIGINATING and db.session.scalar(
            sa.select(Site.id).where(Site.customer_id == customer.id, Site.kind == ORIGINATING)):
        raise RuleViolation(_l("This customer already has an originating site."), "kind")

    site = Site(customer_id=customer.id, site_number=site_number, name=name, kind=kind)
    db.session.add(site)
    db.session.flush()
    create_default_profiles(site)
    record(actor, "site.created", site=site, target=site,
           after={"site_number": site_number, "name": name, "kind": kind, "customer": customer.name})
    # Only a proven mailbox becomes primary at once; anyone else proves it through the invitation.
    person = find_proven_person(email)
    if person is not None:
        grant_primary(site, person, actor)
    else:
        invite(site, email, PRIMARY, actor, justification=_l("Named primary contact by the operator"))
    return site


def grant_primary(site: Site, person, actor, justification: str = ""):
    """Make an existing person the primary of a site that has none, and welcome them."""
    membership = membership_of(person, site.id)
    before = {"role": membership.role} if membership else None
    if membership is None:
        membership = create_membership(site.id, person.id, PRIMARY, justification, getattr(actor, "id", None))
    else:
        membership.role = PRIMARY
        membership.privileges.clear()
    record_access(actor, "membership.primary_granted", site, membership, before=before)
    queue_mail(person, "welcome", site=site, role=PRIMARY)
    return membership


def set_coverage_end(site: Site, ends_on: date | None, actor=None) -> None:
    """Set (or clear) the date a site's support coverage ends."""
    before = site.coverage_ends_on
    site.coverage_ends_on = ends_on
    record(actor, "site.coverage_changed", site=site, target=site,
           before={"coverage_ends_on": before.isoformat() if before else None},
           after={"coverage_ends_on": ends_on.isoformat() if ends_on else None})



COVERAGE_REMINDER_DAYS = (90, 60, 30)


def send_coverage_reminders(today: date | None = None) -> int:
    """Mail each site's renewal contact (the primary where there is none) 90, 60 and 30 days before
    its coverage ends, each reminder once; a new end date starts over. Returns how many mails."""

    today = today or utcnow().date()
    horizon = today + timedelta(days=max(COVERAGE_REMINDER_DAYS))
    sent = 0
    for site in db.session.scalars(sa.select(Site).where(Site.coverage_ends_on > today,
                                                         Site.coverage_ends_on <= horizon)):
        days_left = (site.coverage_ends_on - today).days
        due = min(days for days in COVERAGE_REMINDER_DAYS if days >= days_left)
        already = site.coverage_reminded_days if site.coverage_reminded_for == site.coverage_ends_on else None
        if already is not None and already <= due:
            continue
        site.coverage_reminded_for, site.coverage_reminded_days = site.coverage_ends_on, due
        renewal = [c for c in contacts_of(site.id) if any(t.key == "renewal" for t in c.types)]
        context = dict(site=site, days_left=days_left, ends_on=site.coverage_ends_on)
        primary = primary_of(site.id)
        if renewal:
            for contact in renewal:
                # A contact has no account to choose a language in: the primary's, who keeps the list.
                queue_mail(None, "coverage_reminder", to=contact.email, on_behalf_of=getattr(primary, "person", None),
                           contact_name=f"{contact.first_name} {contact.last_name}", **context)
                sent += 1
        else:
            if primary is None:
                continue
            queue_mail(primary.person, "coverage_reminder", contact_name=primary.person.display_name, **context)
            sent += 1
        record(None, "site.coverage_reminded", site=site, target=site,
               after={"days_before": due, "ends_on": site.coverage_ends_on.isoformat()})
    return sent
