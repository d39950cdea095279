"""The bench's yardstick (tests/bench.py): a bare Flask + SQLAlchemy app, no sign-in, no CSRF, no
translations, that answers from the same SQLite file as the app under test, served by gunicorn with
the same settings. What Sitepass costs above it is what Sitepass adds; the bench prints each Sitepass
endpoint's requests/s as a ratio to its counterpart here (issue 15, issue 16):

    GET  /yardstick/<site_number>/<email>                   one membership row as JSON (the API lookup's)
    GET  /yardstick/sites/<site_id>/members                 the User list's: 25 members of the site by name
                                                            and their count, from a plain Jinja template
    GET  /yardstick/sites/<site_id>/members?q=…             the search fragment's: the rows whose name or
                                                            email contain q (a substring scan) and the count
    GET  /yardstick/sites/<site_id>/members/<id>/edit       the edit fragment's: one row's form, its levels
    POST /yardstick/sites/<site_id>/members/<id>            the inline save's: updates one row, returns it

    gunicorn 'tests.bench_yardstick:create_app()'   (SITEPASS_SQLALCHEMY_DATABASE_URI names the file)
"""
from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, abort, jsonify, render_template, request
from jinja2 import DictLoader

ROW = sa.text(
    "SELECT s.site_number, p.email, m.role, m.granted_at FROM membership m "
    "JOIN site s ON s.id = m.site_id JOIN person p ON p.id = m.person_id "
    "WHERE s.site_number = :site_number AND lower(p.email) = lower(:email)")
MEMBERS = ("SELECT m.id, p.first_name, p.last_name, p.email, m.role, m.granted_at FROM membership m "
           "JOIN person p ON p.id = m.person_id WHERE m.site_id = :site_id {where} "
           "ORDER BY m.sort_name, m.id LIMIT 25")
PAGE = sa.text(MEMBERS.format(where=""))
SEARCH = sa.text(MEMBERS.format(where="AND m.search_text LIKE :pattern"))
COUNT = sa.text("SELECT count(*) FROM membership WHERE site_id = :site_id")
COUNT_SEARCH = sa.text("SELECT count(*) FROM (SELECT 1 FROM membership WHERE site_id = :site_id "
                       "AND search_text LIKE :pattern LIMIT 1001)")
ONE = sa.text("SELECT m.id, p.first_name, p.last_name, p.email, m.role, m.granted_at FROM membership m "
              "JOIN person p ON p.id = m.person_id WHERE m.site_id = :site_id AND m.id = :id")
LEVELS = sa.text("SELECT t.id, t.name, l.rank, l.name AS level, coalesce(p.rank, 0) AS held FROM tool t "
                 "JOIN tool_level l ON l.tool_id = t.id "
                 "LEFT JOIN privilege p ON p.tool_id = t.id AND p.membership_id = :id ORDER BY t.position, t.id, l.rank")

TEMPLATES = {
    "row.html": "<tr id=\"member-{{ m.id }}\"><td>{{ m.first_name }} {{ m.last_name }}<small>{{ m.email }}</small></td>"
                "<td>{{ m.role }}</td><td>{{ m.granted_at }}</td>"
                "<td><a href=\"/yardstick/sites/{{ site_id }}/members/{{ m.id }}/edit\">Edit</a></td></tr>\n",
    "list.html": "<p>{{ total }} members</p><table><tbody>\n{% for m in rows %}{% include 'row.html' %}{% endfor %}"
                 "</tbody></table>",
    "page.html": "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Members</title></head>"
                 "<body><main><h1>Members</h1><form><input type=\"search\" name=\"q\" value=\"{{ q }}\"></form>"
                 "{% include 'list.html' %}</main></body></html>",
    "edit.html": "<tr id=\"member-{{ m.id }}\"><td colspan=\"4\"><p>{{ m.first_name }} {{ m.last_name }} {{ m.email }}</p>"
                 "<select name=\"role\">{% for r in ['secondary', 'user'] %}<option{% if r == m.role %} selected{% endif %}>"
                 "{{ r }}</option>{% endfor %}</select><table>{% for tool in tools %}<tr><th>{{ tool.name }}</th>"
                 "{% for rank, name in tool.levels %}<td><label><input type=\"radio\" name=\"tool_{{ tool.id }}\" "
                 "value=\"{{ rank }}\"{% if rank == tool.held %} checked{% endif %}>{{ name }}</label></td>{% endfor %}"
                 "</tr>{% endfor %}</table><button>Save</button></td></tr>",
}


def create_app() -> Flask:
    app = Flask(__name__)
    # gunicorn.conf.py starts Sitepass's scheduler in each worker unless told not to; the yardstick has none.
    app.config["SCHEDULER_ENABLED"] = False
    app.jinja_loader = DictLoader(TEMPLATES)
    app.jinja_env.auto_reload = False
    engine = sa.create_engine(os.environ["SITEPASS_SQLALCHEMY_DATABASE_URI"])

    def one(conn, site_id, membership_id):
        row = conn.execute(ONE, {"site_id": site_id, "id": membership_id}).mappings().first()
        if row is None:
            abort(404)
        return row

    @app.get("/sign-in")
    def ready():
        return "ok"

    @app.get("/yardstick/<site_number>/<email>")
    def membership(site_number, email):
        with engine.connect() as conn:
            row = conn.execute(ROW, {"site_number": site_number, "email": email}).mappings().first()
        if row is None:
            abort(404)
        return jsonify({**row, "granted_at": str(row["granted_at"])})

    @app.get("/yardstick/sites/<int:site_id>/members")
    def members(site_id):
        q = request.args.get("q", "").strip().lower()
        with engine.connect() as conn:
            if q:
                pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                rows = conn.execute(SEARCH, {"site_id": site_id, "pattern": pattern}).mappings().all()
                total = conn.execute(COUNT_SEARCH, {"site_id": site_id, "pattern": pattern}).scalar()
            else:
                rows = conn.execute(PAGE, {"site_id": site_id}).mappings().all()
                total = conn.execute(COUNT, {"site_id": site_id}).scalar()
        template = "list.html" if request.headers.get("HX-Request") else "page.html"
        return render_template(template, rows=rows, total=total, site_id=site_id, q=q)

    @app.get("/yardstick/sites/<int:site_id>/members/<int:membership_id>/edit")
    def edit(site_id, membership_id):
        with engine.connect() as conn:
            row = one(conn, site_id, membership_id)
            tools = {}
            for level in conn.execute(LEVELS, {"id": membership_id}).mappings():
                tool = tools.setdefault(level["id"], {"id": level["id"], "name": level["name"], "held": level["held"],
                                                      "levels": []})
                tool["levels"].append((level["rank"], level["level"]))
        return render_template("edit.html", m=row, tools=list(tools.values()))

    @app.post("/yardstick/sites/<int:site_id>/members/<int:membership_id>")
    def save(site_id, membership_id):
        role = request.form.get("role") if request.form.get("role") in ("secondary", "user") else abort(422)
        levels = {int(key[5:]): int(value) for key, value in request.form.items()
                  if key.startswith("tool_") and key[5:].isdigit() and value.isdigit()}
        with engine.begin() as conn:
            one(conn, site_id, membership_id)
            conn.execute(sa.text("UPDATE membership SET role = :role WHERE id = :id"), {"role": role, "id": membership_id})
            for tool_id, rank in levels.items():
                conn.execute(sa.text("DELETE FROM privilege WHERE membership_id = :id AND tool_id = :tool"),
                             {"id": membership_id, "tool": tool_id})
                if rank:
                    conn.execute(sa.text("INSERT INTO privilege (membership_id, tool_id, rank) VALUES (:id, :tool, :rank)"),
                                 {"id": membership_id, "tool": tool_id, "rank": rank})
            row = one(conn, site_id, membership_id)
        return render_template("row.html", m=row, site_id=site_id)

    return app
