"""Web: the print buttons on an application's page, the papers page (a call's lists, the long exports), the PDFs,
an export's progress (a page, and the JSON its script polls) and its download. Every download is recorded in
the security log."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.applications.sections import detail_section
from kxflow.calls.operations import list_calls
from kxflow.core import clock
from kxflow.core.afterwards import later
from kxflow.core.db import db
from kxflow.core.errors import Invalid
from kxflow.core.extensions import limiter
from kxflow.core.security_log import record
from kxflow.core.uow import transaction
from kxflow.core.uploads import download as download_file
from kxflow.core.web import flash_problems, nav_item
from kxflow.papers import exports, operations, pdf
from kxflow.papers.tasks import TASK
from kxflow.regions.models import Province
from kxflow.workflow.models import Application
from kxflow.workflow.scope import nationwide
from kxflow.workflow.states import STATE_NAMES

bp = Blueprint("papers_web", __name__, template_folder="templates")
nav_item("papers_web.index", _l("Papers and exports"), 60, operations.prints_lists)


def _reader() -> str:
    """Whom the PDF limit counts: the logged-in user (several users behind one office address each have their
    own), else the address."""
    return f"user:{current_user.id}" if current_user.is_authenticated else f"ip:{request.remote_addr}"


# PDFs are rendered in the request (a second or more of CPU each): one budget per user over all four papers
pdf_limit = limiter.shared_limit(
    lambda: current_app.config["PDF_RATE_LIMIT"],
    scope="papers-pdf",
    key_func=_reader,
    error_message=lambda: gettext("You have printed many papers in a short time."),
)


@bp.app_template_global()
def export_label(row) -> str:
    return exports.status_label(row)


@bp.app_template_global()
def export_can_retry(row) -> bool:
    return exports.can_retry(row)


@detail_section("papers/_print.html", 40)
def _print_section(user: User, app: Application) -> dict[str, Any] | None:
    form = operations.has_been_submitted(app)
    review = operations.prints_review(user, app)
    if not (form or review):
        return None
    return {"prints_form": form, "prints_review": review}


def _pdf(template: str, filename: str, what: dict[str, Any], **context: Any) -> Response:
    html = render_template(template, printed_at=clock.now(), **context)
    body = pdf.render(html)
    record("export", user_id=current_user.id, username=current_user.username, detail={"format": "pdf", **what})
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/applications/<int:application_id>/papers/application-form.pdf")
@pdf_limit
@login_required
def application_form(application_id: int):
    paper = operations.application_paper(current_user, application_id)
    name = gettext("Application form") + f"-{paper.app.county.name}-{paper.app.call.year}.pdf"
    return _pdf(
        "papers/application_form.html",
        name,
        {"paper": "application_form", "application_id": application_id, "audit_id": paper.version.audit_id},
        paper=paper,
    )


@bp.get("/applications/<int:application_id>/papers/review-summary.pdf")
@pdf_limit
@login_required
def review_summary(application_id: int):
    paper = operations.review_paper(current_user, application_id)
    name = gettext("Expert review summary") + f"-{paper.app.county.name}-{paper.app.call.year}.pdf"
    return _pdf(
        "papers/review_summary.html", name, {"paper": "review_summary", "application_id": application_id}, paper=paper
    )


@bp.get("/calls/<int:call_id>/papers/publicity-list.pdf")
@pdf_limit
@login_required
def publicity_list(call_id: int):
    paper = operations.publicity_list(current_user, call_id)
    cfg = current_app.config
    office = {"name": cfg["OBJECTION_OFFICE"], "address": cfg["OBJECTION_ADDRESS"], "phone": cfg["OBJECTION_PHONE"]}
    return _pdf(
        "papers/publicity_list.html",
        gettext("Public notice list") + f"-{paper.call.year}.pdf",
        {"paper": "publicity_list", "call_id": call_id, "rows": len(paper.entries)},
        paper=paper,
        office=office,
    )


@bp.get("/calls/<int:call_id>/papers/designation-list.pdf")
@pdf_limit
@login_required
def designation_list(call_id: int):
    paper = operations.designation_list(current_user, call_id)
    return _pdf(
        "papers/designation_list.html",
        gettext("Designation list") + f"-{paper.call.year}.pdf",
        {"paper": "designation_list", "call_id": call_id, "rows": len(paper.entries)},
        paper=paper,
    )


# --- the papers page and the long exports --------------------------------------------------------


def _page(status: int = 200, kept: dict[str, Any] | None = None):
    operations.require_list_role(current_user)
    provinces = select(Province).order_by(Province.code)
    return render_template(
        "papers/index.html",
        calls=list_calls(),
        states=STATE_NAMES,
        provinces=db.session.scalars(provinces).all() if nationwide(current_user) else [],
        exports=exports.mine(current_user),
        problem=pdf.problem(),
        kept=kept or {},
    ), status


@bp.get("/papers")
@login_required
def index():
    return _page()


@bp.post("/exports")
@login_required
def start_export():
    form = request.form
    try:
        with transaction():
            row = exports.start(
                current_user,
                call_ids=form.getlist("call_ids"),
                state=form.get("state") or None,
                province=form.get("province") or None,
            )
    except Invalid as exc:
        flash_problems(exc)
        return _page(422, kept=form)
    return _queue(row.id)


def _queue(export_id: int):
    celery = current_app.extensions["celery"]
    # sent once the request's transaction has committed the row the worker will read
    later(lambda: celery.send_task(TASK, args=[export_id], expires=exports.EXPIRES_SECONDS))
    return redirect(url_for(".export", export_id=export_id))


@bp.post("/exports/<int:export_id>/retry")
@login_required
def retry_export(export_id: int):
    with transaction():
        row, new = exports.retry(current_user, export_id)
    return _queue(row.id) if new else redirect(url_for(".export", export_id=row.id))


@bp.get("/exports/<int:export_id>")
@login_required
def export(export_id: int):
    return render_template("papers/export.html", export=exports.get_own(current_user, export_id))


@bp.get("/exports/<int:export_id>/status")
@login_required
def export_status(export_id: int):
    row = exports.get_own(current_user, export_id)
    return jsonify(
        status=exports.shown_status(row),
        progress=row.progress,
        rows=row.rows,
        label=exports.status_label(row),
        download_url=url_for(".export_download", export_id=row.id) if row.status == "done" else None,
    )


@bp.get("/exports/<int:export_id>/download")
@login_required
def export_download(export_id: int):
    row, path = exports.file_of(current_user, export_id)
    record(
        "export",
        user_id=current_user.id,
        username=current_user.username,
        detail={"format": "xlsx", "export_id": row.id, "rows": row.rows, "filters": row.filters},
    )
    return download_file(path, exports.XLSX, row.file_name)
