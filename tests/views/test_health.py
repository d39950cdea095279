"""GET /healthz: 200 with a small JSON body when the database answers and its migrations are current,
503 otherwise; no sign-in, no session cookie, no database write."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from models import OutboxMail, db, utcnow
from tests.helpers.apps import make_test_app
from tests.helpers.state import snapshot



def test_healthy_service_answers_ok_without_a_session_or_a_write(app, client):
    before = snapshot(app)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "database": "ok", "migrations": "current",
                                   "oldest_undelivered_mail_seconds": None}
    assert response.headers.getlist("Set-Cookie") == []
    assert response.headers["Cache-Control"] == "no-store"
    assert snapshot(app) == before


def test_the_age_of_the_oldest_undelivered_mail_is_reported(database_uri, smtp):
    app = make_test_app(database_uri, smtp, MAIL_DELIVER_AFTER_COMMIT=False)
    with app.app_context():
        for minutes, status in ((30, "sent"), (12, "pending"), (3, "sending"), (50, "failed")):
            db.session.add(OutboxMail(recipient="a@example.com", subject="s", text_body="t", html_body="h",
                                      message_id=f"<{minutes}@example.com>", status=status,
                                      created_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()
    body = app.test_client().get("/healthz").get_json()
    assert body["status"] == "ok"
    assert 12 * 60 <= body["oldest_undelivered_mail_seconds"] < 12 * 60 + 30  # the pending one; sent and failed do not wait
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_database_behind_the_migrations_is_unhealthy(app, client):
    with app.app_context():
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
        db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "ok", "migrations": "behind",
                                   "oldest_undelivered_mail_seconds": None}
    assert response.headers.getlist("Set-Cookie") == []


def test_a_database_that_does_not_answer_is_unhealthy(smtp, tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path}/missing-folder/sitepass.sqlite3", smtp)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"
    assert response.get_json()["status"] == "unavailable"
    with app.app_context():
        db.engine.dispose()


def test_a_signed_in_visitor_gets_the_same_answer(world, client, auth):
    world.person("someone@example.com")
    auth.sign_in("someone@example.com")
    assert client.get("/healthz").get_json()["status"] == "ok"
