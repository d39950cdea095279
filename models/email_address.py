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


__all__ = ["EmailNotValidError", "allowed_special_use_domains", "valid_email_address"]
