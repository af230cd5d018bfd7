"""The bare floor of a transition on this stack (bench only, never in the product).

The least work a transition must do here: find the token's user, lock the application row, change its state
through the shared ``transitions`` machine, UPDATE the row (version-checked), INSERT one audit row, commit.
No guards, no scope, no reminders, no notifications, no hash chain (the audit row's hashes are random, so
the trail's unique key holds). ``make bench`` serves it beside the product (``floor_app``) and
``tests.bench.steps`` calls it in process, so kxflow is measured against the same floor both ways.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import Blueprint, Flask, request
from sqlalchemy import insert, select, update

from kxflow.accounts.models import ApiToken, User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.extensions import csrf
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.triggers import MACHINE


class _Row:
    __slots__ = ("state",)

    def __init__(self, state: str):
        self.state = state


class _NoGuards:
    def reasons(self, guard: str) -> list[str]:
        return []


NO_GUARDS = _NoGuards()


def floor_step(raw_token: str, application_id: int, trigger: str, comment: str | None = None) -> str | None:
    """One bare transition in the current session, committed. The new state, or None if refused."""
    session = db.session
    now = clock.now()
    user = session.execute(
        select(User.id, User.role)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == hashlib.sha256(raw_token.encode()).hexdigest(),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.active.is_(True),
        )
    ).first()
    if user is None:
        session.rollback()
        return None
    row = session.execute(
        select(Application.state, Application.version, Application.revision_round)
        .where(Application.id == application_id)
        .with_for_update()
    ).first()
    if row is None or not MACHINE.get_transitions(trigger=trigger, source=row.state):
        session.rollback()
        return None
    obj = _Row(row.state)
    MACHINE.events[trigger].trigger(obj, ctx=NO_GUARDS)
    session.execute(
        update(Application)
        .where(Application.id == application_id, Application.version == row.version)
        .values(state=obj.state, version=row.version + 1, state_changed_at=now, updated_at=now)
    )
    session.execute(
        insert(AuditRecord).values(
            application_id=application_id,
            trigger=trigger,
            from_state=row.state,
            to_state=obj.state,
            actor_id=user.id,
            actor_role=user.role,
            comment=comment,
            revision_round=row.revision_round,
            snapshot={},
            at=now,
            prev_hash=secrets.token_hex(32),
            row_hash=secrets.token_hex(32),
        )
    )
    session.commit()
    return obj.state


bp = Blueprint("bench_floor", __name__)


@bp.post("/bench/floor/<int:application_id>")
def floor(application_id: int):
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    body = request.get_json(silent=True) or {}
    state = floor_step(token, application_id, body.get("trigger", ""), body.get("comment"))
    if state is None:
        return {"message": "refused"}, 409
    return {"state": state}


def with_floor(app: Flask) -> Flask:
    app.register_blueprint(bp)
    csrf.exempt(bp)
    return app
