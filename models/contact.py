"""Site contact records and the contact types they hold (SPEC §6)."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

import phonenumbers
import pycountry
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .audit import record
from .base import db, utcnow
from .email_address import EmailNotValidError, valid_email_address
from .errors import RuleViolation
from .outbox import queue_mail
from .policy import count_secondaries, holds, may_change_rights_types
from .tables import UPDATE, ContactRecord, ContactType, Site, membership_of, primary_of
from .tool import CONTACT_UPDATES

# The types a contact can hold, seeded by a migration. "Primary contact" is not among them:
# it follows the primary membership and changes only by transfer.
DEFAULT_CONTACT_TYPES = [
    ("technical", "Site technical contact"),
    ("administrative", "Administrative / proof-of-entitlement contact"),
    ("renewal", "Software subscription and support renewal contact"),
    ("media", "Media shipment contact"),
    ("billing", "Billing contact"),
]


# Postal-code formats (the whole code, after trimming and upper-casing) for the countries whose
# formats we check: the EU, the US, the UK, Canada, Australia, India, Indonesia and Japan.
POSTAL_CODES = {
    "AT": r"\d{4}", "BE": r"\d{4}", "BG": r"\d{4}", "HR": r"\d{5}", "CY": r"\d{4}", "CZ": r"\d{3} ?\d{2}",
    "DK": r"\d{4}", "EE": r"\d{5}", "FI": r"\d{5}", "FR": r"\d{5}", "DE": r"\d{5}", "GR": r"\d{3} ?\d{2}",
    "HU": r"\d{4}", "IE": r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4}", "IT": r"\d{5}",
    "LV": r"(?:LV-)?\d{4}", "LT": r"(?:LT-)?\d{5}", "LU": r"(?:L-)?\d{4}", "MT": r"[A-Z]{3} ?\d{4}",
    "NL": r"\d{4} ?[A-Z]{2}", "PL": r"\d{2}-\d{3}", "PT": r"\d{4}-\d{3}", "RO": r"\d{6}", "SK": r"\d{3} ?\d{2}",
    "SI": r"(?:SI-)?\d{4}", "ES": r"\d{5}", "SE": r"\d{3} ?\d{2}",
    "US": r"\d{5}(?:-\d{4})?", "GB": r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", "CA": r"[A-Z]\d[A-Z] ?\d[A-Z]\d",
    "AU": r"\d{4}", "IN": r"\d{6}", "ID": r"\d{5}", "JP": r"\d{3}-?\d{4}",
}

CONTACT_FIELDS = ("first_name", "last_name", "phone", "email", "address", "address_line2", "city", "subdivision",
                  "postal_code", "country")
REQUIRED_FIELDS = ("first_name", "last_name", "phone", "email", "address", "city", "subdivision", "postal_code",
                   "country")


def country_choices() -> list[tuple[str, str]]:
    """Return (alpha-2 code, name) for every country, by name."""
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda pair: pair[1])


def subdivisions_of(country: str) -> list[tuple[str, str]]:
    """Return (ISO 3166-2 code, name) of a country's subdivisions, by name."""
    found = pycountry.subdivisions.get(country_code=country) if country else None
    return sorted(((s.code, s.name) for s in (found or [])), key=lambda pair: pair[1])


def _plain(text: str) -> str:
    """Fold case and accents, so that "Maharashtra" matches pycountry's "Mahārāshtra"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def clean_contact(fields: dict) -> dict:
    """Validate a contact as its country requires and return it normalised; refuse the first bad field.

    Phone numbers become E.164; the country an ISO code; the state or province its ISO 3166-2 code
    (a name is accepted); postal codes must match the country's format where we know it.
    """
    clean = {name: (fields.get(name) or "").strip() for name in CONTACT_FIELDS}
    for name in REQUIRED_FIELDS:
        if not clean[name]:
            raise RuleViolation(_l("This field is required."), name)
    for name, limit in (("first_name", 100), ("last_name", 100), ("address", 300), ("address_line2", 300),
                        ("city", 100)):
        if len(clean[name]) > limit:
            raise RuleViolation(_l("Use at most %(n)d characters.", n=limit), name)
    country = pycountry.countries.get(alpha_2=clean["country"].upper())
    if country is None:
        raise RuleViolation(_l("Choose a country."), "country")
    clean["country"] = country.alpha_2
    subdivisions = subdivisions_of(country.alpha_2)
    if subdivisions:
        wanted = _plain(clean["subdivision"])
        match = next((code for code, name in subdivisions if wanted in (_plain(code), _plain(name))), None)
        if match is None:
            raise RuleViolation(_l("Choose a state or province of %(country)s.", country=country.name), "subdivision")
        clean["subdivision"] = match
    elif len(clean["subdivision"]) > 16:
        raise RuleViolation(_l("Use at most %(n)d characters.", n=16), "subdivision")
    postal = re.sub(r"\s+", " ", clean["postal_code"].upper())
    pattern = POSTAL_CODES.get(country.alpha_2)
    if pattern and not re.fullmatch(pattern, postal):
        raise RuleViolation(_l("This is not a postal code of %(country)s.", country=country.name), "postal_code")
    if len(postal) > 16:
        raise RuleViolation(_l("Use at most %(n)d characters.", n=16), "postal_code")
    clean["postal_code"] = postal
    try:
        number = phonenumbers.parse(clean["phone"], country.alpha_2)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise RuleViolation(_l("Enter a valid phone number for %(country)s, or start with + and the country code.",
                               country=country.name), "phone")
    clean["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    try:
        clean["email"] = valid_email_address(clean["email"])
    except EmailNotValidError as exc:
        raise RuleViolation(_l("Enter a valid email address (%(reason)s)", reason=str(exc)), "email") from None
    return clean


def contact_types() -> list[ContactType]:
    """Return the contact types in display order."""
    return list(db.session.scalars(sa.select(ContactType).order_by(ContactType.position)))


def _require_contact_updates(site, actor):
    if not holds(membership_of(actor, site.id), CONTACT_UPDATES, UPDATE):
        raise RuleViolation(_l("You need Contact updates = Update to change this site's contacts."))


def _contact_snapshot(contact: ContactRecord) -> dict:
    return {**{name: getattr(contact, name) for name in CONTACT_FIELDS}, "types": [t.key for t in contact.types]}


def _rights_held(email: str | None, person_id: int | None, types) -> tuple | None:
    """Who a contact record gives rights to, and which: None when it holds no type carrying rights."""
    carried = frozenset(t for t in types if t.carries_rights)
    return (carried, (email or "").strip().lower(), person_id) if carried else None


def check_rights_types(site, actor, before: tuple | None, after: tuple | None) -> None:
    """Refuse a save or removal of a contact that gives or takes a type carrying rights (or moves it
    to another person by a new email) unless the actor may change such types, and always when the
    record is the actor's own (their login email or their account): nobody changes their own rights.

    `before` and `after` are what _rights_held says of the record before and after the change (None
    for a record that holds no such type, or does not exist).
    """
    if before == after:
        return
    names = ", ".join(sorted({t.name for held in (before, after) if held is not None for t in held[0]}))
    if not may_change_rights_types(actor, site):
        raise RuleViolation(_l("Only the primary contact, the site technical contacts and support Administrators "
                               "give or take the type %(types)s.", types=names), "types")
    own_email = actor.email.strip().lower()
    for held in (before, after):
        if held is not None and (held[1] == own_email or held[2] == actor.id):
            raise RuleViolation(_l("You cannot give yourself the type %(types)s or take it from yourself.",
                                   types=names), "types")


def save_contact(site, actor, fields: dict, type_keys: list[str],
                 contact: ContactRecord | None = None) -> ContactRecord:
    """Create or change a site contact with its contact types; nothing else changes (no login or
    notification email follows a contact's email)."""
    _require_contact_updates(site, actor)
    if contact is not None and contact.site_id != site.id:
        raise RuleViolation(_l("No such contact on this site."))
    clean = clean_contact(fields)
    types = {t.key: t for t in contact_types()}
    unknown = [key for key in type_keys if key not in types]
    if unknown:
        raise RuleViolation(_l("Unknown contact type."), "types")
    chosen = [types[key] for key in types if key in type_keys]
    check_rights_types(site, actor,
                       _rights_held(contact.email, contact.person_id, contact.types) if contact is not None else None,
                       _rights_held(clean["email"], contact.person_id if contact is not None else None, chosen))
    before = _contact_snapshot(contact) if contact is not None else None
    if contact is None:
        contact = ContactRecord(site_id=site.id, **clean)
        db.session.add(contact)
    else:
        for name, value in clean.items():
            setattr(contact, name, value)
    contact.types = chosen
    db.session.flush()
    record(actor, "contact.saved" if before else "contact.added", site=site,
           target=("contact", contact.id, contact.email), before=before, after=_contact_snapshot(contact))
    return contact


def delete_contact(site, actor, contact: ContactRecord) -> None:
    """Remove a site contact."""
    _require_contact_updates(site, actor)
    if contact.site_id != site.id:
        raise RuleViolation(_l("No such contact on this site."))
    check_rights_types(site, actor, _rights_held(contact.email, contact.person_id, contact.types), None)
    record(actor, "contact.deleted", site=site, target=("contact", contact.id, contact.email),
           before=_contact_snapshot(contact))
    db.session.delete(contact)


def contacts_of(site_id: int) -> list[ContactRecord]:
    """Return a site's contacts by name, with their types."""
    return list(db.session.scalars(sa.select(ContactRecord).where(ContactRecord.site_id == site_id)
                                   .order_by(ContactRecord.last_name, ContactRecord.first_name, ContactRecord.id)
                                   .options(sa.orm.selectinload(ContactRecord.types))))


def effective_contacts(site) -> list[dict]:
    """For each contact type: who holds it, or the primary contact acting for it (SPEC §6)."""
    primary = primary_of(site.id)
    contacts = contacts_of(site.id)
    result = []
    for contact_type in contact_types():
        holders = [c for c in contacts if contact_type in c.types]
        result.append({"type": contact_type, "holders": holders, "primary_acts": not holders,
                       "primary": primary.person if primary else None})
    return result


def contact_warnings(site) -> list[str]:
    """Warnings (not errors) about the site's contacts, for its primary and secondaries."""
    held = {t.key for c in contacts_of(site.id) for t in c.types}
    warnings = []
    if site.coverage_ends_on and site.coverage_ends_on >= date.today() and "technical" not in held:
        warnings.append(str(_l("The site has current support coverage but no site technical contact.")))
    if "renewal" not in held:
        warnings.append(str(_l("No renewal contact is named (recommended).")))
    if not count_secondaries(site.id):
        warnings.append(str(_l("The site has no secondary contact (recommended).")))
    return warnings


def mark_contacts_reviewed(site, actor) -> None:
    """Record that the site's contacts were reviewed now."""
    _require_contact_updates(site, actor)
    before = site.contacts_reviewed_at
    site.contacts_reviewed_at = utcnow()
    record(actor, "contacts.reviewed", site=site, target=site,
           before={"contacts_reviewed_at": before.isoformat() if before else None},
           after={"contacts_reviewed_at": site.contacts_reviewed_at.isoformat()})


REVIEW_INTERVAL_DAYS = 30


def send_review_reminders(now=None) -> int:
    """Mail the primary of each site whose contacts were not reviewed for a month; at most once a month
    per site, so running it twice the same day sends nothing new. Returns how many were sent."""
    now = now or utcnow()
    month_ago = now - timedelta(days=REVIEW_INTERVAL_DAYS)
    due = db.session.scalars(sa.select(Site).where(
        sa.func.coalesce(Site.contacts_reviewed_at, Site.created_at) <= month_ago,
        sa.or_(Site.contacts_reminded_at.is_(None), Site.contacts_reminded_at <= month_ago))).all()
    sent = 0
    for site in due:
        primary = primary_of(site.id)
        site.contacts_reminded_at = now
        if primary is None:
            continue
        queue_mail(primary.person, "contacts_review_reminder", site=site)
        record(None, "contacts.review_reminded", site=site, target=site)
        sent += 1
    return sent
