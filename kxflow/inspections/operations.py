"""Scheduling inspections, recording that the report is in, and planning periodic re-checks.

Setting an inspection tells the county and every team member at once and plans reminders 7 and
1 days before; once the date has passed with no report, ministry staff are prompted daily. The
re-check plan gives every designated county due in the horizon a date and a team, never two
counties to one team on one day (the database refuses it anyway).
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO

from flask_babel import gettext
from sqlalchemy import ColumnElement, false, insert, or_, select, true, update

from kxflow.accounts.models import User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.core import clock, limits
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from kxflow.core.fields import CHINA
from kxflow.core.formats import fmt_date
from kxflow.core.uploads import check_upload, stored, stored_path
from kxflow.inspections.models import Inspection, InspectionFile, InspectionMember, InspectionReport
from kxflow.notifications.operations import notify_users
from kxflow.reminders.models import Reminder
from kxflow.reminders.models import pending as pending_reminder
from kxflow.workdays.calendar import is_workday, on_workday_after, subtract_workdays
from kxflow.workflow import audit as audit_trail
from kxflow.workflow.conflicts import conflict_of
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_application
from kxflow.workflow.states import State

TEAM_ROLES = (Role.EXPERT, Role.MINISTRY_STAFF)
REMIND_DAYS_BEFORE = (7, 1)


def _morning(day: date) -> datetime:
    """09:00 Beijing time on that day: when reminders about it go out."""
    return datetime.combine(day, time(9, 0), tzinfo=CHINA)


def today() -> date:
    return clock.now().astimezone(CHINA).date()


def visible(user: User) -> ColumnElement[bool]:
    if user.role == Role.MINISTRY_STAFF:
        return true()
    mine = Inspection.id.in_(select(InspectionMember.inspection_id).where(InspectionMember.user_id == user.id))
    if user.role in COUNTY_ROLES:
        county = Inspection.application_id.in_(
            select(Application.id).where(Application.county_code == user.county_code)
        )
        return or_(mine, county)
    if user.role == Role.PROVINCE_REVIEWER:
        province = Inspection.application_id.in_(
            select(Application.id).where(Application.province_code == user.province_code)
        )
        return or_(mine, province)
    return mine if user.role == Role.EXPERT else false()


def _busy(user_ids: list[int], day: date) -> set[int]:
    return set(
        db.session.scalars(
            select(InspectionMember.user_id).where(
                InspectionMember.user_id.in_(user_ids), InspectionMember.scheduled_on == day
            )
        )
    )


def _announce(inspection: Inspection, app: Application, event: str) -> None:
    """Tells the county (clerks and leaders) and each team member, in the same transaction."""
    county_users = db.session.scalars(
        select(User.id).where(User.county_code == app.county_code, User.role.in_(COUNTY_ROLES), User.active.is_(True))
    ).all()
    recipients = dict.fromkeys([*county_users, *(m.user_id for m in inspection.members)])
    params = {
        "county": app.county.name,
        "date": inspection.scheduled_on.isoformat(),
        "place": inspection.place,
        "kind": inspection.kind,
    }
    notify_users(
        list(recipients),
        application_id=app.id,
        event=event,
        params=params,
        dedupe_prefix=f"{event}:{inspection.id}",
        kind="info",
    )


def _plan_reminders(inspection: Inspection) -> None:
    """7 and 1 working days before (a rest day is never the reminder's day); the first prompt for a missing
    report on the working day after the inspection."""
    now = clock.now()
    rows = [
        {
            "application_id": inspection.application_id,
            "inspection_id": inspection.id,
            "kind": "inspection_soon",
            "state": "-",
            "offset_days": days,
            "due_at": subtract_workdays(_morning(inspection.scheduled_on), days),
            "dedupe_key": f"inspection_soon:{inspection.id}:{days}",
            "params": {},
            "created_at": now,
        }
        for days in REMIND_DAYS_BEFORE
        if subtract_workdays(_morning(inspection.scheduled_on), days) > now
    ]
    rows.append(overdue_row(inspection, next_workday(inspection.scheduled_on)))
    db.session.execute(insert(Reminder), rows)


def next_workday(day: date) -> date:
    return on_workday_after(_morning(day + timedelta(days=1))).date()


def overdue_row(inspection: Inspection, day: date) -> dict:
    return {
        "application_id": inspection.application_id,
        "inspection_id": inspection.id,
        "kind": "inspection_overdue",
        "state": "-",
        "offset_days": (day - inspection.scheduled_on).days,
        "due_at": _morning(day),
        "dedupe_key": f"inspection_overdue:{inspection.id}:{day.isoformat()}",
        "params": {},
        "created_at": clock.now(),
    }


def _create(user: User, app: Application, kind: str, day: date, place: str, team: list[User]) -> Inspection:
    inspection = Inspection(application_id=app.id, kind=kind, scheduled_on=day, place=place, created_by_id=user.id)
    inspection.members = [InspectionMember(user_id=m.id, scheduled_on=day) for m in team]
    db.session.add(inspection)
    db.session.flush()
    _announce(inspection, app, "inspection_scheduled")
    _plan_reminders(inspection)
    if app.state == State.SITE_INSPECTION and kind == "site":
        app.due_at = inspection_due(app)
    return inspection


def _call_off(user: User, inspection: Inspection, app: Application, reason: str) -> None:
    """The inspection stops: its pending reminders (the daily prompt too) are cancelled and its team is free
    that day; the row stays, with why, and the application's timeline says so."""
    now = clock.now()
    team = "、".join(m.user.display_name or m.user.username for m in inspection.members)
    inspection.cancelled_at = now
    inspection.cancel_reason = reason[:500]
    db.session.execute(
        update(Reminder).where(Reminder.inspection_id == inspection.id, pending_reminder()).values(cancelled_at=now)
    )
    inspection.members = []
    db.session.flush()
    audit_trail.append(
        app,
        user,
        "inspection_cancelled",
        from_state=app.state,
        at=now,
        comment=reason,
        snapshot={"inspection_id": inspection.id, "scheduled_on": inspection.scheduled_on.isoformat(), "team": team},
    )


def _open_inspections(app: Application, kind: str) -> list[Inspection]:
    return list(
        db.session.scalars(
            select(Inspection).where(
                Inspection.application_id == app.id,
                Inspection.kind == kind,
                Inspection.report_recorded_at.is_(None),
                Inspection.cancelled_at.is_(None),
            )
        )
    )


def cancel(user: User, inspection_id: int, reason: str) -> Inspection:
    """Ministry staff call an inspection off (with a reason): nobody is reminded of it any more."""
    if user.role != Role.MINISTRY_STAFF:
        raise Forbidden()
    inspection = get_visible(user, inspection_id)
    app = get_application(user, inspection.application_id, for_update=True)
    if not (reason or "").strip():
        raise Invalid(fields={"reason": [gettext("This field is required.")]})
    if inspection.cancelled_at is not None or inspection.report_recorded_at is not None:
        raise Conflict(gettext("This inspection has already been called off or reported."))
    _call_off(user, inspection, app, reason.strip())
    return inspection


def inspection_due(app: Application) -> datetime | None:
    """A site inspection stage is due on its inspection day (the end of the working day)."""
    inspection = latest(app.id, "site")
    if inspection is None:
        return None
    return datetime.combine(inspection.scheduled_on, time(18, 0), tzinfo=CHINA)


# a site inspection is set while the experts review (or to move it); a re-check once designated
SCHEDULE_STATES = {
    "site": (State.EXPERT_REVIEW, State.SITE_INSPECTION),
    "recheck": (State.DESIGNATED, State.RECTIFICATION),
}


def schedule(
    user: User,
    application_id: int,
    *,
    scheduled_on: date,
    place: str,
    team: list[int],
    kind: str = "site",
    rest_day_confirmed: bool = False,
) -> Inspection:
    """Sets an inspection; setting one while an earlier one of the kind is still open moves it (the earlier
    one is called off with its reminders). A rest day needs ``rest_day_confirmed``; every team member passes
    the panel's conflict-of-interest rules."""
    if user.role != Role.MINISTRY_STAFF:
        raise Forbidden()
    limits.require_length("place", place, limits.PLACE)
    app = get_application(user, application_id, for_update=True)
    if app.state not in SCHEDULE_STATES[kind]:
        raise Conflict(gettext("An inspection of this kind cannot be set at this stage."), state=app.state)
    fields: dict[str, list[str]] = {}
    if scheduled_on < today():
        fields["scheduled_on"] = [gettext("The date has passed.")]
    elif not is_workday(scheduled_on) and not rest_day_confirmed:
        fields["scheduled_on"] = [
            gettext(
                "%(date)s is a rest day (weekend or public holiday). Tick the box to confirm the inspection on it.",
                date=fmt_date(scheduled_on),
            )
        ]
    if not place.strip():
        fields["place"] = [gettext("This field is required.")]
    members = db.session.scalars(select(User).where(User.id.in_(team or [-1]))).all()
    if not team or len(set(team)) != len(team) or len(members) != len(team):
        fields["team"] = [gettext("Name one or more distinct, existing team members.")]
    elif any(m.role not in TEAM_ROLES or not m.active for m in members):
        fields["team"] = [gettext("Team members must be active experts or ministry staff.")]
    else:
        replaced = _open_inspections(app, kind)
        busy = _busy(team, scheduled_on) - {
            m.user_id for i in replaced for m in i.members if i.scheduled_on == scheduled_on
        }
        conflicts = [reason for m in members if (reason := conflict_of(m, app))]
        if busy:
            names = "、".join(m.display_name or m.username for m in members if m.id in busy)
            fields["team"] = [gettext("Already on another inspection that day: %(names)s.", names=names)]
        if conflicts:
            fields.setdefault("team", []).extend(conflicts)
    if fields:
        raise Invalid(fields=fields)
    for earlier in _open_inspections(app, kind):
        _call_off(
            user,
            earlier,
            app,
            gettext("Moved to %(date)s.", date=fmt_date(scheduled_on)),
        )
    return _create(user, app, kind, scheduled_on, place.strip(), list(members))


def schedulable_kind(user: User, app: Application) -> str | None:
    """The kind of inspection this user may set on this application now (ministry staff), if any."""
    if user.role != Role.MINISTRY_STAFF:
        return None
    return next((kind for kind, states in SCHEDULE_STATES.items() if app.state in states), None)


def team_candidates() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role.in_(TEAM_ROLES), User.active.is_(True)).order_by(User.role, User.id)
        )
    )


def of_application(user: User, app: Application) -> list[Inspection]:
    """The inspections of an application this user may see, in date order."""
    return list(
        db.session.scalars(
            select(Inspection)
            .where(Inspection.application_id == app.id, visible(user))
            .order_by(Inspection.scheduled_on, Inspection.id)
        )
    )


def _may_report(user: User, inspection: Inspection) -> bool:
    if inspection.cancelled_at is not None:
        return False
    return user.role == Role.MINISTRY_STAFF or user.id in {m.user_id for m in inspection.members}


def can_record_report(user: User, inspection: Inspection, app: Application) -> bool:
    """Ministry staff or a team member, from the inspection day, while the ministry has not yet acted on it."""
    return (
        _may_report(user, inspection)
        and app.state in SCHEDULE_STATES[inspection.kind]
        and today() >= inspection.scheduled_on
    )


def can_cancel(user: User, inspection: Inspection) -> bool:
    return (
        user.role == Role.MINISTRY_STAFF and inspection.cancelled_at is None and inspection.report_recorded_at is None
    )


def get_visible(user: User, inspection_id: int) -> Inspection:
    row = db.session.scalars(select(Inspection).where(Inspection.id == inspection_id, visible(user))).first()
    if row is None:
        raise NotFound()
    return row


RESULTS = ("excellent", "satisfactory", "unsatisfactory")  # 优秀 / 达标 / 不达标


def record_report(
    user: User,
    inspection_id: int,
    *,
    findings: str,
    recommendation: str | None = None,
    result: str | None = None,
    files: list[tuple[str, IO[bytes]]] = (),
) -> Inspection:
    """The team's report: findings, and a recommendation (site inspection) or a grade (re-check), with files.

    It can be written again until the ministry acts on it; the daily prompts stop once it is in.
    """
    limits.require_length("findings", findings, limits.FINDINGS)
    inspection = get_visible(user, inspection_id)
    if not _may_report(user, inspection):
        raise Forbidden()
    app = (
        get_application(user, inspection.application_id, for_update=True)
        if user.role == Role.MINISTRY_STAFF
        else (db.session.get(Application, inspection.application_id))
    )
    if app.state not in SCHEDULE_STATES[inspection.kind]:
        raise Conflict(gettext("The ministry has already acted on this inspection."), state=app.state)
    if inspection.cancelled_at is not None:
        raise Conflict(gettext("This inspection was called off: %(reason)s", reason=inspection.cancel_reason))
    fields: dict[str, list[str]] = {}
    if today() < inspection.scheduled_on:
        fields["findings"] = [
            gettext(
                "The report can be recorded from the inspection day, %(date)s.", date=fmt_date(inspection.scheduled_on)
            )
        ]
    if not (findings or "").strip():
        fields["findings"] = [gettext("This field is required.")]
    if inspection.kind == "site" and recommendation not in ("pass", "fail"):
        fields["recommendation"] = [gettext("Choose pass or fail.")]
    if inspection.kind == "recheck" and result not in RESULTS:
        fields["result"] = [gettext("Choose excellent, satisfactory or unsatisfactory.")]
    checked = []
    for index, (filename, stream) in enumerate(files):
        upload, problems = check_upload(filename, stream)
        if problems:
            fields[f"files.{index}"] = problems
        checked.append(upload)
    if fields:
        raise Invalid(fields=fields)
    now = clock.now()
    report = inspection.report or InspectionReport(inspection_id=inspection.id)
    report.findings = findings.strip()
    report.recommendation = recommendation if inspection.kind == "site" else None
    report.result = result if inspection.kind == "recheck" else None
    report.recorded_by_id = user.id
    report.recorded_at = now
    inspection.report = report
    with ExitStack() as stack:
        for upload in checked:
            stored_name = stack.enter_context(stored(upload))
            inspection.files.append(
                InspectionFile(
                    original_name=upload.display_name,
                    stored_name=stored_name,
                    content_type=upload.mime,
                    size_bytes=len(upload.data),
                    uploaded_by_id=user.id,
                    uploaded_at=now,
                )
            )
        if inspection.report_recorded_at is None:
            inspection.report_recorded_at = now
            db.session.execute(
                update(Reminder)
                .where(Reminder.inspection_id == inspection.id, pending_reminder())
                .values(cancelled_at=now)
            )
        db.session.flush()
    return inspection


def latest(application_id: int, kind: str) -> Inspection | None:
    """The inspection of this kind that counts: the latest not called off."""
    return db.session.scalars(
        select(Inspection)
        .where(Inspection.application_id == application_id, Inspection.kind == kind, Inspection.cancelled_at.is_(None))
        .order_by(Inspection.scheduled_on.desc(), Inspection.id.desc())
        .limit(1)
    ).first()


def file_for_download(user: User, inspection_id: int, file_id: int) -> tuple[InspectionFile, Path]:
    inspection = get_visible(user, inspection_id)
    row = next((f for f in inspection.files if f.id == file_id), None)
    if row is None:
        raise NotFound()
    return row, stored_path(row.stored_name)


def mine(user: User, *, upcoming_only: bool = True) -> list[Inspection]:
    stmt = select(Inspection).where(visible(user), Inspection.cancelled_at.is_(None))
    if upcoming_only:
        stmt = stmt.where(or_(Inspection.scheduled_on >= today(), Inspection.report_recorded_at.is_(None)))
    return list(db.session.scalars(stmt.order_by(Inspection.scheduled_on, Inspection.id)))


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def recheck_due(designated_at: datetime, years: int, today: date) -> date:
    """The re-check date of the current cycle: every ``years`` after designation, the first not long past."""
    cycle = _add_years(designated_at.astimezone(CHINA).date(), years)
    while cycle < today - timedelta(days=365 * years):  # an old designation: the current cycle
        cycle = _add_years(cycle, years)
    return cycle


def plan_rechecks(
    user: User, *, years: int, teams: list[list[int]], start_on: date, horizon_days: int = 365
) -> list[Inspection]:
    """Every designated county whose re-check falls due by the horizon gets a date and a team."""
    if user.role != Role.MINISTRY_STAFF:
        raise Forbidden()
    fields: dict[str, list[str]] = {}
    if not 1 <= years <= 10:
        fields["years"] = [gettext("Must be between %(min)s and %(max)s.", min=1, max=10)]
    if start_on < today():
        fields["start_on"] = [gettext("The date has passed.")]
    all_ids = [uid for t in teams for uid in t]
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(all_ids or [-1])))}
    if not teams or any(not t for t in teams) or len(set(all_ids)) != len(all_ids) or set(all_ids) - set(users):
        fields["teams"] = [gettext("Give one or more teams of distinct, existing members; nobody on two teams.")]
    elif any(u.role not in TEAM_ROLES or not u.active for u in users.values()):
        fields["teams"] = [gettext("Team members must be active experts or ministry staff.")]
    if fields:
        raise Invalid(fields=fields)
    horizon = start_on + timedelta(days=horizon_days)
    designated = db.session.scalars(
        select(Application).where(Application.state == State.DESIGNATED, Application.designated_at.is_not(None))
    ).all()
    due: list[tuple[date, Application]] = []
    for app in designated:
        cycle = recheck_due(app.designated_at, years, start_on)
        already = db.session.scalar(
            select(Inspection.id).where(
                Inspection.application_id == app.id,
                Inspection.kind == "recheck",
                Inspection.scheduled_on >= cycle - timedelta(days=180),
            )
        )
        if cycle <= horizon and already is None:
            due.append((max(cycle, start_on), app))
    planned: list[Inspection] = []
    for day, app in sorted(due, key=lambda pair: (pair[0], pair[1].county_code)):
        allowed = [t for t in teams if not any(conflict_of(users[uid], app) for uid in t)]
        if not allowed:
            continue  # every team has a member in conflict with this county: left for the ministry to set
        while True:
            if not is_workday(day):
                day += timedelta(days=1)
                continue
            free = [t for t in allowed if not _busy(t, day)]
            if free:
                planned.append(_create(user, app, "recheck", day, app.county.name, [users[uid] for uid in free[0]]))
                break
            day += timedelta(days=1)
    return planned
