"""Who is told what when an application moves, and reading one's own notifications."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext
from sqlalchemy import (
    JSON,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Forbidden, NotFound
from kxflow.core.formats import fmt_date, fmt_dt
from kxflow.core.types import UTCDateTime
from kxflow.notifications.models import EmailDelivery, Notification
from kxflow.regions.models import County
from kxflow.workflow.audit import MOVE_GATE, Write
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.states import State, state_label
from kxflow.workflow.triggers import HOLDER_ROLE, trigger_label

# Outcomes the county is told about even though it does not act next: every move past its own level.
_COUNTY_INFO_STATES = frozenset(State) - {State.DRAFT, State.COUNTY_REVIEW}


def in_scope(role: Role, app: Application) -> ColumnElement[bool]:
    """Users of ``role`` who hold this application's level: its county, its province, or the ministry."""
    clause = User.role == role
    if role in (Role.COUNTY_STAFF, Role.COUNTY_LEADER):
        clause = and_(clause, User.county_code == app.county_code)
    elif role == Role.PROVINCE_REVIEWER:
        clause = and_(clause, User.province_code == app.province_code)
    return clause


def active_ids(role: Role) -> list[int]:
    """Every active user of a nation-wide role (e.g. all ministry staff), to be told of something."""
    return list(db.session.scalars(select(User.id).where(User.role == role, User.active.is_(True)).order_by(User.id)))


def _bound_scope(role: Role) -> ColumnElement[bool]:
    """``in_scope`` with the application's county and province as bound parameters (the statement is built once)."""
    clause = User.role == role.value
    if role in (Role.COUNTY_STAFF, Role.COUNTY_LEADER):
        clause = and_(clause, User.county_code == bindparam("notice_county_code", type_=String))
    elif role == Role.PROVINCE_REVIEWER:
        clause = and_(clause, User.province_code == bindparam("notice_province_code", type_=String))
    return clause


_TRANSITION_COLUMNS = (
    "recipient_id",
    "application_id",
    "audit_id",
    "kind",
    "event",
    "params",
    "email",
    "email_status",
    "dedupe_key",
    "created_at",
    "email_attempts",  # named: a column default is not filled in where the INSERT is a CTE of another statement
)
# (the holder's role, whether the county clerk is told) -> the INSERT … SELECT, built once with bound values, as is
# and gated on the move (to go in the move's own statement)
_TRANSITION_INSERTS: dict[tuple[Role | None, bool], tuple[Insert, Insert]] = {}


def _inline(value: str | int) -> ColumnElement:
    """A constant written into the statement rather than sent as a value: the statement, sent with the move, stays
    under the driver's limits for caching its parsed form (50 values, 4,096 characters)."""
    return literal(value, literal_execute=True)


def _transition_insert(holder: Role | None, inform_county: bool) -> tuple[Insert, Insert]:
    stmts = _TRANSITION_INSERTS.get((holder, inform_county))
    if stmts is None:
        acting = _bound_scope(holder) if holder is not None else false()
        informed = _bound_scope(Role.COUNTY_STAFF) if inform_county else false()
        kind = case((acting, _inline("action_required")), else_=_inline("info"))
        recipients = select(
            User.id,
            bindparam("notice_application_id", type_=Integer),
            bindparam("notice_audit_id", type_=Integer),
            kind,
            _inline("transition"),
            bindparam("notice_params", type_=JSON),
            or_(acting, User.email_all.is_(True)),
            case((acting, _inline("pending")), (User.email_all.is_(True), _inline("pending")), else_=_inline("none")),
            bindparam("notice_dedupe_prefix", type_=String) + cast(User.id, String),
            bindparam("notice_created_at", type_=UTCDateTime),
            _inline(0),
        ).where(User.active.is_(True), User.id != bindparam("notice_actor_id", type_=Integer), or_(acting, informed))
        # on the table, not the entity: the ORM would read the parameters as rows of a bulk INSERT
        table = Notification.__table__
        stmts = (
            insert(table).from_select(list(_TRANSITION_COLUMNS), recipients),
            insert(table).from_select(list(_TRANSITION_COLUMNS), recipients.where(MOVE_GATE)),
        )
        _TRANSITION_INSERTS[(holder, inform_county)] = stmts
    return stmts


def transition_notices(app: Application, audit: AuditRecord) -> list[Write]:
    """One notification row per recipient of a transition, in one INSERT … SELECT: the next holder is asked to act,
    the county clerk is told of outcomes, the actor is not told of their own action. The statement is built once
    per kind of recipient set; only values change. Written with the move (``record_move``'s ``along``)."""
    holder = HOLDER_ROLE.get(audit.to_state)
    inform_county = audit.to_state in _COUNTY_INFO_STATES and holder != Role.COUNTY_STAFF
    if holder is None and not inform_county:
        return []
    params = {
        "county": app.county.name,
        "trigger": audit.trigger,
        "from_state": audit.from_state,
        "to_state": audit.to_state,
        "comment": audit.comment,
    }
    plain, gated = _transition_insert(holder, inform_county)
    return [
        Write(
            plain,
            gated,
            {
                "notice_application_id": app.id,
                "notice_audit_id": audit.id,
                "notice_params": params,
                "notice_dedupe_prefix": f"audit:{audit.id}:user:",
                "notice_created_at": audit.at,
                "notice_actor_id": audit.actor_id,
                "notice_county_code": app.county_code,
                "notice_province_code": app.province_code,
            },
        )
    ]


def notify_users(
    user_ids: list[int],
    *,
    application_id: int,
    event: str,
    params: dict,
    dedupe_prefix: str,
    kind: str = "action_required",
) -> int:
    """One notification row per user (e-mailed too), keyed so that writing it twice is impossible."""
    now = clock.now()
    if user_ids:
        db.session.execute(
            insert(Notification),
            [
                {
                    "recipient_id": uid,
                    "application_id": application_id,
                    "kind": kind,
                    "event": event,
                    "params": params,
                    "email": True,
                    "email_status": "pending",
                    "dedupe_key": f"{dedupe_prefix}:user:{uid}",
                    "created_at": now,
                }
                for uid in dict.fromkeys(user_ids)
            ],
        )
    return len(dict.fromkeys(user_ids))


def render_message(n: Notification, locale: str) -> str:
    p = n.params
    if n.event == "transition":
        values = {
            "county": p["county"],
            "action": trigger_label(p["trigger"], locale),
            "state": state_label(p["to_state"], locale),
        }
        if n.kind == "action_required":
            return gettext("%(county)s: application %(action)s, now at %(state)s — your action is needed.", **values)
        return gettext("%(county)s: application %(action)s, now at %(state)s.", **values)
    county, state = p.get("county", ""), state_label(p["state"], locale) if p.get("state") else ""
    if n.event in ("county_deadline", "province_deadline"):
        deadline = fmt_dt(datetime.fromisoformat(p["deadline"]))
        return gettext(
            "%(county)s: %(days)s working days left before the deadline (%(date)s); the application is at %(state)s.",
            county=county,
            days=p.get("offset_days"),
            date=deadline,
            state=state,
        )
    if n.event == "sla":
        return gettext(
            "%(county)s: the application has waited %(days)s days at %(state)s, past the time limit. Please act.",
            county=county,
            days=p.get("offset_days"),
            state=state,
        )
    if n.event == "escalation":
        return gettext(
            "%(county)s: the application is overdue at %(state)s (limit %(days)s days). Please press for action.",
            county=county,
            days=p.get("offset_days"),
            state=state,
        )
    if n.event in ("inspection_scheduled", "inspection_soon", "inspection_overdue"):
        what = gettext("re-check") if p.get("kind") == "recheck" else gettext("site inspection")
        values = {
            "county": county,
            "what": what,
            "date": fmt_date(date.fromisoformat(p["date"])),
            "place": p.get("place", ""),
            "days": p.get("offset_days"),
        }
        if n.event == "inspection_scheduled":
            return gettext("%(county)s: %(what)s set for %(date)s at %(place)s.", **values)
        if n.event == "inspection_soon":
            return gettext("%(county)s: %(what)s in %(days)s days, on %(date)s at %(place)s.", **values)
        return gettext("%(county)s: the %(what)s of %(date)s has no report yet. Please record it.", **values)
    if n.event == "expert_assigned":
        return gettext("%(county)s: you are on the expert panel for this application. Please score it.", county=county)
    if n.event == "expert_due":
        return gettext(
            "%(county)s: your scores are due by %(date)s and are not in yet. Please score.",
            county=county,
            date=fmt_dt(datetime.fromisoformat(p["due"])),
        )
    if n.event == "expert_recused":
        return gettext(
            "%(county)s: expert %(expert)s stepped aside (回避): %(reason)s. Please assign a replacement.",
            county=county,
            expert=p.get("expert", ""),
            reason=p.get("reason", ""),
        )
    if n.event == "objection_digest":
        return gettext(
            "New written objections were lodged during the public notice (the first: %(county)s). Open 公示 and "
            "resolve each on its application's page.",
            county=county,
        )
    if n.event == "objection_received":
        return gettext(
            "%(county)s: a written objection was lodged during the public notice. Please resolve it.", county=county
        )
    if n.event == "publicity_end":
        return gettext("%(county)s: the public notice has ended. Please designate or decide.", county=county)
    if n.event == "closeout":
        return gettext(
            "%(county)s: the application was not sent by its due date (%(date)s) and is marked 逾期未提交. "
            "Ask the province or the ministry to reopen it.",
            county=county,
            date=fmt_dt(datetime.fromisoformat(p["deadline"])),
        )
    if n.event == "extended":
        return gettext(
            "%(county)s: the due date is extended to %(date)s (延期): %(reason)s",
            county=county,
            date=fmt_dt(datetime.fromisoformat(p["due"])),
            reason=p.get("reason", ""),
        )
    if n.event == "rectification_report":
        return gettext(
            "%(county)s: a rectification report (整改报告) was submitted. Please schedule the re-check.", county=county
        )
    if n.event == "rectification_due":
        return gettext(
            "%(county)s: %(days)s working days left to rectify (by %(date)s). Submit the rectification report.",
            county=county,
            days=p.get("offset_days"),
            date=fmt_dt(datetime.fromisoformat(p["due"])) if p.get("due") else "—",
        )
    if n.event == "rectification_passed":
        return gettext(
            "%(county)s: the rectification deadline (%(date)s) has passed. The re-check decides: pass or revoke.",
            county=county,
            date=fmt_dt(datetime.fromisoformat(p["due"])) if p.get("due") else "—",
        )
    if n.event == "press":
        text = gettext(
            "%(by)s presses for action: %(county)s's application is waiting for you at %(state)s.",
            by=p.get("by", ""),
            county=county,
            state=state,
        )
        return text + (gettext(" Note: %(comment)s", comment=p["comment"]) if p.get("comment") else "")
    if n.event in HANDLING_EVENTS:
        return HANDLING_EVENTS[n.event](p, county, state, locale)
    return n.event


def _cc(p: dict, county: str, state: str, locale: str) -> str:
    text = gettext(
        "%(by)s copied you (抄送): %(county)s — %(action)s, now at %(state)s. For your information; no action needed.",
        by=p.get("by", ""),
        county=county,
        action=trigger_label(p["trigger"], locale) if p.get("trigger") else "",
        state=state,
    )
    return text + (gettext(" Note: %(comment)s", comment=p["comment"]) if p.get("comment") else "")


def _transferred(p: dict, county: str, state: str, locale: str) -> str:
    return gettext(
        "%(by)s handed you (转办) %(county)s's application at %(state)s: %(reason)s",
        by=p.get("by", ""),
        county=county,
        state=state,
        reason=p.get("reason", ""),
    )


def _delegated(p: dict, county: str, state: str, locale: str) -> str:
    text = gettext(
        "%(by)s asks you (委派) to examine %(county)s's application and record your opinion.",
        by=p.get("by", ""),
        county=county,
    )
    return text + (gettext(" Note: %(comment)s", comment=p["note"]) if p.get("note") else "")


def _opinion_in(p: dict, county: str, state: str, locale: str) -> str:
    return gettext(
        "%(by)s recorded their opinion on %(county)s's application: %(opinion)s. The decision is yours.",
        by=p.get("by", ""),
        county=county,
        opinion=p.get("opinion", ""),
    )


def _deputy_named(p: dict, county: str, state: str, locale: str) -> str:
    return gettext(
        "%(by)s named you their deputy from %(from)s to %(to)s: their tasks and reminders reach you too.",
        by=p.get("by", ""),
        **{"from": fmt_date(date.fromisoformat(p["from"])), "to": fmt_date(date.fromisoformat(p["to"]))},
    )


HANDLING_EVENTS = {
    "cc": _cc,
    "transferred": _transferred,
    "delegated": _delegated,
    "opinion_in": _opinion_in,
    "deputy_named": _deputy_named,
}


def mine(
    user: User,
    *,
    unread_only: bool = False,
    limit: int = 50,
    offset: int = 0,
    q: str | None = None,
    read: bool | None = None,
    kind: str | None = None,
) -> tuple[list[Notification], int, int]:
    """My notifications, newest first: only unread (or read) ones, of one kind (action needed or for
    information), or about the counties whose name holds ``q``; with the total and the unread count."""
    base = select(Notification).where(Notification.recipient_id == user.id)
    if unread_only or read is False:
        base = base.where(Notification.read_at.is_(None))
    elif read is True:
        base = base.where(Notification.read_at.is_not(None))
    if kind:
        base = base.where(Notification.kind == kind)
    if q:
        counties = select(Application.id).join(County, County.code == Application.county_code)
        base = base.where(Notification.application_id.in_(counties.where(County.name.ilike(f"%{q}%"))))
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    unread = unread_count(user)
    rows = db.session.scalars(base.order_by(Notification.id.desc()).limit(limit).offset(offset))
    return list(rows), total, unread


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
    )


def mark_all_read(user: User) -> None:
    db.session.execute(
        update(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )


def mark_read(user: User, notification_id: int) -> Notification:
    row = db.session.get(Notification, notification_id)
    if row is None or row.recipient_id != user.id:
        raise NotFound()
    if row.read_at is None:
        row.read_at = clock.now()
    return row


# what the dispatcher itself writes in the delivery log when it cannot try a message (the SMTP server's own
# replies are logged as it wrote them)
NO_ADDRESS = "no e-mail address or account disabled"
BAD_ADDRESS = "not one e-mail address"
UNREACHABLE = "ServerUnreachable"  # the name of ``email.ServerUnreachable``, how the log writes the failure


def delivery_error(error: str | None) -> str | None:
    """A delivery-log error as the reader's page shows it: the dispatcher's own reasons in the reader's language,
    what a mail server said as it said it."""
    if error == NO_ADDRESS:
        return gettext("No e-mail address, or the account is disabled: not sent.")
    if error and error.startswith(f"ValueError: {BAD_ADDRESS}"):
        return gettext("The recipient's e-mail address is not one valid address: not sent.")
    if error and error.startswith(f"{UNREACHABLE}: "):
        return gettext(
            "The mail server could not be reached (%(detail)s): sent again once it answers.",
            detail=error.removeprefix(f"{UNREACHABLE}: "),
        )
    return error


def can_see_deliveries(user: User) -> bool:
    """The e-mail delivery log names recipients and errors: ministry staff only."""
    return user.role == Role.MINISTRY_STAFF


def delivery_log(user: User, notification_id: int) -> tuple[Notification, list[EmailDelivery]]:
    """Every e-mail attempt for one notification (ministry staff only): sent, failed, retried."""
    if not can_see_deliveries(user):
        raise Forbidden()
    row = db.session.get(Notification, notification_id)
    if row is None:
        raise NotFound()
    attempts = db.session.scalars(
        select(EmailDelivery).where(EmailDelivery.notification_id == row.id).order_by(EmailDelivery.attempt)
    )
    return row, list(attempts)


def deliveries_of_application(user: User, application_id: int) -> list[tuple[Notification, User, list[EmailDelivery]]]:
    """Every e-mailed notification of one application with its recipient and attempts (ministry staff)."""
    if not can_see_deliveries(user):
        raise Forbidden()
    rows = db.session.execute(
        select(Notification, User)
        .join(User, User.id == Notification.recipient_id)
        .where(Notification.application_id == application_id, Notification.email.is_(True))
        .order_by(Notification.id)
    ).all()
    attempts: dict[int, list[EmailDelivery]] = {}
    for d in db.session.scalars(
        select(EmailDelivery)
        .where(EmailDelivery.notification_id.in_([n.id for n, _ in rows] or [-1]))
        .order_by(EmailDelivery.attempt)
    ):
        attempts.setdefault(d.notification_id, []).append(d)
    return [(n, recipient, attempts.get(n.id, [])) for n, recipient in rows]
