"""The one check of an email address's form, for accounts and contacts alike.

email-validator refuses special-use domains (RFC 6761 and friends: .local, .test, .localhost, .invalid,
.onion, .arpa …) because mail to them is not globally deliverable. Many companies run their internal
mail under such a domain (an Active Directory ".local"), so the setting EMAIL_SPECIAL_USE_DOMAINS
(environment: SITEPASS_EMAIL_SPECIAL_USE_DOMAINS='["local"]') names the ones this installation accepts.
Every other special-use domain stays refused.
"""
from __future__ import annotations

import email_validator
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

# An allowed special-use suffix is checked in place of this one, which email-validator accepts as any
# other domain (RFC 6761 reserves it for documentation and asks applications not to treat it as special).
_STAND_IN = "example"


def allowed_special_use_domains() -> set[str]:
    """The special-use domain names this installation accepts (lower case, without a leading dot)."""
    names = (current_app.config.get("EMAIL_SPECIAL_USE_DOMAINS") or []) if has_app_context() else []
    if isinstance(names, str):
        names = names.split(",")
    return {str(name).strip().lstrip(".").lower() for name in names if str(name).strip()}


def _special_use_suffix(domain: str) -> str | None:
    domain = domain.lower().rstrip(".")
    for name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == name or domain.endswith("." + name):
            return name
    return None


def valid_email_address(raw: str) -> str:
    """Return the address in email-validator's normalised form, or raise EmailNotValidError.

    Syntax only (no DNS). A special-use domain passes only when EMAIL_SPECIAL_USE_DOMAINS names it;
    it is then checked like any other domain (its labels, its length) and given back as it was.
    """
    raw = (raw or "").strip()
    local, at, domain = raw.rpartition("@")
    suffix = _special_use_suffix(domain) if at else None
    if suffix is None or suffix not in allowed_special_use_domains():
        return validate_email(raw, check_deliverability=False).normalized
    stand_in = domain.rstrip(".")[: -len(suffix)] + _STAND_IN
    normalized = validate_email(f"{local}@{stand_in}", check_deliverability=False).normalized
    return normalized[: -len(_STAND_IN)] + suffix


# email-validator explains in English only: its reasons, by the words that start them, as messages of
# the catalogs (the first that matches; the last one is for every reason not listed).
_REASONS = (
    (("special-use or reserved name",),
     _l("The part after the @-sign is a special-use or reserved name that cannot be used with email.")),
    (("An email address must have an @-sign",), _l("An email address must have an @-sign.")),
    (("There must be something before the @-sign",), _l("There must be something before the @-sign.")),
    (("There must be something after the @-sign",), _l("There must be something after the @-sign.")),
    (("The email address is too long",), _l("The email address is too long.")),
    (("The email address contains invalid characters before", "Quoting the part before", "The part before"),
     _l("The part before the @-sign has characters an email address cannot have.")),
    (("after the @-sign", "A bracketed IP address", "hyphen", "The domain name", "The part after"),
     _l("The part after the @-sign is not a valid domain name.")),
    (("period",), _l("An email address cannot start or end with a period, nor have two in a row.")),
    (("",), _l("It is not written as an email address is.")),
)


def email_problem(error: EmailNotValidError):
    """What is wrong with an address email-validator refused, in the reader's language."""
    text = str(error)
    return next(message for starts, message in _REASONS if any(start in text for start in starts))


__all__ = ["EmailNotValidError", "allowed_special_use_domains", "email_problem", "valid_email_address"]
