"""Accounts: sign-up with email verification, password reset, and the first-run operator."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import AccountToken, Person, db, set_setting
from models.base import utcnow
from tests.conftest import PASSWORD
from tests.support import link_in

NEW_PASSWORD = "a brand new passphrase"


def _path(url):
    return url.removeprefix("http://localhost")


def _person(app, email):
    with app.app_context():
        return db.session.scalar(sa.select(Person).where(Person.email == email))


def test_sign_up_sends_a_verification_link_that_works(client, app, smtp, world):
    world.operator()
    response = client.submit("/sign-up", {"first_name": "Rita", "last_name": "Requester", "email": "rita@example.com",
                                          "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302
    assert _person(app, "rita@example.com").email_verified_at is None
    [message] = smtp.wait_for(1)
    assert message["To"] == "rita@example.com" and "Confirm your email" in message["Subject"]
    link = _path(link_in(message, "/verify-email/"))
    assert client.get(link).status_code == 200
    assert _person(app, "rita@example.com").email_verified_at is None, "a GET changes nothing"
    assert client.submit(link).status_code == 302
    assert _person(app, "rita@example.com").email_verified_at is not None
    assert client.get(link).status_code == 410, "single use"


@pytest.mark.parametrize("fields, message", [
    ({"email": "not-an-email"}, "Enter a valid email address"),
    ({"password": "short", "confirm": "short"}, "at least 12 characters"),
    ({"password": "password1234", "confirm": "password1234"}, "too common"),
    ({"confirm": "something else entirely"}, "do not match"),
    ({"first_name": ""}, "This field is required"),
])
def test_sign_up_refuses_bad_input_and_writes_nothing(client, app, smtp, fields, message):
    form = {"first_name": "Rita", "last_name": "Requester", "email": "rita@example.com",
            "password": PASSWORD, "confirm": PASSWORD}
    form.update(fields)
    response = client.submit("/sign-up", form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0


def test_sign_up_with_a_taken_email_is_refused(client, world):
    world.person("rita@example.com")
    response = client.submit("/sign-up", {"first_name": "R", "last_name": "R", "email": "RITA@example.com",
                                          "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 422 and "already exists" in response.get_data(as_text=True)


def test_operator_can_close_sign_up(client, app):
    with app.app_context():
        set_setting("signup_open", False)
        db.session.commit()
    assert client.get("/sign-up").status_code == 403
    assert client.submit("/sign-up", {"first_name": "R", "last_name": "R", "email": "r@example.com",
                                      "password": PASSWORD, "confirm": PASSWORD}).status_code == 403


def test_password_reset_from_the_mail(client, app, smtp, world, auth):
    world.operator()
    world.person("pat@example.com")
    response = client.submit("/forgot-password", {"email": "pat@example.com"})
    assert response.status_code == 302
    [message] = smtp.wait_for(1)
    assert message["To"] == "pat@example.com" and "Reset your Sitepass password" in message["Subject"]
    link = _path(link_in(message, "/reset-password/"))
    assert client.submit(link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    auth.sign_in("pat@example.com", NEW_PASSWORD)
    client.submit("/sign-out")
    assert client.submit("/sign-in", {"email": "pat@example.com", "password": PASSWORD}).status_code == 401
    used = client.submit(link, {"password": "yet another passphrase", "confirm": "yet another passphrase"})
    assert used.status_code == 410, "a reset link works once"
    auth.sign_in("pat@example.com", NEW_PASSWORD)


def test_password_reset_link_expires_after_an_hour(client, app, smtp, world):
    world.person("pat@example.com")
    client.submit("/forgot-password", {"email": "pat@example.com"})
    link = _path(link_in(smtp.wait_for(1)[0], "/reset-password/"))
    with app.app_context():
        token = db.session.scalar(sa.select(AccountToken))
        assert timedelta(minutes=59) < token.expires_at - utcnow() <= timedelta(hours=1)
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert client.get(link).status_code == 410
    assert client.submit(link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 410


def test_a_new_reset_link_kills_the_old_one(client, smtp, world):
    world.person("pat@example.com")
    client.submit("/forgot-password", {"email": "pat@example.com"})
    [first] = smtp.wait_for(1)
    client.submit("/forgot-password", {"email": "pat@example.com"})
    second = smtp.wait_for(2)[1]
    assert client.get(_path(link_in(first, "/reset-password/"))).status_code == 410
    assert client.get(_path(link_in(second, "/reset-password/"))).status_code == 200


def test_forgot_password_answers_the_same_for_unknown_email(client, smtp, world):
    world.person("pat@example.com")
    known = client.submit("/forgot-password", {"email": "pat@example.com"}, follow_redirects=True)
    unknown = client.submit("/forgot-password", {"email": "nobody@example.com"}, follow_redirects=True)
    strip = lambda r, e: r.get_data(as_text=True).replace(e, "EMAIL")  # noqa: E731
    assert strip(known, "pat@example.com").count("If an account uses EMAIL") == 1
    assert strip(unknown, "nobody@example.com").count("If an account uses EMAIL") == 1
    smtp.wait_for(1)
    assert [m["To"] for m in smtp.messages] == ["pat@example.com"]


def test_password_reset_ends_other_sessions(app, smtp, world):
    from tests.conftest import Auth, Client
    world.operator()
    world.person("pat@example.com")
    app.test_client_class = Client
    elsewhere, here = app.test_client(), app.test_client()
    Auth(elsewhere).sign_in("pat@example.com")
    here.submit("/forgot-password", {"email": "pat@example.com"})
    link = _path(link_in(smtp.wait_for(1)[0], "/reset-password/"))
    here.submit(link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert elsewhere.get("/").status_code == 302


def test_cli_create_operator(app):
    result = app.test_cli_runner().invoke(args=["create-operator", "ops@example.com", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert _person(app, "ops@example.com").is_operator
    again = app.test_cli_runner().invoke(args=["create-operator", "ops@example.com", "--password", PASSWORD])
    assert again.exit_code != 0 and "already exists" in again.output
    weak = app.test_cli_runner().invoke(args=["create-operator", "weak@example.com", "--password", "short"])
    assert weak.exit_code != 0 and "12 characters" in weak.output


def test_password_is_stored_with_argon2id(app, world):
    world.person("pat@example.com")
    assert _person(app, "pat@example.com").password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
