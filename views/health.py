"""GET /healthz for monitors and load balancers: no sign-in, no session, no database write."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    from models.health import service_health

    report = service_health(current_app._get_current_object())
    response = jsonify(report)
    response.status_code = 200 if report["status"] == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response
