"""`make screenshots`: the main pages of a demo site, photographed by the e2e browser into docs/screenshots/.

A scratch SQLite database is migrated and filled as a person would from the README: `seed-demo` (a site
of realistic members and invitations, everyone signing in with the demo password) and `create-operator`;
one demo user asks for a higher level so that Requests has something to decide. The app is served on a
loopback port and Chromium (tests/helpers/browser.py) saves each page at 1280×800 and 390×844 (a phone).
No mail leaves: delivery after commit is off and nothing runs the outbox.
"""
from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from tests.helpers.browser import launch_options  # noqa: E402
from tests.helpers.servers import free_port  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
DEMO_PASSWORD = "sitepass-demo-password"
DEMO_PRIMARY = "pat.primary@democorp.example"
OPERATOR, OPERATOR_PASSWORD = "operator@democorp.example", "screenshots operator passphrase"
SIZES = {"wide": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# file name → path under the site (None: the Operator console, photographed as the operator)
PAGES = {"site-start": "", "user-list": "members", "add-new-user": "members/new", "requests": "requests",
         "site-contacts": "contacts", "audit-log": "audit", "reports": "reports", "operator-console": None}


def demo_app(scratch: Path, port: int):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch / 'demo.sqlite3'}",
                      "SECRET_KEY": "screenshots", "BASE_URL": f"http://127.0.0.1:{port}",
                      "DOCUMENTS_DIR": str(scratch / "documents"), "BACKUP_DIR": str(scratch / "backups"),
                      "MAIL_DELIVER_AFTER_COMMIT": False, "SCHEDULER_ENABLED": False})
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["seed-demo", "--members", "60"],
                 ["create-operator", OPERATOR, "--password", OPERATOR_PASSWORD,
                  "--first-name", "Olga", "--last-name", "Operator"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"flask {' '.join(args)} failed: {result.output}")
    return app


def ask_for_more(app) -> int:
    """One demo user asks for a higher level (a pending request); return the demo site's id."""
    from models import Membership, Site, db
    from models.access_request import submit_privilege_request
    from models.membership import USER
    from models.tool import catalog

    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.site_number == "DEMO-1"))
        asker = db.session.scalar(sa.select(Membership).where(Membership.site_id == site.id,
                                                              Membership.role == USER).order_by(Membership.id))
        tool = next(tool for tool in catalog() if not tool.secondary_only and asker.level(tool) < tool.top_rank)
        submit_privilege_request(asker, tool, asker.level(tool) + 1, "Prepares the quarterly licence report.")
        db.session.commit()
        site_id = site.id
        db.session.remove()
    return site_id


def sign_in(page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sitepass-screenshots-") as scratch:
        app = demo_app(Path(scratch), port)
        site_id = ask_for_more(app)
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base_url = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(**launch_options())
                for who, (email, password) in {"primary": (DEMO_PRIMARY, DEMO_PASSWORD),
                                               "operator": (OPERATOR, OPERATOR_PASSWORD)}.items():
                    context = browser.new_context(viewport=SIZES["wide"])
                    page = context.new_page()
                    sign_in(page, base_url, email, password)
                    for name, path in PAGES.items():
                        if (path is None) != (who == "operator"):
                            continue
                        url = f"{base_url}/operator/" if path is None else f"{base_url}/sites/{site_id}/{path}"
                        for size, viewport in SIZES.items():
                            page.set_viewport_size(viewport)
                            page.goto(url)
                            page.wait_for_load_state("networkidle")
                            target = OUT / f"{name}-{size}.png"
                            page.screenshot(path=str(target))
                            print(target.relative_to(ROOT))
                    context.close()
                browser.close()
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
