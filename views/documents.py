"""Account documents (SPEC §8): the site's Documents page, upload, download and delete."""
from __future__ import annotations

import os

from flask import Blueprint, abort, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import Document, RuleViolation, db
from models import document as documents
from models.membership import VIEW
from models.tool import DOCUMENTS

from .access import is_uploader, of_site, site_view
from .rendering import apply_rule_violation, render
from .forms import DocumentForm

bp = Blueprint("documents", __name__, url_prefix="/sites/<int:site_id>")


def _page(site, membership, form, status=200):
    return render("documents/index.html", None, status=status, site=site, documents=documents.documents_of(site.id),
                  form=form, can_upload=is_uploader(membership))


@bp.get("/documents")
@site_view(DOCUMENTS, VIEW)
def index(site, membership):
    """Documents: the site's account documents, and the upload form for operators and the primary."""
    return _page(site, membership, DocumentForm(formdata=None))


@bp.post("/documents")
@site_view(allow=is_uploader)
def upload(site, membership):
    """Store an uploaded document and mail the effective contact of its type."""
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
@site_view(DOCUMENTS, VIEW)
def download(site, _membership, document_id):
    """Send a document's file as an attachment, as the type it was checked to be."""
    document = of_site(Document, document_id, site)
    path = documents.document_path(document)
    if not os.path.isfile(path):
        abort(404)
    return send_file(path, mimetype=document.content_type, as_attachment=True, download_name=document.title,
                     etag=document.sha256)


@bp.post("/documents/<int:document_id>/delete")
@site_view(allow=is_uploader)
def delete(site, _membership, document_id):
    document = of_site(Document, document_id, site)
    title = document.title
    documents.delete_document(site, current_user, document)
    db.session.commit()
    if request.htmx:
        return "", 200  # 200 with an empty body: htmx does not swap on 204, and the row must go
    flash(_("Document “%(title)s” deleted.", title=title), "success")
    return redirect(url_for("documents.index", site_id=site.id), 303)
