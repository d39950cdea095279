"""Special-use email domains (.local, .test …) are refused unless SITEPASS_EMAIL_SPECIAL_USE_DOMAINS
names them; an allowed one works end to end (sign-up, mail, confirmation)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from models import Person, RuleViolation, db
from models.person import normalize_email
from tests.helpers.apps import make_test_app
from tests.helpers.client import Client
from tests.helpers.databases import close_database
from tests.helpers.mail import link_in
from tests.helpers.world import PASSWORD

SIGN_UP = {"first_name": "Lena", "last_name": "Local", "password": PASSWORD, "confirm": PASSWORD}


def people(app):
    with app.app_context():
        found = list(db.session.scalars(sa.select(Person.email)))
        db.session.remove()
        return found


@pytest.mark.parametrize("address", ["lena@corp.local", "lena@qa.test", "lena@host.localhost", "lena@x.onion",
                                     "lena@corp.invalid"])
def test_special_use_domains_are_refused_by_default(app, client, address):
    response = client.submit("/sign-up", {**SIGN_UP, "email": address})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter a valid email address" in page and "special-use or reserved name" in page
    assert 'aria-invalid="true"' in page
    assert people(app) == []


@pytest.fixture
def local_app(database_uri, smtp):
    app = make_test_app(database_uri, smtp, EMAIL_SPECIAL_USE_DOMAINS=["local"])
    app.test_client_class = Client
    yield app
    close_database(app)


def test_a_named_special_use_domain_is_accepted_and_its_mail_works(local_app, smtp):
    client = local_app.test_client()
    response = client.submit("/sign-up", {**SIGN_UP, "email": "Lena.Local@Corp.LOCAL"})
    assert response.status_code == 303
    assert people(local_app) == ["lena.local@corp.local"]
    [message] = smtp.wait_for(1)
    assert message["To"] == "lena.local@corp.local"
    link = link_in(message, "/verify-email/").removeprefix("http://localhost")
    # Confirming takes the link and the account's password (the sign-up rule of issue 10).
    assert client.submit(link, {"password": PASSWORD}).status_code == 303
    with local_app.app_context():
        assert db.session.scalar(sa.select(Person)).email_verified_at is not None
        db.session.remove()


def test_only_the_named_domains_are_accepted(local_app):
    with local_app.app_context():
        assert normalize_email("a@ad.corp.local") == "a@ad.corp.local"
        for address in ("a@qa.test", "a@x.localhost", "a@local", "a@bad_label.local", "not-an-address.local"):
            with pytest.raises(RuleViolation):
                normalize_email(address)


def test_a_contact_email_follows_the_same_rule(app, local_app):
    from models.contact import clean_contact

    fields = {"first_name": "Lena", "last_name": "Local", "email": "lena@corp.local", "phone": "+31 20 123 4567",
              "country": "NL", "address": "Damrak 1", "city": "Amsterdam", "subdivision": "NL-NH",
              "postal_code": "1012 LG"}
    with app.app_context():
        with pytest.raises(RuleViolation) as refused:
            clean_contact(fields)
        assert refused.value.field == "email"
    with local_app.app_context():
        assert clean_contact(fields)["email"] == "lena@corp.local"


def test_the_setting_is_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SITEPASS_EMAIL_SPECIAL_USE_DOMAINS", '["local", ".test"]')
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})
    with app.app_context():
        assert normalize_email("a@b.local") == "a@b.local"
        assert normalize_email("a@b.test") == "a@b.test"
        with pytest.raises(RuleViolation):
            normalize_email("a@b.onion")
