"""Test doubles that are real: an SMTP server on loopback, a WSGI server thread, and factories."""
from __future__ import annotations

import email
import html as htmllib
import email.policy
import re
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailSink:
    """An aiosmtpd handler that keeps every message and can refuse on demand.

    `mode` is "accept", "tempfail" (451 on DATA) or "permfail" (550 on DATA).
    """

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.mode = "accept"
        self.refused = 0
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "tempfail":
            self.refused += 1
            return "451 4.3.0 Try again later"
        if self.mode == "permfail":
            self.refused += 1
            return "550 5.1.1 No such user"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return "250 OK"

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until at least `count` messages arrived; fail the test after `timeout` seconds."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        assert arrived, f"expected {count} mail(s), got {len(self.messages)}: {[m['Subject'] for m in self.messages]}"
        return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address.lower() in m["To"].lower()]


class SMTPServer:
    """A real SMTP server on a loopback port; stop() and start() make it go down and come back."""

    def __init__(self, port: int | None = None):
        self.sink = MailSink()
        self.port = port or free_port()
        self.controller = None

    def start(self):
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port,
                                     data_size_limit=10 * 1024 * 1024)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.sink.messages

    def wait_for(self, count: int = 1, timeout: float = 10.0):
        return self.sink.wait_for(count, timeout)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content()


def html_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content()


def link_in(message: EmailMessage, path_prefix: str) -> str:
    """Return the first link in the plain-text part whose path starts with path_prefix."""
    for url in re.findall(r"https?://\S+", body_text(message)):
        if re.match(r"https?://[^/]+" + re.escape(path_prefix), url):
            return url
    raise AssertionError(f"no link to {path_prefix} in mail {message['Subject']!r}:\n{body_text(message)}")


class LiveServer:
    """The app in a real threaded WSGI server on 127.0.0.1."""

    def __init__(self, app, port: int):
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)


def text(markup: str) -> str:
    """The words of an HTML page or fragment, tags dropped and entities decoded."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def page_text(response) -> str:
    """The words of a response's HTML."""
    return text(response.get_data(as_text=True))


def let_time_pass(app, delta) -> None:
    """Move the clock of an app's database forward: every throttle event, account lock and failure window
    happened `delta` earlier (tests of limits counted over minutes or days never sleep). Shifted in Python:
    date arithmetic in SQL is not portable (SQLite would turn the stored text into a number)."""
    import sqlalchemy as sa

    from models import Person, db
    from models.throttle import ThrottleEvent

    with app.app_context():
        for event in db.session.scalars(sa.select(ThrottleEvent)):
            event.created_at -= delta
        for person in db.session.scalars(sa.select(Person)):
            if person.locked_until is not None:
                person.locked_until -= delta
            if person.failed_window_started_at is not None:
                person.failed_window_started_at -= delta
        db.session.commit()


def snapshot(app) -> dict:
    """Every row of every table, in a comparable form: what a refused request must leave as it was."""
    import sqlalchemy as sa

    from models import db

    with app.app_context():
        with db.engine.connect() as conn:
            state = {table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
                     for table in db.metadata.sorted_tables}
        db.session.remove()
    return state
