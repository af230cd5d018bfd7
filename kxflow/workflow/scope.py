"""Who may see which applications: the one place every application query goes through.

A county user sees their county's applications. A level above sees an application once it has
been sent to it — a province reviewer from province review on, ministry staff from ministry
review on — and keeps seeing it (with its history) if it comes back down: the audit trail says it
was sent. Of the drafts below that were never sent, a level above sees only that they exist (for
its follow-up: counts, due dates, an extension), never their content. Experts see the
applications they are assigned to and have not stepped aside from (the experts feature, which
owns assignments, registers that rule here); administrators manage users and reference data.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, and_, exists, false, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.core.db import db
from kxflow.core.errors import NotFound
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.states import BEFORE_MINISTRY, FROM_MINISTRY, FROM_PROVINCE, State

Rule = Callable[[User], ColumnElement[bool]]
_RULES: dict[Role, Rule] = {}


def visibility_rule(role: Role) -> Callable[[Rule], Rule]:
    """Registers the rule of a role whose scope another feature owns (the experts' assignments)."""

    def register(fn: Rule) -> Rule:
        _RULES[role] = fn
        return fn

    return register


def reached(stage: State, later: tuple[State, ...]) -> ColumnElement[bool]:
    """The application stands at or past ``stage``, or its audit trail shows it was sent there once."""
    sent = exists().where(AuditRecord.application_id == Application.id, AuditRecord.to_state == stage.value)
    return or_(Application.state.in_(later), sent)


def reached_province() -> ColumnElement[bool]:
    return reached(State.PROVINCE_REVIEW, FROM_PROVINCE)


def reached_ministry() -> ColumnElement[bool]:
    return reached(State.MINISTRY_REVIEW, FROM_MINISTRY)


def visible(user: User) -> ColumnElement[bool]:
    if user.role in COUNTY_ROLES:
        return Application.county_code == user.county_code
    if user.role == Role.PROVINCE_REVIEWER:
        return and_(Application.province_code == user.province_code, reached_province())
    if nationwide(user):
        return reached_ministry()
    rule = _RULES.get(user.role)
    return rule(user) if rule is not None else false()


def followed_up(user: User) -> ColumnElement[bool]:
    """Applications below a level that were never sent to it: it may count them, see their due dates and
    extend them, not read them. A province follows its counties' drafts; the ministry everything unsent."""
    if user.role == Role.PROVINCE_REVIEWER:
        return and_(
            Application.province_code == user.province_code,
            Application.state.in_(BEFORE_MINISTRY),
            not_(reached_province()),
        )
    if nationwide(user):
        return and_(Application.state.in_(BEFORE_MINISTRY), not_(reached_ministry()))
    return false()


def nationwide(user: User) -> bool:
    """Sees applications of every province (and so may filter by province)."""
    return user.role == Role.MINISTRY_STAFF


def applications_for(user: User) -> Select[tuple[Application]]:
    return select(Application).where(visible(user))


def _one(stmt: Select, for_update: bool, options: tuple = ()) -> Application:
    if options:
        stmt = stmt.options(*options)
    if for_update:
        # PostgreSQL: the second of two concurrent actors waits here and then sees the new state.
        # SQLite ignores FOR UPDATE; the version column catches the race there.
        stmt = stmt.with_for_update(of=Application).execution_options(populate_existing=True)
    app = db.session.scalars(stmt).first()
    if app is None:
        raise NotFound()
    return app


def get_application(user: User, application_id: int, *, for_update: bool = False, options: tuple = ()) -> Application:
    """The application if the user may see it; otherwise 404, so ids outside scope reveal nothing. ``options``: how
    to load it (``before_move.lock_options``)."""
    return _one(applications_for(user).where(Application.id == application_id), for_update, options)


def get_followed(user: User, application_id: int, *, for_update: bool = False) -> Application:
    """An application the user sees, or follows up from above (for an extension): otherwise 404."""
    stmt = select(Application).where(Application.id == application_id, or_(visible(user), followed_up(user)))
    return _one(stmt, for_update)
