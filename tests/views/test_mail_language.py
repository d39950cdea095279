"""Mail in the recipient's language (issue 14), through the outbox and the loopback SMTP server: a
person with an account gets theirs (their choice, else the instance default, never the sender's); an
address without an account gets the inviter's (the operator's for a new site's primary), also when the
scheduler sends the reminder. Checked with a tiny catalog of the test's own (tests/helpers/catalogs.py),
so that it holds whatever wording the translators chose."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Invitation, Person, db
from models.base import utcnow
from tests.helpers.apps import join_mail_threads, make_test_app
from tests.helpers.catalogs import tiny_catalogs
from tests.helpers.databases import close_database
from tests.helpers.mail import body_text, html_text

GERMAN = {
    "You are invited to site %(site_number)s on Sitepass": "Einladung zu Standort %(site_number)s bei Sitepass",
    "%(inviter)s invites you to site %(number)s, %(name)s, as %(role)s.":
        "%(inviter)s lädt Sie zu Standort %(number)s, %(name)s, als %(role)s ein.",
    "Welcome to site %(site_number)s on Sitepass": "Willkommen bei Standort %(site_number)s auf Sitepass",
    "You now have access to site %(number)s, %(name)s, as %(role)s.":
        "Sie haben jetzt Zugang zu Standort %(number)s, %(name)s, als %(role)s.",
    "primary contact": "Hauptkontakt",
    "Primary contact": "Hauptkontakt",
    "Hello,": "Hallo,",
}
FRENCH = {
    "Reminder: your invitation to site %(site_number)s expires soon":
        "Rappel : votre invitation au site %(site_number)s expire bientôt",
    "Hello,": "Bonjour,",
}
OPERATOR = "operator@example.com"
BROWSER_DE = {"Accept-Language": "de-DE,de;q=0.9"}


@pytest.fixture
def app(database_uri, smtp, tmp_path):
    app = make_test_app(database_uri, smtp,
                        BABEL_TRANSLATION_DIRECTORIES=tiny_catalogs(tmp_path, {"de": GERMAN, "fr": FRENCH}))
    yield app
    join_mail_threads()
    close_database(app)


def set_language(app, email, language):
    with app.app_context():
        db.session.execute(sa.update(Person).where(Person.email == email).values(language=language))
        db.session.commit()


def create_site(client, primary_email, headers=()):
    client.submit("/operator/customers", {"name": "Acme Corp"}, headers=dict(headers))
    response = client.submit("/operator/customers/1/sites", {
        "site_number": "1001", "name": "Acme Berlin", "kind": "originating", "primary_email": primary_email},
        headers=dict(headers))
    assert response.status_code == 303
    return response


@pytest.fixture
def operator(world, auth):
    world.operator(OPERATOR)
    auth.sign_in(OPERATOR)


def test_a_new_sites_invitation_is_written_in_the_operators_language(app, client, operator, smtp):
    set_language(app, OPERATOR, "de")
    create_site(client, "pat@acme.example.com")
    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Einladung zu Standort 1001 bei Sitepass"
    assert "lädt Sie zu Standort 1001, Acme Berlin, als Hauptkontakt ein." in body_text(message)
    assert "lädt Sie zu Standort 1001, Acme Berlin, als Hauptkontakt ein." in html_text(message)
    assert "Hallo," in body_text(message) and '<html lang="de">' in html_text(message)


def test_an_inviter_without_a_choice_invites_in_the_language_of_their_page(client, operator, smtp):
    create_site(client, "pat@acme.example.com", headers=BROWSER_DE)
    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Einladung zu Standort 1001 bei Sitepass"


def test_a_person_with_an_account_gets_mail_in_their_language_not_the_senders(app, client, world, operator, smtp):
    world.person("pat@acme.example.com", first_name="Pat", last_name="Primary")
    set_language(app, "pat@acme.example.com", "de")
    create_site(client, "pat@acme.example.com", headers={"Accept-Language": "fr"})
    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Willkommen bei Standort 1001 auf Sitepass"
    # The role inside the sentence is a message of its own: German does not lowercase the noun.
    assert "Sie haben jetzt Zugang zu Standort 1001, Acme Berlin, als Hauptkontakt." in body_text(message)
    assert "als Hauptkontakt." in html_text(message)


def test_a_person_without_a_choice_gets_the_instance_default_whatever_the_senders_browser(world, client, operator,
                                                                                           smtp):
    world.person("pat@acme.example.com", first_name="Pat", last_name="Primary")
    create_site(client, "pat@acme.example.com", headers=BROWSER_DE)
    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Welcome to site 1001 on Sitepass"
    assert "as primary contact." in body_text(message)


def test_the_instance_default_language_writes_the_mail_of_a_person_without_a_choice(database_uri, smtp, tmp_path):
    app = make_test_app(database_uri, smtp, DEFAULT_LANGUAGE="de",
                        BABEL_TRANSLATION_DIRECTORIES=tiny_catalogs(tmp_path, {"de": GERMAN}))
    try:
        from tests.helpers.client import Auth, Client
        from tests.helpers.world import World
        app.test_client_class = Client
        client = app.test_client()
        world = World(app)
        world.operator(OPERATOR)
        world.person("pat@acme.example.com")
        Auth(client).sign_in(OPERATOR)
        create_site(client, "pat@acme.example.com", headers={"Accept-Language": "fr"})
        [message] = smtp.wait_for(1)
        assert message["Subject"] == "Willkommen bei Standort 1001 auf Sitepass"
    finally:
        join_mail_threads()
        close_database(app)


def test_the_schedulers_invitation_reminder_is_in_the_inviters_language(app, client, operator, smtp):
    create_site(client, "pat@acme.example.com")
    smtp.wait_for(1)
    set_language(app, OPERATOR, "fr")
    with app.app_context():
        db.session.execute(sa.update(Invitation).values(expires_at=utcnow() + timedelta(hours=2)))
        db.session.commit()
    assert "invitation reminders: 1" in app.test_cli_runner().invoke(args=["send-reminders"]).output
    messages = smtp.wait_for(2)
    reminder = messages[-1]
    assert reminder["Subject"] == "Rappel : votre invitation au site 1001 expire bientôt"
    assert body_text(reminder).startswith("Bonjour,")
