"""The rules of an application's life: open one, fill it in, move it through the workflow.

Operations flush and never commit; the request (or task) that calls one commits once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import g
from flask_babel import gettext
from sqlalchemy import String, bindparam, case, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.calls.models import Call
from kxflow.core import clock, limits
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, GuardFailed, Invalid
from kxflow.core.fields import CHINA
from kxflow.core.formats import fmt_date, fmt_dt
from kxflow.indicators.evaluate import Evaluation, evaluate, validate_values
from kxflow.indicators.models import definition_for
from kxflow.notifications.operations import transition_notices
from kxflow.regions.models import County
from kxflow.reminders.operations import plan_for_stage, set_stage_dates, stage_reminders
from kxflow.workflow import audit as audit_trail
from kxflow.workflow import holders
from kxflow.workflow.before_move import lock_options, read_before_move
from kxflow.workflow.guards import GuardContext, read_with_the_lock
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.scope import get_application
from kxflow.workflow.states import HOLDS_TITLE, NOT_LIVE, State
from kxflow.workflow.triggers import HOLDER_ROLE, MACHINE, TRIGGERS_BY_NAME, Trigger, can_fire_from, triggers_for


def allowed_triggers(app: Application, user: User) -> list[str]:
    allowed = triggers_for(user.role, app.state)
    if Trigger.RECALL in allowed and _recall_refusal(app) is not None:
        allowed.remove(Trigger.RECALL)  # too late: the level it was sent to has acted
    return allowed


def handles_applications(user: User) -> bool:
    """Roles that hold applications at some stage (the rest see them through their own pages, or not)."""
    return user.role in set(HOLDER_ROLE.values())


def can_edit(user: User, app: Application) -> bool:
    return user.role == Role.COUNTY_STAFF and app.state == State.DRAFT


def _admits(call: Call, county: County) -> bool:
    return county.division_type in call.division_types


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _title_dates(county_code: ColumnElement[str]) -> tuple[ColumnElement, ...]:
    """Two subqueries: the county's latest designation of a title it still holds, and its latest revocation."""
    held = aliased(Application)
    return tuple(
        select(func.max(case((condition, column)))).where(held.county_code == county_code).scalar_subquery()
        for condition, column in (
            (held.state.in_(HOLDS_TITLE), held.designated_at),
            (held.state == State.REVOKED, held.revoked_at),
        )
    )


# built once: only the value changes
_TITLE_DATES = select(*_title_dates(bindparam("county_code", type_=String)))


@read_with_the_lock("county_eligible", "title_dates")
def _title_dates_with_the_lock() -> tuple[ColumnElement, ...]:
    """The same two dates of the locked application's county, read after a submission's row lock (``before_move``)."""
    return _title_dates(Application.county_code)


def title_dates(county_code: str) -> tuple[datetime | None, datetime | None]:
    return tuple(db.session.execute(_TITLE_DATES, {"county_code": county_code}).one())


def eligibility_refusal(
    county: County, call: Call, now: datetime, dates: tuple[datetime | None, datetime | None] | None = None
) -> str | None:
    """Why this county may not apply in this call, or None: a county holding the title may not apply while it
    does; one whose title was revoked waits the call's number of years. ``dates``: ``title_dates``, if read."""
    designated, revoked = dates if dates is not None else title_dates(county.code)
    if designated is not None:
        return gettext(
            "%(county)s holds the title of national S&T progress demonstration county (designated %(date)s) and "
            "may not apply again while it does.",
            county=county.name,
            date=fmt_date(clock.as_utc(designated).astimezone(CHINA).date()),
        )
    if revoked is not None and call.revoked_wait_years:
        again = _add_years(revoked, call.revoked_wait_years)
        if again > now:
            return gettext(
                "%(county)s's title was revoked on %(date)s; it may apply again from %(again)s (%(n)s years).",
                county=county.name,
                date=fmt_date(revoked.astimezone(CHINA).date()),
                again=fmt_date(again.astimezone(CHINA).date()),
                n=call.revoked_wait_years,
            )
    return None


def call_offers(user: User) -> list[tuple[Call, str | None]]:
    """The calls open now that admit the user's county's division type and hold no live application of the
    county yet, each with the reason the county may not apply (None: it may)."""
    county = user.county
    if user.role != Role.COUNTY_STAFF or county is None or county.valid_to is not None:
        return []
    now = clock.now()
    taken = select(Application.call_id).where(Application.county_code == county.code, Application.state != NOT_LIVE)
    calls = db.session.scalars(
        select(Call).where(Call.opens_at <= now, Call.county_deadline >= now, Call.id.not_in(taken)).order_by(Call.id)
    )
    return [(call, eligibility_refusal(county, call, now)) for call in calls if _admits(call, county)]


def calls_open_to(user: User) -> list[Call]:
    """The calls this user could open an application in now (eligible, open, admitting the county)."""
    return [call for call, refusal in call_offers(user) if refusal is None]


def create_application(user: User, call_id: int) -> Application:
    if user.role != Role.COUNTY_STAFF:
        raise Forbidden()
    call = db.session.get(Call, call_id)
    if call is None:
        raise Invalid(fields={"call_id": [gettext("No such call.")]})
    county = user.county
    if county is None or county.valid_to is not None:
        raise Invalid(fields={"county": [gettext("Your county is no longer a valid division.")]})
    if not _admits(call, county):
        raise Invalid(
            fields={
                "call_id": [
                    gettext("Divisions of type %(type)s may not apply to this call.", type=county.division_type)
                ]
            }
        )
    if not call.is_open(clock.now()):
        raise Invalid(fields={"call_id": [gettext("This call is not open for applications.")]})
    refusal = eligibility_refusal(county, call, clock.now())
    if refusal:
        raise Invalid(fields={"call_id": [refusal]})
    existing = db.session.scalar(
        select(Application.id).where(
            Application.call_id == call.id, Application.county_code == county.code, Application.state != NOT_LIVE
        )
    )
    if existing is not None:
        raise Conflict(gettext("Your county already has an application in this call."), application_id=existing)
    now = clock.now()
    app = Application(
        call=call,
        county_code=county.code,
        province_code=county.province_code,
        state=State.DRAFT,
        indicators={},
        created_by_id=user.id,
        created_at=now,
        updated_at=now,
        state_changed_at=now,
    )
    _store_evaluation(app, evaluate(definition_for(call.indicator_set_version), scoring_values(app, {})))
    set_stage_dates(app, now)
    db.session.add(app)
    db.session.flush()
    plan_for_stage(app, "new")
    return app


# facts other features know better than the county's own figures (the imported assessment result):
# each gives values that replace the declared ones when the application is scored
ValueOverride = Callable[[Application], dict[str, Any]]
VALUE_OVERRIDES: list[ValueOverride] = []


def value_override(fn: ValueOverride) -> ValueOverride:
    VALUE_OVERRIDES.append(fn)
    return fn


def scoring_values(app: Application, values: dict[str, Any]) -> dict[str, Any]:
    """The values an application is scored on: its own, with what other features know better in their place."""
    merged = dict(values)
    for override in VALUE_OVERRIDES:
        merged.update(override(app))
    return merged


def reevaluate(app: Application) -> None:
    """Scores the application again (after an imported fact changed), writing nothing else."""
    definition = definition_for(app.call.indicator_set_version)
    _store_evaluation(app, evaluate(definition, scoring_values(app, app.indicators or {})))


def _store_evaluation(app: Application, result: Evaluation) -> None:
    """Derived values, score and veto failures are computed on save, never typed in."""
    app.computed = result.computed
    app.score = result.score
    app.veto_failures = result.veto_failures


def require_draft_editor(app: Application, user: User) -> None:
    if user.role != Role.COUNTY_STAFF:
        raise Forbidden()
    if app.state != State.DRAFT:
        raise Conflict(gettext("Only a draft can be edited."), allowed_triggers=allowed_triggers(app, user))


_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,24}(转[0-9]{1,6})?$")


def _contact(contact: dict[str, str | None], errors: dict[str, list[str]]) -> dict[str, str]:
    """联系人 and 联系电话 as typed (spaces trimmed); a telephone has digits, perhaps an area code and 转 extension."""
    clean: dict[str, str] = {}
    for key, most in (("contact_name", 50), ("contact_phone", 40)):
        if key not in contact:
            continue
        value = (contact[key] or "").strip()
        if len(value) > most:
            errors[key] = [gettext("At most %(max)s characters.", max=most)]
        elif key == "contact_phone" and value and not _PHONE.match(value):
            errors[key] = [gettext("Not a telephone number: digits, with the area code (e.g. 0572-5123456).")]
        clean[key] = value
    return clean


def update_indicators(
    user: User,
    application_id: int,
    values: dict[str, Any],
    expected_version: int | None = None,
    contact: dict[str, str | None] | None = None,
) -> Application:
    """Saves typed indicator values (and the county's 联系人 / 联系电话) on a draft; all or nothing."""
    app = get_application(user, application_id, for_update=True)
    require_draft_editor(app, user)
    if expected_version is not None and expected_version != app.version:
        raise Conflict(version=app.version)
    definition = definition_for(app.call.indicator_set_version)
    clean, errors = validate_values(definition, values)
    contact_clean = _contact(contact or {}, errors)
    if errors:
        raise Invalid(fields=errors)
    for key, value in contact_clean.items():
        setattr(app, key, value)
    merged = {**(app.indicators or {}), **clean}
    merged = {k: v for k, v in merged.items() if v is not None}
    result = evaluate(definition, scoring_values(app, merged))
    if result.errors:
        raise Invalid(fields=result.errors)
    app.indicators = merged
    _store_evaluation(app, result)
    app.updated_at = clock.now()
    db.session.flush()
    return app


def _snapshot(app: Application, ctx: GuardContext) -> dict[str, Any]:
    return {
        "indicators": app.indicators,
        "computed": app.computed,
        "score": app.score,
        "veto_failures": app.veto_failures,
        "attachment_ids": [attachment_id for attachment_id, _ in ctx.attachments],
    }


def fire_trigger(
    user: User,
    application_id: int,
    trigger: str,
    comment: str | None = None,
    expected_version: int | None = None,
    *,
    deadline: datetime | None = None,
) -> Application:
    """Scope (404), then role (403), then state (409), then guards (422, every reason at once).

    ``deadline`` is the rectification deadline of ``fail_recheck`` (default: the call's period).
    """
    spec = TRIGGERS_BY_NAME.get(trigger)
    app = get_application(user, application_id, for_update=True, options=lock_options())
    if spec is None:
        raise Invalid(fields={"trigger": [gettext("Unknown action %(trigger)s.", trigger=trigger)]})
    if user.role not in spec.roles:
        raise Forbidden()
    if expected_version is not None and expected_version != app.version:
        raise Conflict(allowed_triggers=allowed_triggers(app, user), version=app.version)
    if not can_fire_from(trigger, app.state) or user.role not in spec.roles_from(app.state):
        raise Conflict(
            gettext("This action is not possible while the application is at this stage."),
            state=app.state,
            allowed_triggers=allowed_triggers(app, user),
        )
    # read once, the row locked: the claim decides who may act, in whose name, and ends on a move
    read = read_before_move(app, spec.guards)
    claim = read.claim
    holder = holders.of_stage(claim, app)
    holders.require_may_act_with(user, app, holder)  # claimed by someone else at this level: 409 naming them
    if trigger == Trigger.RECALL:
        _require_untouched(app, user)
    limits.require_length("comment", comment, limits.COMMENT)
    comment = comment.strip() if comment and comment.strip() else None
    now = clock.now()
    ctx = GuardContext(
        application=app, actor=user, comment=comment, now=now, facts=read.facts, read_attachments=read.attachments
    )
    reasons = ctx.all_reasons(spec.guards)
    if reasons:
        raise GuardFailed(reasons=reasons)
    if deadline is not None and (trigger != Trigger.FAIL_RECHECK or deadline <= now):
        raise Invalid(fields={"deadline": [gettext("A future deadline, for a failed re-check only.")]})

    from_state = app.state
    snapshot = {**_snapshot(app, ctx), **holders.on_behalf(user, app, holder)}
    if not MACHINE.events[trigger].trigger(app, ctx=ctx):  # pragma: no cover - guards were checked above
        raise GuardFailed(reasons=ctx.all_reasons(spec.guards))
    if spec.bumps_revision:
        app.revision_round += 1
    _dates_of_stage(app, trigger, now, deadline)
    set_stage_dates(app, now, trigger)
    if from_state == State.DRAFT:
        app.overdue_since = None  # the flag is the draft's; sent (or given up) it no longer applies
    app.state_changed_at = now
    app.updated_at = now
    holders.clear_if_moved(app, from_state, claim)
    # the row was locked by get_application(for_update=True) above; the version check happens here, with the
    # audit row: a concurrent winner makes both fail
    audit_trail.record_move(
        app,
        user,
        trigger,
        from_state=from_state,
        at=now,
        comment=comment,
        snapshot=snapshot,
        head=read.head,
        row_id=read.row_id,
        along=lambda audit: [*transition_notices(app, audit), *stage_reminders(app, f"a{audit.id}")],
    )
    return app


@dataclass(frozen=True)
class _RecallFacts:
    """What decides whether an application may still be recalled, with what its refusal names: the role that sent
    it to the stage it stands at, who has claimed that stage, and who acted on it first since it arrived, and when."""

    arrival_role: str | None
    claimed_by: str | None
    first_actor: str | None
    first_act_at: datetime | None


_HOLDER_ROLE_OF_STATE = case({state.value: role.value for state, role in HOLDER_ROLE.items()}, value=Application.state)


def _first_act(column: ColumnElement) -> ColumnElement:
    """Of the first act of the level holding the application since it arrived (a decision, a claim, a note, …)."""
    return (
        select(column)
        .select_from(AuditRecord)
        .join(User, User.id == AuditRecord.actor_id)
        .where(
            AuditRecord.application_id == Application.id,
            AuditRecord.at >= Application.state_changed_at,
            AuditRecord.actor_role == _HOLDER_ROLE_OF_STATE,
        )
        .order_by(AuditRecord.at, AuditRecord.id)
        .limit(1)
        .scalar_subquery()
    )


def _recall_facts(apps: list[Application]) -> dict[int, _RecallFacts]:
    """The recall facts of any number of applications in one query: a page of the list, or the one application a
    recall is asked for (a page of 100 applications once cost up to 300 queries here)."""
    if not apps:
        return {}
    arrival = (
        select(AuditRecord.actor_role)
        .where(
            AuditRecord.application_id == Application.id,
            AuditRecord.to_state == Application.state,
            AuditRecord.from_state != AuditRecord.to_state,  # the move that brought it here, not a note on it
        )
        .order_by(AuditRecord.at.desc(), AuditRecord.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    claimed_by = (
        select(func.coalesce(func.nullif(User.display_name, ""), User.username))  # as ``holders.holder_name``
        .select_from(holders.TaskHolder)
        .join(User, User.id == holders.TaskHolder.holder_id)
        .where(holders.TaskHolder.application_id == Application.id, holders.TaskHolder.state == Application.state)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Application.id, arrival, claimed_by, _first_act(User.display_name), _first_act(AuditRecord.at)).where(
            Application.id.in_([a.id for a in apps])
        )
    )
    return {app_id: _RecallFacts(*facts) for app_id, *facts in rows}


def read_recall_for_listing(apps: list[Application], user: User) -> None:
    """Whether each application of a page may still be recalled by this user, read in one query and kept for this
    request, so ``allowed_triggers`` costs no query per row."""
    recallable = [a for a in apps if Trigger.RECALL in triggers_for(user.role, a.state)]
    facts = _recall_facts(recallable)
    g._kxflow_listed_recall = {a.id: (a.version, facts[a.id]) for a in recallable if a.id in facts}


def _listed_recall_facts(app: Application) -> _RecallFacts | None:
    version, facts = (g.get("_kxflow_listed_recall") or {}).get(app.id, (None, None))
    return facts if version == app.version else None


def _recall_refusal(app: Application) -> str | None:
    """Why the sender may not take it back (撤回), or None: it must have come from them, and the level it was
    sent to must have done nothing with it yet.

    Right after the move (the answer to a transition lists what may be done next), the move is the last row this
    transaction appended to the trail: it is the arrival, and nothing can have been recorded after it — no act of
    the next level, and no claim either (the move ended any claim, and a claim is recorded in the trail)."""
    tail = audit_trail.appended_last(app.id)
    just_arrived = tail is not None and tail.to_state == app.state and tail.from_state != tail.to_state
    facts = None if just_arrived else (_listed_recall_facts(app) or _recall_facts([app])[app.id])
    arrival_role = tail.actor_role if just_arrived else facts.arrival_role
    sender_roles = TRIGGERS_BY_NAME[Trigger.RECALL].roles_from(app.state)
    if arrival_role is None or arrival_role not in sender_roles:
        return gettext("Only what you sent onward can be recalled; this came back from the level above.")
    if just_arrived:
        return None
    if facts.claimed_by is not None:  # the level it was sent to has taken it up
        return gettext("It can no longer be recalled: %(who)s has claimed it.", who=facts.claimed_by)
    if facts.first_act_at is not None:
        return gettext(
            "It can no longer be recalled: %(who)s has already acted on it (%(date)s).",
            who=facts.first_actor,
            date=fmt_dt(facts.first_act_at),
        )
    return None


def _require_untouched(app: Application, user: User) -> None:
    """撤回: 409 once the level it was sent to has acted (or when it was not sent by the recalling level)."""
    refusal = _recall_refusal(app)
    if refusal is not None:
        raise Conflict(refusal, allowed_triggers=[t for t in allowed_triggers(app, user) if t != Trigger.RECALL])


def _dates_of_stage(app: Application, trigger: str, now: datetime, deadline: datetime | None) -> None:
    """The dates a stage runs by: the notice window, the designation, the rectification deadline, revocation."""
    call = app.call
    if trigger == Trigger.PASS_INSPECTION:
        app.publicity_ends_at = now + timedelta(days=call.publicity_days)
    elif trigger == Trigger.DESIGNATE:
        app.designated_at = now
    elif trigger == Trigger.FAIL_RECHECK:
        app.rectification_due = deadline or now + timedelta(days=call.rectification_days)
    elif trigger == Trigger.PASS_RECHECK:
        app.rectification_due = None
    elif trigger == Trigger.REVOKE:
        app.revoked_at = now


def history(user: User, application_id: int) -> list[AuditRecord]:
    app = get_application(user, application_id)
    return list(
        db.session.scalars(
            select(AuditRecord).where(AuditRecord.application_id == app.id).order_by(AuditRecord.at, AuditRecord.id)
        )
    )


def preview_indicators(
    user: User, application_id: int, values: dict[str, Any]
) -> tuple[Evaluation, dict[str, list[str]]]:
    """What saving these values would give (derived values, score, veto, errors), writing nothing."""
    app = get_application(user, application_id)
    require_draft_editor(app, user)
    merged, errors = _merged(app, values)
    result = evaluate(definition_for(app.call.indicator_set_version), scoring_values(app, merged))
    return result, {**errors, **result.errors}


def _merged(app: Application, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The saved values with the typed ones over them; a value that does not parse counts as not given."""
    clean, errors = validate_values(definition_for(app.call.indicator_set_version), values)
    merged = {k: v for k, v in {**(app.indicators or {}), **clean}.items() if v is not None}
    for key in errors:
        merged.pop(key.removeprefix("indicators."), None)
    return merged, errors


class _AsIfSaved:
    """An application read as if the typed values were saved (for the guards; nothing is written)."""

    def __init__(self, app: Application, indicators: dict[str, Any]) -> None:
        self._app, self.indicators = app, indicators

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


def submit_blockers(user: User, app: Application, typed: dict[str, Any] | None = None) -> list[str]:
    """What still stands in the way of ``submit``: exactly the reasons its guards would give now, or, with
    ``typed``, once what the clerk has typed (not yet saved) is saved."""
    subject = app if typed is None else _AsIfSaved(app, _merged(app, typed)[0])
    ctx = GuardContext(application=subject, actor=user, comment=None, now=clock.now())  # type: ignore[arg-type]
    return ctx.all_reasons(TRIGGERS_BY_NAME[Trigger.SUBMIT].guards)


@dataclass(frozen=True)
class SubmittedVersion:
    """The application as the county sent it: its figures, score and files at the moment of 提交."""

    audit_id: int
    revision_round: int
    submitted_at: datetime
    indicators: dict[str, Any]
    computed: dict[str, Any]
    score: float
    veto_failures: list[str]
    attachment_ids: list[int]


def submitted_versions(user: User, application_id: int) -> list[SubmittedVersion]:
    """Every version the county submitted, oldest first (a returned application is submitted again)."""
    app = get_application(user, application_id)
    rows = db.session.scalars(
        select(AuditRecord)
        .where(AuditRecord.application_id == app.id, AuditRecord.trigger == Trigger.SUBMIT)
        .order_by(AuditRecord.at, AuditRecord.id)
    )
    return [
        SubmittedVersion(
            audit_id=r.id,
            revision_round=r.revision_round,
            submitted_at=r.at,
            indicators=r.snapshot.get("indicators") or {},
            computed=r.snapshot.get("computed") or {},
            score=r.snapshot.get("score") or 0.0,
            veto_failures=r.snapshot.get("veto_failures") or [],
            attachment_ids=r.snapshot.get("attachment_ids") or [],
        )
        for r in rows
    ]


def as_submitted(user: User, application_id: int) -> SubmittedVersion | None:
    """The version last submitted (what the 申报书 prints), or None while it has never been sent."""
    versions = submitted_versions(user, application_id)
    return versions[-1] if versions else None
