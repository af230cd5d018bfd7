"""Who may see which applications: the one place every application query goes through.

A county user sees their county's applications, a province reviewer their province's,
ministry staff the nation's. Experts see the applications they are assigned to and have not
stepped aside from (the experts feature, which owns assignments, registers that rule here);
administrators manage users and reference data, not applications.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, false, select, true
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.core.db import db
from kxflow.core.errors import NotFound
from kxflow.workflow.models import Application

Rule = Callable[[User], ColumnElement[bool]]
_RULES: dict[Role, Rule] = {}


def visibility_rule(role: Role) -> Callable[[Rule], Rule]:
    """Registers the rule of a role whose scope another feature owns (the experts' assignments)."""

    def register(fn: Rule) -> Rule:
        _RULES[role] = fn
        return fn

    return register


def visible(user: User) -> ColumnElement[bool]:
    if user.role in COUNTY_ROLES:
        return Application.county_code == user.county_code
    if user.role == Role.PROVINCE_REVIEWER:
        return Application.province_code == user.province_code
    if nationwide(user):
        return true()
    rule = _RULES.get(user.role)
    return rule(user) if rule is not None else false()


def nationwide(user: User) -> bool:
    """Sees applications of every province (and so may filter by province)."""
    return user.role == Role.MINISTRY_STAFF


def applications_for(user: User) -> Select[tuple[Application]]:
    return select(Application).where(visible(user))


def get_application(user: User, application_id: int, *, for_update: bool = False) -> Application:
    """The application if the user may see it; otherwise 404, so ids outside scope reveal nothing."""
    stmt = applications_for(user).where(Application.id == application_id)
    if for_update:
        # PostgreSQL: the second of two concurrent actors waits here and then sees the new state.
        # SQLite ignores FOR UPDATE; the version column catches the race there.
        stmt = stmt.with_for_update(of=Application).execution_options(populate_existing=True)
    app = db.session.scalars(stmt).first()
    if app is None:
        raise NotFound()
    return app
