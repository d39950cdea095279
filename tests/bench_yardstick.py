"""The bench's yardstick (tests/bench.py): a bare Flask + SQLAlchemy app that answers one membership
row as JSON from the same SQLite file as the app under test, served by gunicorn with the same
settings. What the API's member lookup costs above it is what Sitepass adds (key, rate limit,
catalog, scope); the bench prints the lookup's requests/s as a ratio to this one's.

    gunicorn 'tests.bench_yardstick:create_app()'   (SITEPASS_SQLALCHEMY_DATABASE_URI names the file)
"""
from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, abort, jsonify

ROW = sa.text(
    "SELECT s.site_number, p.email, m.role, m.granted_at FROM membership m "
    "JOIN site s ON s.id = m.site_id JOIN person p ON p.id = m.person_id "
    "WHERE s.site_number = :site_number AND lower(p.email) = lower(:email)")


def create_app() -> Flask:
    app = Flask(__name__)
    # gunicorn.conf.py starts Sitepass's scheduler in each worker unless told not to; the yardstick has none.
    app.config["SCHEDULER_ENABLED"] = False
    engine = sa.create_engine(os.environ["SITEPASS_SQLALCHEMY_DATABASE_URI"])

    @app.get("/sign-in")
    def ready():
        return "ok"

    @app.get("/yardstick/<site_number>/<email>")
    def membership(site_number, email):
        with engine.connect() as conn:
            row = conn.execute(ROW, {"site_number": site_number, "email": email}).mappings().first()
        if row is None:
            abort(404)
        return jsonify({**row, "granted_at": str(row["granted_at"])})

    return app
