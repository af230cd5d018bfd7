"""Conflict-of-interest rules (回避), asked the same way for a panel seat and an inspection team: the feature
that owns the facts (the experts' declared conflicts) registers its rule here."""

from __future__ import annotations

from collections.abc import Callable

from kxflow.accounts.models import User
from kxflow.workflow.models import Application

ConflictRule = Callable[[User, Application], str | None]
RULES: list[ConflictRule] = []


def conflict_rule(fn: ConflictRule) -> ConflictRule:
    RULES.append(fn)
    return fn


def conflict_of(user: User, app: Application) -> str | None:
    """Why this person may not judge this application (in the user's language), or None."""
    for rule in RULES:
        reason = rule(user, app)
        if reason:
            return reason
    return None
