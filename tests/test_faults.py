"""Faults that lose nothing: the database connection killed in the middle of a transition."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, func, select, text

from kxflow.applications import operations
from kxflow.core.db import db
from kxflow.notifications.models import Notification
from kxflow.workflow.models import AuditRecord
from tests.dbutil import PG_ADMIN_URL


@pytest.mark.pg_only
def test_a_connection_killed_mid_transition_leaves_nothing_half_written(world, app, monkeypatch):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"))
    inside, go_on, backend = threading.Event(), threading.Event(), {}
    real_notify = operations.notify_transition

    def notify_then_wait(application, audit):  # the state has moved and the audit row is flushed
        backend["pid"] = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        inside.set()
        go_on.wait(10)
        real_notify(application, audit)

    monkeypatch.setattr(operations, "notify_transition", notify_then_wait)
    answers = []
    request = threading.Thread(
        target=lambda: answers.append(world.fire(app_id, "county_approve", "zj_leader", comment="同意"))
    )
    request.start()
    assert inside.wait(10)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend["pid"]}).scalar()
    admin.dispose()
    go_on.set()
    request.join(20)
    response = answers[0]
    assert response.status_code == 503, response.json
    assert response.json["code"] == "unavailable" and "未保存" in response.json["error"]
    # nothing of the transition stayed: the state, the audit row, the notifications
    assert world.db_application(app_id).state == "county_review"
    with app.app_context():
        audit = select(func.count(AuditRecord.id)).where(AuditRecord.application_id == app_id)
        assert db.session.scalar(audit) == 1  # the submission only
        told = select(func.count(Notification.id)).where(Notification.application_id == app_id)
        notified_before = db.session.scalar(told)
    monkeypatch.setattr(operations, "notify_transition", real_notify)
    retry = world.fire(app_id, "county_approve", "zj_leader", comment="同意")  # the same request, again
    assert retry.status_code == 200, retry.json
    assert world.db_application(app_id).state == "province_review"
    with app.app_context():
        assert db.session.scalar(audit) == 2
        assert db.session.scalar(told) > notified_before
