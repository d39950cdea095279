"""CSRF on every state-changing route, no writes on GET, security headers, cookies, hosts, mass
assignment and escaping (RELIABILITY.md "Checks worth having in the suite")."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Person, Site, db
from tests.helpers.apps import join_mail_threads, make_test_app
from tests.helpers.client import Auth, Client
from tests.helpers.mail import body_text, html_text, link_in
from tests.helpers.pages import csrf_token
from tests.helpers.state import snapshot
from tests.helpers.world import PASSWORD

OPERATOR_EMAIL = "operator@example.com"
PRIMARY_EMAIL = "primary@example.com"
XSS = "<script>alert(1)</script>"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# A form that every view would accept if only the token were there: the CSRF check, not a
# missing field, must be what refuses it.
PLAUSIBLE_FORM = {
    "email": PRIMARY_EMAIL, "password": PASSWORD, "confirm": PASSWORD, "first_name": "Eve", "last_name": "Forger",
    "name": "Forged Corp", "site_number": "666", "kind": "originating", "primary_email": "forged@example.com",
    "coverage_ends_on": "2031-01-01", "signup_open": "",
}


REQUESTER_EMAIL = "requester@example.com"


# --- helpers -----------------------------------------------------------------------------------

def settle(smtp, count: int) -> None:
    """Wait until the mail queued so far is delivered and its delivery threads are done writing."""
    if count:
        smtp.wait_for(count)
    join_mail_threads()


def rules_with(app, method: str):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static" and method in rule.methods]


def url_of(app, rule, method: str, values: dict) -> str:
    missing = [name for name in rule.arguments if name not in values]
    assert not missing, f"{method} {rule.rule}: no test value for {missing}; extend the values in this test"
    return app.url_map.bind("localhost").build(rule.endpoint, {name: values[name] for name in rule.arguments},
                                               method=method)


def set_cookie_of(response, name: str) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(name + "=")]
    assert cookies, f"no {name} cookie in {response.headers.getlist('Set-Cookie')}"
    return cookies[0]


def cookie_attributes(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}


@pytest.fixture
def sign_in_as(world, auth, smtp):
    """Build an operator and site A (primary), then sign in as `persona` (or nobody)."""

    def build(persona: str) -> int:
        world.operator(OPERATOR_EMAIL)
        site_id = world.site(PRIMARY_EMAIL)
        settle(smtp, 1)  # the primary's Welcome mail
        if persona == "operator":
            auth.sign_in(OPERATOR_EMAIL)
        elif persona == "primary":
            auth.sign_in(PRIMARY_EMAIL)
        return site_id

    return build


@pytest.fixture
def other_app(database_uri, smtp):
    """Make a second app on the same database with other settings; dispose of it afterwards."""
    made = []

    def make(**overrides):
        other = make_test_app(database_uri, smtp, **overrides)
        other.test_client_class = Client
        made.append(other)
        return other

    yield make
    join_mail_threads()
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


# --- CSRF ----------------------------------------------------------------------------------------

def _foreign_token(app) -> str:
    """A valid token, but of another browser's session."""
    other = app.test_client()
    return other.csrf_token()


@pytest.mark.parametrize("persona", ["anonymous", "primary", "operator"])
@pytest.mark.parametrize("token", ["missing", "garbage", "of another session"])
def test_every_post_route_refuses_a_request_without_its_csrf_token(app, client, sign_in_as, persona, token):
    site_id = sign_in_as(persona)
    rules = rules_with(app, "POST")
    values = {"site_id": site_id, "customer_id": 1, "token": "x" * 43, "membership_id": 1, "invitation_id": 1,
              "profile_id": 1, "request_id": 1, "contact_id": 1, "offer_id": 1, "document_id": 1, "line_id": 1, "key_id": 1, "endpoint_id": 1, "delivery_id": 1, "site_number": "1000", "email": "x@example.com"}
    form = dict(PLAUSIBLE_FORM)
    if token == "garbage":
        form["csrf_token"] = "IjNhZjQ1Ig.garbage.token"
    elif token == "of another session":
        form["csrf_token"] = _foreign_token(app)
    before = snapshot(app)
    refused, wrong = 0, []
    for rule in rules:
        response = client.post(url_of(app, rule, "POST", values), data=form)
        if response.status_code == 400 and "The form has expired" in response.get_data(as_text=True):
            refused += 1
        else:
            wrong.append(f"POST {rule.rule}: {response.status_code}")
    assert not wrong, f"accepted or answered otherwise without a valid CSRF token: {wrong}"
    assert refused == len(rules) > 0
    assert snapshot(app) == before, "a request without a valid CSRF token changed the database"
    if persona != "anonymous":
        assert "/sign-in" not in (client.get("/").location or ""), "sign-out without token ended the session"


@pytest.mark.parametrize("persona", ["anonymous", "operator"])
def test_htmx_post_without_token_asks_for_a_reload(app, client, sign_in_as, persona):
    site_id = sign_in_as(persona)
    rules = rules_with(app, "POST")
    values = {"site_id": site_id, "customer_id": 1, "token": "x" * 43, "membership_id": 1, "invitation_id": 1,
              "profile_id": 1, "request_id": 1, "contact_id": 1, "offer_id": 1, "document_id": 1, "line_id": 1, "key_id": 1, "endpoint_id": 1, "delivery_id": 1, "site_number": "1000", "email": "x@example.com"}
    before = snapshot(app)
    refreshed = 0
    for rule in rules:
        response = client.post(url_of(app, rule, "POST", values), data=PLAUSIBLE_FORM,
                               headers={"HX-Request": "true"})
        assert response.status_code == 400, f"POST {rule.rule}: {response.status_code}"
        assert response.headers.get("HX-Refresh") == "true", f"POST {rule.rule}: no HX-Refresh"
        assert response.get_data() == b""
        refreshed += 1
    assert refreshed == len(rules) > 0
    assert snapshot(app) == before


def test_htmx_post_with_token_in_header_is_accepted(client, sign_in_as):
    sign_in_as("operator")
    response = client.submit("/operator/customers", {"name": "Header Corp"}, htmx=True)
    assert response.status_code == 303


# --- no state change on GET ----------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["anonymous", "primary", "operator"])
def test_no_get_changes_the_database(app, client, world, auth, smtp, persona):
    from models import invitation as invitations
    from models import person as people

    world.operator(OPERATOR_EMAIL)
    site_a = world.site(PRIMARY_EMAIL, customer="Acme Corp")
    site_b = world.site("primary.b@example.com", customer="Beta Corp")
    target = world.member(site_a, "target@example.com", role="user")
    world.person("unverified@example.com", verified=False)
    world.person(REQUESTER_EMAIL)
    mails = 3  # two Welcome mails and the request's mail to the primary
    if persona != "anonymous":
        auth.sign_in(OPERATOR_EMAIL if persona == "operator" else PRIMARY_EMAIL)
    # Real, usable tokens, so that each page shows what it shows for a link from a mail.
    invitee = {"anonymous": "invitee@example.com", "primary": PRIMARY_EMAIL, "operator": OPERATOR_EMAIL}[persona]
    with app.app_context():
        verify = people.issue_account_token(people.find_person("unverified@example.com"), "verify_email",
                                            timedelta(days=1))
        reset = people.issue_account_token(people.find_person(PRIMARY_EMAIL), "reset_password", timedelta(hours=1))
        _invitation, invited = invitations.invite(db.session.get(Site, site_b), invitee, "user",
                                                  people.find_person("primary.b@example.com"))
        customer_a = db.session.get(Site, site_a).customer_id
        from models.access_request import submit_self_nomination
        request_id = submit_self_nomination(people.find_person(REQUESTER_EMAIL), db.session.get(Site, site_a).site_number,
                                            "Acme", {}, "reports").id
        db.session.commit()
    mails += 1
    settle(smtp, mails)
    tokens = {"auth.verify_email": verify, "auth.reset_password": reset, "invitations.show": invited,
              "settings.confirm_email_page": "x" * 43, "settings.confirm_notification_email_page": "x" * 43,
              "primacy.offer": "x" * 43}
    values = {"site_id": site_a, "customer_id": customer_a, "membership_id": target, "request_id": request_id,
              "contact_id": 1, "offer_id": 1, "document_id": 1, "key_id": 1, "endpoint_id": 1, "delivery_id": 1, "site_number": "1000", "email": "x@example.com"}

    before = snapshot(app)
    visited = 0
    for rule in rules_with(app, "GET"):
        arguments = dict(values)
        if "token" in rule.arguments:
            assert rule.endpoint in tokens, f"GET {rule.rule}: add a real token for {rule.endpoint} to this test"
            arguments["token"] = tokens[rule.endpoint]
        url = url_of(app, rule, "GET", arguments)
        for response in (client.get(url), client.htmx_get(url)):
            assert response.status_code < 500, f"GET {url}: {response.status_code}"
        settle(smtp, 0)
        after = snapshot(app)
        changed = sorted(name for name in before if after[name] != before[name])
        assert not changed, f"GET {url} as {persona} changed the tables {changed}"
        visited += 1
    assert visited == len(rules_with(app, "GET")) > 0
    # The tokens still work: showing a link's page does not spend it.
    assert client.get(f"/reset-password/{reset}").status_code == 200


# --- response headers and cookies ----------------------------------------------------------------

@pytest.mark.parametrize("persona", ["anonymous", "operator"])
def test_every_page_sends_the_security_headers(app, client, sign_in_as, persona):
    site_id = sign_in_as(persona)
    with app.app_context():
        customer_id = db.session.get(Site, site_id).customer_id
        db.session.remove()
    values = {"site_id": site_id, "customer_id": customer_id, "token": "x" * 43, "membership_id": 1, "request_id": 1, "contact_id": 1, "offer_id": 1, "document_id": 1, "key_id": 1, "endpoint_id": 1, "delivery_id": 1, "site_number": "1000", "email": "x@example.com"}
    urls = [url_of(app, rule, "GET", values) for rule in rules_with(app, "GET")]
    urls += ["/no-such-page", "/static/css/sitepass.css"]
    for url in urls:
        for response in (client.get(url), client.htmx_get(url)):
            where = f"GET {url} ({response.status_code})"
            csp = response.headers.get("Content-Security-Policy", "")
            for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'",
                              "frame-ancestors 'none'", "form-action 'self'"):
                assert directive in csp, f"{where}: CSP lacks {directive!r}: {csp!r}"
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, f"{where}: {csp!r}"
            assert response.headers.get("X-Content-Type-Options") == "nosniff", where
            assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where
            if response.mimetype == "text/html":
                assert "hx-request" in response.headers.get("Vary", "").lower(), f"{where}: Vary lacks HX-Request"
            if persona != "anonymous" and not url.startswith("/static/"):
                assert "no-store" in response.headers.get("Cache-Control", ""), f"{where}: may be cached"


def test_security_headers_on_a_refused_form(client, sign_in_as):
    sign_in_as("operator")
    response = client.submit("/operator/customers", {"name": ""})
    assert response.status_code == 422
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "hx-request" in response.headers["Vary"].lower()


def test_session_cookie_is_httponly_and_lax(app, client):
    cookie = set_cookie_of(client.get("/sign-in"), app.config["SESSION_COOKIE_NAME"])
    attributes = cookie_attributes(cookie)
    assert "httponly" in attributes
    assert "samesite=lax" in cookie.lower().replace(" ", "")
    assert "secure" not in attributes, "BASE_URL is http: a Secure cookie would never come back"


def test_session_cookie_is_secure_when_base_url_is_https(other_app):
    https_app = other_app(BASE_URL="https://sitepass.example.com")
    client = https_app.test_client()
    response = client.get("/sign-in", base_url="https://sitepass.example.com")
    assert response.status_code == 200
    cookie = set_cookie_of(response, https_app.config["SESSION_COOKIE_NAME"])
    attributes = cookie_attributes(cookie)
    assert {"secure", "httponly"} <= attributes
    assert "samesite=lax" in cookie.lower().replace(" ", "")


def test_default_trusted_hosts_is_the_host_of_base_url(other_app):
    https_app = other_app(BASE_URL="https://sitepass.example.com")
    assert https_app.config["TRUSTED_HOSTS"] == ["sitepass.example.com"]
    client = https_app.test_client()
    assert client.get("/sign-in", base_url="https://sitepass.example.com").status_code == 200
    assert client.get("/sign-in", base_url="http://localhost").status_code == 400


# --- hosts and links in mail ---------------------------------------------------------------------

def test_mail_links_come_from_base_url_not_from_the_host_header(other_app, world, smtp):
    world.person("pat@example.com")
    evil = "http://evil.example.com"
    two_hosts = other_app(TRUSTED_HOSTS=["localhost", "evil.example.com"])
    client = two_hosts.test_client()
    page = client.get("/forgot-password", base_url=evil)
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    response = client.post("/forgot-password", data={"email": "pat@example.com", "csrf_token": token}, base_url=evil)
    assert response.status_code == 303
    [message] = smtp.wait_for(1)
    link = link_in(message, "/reset-password/")
    assert link.startswith("http://localhost/reset-password/"), link
    assert "evil.example.com" not in body_text(message)
    assert "evil.example.com" not in html_text(message)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_request_for_an_untrusted_host_is_refused(client, method):
    response = client.open("/sign-in", method=method, base_url="http://evil.example.com")
    assert response.status_code == 400


def test_host_header_not_in_trusted_hosts_is_refused(client):
    assert client.get("/sign-in", headers={"Host": "evil.example.com"}).status_code == 400


# --- mass assignment -----------------------------------------------------------------------------

EXTRA_FIELDS = {"is_operator": "1", "operator": "y", "active": "1", "email_verified_at": "2020-01-01T00:00:00",
                "session_version": "0", "id": "1", "role": "primary", "language": "xx"}


def test_sign_up_ignores_extra_fields(app, client, world):
    world.operator(OPERATOR_EMAIL)
    response = client.submit("/sign-up", {"first_name": "Mal", "last_name": "Lory", "email": "mal@example.com",
                                          "password": PASSWORD, "confirm": PASSWORD, **EXTRA_FIELDS})
    assert response.status_code == 303
    with app.app_context():
        mal = db.session.scalar(sa.select(Person).where(Person.email == "mal@example.com"))
        assert mal is not None and not mal.is_operator
        assert mal.email_verified_at is None
        assert mal.id != 1
        assert db.session.scalar(sa.select(sa.func.count()).where(Person.is_operator)) == 1
        db.session.remove()
    # Sign-up signs nobody in (issue 10); signed in with its password, the account is no operator.
    assert client.get("/operator/").status_code == 302
    Auth(client).sign_in("mal@example.com")
    assert client.get("/operator/").status_code == 403


def test_accepting_an_invitation_ignores_extra_fields(app, client, world):
    from models import Membership
    from models import invitation as invitations
    from models.person import find_person

    world.operator(OPERATOR_EMAIL)
    site_id = world.site(PRIMARY_EMAIL)
    with app.app_context():
        _invitation, raw = invitations.invite(db.session.get(Site, site_id), "newbie@example.com", "user",
                                              find_person(PRIMARY_EMAIL))
        db.session.commit()
    response = client.submit(f"/invitations/{raw}", {"first_name": "New", "last_name": "Bie", "password": PASSWORD,
                                                     "confirm": PASSWORD, "site_id": "999", **EXTRA_FIELDS})
    assert response.status_code == 303
    with app.app_context():
        newbie = find_person("newbie@example.com")
        assert not newbie.is_operator
        membership = db.session.scalar(sa.select(Membership).where(Membership.person_id == newbie.id))
        assert (membership.site_id, membership.role) == (site_id, "user")
        db.session.remove()


# --- escaping ------------------------------------------------------------------------------------

def test_customer_name_is_escaped_in_the_console(client, sign_in_as):
    sign_in_as("operator")
    response = client.submit("/operator/customers", {"name": XSS})
    assert response.status_code == 303
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for page in (client.get("/operator/"), client.htmx_get("/operator/?q=script"), client.get(response.location)):
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        assert escaped in text
        assert XSS not in text
