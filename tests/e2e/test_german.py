"""German in the browser (issue 14): a browser that prefers German signs in to the translators' catalogs
(compiled here as `make` compiles them), finds the Benutzerliste, edits a member inline, and the mail
that follows is German. Labels are looked up in the German catalog (tests/helpers/catalogs.py
translation), so that the test follows the translators' wording and fails on a missing translation."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from models import Person, db
from tests.e2e.members_steps import PRIMARY_EMAIL, SITE_NAME, SITE_NUMBER, choose_level, member_row
from tests.helpers.apps import join_mail_threads, make_test_app
from tests.helpers.catalogs import compile_catalogs, translation
from tests.helpers.databases import close_database
from tests.helpers.mail import body_text, html_text
from tests.helpers.servers import LiveServer, free_port
from tests.helpers.world import PASSWORD, World


def de(msgid: str, **values) -> str:
    return translation("de", msgid, **values)


@pytest.fixture
def german_server(database_uri, smtp, tmp_path):
    port = free_port()
    app = make_test_app(database_uri, smtp, BASE_URL=f"http://127.0.0.1:{port}",
                        BABEL_TRANSLATION_DIRECTORIES=compile_catalogs(tmp_path / "catalogs"))
    server = LiveServer(app, port).start()
    yield server
    server.stop()
    join_mail_threads()
    close_database(app)


@pytest.fixture
def german_page(browser):
    context = browser.new_context(locale="de-DE", extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_a_german_browser_finds_the_benutzerliste_and_the_mail_that_follows_is_german(german_server, smtp,
                                                                                        german_page):
    page, url = german_page, german_server.url
    world = World(german_server.app)
    world.operator()
    site_id = world.site(PRIMARY_EMAIL, number=SITE_NUMBER, name=SITE_NAME)
    world.member(site_id, "ulla@example.com", levels={"support": 1})
    with german_server.app.app_context():
        db.session.execute(sa.update(Person).where(Person.email == "ulla@example.com").values(language="de"))
        db.session.commit()
    smtp.wait_for(1)  # the primary's Welcome; Ulla is added without one
    smtp.sink.messages.clear()

    page.goto(f"{url}/sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", name=de("Sign in"), level=1)).to_be_visible()
    page.get_by_label(de("Email")).fill(PRIMARY_EMAIL)
    page.get_by_role("textbox", name=de("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=de("Sign in")).click()
    expect(page).to_have_url(re.compile(rf"{re.escape(url)}/sites/\d+/$"))

    page.get_by_role("navigation", name=de("Site")).get_by_role("link", name="Benutzerliste", exact=True).click()
    expect(page.get_by_role("heading", name="Benutzerliste", level=1)).to_be_visible()
    row = member_row(page, "ulla@example.com")
    # The Edit link is named by the column's heading and the member's name (aria-labelledby).
    row.get_by_role("link", name=f"{de('Edit')} Ulla Tester").click()
    choose_level(row, "Reporting", "View")  # tool and level names are catalog data, not messages
    row.get_by_role("button", name=de("Save changes")).click()
    expect(row.get_by_role("button", name=de("Save changes"))).to_have_count(0)

    [mail] = smtp.wait_for(1)
    assert mail["To"] == "ulla@example.com"
    assert mail["Subject"] == de("Your access to site %(site_number)s changed", site_number=SITE_NUMBER)
    assert de("Hello %(name)s,", name="Ulla Tester") in body_text(mail)
    assert de("You get this mail because of your notification preferences in My settings.") in body_text(mail)
    assert '<html lang="de">' in html_text(mail)
