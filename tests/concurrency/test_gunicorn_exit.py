"""A gunicorn worker that stops writes the API requests it counted and had not written yet (the rate
limit's counts are written in batches, models/api.py take_request): gunicorn.conf.py's worker_exit."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from models import db
from models import api
from models.person import find_person
from models.throttle import ThrottleEvent
from tests.helpers.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise AssertionError("gunicorn did not answer /healthz:\n" + log.read_text()[-3000:])


def test_a_stopping_worker_writes_the_api_requests_it_still_holds(app, world, tmp_path):
    world.operator("operator@example.com")
    world.site("pat@example.com")
    with app.app_context():
        _key, plain = api.create_api_key(find_person("operator@example.com"), "Portal", None)
        db.session.commit()
    port = free_port()
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), WORKERS="1",
               SITEPASS_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
               SITEPASS_SECRET_KEY="exit-test-secret", SITEPASS_SCHEDULER_ENABLED="false",
               SITEPASS_DOCUMENTS_DIR=str(tmp_path / "documents"), SITEPASS_BACKUP_DIR=str(tmp_path / "backups"))
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
                                   cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, log)
        for _ in range(6):
            request = urllib.request.Request(url + "/api/v1/people/pat@example.com/sites",
                                             headers={"Authorization": f"Bearer {plain}"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
    finally:
        process.terminate()  # gunicorn's graceful stop: each worker's worker_exit runs
        process.wait(timeout=30)
    # The first request was written at once (the key had never been used); the other five waited for
    # their batch, which the stopping worker wrote.
    with app.app_context():
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(ThrottleEvent)
                                    .where(ThrottleEvent.kind == api.THROTTLE_KIND))
    assert counted == 6, log.read_text()[-3000:]
