"""Who may do what: one table of every URL rule and method, with the answer each persona gets.

A rule or method registered in the app but missing from TABLE fails
`test_table_lists_every_rule_and_method`: whoever adds a route adds its row here.
"""
from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from models import Site, db
from tests.helpers.apps import make_test_app
from tests.helpers.client import Auth, Client
from tests.helpers.databases import close_database
from tests.helpers.servers import SMTPServer
from tests.helpers.world import World

# A secondary starts with no account-management privilege; a manager is a secondary with Manage access = Update.
ANONYMOUS, REQUESTER, USER, SECONDARY, MANAGER, PRIMARY, OPERATOR = PERSONAS = (
    "anonymous", "requester", "user", "secondary", "manager", "primary", "operator")

EMAILS = {
    REQUESTER: "requester@example.com",
    USER: "user@example.com",
    SECONDARY: "secondary@example.com",
    MANAGER: "manager@example.com",
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
    """A redirect to this path (the query string, e.g. ?next=, is not compared): 303 See Other after a POST,
    302 Found after a GET."""
    to: str


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


def site_members(allowed, operator=None):
    """Members of the site and operators get in; a signed-in non-member gets 404 (existence not told)."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: allowed, SECONDARY: allowed, MANAGER: allowed,
            PRIMARY: allowed, OPERATOR: allowed if operator is None else operator}


def manage_view(allowed):
    """Manage access >= View: the primary, a manager, and operators (who see every site); other members 403."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: 403, SECONDARY: 403, MANAGER: allowed, PRIMARY: allowed,
            OPERATOR: allowed}


def contact_updates(allowed, operator=None):
    """Contact updates >= View (Update when operator is 403): the primary; nobody else in this world holds it."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: 403, SECONDARY: 403, MANAGER: 403, PRIMARY: allowed,
            OPERATOR: allowed if operator is None else operator}


def primary_only(allowed):
    """The site's primary contact; other members and operators 403, non-members 404."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: 403, SECONDARY: 403, MANAGER: 403, PRIMARY: allowed,
            OPERATOR: 403}


def reporting_view(allowed):
    """Reporting = View: the primary (and operators); nobody else in this world holds it."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: 403, SECONDARY: 403, MANAGER: 403, PRIMARY: allowed,
            OPERATOR: allowed}


def documents_view(allowed):
    """Account-related documents = View: the primary (and operators); nobody else in this world holds it."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: 403, SECONDARY: 403, MANAGER: 403, PRIMARY: allowed,
            OPERATOR: allowed}


def uploaders(allowed):
    """Operators and the site's primary contact upload and delete documents; other members 403."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: 403, SECONDARY: 403, MANAGER: 403, PRIMARY: allowed,
            OPERATOR: allowed}


def support_managers(allowed, operator=None):
    """The primary, site technical contacts and support Administrators (here: the primary); operators look."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: 403, SECONDARY: 403, MANAGER: 403, PRIMARY: allowed,
            OPERATOR: allowed if operator is None else operator}


def manage_update(manager, primary=None):
    """Manage access = Update: the primary and a manager; operators change nothing through member pages."""
    return {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: 403, SECONDARY: 403, MANAGER: manager,
            PRIMARY: manager if primary is None else primary, OPERATOR: 403}


TABLE: dict[tuple[str, str], Case] = {
    # --- auth ---------------------------------------------------------------------------------
    ("/sign-in", "GET"): Case("/sign-in", everyone(200)),
    ("/sign-in", "POST"): Case("/sign-in", everyone(422)),
    # Anonymous: login_required; signed in: signed out and sent to Sign in.
    ("/sign-out", "POST"): Case("/sign-out", everyone(SIGN_IN)),
    # The sign-in page's language switcher: anyone may choose (it only sets the session's language) and
    # goes back to where the page was going.
    ("/language", "POST"): Case("/language?next=/sign-up", everyone(Redirect("/sign-up")), form={"language": "de"}),
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
    # For monitors: open to everyone, no session needed.
    ("/healthz", "GET"): Case("/healthz", everyone(200)),
    ("/first-run", "POST"): Case("/first-run", everyone(404)),
    # --- invitations --------------------------------------------------------------------------
    ("/invitations/<token>", "GET"): Case("/invitations/{token}", everyone(404)),
    ("/invitations/<token>", "POST"): Case("/invitations/{token}", everyone(404)),
    # --- sites --------------------------------------------------------------------------------
    ("/", "GET"): Case("/", {ANONYMOUS: SIGN_IN, REQUESTER: 200, USER: Redirect("/sites/{site_a}/"),
                             SECONDARY: Redirect("/sites/{site_a}/"), MANAGER: Redirect("/sites/{site_a}/"),
                             PRIMARY: Redirect("/sites/{site_a}/"), OPERATOR: Redirect("/operator/")}),
    ("/sites/<int:site_id>/", "GET"): Case("/sites/{site_a}/", site_members(200)),
    # --- manage access (members) ---------------------------------------------------------------
    ("/sites/<int:site_id>/members", "GET"): Case("/sites/{site_a}/members", manage_view(200)),
    ("/sites/<int:site_id>/members", "POST"): Case("/sites/{site_a}/members", manage_update(422)),
    ("/sites/<int:site_id>/members/new", "GET"): Case("/sites/{site_a}/members/new", manage_update(200)),
    ("/sites/<int:site_id>/members/check", "POST"):
        Case("/sites/{site_a}/members/check", manage_update(200), form={"email": "someone@example.com"}),
    ("/sites/<int:site_id>/members/bulk", "POST"): Case("/sites/{site_a}/members/bulk", manage_update(422)),
    ("/sites/<int:site_id>/members/<int:membership_id>", "GET"):
        Case("/sites/{site_a}/members/{member_a}", manage_view(200)),
    ("/sites/<int:site_id>/members/<int:membership_id>", "POST"):
        Case("/sites/{site_a}/members/{member_a}", manage_update(422)),
    ("/sites/<int:site_id>/members/<int:membership_id>/edit", "GET"):
        Case("/sites/{site_a}/members/{member_a}/edit", manage_update(200)),
    ("/sites/<int:site_id>/members/<int:membership_id>/remove", "POST"):
        Case("/sites/{site_a}/members/{member_a}/remove", manage_update(Redirect("/sites/{site_a}/members"))),
    ("/sites/<int:site_id>/levels", "GET"): Case("/sites/{site_a}/levels?profile_id={profile_a}", manage_update(200)),
    ("/sites/<int:site_id>/invitations/<int:invitation_id>/resend", "POST"):
        Case("/sites/{site_a}/invitations/{invitation_a}/resend", manage_update(Redirect("/sites/{site_a}/members"))),
    ("/sites/<int:site_id>/invitations/<int:invitation_id>/revoke", "POST"):
        Case("/sites/{site_a}/invitations/{invitation_a}/revoke", manage_update(Redirect("/sites/{site_a}/members"))),
    ("/sites/<int:site_id>/profiles", "GET"): Case("/sites/{site_a}/profiles", manage_view(200)),
    ("/sites/<int:site_id>/profiles", "POST"): Case("/sites/{site_a}/profiles", manage_update(422)),
    ("/sites/<int:site_id>/profiles/<int:profile_id>", "POST"):
        Case("/sites/{site_a}/profiles/{profile_a}", manage_update(422)),
    # Only the primary edits profiles: a manager's delete is refused in place.
    ("/sites/<int:site_id>/profiles/<int:profile_id>/delete", "POST"):
        Case("/sites/{site_a}/profiles/{profile_a}/delete", manage_update(422, Redirect("/sites/{site_a}/profiles"))),
    ("/sites/<int:site_id>/my-access", "GET"): Case("/sites/{site_a}/my-access", site_members(200, operator=404)),
    # --- access requests ----------------------------------------------------------------------
    ("/request-access", "GET"): Case("/request-access", signed_in(SIGN_IN, 200)),
    ("/request-access", "POST"): Case("/request-access", signed_in(SIGN_IN, 422)),
    ("/my-requests", "GET"): Case("/my-requests", signed_in(SIGN_IN, 200)),
    # Only the requester's own request can be withdrawn; anyone else is told nothing (404).
    ("/my-requests/<int:request_id>/withdraw", "POST"):
        Case("/my-requests/{request_a}/withdraw", {**signed_in(SIGN_IN, 404), REQUESTER: Redirect("/my-requests")}),
    ("/sites/<int:site_id>/my-access/request", "POST"):
        Case("/sites/{site_a}/my-access/request", site_members(422, operator=404)),
    ("/sites/<int:site_id>/requests", "GET"): Case("/sites/{site_a}/requests", manage_update(200)),
    ("/sites/<int:site_id>/requests/badge", "GET"): Case("/sites/{site_a}/requests/badge", manage_update(200)),
    ("/sites/<int:site_id>/requests/<int:request_id>", "GET"):
        Case("/sites/{site_a}/requests/{request_a}", manage_update(200)),
    ("/sites/<int:site_id>/requests/<int:request_id>/approve", "POST"):
        Case("/sites/{site_a}/requests/{request_a}/approve", manage_update(Redirect("/sites/{site_a}/requests")),
             form={"role": "user"}),
    ("/sites/<int:site_id>/requests/<int:request_id>/reject", "POST"):
        Case("/sites/{site_a}/requests/{request_a}/reject", manage_update(422)),
    # --- support access ------------------------------------------------------------------------
    ("/sites/<int:site_id>/support", "GET"): Case("/sites/{site_a}/support", support_managers(200)),
    # No level given: refused in place for a support manager; operators change nothing.
    ("/sites/<int:site_id>/support/<int:membership_id>", "POST"):
        Case("/sites/{site_a}/support/{member_a}", support_managers(422, operator=403)),
    # --- access review -------------------------------------------------------------------------
    ("/sites/<int:site_id>/review", "GET"): Case("/sites/{site_a}/review", manage_view(200)),
    # A review is in progress in this world: the primary is told so.
    ("/sites/<int:site_id>/review", "POST"): Case("/sites/{site_a}/review", primary_only(409)),
    ("/sites/<int:site_id>/review/finish", "POST"):
        Case("/sites/{site_a}/review/finish", primary_only(Redirect("/sites/{site_a}/review"))),
    ("/sites/<int:site_id>/review/lines/<int:line_id>", "POST"):
        Case("/sites/{site_a}/review/lines/{line_a}", manage_update(Redirect("/sites/{site_a}/review")),
             form={"decision": "confirmed"}),
    # --- contacts ------------------------------------------------------------------------------
    ("/sites/<int:site_id>/contacts", "GET"): Case("/sites/{site_a}/contacts", site_members(200)),
    ("/sites/<int:site_id>/contacts", "POST"): Case("/sites/{site_a}/contacts", contact_updates(422, operator=403)),
    ("/sites/<int:site_id>/contacts/manage", "GET"): Case("/sites/{site_a}/contacts/manage", contact_updates(200)),
    ("/sites/<int:site_id>/contacts/<int:contact_id>", "GET"):
        Case("/sites/{site_a}/contacts/{contact_a}", contact_updates(200)),
    ("/sites/<int:site_id>/contacts/<int:contact_id>", "POST"):
        Case("/sites/{site_a}/contacts/{contact_a}", contact_updates(422, operator=403)),
    ("/sites/<int:site_id>/contacts/<int:contact_id>/edit", "GET"):
        Case("/sites/{site_a}/contacts/{contact_a}/edit", contact_updates(200, operator=403)),
    ("/sites/<int:site_id>/contacts/<int:contact_id>/delete", "POST"):
        Case("/sites/{site_a}/contacts/{contact_a}/delete",
             contact_updates(Redirect("/sites/{site_a}/contacts/manage"), operator=403)),
    ("/sites/<int:site_id>/contacts/reviewed", "POST"):
        Case("/sites/{site_a}/contacts/reviewed", contact_updates(Redirect("/sites/{site_a}/contacts/manage"),
                                                                  operator=403)),
    ("/sites/<int:site_id>/contacts/address-fields", "GET"):
        Case("/sites/{site_a}/contacts/address-fields?country=DE", contact_updates(200, operator=403)),
    # --- my settings ---------------------------------------------------------------------------
    ("/settings/", "GET"): Case("/settings/", signed_in(SIGN_IN, 200)),
    ("/settings/", "POST"): Case("/settings/", signed_in(SIGN_IN, 422)),
    ("/settings/password", "POST"): Case("/settings/password", signed_in(SIGN_IN, 422)),
    ("/settings/email", "POST"): Case("/settings/email", signed_in(SIGN_IN, 422)),
    ("/settings/email/<token>", "GET"): Case("/settings/email/{token}", everyone(410)),
    ("/settings/email/<token>", "POST"): Case("/settings/email/{token}", everyone(410)),
    ("/settings/notification-email/<token>", "GET"): Case("/settings/notification-email/{token}", everyone(410)),
    ("/settings/notification-email/<token>", "POST"): Case("/settings/notification-email/{token}", everyone(410)),
    # --- primary role ----------------------------------------------------------------------------
    ("/primary-offers/<token>", "GET"): Case("/primary-offers/{token}", signed_in(SIGN_IN, 404)),
    ("/sites/<int:site_id>/primary", "GET"): Case("/sites/{site_a}/primary", primary_only(200)),
    ("/sites/<int:site_id>/primary", "POST"): Case("/sites/{site_a}/primary", primary_only(422)),
    ("/sites/<int:site_id>/primary/cancel", "POST"):
        Case("/sites/{site_a}/primary/cancel", primary_only(Redirect("/sites/{site_a}/primary"))),
    # The offer in this world is for the target member: everyone else is told it is someone else's.
    ("/sites/<int:site_id>/primary/offers/<int:offer_id>", "GET"):
        Case("/sites/{site_a}/primary/offers/{offer_a}", signed_in(SIGN_IN, 403)),
    ("/sites/<int:site_id>/primary/offers/<int:offer_id>", "POST"):
        Case("/sites/{site_a}/primary/offers/{offer_a}", signed_in(SIGN_IN, 409)),
    ("/sites/<int:site_id>/leave", "POST"):
        Case("/sites/{site_a}/leave", {ANONYMOUS: SIGN_IN, REQUESTER: 404, USER: Redirect("/"),
                                       SECONDARY: Redirect("/"), MANAGER: Redirect("/"),
                                       PRIMARY: Redirect("/sites/{site_a}/"), OPERATOR: 404}),
    # --- audit log and reports -------------------------------------------------------------------
    ("/sites/<int:site_id>/audit", "GET"): Case("/sites/{site_a}/audit", manage_view(200)),
    ("/sites/<int:site_id>/audit.csv", "GET"): Case("/sites/{site_a}/audit.csv", manage_view(200)),
    ("/operator/audit", "GET"): Case("/operator/audit", operator_only(200)),
    ("/operator/audit.csv", "GET"): Case("/operator/audit.csv", operator_only(200)),
    ("/sites/<int:site_id>/reports", "GET"): Case("/sites/{site_a}/reports", reporting_view(200)),
    ("/sites/<int:site_id>/reports.csv", "GET"): Case("/sites/{site_a}/reports.csv", reporting_view(200)),
    # --- account documents -------------------------------------------------------------------------
    ("/sites/<int:site_id>/documents", "GET"): Case("/sites/{site_a}/documents", documents_view(200)),
    ("/sites/<int:site_id>/documents", "POST"): Case("/sites/{site_a}/documents", uploaders(422)),
    ("/sites/<int:site_id>/documents/<int:document_id>/download", "GET"):
        Case("/sites/{site_a}/documents/{document_a}/download", documents_view(200)),
    ("/sites/<int:site_id>/documents/<int:document_id>/delete", "POST"):
        Case("/sites/{site_a}/documents/{document_a}/delete", uploaders(Redirect("/sites/{site_a}/documents"))),
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
    ("/operator/sites/<int:site_id>/primary", "POST"): Case("/operator/sites/{site_a}/primary", operator_only(422)),
    ("/operator/settings", "POST"):
        Case("/operator/settings", operator_only(Redirect("/operator/")), form={"signup_open": "y"}),
    ("/operator/api-keys", "GET"): Case("/operator/api-keys", operator_only(200)),
    ("/operator/api-keys", "POST"): Case("/operator/api-keys", operator_only(422)),
    ("/operator/api-keys/<int:key_id>/revoke", "GET"):
        Case("/operator/api-keys/{key_a}/revoke", operator_only(200)),
    ("/operator/api-keys/<int:key_id>/revoke", "POST"):
        Case("/operator/api-keys/{key_a}/revoke", operator_only(Redirect("/operator/api-keys"))),
    ("/operator/api-keys/<int:key_id>/webhooks/", "GET"): Case("/operator/api-keys/{key_a}/webhooks/", operator_only(200)),
    ("/operator/api-keys/<int:key_id>/webhooks/", "POST"): Case("/operator/api-keys/{key_a}/webhooks/", operator_only(422)),
    ("/operator/api-keys/<int:key_id>/webhooks/<int:endpoint_id>/delete", "GET"):
        Case("/operator/api-keys/{key_a}/webhooks/{endpoint_a}/delete", operator_only(200)),
    ("/operator/api-keys/<int:key_id>/webhooks/<int:endpoint_id>/delete", "POST"):
        Case("/operator/api-keys/{key_a}/webhooks/{endpoint_a}/delete",
             operator_only(Redirect("/operator/api-keys/{key_a}/webhooks/"))),
    ("/operator/api-keys/<int:key_id>/webhooks/deliveries/<int:delivery_id>/resend", "POST"):
        Case("/operator/api-keys/{key_a}/webhooks/deliveries/{delivery_a}/resend",
             operator_only(Redirect("/operator/api-keys/{key_a}/webhooks/"))),
    ("/operator/api-keys/<int:key_id>/scope", "GET"):
        Case("/operator/api-keys/{key_a}/scope", operator_only(200)),
    ("/operator/api-keys/<int:key_id>/scope", "POST"):
        Case("/operator/api-keys/{key_a}/scope", operator_only(422)),
    # --- the JSON API: a Bearer key, never a session; without a key everyone gets 401 -------------
    ("/api/v1/sites/<site_number>/members/<email>", "GET"):
        Case("/api/v1/sites/1000/members/user@example.com", everyone(401)),
    ("/api/v1/people/<email>/sites", "GET"): Case("/api/v1/people/user@example.com/sites", everyone(401)),
    ("/api/v1/sites/<site_number>/members", "GET"): Case("/api/v1/sites/1000/members", everyone(401)),
    ("/api/v1/sites/<site_number>/contacts", "GET"): Case("/api/v1/sites/1000/contacts", everyone(401)),
    ("/api/v1/sites/<site_number>/access", "GET"):
        Case("/api/v1/sites/1000/access?at=2026-03-01T00:00:00Z", everyone(401)),
    ("/api/v1/openapi.json", "GET"): Case("/api/v1/openapi.json", everyone(200)),
}


def build_world(world, app) -> dict:
    """Operator; site A with its primary, one account per persona, a target member and an invitation;
    site B of another customer. Built once per module (see authz_world), cloned for every test."""
    world.operator(EMAILS[OPERATOR])
    site_a = world.site(EMAILS[PRIMARY], customer="Acme Corp", name="Acme Works")
    world.member(site_a, EMAILS[USER], role="user")
    world.member(site_a, EMAILS[SECONDARY], role="secondary")
    world.member(site_a, EMAILS[MANAGER], role="secondary", levels={"manage_access": 2})
    world.person(EMAILS[REQUESTER])
    # Someone for the member routes to act on, and an invitation waiting.
    member_a = world.member(site_a, "target@example.com", role="user")
    site_b = world.site(SITE_B_PRIMARY, customer="Beta Corp", name=SITE_B_NAME)
    with app.app_context():
        from models import AccessProfile
        from models.invitation import invite
        site = db.session.get(Site, site_a)
        customer_a = site.customer_id
        invitation_a = invite(site, "invitee@example.com", "user", None)[0].id
        profile_a = db.session.scalar(sa.select(AccessProfile.id).where(AccessProfile.site_id == site_a))
        from models.access_request import submit_self_nomination
        from models.person import find_person
        request_a = submit_self_nomination(find_person(EMAILS[REQUESTER]), site.site_number, "Acme Corp",
                                           {"first_name": "Rita"}, "I run the reports").id
        from models import Membership
        from models.contact import save_contact
        from models.primary_transfer import offer_transfer
        primary = find_person(EMAILS[PRIMARY])
        contact_a = save_contact(site, primary, {
            "first_name": "Bill", "last_name": "Payer", "phone": "+49 30 1234567", "email": "billing@example.com",
            "address": "Hauptstr. 1", "city": "Berlin", "subdivision": "DE-BE", "postal_code": "10115",
            "country": "DE"}, ["billing"]).id
        offer_a = offer_transfer(site, primary, db.session.get(Membership, member_a)).id
        from models.document import upload_document
        document_a = upload_document(site, primary, "invoice", "invoice.pdf", b"%PDF-1.4\n%%EOF\n",
                                     "application/pdf").id
        customer_b = db.session.get(Site, site_b).customer_id
        from models.review import review_line, start_review
        review = start_review(site, primary)
        line_a = review_line(review, db.session.get(Membership, member_a).person_id).id
        from models.api import create_api_key
        key_a = create_api_key(find_person(EMAILS[OPERATOR]), "Download server")[0].id
        # Stored as they are: the URL guard would resolve a public name, which a test machine may not reach.
        from models.webhook import WebhookDelivery, WebhookEndpoint
        endpoint = WebhookEndpoint(api_key_id=key_a, url="https://hooks.example.com/sitepass", events=["member.added"],
                                   secret="whsec_test")
        db.session.add(endpoint)
        db.session.flush()
        delivery = WebhookDelivery(event_id="00000000-0000-4000-8000-000000000000", endpoint_id=endpoint.id,
                                   event_type="member.added", body="{}", status="failed", attempts=6)
        db.session.add(delivery)
        db.session.flush()
        endpoint_a, delivery_a = endpoint.id, delivery.id
        db.session.commit()
    return {"site_a": site_a, "site_b": site_b, "customer_a": customer_a, "customer_b": customer_b,
            "member_a": member_a, "invitation_a": invitation_a, "profile_a": profile_a, "request_a": request_a,
            "contact_a": contact_a, "offer_a": offer_a, "document_a": document_a, "line_a": line_a,
            "key_a": key_a, "endpoint_a": endpoint_a, "delivery_a": delivery_a, "token": secrets.token_urlsafe(32)}


@pytest.fixture(scope="module")
def authz_world(databases, tmp_path_factory):
    """The world and each persona's signed-in session cookie, built once; tests get a copy of its database
    and of its documents' files."""
    uri = databases.clone()
    smtp = SMTPServer().start()
    documents = tmp_path_factory.mktemp("authz-documents")
    app = make_test_app(uri, smtp, MAIL_DELIVER_AFTER_COMMIT=False, DOCUMENTS_DIR=str(documents))
    app.test_client_class = Client
    ids = build_world(World(app), app)
    cookies = {}
    for persona in PERSONAS[1:]:
        client = app.test_client()
        Auth(client).sign_in(EMAILS[persona])
        cookies[persona] = client.get_cookie("session").value
    close_database(app)
    smtp.stop()
    yield ids, cookies, databases.snapshot(uri), documents
    databases.drop(uri)


@pytest.fixture
def database_uri(databases, authz_world):
    uri = databases.clone(authz_world[2])
    yield uri
    databases.drop(uri)


@pytest.fixture(autouse=True)
def documents_dir(app, authz_world, tmp_path):
    """The world's document files, copied for each test like its database: a delete reaches no other test."""
    copy = tmp_path / "documents"
    shutil.copytree(authz_world[3], copy)
    app.config["DOCUMENTS_DIR"] = str(copy)


@pytest.fixture
def as_persona(client, authz_world):
    """Return the world's ids after making the client the given persona (anonymous: no cookie)."""
    ids, cookies, _template, _documents = authz_world

    def become(persona):
        if persona != ANONYMOUS:
            client.set_cookie("session", cookies[persona])
        return ids

    return become


def send(client, method: str, url: str, form: dict | None = None):
    """GET as is; anything else with a valid CSRF token (form field for POST, header otherwise)."""
    if method == "GET":
        return client.get(url)
    token = client.csrf_token()
    if method == "POST":
        return client.post(url, data={**(form or {}), "csrf_token": token})
    return client.open(url, method=method, headers={"X-CSRFToken": token})


def assert_outcome(response, method, expected, ids, label):
    if isinstance(expected, Redirect):
        status = 303 if method == "POST" else 302
        assert response.status_code == status, f"{label}: {response.status_code}, expected {status} {expected}"
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
    ids = {"site_a": 1, "site_b": 2, "customer_a": 1, "customer_b": 2, "member_a": 3, "invitation_a": 4,
           "profile_a": 5, "request_a": 6, "contact_a": 7, "offer_a": 8, "document_a": 9, "line_a": 10,
           "key_a": 11, "endpoint_a": 12, "delivery_a": 13, "token": "abc"}
    adapter = app.url_map.bind("localhost")
    matched, _args = adapter.match(urlsplit(case.url.format(**ids)).path, method=method, return_rule=True)
    assert matched.rule == rule, f"{case.url} reaches {matched.rule}, not {rule}"


@pytest.mark.parametrize("rule, method, persona", CASES, ids=[_case_id(*case) for case in CASES])
def test_persona_gets_expected_answer(client, as_persona, rule, method, persona):
    ids = as_persona(persona)
    case = TABLE[rule, method]
    response = send(client, method, case.url.format(**ids), case.form)
    assert_outcome(response, method, case.expect[persona], ids, _case_id(rule, method, persona))


# "/" is left out: the landing page sends the anonymous to Sign in by itself (no login_required),
# and no htmx request targets it.
SIGN_IN_FIRST = [(rule, method) for (rule, method), case in TABLE.items()
                 if case.expect[ANONYMOUS] == SIGN_IN and rule != "/"]


@pytest.mark.parametrize("rule, method", SIGN_IN_FIRST, ids=[f"{m} {r}" for r, m in SIGN_IN_FIRST])
def test_anonymous_htmx_request_gets_hx_redirect_to_sign_in(client, as_persona, rule, method):
    ids = as_persona(ANONYMOUS)
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

@pytest.mark.parametrize("persona", [REQUESTER, USER, SECONDARY, MANAGER, PRIMARY])
def test_member_of_site_a_gets_404_for_site_b(app, client, as_persona, persona):
    ids = as_persona(persona)
    response = client.get(f"/sites/{ids['site_b']}/")
    assert response.status_code == 404
    assert SITE_B_NAME not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Site, ids["site_b"]).name == SITE_B_NAME, "site B exists: the 404 hides it"
        db.session.rollback()
    response = client.htmx_get(f"/sites/{ids['site_b']}/")
    assert response.status_code == 404


@pytest.mark.parametrize("persona", [REQUESTER, USER, PRIMARY, OPERATOR])
def test_unknown_site_gets_404(client, as_persona, persona):
    as_persona(persona)
    assert client.get(f"/sites/{UNKNOWN_ID}/").status_code == 404


OPERATOR_ROUTES_WITH_IDS = [(rule, method) for (rule, method) in TABLE
                            if rule.startswith("/operator/") and "<int:" in rule]


@pytest.mark.parametrize("rule, method", OPERATOR_ROUTES_WITH_IDS,
                         ids=[f"{m} {r}" for r, m in OPERATOR_ROUTES_WITH_IDS])
def test_operator_route_with_unknown_id_gets_404(client, as_persona, rule, method):
    as_persona(OPERATOR)
    case = TABLE[rule, method]
    unknown = (dict.fromkeys(["site_a", "site_b", "customer_a", "customer_b", "member_a", "invitation_a",
                              "profile_a", "request_a", "contact_a", "offer_a", "document_a", "key_a",
                              "endpoint_a", "delivery_a"], UNKNOWN_ID)
               | {"token": "x"})
    response = send(client, method, case.url.format(**unknown), case.form)
    assert response.status_code == 404


# --- an account whose email is not verified is a stranger -----------------------------------------

# Its own account and the ways to prove its address; every other route refuses it.
# The JSON API reads no session at all (a key, not a cookie, says who asks): an unconfirmed account's
# cookie is the same as none there, and the API answers 401 (tests/views/test_api.py).
OPEN_TO_UNVERIFIED = ("/", "/sign-in", "/sign-out", "/sign-up", "/language", "/verify-email", "/forgot-password",
                      "/reset-password", "/first-run", "/invitations/", "/settings/", "/api/")
CLOSED_TO_UNVERIFIED = [(rule, method) for (rule, method) in TABLE
                        if not any(rule == prefix or (prefix != "/" and rule.startswith(prefix))
                                   for prefix in OPEN_TO_UNVERIFIED)]


@pytest.mark.parametrize("rule, method", CLOSED_TO_UNVERIFIED, ids=[f"{m} {r}" for r, m in CLOSED_TO_UNVERIFIED])
def test_unverified_member_is_refused_everywhere_but_confirming(app, client, as_persona, rule, method):
    ids = as_persona(MANAGER)
    with app.app_context():
        db.session.execute(sa.text("UPDATE person SET email_verified_at = NULL WHERE email = :email"),
                           {"email": EMAILS[MANAGER]})
        db.session.commit()
    response = send(client, method, TABLE[rule, method].url.format(**ids), TABLE[rule, method].form)
    assert response.status_code == 403, f"{method} {rule}: {response.status_code}"
    assert "is not confirmed yet" in response.get_data(as_text=True)
