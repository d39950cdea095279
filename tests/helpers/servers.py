"""Servers that are real: an SMTP server on loopback that keeps every mail, and the app in a WSGI server thread."""
from __future__ import annotations

import email
import email.policy
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
