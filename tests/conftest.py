"""Fixtures only: a fresh database file per test (migrated by Alembic), a real SMTP server, a CSRF-aware
client, factories, a live WSGI server and a Playwright page on Debian's Chromium. What they are built
from lives in tests/helpers/ (a module that builds one world for all its tests binds
tests.helpers.module_world.module_world_fixtures)."""
from __future__ import annotations

import pytest

from tests.helpers.apps import join_mail_threads, make_test_app
from tests.helpers.browser import launch_options
from tests.helpers.client import Auth, Client
from tests.helpers.databases import Databases, close_database
from tests.helpers.servers import LiveServer, SMTPServer, free_port
from tests.helpers.webhooks import Receiver
from tests.helpers.world import World


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    databases = Databases(tmp_path_factory)
    yield databases
    databases.drop_all()


@pytest.fixture
def database_uri(databases):
    uri = databases.clone()
    yield uri
    databases.drop(uri)


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app(database_uri, smtp):
    app = make_test_app(database_uri, smtp)
    yield app
    join_mail_threads()
    close_database(app)


@pytest.fixture
def client(app):
    app.test_client_class = Client
    return app.test_client()


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def world(app):
    return World(app)


# --- browser ------------------------------------------------------------------------------------

@pytest.fixture
def live_server(database_uri, smtp):
    port = free_port()
    app = make_test_app(database_uri, smtp, BASE_URL=f"http://127.0.0.1:{port}")
    server = LiveServer(app, port).start()
    yield server
    server.stop()
    join_mail_threads()
    close_database(app)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def receiver():
    """A webhook receiver on loopback (tests/helpers/webhooks.py), for the deliveries a test makes."""
    receiver = Receiver().start()
    yield receiver
    receiver.stop()
