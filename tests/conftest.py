"""Fixtures: a fresh database file per test (migrated by Alembic), a real SMTP server, a CSRF-aware
client, factories, the fixtures of a module that builds one world for all its tests
(module_world_fixtures), a live WSGI server and a Playwright page on Debian's Chromium."""
from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
import uuid
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from jinja2 import BytecodeCache

from app import create_app
from models import db
from tests.support import LiveServer, SMTPServer, free_port

# Set by .ci/run to run the database tests on PostgreSQL as well, e.g.
# postgresql+psycopg://postgres@127.0.0.1:54329/postgres
POSTGRES_URL = os.environ.get("SITEPASS_TEST_DATABASE_URL")
CSRF_PATTERN = re.compile(r'"X-CSRFToken": "([^"]+)"')
PASSWORD = "correct horse battery"


def _migrate(uri: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "migrate", "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()


class Databases:
    """Fresh databases cloned from migrated templates: a file copy on SQLite, CREATE DATABASE … TEMPLATE
    on PostgreSQL. A test module can snapshot a world it built once and clone it for each test."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT") if POSTGRES_URL else None
        self.base = self._migrated_base()

    def _admin(self, statement):
        with self.admin.connect() as conn:
            conn.exec_driver_sql(statement)

    def _uri(self, name):
        if self.admin is not None:
            return sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        return f"sqlite:///{name}"

    def _migrated_base(self):
        if self.admin is not None:
            # A name of its own, so that two test runs can share one PostgreSQL server.
            name = "sitepass_template_" + uuid.uuid4().hex[:8]
            self._admin(f"CREATE DATABASE {name}")
            _migrate(self._uri(name))
            return name
        path = self.tmp_path_factory.mktemp("template") / "template.sqlite3"
        _migrate(self._uri(path))
        return str(path)

    def clone(self, template: str | None = None) -> str:
        """Return the URI of a new database holding a copy of the template (the migrated base by default)."""
        template = template or self.base
        if self.admin is not None:
            name = "sitepass_" + uuid.uuid4().hex[:12]
            self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
            return self._uri(name)
        path = self.tmp_path_factory.mktemp("db") / "sitepass.sqlite3"
        shutil.copyfile(template, path)
        return self._uri(path)

    def snapshot(self, uri: str) -> str:
        """Turn a database whose connections are all closed into a template for clone()."""
        url = sa.make_url(uri)
        return url.database

    def reset(self, app, template: str) -> None:
        """Put an app's database back to a template in place, the app and its URI kept (a file copy on
        SQLite, DROP and CREATE … TEMPLATE on PostgreSQL): cheap enough to undo one request."""
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
            url = db.engine.url
        if self.admin is not None:
            self._admin(f"DROP DATABASE IF EXISTS {url.database} WITH (FORCE)")
            self._admin(f"CREATE DATABASE {url.database} TEMPLATE {template}")
            return
        for leftover in (f"{url.database}-wal", f"{url.database}-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
        shutil.copyfile(template, url.database)

    def drop(self, uri: str) -> None:
        if self.admin is not None:
            self._admin(f"DROP DATABASE IF EXISTS {sa.make_url(uri).database} WITH (FORCE)")


def close_database(app) -> None:
    """Close every connection of an app's engine, leaving a SQLite file without a pending WAL."""
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "sqlite":
            raw = db.engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        db.engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    databases = Databases(tmp_path_factory)
    yield databases
    if databases.admin is not None:
        databases.drop(databases._uri(databases.base))
        databases.admin.dispose()


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


class SharedBytecodeCache(BytecodeCache):
    """Compiled templates shared by the many apps of one test run (each test builds its own app)."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = SharedBytecodeCache()


@functools.cache
def password_hash(password: str) -> str:
    """A real argon2id hash, computed once per password for the whole run: factories make many people."""
    from models.person import password_hasher
    return password_hasher.hash(password)


# Where a test app keeps documents and backups unless the test names its own folders: never the
# checkout's instance/, which a scheduler's sweep or backup in a test would otherwise touch.
TEST_FILES = tempfile.mkdtemp(prefix="sitepass-test-files-")


def make_test_app(database_uri, smtp, **overrides):
    config = {
        "DOCUMENTS_DIR": os.path.join(TEST_FILES, "documents"),
        "BACKUP_DIR": os.path.join(TEST_FILES, "backups"),
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "BASE_URL": "http://localhost",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port,
        "MAIL_DEFAULT_SENDER": "Sitepass <sitepass@example.com>",
        "MAIL_TIMEOUT": 5,
    }
    config.update(overrides)
    app = create_app(config)
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    return app


def _join_mail_threads():
    for thread in threading.enumerate():
        if thread.name == "sitepass-mail":
            thread.join(timeout=15)


@pytest.fixture
def app(database_uri, smtp):
    app = make_test_app(database_uri, smtp)
    yield app
    _join_mail_threads()
    close_database(app)


class Client(FlaskClient):
    """The Flask test client, sending the CSRF token as the browser does (CSRF stays on)."""

    def csrf_token(self) -> str:
        page = self.get("/sign-in")
        match = CSRF_PATTERN.search(page.get_data(as_text=True))
        assert match, "no CSRF token on the sign-in page"
        return match.group(1)

    def submit(self, url, data=None, htmx=False, **kwargs):
        """POST a form with its CSRF token (as a header for htmx, as a field otherwise)."""
        data = dict(data or {})
        headers = dict(kwargs.pop("headers", {}))
        token = self.csrf_token()
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": token})
        else:
            data.setdefault("csrf_token", token)
        return self.post(url, data=data, headers=headers, **kwargs)

    def htmx_get(self, url, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        headers["HX-Request"] = "true"
        return self.get(url, headers=headers, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = Client
    return app.test_client()


class Auth:
    def __init__(self, client):
        self.client = client

    def sign_in(self, email, password=PASSWORD):
        response = self.client.submit("/sign-in", {"email": email, "password": password})
        assert response.status_code == 303, f"sign-in of {email} failed with {response.status_code}"
        return response

    def sign_out(self):
        return self.client.submit("/sign-out")


@pytest.fixture
def auth(client):
    return Auth(client)


class World:
    """Factories that build people, customers, sites and members through the domain layer."""

    def __init__(self, app):
        self.app = app
        self._numbers = iter(range(1000, 100000))

    def person(self, email, password=PASSWORD, operator=False, verified=True, **names):
        from models import person as people
        with self.app.app_context():
            person = people.create_person(email, None, names.get("first_name", email.split("@")[0].title()),
                                          names.get("last_name", "Tester"), is_operator=operator, verified=verified)
            person.password_hash = password_hash(password)
            db.session.commit()
            return person.id

    def operator(self, email="operator@example.com"):
        return self.person(email, operator=True)

    def site(self, primary_email="primary@example.com", number=None, customer="Acme Corp", name=None):
        """Create a site whose primary already has an account; return the site id."""
        from models import Customer
        from models import site as sites
        from models.person import find_person
        with self.app.app_context():
            missing = find_person(primary_email) is None
            db.session.rollback()
        if missing:
            self.person(primary_email)
        with self.app.app_context():
            found = db.session.scalar(sa.select(Customer).where(Customer.name == customer))
            found = found or sites.create_customer(customer)
            kind = sites.ORIGINATING if not found.sites else sites.ADDITIONAL
            number = number or str(next(self._numbers))
            site = sites.create_site(found, number, name or f"Site {number}", kind, primary_email)
            db.session.commit()
            return site.id

    def member(self, site_id, email, role="user", levels=None):
        """Add an existing (or new) person to a site with a role and tool levels {tool_key: rank}."""
        from models import Membership, Privilege
        from models.person import find_person
        from models.tool import tool_by_key
        with self.app.app_context():
            person = find_person(email)
            person_id = person.id if person else None
            db.session.rollback()
        person_id = person_id or self.person(email)
        with self.app.app_context():
            membership = Membership(site_id=site_id, person_id=person_id, role=role, business_justification="test")
            for key, rank in (levels or {}).items():
                membership.privileges.append(Privilege(tool_id=tool_by_key(key).id, rank=rank))
            db.session.add(membership)
            db.session.commit()
            return membership.id


@pytest.fixture
def world(app):
    return World(app)


# --- one world per module -----------------------------------------------------------------------

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
        _join_mail_threads()
        close_database(app)

    @pytest.fixture
    def app(shared_app, module_world, databases, smtp):
        template = module_world[2]
        if shared_app is None:
            uri = databases.clone(template)
            app = make_test_app(uri, smtp, **app_config)
            yield app
            _join_mail_threads()
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
        _join_mail_threads()

    @pytest.fixture
    def h(app, client, module_world):
        ids, cookies, _template = module_world
        session_helper = helper(app, client, ids, cookies)
        yield session_helper
        session_helper.close()

    return WorldFixtures(module_world, module_smtp, smtp, shared_app, app, h)


# --- browser ------------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_server(database_uri, smtp):
    port = free_port()
    app = make_test_app(database_uri, smtp, BASE_URL=f"http://127.0.0.1:{port}")
    server = LiveServer(app, port).start()
    yield server
    server.stop()
    _join_mail_threads()
    close_database(app)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        options = {"headless": True, "args": CHROMIUM_ARGS}
        if os.path.exists(CHROMIUM):
            options["executable_path"] = CHROMIUM
        browser = playwright.chromium.launch(**options)
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

