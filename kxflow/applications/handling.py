"""Work done by people, not only roles: 认领 (claim), 转办 (transfer), 委派 (delegate) and the opinion that comes
back, deputies while someone is away, and 抄送 (copies) of a step.

The rule itself — once claimed, only the holder, their deputy or a lead acts at that level — lives in
``workflow.holders.require_may_act``, which ``fire_trigger`` asks; here are the steps that change who holds
an application, each audited on its timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import g
from flask_babel import gettext
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from kxflow.accounts.models import User
from kxflow.accounts.roles import ROLE_LABELS, Role
from kxflow.applications import operations
from kxflow.core import clock, limits
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from kxflow.notifications import copies
from kxflow.notifications.operations import notify_users
from kxflow.reminders import operations as reminders
from kxflow.workflow import audit as audit_trail
from kxflow.workflow import holders
from kxflow.workflow.holders import Deputy, TaskHolder
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.scope import get_application

# how far ahead a deputy can be named, and the longest range (days)
DEPUTY_MAX_DAYS = 366


def _name(user: User) -> str:
    return holders.holder_name(user)


def unit_label(app: Application) -> str:
    """The unit holding the application at its stage, e.g. 浙江省 · 省科技厅审核人 (— when nobody acts)."""
    role = holders.unit_role(app)
    if role is None:
        return "—"
    if role in (Role.COUNTY_STAFF, Role.COUNTY_LEADER):
        return f"{app.county.name} · {ROLE_LABELS[role]}"
    if role == Role.PROVINCE_REVIEWER:
        return f"{app.county.province.name} · {ROLE_LABELS[role]}"
    return str(ROLE_LABELS[role])  # the ministry's staff: one unit nationwide


@dataclass(frozen=True)
class Handler:
    """当前办理人: the person holding the application, or its unit while unclaimed."""

    label: str
    person: User | None = None
    delegate: User | None = None

    @property
    def claimed(self) -> bool:
        return self.person is not None


def handler_of(app: Application) -> Handler:
    row = holders.current(app)
    if row is None:
        return Handler(unit_label(app))
    return Handler(_name(row.holder), row.holder, row.delegate)


def handlers(apps: list[Application]) -> dict[int, Handler]:
    """当前办理人 of each application of a list, read in one query."""
    ids = [a.id for a in apps]
    rows = {
        r.application_id: r
        for r in db.session.scalars(select(TaskHolder).where(TaskHolder.application_id.in_(ids or [-1])))
    }
    out: dict[int, Handler] = {}
    for app in apps:
        row = rows.get(app.id)
        if row is not None and row.state == app.state:
            out[app.id] = Handler(_name(row.holder), row.holder, row.delegate)
        else:
            out[app.id] = Handler(unit_label(app))
    return out


def read_for_listing(apps: list[Application]) -> None:
    """当前办理人 of a page of applications about to be listed, read in one query and kept for this request, so
    ``listed_handler`` costs nothing per row (an API page of 100 rows once cost 100 more queries)."""
    g._kxflow_listed_handlers = handlers(apps)


def listed_handler(app: Application) -> Handler:
    """当前办理人 of a listed application: as read by ``read_for_listing`` for this request, else read now."""
    known = g.get("_kxflow_listed_handlers") or {}
    return known.get(app.id) or handler_of(app)


def _locked(user: User, application_id: int) -> Application:
    app = get_application(user, application_id, for_update=True)
    if not holders.in_unit(user, app):
        raise Forbidden(gettext("Only the unit holding the application at this stage can do this."))
    return app


def _audit(app: Application, user: User, event: str, comment: str | None = None, **snapshot) -> AuditRecord:
    return audit_trail.append(
        app, user, event, from_state=app.state, at=clock.now(), comment=comment, snapshot=snapshot or None
    )


def _colleague(app: Application, user_id: int | None, field: str) -> User:
    """A named colleague of the unit holding the application (422 naming the field otherwise)."""
    target = db.session.get(User, user_id) if user_id else None
    if target is None or not target.active or not holders.in_unit(target, app):
        raise Invalid(fields={field: [gettext("Choose a colleague of the unit holding the application.")]})
    return target


def _text(field: str, value: str | None, required: bool) -> str | None:
    limits.require_length(field, value, limits.COMMENT)
    value = (value or "").strip() or None
    if required and value is None:
        raise Invalid(fields={field: [gettext("Please give a reason.")]})
    return value


def _busy(row: TaskHolder) -> Conflict:
    return Conflict(
        gettext("%(name)s is handling this application.", name=_name(row.holder)),
        holder=_name(row.holder),
        holder_id=row.holder_id,
    )


def _tell(user_ids: list[int], app: Application, event: str, audit: AuditRecord, **params) -> None:
    """A request for action to the new holder (and their running deputies)."""
    deputies = [d.deputy_id for d in holders.running_deputies(user_ids)]
    notify_users(
        [*user_ids, *deputies],
        application_id=app.id,
        event=event,
        params={"county": app.county.name, "state": app.state, **params},
        dedupe_prefix=f"{event}:{audit.id}",
    )


def _take(app: Application, holder_id: int) -> None:
    """Makes ``holder_id`` the holder of an unclaimed application. Of two taking it at once, the second finds the
    first's row (one per application) and is refused naming them; a claim of an earlier stage is cleared first."""
    db.session.execute(delete(TaskHolder).where(TaskHolder.application_id == app.id, TaskHolder.state != app.state))
    try:
        with db.session.begin_nested():
            db.session.add(TaskHolder(application_id=app.id, state=app.state, holder_id=holder_id, since=clock.now()))
    except IntegrityError:
        winner = db.session.scalars(
            select(TaskHolder).where(TaskHolder.application_id == app.id).execution_options(populate_existing=True)
        ).first()
        if winner is None:  # pragma: no cover - the row that conflicted is there
            raise Conflict() from None
        raise _busy(winner) from None


def claim(user: User, application_id: int) -> Application:
    """认领: the task leaves the unit's pool and becomes this user's (409 naming the holder if someone has it)."""
    app = _locked(user, application_id)
    row = holders.current(app)
    if row is not None:
        if row.holder_id == user.id:
            return app
        raise _busy(row)
    _take(app, user.id)
    _audit(app, user, "claim")
    return app


def _may_hand_on(user: User, app: Application, row: TaskHolder | None) -> None:
    if row is None:
        if not user.is_lead:
            raise Forbidden(gettext("Claim the application first; only a lead assigns an unclaimed one."))
        return
    if not holders.may_act(user, app, row):
        raise _busy(row)


def transfer(user: User, application_id: int, to_user_id: int | None, reason: str | None) -> Application:
    """转办: the holder (their deputy, or a lead) hands the application to a named colleague of the same unit."""
    app = _locked(user, application_id)
    reason = _text("reason", reason, required=True)
    target = _colleague(app, to_user_id, "to_user_id")
    row = holders.current(app)
    _may_hand_on(user, app, row)
    if row is not None and row.holder_id == target.id:
        raise Invalid(fields={"to_user_id": [gettext("%(name)s already holds it.", name=_name(target))]})
    behalf = holders.on_behalf(user, app, row)
    now = clock.now()
    if row is None:
        _take(app, target.id)
    else:
        row.holder_id, row.since, row.delegate_id, row.delegated_at = target.id, now, None, None
    db.session.flush()
    audit = _audit(app, user, "transfer", reason, to=target.id, to_name=_name(target), **behalf)
    _tell([target.id], app, "transferred", audit, by=_name(user), reason=reason)
    return app


def delegate(user: User, application_id: int, to_user_id: int | None, note: str | None) -> Application:
    """委派: the holder asks a colleague to examine the application and report back; the holder still decides."""
    app = _locked(user, application_id)
    note = _text("note", note, required=False)
    target = _colleague(app, to_user_id, "to_user_id")
    row = holders.current(app)
    if row is None:
        raise Conflict(gettext("Claim the application before asking a colleague to examine it."))
    if not holders.may_act(user, app, row):
        raise _busy(row)
    if target.id == row.holder_id:
        raise Invalid(fields={"to_user_id": [gettext("Choose a colleague other than the holder.")]})
    if row.delegate_id is not None:
        raise Conflict(gettext("%(name)s is already examining it; wait for their opinion.", name=_name(row.delegate)))
    row.delegate_id, row.delegated_at = target.id, clock.now()
    db.session.flush()
    behalf = holders.on_behalf(user, app, row)
    audit = _audit(app, user, "delegate", note, to=target.id, to_name=_name(target), **behalf)
    _tell([target.id], app, "delegated", audit, by=_name(user), note=note)
    return app


def record_opinion(user: User, application_id: int, opinion: str | None) -> Application:
    """The colleague asked (委派) records their opinion; the task returns to the one who asked, who decides."""
    app = get_application(user, application_id, for_update=True)
    row = holders.current(app)
    if row is None or row.delegate_id != user.id:
        raise Forbidden(gettext("Only the colleague asked to examine it can record an opinion."))
    opinion = _text("opinion", opinion, required=True)
    row.delegate_id, row.delegated_at = None, None
    db.session.flush()
    audit = _audit(app, user, "delegate_opinion", opinion, to=row.holder_id, to_name=_name(row.holder))
    _tell([row.holder_id], app, "opinion_in", audit, by=_name(user), opinion=opinion)
    return app


def may_claim(user: User, app: Application) -> bool:
    return holders.in_unit(user, app) and holders.current(app) is None


def may_hand_on(user: User, app: Application) -> bool:
    """转办 is offered: to the holder, their deputy or a lead; for an unclaimed one, to a lead."""
    if not holders.in_unit(user, app):
        return False
    row = holders.current(app)
    return bool(user.is_lead) if row is None else holders.may_act(user, app, row)


def may_delegate(user: User, app: Application) -> bool:
    row = holders.current(app)
    if row is None or row.delegate_id is not None:
        return False
    return holders.in_unit(user, app) and holders.may_act(user, app, row)


def may_give_opinion(user: User, app: Application) -> bool:
    row = holders.current(app)
    return row is not None and row.delegate_id == user.id


def colleagues(user: User, app: Application) -> list[User]:
    """The active members of the unit holding the application, this user aside."""
    role = holders.unit_role(app)
    if role is None:
        return []
    return list(
        db.session.scalars(
            select(User)
            .where(holders.unit_clause(role, app), User.active.is_(True), User.id != user.id)
            .order_by(User.display_name, User.id)
        )
    )


def cc_candidates(user: User, app: Application, limit: int = 200) -> list[User]:
    """People who may read the application (its county, its province, the ministry), to copy a step to."""
    stmt = (
        select(User)
        .where(
            User.active.is_(True),
            User.id != user.id,
            or_(
                User.county_code == app.county_code,
                (User.role == Role.PROVINCE_REVIEWER) & (User.province_code == app.province_code),
                User.role == Role.MINISTRY_STAFF,
            ),
        )
        .order_by(User.role, User.display_name, User.id)
        .limit(limit)
    )
    return [u for u in db.session.scalars(stmt) if copies.can_read(u.id, app.id)]


# --- firing with copies (抄送) -------------------------------------------------------------------


def _last_audit(app: Application) -> AuditRecord:
    return db.session.scalars(
        select(AuditRecord).where(AuditRecord.application_id == app.id).order_by(AuditRecord.id.desc()).limit(1)
    ).one()


def fire(
    user: User,
    application_id: int,
    trigger: str,
    comment: str | None = None,
    expected_version: int | None = None,
    *,
    deadline: datetime | None = None,
    cc: list[int] | None = None,
) -> Application:
    """``fire_trigger``, then a copy of the step to ``cc`` (people who may read the application)."""
    app = operations.fire_trigger(user, application_id, trigger, comment, expected_version, deadline=deadline)
    recipients = copies.check_recipients(app.id, cc, user)
    if recipients:
        copies.copy_to(user, app, _last_audit(app), recipients)
    return app


def press(user: User, application_id: int, comment: str | None = None, cc: list[int] | None = None):
    """催办, with a copy to ``cc``."""
    reminder = reminders.press(user, application_id, comment)
    app = db.session.get(Application, reminder.application_id)
    recipients = copies.check_recipients(app.id, cc, user)
    if recipients:
        copies.copy_to(user, app, _last_audit(app), recipients)
    return reminder


# --- deputies ------------------------------------------------------------------------------------


def name_deputy(user: User, deputy_id: int | None, starts_on: date | None, ends_on: date | None) -> Deputy:
    """A colleague of the same unit and role acts for this user from ``starts_on`` to ``ends_on`` (inclusive)."""
    fields: dict[str, list[str]] = {}
    deputy = db.session.get(User, deputy_id) if deputy_id else None
    if deputy is None or deputy.id == user.id or not deputy.active or not holders.same_unit(user, deputy):
        fields["deputy_id"] = [gettext("Choose a colleague of your own unit and role.")]
    if starts_on is None:
        fields["starts_on"] = [gettext("Give the first day.")]
    if ends_on is None:
        fields["ends_on"] = [gettext("Give the last day.")]
    if starts_on and ends_on:
        if ends_on < starts_on:
            fields["ends_on"] = [gettext("The last day comes on or after the first.")]
        elif ends_on < holders.today():
            fields["ends_on"] = [gettext("The range is already over.")]
        elif (ends_on - starts_on).days > DEPUTY_MAX_DAYS:
            fields["ends_on"] = [gettext("At most %(n)s days.", n=DEPUTY_MAX_DAYS)]
    if fields:
        raise Invalid(fields=fields)
    row = Deputy(user_id=user.id, deputy_id=deputy.id, starts_on=starts_on, ends_on=ends_on, created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    notify_users(
        [deputy.id],
        application_id=None,
        event="deputy_named",
        params={"by": _name(user), "from": starts_on.isoformat(), "to": ends_on.isoformat()},
        dedupe_prefix=f"deputy:{row.id}",
        kind="info",
    )
    return row


def cancel_deputy(user: User, deputy_row_id: int) -> Deputy:
    row = db.session.get(Deputy, deputy_row_id)
    if row is None or row.user_id != user.id:
        raise NotFound()
    if row.cancelled_at is None:
        row.cancelled_at = clock.now()
    db.session.flush()
    return row


def deputies_named_by(user: User) -> list[Deputy]:
    return list(db.session.scalars(select(Deputy).where(Deputy.user_id == user.id).order_by(Deputy.starts_on.desc())))


def standing_in_for(user: User) -> list[Deputy]:
    """The arrangements in which this user is the deputy (running or to come)."""
    return list(
        db.session.scalars(
            select(Deputy)
            .where(Deputy.deputy_id == user.id, Deputy.cancelled_at.is_(None), Deputy.ends_on >= holders.today())
            .order_by(Deputy.starts_on)
        )
    )


def _same(column, value):
    return column.is_(None) if value is None else column == value


def unit_colleagues(user: User) -> list[User]:
    """Who this user may name as deputy: the active users of the same role and scope."""
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.role == user.role,
                _same(User.county_code, user.county_code),
                _same(User.province_code, user.province_code),
                User.active.is_(True),
                User.id != user.id,
            )
            .order_by(User.display_name, User.id)
        )
    )
