"""Web: set an inspection from the application's page, record its report, download its files; my schedule."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.applications.sections import detail_section
from kxflow.core.db import db
from kxflow.core.errors import Invalid
from kxflow.core.paging import page_number, page_of
from kxflow.core.uploads import download as file_download
from kxflow.core.web import flash_problems, nav_item, perform
from kxflow.inspections import operations, rectification
from kxflow.reminders.operations import can_see_failures, failures, upcoming_for
from kxflow.workflow.models import Application
from kxflow.workflow.states import State

bp = Blueprint("inspections_web", __name__, template_folder="templates")
nav_item("inspections_web.schedule_page", _l("My schedule"), 40, lambda user: True)


@detail_section("inspections/_inspections.html", 20)
def _inspections_section(user: User, app: Application) -> dict[str, Any]:
    rows = operations.of_application(user, app)
    schedulable = operations.schedulable_kind(user, app)
    recheck_due = None
    if app.state == State.DESIGNATED and app.designated_at:
        years = current_app.config["RECHECK_CYCLE_YEARS"]
        recheck_due = operations.recheck_due(app.designated_at, years, operations.today())
    return {
        "show": bool(rows or schedulable),
        "inspections": rows,
        "recheck_due": recheck_due,
        "reportable": {i.id for i in rows if operations.can_record_report(user, i, app)},
        "cancellable": {i.id for i in rows if operations.can_cancel(user, i)},
        "schedulable": schedulable,
        "team_candidates": operations.team_candidates() if schedulable else [],
    }


@detail_section("inspections/_rectification.html", 15)
def _rectification_section(user: User, app: Application) -> dict[str, Any] | None:
    reports = rectification.reports_of(user, app)
    can_submit = rectification.can_submit(user, app)
    if not reports and not can_submit:
        return None
    return {"rectification_reports": reports, "can_submit_rectification": can_submit}


@bp.post("/applications/<int:application_id>/rectification-reports")
@login_required
def submit_rectification(application_id: int):
    files = [(f.filename or "", f.stream) for f in request.files.getlist("files") if f.filename]
    perform(
        lambda: rectification.submit(current_user, application_id, request.form.get("summary", ""), files),
        gettext("Rectification report submitted; the ministry has been told."),
    )
    return redirect(url_for("applications_web.detail", application_id=application_id, _anchor="rectification"))


@bp.get("/applications/<int:application_id>/rectification-files/<int:file_id>")
@login_required
def rectification_file(application_id: int, file_id: int):
    row, path = rectification.file_for_download(current_user, application_id, file_id)
    return file_download(path, row.content_type, row.original_name)


@bp.post("/inspections/<int:inspection_id>/cancel")
@login_required
def cancel(inspection_id: int):
    inspection = operations.get_visible(current_user, inspection_id)
    perform(
        lambda: operations.cancel(current_user, inspection_id, request.form.get("reason", "")),
        gettext("Inspection called off; its reminders are cancelled."),
    )
    return _back(inspection.application_id)


@bp.get("/schedule")
@login_required
def schedule_page():
    """My upcoming inspections and the reminders still to come my way; for ministry staff also the reminders
    that could not be sent (tried again later, or given up)."""
    filters = {k: request.args.get(k, "").strip()[:40] for k in ("q", "kind")}
    if filters["kind"] not in REMINDER_ABOUT:
        filters["kind"] = ""
    upcoming = upcoming_for(current_user, limit=SCHEDULE_LIMIT)
    inspections = operations.mine(current_user)
    ids = {r.application_id for r in upcoming} | {i.application_id for i in inspections}
    apps = {a.id: a for a in db.session.scalars(select(Application).where(Application.id.in_(ids or {-1})))}
    if filters["q"]:
        upcoming = [r for r in upcoming if filters["q"] in apps[r.application_id].county.name]
        inspections = [i for i in inspections if filters["q"] in apps[i.application_id].county.name]
    if filters["kind"]:
        upcoming = [r for r in upcoming if r.kind == filters["kind"]]
    return render_template(
        "inspections/schedule.html",
        result=page_of(upcoming, page_number()),
        apps=apps,
        inspections=inspections,
        about=REMINDER_ABOUT,
        filters=filters,
        failed=failures(current_user) if can_see_failures(current_user) else None,
    )


SCHEDULE_LIMIT = 1000  # reminders read for one person's schedule (a province's year is a few hundred)


# what each kind of reminder is about, as 我的日程 says it (every kind has its words: a test checks)
REMINDER_ABOUT = {
    "county_deadline": _l("county deadline"),
    "province_deadline": _l("province deadline"),
    "sla": _l("time limit at this level"),
    "escalation": _l("overdue at the level below"),
    "press": _l("pressed for action (催办)"),
    "publicity_end": _l("end of the public notice: designate or decide"),
    "expert_due": _l("expert scores due"),
    "inspection_soon": _l("inspection ahead"),
    "inspection_overdue": _l("inspection report missing"),
    "closeout": _l("close-out: not sent by the due date"),
    "rectification_due": _l("rectification deadline ahead"),
    "rectification_passed": _l("rectification deadline passed"),
}


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
            rest_day_confirmed=request.form.get("rest_day") == "yes",
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
