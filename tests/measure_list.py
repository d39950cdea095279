"""In-process cost of the member pages (`python -m tests.measure_list [--members N] [--db FILE] [--profile]`):
the Flask test client, signed in as the demo primary, against a seeded SQLite file (a fresh one filled
by `flask seed-demo`, or --db an existing one). For each endpoint — the User list, the search fragment,
the edit fragment, the inline save — prints the SQL statements one request runs (counted by a
SQLAlchemy before_cursor_execute listener on the engine) and the CPU ms per request (process time over
--requests requests, after a warm-up; like a gunicorn worker (gunicorn.conf.py) the app's start-up objects are
frozen out of the garbage collector's walks). --profile prints cProfile's top functions of the User list.
tests/bench.py prints these figures beside its gunicorn load. Not collected by pytest (no test_ prefix).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = ("list", "list_de", "search", "edit", "save")


def seed(members: int) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=f"sitepass-measure-list-{members}-"))
    db_path = directory / "sitepass.sqlite3"
    env = dict(os.environ, SITEPASS_SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}",
               SITEPASS_SECRET_KEY="measure", SITEPASS_MAIL_DELIVER_AFTER_COMMIT="false")
    for args in (["db", "upgrade"], ["seed-demo", "--members", str(members)]):
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    return db_path


class StatementCounter:
    """Counts the SQL statements an engine runs while `counting` is on."""

    def __init__(self, engine):
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args, **_kwargs):
        self.count += 1


def targets(db_path: Path) -> dict:
    with sqlite3.connect(db_path) as conn:
        site_id = conn.execute("SELECT id FROM site WHERE site_number = 'DEMO-1'").fetchone()[0]
        tool_id = conn.execute("SELECT id FROM tool WHERE key = 'reporting'").fetchone()[0]
        target = conn.execute(
            "SELECT m.id FROM membership m WHERE m.site_id = ? AND m.role = 'user' AND NOT EXISTS "
            "(SELECT 1 FROM privilege p WHERE p.membership_id = m.id AND p.tool_id = ?) ORDER BY m.id LIMIT 1",
            (site_id, tool_id)).fetchone()[0]
    return {"site_id": site_id, "tool_id": tool_id, "target": target}


def measure(db_path: Path, requests: int = 50, profile: bool = False, endpoints=ENDPOINTS) -> dict:
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from models import db
    from tests.helpers.client import Client
    from views.demo import DEMO_PASSWORD, DEMO_PRIMARY_EMAIL

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "measure",
                      "SCHEDULER_ENABLED": False, "MAIL_DELIVER_AFTER_COMMIT": False,
                      "DOCUMENTS_DIR": str(db_path.parent / "documents"),
                      "BACKUP_DIR": str(db_path.parent / "backups")})
    app.test_client_class = Client
    known = targets(db_path)
    site_id, target, tool_id = known["site_id"], known["target"], known["tool_id"]
    with app.app_context():
        counter = StatementCounter(db.engine)
    client = app.test_client()
    response = client.submit("/sign-in", {"email": DEMO_PRIMARY_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 303, response.status_code
    page = client.get(f"/sites/{site_id}/members").get_data(as_text=True)
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    level = [1]

    def call(endpoint):
        if endpoint == "list":
            return client.get(f"/sites/{site_id}/members", headers={"Accept-Language": "en"})
        if endpoint == "list_de":
            return client.get(f"/sites/{site_id}/members", headers={"Accept-Language": "de"})
        if endpoint == "search":
            return client.get(f"/sites/{site_id}/members?q=smith", headers={"HX-Request": "true"})
        if endpoint == "edit":
            return client.get(f"/sites/{site_id}/members/{target}/edit", headers={"HX-Request": "true"})
        level[0] = 1 - level[0]
        return client.post(f"/sites/{site_id}/members/{target}", data={"role": "user", f"tool_{tool_id}": level[0]},
                           headers={"HX-Request": "true", "X-CSRFToken": csrf})

    gc.collect()
    gc.freeze()  # as gunicorn.conf.py's post_worker_init does in each worker
    results = {}
    for endpoint in endpoints:
        for _ in range(5):
            assert call(endpoint).status_code == 200, endpoint
        counter.count = 0
        call(endpoint)
        statements = counter.count
        cpu = time.process_time()
        for _ in range(requests):
            call(endpoint)
        results[endpoint] = {"sql": statements, "cpu_ms": (time.process_time() - cpu) / requests * 1000}
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            call(os.environ.get("PROFILE_ENDPOINT", "list"))
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.measure_list", description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10000)
    parser.add_argument("--db", help="an existing seeded database file (seed-demo)")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (for tests/bench.py)")
    args = parser.parse_args(argv)
    db_path = Path(args.db) if args.db else seed(args.members)
    results = measure(db_path, args.requests, args.profile, [e for e in args.endpoints.split(",") if e in ENDPOINTS])
    if args.json:
        json.dump(results, sys.stdout)
        return 0
    for endpoint, r in results.items():
        print(f"{endpoint:<8} {r['sql']:3d} SQL statements  {r['cpu_ms']:6.1f} ms CPU per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
