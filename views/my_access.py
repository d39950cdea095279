"""My access (SPEC §5): a member's own role and levels, and the form to ask for more (sent to
requests.request_privilege)."""
from __future__ import annotations

from flask import Blueprint
from wtforms.fields.choices import SelectChoice

from models import access_request as requests
from models import membership as members
from models.support import support_managers_of
from models.tool import catalog

from .access import site_view
from .forms import PrivilegeRequestForm
from .rendering import render

bp = Blueprint("my_access", __name__, url_prefix="/sites/<int:site_id>")


@bp.get("/my-access")
@site_view(member_only=True)
def show(site, membership):
    return my_access_page(site, membership)


def my_access_page(site, membership, form=None, status=200):
    """My access: the member's role and levels, read-only, and the form to ask for more."""
    tools = catalog()
    levels = members.levels_of(membership, tools)
    form = form or PrivilegeRequestForm(formdata=None)
    wanted = [tool for tool in tools if levels[tool.id] < tool.top_rank
              and tool.open_to(membership.role)]
    form.wanted.choices = [SelectChoice(f"{tool.id}:{level.rank}", f"{tool.name}: {level.name}")
                           for tool in wanted for level in tool.levels if level.rank > levels[tool.id]]
    pending = [r for r in requests.requests_of(membership.person)
               if r.site_id == site.id and r.status == requests.PENDING and r.kind == requests.PRIVILEGE]
    return render("members/my_access.html", None, status=status, site=site, membership=membership, tools=tools,
                  levels=levels, form=form, wanted=wanted, pending=pending,
                  support_managers=support_managers_of(site.id))
