"""No English left (issue 14): every page of the authorization table's personas and every mail their
world sent, rendered in German, French and Indonesian from the translators' catalogs (compiled here,
fuzzy entries left out as `make` leaves them out), holds none of a list of common English UI words.
Data (names, tool and level names, addresses …: every string stored in the database) and a few proper
names are allowed. One world per language, every page once, by the first persona that may see it."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models import OutboxMail, db
from tests.helpers.apps import make_test_app
from tests.helpers.catalogs import compile_catalogs
from tests.helpers.client import Auth, Client
from tests.helpers.databases import close_database
from tests.helpers.pages import parse, text
from tests.helpers.servers import SMTPServer
from tests.helpers.world import World
from tests.views.test_authorization import ANONYMOUS, EMAILS, OPERATOR, PERSONAS, TABLE, build_world

LANGUAGES = ["de", "fr", "id"]
# Words of the English interface that no translation keeps (whole words, case as written).
ENGLISH = ["the", "The", "your", "Your", "you", "You", "and", "with", "this", "This", "Save", "Cancel", "Members",
           "Remove", "Invite", "Search", "Settings", "Delete", "Sign", "Welcome", "Hello", "Never", "Choose",
           "Confirm", "Add", "Back", "Reject", "Approve"]
ENGLISH_WORD = re.compile(r"(?<![\w@./-])(" + "|".join(map(re.escape, ENGLISH)) + r")(?![\w@/-])")
PROPER_NAMES = ["Sitepass", "English", "Bahasa Indonesia", "Deutsch", "Français"]
# The pages a browser reads; files and machine answers are left to their own tests.
SKIPPED = (".csv", "/healthz", "/download", "/api/", "/openapi")
# Who looks first: the persona who sees the most of a page.
LOOKERS = [OPERATOR, "primary", "manager", "secondary", "user", "requester", ANONYMOUS]
ATTRIBUTES = ("aria-label", "placeholder", "title", "alt")


def visible_words(markup: str) -> str:
    """The words a person reads: the text, and the labels that live in attributes (buttons, aria-labels)."""
    tree = parse(markup)
    words = [tree.words(without=tree.find_all("script") + tree.find_all("style"))]
    for element in tree.iter():
        words += [element.get(name) for name in ATTRIBUTES if element.get(name)]
        if element.tag == "input" and element.get("type") in ("submit", "button"):
            words.append(element.get("value", ""))
    return " ".join(words)


def english_in(words: str, data: list[str]) -> list[str]:
    for value in data:
        words = words.replace(value, " ")
    return sorted(set(ENGLISH_WORD.findall(words)))


def stored_strings(app) -> list[str]:
    """Every string in the database, longest first: data, shown as entered."""
    values = set()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text))]
            if columns and table.name != "outbox_mail":
                for row in db.session.execute(sa.select(*columns)):
                    values.update(v for v in row if isinstance(v, str) and len(v) >= 3)
    return sorted(values, key=len, reverse=True) + PROPER_NAMES


@pytest.fixture(scope="module", params=LANGUAGES)
def world_in(request, databases, tmp_path_factory):
    """The authorization table's world, built by an instance whose default language is the one tested
    (so the mails of its making are in it too); each persona's client."""
    language = request.param
    uri = databases.clone()
    smtp = SMTPServer().start()
    directory = tmp_path_factory.mktemp(f"catalogs-{language}")
    app = make_test_app(uri, smtp, MAIL_DELIVER_AFTER_COMMIT=False, DEFAULT_LANGUAGE=language,
                        BABEL_TRANSLATION_DIRECTORIES=compile_catalogs(directory),
                        DOCUMENTS_DIR=str(tmp_path_factory.mktemp(f"documents-{language}")))
    app.test_client_class = Client
    ids = build_world(World(app), app)
    clients = {ANONYMOUS: app.test_client()}
    for persona in PERSONAS[1:]:
        clients[persona] = app.test_client()
        Auth(clients[persona]).sign_in(EMAILS[persona])
    yield language, app, ids, clients
    close_database(app)
    smtp.stop()
    databases.drop(uri)


def test_no_english_is_left_in_the_pages(world_in):
    language, app, ids, clients = world_in
    data = stored_strings(app)
    problems = []
    for (rule, method), case in sorted(TABLE.items()):
        if method != "GET" or any(part in rule for part in SKIPPED):
            continue
        looker = next((persona for persona in LOOKERS if case.expect.get(persona) == 200), None)
        if looker is None:
            continue
        response = clients[looker].get(case.url.format(**ids))
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        markup = response.get_data(as_text=True)
        assert f'<html lang="{language}"' in markup or "<html" not in markup, f"{rule} is not in {language}"
        found = english_in(visible_words(markup), data)
        if found:
            problems.append(f"{rule} as {looker}: {', '.join(found)}")
    assert not problems, f"English left in {language}:\n" + "\n".join(problems)


def test_no_english_is_left_in_the_mails(world_in):
    language, app, _ids, _clients = world_in
    data = stored_strings(app)
    with app.app_context():
        mails = db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)).all()
        assert {mail.template for mail in mails} >= {"invitation", "welcome", "access_request_received"}
        problems = []
        for mail in mails:
            found = english_in(" ".join([mail.subject, mail.text_body, text(mail.html_body)]), data)
            if found:
                problems.append(f"{mail.template} to {mail.recipient}: {', '.join(found)}")
    assert not problems, f"English left in {language} mail:\n" + "\n".join(problems)
