"""Backups of a SQLite instance: a consistent copy through SQLite's backup API plus the document files
it lists, and the rotation that keeps the newest few. PostgreSQL is backed up with pg_dump instead."""
from __future__ import annotations

import glob
import os
import shutil
import sqlite3
from datetime import datetime
from typing import NamedTuple

from flask import current_app

from .base import db
from .document import copy_document_files

BACKUP_PREFIX = "sitepass-"
BACKUP_SUFFIX = ".sqlite3"


class BackupResult(NamedTuple):
    path: str
    documents_folder: str
    documents_copied: int
    documents_missing: int


class BackupError(Exception):
    """The copy could not be made or failed its integrity check."""


def backups_dir() -> str:
    """The backup folder: BACKUP_DIR, instance/backups/ unless set."""
    return current_app.config["BACKUP_DIR"]


def is_sqlite() -> bool:
    return db.engine.url.get_backend_name() == "sqlite"


def backup_database(destination: str | None = None) -> BackupResult:
    """Copy the live SQLite database with SQLite's backup API (never a plain file copy, which can catch
    a half-written WAL) into `destination` (default instance/backups/sitepass-STAMP.sqlite3), check the
    copy's integrity, and copy the files of the documents the copy lists into DEST-documents/ beside it.
    """
    if not is_sqlite():
        raise BackupError("backup is for SQLite; use pg_dump for PostgreSQL.")
    if destination is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        destination = os.path.join(backups_dir(), f"{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}")
    os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
    source = sqlite3.connect(db.engine.url.database)
    target = sqlite3.connect(destination)
    try:
        with target:
            source.backup(target)
        result = target.execute("PRAGMA integrity_check").fetchone()[0]
        stored_names = [row[0] for row in target.execute("SELECT stored_name FROM document")]
    finally:
        source.close()
        target.close()
    if result != "ok":
        raise BackupError(f"backup written to {destination} but its integrity check said: {result}")
    # The documents the copy lists, beside it: a database without its files restores half a site.
    folder = os.path.splitext(destination)[0] + "-documents"
    missing = copy_document_files(stored_names, folder)
    return BackupResult(destination, folder, len(stored_names) - len(missing), len(missing))


def prune_backups(keep: int) -> list[str]:
    """Remove all but the newest `keep` backups in instance/backups/ (with their documents folders);
    return the removed database files. Only files named as backup_database() names them are touched."""
    pattern = os.path.join(backups_dir(), f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}")
    found = sorted(glob.glob(pattern), key=lambda path: (os.path.getmtime(path), path), reverse=True)
    removed = []
    for path in found[max(keep, 0):]:
        os.remove(path)
        shutil.rmtree(os.path.splitext(path)[0] + "-documents", ignore_errors=True)
        removed.append(path)
    return removed
