"""Web: set an inspection from the application's page, record its report, download its files."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from kxflow.applications.attachments import download as file_download
from kxflow.core.errors import Invalid
from kxflow.core.web import flash_problems, perform
from kxflow.inspections import operations

bp = Blueprint("inspections_web", __name__, template_folder="templates")


def _back(application_id: int):
    return redirect(url_for("applications_web.detail", application_id=application_id, _anchor="inspections"))


@bp.post("/applications/<int:application_id>/inspections")
@login_required
def schedule(application_id: int):
    try:
        day = date.fromisoformat(request.form.get("scheduled_on", ""))
    except ValueError:
        flash_problems(Invalid(fields={"scheduled_on": [gettext("Must be a date (ISO 8601).")]}))
        return _back(application_id)
    team = [int(x) for x in request.form.getlist("team") if x.isdigit()]
    perform(
        lambda: operations.schedule(
            current_user,
            application_id,
            scheduled_on=day,
            place=request.form.get("place", ""),
            team=team,
            kind=request.form.get("kind", "site") if request.form.get("kind") in ("site", "recheck") else "site",
        ),
        gettext("Inspection set; the county and the team have been told."),
    )
    return _back(application_id)


@bp.post("/inspections/<int:inspection_id>/report")
@login_required
def report(inspection_id: int):
    inspection = operations.get_visible(current_user, inspection_id)
    files = [(f.filename or "", f.stream) for f in request.files.getlist("files") if f.filename]
    perform(
        lambda: operations.record_report(
            current_user,
            inspection_id,
            findings=request.form.get("findings", ""),
            recommendation=request.form.get("recommendation") or None,
            result=request.form.get("result") or None,
            files=files,
        ),
        gettext("Report recorded."),
    )
    return _back(inspection.application_id)


@bp.get("/inspections/<int:inspection_id>/files/<int:file_id>")
@login_required
def download(inspection_id: int, file_id: int):
    row, path = operations.file_for_download(current_user, inspection_id, file_id)
    return file_download(path, row.content_type, row.original_name)
