"""Account documents in the browser (issue 6): the primary uploads an invoice, the billing contact gets
the real mail, a member with Account-related documents = View follows its link and downloads the file,
and a member with None is refused the same address."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.members_steps import (PRIMARY_EMAIL, SITE_NAME, SITE_NUMBER, open_site_page, sign_in_as_primary,
                                     site_with_primary)
from tests.e2e.steps import another_browser, expect_site_start, sign_in, sign_in_on_this_page
from tests.helpers.mail import body_text, link_in

VIEWER_EMAIL = "vera@example.com"  # user with Account-related documents = View
NOBODY_EMAIL = "noah@example.com"  # user with Account-related documents = None
BILLING = {"first_name": "Bill", "last_name": "Payer", "phone": "+49 30 12345678", "email": "billing@example.com",
           "address": "Friedrichstraße 1", "address_line2": "", "city": "Berlin", "subdivision": "DE-BE",
           "postal_code": "10115", "country": "DE"}
INVOICE_NAME = "Invoice 2026-03.pdf"
INVOICE = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def documents_dir(live_server, tmp_path):
    """Uploads of this test go to its own folder, never to the checkout's instance/."""
    folder = tmp_path / "documents"
    live_server.app.config["DOCUMENTS_DIR"] = str(folder)
    return folder


def add_billing_contact(live_server, site_id: int) -> None:
    """Name the site's billing contact through the domain layer, as the primary would on Contact updates."""
    from models import Site, db
    from models.contact import save_contact
    from models.person import find_person

    with live_server.app.app_context():
        save_contact(db.session.get(Site, site_id), find_person(PRIMARY_EMAIL), BILLING, ["billing"])
        db.session.commit()


def test_invoice_upload_mails_billing_contact_viewer_downloads_and_member_without_view_is_refused(
        live_server, smtp, page, documents_dir):
    world, site_id = site_with_primary(live_server, smtp)
    world.member(site_id, VIEWER_EMAIL, levels={"documents": 1})
    world.member(site_id, NOBODY_EMAIL, levels={"software": 1})
    add_billing_contact(live_server, site_id)

    # The primary uploads an invoice on the site's Documents page.
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "Documents")
    expect(page.get_by_text("No documents yet.")).to_be_visible()
    page.get_by_label("Document type").select_option(label="Invoice")
    page.get_by_label("File").set_input_files(files=[{"name": INVOICE_NAME, "mimeType": "application/pdf",
                                                      "buffer": INVOICE}])
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Invoice “{INVOICE_NAME}” uploaded; we mailed {BILLING['email']}.")
    row = page.get_by_role("row").filter(has_text=INVOICE_NAME)
    expect(row).to_contain_text("Invoice")
    expect(row).to_contain_text("Primary Tester")
    expect(row).to_contain_text(f"{len(INVOICE)} Bytes")

    # The billing contact gets the mail, with a link to the Documents page (and not the file).
    mail = smtp.wait_for(2)[1]
    assert mail["To"] == BILLING["email"]
    assert mail["Subject"] == f"A new account document for site {SITE_NUMBER}"
    text = body_text(mail)
    assert text.startswith("Hello Bill Payer,")
    assert f"Primary Tester added a document to site {SITE_NUMBER}, {SITE_NAME}:" in text
    assert f"Invoice: {INVOICE_NAME}" in text
    assert not list(mail.iter_attachments())
    link = link_in(mail, f"/sites/{site_id}/documents")
    assert link == f"{live_server.url}/sites/{site_id}/documents"

    # A member with Account-related documents = View follows the link, signs in and downloads the file.
    with another_browser(page) as vera:
        vera.goto(link)
        sign_in_on_this_page(vera, VIEWER_EMAIL)
        expect(vera.get_by_role("heading", name="Documents", level=1)).to_be_visible()
        expect(vera).to_have_url(link)
        expect(vera.get_by_role("heading", name="Upload a document")).to_have_count(0)
        expect(vera.get_by_role("button", name=f"Delete {INVOICE_NAME}")).to_have_count(0)
        download_link = vera.get_by_role("link", name=f"Download {INVOICE_NAME}")
        download_url = live_server.url + download_link.get_attribute("href")
        with vera.expect_download() as info:
            download_link.click()
        download = info.value
        assert download.suggested_filename == INVOICE_NAME
        with open(download.path(), "rb") as fh:
            assert fh.read() == INVOICE

    # A member with None finds no Documents in the site navigation and is refused the file's address.
    with another_browser(page) as noah:
        sign_in(noah, live_server.url, NOBODY_EMAIL)
        expect_site_start(noah, live_server.url, SITE_NUMBER, SITE_NAME, "User")
        site_nav = noah.get_by_role("navigation", name="Site")
        expect(site_nav.get_by_role("link", name="My access")).to_be_visible()
        expect(site_nav.get_by_role("link", name="Documents")).to_have_count(0)
        response = noah.goto(download_url)
        assert response.status == 403
        expect(noah.get_by_role("heading", name="Not allowed", level=1)).to_be_visible()
        response = noah.goto(link)
        assert response.status == 403
        expect(noah.get_by_text(INVOICE_NAME)).to_have_count(0)

    # The primary's upload is the only file, stored under a name of its own.
    files = list(documents_dir.iterdir())
    assert len(files) == 1 and re.fullmatch(r"[0-9a-f]{64}", files[0].name)
    assert files[0].read_bytes() == INVOICE
