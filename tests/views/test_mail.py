"""Mail through the outbox and a real SMTP server: delivered once, retried when the server fails."""
from __future__ import annotations

import socket
import threading
from datetime import timedelta

import sqlalchemy as sa

from models import OutboxMail, db
from models.base import utcnow
from tests.helpers.apps import join_mail_threads
from tests.helpers.mail import body_text, html_text, link_in


def _create_site(client, auth, world, primary_email="pat@acme.example.com", number="1001"):
    world.operator()
    auth.sign_in("operator@example.com")
    client.submit("/operator/customers", {"name": "Acme Corp"})
    return client.submit("/operator/customers/1/sites", {"site_number": number, "name": "Acme Berlin",
                                                         "kind": "originating", "primary_email": primary_email})


def _outbox(app):
    with app.app_context():
        return db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)).all()


def _make_due(app):
    with app.app_context():
        db.session.execute(sa.update(OutboxMail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_invitation_mail_arrives_with_a_working_link(client, auth, world, smtp):
    response = _create_site(client, auth, world)
    assert response.status_code == 303
    [message] = smtp.wait_for(1)
    assert message["To"] == "pat@acme.example.com"
    assert "1001" in message["Subject"]
    assert "Sitepass" in message["From"]
    link = link_in(message, "/invitations/")
    assert link.startswith("http://localhost/invitations/")
    assert link in html_text(message)
    assert "48 hours" in body_text(message)
    client.submit("/sign-out")
    page = client.get(link.removeprefix("http://localhost"))
    assert page.status_code == 200 and "Accept invitation" in page.get_data(as_text=True)


def test_mail_is_sent_exactly_once(client, auth, world, smtp, app):
    _create_site(client, auth, world)
    smtp.wait_for(1)
    join_mail_threads()  # the server has the message; let the deliverer record it as sent
    runner = app.test_cli_runner()
    assert "sent 0" in runner.invoke(args=["deliver-mail"]).output
    assert len(smtp.messages) == 1
    [row] = _outbox(app)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None


def test_message_id_is_the_one_stored_in_the_outbox(client, auth, world, smtp, app):
    _create_site(client, auth, world)
    [message] = smtp.wait_for(1)
    [row] = _outbox(app)
    assert message["Message-ID"] == row.message_id


def test_refused_change_writes_no_mail(client, auth, world, smtp, app):
    _create_site(client, auth, world)
    smtp.wait_for(1)
    again = client.submit("/operator/customers/1/sites", {"site_number": "1001", "name": "Other",
                                                          "kind": "additional", "primary_email": "x@example.com"})
    assert again.status_code == 422
    assert len(_outbox(app)) == 1


def test_server_down_keeps_mail_in_outbox_until_it_is_back(client, auth, world, smtp, app):
    smtp.stop()
    _create_site(client, auth, world)
    # The background delivery fails; the mail waits in the outbox with the error.
    for thread in threading.enumerate():
        if thread.name == "sitepass-mail":
            thread.join(timeout=15)
    [row] = _outbox(app)
    assert row.status == "pending" and row.attempts == 1
    assert "Connection" in row.last_error or "refused" in row.last_error.lower()
    assert row.next_attempt_at > utcnow()

    runner = app.test_cli_runner()
    assert "sent 0" in runner.invoke(args=["deliver-mail"]).output, "not due yet: backoff"
    smtp.start()
    _make_due(app)
    assert "sent 1" in runner.invoke(args=["deliver-mail"]).output
    assert "sent 0" in runner.invoke(args=["deliver-mail"]).output
    [message] = smtp.wait_for(1)
    assert message["To"] == "pat@acme.example.com"
    assert len(smtp.messages) == 1
    [row] = _outbox(app)
    assert row.status == "sent" and row.attempts == 2


def test_temporary_refusal_is_retried_permanent_refusal_is_recorded(client, auth, world, smtp, app):
    smtp.sink.mode = "tempfail"
    _create_site(client, auth, world)
    for thread in threading.enumerate():
        if thread.name == "sitepass-mail":
            thread.join(timeout=15)
    [row] = _outbox(app)
    assert row.status == "pending" and row.last_error.startswith("451")

    smtp.sink.mode = "permfail"
    _make_due(app)
    app.test_cli_runner().invoke(args=["deliver-mail"])
    [row] = _outbox(app)
    assert row.status == "failed" and row.last_error.startswith("550")
    assert smtp.messages == []


def test_stalled_server_times_out_instead_of_hanging(database_uri, smtp, tmp_path):
    from tests.helpers.apps import make_test_app

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never says hello
    try:
        app = make_test_app(database_uri, smtp, MAIL_PORT=listener.getsockname()[1], MAIL_TIMEOUT=1,
                            MAIL_DELIVER_AFTER_COMMIT=False)
        with app.test_request_context():
            from models import queue_mail
            queue_mail(None, "invitation", to="pat@example.com", token="t",
                       site=type("S", (), {"site_number": "1", "name": "S", "id": 1})(), role="user",
                       inviter=None, expires_at=utcnow())
            db.session.commit()
        result = app.test_cli_runner().invoke(args=["deliver-mail"])
        assert "deferred 1" in result.output
        [row] = _outbox(app)
        assert "timed out" in row.last_error.lower()
    finally:
        listener.close()


def test_two_deliverers_send_a_mail_once(client, auth, world, smtp, app):
    from models.outbox import deliver_due

    smtp.stop()
    _create_site(client, auth, world)
    for thread in threading.enumerate():
        if thread.name == "sitepass-mail":
            thread.join(timeout=15)
    smtp.start()
    _make_due(app)
    results = []

    def deliver():
        with app.app_context():
            results.append(deliver_due())
            db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(r["sent"] for r in results) == 1
    smtp.wait_for(1)
    assert len(smtp.messages) == 1
