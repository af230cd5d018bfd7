"""The inspections' reminders: 7 and 1 days before to county and team; after the date, daily to the ministry.

They are registered with the reminder scan like every kind, and a user's upcoming reminders
include those of the inspections they may see.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.inspections.models import Inspection
from kxflow.inspections.operations import inspection_due, next_workday, overdue_row, visible
from kxflow.notifications.operations import active_ids, notify_users
from kxflow.reminders.models import Reminder
from kxflow.reminders.operations import EXTRA_VISIBLE, deliver, reminder_kind, stage_due
from kxflow.workflow.models import Application
from kxflow.workflow.states import State


def _reaches(user: User, reminder: Reminder) -> bool:
    if reminder.kind == "inspection_soon":
        return user.role not in (Role.MINISTRY_STAFF, Role.PROVINCE_REVIEWER)
    return user.role == Role.MINISTRY_STAFF


def _of_my_inspections(user: User) -> ColumnElement[bool]:
    return Reminder.inspection_id.in_(select(Inspection.id).where(visible(user)))


EXTRA_VISIBLE.append(_of_my_inspections)


@reminder_kind("inspection_soon", "inspection_overdue", reaches=_reaches)
def send_reminder(reminder: Reminder) -> int:
    """A due inspection reminder: 7 and 1 days before to county and team; after the date, daily to the ministry."""
    inspection = db.session.get(Inspection, reminder.inspection_id)
    now = clock.now()
    if inspection.report_recorded_at is not None or inspection.cancelled_at is not None:
        reminder.cancelled_at = now
        return 0
    app = db.session.get(Application, inspection.application_id)
    params = {
        "county": app.county.name,
        "date": inspection.scheduled_on.isoformat(),
        "place": inspection.place,
        "offset_days": reminder.offset_days,
        "kind": inspection.kind,
    }
    if reminder.kind == "inspection_soon":
        county_users = db.session.scalars(
            select(User.id).where(User.county_code == app.county_code, User.role.in_(COUNTY_ROLES), User.active)
        ).all()
        recipients = list(dict.fromkeys([*county_users, *(m.user_id for m in inspection.members)]))
    else:
        recipients = active_ids(Role.MINISTRY_STAFF)
        next_day = next_workday(now.astimezone(CHINA).date())
        db.session.execute(insert(Reminder), [overdue_row(inspection, next_day)])  # the next working day again
    notify_users(
        recipients, application_id=app.id, event=reminder.kind, params=params, dedupe_prefix=f"reminder:{reminder.id}"
    )
    reminder.sent_at = now
    return len(recipients)


stage_due(State.SITE_INSPECTION)(inspection_due)  # the site-inspection stage is due on its inspection day


def _reaches_rectifying(user: User, reminder: Reminder) -> bool:
    if reminder.kind == "rectification_passed":
        return user.role in (*COUNTY_ROLES, Role.MINISTRY_STAFF)
    return user.role in COUNTY_ROLES


@reminder_kind("rectification_due", "rectification_passed", reaches=_reaches_rectifying)
def rectification_reminder(reminder: Reminder) -> int:
    """30, 7 and 1 working days before the rectification deadline to the county; when it passes, to the county
    and the ministry (who schedules the re-check or revokes)."""

    def recipients(app: Application) -> list[int]:
        county = db.session.scalars(
            select(User.id).where(User.county_code == app.county_code, User.role.in_(COUNTY_ROLES), User.active)
        ).all()
        ministry = active_ids(Role.MINISTRY_STAFF) if reminder.kind == "rectification_passed" else []
        return list(dict.fromkeys([*county, *ministry]))

    app = db.session.get(Application, reminder.application_id)
    return deliver(reminder, recipients, due=app.rectification_due.isoformat() if app.rectification_due else None)
