"""The User list's cost in SQL statements (issue 15): at most 8 per page whatever the number of rows
shown (no query per row), and the caches behind it kept per request or per catalog version, so a
change of the tool catalog or of a profile shows at the next request."""
from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa

from models import db
from tests.helpers.pages import page_text

PRIMARY = "primary@example.com"
MANAGER = "manager@example.com"  # secondary with Manage access = Update: the levels come from privileges
LIST_STATEMENTS = 8
# Transaction control is not a query: SQLite's BEGIN (IMMEDIATE) is sent as a statement by
# models/base.py, PostgreSQL's by its driver without one; counting it would make the figure depend on the engine.
TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


def statements_of(app, send) -> tuple[list[str], object]:
    """The SQL statements the app runs while `send()` makes one request, and its response."""
    seen: list[str] = []
    # The test client runs the request in this thread; the outbox's deliverer thread may write a mail's
    # status meanwhile (a mail queued while the test built its world), which is not the page's cost.
    request_thread = threading.get_ident()

    def count(_conn, _cursor, statement, *_args):
        if threading.get_ident() == request_thread and not TRANSACTION_CONTROL.match(statement):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = send()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return seen, response


def site_with(world, users: int) -> int:
    site_id = world.site(PRIMARY)
    world.member(site_id, MANAGER, role="secondary", levels={"manage_access": 2, "reporting": 1})
    for number in range(users):
        levels = [{"software": 1, "support": 1}, {"reporting": 1}, {}][number % 3]
        world.member(site_id, f"user{number:03d}@example.com", levels=levels)
    return site_id


@pytest.mark.parametrize("users, rows", [(30, 25), (3, 5)])
@pytest.mark.parametrize("reader", [PRIMARY, MANAGER])
def test_the_user_list_page_runs_in_at_most_8_sql_statements(app, client, auth, world, users, rows, reader):
    site_id = site_with(world, users)
    auth.sign_in(reader)
    client.get(f"/sites/{site_id}/members")  # the first request of a process reads the catalog itself
    statements, response = statements_of(app, lambda: client.get(f"/sites/{site_id}/members"))
    assert response.status_code == 200
    assert response.get_data(as_text=True).count('<tr id="member-') == rows
    assert len(statements) <= LIST_STATEMENTS, "\n".join(statements)


def test_a_change_of_the_tool_catalog_shows_at_the_next_request(app, client, auth, world):
    site_id = site_with(world, 3)
    auth.sign_in(PRIMARY)
    with app.app_context():
        member_id = db.session.scalar(sa.text("SELECT m.id FROM membership m JOIN person p ON p.id = m.person_id "
                                              "WHERE p.email = 'user000@example.com'"))
    edit_url = f"/sites/{site_id}/members/{member_id}/edit"
    assert "Reporting" in page_text(client.htmx_get(edit_url))
    with app.app_context():  # a change of the catalog made elsewhere (another process, a migration)
        db.session.execute(sa.text("UPDATE tool SET name = 'Reports and dashboards' WHERE key = 'reporting'"))
        db.session.execute(sa.text("UPDATE tool_level SET name = 'Look' WHERE rank = 1 AND tool_id = "
                                   "(SELECT id FROM tool WHERE key = 'reporting')"))
        db.session.commit()
    shown = page_text(client.htmx_get(edit_url))
    assert "Reports and dashboards" in shown and "Look" in shown


def test_a_change_of_a_profile_shows_at_the_next_request(app, client, auth, world):
    site_id = site_with(world, 3)
    auth.sign_in(PRIMARY)
    assert "Basic access" in page_text(client.get(f"/sites/{site_id}/members"))
    with app.app_context():
        db.session.execute(sa.text("UPDATE access_profile SET name = 'Starter kit' WHERE name = 'Basic access' "
                                   "AND site_id = :site"), {"site": site_id})
        db.session.commit()
    shown = page_text(client.get(f"/sites/{site_id}/members"))
    assert "Starter kit" in shown and "Basic access" not in shown


def test_permissions_are_read_at_every_request(app, client, auth, world):
    site_id = site_with(world, 3)
    auth.sign_in(MANAGER)
    assert client.get(f"/sites/{site_id}/members").status_code == 200
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM privilege WHERE tool_id = (SELECT id FROM tool WHERE key = "
                                   "'manage_access') AND membership_id IN (SELECT m.id FROM membership m JOIN person p "
                                   "ON p.id = m.person_id WHERE p.email = :email)"), {"email": MANAGER})
        db.session.commit()
    assert client.get(f"/sites/{site_id}/members").status_code == 403


# The inline save (issue 15): the signed-in person and their memberships, the catalog's version, the
# member changed (with person, grantor and privileges), the privilege written, the webhook endpoints,
# the audit event, the mail, then the profiles for the answer's summary. Nothing read twice, nothing
# reloaded after the commit, the row answered with as written.
SAVE_STATEMENTS = 9


@pytest.mark.parametrize("reader", [PRIMARY, MANAGER])
def test_the_inline_save_runs_in_at_most_9_sql_statements(app, client, auth, world, reader):
    site_id = site_with(world, 3)
    auth.sign_in(reader)
    with app.app_context():
        member_id, tool_id = db.session.execute(sa.text(
            "SELECT m.id, t.id FROM membership m JOIN person p ON p.id = m.person_id, tool t "
            "WHERE p.email = 'user002@example.com' AND t.key = 'reporting'")).one()
        db.session.execute(sa.text("UPDATE membership SET granted_by_id = (SELECT id FROM person WHERE email = :by) "
                                   "WHERE id = :m"), {"by": MANAGER, "m": member_id})
        db.session.commit()
    url = f"/sites/{site_id}/members/{member_id}"
    headers = {"HX-Request": "true", "X-CSRFToken": client.csrf_token()}
    client.htmx_get(f"{url}/edit")  # the first request of a process reads the catalog itself
    statements, response = statements_of(app, lambda: client.post(
        url, data={"role": "user", f"tool_{tool_id}": "1"}, headers=headers))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith(f'<tr id="member-{member_id}"') and "user002@example.com" in page_text(response)
    assert "Active Manager Tester," in page_text(response), "who granted the access"
    with app.app_context():
        held = db.session.scalar(sa.text("SELECT rank FROM privilege WHERE membership_id = :m AND tool_id = :t"),
                                 {"m": member_id, "t": tool_id})
        audited = db.session.scalar(sa.text("SELECT count(*) FROM audit_event WHERE action = 'membership.changed' "
                                            "AND target_label = 'user002@example.com'"))
        mailed = db.session.scalar(sa.text("SELECT count(*) FROM outbox_mail WHERE recipient = 'user002@example.com' "
                                           "AND template = 'privilege_changed'"))
    assert (held, audited, mailed) == (1, 1, 1)
    assert len(statements) <= SAVE_STATEMENTS, "\n".join(statements)
    assert html == client.htmx_get(url).get_data(as_text=True), "the answer is the row as read afresh"


def test_the_edit_fragment_names_each_cell_in_the_readers_language_with_the_names_escaped(app, client, auth, world):
    # The matrix translates its words once per render (templates/macros/matrix.html): each radio's label is
    # still "Tool: Level" as the reader's catalog writes it (French puts a space before the colon), the
    # catalog's names escaped in it.
    site_id = site_with(world, 3)
    with app.app_context():
        db.session.execute(sa.text("UPDATE tool SET name = 'R&D <Reports>' WHERE key = 'reporting'"))
        db.session.execute(sa.text("UPDATE person SET language = 'fr' WHERE email = :email"), {"email": PRIMARY})
        member_id = db.session.scalar(sa.text("SELECT m.id FROM membership m JOIN person p ON p.id = m.person_id "
                                              "WHERE p.email = 'user000@example.com'"))
        db.session.commit()
    auth.sign_in(PRIMARY)
    fragment = client.htmx_get(f"/sites/{site_id}/members/{member_id}/edit").get_data(as_text=True)
    labels = re.findall(r'aria-label="([^"]*)"', fragment)
    assert "R&amp;D &lt;Reports&gt;\xa0: View" in labels, labels  # French: a no-break space before the colon
    assert all(label.count("\xa0: ") == 1 and "%(" not in label for label in labels if ": " in label), labels
    assert "<Reports>" not in fragment
