"""Fresh databases for tests: migrated once by Alembic, then cloned for each test."""
from __future__ import annotations

import os
import shutil
import uuid

import sqlalchemy as sa

from app import create_app
from models import db

# Set by .ci/run to run the database tests on PostgreSQL as well, e.g.
# postgresql+psycopg://postgres@127.0.0.1:54329/postgres
POSTGRES_URL = os.environ.get("SITEPASS_TEST_DATABASE_URL")


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

    def drop_all(self) -> None:
        """Drop the migrated base and let go of the admin connection (PostgreSQL; nothing to do on SQLite)."""
        if self.admin is not None:
            self.drop(self._uri(self.base))
            self.admin.dispose()


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
