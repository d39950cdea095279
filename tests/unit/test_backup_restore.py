"""Backups: the scheduler's daily copy into the backup folder keeps the newest 7, PostgreSQL is left to
pg_dump, and a backup restored as the README says into a fresh instance serves the same site."""
from __future__ import annotations

import glob
import os
import shutil

import pytest

from models import db
from models.scheduler import BACKUP, Scheduler, daily_backup
from tests.helpers.apps import make_test_app
from tests.helpers.client import Auth, Client
from tests.helpers.databases import POSTGRES_URL, close_database
from tests.helpers.pages import page_text

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
sqlite_only = pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite backups; PostgreSQL is backed up with pg_dump")


def backups(folder):
    return sorted(glob.glob(os.path.join(folder, "sitepass-*.sqlite3")))


@sqlite_only
def test_the_scheduler_backs_up_daily_and_keeps_the_newest_seven(database_uri, smtp, tmp_path):
    folder = tmp_path / "backups"
    app = make_test_app(database_uri, smtp, BACKUP_DIR=str(folder), SCHEDULER_BACKUP_SECONDS=86400)
    scheduler = Scheduler(app)
    assert BACKUP in scheduler.tick()
    assert len(backups(folder)) == 1
    assert BACKUP not in scheduler.tick()  # once a day
    assert len(backups(folder)) == 1

    app.config["SCHEDULER_BACKUP_SECONDS"] = 0  # every tick, to see the rotation
    for _ in range(9):
        assert BACKUP in scheduler.tick()
    kept = backups(folder)
    assert len(kept) == 7
    assert sorted(os.listdir(folder)) == sorted([os.path.basename(p) for p in kept]
                                                + [os.path.basename(p)[:-len(".sqlite3")] + "-documents" for p in kept])
    scheduler.stop()
    close_database(app)


def test_on_postgresql_the_daily_backup_is_skipped(database_uri, smtp, tmp_path):
    folder = tmp_path / "backups"
    app = make_test_app(database_uri, smtp, BACKUP_DIR=str(folder))
    with app.app_context():
        made = daily_backup(keep=7)
        dialect = db.engine.dialect.name
        db.session.remove()
    if dialect == "postgresql":
        assert made is None and not folder.exists()
    else:
        assert made is not None and backups(folder) == [made]
    close_database(app)


@sqlite_only
def test_a_backup_restored_into_a_fresh_instance_serves_the_site(database_uri, smtp, tmp_path):
    from models import Site
    from models import document as documents
    from models.person import find_person
    from tests.helpers.world import World

    live_documents = tmp_path / "live-documents"
    app = make_test_app(database_uri, smtp, BACKUP_DIR=str(tmp_path / "backups"),
                        DOCUMENTS_DIR=str(live_documents), MAIL_DELIVER_AFTER_COMMIT=False)
    world = World(app)
    site_id = world.site("primary@example.com", name="Rotterdam plant")
    world.member(site_id, "ulla.user@example.com", "user")
    world.member(site_id, "sam.secondary@example.com", "secondary")
    with app.app_context():
        documents.upload_document(db.session.get(Site, site_id), find_person("primary@example.com"), "invoice",
                                  "invoice-2026.pdf", PDF, "application/pdf")
        db.session.commit()
    # The daily backup, as the scheduler makes it.
    assert BACKUP in Scheduler(app).tick()
    [backup] = backups(tmp_path / "backups")
    close_database(app)

    # The README's restore, into a fresh instance directory: the copy becomes the database, the files
    # of its -documents folder the documents.
    instance = tmp_path / "fresh-instance"
    (instance / "documents").mkdir(parents=True)
    shutil.copyfile(backup, instance / "sitepass.sqlite3")
    for name in os.listdir(backup[:-len(".sqlite3")] + "-documents"):
        shutil.copy2(os.path.join(backup[:-len(".sqlite3")] + "-documents", name), instance / "documents" / name)

    restored = make_test_app(f"sqlite:///{instance}/sitepass.sqlite3", smtp, DOCUMENTS_DIR=str(instance / "documents"))
    restored.test_client_class = Client
    client = restored.test_client()
    assert client.get("/healthz").get_json()["status"] == "ok"
    Auth(client).sign_in("primary@example.com")
    members = page_text(client.get(f"/sites/{site_id}/members"))
    assert "Rotterdam plant" in members or "Rotterdam plant" in page_text(client.get(f"/sites/{site_id}/"))
    for email in ("primary@example.com", "ulla.user@example.com", "sam.secondary@example.com"):
        assert email in members
    listing = client.get(f"/sites/{site_id}/documents").get_data(as_text=True)
    assert "invoice-2026.pdf" in listing
    with restored.app_context():
        from models import Document
        import sqlalchemy as sa
        document_id = db.session.scalar(sa.select(Document.id))
        db.session.remove()
    download = client.get(f"/sites/{site_id}/documents/{document_id}/download")
    assert download.status_code == 200 and download.data == PDF
    close_database(restored)
