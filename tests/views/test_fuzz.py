"""Property-based fuzzing of every route of the authorization table (issue 10, Low 7): odd values in
each form field and query parameter never answer 500, and a refused request (4xx) changes nothing.

Each route is used by a persona allowed to use it (see `persona_for`), with plausible values in its
other fields so that the odd value reaches the code behind the form's first checks. One app and one
database serve every example; a request that changed the database is undone by Databases.reset.
"""
from __future__ import annotations

import hashlib
import shutil

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from models import db
from models.tool import catalog
from tests.helpers.apps import make_test_app
from tests.helpers.client import Client
from tests.helpers.databases import close_database
from tests.helpers.world import PASSWORD
from tests.helpers.servers import SMTPServer
from tests.views.test_authorization import (ANONYMOUS, EMAILS, MANAGER, OPERATOR, PRIMARY, REQUESTER, SIGN_IN,  # noqa: F401
                                            TABLE, Redirect, authz_world)

pytestmark = pytest.mark.fuzz

# Each field gets every value of ALWAYS (the inputs the review named); then EXAMPLES_PER_ROUTE generated
# ones per route. With the table's 91 routes and their 200 fields: 2,056 inputs.
ALWAYS = ("²", "99999999999999999999", "a\x00b")
EXAMPLES_PER_ROUTE = 16
MINIMUM_INPUTS = 2000

CONTACT = {"first_name": "Bill", "last_name": "Payer", "phone": "+49 30 1234567", "email": "billing@example.com",
           "address": "Hauptstr. 1", "address_line2": "", "city": "Berlin", "subdivision": "DE-BE",
           "postal_code": "10115", "country": "DE", "types": "billing"}
AUDIT_FILTERS = {"actor": "", "action": "", "member": "", "since": "2020-01-01", "until": "2030-12-31", "page": "1"}
# `{tool:key}` names a tool's id, `{name}` an id of the world.
TOOL_LEVELS = {"tool_{tool:software}": "1", "tool_{tool:support}": "0", "tool_{tool:manage_access}": "0"}

# The form fields (POST) or query parameters (GET) of each route, with a plausible value each. A route
# without any gets one unexpected parameter: odd input there must be ignored or refused as well.
FIELDS: dict[tuple[str, str], dict[str, str]] = {
    ("/sign-in", "GET"): {"next": "/settings/"},
    ("/sign-in", "POST"): {"email": "nobody@example.com", "password": PASSWORD},
    ("/sign-up", "POST"): {"email": "new@example.com", "first_name": "New", "last_name": "Person",
                           "password": PASSWORD, "confirm": PASSWORD},
    ("/forgot-password", "POST"): {"email": "nobody@example.com"},
    ("/reset-password/<token>", "POST"): {"password": PASSWORD, "confirm": PASSWORD},
    ("/first-run", "POST"): {"email": "first@example.com", "first_name": "F", "last_name": "R",
                             "password": PASSWORD, "confirm": PASSWORD},
    ("/invitations/<token>", "POST"): {"first_name": "In", "last_name": "Vitee", "password": PASSWORD,
                                       "confirm": PASSWORD},
    ("/sites/<int:site_id>/members", "GET"): {"q": "tar", "role": "user", "status": "active", "sort": "name",
                                              "page": "1"},
    ("/sites/<int:site_id>/members", "POST"): {"email": "new@example.com", "role": "user",
                                               "business_justification": "Needs it", "profile_id": "",
                                               **TOOL_LEVELS},
    ("/sites/<int:site_id>/members/check", "POST"): {"email": "someone@example.com"},
    ("/sites/<int:site_id>/members/bulk", "POST"): {"selected": "{member_a}", "action": "save",
                                                    "bulk_role_{member_a}": "user", "bulk_profile_{member_a}": ""},
    ("/sites/<int:site_id>/members/<int:membership_id>", "POST"): {"role": "user", **TOOL_LEVELS},
    ("/sites/<int:site_id>/members/<int:membership_id>/edit", "GET"): {"role": "user", "profile_id": "{profile_a}"},
    ("/sites/<int:site_id>/levels", "GET"): {"role": "user", "profile_id": "{profile_a}"},
    ("/sites/<int:site_id>/profiles", "POST"): {"name": "Fuzzed", **TOOL_LEVELS},
    ("/sites/<int:site_id>/profiles/<int:profile_id>", "POST"): {
        "name": "Renamed", "p{profile_a}-tool_{tool:software}": "1", "p{profile_a}-tool_{tool:support}": "1"},
    ("/request-access", "POST"): {"site_number": "1000", "company_name": "Acme Corp", "first_name": "Rita",
                                  "last_name": "Req", "job_title": "", "phone": "",
                                  "business_justification": "Reports"},
    ("/sites/<int:site_id>/my-access/request", "POST"): {"wanted": "{tool:support}:1",
                                                         "business_justification": "Cases"},
    ("/sites/<int:site_id>/requests", "GET"): {"status": "pending", "kind": "membership", "page": "1"},
    ("/sites/<int:site_id>/requests/<int:request_id>/approve", "POST"): {"role": "user", "profile_id": "",
                                                                         "business_justification": "", **TOOL_LEVELS},
    ("/sites/<int:site_id>/requests/<int:request_id>/reject", "POST"): {"reason": "other", "text": "No"},
    ("/sites/<int:site_id>/support", "GET"): {"q": "tar", "page": "1"},
    ("/sites/<int:site_id>/support/<int:membership_id>", "POST"): {"level": "1"},
    ("/sites/<int:site_id>/review", "GET"): {"q": "tar", "show": "", "page": "1"},
    ("/sites/<int:site_id>/review/lines/<int:line_id>", "POST"): {"decision": "confirmed"},
    ("/sites/<int:site_id>/contacts", "POST"): CONTACT,
    ("/sites/<int:site_id>/contacts/<int:contact_id>", "POST"): CONTACT,
    ("/sites/<int:site_id>/contacts/address-fields", "GET"): {"country": "DE", "prefix": "new"},
    ("/settings/", "POST"): {"first_name": "Pri", "last_name": "Mary", "language": "en", "notification_email": "",
                             "access_requests": "y", "privilege_changes": "y"},
    ("/settings/password", "POST"): {"current_password": PASSWORD, "password": PASSWORD + "!",
                                     "confirm": PASSWORD + "!"},
    ("/settings/email", "POST"): {"new_email": "moved@example.com", "current_password": PASSWORD},
    ("/sites/<int:site_id>/primary", "POST"): {"nominee": "{member_a}"},
    ("/sites/<int:site_id>/audit", "GET"): AUDIT_FILTERS,
    ("/sites/<int:site_id>/audit.csv", "GET"): AUDIT_FILTERS,
    ("/operator/audit", "GET"): AUDIT_FILTERS,
    ("/operator/audit.csv", "GET"): AUDIT_FILTERS,
    ("/sites/<int:site_id>/reports", "GET"): {"at": "2030-01-01"},
    ("/sites/<int:site_id>/reports.csv", "GET"): {"at": "2030-01-01"},
    ("/sites/<int:site_id>/documents", "POST"): {"doc_type": "invoice"},
    ("/operator/", "GET"): {"q": "acme", "page": "1"},
    ("/operator/customers", "POST"): {"name": "Fuzz Corp"},
    ("/operator/customers/<int:customer_id>/sites", "POST"): {"site_number": "7777", "name": "Fuzz site",
                                                              "kind": "additional",
                                                              "primary_email": "fuzzprimary@example.com"},
    ("/operator/sites/<int:site_id>/coverage", "POST"): {"coverage_ends_on": "2031-01-01"},
    ("/operator/sites/<int:site_id>/primary", "POST"): {"membership_id": "{member_a}", "email": "",
                                                        "justification": "Primary left"},
    ("/operator/settings", "POST"): {"signup_open": "y"},
    ("/operator/api-keys/<int:key_id>/scope", "POST"): {"scope": "customers", "customers": "{customer_a}"},
    ("/operator/api-keys", "POST"): {"name": "Fuzz app", "scope": "customers", "customers": "{customer_a}",
                                     "expires_on": "2031-01-01"},
}
UNEXPECTED = {"unexpected": "1"}

NASTY = ["", " ", "\t\n", "\x00", "a\x00b", "\x01\x07\x1b\x7f", "²", "٣", "１２", "Ⅻ", "⁹⁹", "-1", "-0", "+1",
         "0", "1.5", "1e400", "NaN", "99999999999999999999", str(2**31), str(2**63), str(2**64), "0x10",
         "%", "_", "%_%", "\\", "'", "' OR '1'='1", "1; DROP TABLE person; --", "\"><script>x</script>",
         "😀", "👩🏽‍💻", "\u202e", "\ufeff", "\u0301", "ß", "İ", "ﬁ", "/", "//evil.example", "../../etc/passwd",
         "a" * 5000, "9" * 400, "null", "[]", "{}", "a:b:c", "1:2", "user", "primary", "secondary"]
ODD = st.one_of(
    st.sampled_from(NASTY),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=8),  # digits int() may refuse
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), min_size=1, max_size=8),  # controls, NUL
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x7f), min_size=1, max_size=40),
    st.integers(min_value=101, max_value=20_000).map(lambda n: "x" * n),  # longer than any field allows
)

# Abuse counters count refused attempts by design (RELIABILITY.md): a failed sign-in or a refused
# mail request is recorded. Everything else must stay as it was.
COUNTERS = {"throttle_event": None, "person": {"failed_sign_ins", "failed_window_started_at", "locked_until"}}
EXCLUDED_PERSONAS = {403, 404, SIGN_IN, Redirect("/")}


def persona_for(case) -> str:
    """The first of these personas the table lets use the route (the primary when nobody may)."""
    for persona in (PRIMARY, OPERATOR, MANAGER, REQUESTER, ANONYMOUS):
        if case.expect[persona] not in EXCLUDED_PERSONAS:
            return persona
    return PRIMARY


def fingerprint(app) -> tuple[str, str]:
    """(everything, everything but the abuse counters) of every table, each as one digest. Read through
    the driver's own cursor: SQLAlchemy's row processing would cost more than the request fuzzed."""
    everything, kept = hashlib.sha256(), hashlib.sha256()
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for table in db.metadata.sorted_tables:
                cursor.execute(f'SELECT * FROM "{table.name}"')
                rows = sorted(map(repr, cursor.fetchall()))
                excluded = COUNTERS.get(table.name, set())
                everything.update(table.name.encode() + "\n".join(rows).encode())
                if excluded is None:
                    continue
                if excluded:
                    keep = [i for i, column in enumerate(cursor.description) if column[0] not in excluded]
                    cursor.execute(f'SELECT * FROM "{table.name}"')
                    rows = sorted(repr(tuple(row[i] for i in keep)) for row in cursor.fetchall())
                kept.update(table.name.encode() + "\n".join(rows).encode())
            raw.rollback()
        finally:
            raw.close()
    return everything.hexdigest(), kept.hexdigest()


class Fuzzer:
    """One app on a copy of the authorization world, a signed-in session (cookie and CSRF token) per
    persona, and a tally of the inputs sent."""

    def __init__(self, app, databases, template, documents, pristine_documents, ids, tools, sessions):
        self.app, self.databases, self.template = app, databases, template
        self.documents, self.pristine_documents = documents, pristine_documents
        self.ids, self.tools, self.sessions = ids, tools, sessions
        self.client = app.test_client()
        self.clean = fingerprint(app)
        self.inputs, self.routes, self.resets, self.failures = 0, set(), 0, []

    def values(self, text: str) -> str:
        return text.replace("{tool:", "{tool_").format(**self.ids, **{f"tool_{k}": v for k, v in self.tools.items()})

    def send(self, rule, method, persona, data):
        cookie, token = self.sessions[persona]
        self.client.delete_cookie("session")
        if cookie:
            self.client.set_cookie("session", cookie)
        url = self.values(TABLE[rule, method].url)
        if method == "GET":
            return self.client.get(url.split("?")[0], query_string=data)
        return self.client.post(url, data={**data, "csrf_token": token})

    def undo(self) -> None:
        """Put the database and the document files back as the world built them."""
        self.databases.reset(self.app, self.template)
        shutil.rmtree(self.documents)
        shutil.copytree(self.pristine_documents, self.documents)
        self.resets += 1


@pytest.fixture(scope="module")
def fuzzer(databases, authz_world, tmp_path_factory):
    ids, cookies, template, pristine_documents = authz_world
    documents = tmp_path_factory.mktemp("fuzz-documents") / "documents"
    shutil.copytree(pristine_documents, documents)
    uri = databases.clone(template)
    smtp = SMTPServer().start()
    # Mail is only queued (no delivery thread): the outbox row is what a test could see change.
    app = make_test_app(uri, smtp, MAIL_DELIVER_AFTER_COMMIT=False, DOCUMENTS_DIR=str(documents))
    app.test_client_class = Client
    with app.app_context():
        tools = {tool.key: tool.id for tool in catalog()}
        db.session.rollback()
    sessions = {}
    for persona in (ANONYMOUS, *EMAILS):
        client = app.test_client()
        if persona != ANONYMOUS:
            client.set_cookie("session", cookies[persona])
        token = client.csrf_token()  # kept in the session, so valid for every later post of it
        sessions[persona] = (client.get_cookie("session").value if client.get_cookie("session") else None, token)
    # Putting the session's token in place wrote nothing; start from the world as built, all the same.
    close_database(app)
    fuzzer = Fuzzer(app, databases, template, documents, pristine_documents, ids, tools, sessions)
    yield fuzzer
    close_database(app)
    smtp.stop()
    databases.drop(uri)


ROUTES = list(TABLE)


@pytest.mark.parametrize("rule, method", ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_odd_input_never_answers_500_and_a_refusal_changes_nothing(fuzzer, rule, method):
    persona = persona_for(TABLE[rule, method])
    fields = FIELDS.get((rule, method), UNEXPECTED)
    baseline = {fuzzer.values(name): fuzzer.values(value) for name, value in fields.items()}

    def one_input(field, value):
        # None: every field of the form gets the odd value at once.
        data = dict.fromkeys(baseline, value) if field is None else {**baseline, field: value}
        note(f"{method} {rule} as {persona}: {data!r}")
        response = fuzzer.send(rule, method, persona, data)
        fuzzer.inputs += 1
        status = response.status_code
        assert status < 500, f"{method} {rule} as {persona} answered {status} for {field}={value!r}"
        if "\x00" in value:
            assert status == 400, f"{method} {rule} as {persona} answered {status} for a NUL in {field}"
        after = fingerprint(fuzzer.app)
        if 400 <= status < 500 or method == "GET":
            assert after[1] == fuzzer.clean[1], \
                f"{method} {rule} as {persona} answered {status} for {field}={value!r} and changed the database"
        if after[0] != fuzzer.clean[0]:
            fuzzer.undo()

    for field in baseline:
        for value in ALWAYS:
            one_input = example(field=field, value=value)(one_input)
    settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, derandomize=True,
             suppress_health_check=list(HealthCheck))(
        given(field=st.sampled_from([*baseline, None]), value=ODD)(one_input))()
    fuzzer.routes.add((rule, method))


def test_every_route_has_fields_listed_or_none(fuzzer):
    """FIELDS names only routes of the table (a route renamed there is renamed here)."""
    stale = sorted(set(FIELDS) - set(TABLE))
    assert not stale, f"FIELDS rows for routes the table no longer has: {stale}"


def test_enough_inputs_were_tried(fuzzer):
    if fuzzer.routes != set(TABLE):
        pytest.skip("only part of the routes were fuzzed in this run")
    assert fuzzer.inputs >= MINIMUM_INPUTS, f"only {fuzzer.inputs} inputs"
    print(f"\nfuzz: {fuzzer.inputs} inputs on {len(fuzzer.routes)} routes, {fuzzer.resets} database resets")
