"""Account documents (SPEC §8, issue 6) through the client: an upload mails the effective contact of
its type (the primary where nobody holds it); members with Account-related documents = View list and
download; nobody else fetches a file even with its URL; refused uploads write nothing; stored names
never come from the upload; uploads and deletions are audited, and files follow the transaction."""
from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile

import pytest
import sqlalchemy as sa

from models import AuditEvent, Document, OutboxMail, Site, db
from models import document as documents
from models.errors import RuleViolation
from models.person import find_person
from tests.helpers.apps import join_mail_threads
from tests.helpers.mail import body_text, html_text, link_in

PRIMARY = "primary@example.com"
VIEWER = "viewer@example.com"      # user, Account-related documents = View
NOBODY = "nobody@example.com"      # user, Account-related documents = None
MANAGER = "manager@example.com"    # secondary, Manage access = Update, documents = View
OPERATOR = "operator@example.com"
PRIMARY_B = "primary.b@example.com"

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(16) + b"\xff\xd9"

# Contacts of site A: one per contact type an upload goes to.
CONTACTS = {
    "administrative": ("Ada", "Admin", "ada@example.com"),
    "billing": ("Bill", "Payer", "bill@example.com"),
    "renewal": ("Rene", "Renewer", "rene@example.com"),
}
ADDRESS = {"phone": "+49 30 1234567", "address": "Hauptstr. 1", "address_line2": "", "city": "Berlin",
           "subdivision": "DE-BE", "postal_code": "10115", "country": "DE"}


def office_file(part: str) -> bytes:
    """A minimal Office Open XML package (ZIP) with its content types and this main part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<document/>")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    """Uploads of this test go to its own folder, never to the checkout's instance/."""
    folder = tmp_path / "documents"
    app.config["DOCUMENTS_DIR"] = str(folder)
    return folder


@pytest.fixture
def site(app, world, smtp):
    """Site A (its primary, a viewer, a member without documents, a manager) with one contact per
    type an upload goes to, unless a test asks for none; site B with one document. Mail so far is
    delivered and dropped."""

    def build(with_contacts=True):
        world.operator(OPERATOR)
        site_a = world.site(PRIMARY, customer="Acme Corp", name="Acme Works", number="1001")
        world.member(site_a, VIEWER, "user", {"documents": 1})
        world.member(site_a, NOBODY, "user")
        world.member(site_a, MANAGER, "secondary", {"manage_access": 2, "documents": 1})
        site_b = world.site(PRIMARY_B, customer="Beta Corp", name="Beta Plant", number="2002")
        with app.app_context():
            from models.contact import save_contact
            a = db.session.get(Site, site_a)
            if with_contacts:
                for contact_type, (first, last, email) in CONTACTS.items():
                    save_contact(a, find_person(PRIMARY), {**ADDRESS, "first_name": first, "last_name": last,
                                                           "email": email}, [contact_type])
            doc_b = documents.upload_document(db.session.get(Site, site_b), find_person(PRIMARY_B), "invoice",
                                              "beta-invoice.pdf", PDF, "application/pdf").id
            db.session.commit()
        smtp.wait_for(3)  # two Welcome mails and site B's invoice
        join_mail_threads()
        smtp.sink.messages.clear()
        return {"a": site_a, "b": site_b, "doc_b": doc_b}

    return build


def upload(client, site_id, doc_type, name, data, content_type="application/octet-stream", htmx=False):
    form = {"doc_type": doc_type}
    if name is not None:
        form["file"] = (io.BytesIO(data), name, content_type)
    return client.submit(f"/sites/{site_id}/documents", form, htmx=htmx)


def stored(app, site_id):
    with app.app_context():
        found = list(db.session.scalars(sa.select(Document).where(Document.site_id == site_id)))
        db.session.expunge_all()
        db.session.rollback()
    return found


def events(app, site_id, prefix="document."):
    with app.app_context():
        found = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.site_id == site_id,
                                                                    AuditEvent.action.startswith(prefix))
                                        .order_by(AuditEvent.id)))
        db.session.expunge_all()
        db.session.rollback()
    return found


def files_in(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# --- the mail of an upload ------------------------------------------------------------------------

@pytest.mark.parametrize("doc_type, label, recipient", [
    ("proof_of_entitlement", "Proof of entitlement", "ada@example.com"),
    ("invoice", "Invoice", "bill@example.com"),
    ("renewal_quote", "Renewal quote", "rene@example.com"),
    ("agreement", "Agreement", PRIMARY),
])
def test_upload_mails_the_effective_contact_of_its_type(client, auth, site, smtp, doc_type, label, recipient):
    ids = site()
    auth.sign_in(PRIMARY)
    response = upload(client, ids["a"], doc_type, "2026 Q1.pdf", PDF, "application/pdf")
    assert response.status_code == 303
    assert response.location == f"/sites/{ids['a']}/documents"
    [mail] = smtp.wait_for(1)
    join_mail_threads()
    assert [m["To"] for m in smtp.messages] == [recipient], "one mail, to the contact of this type only"
    assert mail["Subject"] == "A new account document for site 1001"
    text = body_text(mail).replace("\r\n", "\n")
    assert f"Primary Tester added a document to site 1001, Acme Works:\n{label}: 2026 Q1.pdf" in text
    assert link_in(mail, f"/sites/{ids['a']}/documents") == f"http://localhost/sites/{ids['a']}/documents"
    assert "2026 Q1.pdf" in html_text(mail)
    assert mail.get_body(preferencelist=("plain",)) is not None and not list(mail.iter_attachments()), \
        "the file itself is never mailed: the mail links to the page that checks access"
    page = client.get(f"/sites/{ids['a']}/documents").get_data(as_text=True)
    assert f"we mailed {recipient}" in page


@pytest.mark.parametrize("doc_type", ["proof_of_entitlement", "invoice", "renewal_quote"])
def test_upload_mails_the_primary_where_nobody_holds_the_type(client, auth, site, smtp, doc_type):
    ids = site(with_contacts=False)
    auth.sign_in(OPERATOR)
    assert upload(client, ids["a"], doc_type, "quote.pdf", PDF).status_code == 303
    [mail] = smtp.wait_for(1)
    join_mail_threads()
    assert [m["To"] for m in smtp.messages] == [PRIMARY]
    assert body_text(mail).startswith("Hello Primary Tester,")
    assert "Operator Tester added a document to site 1001" in body_text(mail)


# --- who sees and fetches what --------------------------------------------------------------------

def test_member_with_view_lists_and_downloads_the_bytes(app, client, auth, site):
    ids = site()
    auth.sign_in(PRIMARY)
    upload(client, ids["a"], "invoice", "März invoice.pdf", PDF, "application/pdf")
    [document] = stored(app, ids["a"])
    auth.sign_out()

    auth.sign_in(VIEWER)
    start = client.get(f"/sites/{ids['a']}/").get_data(as_text=True)
    assert f'href="/sites/{ids["a"]}/documents"' in start, "the site navigation offers Documents"
    page = client.get(f"/sites/{ids['a']}/documents")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for shown in ("Invoice", "März invoice.pdf", f"{len(PDF)} Bytes", "Primary Tester",
                  document.uploaded_at.strftime("%Y-%m-%d")):
        assert shown in text
    assert "Upload a document" not in text and "Delete März" not in text, "viewers neither upload nor delete"

    response = client.get(f"/sites/{ids['a']}/documents/{document.id}/download")
    assert response.status_code == 200
    assert response.get_data() == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "M%C3%A4rz%20invoice.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]


def test_member_without_view_is_refused_even_with_the_url(app, client, auth, site):
    ids = site()
    auth.sign_in(PRIMARY)
    upload(client, ids["a"], "invoice", "invoice.pdf", PDF)
    [document] = stored(app, ids["a"])
    auth.sign_out()

    auth.sign_in(NOBODY)
    start = client.get(f"/sites/{ids['a']}/").get_data(as_text=True)
    assert f'href="/sites/{ids["a"]}/documents"' not in start
    assert client.get(f"/sites/{ids['a']}/documents").status_code == 403
    response = client.get(f"/sites/{ids['a']}/documents/{document.id}/download")
    assert response.status_code == 403
    assert PDF not in response.get_data()


def test_a_document_of_another_site_is_not_found(app, client, auth, site):
    ids = site()
    auth.sign_in(PRIMARY)  # primary of A: holds View there, is no member of B
    assert client.get(f"/sites/{ids['a']}/documents/{ids['doc_b']}/download").status_code == 404
    assert client.get(f"/sites/{ids['b']}/documents/{ids['doc_b']}/download").status_code == 404
    assert client.get(f"/sites/{ids['b']}/documents").status_code == 404
    assert client.submit(f"/sites/{ids['a']}/documents/{ids['doc_b']}/delete").status_code == 404
    assert len(stored(app, ids["b"])) == 1
    auth.sign_out()
    auth.sign_in(OPERATOR)  # operators see every site, but a document only under its own site
    assert client.get(f"/sites/{ids['a']}/documents/{ids['doc_b']}/download").status_code == 404
    assert client.get(f"/sites/{ids['b']}/documents/{ids['doc_b']}/download").get_data() == PDF


@pytest.mark.parametrize("email", [VIEWER, MANAGER])
def test_only_operators_and_the_primary_upload_and_delete(app, client, auth, site, documents_dir, email):
    ids = site()
    auth.sign_in(email)
    assert "Upload a document" not in client.get(f"/sites/{ids['a']}/documents").get_data(as_text=True)
    assert upload(client, ids["a"], "invoice", "invoice.pdf", PDF).status_code == 403
    assert stored(app, ids["a"]) == []
    with app.app_context():
        with pytest.raises(RuleViolation, match="Only operators and the site's primary contact"):
            documents.upload_document(db.session.get(Site, ids["a"]), find_person(email), "invoice",
                                      "invoice.pdf", PDF, "application/pdf")
        db.session.rollback()
    assert client.submit(f"/sites/{ids['b']}/documents/{ids['doc_b']}/delete").status_code == 404
    assert files_in(documents_dir) == [stored(app, ids["b"])[0].stored_name]


# --- refused uploads write nothing -------------------------------------------------------------------

REFUSED = {
    "html named .pdf": ("invoice", "invoice.pdf", b"<html><script>alert(1)</script></html>", "application/pdf",
                        "The file's content is not what its name says (.pdf)."),
    "pdf claimed as html": ("invoice", "invoice.pdf", PDF, "text/html",
                            "The file's type (text/html) does not match its name."),
    "executable": ("invoice", "setup.exe", b"MZ\x90\x00", "application/octet-stream",
                   "Upload a PDF, PNG, JPEG, text, CSV, Word (.docx) or Excel (.xlsx) file."),
    "no extension": ("invoice", "invoice", PDF, "application/pdf",
                     "Upload a PDF, PNG, JPEG, text, CSV, Word (.docx) or Excel (.xlsx) file."),
    "zip named .docx": ("agreement", "contract.docx", office_file("secret.txt"), "",
                        "The file's content is not what its name says (.docx)."),
    "binary named .csv": ("invoice", "export.csv", b"a,b\n\x00\x01\x02", "text/csv",
                          "The file's content is not what its name says (.csv)."),
    "latin-1 text": ("invoice", "notes.txt", "Grüße".encode("latin-1"), "text/plain",
                     "The file's content is not what its name says (.txt)."),
    "too large": ("invoice", "big.pdf", PDF + b"0" * (10 * 1024 * 1024), "application/pdf",
                  "The file is larger than 10 MB."),
    "empty": ("invoice", "empty.pdf", b"", "application/pdf", "The file is empty."),
    "no file": ("invoice", None, b"", "", "Choose a file to upload."),
    "no type": ("", "invoice.pdf", PDF, "application/pdf", "Choose a document type."),
    "unknown type": ("contract", "invoice.pdf", PDF, "application/pdf", "Not a valid choice."),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_upload_shows_the_error_at_its_field_and_writes_nothing(app, client, auth, world, smtp,
                                                                       documents_dir, case):
    doc_type, name, data, content_type, message = REFUSED[case]
    site_id = world.site(PRIMARY, number="1001")
    smtp.wait_for(1)
    auth.sign_in(PRIMARY)
    response = upload(client, site_id, doc_type, name, data, content_type)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    field_id = "doc_type" if "type" in case else "file"
    error = re.search(rf'<small id="{field_id}-error" class="field-error">([^<]*)</small>', text)
    assert error and error.group(1).replace("&#39;", "'") == message
    assert f'aria-describedby="{field_id}-hint {field_id}-error"' in text or \
        f'aria-describedby="{field_id}-error"' in text
    assert stored(app, site_id) == []
    assert events(app, site_id) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) == 1  # the Welcome mail
        db.session.rollback()
    assert files_in(documents_dir) == [], "no file is left behind"


def test_an_upload_over_the_request_limit_is_refused_before_it_is_read(app, client, auth, world, documents_dir):
    site_id = world.site(PRIMARY)
    auth.sign_in(PRIMARY)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = upload(client, site_id, "invoice", "big.pdf", PDF + bytes(4096))
    assert response.status_code == 413
    assert stored(app, site_id) == [] and files_in(documents_dir) == []


# --- how files are stored ---------------------------------------------------------------------------

@pytest.mark.parametrize("uploaded, title", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\boot.ini.pdf", "boot.ini.pdf"),
    ("C:\\Users\\Kim\\invoice 7.pdf", "invoice 7.pdf"),
    ("bad\x00name\r\n.pdf", "badname.pdf"),
    ("invoice\u202egpj.pdf", "invoicegpj.pdf"),
    ("  two   spaces .pdf ", "two spaces .pdf"),
    ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
    ("/", ""),
])
def test_the_uploaded_name_becomes_a_plain_title(uploaded, title):
    assert documents.clean_title(uploaded) == title


def test_stored_name_is_never_derived_from_the_upload_name(app, client, auth, world, documents_dir, tmp_path):
    site_id = world.site(PRIMARY)
    auth.sign_in(PRIMARY)
    response = upload(client, site_id, "invoice", "../../etc/passwd.pdf", PDF, "application/pdf")
    assert response.status_code == 303
    [document] = stored(app, site_id)
    assert document.title == "passwd.pdf"
    assert re.fullmatch(r"[0-9a-f]{64}", document.stored_name)
    assert files_in(documents_dir) == [document.stored_name]
    assert (documents_dir / document.stored_name).read_bytes() == PDF
    assert document.sha256 == hashlib.sha256(PDF).hexdigest() and document.size == len(PDF)
    assert not [p for p in tmp_path.rglob("passwd*")], "nothing is written under the uploaded name"
    assert oct((documents_dir / document.stored_name).stat().st_mode & 0o777) == "0o600"
    # A second upload of the same name gets a stored name of its own.
    upload(client, site_id, "invoice", "../../etc/passwd.pdf", PDF, "application/pdf")
    names = [d.stored_name for d in stored(app, site_id)]
    assert len(set(names)) == 2 and set(files_in(documents_dir)) == set(names)
    assert {d.title for d in stored(app, site_id)} == {"passwd.pdf"}


def test_every_accepted_format_is_stored_as_the_type_it_was_checked_to_be(app, client, auth, world):
    site_id = world.site(PRIMARY)
    auth.sign_in(PRIMARY)
    accepted = [
        ("scan.png", PNG, "image/png", "image/png"),
        ("scan.JPG", JPEG, "image/jpeg", "image/jpeg"),
        ("notes.txt", "Grüße\nline two\n".encode(), "text/plain", "text/plain"),
        ("export.csv", b"sku,qty\nA-1,3\n", "application/vnd.ms-excel", "text/csv"),
        ("contract.docx", office_file("word/document.xml"), "application/octet-stream",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("licences.xlsx", office_file("xl/workbook.xml"), "application/zip",
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ]
    for name, data, claimed, content_type in accepted:
        assert upload(client, site_id, "agreement", name, data, claimed).status_code == 303, name
    found = {d.title: d for d in stored(app, site_id)}
    for name, data, _claimed, content_type in accepted:
        assert found[name].content_type == content_type
        response = client.get(f"/sites/{site_id}/documents/{found[name].id}/download")
        served = content_type + ("; charset=utf-8" if content_type.startswith("text/") else "")
        assert response.get_data() == data and response.headers["Content-Type"] == served


# --- audit and deletion -------------------------------------------------------------------------------

def test_upload_and_delete_are_audited_and_the_file_goes(app, client, auth, world, documents_dir):
    site_id = world.site(PRIMARY)
    auth.sign_in(PRIMARY)
    upload(client, site_id, "renewal_quote", "renewal 2027.pdf", PDF, "application/pdf")
    [document] = stored(app, site_id)
    [uploaded] = events(app, site_id)
    assert (uploaded.action, uploaded.actor_label, uploaded.target_type, uploaded.target_id, uploaded.target_label) \
        == ("document.uploaded", PRIMARY, "document", document.id, "renewal 2027.pdf")
    assert uploaded.after == {"doc_type": "renewal_quote", "title": "renewal 2027.pdf",
                              "content_type": "application/pdf", "size": len(PDF),
                              "sha256": hashlib.sha256(PDF).hexdigest()}
    assert uploaded.remote_addr == "127.0.0.1"

    page = client.get(f"/sites/{site_id}/documents").get_data(as_text=True)
    assert 'hx-target="closest tr"' in page and "Delete renewal 2027.pdf" in page
    response = client.submit(f"/sites/{site_id}/documents/{document.id}/delete", htmx=True)
    assert response.status_code == 200 and response.get_data() == b""  # htmx swaps the row for nothing
    assert stored(app, site_id) == []
    assert files_in(documents_dir) == []
    deleted = events(app, site_id)[-1]
    assert (deleted.action, deleted.target_id, deleted.before["sha256"], deleted.after) == \
        ("document.deleted", document.id, hashlib.sha256(PDF).hexdigest(), None)
    assert client.get(f"/sites/{site_id}/documents/{document.id}/download").status_code == 404

    upload(client, site_id, "invoice", "again.pdf", PDF)
    [again] = stored(app, site_id)
    response = client.submit(f"/sites/{site_id}/documents/{again.id}/delete")
    assert response.status_code == 303 and response.location == f"/sites/{site_id}/documents"
    assert "Document “again.pdf” deleted." in client.get(response.location).get_data(as_text=True)


def test_files_follow_the_transaction(app, world, documents_dir):
    """A rolled-back upload leaves no file; a deleted document's file stays until the delete commits."""
    site_id = world.site(PRIMARY)
    with app.app_context():
        site, primary = db.session.get(Site, site_id), find_person(PRIMARY)
        documents.upload_document(site, primary, "invoice", "a.pdf", PDF, "application/pdf")
        assert len(files_in(documents_dir)) == 1
        db.session.rollback()
        assert files_in(documents_dir) == []

        document = documents.upload_document(site, primary, "invoice", "b.pdf", io.BytesIO(PDF), None)
        db.session.commit()
        path = documents.document_path(document)
        documents.delete_document(site, primary, document)
        db.session.rollback()
        assert os.path.exists(path), "the delete was rolled back: the file stays"
        documents.delete_document(site, primary, db.session.get(Document, document.id))
        assert os.path.exists(path), "nothing is removed before the commit"
        db.session.commit()
        assert not os.path.exists(path)


def test_backup_copies_the_files_of_the_documents_beside_the_database(app, world, documents_dir, tmp_path):
    import hashlib as _hashlib
    import sqlite3

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite backup")
    site_id = world.site(PRIMARY)
    with app.app_context():
        site, primary = db.session.get(Site, site_id), find_person(PRIMARY)
        kept = documents.upload_document(site, primary, "invoice", "a.pdf", PDF, "application/pdf").stored_name
        gone = documents.upload_document(site, primary, "agreement", "b.png", PNG, "image/png")
        db.session.commit()
        documents.delete_document(site, primary, gone)
        db.session.commit()
    target = tmp_path / "backups" / "copy.sqlite3"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "1 file(s) copied" in result.output
    copy = sqlite3.connect(target)
    assert [row[0] for row in copy.execute("select stored_name from document")] == [kept]
    copy.close()
    folder = tmp_path / "backups" / "copy-documents"
    assert files_in(folder) == [kept]
    assert _hashlib.sha256((folder / kept).read_bytes()).hexdigest() == _hashlib.sha256(PDF).hexdigest()


def test_sweep_removes_only_old_files_no_document_names(app, world, documents_dir):
    site_id = world.site(PRIMARY)
    with app.app_context():
        kept = documents.upload_document(db.session.get(Site, site_id), find_person(PRIMARY), "invoice", "a.pdf",
                                         PDF, "application/pdf").stored_name
        db.session.commit()
    old_orphan, young_orphan = "a" * 64, "b" * 64
    for name in (old_orphan, young_orphan):
        (documents_dir / name).write_bytes(PDF)
    two_hours_ago = os.path.getmtime(documents_dir / kept) - 7200
    os.utime(documents_dir / old_orphan, (two_hours_ago, two_hours_ago))
    os.utime(documents_dir / kept, (two_hours_ago, two_hours_ago))
    (documents_dir / "README").write_text("not a stored name: left alone")
    os.utime(documents_dir / "README", (two_hours_ago, two_hours_ago))
    result = app.test_cli_runner().invoke(args=["sweep-documents"])
    assert result.exit_code == 0 and "Removed 1 orphan document file(s)." in result.output, result.output
    assert files_in(documents_dir) == sorted([kept, young_orphan, "README"])


def test_operator_sees_documents_of_every_site_and_uploads(app, client, auth, site):
    ids = site()
    auth.sign_in(OPERATOR)
    page = client.get(f"/sites/{ids['b']}/documents").get_data(as_text=True)
    assert "beta-invoice.pdf" in page and "Upload a document" in page
    assert f'href="/sites/{ids["b"]}/documents"' in page
    assert upload(client, ids["b"], "agreement", "msa.pdf", PDF).status_code == 303
    assert {d.title for d in stored(app, ids["b"])} == {"beta-invoice.pdf", "msa.pdf"}
    [event] = [e for e in events(app, ids["b"]) if e.target_label == "msa.pdf"]
    assert event.actor_label == OPERATOR
