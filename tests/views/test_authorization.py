"""Who may do what: one table of every URL rule and method, with the answer each persona gets.

A rule or method registered in the app but missing from TABLE fails
`test_table_lists_every_rule_and_method`: whoever adds a route adds its row here.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from models import Site, db

ANONYMOUS, REQUESTER, USER, SECONDARY, PRIMARY, OPERATOR = PERSONAS = (
    "anonymous", "requester", "user", "secondary", "primary", "operator")

EMAILS = {
    REQUESTER: "requester@example.com",
    USER: "user@example.com",
    SECONDARY: "secondary@example.com",
    PRIMARY: "primary@example.com",
    OPERATOR: "operator@example.com",
}
SITE_B_PRIMARY = "primary.b@example.com"
SITE_B_NAME = "Beta Plant"
UNKNOWN_ID = 987654

# Methods Werkzeug adds to every rule by itself; the table lists the ones a view declares.
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Redirect:
    """A 302 to this path (the query string, e.g. ?next=, is not compared)."""
    to: str
    status: int = 302


SIGN_IN = Redirect("/sign-in")


@dataclass(frozen=True)
class Case:
    """How to build the URL (str.format over the world's ids and a random token) and what each persona gets."""
    url: str
    expect: dict
    form: dict = field(default_factory=dict)


def everyone(outcome):
    return dict.fromkeys(PERSONAS, outcome)


def signed_in(anonymous, others):
    return {ANONYMOUS: anonymous, **dict.fromkeys(PERSONAS[1:], others)}


def operator_only(allowed):
    """Anonymous is sent to sign in, every signed-in non-operator gets 403."""
    return {**signed_in(SIGN_IN, 403), OPERATOR: allowed}


def site_members(allowed):
    """Members of the site and operators get in; a signed-in non-member gets 404 (existence not told)."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: allowed, SECONDARY: allowed, PRIMARY: allowed,
            OPERATOR: allowed}


TABLE: dict[tuple[str, str], Case] = {
    # --- auth ---------------------------------------------------------------------------------
    ("/sign-in", "GET"): Case("/sign-in", everyone(200)),
    ("/sign-in", "POST"): Case("/sign-in", everyone(422)),
    # Anonymous: login_required; signed in: signed out and sent to Sign in.
    ("/sign-out", "POST"): Case("/sign-out", everyone(SIGN_IN)),
    ("/sign-up", "GET"): Case("/sign-up", signed_in(200, Redirect("/"))),
    ("/sign-up", "POST"): Case("/sign-up", signed_in(422, Redirect("/"))),
    ("/verify-email/<token>", "GET"): Case("/verify-email/{token}", everyone(410)),
    ("/verify-email/<token>", "POST"): Case("/verify-email/{token}", everyone(410)),
    ("/verify-email/resend", "POST"): Case("/verify-email/resend", signed_in(SIGN_IN, Redirect("/"))),
    ("/forgot-password", "GET"): Case("/forgot-password", everyone(200)),
    ("/forgot-password", "POST"): Case("/forgot-password", everyone(422)),
    ("/reset-password/<token>", "GET"): Case("/reset-password/{token}", everyone(410)),
    ("/reset-password/<token>", "POST"): Case("/reset-password/{token}", everyone(410)),
    # An operator exists, so the first-run page is gone for everyone.
    ("/first-run", "GET"): Case("/first-run", everyone(404)),
    ("/first-run", "POST"): Case("/first-run", everyone(404)),
    # --- invitations --------------------------------------------------------------------------
    ("/invitations/<token>", "GET"): Case("/invitations/{token}", everyone(404)),
    ("/invitations/<token>", "POST"): Case("/invitations/{token}", everyone(404)),
    # --- sites --------------------------------------------------------------------------------
    ("/", "GET"): Case("/", {ANONYMOUS: SIGN_IN, REQUESTER: 200, USER: Redirect("/sites/{site_a}/"),
                             SECONDARY: Redirect("/sites/{site_a}/"), PRIMARY: Redirect("/sites/{site_a}/"),
                             OPERATOR: Redirect("/operator/")}),
    ("/sites/<int:site_id>/", "GET"): Case("/sites/{site_a}/", site_members(200)),
    # --- operator console ---------------------------------------------------------------------
    ("/operator/", "GET"): Case("/operator/", operator_only(200)),
    ("/operator/customers", "POST"): Case("/operator/customers", operator_only(422)),
    ("/operator/customers/<int:customer_id>", "GET"): Case("/operator/customers/{customer_a}", operator_only(200)),
    ("/operator/customers/<int:customer_id>/sites", "POST"):
        Case("/operator/customers/{customer_a}/sites", operator_only(422)),
    ("/operator/sites/<int:site_id>", "GET"): Case("/operator/sites/{site_a}", operator_only(200)),
    ("/operator/sites/<int:site_id>/coverage", "POST"):
        Case("/operator/sites/{site_a}/coverage", operator_only(422), form={"coverage_ends_on": "not-a-date"}),
    # The settings form has nothing to get wrong: resend the current value (sign-up open).
    ("/operator/settings", "POST"):
        Case("/operator/settings", operator_only(Redirect("/operator/")), form={"signup_open": "y"}),
}


def build_world(world, app, persona: str | None = None, with_site_b: bool = False) -> dict:
    """Operator and site A with its primary, the persona's own account, and site B of another customer.

    Only what the test needs is built (each account costs an argon2 hash): the persona's account,
    and site B when asked for.
    """
    world.operator(EMAILS[OPERATOR])
    site_a = world.site(EMAILS[PRIMARY], customer="Acme Corp", name="Acme Works")
    if persona in (USER, SECONDARY):
        world.member(site_a, EMAILS[persona], role=persona)
    elif persona == REQUESTER:
        world.person(EMAILS[REQUESTER])
    site_b = world.site(SITE_B_PRIMARY, customer="Beta Corp", name=SITE_B_NAME) if with_site_b else UNKNOWN_ID
    with app.app_context():
        customer_a = db.session.get(Site, site_a).customer_id
        customer_b = db.session.get(Site, site_b).customer_id if with_site_b else UNKNOWN_ID
        db.session.rollback()
    return {"site_a": site_a, "site_b": site_b, "customer_a": customer_a, "customer_b": customer_b,
            "token": secrets.token_urlsafe(32)}


def send(client, method: str, url: str, form: dict | None = None):
    """GET as is; anything else with a valid CSRF token (form field for POST, header otherwise)."""
    if method == "GET":
        return client.get(url)
    token = client.csrf_token()
    if method == "POST":
        return client.post(url, data={**(form or {}), "csrf_token": token})
    return client.open(url, method=method, headers={"X-CSRFToken": token})


def assert_outcome(response, expected, ids, label):
    if isinstance(expected, Redirect):
        assert response.status_code == expected.status, f"{label}: {response.status_code}, expected {expected}"
        target = expected.to.format(**ids)
        assert urlsplit(response.location).path == target, f"{label}: to {response.location}, expected {target}"
    else:
        assert response.status_code == expected, f"{label}: {response.status_code}, expected {expected}"


def _case_id(rule, method, persona):
    return f"{method} {rule} as {persona}"


CASES = [(rule, method, persona) for (rule, method) in TABLE for persona in PERSONAS]


def test_table_lists_every_rule_and_method(app):
    registered = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
                  for method in rule.methods - IMPLICIT_METHODS}
    missing = sorted(registered - TABLE.keys())
    assert not missing, f"routes missing from the authorization TABLE, add a row for each: {missing}"
    stale = sorted(TABLE.keys() - registered)
    assert not stale, f"TABLE rows for routes the app no longer has: {stale}"


@pytest.mark.parametrize("rule, method", list(TABLE), ids=[f"{m} {r}" for r, m in TABLE])
def test_table_row_is_complete_and_reaches_its_rule(app, rule, method):
    case = TABLE[rule, method]
    assert set(case.expect) == set(PERSONAS), f"{method} {rule}: expected outcome for each of {PERSONAS}"
    ids = {"site_a": 1, "site_b": 2, "customer_a": 1, "customer_b": 2, "token": "abc"}
    adapter = app.url_map.bind("localhost")
    matched, _args = adapter.match(case.url.format(**ids), method=method, return_rule=True)
    assert matched.rule == rule, f"{case.url} reaches {matched.rule}, not {rule}"


@pytest.mark.parametrize("rule, method, persona", CASES, ids=[_case_id(*case) for case in CASES])
def test_persona_gets_expected_answer(app, client, auth, world, rule, method, persona):
    ids = build_world(world, app, persona)
    if persona != ANONYMOUS:
        auth.sign_in(EMAILS[persona])
    case = TABLE[rule, method]
    response = send(client, method, case.url.format(**ids), case.form)
    assert_outcome(response, case.expect[persona], ids, _case_id(rule, method, persona))


# "/" is left out: the landing page sends the anonymous to Sign in by itself (no login_required),
# and no htmx request targets it.
SIGN_IN_FIRST = [(rule, method) for (rule, method), case in TABLE.items()
                 if case.expect[ANONYMOUS] == SIGN_IN and rule != "/"]


@pytest.mark.parametrize("rule, method", SIGN_IN_FIRST, ids=[f"{m} {r}" for r, m in SIGN_IN_FIRST])
def test_anonymous_htmx_request_gets_hx_redirect_to_sign_in(app, client, world, rule, method):
    ids = build_world(world, app)
    url = TABLE[rule, method].url.format(**ids)
    if method == "GET":
        response = client.htmx_get(url)
    else:
        response = client.submit(url, TABLE[rule, method].form, htmx=True)
    # 401 with HX-Redirect rather than a 302: htmx would swap the sign-in page into the target.
    assert response.status_code == 401
    assert response.headers.get("HX-Redirect") == "/sign-in"
    assert response.get_data() == b""


# --- cross-site id substitution and unknown ids ---------------------------------------------------

@pytest.mark.parametrize("persona", [REQUESTER, USER, SECONDARY, PRIMARY])
def test_member_of_site_a_gets_404_for_site_b(app, client, auth, world, persona):
    ids = build_world(world, app, persona, with_site_b=True)
    auth.sign_in(EMAILS[persona])
    response = client.get(f"/sites/{ids['site_b']}/")
    assert response.status_code == 404
    assert SITE_B_NAME not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Site, ids["site_b"]).name == SITE_B_NAME, "site B exists: the 404 hides it"
        db.session.rollback()
    response = client.htmx_get(f"/sites/{ids['site_b']}/")
    assert response.status_code == 404


@pytest.mark.parametrize("persona", [REQUESTER, USER, PRIMARY, OPERATOR])
def test_unknown_site_gets_404(app, client, auth, world, persona):
    build_world(world, app, persona)
    auth.sign_in(EMAILS[persona])
    assert client.get(f"/sites/{UNKNOWN_ID}/").status_code == 404


OPERATOR_ROUTES_WITH_IDS = [(rule, method) for (rule, method) in TABLE
                            if rule.startswith("/operator/") and "<int:" in rule]


@pytest.mark.parametrize("rule, method", OPERATOR_ROUTES_WITH_IDS,
                         ids=[f"{m} {r}" for r, m in OPERATOR_ROUTES_WITH_IDS])
def test_operator_route_with_unknown_id_gets_404(app, client, auth, world, rule, method):
    build_world(world, app, OPERATOR)
    auth.sign_in(EMAILS[OPERATOR])
    case = TABLE[rule, method]
    unknown = {"site_a": UNKNOWN_ID, "site_b": UNKNOWN_ID, "customer_a": UNKNOWN_ID, "customer_b": UNKNOWN_ID,
               "token": "x"}
    response = send(client, method, case.url.format(**unknown), case.form)
    assert response.status_code == 404
