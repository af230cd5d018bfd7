"""The county's side of rectification (整改): it submits a 整改报告 with files while rectifying; ministry staff
read it on the application and schedule the re-check. Each report goes on the application's timeline."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import IO

from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from kxflow.core.uploads import check_upload, stored, stored_path
from kxflow.inspections.models import RectificationFile, RectificationReport
from kxflow.notifications.operations import active_ids, notify_users
from kxflow.workflow import audit as audit_trail
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_application
from kxflow.workflow.states import State

SUMMARY_MAX = 20000
MAX_FILES = 10


def can_submit(user: User, app: Application) -> bool:
    return user.role == Role.COUNTY_STAFF and app.county_code == user.county_code and app.state == State.RECTIFICATION


def sees_reports(user: User, app: Application) -> bool:
    return user.role in (*COUNTY_ROLES, Role.MINISTRY_STAFF, Role.PROVINCE_REVIEWER)


def reports_of(user: User, app: Application) -> list[RectificationReport]:
    if not sees_reports(user, app):
        return []
    return list(
        db.session.scalars(
            select(RectificationReport)
            .where(RectificationReport.application_id == app.id)
            .order_by(RectificationReport.submitted_at.desc(), RectificationReport.id.desc())
        )
    )


def submit(user: User, application_id: int, summary: str, files: list[tuple[str, IO[bytes]]]) -> RectificationReport:
    """整改报告: what was done, with at least one file; ministry staff are told at once."""
    app = get_application(user, application_id, for_update=True)
    if user.role != Role.COUNTY_STAFF:
        raise Forbidden()
    if app.state != State.RECTIFICATION:
        raise Conflict(gettext("A rectification report is submitted during rectification."), state=app.state)
    fields: dict[str, list[str]] = {}
    summary = (summary or "").strip()
    if not summary:
        fields["summary"] = [gettext("This field is required.")]
    elif len(summary) > SUMMARY_MAX:
        fields["summary"] = [gettext("At most %(max)s characters.", max=SUMMARY_MAX)]
    files = [(name, stream) for name, stream in files if name]
    if not files:
        fields["files"] = [gettext("Attach the report and its evidence (at least one file).")]
    elif len(files) > MAX_FILES:
        fields["files"] = [gettext("At most %(n)s files.", n=MAX_FILES)]
    checked = []
    for index, (filename, stream) in enumerate(files[:MAX_FILES]):
        upload, problems = check_upload(filename, stream)
        if problems:
            fields[f"files.{index}"] = problems
        checked.append(upload)
    if fields:
        raise Invalid(fields=fields)
    now = clock.now()
    report = RectificationReport(application_id=app.id, summary=summary, submitted_by_id=user.id, submitted_at=now)
    db.session.add(report)
    with ExitStack() as stack:
        for upload in checked:
            report.files.append(
                RectificationFile(
                    original_name=upload.display_name,
                    stored_name=stack.enter_context(stored(upload)),
                    content_type=upload.mime,
                    size_bytes=len(upload.data),
                )
            )
        db.session.flush()
        app.updated_at = now
        audit_trail.append(
            app,
            user,
            "rectification_report",
            from_state=app.state,
            at=now,
            comment=summary[:500],
            snapshot={"report_id": report.id, "files": [f.original_name for f in report.files]},
        )
        notify_users(
            active_ids(Role.MINISTRY_STAFF),
            application_id=app.id,
            event="rectification_report",
            params={"county": app.county.name},
            dedupe_prefix=f"rectification_report:{report.id}",
        )
        db.session.flush()
    return report


def file_for_download(user: User, application_id: int, file_id: int) -> tuple[RectificationFile, Path]:
    app = get_application(user, application_id)
    row = db.session.scalars(
        select(RectificationFile)
        .join(RectificationReport, RectificationReport.id == RectificationFile.report_id)
        .where(RectificationFile.id == file_id, RectificationReport.application_id == app.id)
    ).first()
    if row is None or not sees_reports(user, app):
        raise NotFound()
    return row, stored_path(row.stored_name)
