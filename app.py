"""The Sitepass application factory: read it as the table of contents of the app."""
from __future__ import annotations

import logging
import os
import secrets
import sqlite3
from datetime import timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults → instance/config.py → SITEPASS_* environment → test_config."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        # Links in mail are built from this, never from the request's Host header.
        BASE_URL="http://127.0.0.1:5000",
        SQLALCHEMY_DATABASE_URI=None,
        SQLALCHEMY_ENGINE_OPTIONS={},
        MAIL_SERVER="localhost",
        MAIL_PORT=25,
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
        MAIL_USERNAME=None,
        MAIL_PASSWORD=None,
        MAIL_DEFAULT_SENDER="Sitepass <sitepass@localhost>",
        # Flask-Mail would otherwise send nothing whenever TESTING is set; tests use a real SMTP server.
        MAIL_SUPPRESS_SEND=False,
        # Flask-Mail opens SMTP without a timeout; a hung relay must not hold a worker.
        MAIL_TIMEOUT=10,
        # Deliver right after the commit in a background thread; `flask deliver-mail` retries the rest.
        MAIL_DELIVER_AFTER_COMMIT=True,
        # A deferred mail is tried again after this long, doubled per attempt (up to 6 hours).
        MAIL_RETRY_SECONDS=60,
        # The scheduler (models/scheduler.py): mail, reminders and backups without cron; one process does it.
        SCHEDULER_ENABLED=True,
        SCHEDULER_TICK_SECONDS=5,
        SCHEDULER_LEASE_SECONDS=60,
        SCHEDULER_MAIL_SECONDS=20,
        SCHEDULER_REMINDERS_SECONDS=3600,
        SCHEDULER_BACKUP_SECONDS=86400,
        SCHEDULER_BACKUP_KEEP=7,
        SCHEDULER_WEBHOOK_SECONDS=10,
        # Webhooks to loopback addresses, over http:// too: for development and tests only (models/webhook.py).
        WEBHOOK_ALLOW_LOOPBACK=False,
        # Special-use email domains (RFC 6761: .local, .test …) accepted in addresses, e.g. ["local"].
        EMAIL_SPECIAL_USE_DOMAINS=[],
        # Where `flask backup` and the daily backup write; None means instance/backups/.
        BACKUP_DIR=None,
        SESSION_IDLE_MINUTES=30,
        SESSION_ABSOLUTE_HOURS=12,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The cookie is written when the session changes (views/security.py moves its last activity on
        # at most once a minute), not re-signed and sent with every answer.
        SESSION_REFRESH_EACH_REQUEST=False,
        # The CSRF token lives as long as the session, so a page left open does not fail on its next click.
        WTF_CSRF_TIME_LIMIT=None,
        # Babel's catalogs: English is the source language; add a catalog to add a language.
        LANGUAGES=["en", "de", "fr", "id"],
        # The language of a person who chose none and whose browser asks for none we have (and of
        # their mail); the time zone of everyone who chose none. Both are checked at start-up.
        DEFAULT_LANGUAGE="en",
        TIMEZONE="UTC",
        PAGE_SIZE=25,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        # Uploaded account documents; None means instance/documents/, outside the served tree.
        DOCUMENTS_DIR=None,
        # How many reverse proxies stand in front (nginx: 1). Their X-Forwarded-For/-Proto give the
        # client's address, which the abuse limits and the audit log count; with 0 the headers are
        # ignored, so that no client can name itself another address.
        TRUSTED_PROXIES=0,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("SITEPASS")
    if test_config is not None:
        app.config.update(test_config)
    derive_settings(app)
    if app.config["TRUSTED_PROXIES"]:
        # Werkzeug's ProxyFix takes only the last N hops, which the trusted proxies appended.
        proxies = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    register_extensions(app)
    register_converters(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_request_hooks(app)
    register_commands(app)
    return app


def derive_settings(app: Flask) -> None:
    """Fill the settings that follow from others: database file, secret key, cookie and host rules."""
    config = app.config
    if not config["SQLALCHEMY_DATABASE_URI"]:
        config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "sitepass.sqlite3")
    if not config["DOCUMENTS_DIR"]:
        config["DOCUMENTS_DIR"] = os.path.join(app.instance_path, "documents")
    if not config["BACKUP_DIR"]:
        config["BACKUP_DIR"] = os.path.join(app.instance_path, "backups")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret_key(app)
    base = urlparse(config["BASE_URL"])
    # Secure cookies whenever the public address is HTTPS (behind a TLS-terminating proxy too).
    config["SESSION_COOKIE_SECURE"] = base.scheme == "https"
    config["PREFERRED_URL_SCHEME"] = base.scheme or "http"
    if config.get("TRUSTED_HOSTS") is None and base.hostname:
        loopback = {"127.0.0.1", "localhost"}
        # On a loopback address both of its names reach the same server.
        config["TRUSTED_HOSTS"] = sorted(loopback) if base.hostname in loopback else [base.hostname]
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=config["SESSION_ABSOLUTE_HOURS"])
    if isinstance(config["LANGUAGES"], str):
        config["LANGUAGES"] = [code.strip() for code in config["LANGUAGES"].split(",") if code.strip()]
    if config["DEFAULT_LANGUAGE"] not in config["LANGUAGES"]:
        raise ValueError(f"DEFAULT_LANGUAGE {config['DEFAULT_LANGUAGE']!r} is not one of LANGUAGES {config['LANGUAGES']}")
    try:
        ZoneInfo(config["TIMEZONE"])
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ValueError(f"TIMEZONE {config['TIMEZONE']!r} is not a time zone name such as Europe/Berlin") from exc
    config["BABEL_DEFAULT_LOCALE"] = config["DEFAULT_LANGUAGE"]
    config["BABEL_DEFAULT_TIMEZONE"] = config["TIMEZONE"]


def _instance_secret_key(app: Flask) -> str:
    """Return the secret key kept in instance/, generating it on first start (never in git)."""
    path = os.path.join(app.instance_path, "secret_key")
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key)
        return key


def register_extensions(app: Flask) -> None:
    from models import db
    from models.base import configure_sqlite
    from models.document import install_file_cleanup
    from models.outbox import install_delivery_after_commit, mail
    from flask_babel import Babel

    from views.extensions import csrf, htmx, login_manager, migrate, select_locale, select_timezone

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"),
                     render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    mail.init_app(app)
    # A Babel object per app: Flask-Babel caches loaded catalogs on it, and apps of one process (the
    # tests') may read different translation directories.
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    htmx.init_app(app)
    install_delivery_after_commit()
    install_file_cleanup()
    app.jinja_env.add_extension("jinja2.ext.do")
    app.logger.setLevel(logging.INFO)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # Reported at start-up: SQLite before 3.44.6/3.50.7/3.51.3 has a rare WAL-reset corruption bug.
            app.logger.info("SQLite %s (use `flask --app app backup` for safe copies)", sqlite3.sqlite_version)


def register_converters(app: Flask) -> None:
    from views.parsing import IdConverter

    # Before the blueprints: every <int:...> of a route is an id bounded by the database integer.
    app.url_map.converters["int"] = IdConverter


def register_blueprints(app: Flask) -> None:
    from views import (api, auth, contacts, documents, health, invitations, members, my_access, operator, primacy,
                       profiles, reports, requests, review, settings, sites, support)

    app.register_blueprint(auth.bp)
    app.register_blueprint(invitations.bp)
    app.register_blueprint(sites.bp)
    app.register_blueprint(contacts.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(members.bp)
    app.register_blueprint(profiles.bp)
    app.register_blueprint(my_access.bp)
    app.register_blueprint(operator.bp)
    app.register_blueprint(primacy.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(support.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    from views import webhooks
    app.register_blueprint(webhooks.bp)


def register_error_handlers(app: Flask) -> None:
    from views.errors import register_error_pages

    register_error_pages(app)


def register_request_hooks(app: Flask) -> None:
    from views.rendering import register_template_globals
    from views.security import register_input_checks, register_security

    register_input_checks(app)
    register_security(app)
    register_template_globals(app)


def register_commands(app: Flask) -> None:
    from views.commands import register

    register(app)
