"""Contact addresses per country in the browser (issue 14): choosing the country on the new-contact
form swaps in that country's address fields, in its order and with its names, keeping what was
typed; the saved contact shows its address as the country writes it."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.members_steps import open_site_page, sign_in_as_primary, site_with_primary


def test_choosing_the_country_shows_its_address_fields_and_the_address_is_shown_as_it_writes_it(
        live_server, smtp, page):
    site_with_primary(live_server, smtp)
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "Contact updates")
    form = page.get_by_role("article").filter(has=page.get_by_role("button", name="Add contact"))

    form.get_by_role("textbox", name="Address", exact=True).fill("1600 Amphitheatre Pkwy")
    form.get_by_label("Country").select_option(label="United States")
    expect(form.get_by_label("ZIP code")).to_be_visible()
    expect(form.get_by_label("State")).to_be_visible()
    expect(form.get_by_role("textbox", name="Address", exact=True)).to_have_value("1600 Amphitheatre Pkwy")

    form.get_by_label("Country").select_option(label="Japan")
    expect(form.get_by_label("Prefecture")).to_be_visible()
    expect(form.get_by_label("City")).to_have_count(0)
    expect(form.get_by_label("ZIP code")).to_have_count(0)
    form.get_by_label("First name").fill("Kenji")
    form.get_by_label("Last name").fill("Kontakt")
    form.get_by_label("Phone").fill("03-1234-5678")
    form.get_by_label("Email").fill("kenji@example.com")
    form.get_by_role("textbox", name="Address", exact=True).fill("千代田区千代田1-1")
    form.get_by_label("Postal code").fill("100-8111")
    form.get_by_label("Prefecture").select_option(label="東京都 / Tokyo")
    form.get_by_role("button", name="Add contact").click()

    expect(page.get_by_role("status").filter(has_text="added")).to_have_text("Contact Kenji Kontakt added.")
    saved = page.get_by_role("article").filter(has_text="Kenji Kontakt")
    expect(saved.locator("address").first).to_have_text("〒100-8111東京都千代田区千代田1-1Japan")
    expect(saved).to_contain_text("TOKYO")
