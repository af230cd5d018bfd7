"""Planning, cancelling and sending reminders, and pressing for action (催办).

A reminder is planned when an application enters a stage and cancelled when it leaves it, so
nobody is reminded of work already done. The scan turns due reminders into notifications (the
outbox), once each: the reminder's ``sent_at`` and its notifications commit together.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import insert, select, update

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.applications.models import Application, AuditRecord
from kxflow.applications.scope import get_application
from kxflow.applications.workflow import HOLDER_ROLE
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden
from kxflow.core.fields import CHINA
from kxflow.core.locks import exclusive
from kxflow.notifications.operations import in_scope, notify_users
from kxflow.reminders.models import Reminder

# waiting-time limits: the stage, the call's setting, and who is told when the grace runs out
SLA = {
    "county_review": ("sla_county_days", Role.PROVINCE_REVIEWER),
    "province_review": ("sla_province_days", Role.MINISTRY_STAFF),
    "ministry_review": ("sla_ministry_days", None),
}
# who may press whom: the holder's stage → the roles above it
PRESSERS = {
    "draft": {Role.COUNTY_LEADER},
    "county_review": {Role.PROVINCE_REVIEWER, Role.MINISTRY_STAFF},
    "province_review": {Role.MINISTRY_STAFF},
}


EXPERT_REMIND_DAYS_BEFORE = (3, 0)  # experts who have not scored: three days before, and on the day


def expert_review_due(app: Application) -> datetime:
    return app.state_changed_at + timedelta(days=app.call.expert_review_days)


def sla_deadline(app: Application) -> datetime | None:
    setting = SLA.get(app.state)
    if setting is None:
        return None
    return app.state_changed_at + timedelta(days=getattr(app.call, setting[0]))


def _cancel_pending(app: Application, kinds: tuple[str, ...]) -> None:
    db.session.execute(
        update(Reminder)
        .where(
            Reminder.application_id == app.id,
            Reminder.kind.in_(kinds),
            Reminder.sent_at.is_(None),
            Reminder.cancelled_at.is_(None),
        )
        .values(cancelled_at=clock.now())
    )


def _plan(app: Application, tag: str, *, deadlines: bool = True, sla: bool = True) -> None:
    now = clock.now()
    call = app.call
    rows: list[dict] = []

    def add(kind: str, due: datetime, offset: int | None = None) -> None:
        if due > now:
            rows.append(
                {
                    "application_id": app.id,
                    "kind": kind,
                    "state": app.state,
                    "offset_days": offset,
                    "due_at": due,
                    "dedupe_key": f"{kind}:{app.id}:{tag}:{offset}",
                    "params": {},
                    "created_at": now,
                }
            )

    if deadlines and app.state in ("draft", "county_review"):
        for days in call.reminder_offsets_days:
            add("county_deadline", call.county_deadline - timedelta(days=days), days)
    if deadlines and app.state == "province_review":
        for days in call.reminder_offsets_days:
            add("province_deadline", call.province_deadline - timedelta(days=days), days)
    if sla and app.state in SLA:
        limit_days = getattr(call, SLA[app.state][0])
        add("sla", app.state_changed_at + timedelta(days=limit_days), limit_days)
        if SLA[app.state][1] is not None:
            add(
                "escalation", app.state_changed_at + timedelta(days=limit_days + call.escalation_grace_days), limit_days
            )
    if app.state == "publicity" and app.publicity_ends_at is not None:
        add("publicity_end", app.publicity_ends_at)
    if app.state == "expert_review":
        due = expert_review_due(app)
        for days in EXPERT_REMIND_DAYS_BEFORE:
            add("expert_due", due - timedelta(days=days), days)
    if rows:
        db.session.execute(insert(Reminder), rows)


def plan_for_stage(app: Application, entered_by: str) -> None:
    """Cancels the reminders of the stage the application left and plans those of the one it is in."""
    _cancel_pending(app, ("county_deadline", "province_deadline", "sla", "escalation", "publicity_end", "expert_due"))
    _plan(app, entered_by)


def replan_deadlines(call_id: int) -> None:
    """After a call's deadlines or offsets change: its open applications get reminders on the new dates."""
    tag = f"c{int(clock.now().timestamp())}"
    apps = db.session.scalars(
        select(Application).where(
            Application.call_id == call_id, Application.state.in_(("draft", "county_review", "province_review"))
        )
    )
    for app in apps:
        _cancel_pending(app, ("county_deadline", "province_deadline"))
        _plan(app, tag, sla=False)


def _recipients(app: Application, role: Role) -> list[int]:
    stmt = select(User.id).where(in_scope(role, app), User.active.is_(True)).order_by(User.id)
    return list(db.session.scalars(stmt))


def send_one(reminder_id: int) -> int:
    """Sends one due reminder (or cancels it if the work moved on). Returns notifications written."""
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.sent_at is not None or reminder.cancelled_at is not None:
        return 0
    if reminder.inspection_id is not None:
        from kxflow.inspections.operations import send_reminder

        return send_reminder(reminder)
    app = db.session.get(Application, reminder.application_id)
    now = clock.now()
    if app.state != reminder.state:
        reminder.cancelled_at = now
        return 0
    params = {"county": app.county.name, "state": app.state, "offset_days": reminder.offset_days, **reminder.params}
    if reminder.kind == "county_deadline":
        params["deadline"] = app.call.county_deadline.isoformat()
    elif reminder.kind == "province_deadline":
        params["deadline"] = app.call.province_deadline.isoformat()
    if reminder.kind == "expert_due":
        from kxflow.experts.operations import active_assignments

        params["due"] = expert_review_due(app).isoformat()
        recipients = [a.expert_id for a in active_assignments(app.id) if a.scores is None]
    else:
        role = SLA[app.state][1] if reminder.kind == "escalation" else HOLDER_ROLE[app.state]
        recipients = _recipients(app, role)
    written = notify_users(
        recipients,
        application_id=app.id,
        event=reminder.kind,
        params=params,
        dedupe_prefix=f"reminder:{reminder.id}",
    )
    reminder.sent_at = now
    return written


def scan_due(limit: int = 500) -> int | None:
    """One scan: every due reminder in its own transaction. None when another scan holds the lock."""
    with exclusive("reminder-scan") as held:
        if not held:
            return None
        due = db.session.scalars(
            select(Reminder.id)
            .where(Reminder.due_at <= clock.now(), Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None))
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        ).all()
        written = 0
        for reminder_id in due:
            written += send_one(reminder_id)
            db.session.commit()
        return written


def press(user: User, application_id: int, comment: str | None = None) -> Reminder:
    """催办: a user above the holder sends an immediate reminder; once per application per day; audited."""
    app = get_application(user, application_id, for_update=True)
    if user.role not in PRESSERS.get(app.state, set()):
        raise Forbidden(gettext("Only a level above the current holder can press for action."))
    now = clock.now()
    day = now.astimezone(CHINA).date().isoformat()
    key = f"press:{app.id}:{day}"
    if db.session.scalar(select(Reminder.id).where(Reminder.dedupe_key == key)) is not None:
        raise Conflict(gettext("This application was already pressed today."))
    reminder = Reminder(
        application_id=app.id,
        kind="press",
        state=app.state,
        due_at=now,
        dedupe_key=key,
        params={"by": user.display_name or user.username},
        created_at=now,
    )
    db.session.add(reminder)
    db.session.flush()
    db.session.add(
        AuditRecord(
            application_id=app.id,
            trigger="press",
            from_state=app.state,
            to_state=app.state,
            actor_id=user.id,
            actor_role=user.role,
            comment=(comment or "").strip() or None,
            revision_round=app.revision_round,
            snapshot={},
            at=now,
        )
    )
    send_one(reminder.id)
    db.session.flush()
    return reminder


def upcoming_for(user: User, limit: int = 100) -> list[Reminder]:
    """The reminders still to come that will reach this user (their holder role, or their inspections)."""
    from kxflow.applications.scope import visible
    from kxflow.inspections.models import Inspection
    from kxflow.inspections.operations import visible as inspection_visible

    rows = db.session.scalars(
        select(Reminder)
        .join(Application, Application.id == Reminder.application_id)
        .where(Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None), Reminder.kind != "press")
        .where(visible(user) | Reminder.inspection_id.in_(select(Inspection.id).where(inspection_visible(user))))
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit * 3)
    ).all()

    def reaches(r: Reminder) -> bool:
        if r.kind == "inspection_soon":
            return user.role != Role.MINISTRY_STAFF and user.role != Role.PROVINCE_REVIEWER
        if r.kind == "inspection_overdue":
            return user.role == Role.MINISTRY_STAFF
        if r.kind == "escalation":
            return SLA.get(r.state, (None, None))[1] == user.role
        return HOLDER_ROLE.get(r.state) == user.role

    return [r for r in rows if reaches(r)][:limit]
