"""Signing in and out, with the session and throttle rules of RELIABILITY.md."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Person, db
from models.base import utcnow
from tests.helpers.apps import make_test_app
from tests.helpers.client import Client
from tests.helpers.state import let_time_pass
from tests.helpers.world import PASSWORD


def test_first_start_leads_to_first_run_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response.location.endswith("/first-run")
    assert "No operator exists yet" in client.get("/first-run").get_data(as_text=True)


def test_first_run_creates_operator_once(client, app):
    response = client.submit("/first-run", {"first_name": "Olga", "last_name": "Op", "email": "Olga@Example.com",
                                            "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/operator/")
    assert client.get("/operator/").status_code == 200
    with app.app_context():
        olga = db.session.scalar(sa.select(Person))
        assert olga.email == "olga@example.com" and olga.is_operator
    assert client.get("/first-run").status_code == 404


def test_sign_in_and_out(client, world, auth):
    world.operator()
    world.person("pat@example.com")
    auth.sign_in("pat@example.com")
    assert client.get("/").status_code == 200
    auth.sign_out()
    response = client.get("/")
    assert response.status_code == 302 and "/sign-in" in response.location


@pytest.mark.parametrize("email, password", [
    ("pat@example.com", "wrong password here"),
    ("nobody@example.com", PASSWORD),
    ("PAT@example.com", "wrong password here"),
])
def test_wrong_credentials_get_one_answer(client, world, email, password):
    world.operator()
    world.person("pat@example.com")
    response = client.submit("/sign-in", {"email": email, "password": password})
    assert response.status_code == 401
    assert "Wrong email or password, or the account is locked" in response.get_data(as_text=True)
    assert client.get("/operator/").status_code == 302


def test_email_is_case_insensitive_at_sign_in(client, world, auth):
    world.person("pat@example.com")
    auth.sign_in("Pat@Example.COM")


def test_ten_failures_lock_the_account_for_fifteen_minutes(client, world, app):
    world.person("pat@example.com")
    for _ in range(10):
        assert client.submit("/sign-in", {"email": "pat@example.com", "password": "not the password"}).status_code == 401
    locked = client.submit("/sign-in", {"email": "pat@example.com", "password": PASSWORD})
    assert locked.status_code == 401, "the right password must not get in while locked"
    unknown = client.submit("/sign-in", {"email": "nobody@example.com", "password": PASSWORD})
    assert locked.get_data(as_text=True).count("Wrong email or password") == \
        unknown.get_data(as_text=True).count("Wrong email or password") == 1
    with app.app_context():
        pat = db.session.scalar(sa.select(Person).where(Person.email == "pat@example.com"))
        assert pat.locked_until - utcnow() > timedelta(minutes=14)
        pat.locked_until = utcnow() - timedelta(seconds=1)  # fifteen minutes later
        db.session.commit()
    assert client.submit("/sign-in", {"email": "pat@example.com", "password": PASSWORD}).status_code == 303


def test_nine_failures_do_not_lock(client, world):
    world.person("pat@example.com")
    for _ in range(9):
        client.submit("/sign-in", {"email": "pat@example.com", "password": "not the password"})
    assert client.submit("/sign-in", {"email": "pat@example.com", "password": PASSWORD}).status_code == 303


def test_throttle_is_counted_in_the_database_across_clients(app, world):
    world.person("pat@example.com")
    from tests.helpers.client import Client
    app.test_client_class = Client
    for _ in range(10):
        app.test_client().submit("/sign-in", {"email": "pat@example.com", "password": "not the password"})
    assert app.test_client().submit("/sign-in", {"email": "pat@example.com", "password": PASSWORD}).status_code == 401


def test_sign_in_starts_a_new_session(client, world, auth):
    world.person("pat@example.com")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    auth.sign_in("pat@example.com")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_sign_out_ends_every_copy_of_the_session(app, world):
    from tests.helpers.client import Auth, Client
    world.person("pat@example.com")
    app.test_client_class = Client
    laptop, phone = app.test_client(), app.test_client()
    Auth(laptop).sign_in("pat@example.com")
    Auth(phone).sign_in("pat@example.com")
    with laptop.session_transaction() as session:
        copied = dict(session)
    Auth(laptop).sign_out()
    assert phone.get("/").status_code == 302
    with laptop.session_transaction() as session:
        session.update(copied)  # replay the old cookie
    assert laptop.get("/").status_code == 302


def test_idle_timeout_is_enforced_by_the_server(client, world, auth):
    world.person("pat@example.com")
    auth.sign_in("pat@example.com")
    with client.session_transaction() as session:
        session["seen_at"] -= 31 * 60
    response = client.get("/")
    assert response.status_code == 302 and "/sign-in" in response.location


def test_activity_keeps_the_session_alive(client, world, auth):
    world.operator()
    world.person("pat@example.com")
    auth.sign_in("pat@example.com")
    with client.session_transaction() as session:
        session["seen_at"] -= 29 * 60
    assert client.get("/").status_code == 200


def test_activity_moves_the_idle_limit_on(client, world, auth):
    world.operator()
    world.person("pat@example.com")
    auth.sign_in("pat@example.com")
    for _ in range(2):
        # 29 minutes idle, then a request: the session lives 30 minutes from this request on.
        with client.session_transaction() as session:
            session["seen_at"] -= 29 * 60
            session["signed_in_at"] -= 29 * 60
        assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["seen_at"] -= 31 * 60
    assert client.get("/").status_code == 302


def test_a_request_within_the_minute_leaves_the_session_cookie_alone(client, world, auth):
    # The last activity moves on once a minute: an answer within it sends no new session cookie.
    world.operator()
    world.person("pat@example.com")
    auth.sign_in("pat@example.com")
    assert client.get("/").status_code == 200
    response = client.get("/")
    assert response.status_code == 200
    assert not any(header.startswith("session=") for header in response.headers.getlist("Set-Cookie"))
    with client.session_transaction() as session:
        session["seen_at"] -= 61
    response = client.get("/")
    assert any(header.startswith("session=") for header in response.headers.getlist("Set-Cookie"))


def test_absolute_timeout_is_enforced_by_the_server(client, world, auth):
    world.person("pat@example.com")
    auth.sign_in("pat@example.com")
    with client.session_transaction() as session:
        session["signed_in_at"] -= 12 * 3600 + 1
    assert client.get("/").status_code == 302


def test_htmx_request_with_expired_session_gets_hx_redirect(client, world, auth):
    world.site("primary@example.com")
    auth.sign_in("primary@example.com")
    with client.session_transaction() as session:
        session["seen_at"] -= 31 * 60
    response = client.htmx_get("/sites/1/")
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/sign-in"
    assert response.get_data() == b""


def test_redirect_after_sign_in_stays_on_this_site(client, world):
    world.person("pat@example.com")
    response = client.submit("/sign-in?next=https://evil.example/", {"email": "pat@example.com", "password": PASSWORD})
    assert response.location == "/"
    client.submit("/sign-out")
    response = client.submit("/sign-in?next=/sites/1/", {"email": "pat@example.com", "password": PASSWORD})
    assert response.location == "/sites/1/"


def test_deactivated_person_is_out_at_the_next_request(client, world, auth, app):
    world.person("pat@example.com")
    auth.sign_in("pat@example.com")
    with app.app_context():
        db.session.execute(sa.update(Person).values(active=False))
        db.session.commit()
    assert client.get("/").status_code == 302


# --- a budget of failures per client address, across accounts (issue 10, Low 9) -------------------

def _try(app, email, password, remote_addr, forwarded_for=None):
    app.test_client_class = Client
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return app.test_client().submit("/sign-in", {"email": email, "password": password},
                                    environ_base={"REMOTE_ADDR": remote_addr}, headers=headers).status_code


def test_one_client_spraying_many_accounts_is_stopped_with_the_same_answer(app, world):
    # Before the fix one client could try a password on every account: only accounts were counted.
    world.operator("ops@example.com")
    victims = [f"person{number}@example.com" for number in range(12)]
    for email in victims:
        world.person(email)
    sprayer, other = "203.0.113.9", "198.51.100.4"
    for attempt in range(30):
        email = victims[attempt % len(victims)] if attempt % 3 else f"nobody{attempt}@example.com"
        assert _try(app, email, "Spring2026-password!", sprayer) == 401
    app.test_client_class = Client
    refused = app.test_client().submit("/sign-in", {"email": "ops@example.com", "password": PASSWORD},
                                       environ_base={"REMOTE_ADDR": sprayer})
    assert refused.status_code == 401, "beyond 30 failures the client is refused, operators' accounts too"
    assert "Wrong email or password, or the account is locked" in refused.get_data(as_text=True)
    assert _try(app, "person0@example.com", PASSWORD, sprayer) == 401
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)
                                 .where(Person.locked_until.is_not(None))) == 0, "no account was locked by it"
    assert _try(app, "ops@example.com", PASSWORD, other) == 303, "another client is not refused"
    let_time_pass(app, timedelta(minutes=15, seconds=1))
    assert _try(app, "ops@example.com", PASSWORD, sprayer) == 303, "the refusal lasts until the failures age out"


def test_twenty_nine_failures_from_one_client_do_not_stop_it(app, world):
    world.person("pat@example.com")
    for attempt in range(29):
        assert _try(app, f"nobody{attempt}@example.com", PASSWORD, "203.0.113.9") == 401
    assert _try(app, "pat@example.com", PASSWORD, "203.0.113.9") == 303


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(database_uri, smtp, world):
    # Behind nginx every request comes from 127.0.0.1: without TRUSTED_PROXIES one sprayer would use
    # up the budget of every client; with it, the address nginx appends is the one counted.
    proxied = make_test_app(database_uri, smtp, TRUSTED_PROXIES=1)
    world.person("pat@example.com")
    for _ in range(30):
        assert _try(proxied, "nobody@example.com", "wrong password!", "127.0.0.1", "203.0.113.9") == 401
    assert _try(proxied, "pat@example.com", PASSWORD, "127.0.0.1", "203.0.113.9") == 401, "the sprayer's budget is spent"
    assert _try(proxied, "pat@example.com", PASSWORD, "127.0.0.1", "198.51.100.4") == 303, "another client behind the same proxy signs in"


def test_without_trusted_proxies_a_forwarded_address_is_ignored(app, world):
    # A client cannot escape its budget by naming another address in X-Forwarded-For.
    world.person("pat@example.com")
    for attempt in range(30):
        assert _try(app, "nobody@example.com", "wrong password!", "127.0.0.1", f"198.51.100.{attempt}") == 401
    assert _try(app, "pat@example.com", PASSWORD, "127.0.0.1") == 401
