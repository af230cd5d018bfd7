"""The experts' reminder: those who have not scored are reminded before the review is due, and on the day."""

from __future__ import annotations

from kxflow.core.db import db
from kxflow.experts.operations import active_assignments
from kxflow.reminders.models import Reminder
from kxflow.reminders.operations import deliver, expert_review_due, reaches_holder, reminder_kind
from kxflow.workflow.models import Application


@reminder_kind("expert_due", reaches=reaches_holder)
def to_unscored_experts(reminder: Reminder) -> int:
    app = db.session.get(Application, reminder.application_id)
    return deliver(
        reminder,
        lambda app: [a.expert_id for a in active_assignments(app.id) if a.scores is None],
        due=expert_review_due(app).isoformat(),
    )
