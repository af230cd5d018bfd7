"""The province's recommendation quota in sight: used and left, where a province reviewer decides.

Asks ``calls.operations.quota_use`` (the one computation, also behind the quota guard and the ministry's
call page); this module only says which calls a reviewer is deciding in.
"""

from __future__ import annotations

from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.calls.models import Call
from kxflow.calls.operations import QuotaUse, quota_use
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.workflow.models import Application
from kxflow.workflow.states import State


def _reviewer_province(user: User) -> str | None:
    return user.province_code if user.role == Role.PROVINCE_REVIEWER else None


def in_sight(user: User) -> list[tuple[Call, QuotaUse]]:
    """For a province reviewer: each call they are deciding in (open to the province, or with applications of
    the province waiting at province review), with the province's quota use; nothing for other roles."""
    province = _reviewer_province(user)
    if province is None:
        return []
    now = clock.now()
    waiting = select(Application.call_id).where(
        Application.province_code == province, Application.state == State.PROVINCE_REVIEW
    )
    calls = db.session.scalars(
        select(Call)
        .where((Call.id.in_(waiting)) | ((Call.opens_at <= now) & (Call.province_deadline >= now)))
        .order_by(Call.opens_at.desc(), Call.id.desc())
    )
    return [(call, quota_use(call, province)) for call in calls]


def for_application(user: User, app: Application) -> QuotaUse | None:
    """The quota use of the application's call, for a reviewer of its province."""
    if _reviewer_province(user) != app.province_code:
        return None
    return quota_use(app.call, app.province_code)


def for_applications(user: User, apps: list[Application]) -> list[tuple[Call, QuotaUse]]:
    """The quota use of each call among the applications, for a reviewer of their province."""
    province = _reviewer_province(user)
    if province is None:
        return []
    calls = {a.call_id: a.call for a in apps if a.province_code == province}
    return [(call, quota_use(call, province)) for call in calls.values()]
