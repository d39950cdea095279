"""The admin shell in the browser (issue 13): for the primary, a secondary contact, a user and an operator,
every page the site sidebar offers (and, for the operator, the Operator console's pages) at 1280×800 and at
390×844 (a phone) never scrolls sideways, and axe-core finds no WCAG 2.1 A/AA violation on it. The sidebar
marks the current page, shows the pending-request count, and folds into a Menu button on the phone.

One live server on a demo site (seed-demo: realistic names, emails and invitations) and one browser for the
module; every page is checked and all failures are reported at once."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.e2e.steps import sign_in
from tests.helpers.apps import join_mail_threads, make_test_app
from tests.helpers.databases import close_database
from tests.helpers.servers import LiveServer, SMTPServer, free_port
from tests.helpers.world import World

# axe-core from the npm registry (package.json), copied into static/vendor by `make assets`; injected by
# its URL so that the page's Content Security Policy (script from 'self' only) stays as it is.
AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe.min.js"
AXE_URL = "/static/vendor/axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SIZES = {"1280x800": {"width": 1280, "height": 800}, "390x844": {"width": 390, "height": 844}}
DEMO_PASSWORD = "sitepass-demo-password"
DEMO_PRIMARY = "pat.primary@democorp.example"
OPERATOR = "operator@example.com"


class Shell:
    def __init__(self, server, site_id, people):
        self.server, self.site_id, self.people = server, site_id, people
        self.url = server.url


@pytest.fixture(scope="module")
def shell(databases):
    """A demo site of 40 members (4 secondaries, open and expired invitations), one pending access
    request, an operator, served once for the whole module."""
    from models import Membership, Person, Site, db
    from models.access_request import submit_privilege_request
    from models.membership import SECONDARY, USER
    from models.tool import catalog

    uri = databases.clone()
    smtp = SMTPServer().start()
    port = free_port()
    app = make_test_app(uri, smtp, BASE_URL=f"http://127.0.0.1:{port}")
    result = app.test_cli_runner().invoke(args=["seed-demo", "--members", "40"])
    assert result.exit_code == 0, result.output
    World(app).operator(OPERATOR)
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.site_number == "DEMO-1"))

        def someone(role):
            return db.session.scalar(sa.select(Person.email).join(Membership, Membership.person_id == Person.id).where(
                Membership.site_id == site.id, Membership.role == role).order_by(Membership.id))

        people = {"primary": (DEMO_PRIMARY, DEMO_PASSWORD), "secondary": (someone(SECONDARY), DEMO_PASSWORD),
                  "user": (someone(USER), DEMO_PASSWORD), "operator": (OPERATOR, None)}
        site_id = site.id
        db.session.remove()
    with app.app_context():
        asker = db.session.scalar(sa.select(Membership).join(Person, Membership.person_id == Person.id).where(Person.email == people["user"][0],
                                                                            Membership.site_id == site_id))
        tool = next(tool for tool in catalog() if tool.top_rank > asker.level(tool) and not tool.secondary_only)
        submit_privilege_request(asker, tool, asker.level(tool) + 1, "Prepares the quarterly licence report.")
        db.session.commit()
        db.session.remove()
    server = LiveServer(app, port).start()
    yield Shell(server, site_id, people)
    server.stop()
    join_mail_threads()
    close_database(app)
    smtp.stop()
    databases.drop(uri)


def signed_in_page(browser, shell, persona) -> Page:
    context = browser.new_context(viewport=SIZES["1280x800"])
    context.set_default_timeout(10_000)
    page = context.new_page()
    email, password = shell.people[persona]
    if password:
        sign_in(page, shell.url, email, password)
    else:
        sign_in(page, shell.url, email)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def pages_of(page: Page, shell, persona) -> list[str]:
    """Every page the persona reaches from the sidebar and the top bar (and the operator's console pages)."""
    page.goto(f"{shell.url}/sites/{shell.site_id}/")
    sidebar = page.get_by_role("navigation", name="Site")
    paths = [f"/sites/{shell.site_id}/", "/settings/"]
    paths += [link.get_attribute("href") for link in sidebar.get_by_role("link").all()]
    if persona == "operator":
        page.goto(f"{shell.url}/operator/")
        paths += ["/operator/", "/operator/api-keys", "/operator/audit"]
        paths.append(page.get_by_role("link", name="Demo Corp").first.get_attribute("href"))
    return list(dict.fromkeys(path.split("?")[0] for path in paths))


def problems_on(page: Page, base_url: str) -> list[str]:
    """Sideways scroll and axe-core's WCAG 2.1 A/AA violations on the page as it stands."""
    problems = []
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))""")
        problems.append(f"scrolls sideways: {widths[0]} > {widths[1]} ({', '.join(wide)})")
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(url=base_url + AXE_URL)
    violations = page.evaluate("""async (tags) => (await axe.run(document, {runOnly: tags, resultTypes: ['violations']}))
        .violations.map(v => v.id + ' (' + v.nodes.length + '): ' + v.nodes.slice(0, 2).map(n => n.target.join(' ')).join(' | '))""",
                               WCAG_21_AA)
    problems += [f"axe {violation}" for violation in violations]
    return problems


@pytest.mark.parametrize("persona", ["primary", "secondary", "user", "operator"])
def test_no_page_scrolls_sideways_and_axe_finds_no_wcag_violation(browser, shell, persona):
    assert AXE.exists(), "axe-core is missing: run `make assets`"
    page = signed_in_page(browser, shell, persona)
    try:
        paths = pages_of(page, shell, persona)
        failures = []
        for path in paths:
            # Loaded once, checked at each size (the page reflows as on a rotated phone; axe stays loaded).
            page.set_viewport_size(SIZES["1280x800"])
            response = page.goto(shell.url + path)
            if response.status != 200:
                failures.append(f"{path}: HTTP {response.status}")
                continue
            for size, viewport in SIZES.items():
                page.set_viewport_size(viewport)
                failures += [f"{size} {path}: {problem}" for problem in problems_on(page, shell.url)]
        assert not failures, f"{persona} ({len(paths)} pages):\n" + "\n".join(failures)
    finally:
        page.context.close()


def test_sidebar_groups_marks_the_current_page_counts_requests_and_folds_on_a_phone(browser, shell):
    page = signed_in_page(browser, shell, "primary")
    try:
        page.goto(f"{shell.url}/sites/{shell.site_id}/")
        sidebar = page.get_by_role("navigation", name="Site")
        for group, links in {"People": ["User list", "Add new user", "Requests", "Access profiles", "Access review"],
                             "Contacts": ["Site contacts", "Contact updates"],
                             "Records": ["Audit log", "Reports", "Documents"]}.items():
            expect(sidebar.get_by_role("list", name=group).get_by_role("link")).to_have_text(links)
        expect(sidebar.get_by_label("1 pending request", exact=True)).to_have_text("1")
        expect(sidebar.get_by_role("link", name="Operator")).to_have_count(0)
        sidebar.get_by_role("link", name="Audit log").click()
        expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
        expect(sidebar.get_by_role("link", name="Audit log")).to_have_attribute("aria-current", "page")
        expect(sidebar.locator("[aria-current]")).to_have_count(1)

        page.set_viewport_size(SIZES["390x844"])
        page.reload()
        expect(sidebar.get_by_role("link", name="User list")).to_be_hidden()
        page.get_by_text("Menu", exact=True).click()
        sidebar.get_by_role("link", name="User list").click()
        expect(page.get_by_role("heading", name="User list", level=1)).to_be_visible()
        expect(sidebar.get_by_role("link", name="User list")).to_be_hidden()
    finally:
        page.context.close()


def test_operator_reaches_documents_audit_log_and_reports_from_the_sites_operator_page(browser, shell):
    page = signed_in_page(browser, shell, "operator")
    try:
        page.get_by_role("link", name="Demo Corp").first.click()
        page.get_by_role("link", name="DEMO-1").first.click()
        sidebar = page.get_by_role("navigation", name="Site")
        expect(sidebar.get_by_role("link", name="Recovery, invitations and coverage")).to_have_attribute(
            "aria-current", "page")
        for name in ["Documents", "Audit log", "Reports", "User list", "Support access"]:
            expect(sidebar.get_by_role("link", name=name, exact=True)).to_be_visible()
        for name in ["Add new user", "Requests", "My access"]:  # operators change nothing through member pages
            expect(sidebar.get_by_role("link", name=name, exact=True)).to_have_count(0)
        sidebar.get_by_role("link", name="Documents").click()
        expect(page.get_by_role("heading", name="Documents", level=1)).to_be_visible()
        expect(page.get_by_label("Document type")).to_be_visible()  # operators upload (SPEC §8)
    finally:
        page.context.close()


def test_top_bar_stays_on_one_line_on_a_phone_with_an_account_menu(browser, shell):
    page = signed_in_page(browser, shell, "primary")
    try:
        page.goto(f"{shell.url}/sites/{shell.site_id}/")
        top_bar = page.get_by_role("navigation", name="Main")
        wide_height = top_bar.bounding_box()["height"]
        expect(top_bar.get_by_role("link", name="DEMO-1 Demo Corp DEMO-1")).to_be_visible()
        page.set_viewport_size(SIZES["390x844"])
        # One line: no taller than at 1280 px (three lines, as before, were about three times as tall).
        assert top_bar.bounding_box()["height"] <= wide_height + 1
        expect(top_bar.get_by_role("button", name="Sign out")).to_be_hidden()
        expect(top_bar.get_by_role("link", name="DEMO-1", exact=True)).to_be_visible()  # the number, not the name
        top_bar.get_by_text("Account", exact=True).click()
        top_bar.get_by_role("link", name="My settings").click()
        expect(page.get_by_role("heading", name="My settings", level=1)).to_be_visible()
        top_bar.get_by_text("Account", exact=True).click()
        top_bar.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    finally:
        page.context.close()


def test_secondary_columns_drop_out_on_a_phone_and_the_request_page_keeps_them(browser, shell):
    page = signed_in_page(browser, shell, "primary")
    try:
        page.goto(f"{shell.url}/sites/{shell.site_id}/requests")
        table = page.get_by_role("table")
        for name in ("Requester", "Status", "Sent", "Decided by, when, why"):
            expect(table.get_by_role("columnheader", name=name)).to_be_visible()
        page.set_viewport_size(SIZES["390x844"])
        for name in ("Sent", "Decided by, when, why"):
            expect(table.get_by_role("columnheader", name=name)).to_be_hidden()
        expect(table.get_by_role("columnheader", name="Status")).to_be_visible()
        table.get_by_role("link").first.click()
        expect(page.get_by_text("Sent", exact=True)).to_be_visible()
    finally:
        page.context.close()
