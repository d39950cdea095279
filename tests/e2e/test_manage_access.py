"""Manage access in the browser (issue 3): the primary invites an unknown person who arrives by the
real mail, edits a member's levels inline, removes three members at once, is refused a fifth
secondary contact, and resends an invitation whose old link then stops working."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.members_steps import (SITE_NAME, SITE_NUMBER, accept_invitation, expect_level, fill_add_new_user,
                                     choose_level, edit_member, member_row, open_site_page, sign_in_as_primary,
                                     site_with_primary)
from tests.e2e.steps import another_browser, expect_site_start, sign_in, sign_out
from tests.helpers.mail import body_text, link_in

NEW_PASSWORD = "nina reads the reports"
JUSTIFICATION = "Prepares the monthly licence report for finance."


def test_primary_invites_unknown_person_who_accepts_and_sees_my_access(live_server, smtp, page):
    site_with_primary(live_server, smtp)
    sign_in_as_primary(page, live_server.url)

    open_site_page(page, "Add new user")
    page.get_by_label("Login email").fill("nina@example.com")
    page.get_by_role("button", name="Check user").click()
    expect(page.get_by_text("No confirmed account uses nina@example.com; "
                            "they will get an invitation valid for 48 hours.")).to_be_visible()
    page.get_by_label("Business justification").fill(JUSTIFICATION)
    page.get_by_label("User", exact=True).check()
    page.get_by_label("Access profile").select_option(label="Reporting access")
    # Choosing the profile fills the level choosers.
    expect_level(page, "Reporting", "View")
    expect_level(page, "Support cases", "Basic")
    expect_level(page, "Software and services (purchase and download)", "None")
    page.get_by_role("button", name="Submit").click()

    expect(page.get_by_role("heading", name="User list", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Invitation sent")).to_have_text(
        "Invitation sent to nina@example.com. The link is valid for 48 hours.")
    invited = member_row(page, "nina@example.com")
    expect(invited).to_contain_text("Invited")
    expect(invited).to_contain_text("Primary Tester")

    mail = smtp.wait_for(2)[1]
    assert mail["To"] == "nina@example.com"
    assert mail["Subject"] == f"You are invited to site {SITE_NUMBER} on Sitepass"
    assert f"invites you to site {SITE_NUMBER}, {SITE_NAME}, as user." in body_text(mail)
    link = link_in(mail, "/invitations/")
    assert link.startswith(f"{live_server.url}/invitations/")

    with another_browser(page) as nina:
        nina.goto(link)
        expect(nina.get_by_text(f"You are invited to site {SITE_NUMBER}, {SITE_NAME}, as user.")).to_be_visible()
        accept_invitation(nina, link, "Nina", "Neumann", NEW_PASSWORD)
        expect_site_start(nina, live_server.url, SITE_NUMBER, SITE_NAME, "User")
        expect(nina.get_by_role("status")).to_have_text(f"Welcome to {SITE_NAME}. You are now user.")
        # Her new password works: signed in again, she lands on her only site.
        sign_out(nina)
        sign_in(nina, live_server.url, "nina@example.com", NEW_PASSWORD)
        expect_site_start(nina, live_server.url, SITE_NUMBER, SITE_NAME, "User")

        open_site_page(nina, "My access")
        expect(nina.get_by_text("Your role on this site: User")).to_be_visible()
        levels = nina.get_by_role("table")
        for tool, level in [("Reporting", "View"), ("Support cases", "Basic"), ("Manage access", "None"),
                            ("Software and services (purchase and download)", "None")]:
            row = levels.get_by_role("row").filter(has=nina.get_by_role("rowheader", name=tool, exact=True))
            expect(row.get_by_role("cell")).to_have_text(level)
        # A user does not manage access.
        expect(nina.get_by_role("link", name="User list")).to_have_count(0)

    # Back with the primary: Nina is now an active member with the profile she was given.
    page.reload()
    nina_row = member_row(page, "nina@example.com")
    expect(nina_row).to_contain_text("Nina Neumann")
    expect(nina_row).to_contain_text("Reporting access")
    expect(nina_row).to_contain_text("Active")


def test_a_profile_chosen_while_the_page_still_loads_fills_the_matrix(live_server, smtp, page):
    # The matrix script is deferred: a quick person (or a slow network) can choose a profile before it
    # listens. Hold the script back until the choice is made; the matrix must still show the profile.
    site_with_primary(live_server, smtp)
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "Add new user")
    add_url = page.url
    held = []
    page.route("**/static/js/matrix.js*", lambda route: held.append(route))
    page.goto(add_url, wait_until="commit")
    page.get_by_label("User", exact=True).check()
    page.get_by_label("Access profile").select_option(label="Reporting access")
    expect_level(page, "Reporting", "None")
    assert len(held) == 1, "the matrix script was not held back, so this test proves nothing"
    held[0].continue_()
    expect_level(page, "Reporting", "View")
    expect_level(page, "Support cases", "Basic")


def test_inline_edit_of_levels_saves_without_reload(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)
    # The Reporting access profile without Reporting itself: shown as custom.
    world.member(site_id, "ulla@example.com", levels={"entitlements": 1, "allocation": 1, "documents": 1,
                                                      "support": 1})
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "User list")
    list_url = page.url
    page.evaluate("window.stillTheSamePage = true")
    row = member_row(page, "ulla@example.com")
    expect(row).to_contain_text("Custom")

    row.get_by_role("link", name="Edit Ulla Tester").click()
    expect(row.get_by_label("Role", exact=True).locator("option:checked")).to_have_text("User")
    expect_level(row, "Reporting", "None")
    expect_level(row, "Support cases", "Basic")
    choose_level(row, "Reporting", "View")
    row.get_by_role("button", name="Save changes").click()

    # The row is back to its display form with the new summary, on the same page.
    expect(row.get_by_role("button", name="Save changes")).to_have_count(0)
    expect(row).to_contain_text("Reporting access")
    expect(row.get_by_role("link", name="Edit Ulla Tester")).to_be_visible()
    assert page.url == list_url
    assert page.evaluate("window.stillTheSamePage") is True

    page.reload()
    expect(member_row(page, "ulla@example.com")).to_contain_text("Reporting access")
    member_row(page, "ulla@example.com").get_by_role("link", name="Edit Ulla Tester").click()
    expect_level(member_row(page, "ulla@example.com"), "Reporting", "View")


def test_bulk_removal_of_three_members(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)
    for email in ["anna@example.com", "bert@example.com", "cleo@example.com", "dora@example.com"]:
        world.member(site_id, email, levels={"software": 1, "support": 1})
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "User list")
    expect(page.get_by_text("5 members", exact=True)).to_be_visible()

    for name in ["Anna Tester", "Bert Tester", "Dora Tester"]:
        page.get_by_role("checkbox", name=f"Select {name}").check()
    # Accept the confirmation the button is meant to ask (see test_remove_selected_asks_first).
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove selected").click()

    expect(page.get_by_role("status").filter(has_text="removed")).to_have_text("3 members removed.")
    for email in ["anna@example.com", "bert@example.com", "dora@example.com"]:
        expect(member_row(page, email)).to_have_count(0)
    expect(member_row(page, "cleo@example.com")).to_contain_text("Basic access")
    expect(page.get_by_text("2 members", exact=True)).to_be_visible()

    page.reload()
    expect(page.get_by_text("2 members", exact=True)).to_be_visible()
    for email in ["anna@example.com", "bert@example.com", "dora@example.com"]:
        expect(member_row(page, email)).to_have_count(0)
    expect(member_row(page, "cleo@example.com")).to_be_visible()


def test_bulk_change_of_role_shows_each_change_then_saves_them(live_server, smtp, page):
    """Issue 13: one bulk bar for the selected rows; the change is shown member by member before it is saved."""
    world, site_id = site_with_primary(live_server, smtp)
    for email in ["anna@example.com", "bert@example.com", "cleo@example.com"]:
        world.member(site_id, email, levels={"software": 1, "support": 1})
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "User list")
    bar = page.get_by_role("group", name="Bulk change")
    expect(bar).to_be_hidden()
    for name in ["Anna Tester", "Bert Tester"]:
        page.get_by_role("checkbox", name=f"Select {name}").check()
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("2 selected")
    bar.get_by_label("Change role").select_option(label="Secondary contact")
    bar.get_by_role("button", name="Preview changes").click()

    preview = page.get_by_role("region", name="Changes to save")
    expect(preview).to_contain_text("Anna Tester: User → Secondary contact")
    expect(preview).to_contain_text("Bert Tester: User → Secondary contact")
    expect(preview).not_to_contain_text("Cleo")
    expect(member_row(page, "anna@example.com").get_by_role("cell", name="User", exact=True)).to_be_visible()

    preview.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text="changed")).to_have_text("2 members changed.")
    expect(page.get_by_role("region", name="Changes to save")).to_have_count(0)
    page.reload()
    for email in ["anna@example.com", "bert@example.com"]:
        expect(member_row(page, email).get_by_role("cell", name="Secondary contact", exact=True)).to_be_visible()
    expect(member_row(page, "cleo@example.com").get_by_role("cell", name="User", exact=True)).to_be_visible()


def test_remove_one_member_only_after_confirmation(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)
    world.member(site_id, "anna@example.com")
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "User list")
    # Removal of one member is in their row's edit view.
    remove = edit_member(page, "anna@example.com", "Anna Tester").get_by_role("button", name="Remove Anna Tester")

    page.once("dialog", lambda dialog: dialog.dismiss())
    with page.expect_event("dialog") as asked:
        remove.click()
    assert asked.value.message == "Remove Anna Tester from this site?"
    page.reload()
    expect(member_row(page, "anna@example.com")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    remove = edit_member(page, "anna@example.com", "Anna Tester").get_by_role("button", name="Remove Anna Tester")
    remove.click()
    expect(member_row(page, "anna@example.com")).to_have_count(0)
    page.reload()
    expect(page.get_by_text("1 member", exact=True)).to_be_visible()
    expect(member_row(page, "anna@example.com")).to_have_count(0)


def test_remove_selected_asks_first(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)
    for email in ["anna@example.com", "bert@example.com"]:
        world.member(site_id, email)
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "User list")
    page.get_by_role("checkbox", name="Select Anna Tester").check()
    page.get_by_role("checkbox", name="Select Bert Tester").check()

    page.once("dialog", lambda dialog: dialog.dismiss())
    with page.expect_event("dialog", timeout=2_000) as asked:
        page.get_by_role("button", name="Remove selected").click()
    assert asked.value.message == "Remove the selected members from this site?"
    # Answered "Cancel": nobody was removed.
    page.reload()
    expect(page.get_by_text("3 members", exact=True)).to_be_visible()


def test_fifth_secondary_contact_is_refused_with_a_visible_message(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)
    for email in ["sec1@example.com", "sec2@example.com", "sec3@example.com", "sec4@example.com"]:
        world.member(site_id, email, role="secondary")
    world.person("sam@example.com", first_name="Sam", last_name="Fifth")
    refusal = "This site already has 4 secondary contacts, the most allowed."
    sign_in_as_primary(page, live_server.url)

    # An existing account …
    open_site_page(page, "Add new user")
    fill_add_new_user(page, "sam@example.com", JUSTIFICATION, "Secondary contact")
    expect(page.get_by_text("An account exists: Sam Fifth (sam@example.com).")).to_be_visible()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text(refusal)).to_be_visible()
    expect(page.get_by_role("heading", name="Add new user", level=1)).to_be_visible()

    # … and an unknown email are refused alike.
    fill_add_new_user(page, "newsec@example.com", JUSTIFICATION, "Secondary contact")
    expect(page.get_by_text("No confirmed account uses newsec@example.com;", exact=False)).to_be_visible()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text(refusal)).to_be_visible()

    open_site_page(page, "User list")
    expect(page.get_by_text("5 members", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"invitations? waiting"))).to_have_count(0)
    expect(member_row(page, "sam@example.com")).to_have_count(0)
    expect(member_row(page, "newsec@example.com")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="Secondary contact")).to_have_count(4)
    assert len(smtp.messages) == 1  # only the primary's Welcome: no Welcome, no invitation


def test_resend_invitation_makes_the_old_link_fail(live_server, smtp, page):
    site_with_primary(live_server, smtp)
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "Add new user")
    fill_add_new_user(page, "rosa@example.com", JUSTIFICATION, "User", "Basic access")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="User list", level=1)).to_be_visible()
    first = smtp.wait_for(2)[1]
    assert first["To"] == "rosa@example.com"
    old_link = link_in(first, "/invitations/")

    member_row(page, "rosa@example.com").get_by_role("button", name="Resend invitation").click()
    second = smtp.wait_for(3)[2]
    assert second["To"] == "rosa@example.com"
    assert second["Subject"] == f"You are invited to site {SITE_NUMBER} on Sitepass"
    new_link = link_in(second, "/invitations/")
    assert new_link != old_link
    # Still one invitation waiting for Rosa.
    expect(member_row(page, "rosa@example.com")).to_have_count(1)
    expect(member_row(page, "rosa@example.com")).to_contain_text("Invited")

    with another_browser(page) as rosa:
        response = rosa.goto(old_link)
        assert response.status == 410
        expect(rosa.get_by_role("heading", name="This invitation is no longer valid")).to_be_visible()
        expect(rosa.get_by_role("button", name="Accept invitation")).to_have_count(0)

        accept_invitation(rosa, new_link, "Rosa", "Rot", NEW_PASSWORD)
        expect_site_start(rosa, live_server.url, SITE_NUMBER, SITE_NAME, "User")


def test_resend_tells_the_primary_a_new_invitation_went_out(live_server, smtp, page):
    site_with_primary(live_server, smtp)
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "Add new user")
    fill_add_new_user(page, "rosa@example.com", JUSTIFICATION, "User", "Basic access")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="User list", level=1)).to_be_visible()
    smtp.wait_for(2)

    member_row(page, "rosa@example.com").get_by_role("button", name="Resend invitation").click()
    smtp.wait_for(3)
    expect(page.get_by_role("status").filter(has_text="A new invitation")).to_have_text(
        "A new invitation went to rosa@example.com; the previous link no longer works.", timeout=2_000)
