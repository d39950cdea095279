"""Which language a page is in (issue 14): the person's choice in My settings, else the sign-in page's
switcher (kept in the session, across sign-in), else the browser's Accept-Language, else the instance
default; `<html lang>` follows. Pages are checked with a tiny catalog of the test's own (tests/helpers/
catalogs.py), so that the machinery is tested whatever the translators' catalogs hold."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import Person, db
from tests.helpers.apps import join_mail_threads, make_test_app
from tests.helpers.catalogs import tiny_catalogs
from tests.helpers.databases import close_database
from tests.helpers.pages import csrf_token, page_tree, text

CATALOGS = {"de": {"Sign in": "Anmelden", "Settings saved.": "Einstellungen gespeichert."},
            "fr": {"Sign in": "Connexion"}}
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


@pytest.fixture
def app(database_uri, smtp, tmp_path):
    app = make_test_app(database_uri, smtp, BABEL_TRANSLATION_DIRECTORIES=tiny_catalogs(tmp_path, CATALOGS))
    yield app
    join_mail_threads()
    close_database(app)


def lang_of(response) -> str:
    return page_tree(response).one("html").get("lang")


def heading(response) -> str:
    return page_tree(response).one("h1").text


def choose(client, language, **kwargs):
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    return client.post("/language", data={"language": language, "csrf_token": token}, **kwargs)


def set_language(app, email, language):
    with app.app_context():
        db.session.execute(sa.update(Person).where(Person.email == email).values(language=language))
        db.session.commit()


def test_the_browser_language_is_used_else_the_default(client):
    german = client.get("/sign-in", headers=GERMAN)
    assert (lang_of(german), heading(german)) == ("de", "Anmelden")
    assert lang_of(client.get("/sign-in")) == "en"
    unknown = client.get("/sign-in", headers={"Accept-Language": "xx, tlh;q=0.8"})
    assert (lang_of(unknown), heading(unknown)) == ("en", "Sign in")


def test_the_instance_default_language_is_used_when_the_browser_asks_for_none_we_have(database_uri, smtp, tmp_path):
    app = make_test_app(database_uri, smtp, DEFAULT_LANGUAGE="fr",
                        BABEL_TRANSLATION_DIRECTORIES=tiny_catalogs(tmp_path, CATALOGS))
    client = app.test_client()
    try:
        page = client.get("/sign-in", headers={"Accept-Language": "xx"})
        assert (lang_of(page), heading(page)) == ("fr", "Connexion")
        assert lang_of(client.get("/sign-in", headers=GERMAN)) == "de"
    finally:
        close_database(app)


def test_a_default_language_or_time_zone_the_instance_lacks_is_refused_at_start(database_uri, smtp):
    with pytest.raises(ValueError, match="DEFAULT_LANGUAGE"):
        make_test_app(database_uri, smtp, DEFAULT_LANGUAGE="xx")
    with pytest.raises(ValueError, match="TIMEZONE"):
        make_test_app(database_uri, smtp, TIMEZONE="Mars/Olympus")


def test_the_sign_in_page_offers_each_language_named_in_itself(client):
    form = page_tree(client.get("/sign-in", headers=GERMAN)).one("form", aria_label="Language")
    buttons = {button.text: (button.get("value"), button.get("aria-pressed")) for button in form.find_all("button")}
    assert buttons == {"English": ("en", "false"), "Deutsch": ("de", "true"), "Français": ("fr", "false"),
                       "Bahasa Indonesia": ("id", "false")}
    assert form.get("method") == "post"


def test_the_switcher_is_remembered_for_the_session_over_the_browser(client):
    response = choose(client, "fr", headers=GERMAN)
    assert response.status_code == 303 and response.headers["Location"].endswith("/sign-in")
    page = client.get("/sign-in", headers=GERMAN)
    assert (lang_of(page), heading(page)) == ("fr", "Connexion")
    assert lang_of(client.get("/sign-up", headers=GERMAN)) == "fr"


def test_the_switcher_returns_to_where_sign_in_was_going(client):
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    response = client.post("/language?next=/settings/", data={"language": "de", "csrf_token": token})
    assert response.headers["Location"].endswith("/settings/")
    response = client.post("/language?next=https://evil.example/", data={"language": "de", "csrf_token": token})
    assert "evil.example" not in response.headers["Location"]


@pytest.mark.parametrize("language", ["xx", "", "de" * 200, "\x00", "../de"])
def test_the_switcher_refuses_a_language_we_do_not_have(client, language):
    choose(client, "fr")
    assert choose(client, language).status_code == 400
    assert lang_of(client.get("/sign-in")) == "fr", "a refused choice changes nothing"


def test_the_switcher_needs_its_csrf_token(client):
    assert client.post("/language", data={"language": "de"}).status_code == 400
    assert lang_of(client.get("/sign-in")) == "en"


def test_the_switcher_choice_survives_sign_in_until_the_person_chose_in_my_settings(app, client, world, auth):
    world.person("ann@example.com")
    choose(client, "de")
    auth.sign_in("ann@example.com")
    assert lang_of(client.get("/settings/")) == "de", "kept across sign-in"
    set_language(app, "ann@example.com", "fr")
    assert lang_of(client.get("/settings/", headers=GERMAN)) == "fr", "the setting wins over session and browser"


def test_a_person_choice_wins_over_the_browser_and_flash_messages_follow_it(app, client, world, auth):
    world.person("ann@example.com", first_name="Ann", last_name="Lee")
    auth.sign_in("ann@example.com")
    form = {"first_name": "Ann", "last_name": "Lee", "language": "de", "notification_email": "",
            "access_requests": "y", "privilege_changes": "y"}
    assert client.submit("/settings/", form, headers={"Accept-Language": "fr"}).status_code == 303
    page = client.get("/settings/", headers={"Accept-Language": "fr"})
    assert lang_of(page) == "de"
    assert "Einstellungen gespeichert." in text(page.get_data(as_text=True))
