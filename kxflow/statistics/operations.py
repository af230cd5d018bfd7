"""The figures, each a few GROUP BY queries in the database (never one query or one Python step per row).

Scope follows ``workflow.scope``: a figure counts what the user sees and the drafts below that were never
sent to them (``followed_up``) — those are counted, never listed or averaged; indicator averages and every
list behind a figure come from what the user may open (``visible``). A province sees its counties, a county
itself, the ministry the nation. Each figure carries the filters of the list behind it (``behind``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from time import monotonic
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import Date, and_, case, cast, exists, false, func, or_, select, true
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.applications.queries import Page
from kxflow.assessments.models import PASS_RATE_TARGET, PASSING, AssessmentResult
from kxflow.calls.models import Call
from kxflow.calls.operations import quota_by_province
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Forbidden, Invalid, NotFound
from kxflow.core.fields import CHINA
from kxflow.inspections.models import Inspection, InspectionMember
from kxflow.inspections.operations import visible as inspection_visible
from kxflow.regions.models import County, Province
from kxflow.reminders.operations import SLA
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.scope import followed_up, visible
from kxflow.workflow.states import AFTER_DESIGNATION, HOLDS_QUOTA, STATE_NAMES, State

SHARE_TARGET_PP = 0.2  # the plan: the county fiscal S&T share up by at least 0.2 percentage points on average
# the funnel from draft to designated: an application that stands at a later stage passed the earlier ones
FUNNEL: tuple[State, ...] = (
    State.DRAFT,
    State.COUNTY_REVIEW,
    State.PROVINCE_REVIEW,
    State.MINISTRY_REVIEW,
    State.EXPERT_REVIEW,
    State.SITE_INSPECTION,
    State.PUBLICITY,
    State.DESIGNATED,
)
# stages whose stays are timed (entered by a transition, left by the next)
TIMED: tuple[State, ...] = FUNNEL[1:7] + (State.RECTIFICATION,)
FINAL = (State.REVOKED, State.REJECTED, State.WITHDRAWN)
# stages that can be overdue: not final, not resting on the roll
OPEN_STAGES: tuple[State, ...] = tuple(s for s in STATE_NAMES if s not in (*FINAL, State.DESIGNATED))
# designation events over the years: the trigger that records each
EVENTS = {"designated": "designate", "rectification": "fail_recheck", "revoked": "revoke"}
STATE_GROUPS = {"quota": HOLDS_QUOTA, "after_designation": AFTER_DESIGNATION}
LIST_LIMIT = 200  # rows of the overdue list and of the inspection calendar shown with a figure
EXPORT_LIMIT = 20000  # rows of one Excel list


def can_read(user: User) -> bool:
    return user.role in (Role.MINISTRY_STAFF, Role.PROVINCE_REVIEWER) or user.role in COUNTY_ROLES


def _require(user: User) -> None:
    if not can_read(user):
        raise Forbidden()


def region(user: User, county_code: Any, province_code: Any) -> ColumnElement[bool]:
    """The counties a user's figures cover: the nation, a province's counties, or one county."""
    if user.role == Role.MINISTRY_STAFF:
        return true()
    if user.role == Role.PROVINCE_REVIEWER:
        return province_code == user.province_code
    if user.role in COUNTY_ROLES:
        return county_code == user.county_code
    return false()


def counted(user: User) -> ColumnElement[bool]:
    """What a figure counts: what the user sees and the unsent drafts below them (counts only)."""
    return or_(visible(user), followed_up(user))


def _rate(part: int | float, whole: int | float) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: Any, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _days(start: Any, end: Any) -> ColumnElement:
    if _dialect() == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def _week_of(day: Any) -> ColumnElement:
    """The Monday of a date's week."""
    if _dialect() == "postgresql":
        return cast(func.date_trunc("week", day), Date)
    return func.date(day, "weekday 0", "-6 days")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def provinces_in_scope(user: User) -> list[dict]:
    """The provinces a user's figures are broken down by (one query)."""
    stmt = select(Province.code, Province.name).order_by(Province.code)
    if user.role == Role.PROVINCE_REVIEWER:
        stmt = stmt.where(Province.code == user.province_code)
    elif user.role in COUNTY_ROLES:
        stmt = stmt.where(
            Province.code == select(County.province_code).where(County.code == user.county_code).scalar_subquery()
        )
    return [{"code": code, "name": name} for code, name in db.session.execute(stmt)]


# --- calls --------------------------------------------------------------------------------------


def calls(user: User) -> list[dict]:
    _require(user)
    rows = db.session.execute(select(Call.id, Call.title, Call.year).order_by(Call.opens_at.desc(), Call.id.desc()))
    return [{"id": i, "title": t, "year": y} for i, t, y in rows]


def pick_call(user: User, call_id: int | None) -> Call | None:
    """The call asked for, or the latest one."""
    _require(user)
    if call_id is not None:
        call = db.session.get(Call, call_id)
        if call is None:
            raise NotFound()
        return call
    return db.session.scalars(select(Call).order_by(Call.opens_at.desc(), Call.id.desc()).limit(1)).first()


# --- against the plan -------------------------------------------------------------------------


def pass_rates(user: User) -> dict:
    """The latest assessment round: the pass rate of the user's scope and of each province, against ≥ 70%."""
    _require(user)
    scoped = region(user, AssessmentResult.county_code, County.province_code)
    latest = db.session.scalar(
        select(func.max(AssessmentResult.round_year))
        .join(County, County.code == AssessmentResult.county_code)
        .where(scoped)
    )
    passed = func.sum(case((AssessmentResult.result.in_(PASSING), 1), else_=0))
    rows = []
    if latest is not None:
        rows = db.session.execute(
            select(County.province_code, Province.name, func.count(AssessmentResult.id), passed)
            .join(County, County.code == AssessmentResult.county_code)
            .join(Province, Province.code == County.province_code)
            .where(AssessmentResult.round_year == latest, scoped)
            .group_by(County.province_code, Province.name)
            .order_by(County.province_code)
        ).all()
    provinces = [
        {
            "province_code": code,
            "province_name": name,
            "counties": total,
            "passed": int(ok or 0),
            "pass_rate": _rate(int(ok or 0), total),
            "meets_target": (int(ok or 0) / total) >= PASS_RATE_TARGET if total else False,
        }
        for code, name, total, ok in rows
    ]
    total = sum(p["counties"] for p in provinces)
    ok = sum(p["passed"] for p in provinces)
    return {
        "round_year": latest,
        "target": PASS_RATE_TARGET,
        "counties": total,
        "passed": ok,
        "pass_rate": _rate(ok, total),
        "meets_target": bool(total) and ok / total >= PASS_RATE_TARGET,
        "provinces": provinces,
    }


def fiscal_share(user: User, call: Call | None) -> dict:
    """The county fiscal S&T share of general budget expenditure (latest year of the application) and its change
    in percentage points over the three years, averaged per province and over the scope, against +0.2 pp —
    from the indicators of the call's applications the user may open (withdrawn ones left out)."""
    _require(user)
    out: dict[str, Any] = {"call_id": call.id if call else None, "target_pp": SHARE_TARGET_PP, "provinces": []}
    if call is None:
        out.update(applications=0, share_first=None, share_last=None, change_pp=None, meeting=0, meets_target=False)
        return out
    first = Application.computed["st_share_y1"].as_float()
    last = Application.computed["st_share_y3"].as_float()
    change = Application.computed["st_share_change_pp"].as_float()
    meeting = func.sum(case((change >= SHARE_TARGET_PP, 1), else_=0))
    rows = db.session.execute(
        select(
            Application.province_code,
            Province.name,
            func.count(Application.id),
            func.avg(first),
            func.avg(last),
            func.avg(change),
            meeting,
        )
        .join(Province, Province.code == Application.province_code)
        .where(
            Application.call_id == call.id,
            Application.state != State.WITHDRAWN.value,
            change.is_not(None),
            visible(user),
        )
        .group_by(Application.province_code, Province.name)
        .order_by(Application.province_code)
    ).all()
    provinces = [
        {
            "province_code": code,
            "province_name": name,
            "applications": n,
            "share_first": _round(a),
            "share_last": _round(b),
            "change_pp": _round(c),
            "meeting": int(m or 0),
            "meets_target": c is not None and float(c) >= SHARE_TARGET_PP,
        }
        for code, name, n, a, b, c, m in rows
    ]
    n = sum(p["applications"] for p in provinces)

    def mean(key: str) -> float | None:
        parts = [(p[key], p["applications"]) for p in provinces if p[key] is not None]
        return round(sum(v * w for v, w in parts) / sum(w for _, w in parts), 4) if parts else None

    change_pp = mean("change_pp")
    out.update(
        applications=n,
        share_first=mean("share_first"),
        share_last=mean("share_last"),
        change_pp=change_pp,
        meeting=sum(p["meeting"] for p in provinces),
        meets_target=change_pp is not None and change_pp >= SHARE_TARGET_PP,
        provinces=provinces,
    )
    return out


def designations(user: User) -> dict:
    """Demonstration counties over the years: designated, sent to rectification and revoked each year (by the
    audit trail), and where they stand now."""
    _require(user)
    trail = aliased(AuditRecord)  # the scope rule reads the audit trail too: this is another reading of it
    year = func.extract("year", trail.at)
    rows = db.session.execute(
        select(year, trail.trigger, func.count(func.distinct(trail.application_id)))
        .join(Application, Application.id == trail.application_id)
        .where(trail.trigger.in_(EVENTS.values()), visible(user))
        .group_by(year, trail.trigger)
    ).all()
    by_year: dict[int, dict[str, int]] = {}
    trigger_to_key = {t: k for k, t in EVENTS.items()}
    for y, trigger, n in rows:
        by_year.setdefault(int(y), dict.fromkeys(EVENTS, 0))[trigger_to_key[trigger]] = n
    now = dict(
        db.session.execute(
            select(Application.state, func.count(Application.id))
            .where(Application.state.in_(AFTER_DESIGNATION), visible(user))
            .group_by(Application.state)
        ).all()
    )
    return {
        "years": [{"year": y, **by_year[y]} for y in sorted(by_year)],
        "now": {state.value: now.get(state.value, 0) for state in AFTER_DESIGNATION},
    }


# --- the pipeline of a call -----------------------------------------------------------------


def _reached_stage(index: int) -> ColumnElement[bool]:
    """The application got at least as far as ``FUNNEL[index]``: it stands there or later, or its trail says
    it was sent there or later once."""
    if index == 0:
        return true()
    later = [s.value for s in FUNNEL[index:]]
    if FUNNEL[index] in FUNNEL[: FUNNEL.index(State.DESIGNATED) + 1]:
        later += [s.value for s in AFTER_DESIGNATION]
    sent = exists().where(AuditRecord.application_id == Application.id, AuditRecord.to_state.in_(later))
    return or_(Application.state.in_(later), sent)


def pipeline(user: User, call: Call | None) -> dict:
    """A call's applications per stage and per province, the funnel from draft to designated, the provinces'
    quota used and left, and the average days spent at each stage."""
    _require(user)
    if call is None:
        return {
            "call_id": None,
            "call_title": None,
            "states": [],
            "by_province": [],
            "funnel": [],
            "quota": [],
            "days": [],
        }
    scope = and_(Application.call_id == call.id, counted(user))
    listed = func.sum(case((visible(user), 1), else_=0))
    cells = db.session.execute(
        select(Application.province_code, Application.state, func.count(Application.id), listed)
        .where(scope)
        .group_by(Application.province_code, Application.state)
    ).all()
    states: dict[str, list[int]] = {s.value: [0, 0] for s in STATE_NAMES}
    grid: dict[str, dict[str, int]] = {}
    for province, state, n, seen in cells:
        states[state][0] += n
        states[state][1] += int(seen or 0)
        grid.setdefault(province, {})[state] = n
    names = {p["code"]: p["name"] for p in provinces_in_scope(user)}
    funnel_row = db.session.execute(
        select(*(func.sum(case((_reached_stage(i), 1), else_=0)) for i in range(len(FUNNEL)))).where(scope)
    ).one()
    funnel_seen = db.session.execute(
        select(*(func.sum(case((_reached_stage(i), 1), else_=0)) for i in range(len(FUNNEL)))).where(
            Application.call_id == call.id, visible(user)
        )
    ).one()
    quota = [q for q in quota_by_province(call) if q.province_code in names]
    # the stays: each audit row's stage, from its time to the next row's (a window over the application's trail)
    trail = aliased(AuditRecord)
    following = func.lead(trail.at).over(partition_by=trail.application_id, order_by=(trail.at, trail.id))
    stays = (
        select(trail.to_state.label("stage"), trail.at.label("entered"), following.label("left"))
        .join(Application, Application.id == trail.application_id)
        .where(scope, trail.from_state.is_distinct_from(trail.to_state))  # moves, not notes within a stage
        .subquery()
    )
    days = dict(
        (stage, (avg, n))
        for stage, avg, n in db.session.execute(
            select(stays.c.stage, func.avg(_days(stays.c.entered, stays.c.left)), func.count())
            .where(stays.c.left.is_not(None), stays.c.stage.in_([s.value for s in TIMED]))
            .group_by(stays.c.stage)
        )
    )
    return {
        "call_id": call.id,
        "call_title": call.title,
        "states": [{"state": s, "count": n, "listed": seen} for s, (n, seen) in states.items()],
        "by_province": [
            {
                "province_code": code,
                "province_name": name,
                "states": grid.get(code, {}),
                "total": sum(grid.get(code, {}).values()),
            }
            for code, name in names.items()
        ],
        "funnel": [
            {"stage": stage.value, "count": int(funnel_row[i] or 0), "listed": int(funnel_seen[i] or 0)}
            for i, stage in enumerate(FUNNEL)
        ],
        "quota": [
            {
                "province_code": q.province_code,
                "province_name": names[q.province_code],
                "quota": q.quota,
                "used": q.used,
                "left": q.left,
            }
            for q in quota
        ],
        "days": [
            {"stage": s.value, "average_days": _round(days[s.value][0], 1), "stays": days[s.value][1]}
            for s in TIMED
            if s.value in days
        ],
    }


# --- stuck and overdue ------------------------------------------------------------------------


def _overdue_since(now: datetime) -> ColumnElement:
    """When the application became overdue: the earlier of its passed due date and passed time limit."""
    limit_passed = and_(Application.state.in_([s.value for s in SLA]), Application.time_limit_at < now)
    due_passed = Application.due_at < now
    return case(
        (
            and_(limit_passed, or_(Application.due_at.is_(None), Application.time_limit_at < Application.due_at)),
            Application.time_limit_at,
        ),
        (due_passed, Application.due_at),
        (limit_passed, Application.time_limit_at),
        else_=Application.overdue_since,
    )


def _is_overdue(now: datetime) -> ColumnElement[bool]:
    return and_(
        Application.state.in_([s.value for s in OPEN_STAGES]),
        or_(
            Application.due_at < now,
            and_(Application.state.in_([s.value for s in SLA]), Application.time_limit_at < now),
            Application.overdue_since.is_not(None),
        ),
    )


def overdue(user: User, call: Call | None = None) -> dict:
    """Applications past their stage's due date or their level's time limit (or flagged 逾期未提交): counts by
    stage and province (unsent drafts included), and the list of those the user may open, oldest first."""
    _require(user)
    now = clock.now()
    where = [_is_overdue(now), counted(user)]
    if call is not None:
        where.append(Application.call_id == call.id)
    cells = db.session.execute(
        select(Application.province_code, Application.state, func.count(Application.id))
        .where(*where)
        .group_by(Application.province_code, Application.state)
    ).all()
    by_state: dict[str, int] = {}
    by_province: dict[str, int] = {}
    for province, state, n in cells:
        by_state[state] = by_state.get(state, 0) + n
        by_province[province] = by_province.get(province, 0) + n
    since = _overdue_since(now).label("since")
    rows = db.session.execute(
        select(Application.id, Application.state, County.name, Province.name, Call.title, since)
        .join(County, County.code == Application.county_code)
        .join(Province, Province.code == Application.province_code)
        .join(Call, Call.id == Application.call_id)
        .where(_is_overdue(now), visible(user), *([Application.call_id == call.id] if call is not None else []))
        .order_by(since, Application.id)
        .limit(LIST_LIMIT)
    ).all()
    names = {p["code"]: p["name"] for p in provinces_in_scope(user)}
    return {
        "total": sum(by_state.values()),
        "by_state": [{"state": s.value, "count": by_state[s.value]} for s in OPEN_STAGES if s.value in by_state],
        "by_province": [
            {"province_code": code, "province_name": names.get(code, code), "count": n}
            for code, n in sorted(by_province.items())
        ],
        "items": [
            {
                "application_id": app_id,
                "state": state,
                "county_name": county,
                "province_name": province,
                "call_title": title,
                "overdue_since": as_utc_or_none(when),
                "days_overdue": (now - as_utc_or_none(when)).days if when is not None else None,
            }
            for app_id, state, county, province, title, when in rows
        ],
    }


def as_utc_or_none(value: Any) -> datetime | None:
    """A timestamp read through an expression (not a column) comes back as SQLite wrote it: make it aware."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return clock.as_utc(value)


# --- the inspection calendar ------------------------------------------------------------------


def inspection_calendar(user: User, *, weeks_back: int = 4, weeks_ahead: int = 12) -> dict:
    """Site inspections and re-checks by week (Monday first), with county and team, and reports overdue."""
    _require(user)
    today = clock.now().astimezone(CHINA).date()
    start = today - timedelta(days=today.weekday() + 7 * weeks_back)
    end = start + timedelta(weeks=weeks_back + weeks_ahead)
    live = and_(Inspection.cancelled_at.is_(None), inspection_visible(user))
    scoped = and_(live, region(user, Application.county_code, Application.province_code))
    week = _week_of(Inspection.scheduled_on).label("week")
    late = and_(Inspection.scheduled_on < today, Inspection.report_recorded_at.is_(None))
    weeks = db.session.execute(
        select(week, Inspection.kind, func.count(Inspection.id), func.sum(case((late, 1), else_=0)))
        .join(Application, Application.id == Inspection.application_id)
        .where(scoped, Inspection.scheduled_on >= start, Inspection.scheduled_on < end)
        .group_by(week, Inspection.kind)
    ).all()
    grid: dict[date, dict[str, int]] = {}
    for w, kind, n, overdue_n in weeks:
        cell = grid.setdefault(_as_date(w), {"site": 0, "recheck": 0, "reports_overdue": 0})
        cell[kind] += n
        cell["reports_overdue"] += int(overdue_n or 0)
    rows = db.session.execute(
        select(Inspection.id, Inspection.kind, Inspection.scheduled_on, Inspection.application_id, County.name)
        .add_columns(Province.name, Inspection.report_recorded_at)
        .join(Application, Application.id == Inspection.application_id)
        .join(County, County.code == Application.county_code)
        .join(Province, Province.code == Application.province_code)
        .where(scoped, or_(and_(Inspection.scheduled_on >= start, Inspection.scheduled_on < end), late))
        .order_by(Inspection.scheduled_on, Inspection.id)
        .limit(LIST_LIMIT)
    ).all()
    team: dict[int, list[str]] = {}
    if rows:
        for inspection_id, name, username in db.session.execute(
            select(InspectionMember.inspection_id, User.display_name, User.username)
            .join(User, User.id == InspectionMember.user_id)
            .where(InspectionMember.inspection_id.in_([r[0] for r in rows]))
            .order_by(InspectionMember.inspection_id, User.id)
        ):
            team.setdefault(inspection_id, []).append(name or username)
    items = [
        {
            "inspection_id": i,
            "kind": kind,
            "scheduled_on": day,
            "application_id": app_id,
            "county_name": county,
            "province_name": province,
            "team": team.get(i, []),
            "report_overdue": day < today and reported is None,
        }
        for i, kind, day, app_id, county, province, reported in rows
    ]
    return {
        "from": start,
        "to": end - timedelta(days=1),
        "weeks": [
            {
                "week": start + timedelta(weeks=k),
                **grid.get(start + timedelta(weeks=k), {"site": 0, "recheck": 0, "reports_overdue": 0}),
            }
            for k in range(weeks_back + weeks_ahead)
        ],
        "items": [i for i in items if start <= i["scheduled_on"] < end],
        "reports_overdue": [i for i in items if i["report_overdue"]],
    }


# --- provinces side by side -------------------------------------------------------------------


def provinces(user: User, call: Call | None, *, parts: dict | None = None) -> list[dict]:
    """One row per province in scope, its figures side by side (from the figures above, computed once)."""
    _require(user)
    parts = parts or {}
    pipe = parts.get("pipeline") or pipeline(user, call)
    rates = parts.get("pass_rates") or pass_rates(user)
    share = parts.get("fiscal_share") or fiscal_share(user, call)
    late = parts.get("overdue") or overdue(user, call)
    rate_of = {p["province_code"]: p for p in rates["provinces"]}
    share_of = {p["province_code"]: p for p in share["provinces"]}
    quota_of = {q["province_code"]: q for q in pipe["quota"]}
    late_of = {p["province_code"]: p["count"] for p in late["by_province"]}
    out = []
    for row in pipe["by_province"] or [
        {"province_code": p["code"], "province_name": p["name"], "states": {}, "total": 0}
        for p in provinces_in_scope(user)
    ]:
        code = row["province_code"]
        states = row["states"]
        out.append(
            {
                "province_code": code,
                "province_name": row["province_name"],
                "applications": row["total"],
                "recommended": sum(states.get(s.value, 0) for s in HOLDS_QUOTA),
                "designated": sum(states.get(s.value, 0) for s in AFTER_DESIGNATION),
                "quota": quota_of.get(code, {}).get("quota"),
                "quota_left": quota_of.get(code, {}).get("left"),
                "pass_rate": rate_of.get(code, {}).get("pass_rate"),
                "share_last": share_of.get(code, {}).get("share_last"),
                "change_pp": share_of.get(code, {}).get("change_pp"),
                "overdue": late_of.get(code, 0),
            }
        )
    return out


_KEPT: dict[tuple, tuple[float, dict]] = {}
KEPT_MAX = 512  # scopes × calls kept at once, per process


def _scope_key(user: User) -> tuple:
    if user.role == Role.MINISTRY_STAFF:
        return ("nation",)
    if user.role == Role.PROVINCE_REVIEWER:
        return ("province", user.province_code)
    return ("county", user.county_code)


def dashboard(user: User, call_id: int | None = None) -> dict:
    """Every figure of the dashboard, each computed once — and kept for ``STATISTICS_CACHE_SECONDS`` per scope and
    call (the same for everyone who sees the same counties), so a busy morning does not recompute them per view."""
    _require(user)
    seconds = current_app.config.get("STATISTICS_CACHE_SECONDS", 0)
    key = (*_scope_key(user), call_id)
    now = monotonic()
    kept = _KEPT.get(key)
    if seconds and kept is not None and kept[0] > now:
        return kept[1]
    parts = _compute_dashboard(user, call_id)
    if seconds:
        if len(_KEPT) >= KEPT_MAX:
            _KEPT.clear()
        _KEPT[key] = (now + seconds, parts)
    return parts


def _compute_dashboard(user: User, call_id: int | None) -> dict:
    call = pick_call(user, call_id)
    parts = {
        "pass_rates": pass_rates(user),
        "fiscal_share": fiscal_share(user, call),
        "designations": designations(user),
        "pipeline": pipeline(user, call),
        "overdue": overdue(user, call),
        "inspections": inspection_calendar(user),
    }
    parts["provinces"] = provinces(user, call, parts=parts)
    parts["call"] = {"id": call.id, "title": call.title, "year": call.year} if call else None
    parts["calls"] = calls(user)
    parts["computed_at"] = clock.now()
    return parts


# --- the list behind a figure ------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Which applications a figure stands for; every part optional."""

    call_id: int | None = None
    province: str | None = None
    state: str | None = None  # a stage, or a group: "quota" (holds a place), "after_designation"
    stage: str | None = None  # reached at least this stage of the funnel
    event: str | None = None  # designated / rectification / revoked …
    year: int | None = None  # … in this year
    overdue: bool = False

    def as_args(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}


def check_filters(filters: Filters) -> None:
    fields: dict[str, list[str]] = {}
    if filters.state and filters.state not in {s.value for s in STATE_NAMES} | set(STATE_GROUPS):
        fields["state"] = [gettext("Not a known stage.")]
    if filters.stage and filters.stage not in {s.value for s in FUNNEL}:
        fields["stage"] = [gettext("Not a stage of the funnel.")]
    if filters.event and filters.event not in EVENTS:
        fields["event"] = [gettext("Not a known event (designated, rectification, revoked).")]
    if filters.year is not None and filters.event is None:
        fields["year"] = [gettext("A year is given together with an event.")]
    if fields:
        raise Invalid(fields=fields)


def _behind_stmt(user: User, filters: Filters):
    check_filters(filters)
    stmt = select(Application).where(visible(user))
    if filters.call_id:
        stmt = stmt.where(Application.call_id == filters.call_id)
    if filters.province:
        stmt = stmt.where(Application.province_code == filters.province)
    if filters.state in STATE_GROUPS:
        stmt = stmt.where(Application.state.in_([s.value for s in STATE_GROUPS[filters.state]]))
    elif filters.state:
        stmt = stmt.where(Application.state == filters.state)
    if filters.stage:
        stmt = stmt.where(_reached_stage(FUNNEL.index(State(filters.stage))))
    if filters.event:
        happened = select(AuditRecord.id).where(
            AuditRecord.application_id == Application.id, AuditRecord.trigger == EVENTS[filters.event]
        )
        if filters.year is not None:
            happened = happened.where(func.extract("year", AuditRecord.at) == filters.year)
        stmt = stmt.where(happened.exists())
    if filters.overdue:
        stmt = stmt.where(_is_overdue(clock.now()))
    return stmt


def behind(user: User, filters: Filters, *, page: int = 1, per_page: int = 50) -> Page:
    """The applications a figure stands for, as far as the user may open them (two queries a page)."""
    _require(user)
    stmt = _behind_stmt(user, filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = (
        db.session.scalars(
            stmt.options(joinedload(Application.county).joinedload(County.province))
            .order_by(Application.province_code, Application.county_code, Application.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        .unique()
        .all()
    )
    return Page(list(items), total, page, per_page)


def behind_all(user: User, filters: Filters) -> list[Application]:
    """All of them, for an export (at most ``EXPORT_LIMIT``)."""
    _require(user)
    stmt = _behind_stmt(user, filters).options(joinedload(Application.county).joinedload(County.province))
    return list(
        db.session.scalars(
            stmt.order_by(
                Application.call_id, Application.province_code, Application.county_code, Application.id
            ).limit(EXPORT_LIMIT)
        ).unique()
    )
