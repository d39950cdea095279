"""Account documents uploaded to a site (SPEC §8).

A document's file lives under DOCUMENTS_DIR (instance/documents/ by default) with a random name;
the name it was uploaded with is only its displayed title. Files follow the transaction: a file
written for an upload that is rolled back is removed, and a deleted document's file goes only
once the delete is committed.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import shutil
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .audit import record
from .base import db, utcnow
from .contact import effective_contacts
from .errors import RuleViolation
from .tables import PRIMARY, membership_of, primary_of
from .outbox import queue_mail

DOCUMENT_TYPES = ("proof_of_entitlement", "invoice", "agreement", "renewal_quote")
DOCUMENT_TYPE_LABELS = {
    "proof_of_entitlement": _l("Proof of entitlement"),
    "invoice": _l("Invoice"),
    "agreement": _l("Agreement"),
    "renewal_quote": _l("Renewal quote"),
}
# The contact type mailed when a document of each type is uploaded (SPEC §8); None: the primary contact.
# The primary also stands in for a contact type that nobody holds (SPEC §6).
RECIPIENT_CONTACT_TYPES = {
    "proof_of_entitlement": "administrative",
    "invoice": "billing",
    "renewal_quote": "renewal",
    "agreement": None,
}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
TITLE_MAX = 255


class Document(db.Model):
    __tablename__ = "document"
    __table_args__ = (
        sa.CheckConstraint("doc_type IN ('proof_of_entitlement', 'invoice', 'agreement', 'renewal_quote')",
                           name="doc_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    doc_type: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(255))  # the uploaded name, shown, never used as a path
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)  # random, under instance/
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by: Mapped["Person | None"] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.doc_type} site={self.site_id}>"

    @property
    def type_label(self) -> str:
        return str(DOCUMENT_TYPE_LABELS[self.doc_type])


# --- the rules of SPEC §8: account documents ----------------------------------------------------

def _is_text(data: bytes) -> bool:
    """UTF-8 text without control characters other than tab, line and page breaks."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", text) is None


def _office(part: str) -> Callable[[bytes], bool]:
    """An Office Open XML file: a ZIP archive holding its content types and this main part."""

    def matches(data: bytes) -> bool:
        if not data.startswith(b"PK\x03\x04"):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:  # reads the directory only, inflates nothing
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return False
        return "[Content_Types].xml" in names and part in names

    return matches


@dataclass(frozen=True)
class Format:
    content_type: str  # what the file is stored and served as, whatever the browser claimed
    claimed: frozenset[str]  # what browsers send for such a file
    matches: Callable[[bytes], bool]


_ZIP_CLAIMS = {"application/zip", "application/x-zip-compressed"}
_CSV_CLAIMS = {"text/csv", "text/plain", "text/x-csv", "application/csv", "text/comma-separated-values",
               "application/vnd.ms-excel"}  # Windows browsers send the Excel type for .csv
FORMATS = {
    ".pdf": Format("application/pdf", frozenset({"application/pdf", "application/x-pdf"}),
                   lambda data: data.startswith(b"%PDF-")),
    ".png": Format("image/png", frozenset({"image/png"}), lambda data: data.startswith(b"\x89PNG\r\n\x1a\n")),
    ".jpg": Format("image/jpeg", frozenset({"image/jpeg", "image/pjpeg"}),
                   lambda data: data.startswith(b"\xff\xd8\xff")),
    ".jpeg": Format("image/jpeg", frozenset({"image/jpeg", "image/pjpeg"}),
                    lambda data: data.startswith(b"\xff\xd8\xff")),
    # Checked to be UTF-8: served with "; charset=utf-8" (Werkzeug adds it to every text/ type).
    ".txt": Format("text/plain", frozenset({"text/plain"}), _is_text),
    ".csv": Format("text/csv", frozenset(_CSV_CLAIMS), _is_text),
    ".docx": Format("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                               *_ZIP_CLAIMS}), _office("word/document.xml")),
    ".xlsx": Format("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", *_ZIP_CLAIMS}),
                    _office("xl/workbook.xml")),
}
# A browser that does not know a file's type says so; that claims nothing.
_UNKNOWN_CLAIMS = {"", "application/octet-stream", "binary/octet-stream"}
ACCEPTED_EXTENSIONS = tuple(FORMATS)


def clean_title(filename: str | None) -> str:
    """Turn an uploaded file name into a display title: its last path segment, without control or
    format characters (a right-to-left override shows "x<RLO>fdp.exe" as "xexe.pdf") or runs of
    spaces, at most 255 characters (keeping the extension)."""
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf"))
    name = " ".join(name.split())
    if len(name) > TITLE_MAX:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[:TITLE_MAX - len(ext)].rstrip() + ext
    return name


def _read(stream_or_bytes) -> bytes:
    """Read at most one byte more than allowed, so that a huge upload is never held whole."""
    if isinstance(stream_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(stream_or_bytes)
    return stream_or_bytes.read(MAX_DOCUMENT_BYTES + 1)


def checked_content_type(title: str, data: bytes, claimed: str | None) -> str:
    """Return the content type to store for a file, after checking its name, its claimed type and its
    bytes agree; refuse it otherwise."""
    extension = os.path.splitext(title)[1].lower()
    found = FORMATS.get(extension)
    if found is None:
        raise RuleViolation(_l("Upload a PDF, PNG, JPEG, text, CSV, Word (.docx) or Excel (.xlsx) file."), "file")
    claim = (claimed or "").split(";")[0].strip().lower()
    if claim not in _UNKNOWN_CLAIMS and claim not in found.claimed:
        raise RuleViolation(_l("The file's type (%(type)s) does not match its name.", type=claim), "file")
    if not found.matches(data):
        raise RuleViolation(_l("The file's content is not what its name says (%(ext)s).", ext=extension), "file")
    return found.content_type


def documents_dir() -> str:
    """Return the folder that holds the documents' files (DOCUMENTS_DIR, instance/documents/ by default)."""
    return current_app.config["DOCUMENTS_DIR"]


def document_path(document: Document) -> str:
    """Return the path of a document's file; only its random stored name goes into the path."""
    if not re.fullmatch(r"[0-9a-f]{64}", document.stored_name or ""):
        raise ValueError(f"unexpected stored name for {document!r}")
    return os.path.join(documents_dir(), document.stored_name)


def _may_upload(site, actor) -> bool:
    if getattr(actor, "is_operator", False):
        return True
    membership = membership_of(actor, site.id)
    return membership is not None and membership.role == PRIMARY


def _require_uploader(site, actor) -> None:
    if not _may_upload(site, actor):
        raise RuleViolation(_l("Only operators and the site's primary contact can upload or delete documents."))


def upload_recipients(site, doc_type: str) -> list[tuple]:
    """Return who is mailed about a new document of this type, as (person or None, address, name):
    the holders of its contact type, or the primary contact for agreements and where nobody holds it."""
    contact_type = RECIPIENT_CONTACT_TYPES[doc_type]
    holders = []
    if contact_type is not None:
        entry = next((e for e in effective_contacts(site) if e["type"].key == contact_type), None)
        holders = entry["holders"] if entry else []
    if holders:
        found = [(None, c.email, f"{c.first_name} {c.last_name}") for c in holders]
    else:
        primary = primary_of(site.id)
        found = [(primary.person, primary.person.mail_address, primary.person.display_name)] if primary else []
    unique, seen = [], set()
    for person, address, name in found:
        if address.lower() not in seen:
            seen.add(address.lower())
            unique.append((person, address, name))
    return unique


def _snapshot(document: Document) -> dict:
    return {"doc_type": document.doc_type, "title": document.title, "content_type": document.content_type,
            "size": document.size, "sha256": document.sha256}


def upload_document(site, actor, doc_type: str, filename: str | None, stream_or_bytes,
                    content_type: str | None) -> Document:
    """Store a document for a site and mail the effective contact of its type; operators and the
    site's primary contact only.

    The file is checked (size, and that its name, claimed type and bytes agree) before anything is
    written; it is stored under a random name, and the uploaded name is kept only as the title.
    """
    _require_uploader(site, actor)
    if doc_type not in DOCUMENT_TYPES:
        raise RuleViolation(_l("Choose a document type."), "doc_type")
    title = clean_title(filename)
    if not title:
        raise RuleViolation(_l("Choose a file to upload."), "file")
    data = _read(stream_or_bytes)
    if not data:
        raise RuleViolation(_l("The file is empty."), "file")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise RuleViolation(_l("The file is larger than %(size)d MB.", size=MAX_DOCUMENT_BYTES // (1024 * 1024)),
                            "file")
    stored_type = checked_content_type(title, data, content_type)

    document = Document(site_id=site.id, doc_type=doc_type, title=title, stored_name=secrets.token_hex(32),
                        content_type=stored_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                        uploaded_by_id=getattr(actor, "id", None))
    _write_file(document_path(document), data)
    db.session.add(document)
    db.session.flush()
    record(actor, "document.uploaded", site=site, target=("document", document.id, title),
           after=_snapshot(document))
    for person, address, name in upload_recipients(site, doc_type):
        queue_mail(person, "document_uploaded", to=address, site=site, document=document, name=name,
                   uploader=actor)
    return document


def delete_document(site, actor, document: Document) -> None:
    """Delete a site's document; its file goes when the deletion is committed. Operators and the
    site's primary contact only."""
    _require_uploader(site, actor)
    if document.site_id != site.id:
        raise RuleViolation(_l("No such document on this site."))
    record(actor, "document.deleted", site=site, target=("document", document.id, document.title),
           before=_snapshot(document))
    db.session.info.setdefault(_REMOVE_ON_COMMIT, []).append(document_path(document))
    db.session.delete(document)


def documents_of(site_id: int) -> list[Document]:
    """Return a site's documents, newest first, with their uploaders."""
    return list(db.session.scalars(sa.select(Document).where(Document.site_id == site_id)
                                   .order_by(Document.uploaded_at.desc(), Document.id.desc())
                                   .options(sa.orm.selectinload(Document.uploaded_by))))


# --- files follow the transaction ---------------------------------------------------------------

_WRITTEN = "documents_written"  # files of this transaction's uploads: removed if it rolls back
_REMOVE_ON_COMMIT = "documents_to_remove"  # files of this transaction's deletions: removed once committed


def _write_file(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    # O_EXCL: a stored name is never reused, not even by a colliding random one.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    db.session.info.setdefault(_WRITTEN, []).append(path)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _remove(paths) -> None:
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def _files_after_commit(session) -> None:
    session.info.pop(_WRITTEN, None)
    _remove(session.info.pop(_REMOVE_ON_COMMIT, []))


def _files_after_transaction_end(session, transaction) -> None:
    # Also reached by a rollback and by closing the session at the end of a failed request; after a
    # commit the lists are already gone.
    if transaction.parent is not None:
        return
    session.info.pop(_REMOVE_ON_COMMIT, None)
    _remove(session.info.pop(_WRITTEN, []))


def install_file_cleanup() -> None:
    """Make document files follow the session's transactions (once, however many apps are created)."""
    for event, listener in (("after_commit", _files_after_commit),
                            ("after_transaction_end", _files_after_transaction_end)):
        if not sa.event.contains(db.session, event, listener):
            sa.event.listen(db.session, event, listener)


def copy_document_files(stored_names, destination: str) -> list[str]:
    """Copy the files of these stored names into a folder (for a backup); return the names whose file
    is missing (deleted since the list was read)."""
    os.makedirs(destination, mode=0o700, exist_ok=True)
    missing = []
    for name in stored_names:
        if not re.fullmatch(r"[0-9a-f]{64}", name or ""):
            continue
        try:
            shutil.copy2(os.path.join(documents_dir(), name), os.path.join(destination, name))
        except FileNotFoundError:
            missing.append(name)
    return missing


ORPHAN_AGE_SECONDS = 3600  # younger files may belong to an upload whose transaction is still open


def sweep_orphan_files(now: float | None = None) -> list[str]:
    """Remove files in the documents folder that no document names and that are older than an hour
    (left by a process that died between writing a file and committing); return their names."""
    folder = documents_dir()
    if not os.path.isdir(folder):
        return []
    now = time.time() if now is None else now
    known = set(db.session.scalars(sa.select(Document.stored_name)))
    removed = []
    for entry in os.scandir(folder):
        if (entry.is_file() and re.fullmatch(r"[0-9a-f]{64}", entry.name) and entry.name not in known
                and now - entry.stat().st_mtime > ORPHAN_AGE_SECONDS):
            os.remove(entry.path)
            removed.append(entry.name)
    return removed
