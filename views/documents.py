"""Account documents (SPEC §8): the site's Documents page, upload, download and delete."""
from __future__ import annotations

import os

from flask import Blueprint, abort, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from models import Document, RuleViolation, db
from models import document as documents
from models.membership import PRIMARY, VIEW
from models.tool import DOCUMENTS

from .common import apply_rule_violation, of_site, render, site_access, site_permission
from .forms import DocumentForm

bp = Blueprint("documents", __name__, url_prefix="/sites/<int:site_id>")


def _may_upload(membership) -> bool:
    return current_user.is_operator or (membership is not None and membership.role == PRIMARY)


def _uploader_access(site_id):
    """Return (site, membership) for an operator or the site's primary; other members get 403."""
    site, membership = site_access(site_id)
    if not _may_upload(membership):
        abort(403)
    return site, membership


def _page(site, membership, form, status=200):
    return render("documents/index.html", None, status=status, site=site, documents=documents.documents_of(site.id),
                  form=form, can_upload=_may_upload(membership))


@bp.get("/documents")
@login_required
def index(site_id):
    """Documents: the site's account documents, and the upload form for operators and the primary."""
    site, membership = site_permission(site_id, DOCUMENTS, VIEW)
    return _page(site, membership, DocumentForm(formdata=None))


@bp.post("/documents")
@login_required
def upload(site_id):
    """Store an uploaded document and mail the effective contact of its type."""
    site, membership = _uploader_access(site_id)
    form = DocumentForm()
    if not form.validate_on_submit():
        return _page(site, membership, form, status=422)
    upload = form.file.data
    try:
        document = documents.upload_document(site, current_user, form.doc_type.data, upload.filename, upload.stream,
                                             upload.mimetype)
    except RuleViolation as violation:
        db.session.rollback()
        apply_rule_violation(form, violation)
        return _page(site, membership, form, status=422)
    notified = [address for _person, address, _name in documents.upload_recipients(site, document.doc_type)]
    db.session.commit()
    flash(_("%(type)s “%(title)s” uploaded; we mailed %(who)s.", type=document.type_label, title=document.title,
            who=", ".join(notified) or _("nobody (the site has no primary contact)")), "success")
    return redirect(url_for("documents.index", site_id=site.id), 303)


@bp.get("/documents/<int:document_id>/download")
@login_required
def download(site_id, document_id):
    """Send a document's file as an attachment, as the type it was checked to be."""
    site, _membership = site_permission(site_id, DOCUMENTS, VIEW)
    document = of_site(Document, document_id, site)
    path = documents.document_path(document)
    if not os.path.isfile(path):
        abort(404)
    return send_file(path, mimetype=document.content_type, as_attachment=True, download_name=document.title,
                     etag=document.sha256)


@bp.post("/documents/<int:document_id>/delete")
@login_required
def delete(site_id, document_id):
    site, _membership = _uploader_access(site_id)
    document = of_site(Document, document_id, site)
    title = document.title
    documents.delete_document(site, current_user, document)
    db.session.commit()
    if request.htmx:
        return "", 200  # 200 with an empty body: htmx does not swap on 204, and the row must go
    flash(_("Document “%(title)s” deleted.", title=title), "success")
    return redirect(url_for("documents.index", site_id=site.id), 303)
