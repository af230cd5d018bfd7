"""Writing the append-only audit trail: every row of it goes through ``append``, one place to keep it whole."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kxflow.accounts.models import User
from kxflow.core.db import db
from kxflow.workflow.models import Application, AuditRecord


def append(
    app: Application,
    actor: User,
    event: str,
    *,
    from_state: str,
    at: datetime,
    comment: str | None = None,
    snapshot: dict[str, Any] | None = None,
) -> AuditRecord:
    """One row of the application's timeline: a transition (``event`` a trigger, the application already at
    its new state) or an event that does not move it (催办 and the like: from and to the same state)."""
    row = AuditRecord(
        application_id=app.id,
        trigger=event,
        from_state=from_state,
        to_state=app.state,
        actor_id=actor.id,
        actor_role=actor.role,
        comment=comment,
        revision_round=app.revision_round,
        snapshot=snapshot or {},
        at=at,
    )
    db.session.add(row)
    return row
