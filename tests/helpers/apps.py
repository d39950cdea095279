"""A test app: the real factory on a test database and the loopback SMTP server."""
from __future__ import annotations

import os
import tempfile
import threading

from jinja2 import BytecodeCache

from app import create_app


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


def join_mail_threads():
    """Wait for the mail deliveries a test started, so that none outlives its app and SMTP server."""
    for thread in threading.enumerate():
        if thread.name == "sitepass-mail":
            thread.join(timeout=15)
