"""email-validator explains a refused address in English only; models.email_address.email_problem gives
each of its reasons as a message of the catalogs (issue 14), so the person reads it in their language."""
from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from flask_babel import force_locale

from models.email_address import email_problem
from tests.helpers.apps import make_test_app
from tests.helpers.catalogs import tiny_catalogs
from tests.helpers.databases import close_database

CASES = [
    ("abc", "An email address must have an @-sign."),
    ("@example.com", "There must be something before the @-sign."),
    ("ann@", "There must be something after the @-sign."),
    ("ann@" + "x" * 260 + ".com", "The email address is too long."),
    ("ann lee@example.com", "The part before the @-sign has characters an email address cannot have."),
    ('"ann"@example.com', "The part before the @-sign has characters an email address cannot have."),
    ("ann..lee@example.com", "An email address cannot start or end with a period, nor have two in a row."),
    ("ann@example.com.", "An email address cannot start or end with a period, nor have two in a row."),
    ("ann@localhost", "The part after the @-sign is not a valid domain name."),
    ("ann@-example.com", "The part after the @-sign is not a valid domain name."),
    ("ann@exa_mple.com", "The part after the @-sign is not a valid domain name."),
    ("ann@[192.0.2.1]", "The part after the @-sign is not a valid domain name."),
    ("ann@b@example.com", "The part after the @-sign is not a valid domain name."),
    ("ann@\x00.com", "The part after the @-sign is not a valid domain name."),
    ("ann@xn--zz.com", "The part after the @-sign is not a valid domain name."),
    ("ann@corp.local", "The part after the @-sign is a special-use or reserved name that cannot be used with email."),
]


def refusal(raw: str) -> EmailNotValidError:
    with pytest.raises(EmailNotValidError) as caught:
        validate_email(raw, check_deliverability=False)
    return caught.value


@pytest.mark.parametrize("raw, message", CASES)
def test_each_reason_of_email_validator_has_its_message(app, raw, message):
    with app.test_request_context():
        assert str(email_problem(refusal(raw))) == message


def test_the_reason_is_read_in_the_readers_language(database_uri, smtp, tmp_path):
    message = "There must be something before the @-sign."
    app = make_test_app(database_uri, smtp, BABEL_TRANSLATION_DIRECTORIES=tiny_catalogs(
        tmp_path, {"de": {message: "Vor dem @ fehlt etwas."}}))
    try:
        with app.test_request_context(), force_locale("de"):
            assert str(email_problem(refusal("@example.com"))) == "Vor dem @ fehlt etwas."
    finally:
        close_database(app)
