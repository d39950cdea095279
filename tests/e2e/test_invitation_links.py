"""An invitation link that is expired, already used or meant for someone else says so plainly."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from models import Invitation, db
from models.base import utcnow
from tests.helpers.world import World
from tests.e2e.steps import (another_browser, expect_site_start, fill_new_password, sign_in, sign_out,
                             site_with_invited_primary)

NEW_PASSWORD = "nora keeps berlin running"


def accept_as_new_person(page, link):
    page.goto(link)
    expect(page.get_by_role("heading", name="Accept invitation")).to_be_visible()
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Last name").fill("Novak")
    fill_new_password(page, NEW_PASSWORD)
    page.get_by_role("button", name="Accept invitation").click()


def test_expired_invitation_says_it_has_expired(live_server, smtp, page):
    World(live_server.app).operator()
    link = site_with_invited_primary(live_server, smtp, "1001", "Acme Berlin", "nora@example.com")
    with live_server.app.app_context():
        invitation = db.session.scalar(sa.select(Invitation).where(Invitation.email == "nora@example.com"))
        invitation.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()

    response = page.goto(link)

    assert response.status == 410
    expect(page.get_by_role("heading", name="This invitation has expired")).to_be_visible()
    expect(page.get_by_text("Invitations are valid for 48 hours.")).to_be_visible()
    expect(page.get_by_role("button", name="Accept invitation")).to_have_count(0)


def test_used_invitation_link_says_already_used(live_server, smtp, page):
    World(live_server.app).operator()
    link = site_with_invited_primary(live_server, smtp, "1001", "Acme Berlin", "nora@example.com")
    accept_as_new_person(page, link)
    expect_site_start(page, live_server.url, "1001", "Acme Berlin", "Primary contact")

    # Opened again by Nora herself, and by anyone else who finds the mail.
    response = page.goto(link)
    assert response.status == 410
    expect(page.get_by_role("heading", name="This invitation has already been used")).to_be_visible()
    with another_browser(page) as stranger:
        stranger.goto(link)
        expect(stranger.get_by_role("heading", name="This invitation has already been used")).to_be_visible()
        expect(stranger.get_by_role("button", name="Accept invitation")).to_have_count(0)


def test_signed_in_person_with_other_email_is_told_invitation_is_for_someone_else(live_server, smtp, page):
    world = World(live_server.app)
    world.operator()
    world.person("sam@example.com")
    link = site_with_invited_primary(live_server, smtp, "1001", "Acme Berlin", "nora@example.com")
    sign_in(page, live_server.url, "sam@example.com")
    expect(page.get_by_role("heading", name="My sites")).to_be_visible()

    response = page.goto(link)

    assert response.status == 403
    expect(page.get_by_role("heading", name="This invitation is for someone else")).to_be_visible()
    expect(page.get_by_text("You are signed in as sam@example.com")).to_be_visible()
    expect(page.get_by_role("button", name="Accept invitation")).to_have_count(0)

    # Sam's visit spent nothing: once signed out, the link still offers the invitation to Nora.
    page.goto(f"{live_server.url}/")
    sign_out(page)
    accept_as_new_person(page, link)
    expect_site_start(page, live_server.url, "1001", "Acme Berlin", "Primary contact")
