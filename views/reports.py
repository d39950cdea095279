"""Audit log and Reports (SPEC §8): filterable, paginated, exportable as CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, time

from flask import Blueprint, abort, request, send_file
from flask_babel import gettext as _

from models import db
from models import report as reports
from models.membership import ROLE_LABELS, VIEW
from models.tool import MANAGE_ACCESS, REPORTING, catalog

from .access import operator_required, site_view
from .parsing import reader_time_to_utc
from .rendering import render
from .pages import paged

bp = Blueprint("reports", __name__)


def _date(name: str, end: bool = False):
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        abort(400)
    # A day of the reader's calendar (their time zone), as the times in the log are shown.
    try:
        return reader_time_to_utc(datetime.combine(day, time.max if end else time.min))
    except OverflowError:
        abort(400)


def _filters():
    return {"actor": request.args.get("actor", "").strip()[:100], "action": request.args.get("action", "").strip()[:64],
            "member": request.args.get("member", "").strip()[:100], "since": _date("since"),
            "until": _date("until", end=True)}


def _filter_args():
    """The filters as the form sent them, kept by the links to the other pages of the log."""
    return {name: request.args.get(name, "") for name in ("actor", "action", "member", "since", "until")}


def _csv(rows, header, filename):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        # A leading = + - @ would make a spreadsheet run the cell as a formula.
        writer.writerow([("'" + str(v)) if str(v)[:1] in ("=", "+", "-", "@") else v for v in row])
    # send_file writes the name for every browser (RFC 6266 filename*), also a translated one with accents.
    return send_file(io.BytesIO(buffer.getvalue().encode("utf-8")), mimetype="text/csv", as_attachment=True,
                     download_name=filename)


def _event_rows(statement):
    for event in db.session.scalars(statement.limit(100_000)):
        yield [event.occurred_at.isoformat(timespec="seconds"), event.actor_label, event.action, event.target_label,
               event.before, event.after, event.remote_addr or ""]


def _event_header() -> list[str]:
    # The times of the file stay in UTC and to the second: a file is read by programs too.
    return [_("Time (UTC)"), _("Actor"), _("Action"), _("Target"), _("Before"), _("After"), _("Remote address")]


@bp.get("/sites/<int:site_id>/audit")
@site_view(MANAGE_ACCESS, VIEW)
def audit(site, _membership):
    filters = _filters()
    page = paged(lambda number: db.paginate(reports.list_events(site.id, **filters), page=number, per_page=50,
                                            error_out=False), "reports.audit", site_id=site.id, **_filter_args())
    return render("reports/audit.html", "reports/_events.html", site=site, page=page, filters=filters,
                  actions=reports.actions_in_log(site.id), args=request.args)


@bp.get("/sites/<int:site_id>/audit.csv")
@site_view(MANAGE_ACCESS, VIEW)
def audit_csv(site, _membership):
    return _csv(_event_rows(reports.list_events(site.id, **_filters())), _event_header(),
                _("audit-log-%(site)s.csv", site=site.site_number))


@bp.get("/operator/audit")
@operator_required
def operator_audit():
    filters = _filters()
    page = paged(lambda number: db.paginate(reports.list_events(None, **filters), page=number, per_page=50,
                                            error_out=False), "reports.operator_audit", **_filter_args())
    return render("reports/audit.html", "reports/_events.html", site=None, page=page, filters=filters,
                  actions=reports.actions_in_log(None), args=request.args)


@bp.get("/operator/audit.csv")
@operator_required
def operator_audit_csv():
    return _csv(_event_rows(reports.list_events(None, **_filters())), _event_header(), _("audit-log-all-sites.csv"))


def _moment():
    """The past moment asked for, typed in the reader's time zone, as stored (naive UTC)."""
    raw = request.args.get("at", "").strip()
    if not raw:
        return None
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return reader_time_to_utc(datetime.strptime(raw, pattern))
        except ValueError:
            continue
        except OverflowError:
            break
    abort(400)


def _access_rows(site, tools, moment):
    return reports.access_at(site, moment, tools) if moment else reports.current_access(site, tools)


@bp.get("/sites/<int:site_id>/reports")
@site_view(REPORTING, VIEW)
def access(site, _membership):
    tools = catalog()
    moment = _moment()
    return render("reports/access.html", None, site=site, tools=tools, moment=moment,
                  rows=_access_rows(site, tools, moment), at=request.args.get("at", ""))


@bp.get("/sites/<int:site_id>/reports.csv")
@site_view(REPORTING, VIEW)
def access_csv(site, _membership):
    tools = catalog()
    moment = _moment()
    rows = ([r["name"], r["email"], str(ROLE_LABELS[r["role"]])]
            + [tool.level_name(r["levels"][tool.key]) for tool in tools]
            + ["; ".join(r["contact_types"]), r["granted_by"], r["justification"]]
            for r in _access_rows(site, tools, moment))
    header = [_("Name"), _("Email"), _("Role")] + [tool.name for tool in tools] + \
        [_("Contact types"), _("Granted by"), _("Business justification")]
    stamp = moment.strftime("%Y%m%d-%H%M%S") if moment else _("now")
    return _csv(rows, header, _("access-%(site)s-%(moment)s.csv", site=site.site_number, moment=stamp))
