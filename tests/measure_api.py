"""In-process speed of the API's member lookup (`python -m tests.measure_api [N]`): the Flask test
client against a fresh migrated SQLite file, one key, N requests (default 2,000), requests/s.
Measures what one request costs the app itself (key check, rate limit, lookup) without a server.
Not collected by pytest (no test_ prefix)."""
from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from app import create_app
from models import api, db


def main(argv=None) -> int:
    count = int((argv or sys.argv[1:] or ["2000"])[0])
    directory = Path(tempfile.mkdtemp(prefix="sitepass-measure-api-"))
    uri = f"sqlite:///{directory / 'api.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "measure", "SCHEDULER_ENABLED": False,
                      "MAIL_DELIVER_AFTER_COMMIT": False, "DOCUMENTS_DIR": str(directory / "documents"),
                      "BACKUP_DIR": str(directory / "backups")})
    from flask_migrate import upgrade

    from tests.helpers.world import World

    with app.app_context():
        upgrade()
    world = World(app)
    operator = world.operator()
    site_id = world.site("primary@example.com", number="1001")
    world.member(site_id, "sec@example.com", role="secondary", levels={"software": 2})
    with app.app_context():
        _key, plain = api.create_api_key(db.session.get(api.Person, operator), "measure")
        db.session.commit()
    api.REQUEST_LIMIT = (10**9, timedelta(minutes=1))  # measure the counting, never the refusal
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    for _ in range(50):
        client.get("/api/v1/sites/1001/members/sec@example.com", headers=headers)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(count):
        assert client.get("/api/v1/sites/1001/members/sec@example.com", headers=headers).status_code == 200
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    # CPU per request is the steadier figure when other processes share the machine.
    print(f"member lookup in-process: {count} requests in {elapsed:.2f} s = {count / elapsed:.0f} requests/s, "
          f"{cpu / count * 1000:.2f} ms CPU per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
