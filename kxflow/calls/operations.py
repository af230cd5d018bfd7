"""Opening and changing calls; every rule a call must keep is checked here, with field-named errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, or_, select

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.calls.models import Call, CallChange, QuotaOverride
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from kxflow.core.paging import Page, paginate
from kxflow.indicators.models import IndicatorSet, current_version
from kxflow.regions.models import DIVISION_TYPES, PROGRAMME_DIVISION_TYPES, Province
from kxflow.reminders.operations import replan_deadlines
from kxflow.workflow.models import Application
from kxflow.workflow.states import AFTER_DESIGNATION, HOLDS_QUOTA, State

EDITABLE = (
    "title",
    "year",
    "opens_at",
    "county_deadline",
    "province_deadline",
    "province_quota",
    "min_experts",
    "score_threshold",
    "division_types",
    "indicator_set_version",
    "requires_assessment_pass",
    "publicity_days",
    "rectification_days",
    "score_gap",
    "expert_review_days",
    "return_grace_days",
    "revoked_wait_years",
)
# an application in one of these is decided (or, flagged 逾期未提交, will never be): the call may close
DECIDED = (*AFTER_DESIGNATION, State.REJECTED, State.WITHDRAWN)


def can_manage_calls(user: User) -> bool:
    """Ministry staff open and change calls; every logged-in role may read them (a county needs them to apply)."""
    return user.role == Role.MINISTRY_STAFF


def _require_ministry(user: User) -> None:
    if not can_manage_calls(user):
        raise Forbidden()


def _check(call: Call, overrides: dict[str, int] | None, fields: dict[str, list[str]]) -> None:
    def add(name: str, msg: str) -> None:
        fields.setdefault(name, []).append(msg)

    if not (call.title or "").strip():
        add("title", gettext("This field is required."))
    if not 2000 <= (call.year or 0) <= 2100:
        add("year", gettext("Must be between %(min)s and %(max)s.", min=2000, max=2100))
    times = (call.opens_at, call.county_deadline, call.province_deadline)
    if all(isinstance(t, datetime) for t in times):
        if not call.opens_at < call.county_deadline:
            add("county_deadline", gettext("The county deadline must be after the opening date."))
        if not call.county_deadline <= call.province_deadline:
            add("province_deadline", gettext("The province deadline may not be before the county deadline."))
    if call.province_quota is None or call.province_quota < 0:
        add("province_quota", gettext("May not be negative."))
    if call.min_experts is None or call.min_experts < 1:
        add("min_experts", gettext("Must be at least %(min)s.", min=1))
    if call.score_threshold is None or not 0 <= call.score_threshold <= 100:
        add("score_threshold", gettext("Must be between %(min)s and %(max)s.", min=0, max=100))
    for name, low, high in (
        ("publicity_days", 1, 60),
        ("rectification_days", 1, 3 * 365),
        ("expert_review_days", 1, 90),
    ):
        if not low <= (getattr(call, name) or 0) <= high:
            add(name, gettext("Must be between %(min)s and %(max)s.", min=low, max=high))
    for name, low, high in (("return_grace_days", 1, 60), ("revoked_wait_years", 0, 10)):
        if not low <= (getattr(call, name) if getattr(call, name) is not None else -1) <= high:
            add(name, gettext("Must be between %(min)s and %(max)s.", min=low, max=high))
    if call.score_gap is None or not 0 < call.score_gap <= 100:
        add("score_gap", gettext("Must be between %(min)s and %(max)s.", min=0, max=100))
    types = call.division_types or []
    unknown = [t for t in types if t not in DIVISION_TYPES]
    if not types:
        add("division_types", gettext("Choose at least one division type."))
    elif unknown:
        add("division_types", gettext("Unknown division types: %(types)s.", types="、".join(unknown)))
    elif len(set(types)) != len(types):
        add("division_types", gettext("Division types must not repeat."))
    if db.session.get(IndicatorSet, call.indicator_set_version or "") is None:
        add("indicator_set_version", gettext("No such indicator-set version."))
    if overrides:
        known = set(db.session.scalars(select(Province.code).where(Province.code.in_(list(overrides)))))
        for code, quota in overrides.items():
            if code not in known:
                add(f"quota_overrides.{code}", gettext("Unknown province code."))
            elif not isinstance(quota, int) or isinstance(quota, bool) or quota < 0:
                add(f"quota_overrides.{code}", gettext("May not be negative."))


def _set_overrides(call: Call, overrides: dict[str, int]) -> None:
    call.quota_overrides = [QuotaOverride(province_code=code, quota=q) for code, q in sorted(overrides.items())]


def create_call(user: User, data: dict[str, Any]) -> Call:
    _require_ministry(user)
    call = Call(
        title=data.get("title"),
        year=data.get("year"),
        opens_at=data.get("opens_at"),
        county_deadline=data.get("county_deadline"),
        province_deadline=data.get("province_deadline"),
        province_quota=data.get("province_quota"),
        min_experts=data.get("min_experts", 3),
        score_threshold=data.get("score_threshold", 60.0),
        division_types=data.get("division_types") or list(PROGRAMME_DIVISION_TYPES),
        indicator_set_version=data.get("indicator_set_version") or current_version(),
        requires_assessment_pass=bool(data.get("requires_assessment_pass", False)),
        publicity_days=data.get("publicity_days", 7),
        rectification_days=data.get("rectification_days", 365),
        score_gap=data.get("score_gap", 20.0),
        expert_review_days=data.get("expert_review_days", 14),
        return_grace_days=data.get("return_grace_days", 5),
        revoked_wait_years=data.get("revoked_wait_years", 3),
        created_by_id=user.id,
    )
    overrides = data.get("quota_overrides") or {}
    fields: dict[str, list[str]] = {}
    _check(call, overrides, fields)
    if fields:
        raise Invalid(fields=fields)
    _set_overrides(call, overrides)
    db.session.add(call)
    db.session.flush()
    _record(
        call,
        user,
        "create",
        {name: [None, _plain(getattr(call, name))] for name in EDITABLE}
        | {"quota_overrides": [None, dict(sorted(overrides.items()))]},
    )
    return call


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _record(call: Call, user: User, action: str, changes: dict[str, list]) -> None:
    db.session.add(CallChange(call_id=call.id, action=action, actor_id=user.id, changes=changes, at=clock.now()))


def changes_of(call_id: int) -> list[CallChange]:
    return list(db.session.scalars(select(CallChange).where(CallChange.call_id == call_id).order_by(CallChange.id)))


def _undecided(call_id: int):
    return select(func.count(Application.id)).where(
        Application.call_id == call_id,
        Application.state.not_in(DECIDED),
        ~((Application.state == State.DRAFT) & Application.overdue_since.is_not(None)),
    )


def undecided(call_id: int) -> int:
    """Applications in the call still to be decided (a draft flagged 逾期未提交 never will be)."""
    return db.session.scalar(_undecided(call_id)) or 0


def overdue_drafts(call_id: int) -> int:
    """Drafts of the call flagged 逾期未提交 at its close-out (the ministry may reopen them)."""
    return (
        db.session.scalar(
            select(func.count(Application.id)).where(
                Application.call_id == call_id,
                Application.state == State.DRAFT,
                Application.overdue_since.is_not(None),
            )
        )
        or 0
    )


def close_call(user: User, call_id: int) -> Call:
    """The ministry closes a call once its last application is decided: from then on nothing in it changes."""
    _require_ministry(user)
    call = get_call(call_id)
    if call.closed_at is not None:
        raise Conflict(gettext("This call is closed already."))
    open_ = undecided(call.id)
    if open_:
        raise Conflict(gettext("%(n)s applications in this call are not decided yet.", n=open_), undecided=open_)
    call.closed_at = clock.now()
    _record(call, user, "close", {"closed_at": [None, call.closed_at.isoformat()]})
    db.session.flush()
    return call


def update_call(user: User, call_id: int, data: dict[str, Any]) -> Call:
    _require_ministry(user)
    call = db.session.get(Call, call_id)
    if call is None:
        raise NotFound()
    if call.closed_at is not None:
        raise Conflict(gettext("This call is closed: its figures no longer change."))
    before = {name: _plain(getattr(call, name)) for name in EDITABLE}
    before_quota = {o.province_code: o.quota for o in call.quota_overrides}
    old_deadlines = {"county_deadline": call.county_deadline, "province_deadline": call.province_deadline}
    fields: dict[str, list[str]] = {}
    changes_set = "indicator_set_version" in data and data["indicator_set_version"] != call.indicator_set_version
    if changes_set and db.session.scalar(select(func.count(Application.id)).where(Application.call_id == call.id)):
        fields["indicator_set_version"] = [
            gettext("Applications already use this call's indicator set; it cannot change.")
        ]
    with db.session.no_autoflush:
        for name in EDITABLE:
            if name in data:
                setattr(call, name, data[name])
        overrides = data.get("quota_overrides")
        _check(call, overrides, fields)
    if fields:
        raise Invalid(fields=fields)  # the request's transaction is rolled back
    if overrides is not None:
        _set_overrides(call, overrides)
    db.session.flush()
    changed = {n: [before[n], _plain(getattr(call, n))] for n in EDITABLE if before[n] != _plain(getattr(call, n))}
    if overrides is not None and dict(sorted(overrides.items())) != dict(sorted(before_quota.items())):
        changed["quota_overrides"] = [dict(sorted(before_quota.items())), dict(sorted(overrides.items()))]
    if changed:
        _record(call, user, "update", changed)
    if {"county_deadline", "province_deadline", "reminder_offsets_days"} & set(data):
        replan_deadlines(call.id, old_deadlines)
    return call


def get_call(call_id: int) -> Call:
    call = db.session.get(Call, call_id)
    if call is None:
        raise NotFound()
    return call


def list_calls() -> list[Call]:
    return list(db.session.scalars(select(Call).order_by(Call.opens_at.desc(), Call.id.desc())))


CALL_STATUSES = ("upcoming", "open", "province", "closed")


def search_calls(*, q: str | None, status: str | None, page: int) -> Page:
    """The calls as a paged list: by words of the title or the year, and where each stands today
    (not open yet, open to counties, with the provinces, collection ended)."""
    now = clock.now()
    stmt = select(Call).order_by(Call.opens_at.desc(), Call.id.desc())
    if q:
        words = q.strip()
        match = Call.title.ilike(f"%{words}%")
        stmt = stmt.where(or_(match, Call.year == int(words)) if words.isdigit() and len(words) == 4 else match)
    if status == "upcoming":
        stmt = stmt.where(Call.opens_at > now, Call.closed_at.is_(None))
    elif status == "open":
        stmt = stmt.where(Call.opens_at <= now, Call.county_deadline > now, Call.closed_at.is_(None))
    elif status == "province":
        stmt = stmt.where(Call.county_deadline <= now, Call.closed_at.is_(None))
    elif status == "closed":
        stmt = stmt.where(Call.closed_at.is_not(None))
    return paginate(stmt, page)


@dataclass(frozen=True)
class QuotaUse:
    """A province's recommendation places in a call: how many, how many taken, how many left."""

    province_code: str
    quota: int
    used: int

    @property
    def left(self) -> int:
        return max(self.quota - self.used, 0)


def _used(call_id: int):
    return (
        select(Application.province_code, func.count(Application.id))
        .where(Application.call_id == call_id, Application.state.in_(HOLDS_QUOTA))
        .group_by(Application.province_code)
    )


def quota_use(call: Call, province_code: str, *, excluding: int | None = None) -> QuotaUse:
    """One province's use of its quota (``excluding`` an application that is asking for a place)."""
    stmt = _used(call.id).where(Application.province_code == province_code)
    if excluding is not None:
        stmt = stmt.where(Application.id != excluding)
    used = dict(db.session.execute(stmt).all()).get(province_code, 0)
    return QuotaUse(province_code, call.quota_for(province_code), used)


def quota_by_province(call: Call) -> list[QuotaUse]:
    """Every province's actual quota (the call's default or its override) and use, in code order."""
    used = dict(db.session.execute(_used(call.id)).all())
    codes = db.session.scalars(select(Province.code).order_by(Province.code))
    return [QuotaUse(code, call.quota_for(code), used.get(code, 0)) for code in codes]


def quotas_visible_to(user: User, call: Call) -> list[QuotaUse]:
    """The quota figures a user may see on the call's page: every province's for the ministry (and the
    administrator), their own province's for a province reviewer, none for the others."""
    if user.role in (Role.MINISTRY_STAFF, Role.ADMIN):
        return quota_by_province(call)
    if user.role == Role.PROVINCE_REVIEWER and user.province_code:
        return [quota_use(call, user.province_code)]
    return []
