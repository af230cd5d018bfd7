"""Publishing indicator-set versions (ministry staff) and reading them (every logged-in role: a county needs them)."""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, Invalid
from kxflow.indicators.definition import DefinitionError, parse
from kxflow.indicators.models import IndicatorSet


def can_publish(user: User) -> bool:
    return user.role == Role.MINISTRY_STAFF


def versions(user: User) -> list[IndicatorSet]:
    """Every published version, newest first."""
    return list(db.session.scalars(select(IndicatorSet).order_by(IndicatorSet.published_at.desc())))


def publish(user: User, raw: dict) -> IndicatorSet:
    """A new version of the indicator set (ministry staff): checked whole before any call can use it."""
    if not can_publish(user):
        raise Forbidden()
    try:
        definition = parse(raw)
    except DefinitionError as exc:
        raise Invalid(
            fields={"definition": [gettext("The indicator set is not valid: %(why)s", why=str(exc))]}
        ) from exc
    if db.session.get(IndicatorSet, definition.version) is not None:
        raise Conflict(
            gettext("Version %(version)s exists already; published versions never change.", version=definition.version)
        )
    row = IndicatorSet(version=definition.version, definition=raw, published_at=clock.now())
    db.session.add(row)
    db.session.flush()
    return row
