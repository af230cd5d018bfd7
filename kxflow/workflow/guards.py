"""The guard registry: each feature registers the guards it owns; the workflow asks them for verdicts.

A guard takes the ``GuardContext`` of one attempted transition and returns the reasons it
refuses, in the user's language (empty: it passes). The trigger table names guards; every name
must be registered by the time the app is built (``check_registered``), so a missing feature
fails at start-up, not on the first click.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.core.db import db
from kxflow.workflow.models import Application, Attachment
from kxflow.workflow.triggers import TRIGGERS

Guard = Callable[["GuardContext"], list[str]]
GUARDS: dict[str, Guard] = {}


def guard(name: str) -> Callable[[Guard], Guard]:
    """``@guard("panel_ready")`` registers a feature's guard under the name the trigger table uses."""

    def register(fn: Guard) -> Guard:
        if name in GUARDS and GUARDS[name] is not fn:
            raise RuntimeError(f"guard {name!r} is registered twice")
        GUARDS[name] = fn
        return fn

    return register


# guard name -> (fact key, builder): a fact the guard reads (``GuardContext.fact``) that can also be read with the row
# lock, in the one statement after it (``before_move``): the builder gives scalar subqueries on the locked
# ``Application`` (and its call), whose values, as a tuple, are the fact.
LOCKED_FACTS: dict[str, tuple[str, Callable[[], tuple[ColumnElement, ...]]]] = {}


def read_with_the_lock(guard_name: str, key: str) -> Callable[[Callable], Callable]:
    """Registers how the fact ``key`` of the guard ``guard_name`` is read in the statement after the row lock."""

    def register(build: Callable[[], tuple[ColumnElement, ...]]) -> Callable:
        LOCKED_FACTS[guard_name] = (key, build)
        return build

    return register


def check_registered() -> None:
    missing = sorted({g for t in TRIGGERS for g in t.guards} - set(GUARDS))
    if missing:
        raise RuntimeError(f"guards named in the trigger table but registered by no feature: {', '.join(missing)}")


@dataclass
class GuardContext:
    """One attempted transition: the application (locked), who acts, their comment, and the time.

    Features cache what several of their guards read in ``facts`` (e.g. the panel, read once).
    """

    application: Application
    actor: User
    comment: str | None
    now: datetime
    _cache: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    read_attachments: list[tuple[int, str]] | None = None  # already read with the lock (``before_move``)

    def reasons(self, name: str) -> list[str]:
        if name not in self._cache:
            self._cache[name] = GUARDS[name](self)
        return self._cache[name]

    def all_reasons(self, names: tuple[str, ...]) -> list[str]:
        return [reason for name in names for reason in self.reasons(name)]

    def fact(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value several guards share, computed once per transition."""
        if key not in self.facts:
            self.facts[key] = compute()
        return self.facts[key]

    @cached_property
    def attachments(self) -> list[tuple[int, str]]:
        """(id, kind) of the application's current attachments, read once per transition."""
        if self.read_attachments is not None:
            return self.read_attachments
        rows = db.session.execute(_CURRENT_ATTACHMENTS, {"application_id": self.application.id})
        return [(r.id, r.kind) for r in rows]


# built once: only the value changes
_CURRENT_ATTACHMENTS = select(Attachment.id, Attachment.kind).where(
    Attachment.application_id == bindparam("application_id"), Attachment.superseded_at.is_(None)
)
