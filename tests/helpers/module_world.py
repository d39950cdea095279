"""One world per test module: built once, signed in once, and put back for each of the module's tests."""
from __future__ import annotations

import os
import shutil
from typing import NamedTuple

import pytest
import sqlalchemy as sa

from models import db
from tests.helpers.apps import join_mail_threads, make_test_app
from tests.helpers.client import Auth, Client
from tests.helpers.databases import POSTGRES_URL, close_database
from tests.helpers.servers import SMTPServer
from tests.helpers.world import World


class SessionHelper:
    """The `h` of a module built with module_world_fixtures: acts as the people signed in when the world
    was built (their session cookie and CSRF token), posts forms as the browser does. Each module
    subclasses it with its own queries; close() is called when the test ends."""

    def __init__(self, app, client, ids, cookies):
        self.app, self.client, self.ids, self.cookies = app, client, ids, cookies
        self.a, self.b = ids.get("site_a"), ids.get("site_b")  # the world's sites A and B, where it has them
        from models import OutboxMail
        with app.app_context():
            # Mail the test queues has a higher id; its status may already be "sent" by the deliverer.
            self.outbox_start = db.session.scalar(sa.select(sa.func.max(OutboxMail.id))) or 0
            db.session.remove()

    def become(self, email, client=None):
        client = client or self.client
        cookie, token = self.cookies[email]
        client.set_cookie("session", cookie)
        client.sitepass_token = token
        return client

    def new_client(self, email=None):
        client = self.app.test_client()
        if email:
            self.become(email, client)
        return client

    def post(self, url, data=None, htmx=False, client=None):
        """POST as the browser does, with the session's CSRF token (header for htmx, field otherwise);
        a client that became nobody fetches a token first."""
        client = client or self.client
        token = getattr(client, "sitepass_token", None)
        if token is None:
            return client.submit(url, data, htmx=htmx)
        data = dict(data or {})
        headers = {}
        if htmx:
            headers = {"HX-Request": "true", "X-CSRFToken": token}
        else:
            data["csrf_token"] = token
        return client.post(url, data=data, headers=headers)

    def get(self, url, htmx=False, client=None):
        client = client or self.client
        return client.get(url, headers={"HX-Request": "true"} if htmx else {})

    def read(self, function):
        """Call function() in an app context and return its result, leaving no transaction open."""
        with self.app.app_context():
            try:
                return function()
            finally:
                db.session.rollback()

    def audit(self, action=None, site=None) -> list:
        """The audit events of a site (site A by default; site=False: every site), oldest first."""
        from models import AuditEvent

        def read():
            statement = sa.select(AuditEvent).order_by(AuditEvent.id)
            if site is not False:
                statement = statement.where(AuditEvent.site_id == (site or self.a))
            if action:
                statement = statement.where(AuditEvent.action == action)
            events = db.session.scalars(statement).all()
            db.session.expunge_all()
            return list(events)
        return self.read(read)

    def close(self):
        pass


class WorldFixtures(NamedTuple):
    module_world: object
    module_smtp: object
    smtp: object
    shared_app: object
    app: object
    h: object


def module_world_fixtures(build_world, signed_in, helper=SessionHelper, **app_config) -> WorldFixtures:
    """The fixtures of a test module that builds one world for all its tests, for the module to bind:

        module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, SIGNED_IN, Helper)

    (pytest registers a fixture under the name it is bound to). `module_world` builds the world once
    with build_world(World(app), app) and signs in each of `signed_in`, keeping (session cookie, CSRF
    token) per person: it gives (ids, cookies, template). `smtp` is the module's SMTP server, emptied
    for each test; `app` is the world's copy for one test, built with `app_config`; `h` is a `helper`
    (a SessionHelper) on it."""
    name = build_world.__module__.rsplit(".", 1)[-1].removeprefix("test_")

    @pytest.fixture(scope="module")
    def module_world(databases):
        uri = databases.clone()
        smtp = SMTPServer().start()
        app = make_test_app(uri, smtp, MAIL_DELIVER_AFTER_COMMIT=False)
        app.test_client_class = Client
        ids = build_world(World(app), app)
        cookies = {}
        for email in signed_in:
            client = app.test_client()
            Auth(client).sign_in(email)
            token = client.csrf_token()  # kept in the session: valid for every later form of this session
            cookies[email] = (client.get_cookie("session").value, token)
        close_database(app)
        smtp.stop()
        yield ids, cookies, databases.snapshot(uri)
        databases.drop(uri)

    @pytest.fixture(scope="module")
    def module_smtp():
        server = SMTPServer().start()
        yield server
        server.stop()

    @pytest.fixture
    def smtp(module_smtp):
        """The module's SMTP server, emptied for each test (each test's mail threads are joined at its end)."""
        module_smtp.sink.messages.clear()
        module_smtp.sink.mode = "accept"
        return module_smtp

    @pytest.fixture(scope="module")
    def shared_app(module_world, module_smtp, tmp_path_factory):
        """One app for the module on SQLite (building an app per test costs more than most tests: URL
        builders and SQL statements are compiled afresh for every app); its database file is put back to
        the world before each test. On PostgreSQL each test gets its own app and database instead."""
        if POSTGRES_URL:
            yield None
            return
        path = tmp_path_factory.mktemp(name) / "sitepass.sqlite3"
        shutil.copyfile(module_world[2], path)
        app = make_test_app(f"sqlite:///{path}", module_smtp, **app_config)
        yield app, path
        join_mail_threads()
        close_database(app)

    @pytest.fixture
    def app(shared_app, module_world, databases, smtp):
        template = module_world[2]
        if shared_app is None:
            uri = databases.clone(template)
            app = make_test_app(uri, smtp, **app_config)
            yield app
            join_mail_threads()
            close_database(app)
            databases.drop(uri)
            return
        app, path = shared_app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        for leftover in (f"{path}-wal", f"{path}-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
        shutil.copyfile(template, path)
        yield app
        join_mail_threads()

    @pytest.fixture
    def h(app, client, module_world):
        ids, cookies, _template = module_world
        session_helper = helper(app, client, ids, cookies)
        yield session_helper
        session_helper.close()

    return WorldFixtures(module_world, module_smtp, smtp, shared_app, app, h)
