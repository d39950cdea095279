"""Where a signed-in person lands: their sites, and each site's start page."""
from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from models import person as people
from models.membership import memberships_of
from models.overview import site_overview
from models.primary_transfer import offers_to
from models.roles import ROLE_LABELS
from models.tables import MAX_SECONDARIES

from .access import site_view
from .rendering import render

bp = Blueprint("sites", __name__)


@bp.get("/")
def index():
    if not people.count_operators():
        return redirect(url_for("auth.first_run"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    # An unverified account is a stranger to its sites until it confirms its address.
    memberships = memberships_of(current_user) if current_user.is_verified else []
    if current_user.is_operator and not memberships:
        return redirect(url_for("operator.console"))
    if len(memberships) == 1 and not current_user.is_operator:
        return redirect(url_for("sites.start", site_id=memberships[0].site_id))
    return render("sites/index.html", memberships=memberships)


@bp.get("/sites/<int:site_id>/")
@site_view()
def start(site, membership):
    offers = [offer for offer in offers_to(current_user) if offer.site_id == site.id]
    overview = site_overview(site, membership, current_user.is_operator)
    return render("sites/start.html", site=site, membership=membership, offers=offers, overview=overview,
                  role_labels=ROLE_LABELS, max_secondaries=MAX_SECONDARIES)
