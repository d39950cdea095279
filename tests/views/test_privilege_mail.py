"""The optional mail about a change to one's own access (SPEC §10), sent per the member's preferences."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import Person, db
from tests.helpers.apps import join_mail_threads


@pytest.mark.parametrize("wanted", [True, False])
def test_member_is_mailed_their_new_access_when_they_want_it(client, auth, world, smtp, app, wanted):
    site_id = world.site("primary@example.com")
    member_id = world.member(site_id, "ulla@example.com")
    smtp.wait_for(1)  # the primary's Welcome
    with app.app_context():
        ulla = db.session.scalar(sa.select(Person).where(Person.email == "ulla@example.com"))
        ulla.notification_preferences = {"privilege_changes": wanted}
        ulla.notification_email = "ulla.notices@example.com"
        db.session.commit()
    auth.sign_in("primary@example.com")
    response = client.submit(f"/sites/{site_id}/members/{member_id}", {"role": "user", "tool_2": "1"}, htmx=True)
    assert response.status_code == 200
    join_mail_threads()
    mails = [m for m in smtp.messages if "changed" in m["Subject"]]
    if wanted:
        [mail] = mails
        assert mail["To"] == "ulla.notices@example.com"
        assert "Your access to site" in mail["Subject"]
        assert "Reporting: View" in mail.get_body(preferencelist=("plain",)).get_content()
    else:
        assert mails == []
