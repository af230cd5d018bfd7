"""Faults that lose nothing: the database connection killed in the middle of a transition."""

from __future__ import annotations

import io
import subprocess
import threading

import pytest
from sqlalchemy import create_engine, func, select, text

from kxflow.core.db import db
from kxflow.notifications.models import Notification
from kxflow.workflow import audit as audit_trail
from kxflow.workflow.models import Attachment, AuditRecord
from tests.dbutil import PG_ADMIN_URL
from tests.files import PDF, pdf
from tests.web_support import Browser


@pytest.mark.pg_only
def test_a_connection_killed_mid_transition_leaves_nothing_half_written(world, app, monkeypatch):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"))
    inside, go_on, backend = threading.Event(), threading.Event(), {}
    real_move = audit_trail.record_move

    def move_then_wait(*args, **kwargs):  # the state has moved, its audit row and notifications are written
        written = real_move(*args, **kwargs)
        backend["pid"] = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        inside.set()
        go_on.wait(10)
        return written

    monkeypatch.setattr(audit_trail, "record_move", move_then_wait)
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
    monkeypatch.setattr(audit_trail, "record_move", real_move)
    retry = world.fire(app_id, "county_approve", "zj_leader", comment="同意")  # the same request, again
    assert retry.status_code == 200, retry.json
    assert world.db_application(app_id).state == "province_review"
    with app.app_context():
        assert db.session.scalar(audit) == 2
        assert db.session.scalar(told) > notified_before


@pytest.fixture
def tiny_disk(tmp_path, app, monkeypatch):
    """A real file system with 64 KiB of room (tmpfs; the tests run as root), as the upload folder."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], check=True)
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(folder))
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_during_an_upload_stores_nothing_and_says_so(world, app, tiny_disk):
    app_id = world.new_application(complete=False)
    # a real PDF with a long string in it: more than the disk holds
    big = pdf(b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>", b"(" + b"x" * (96 * 1024) + b")")
    r = world.upload(app_id, "self_assessment_report", data=big, name="自评报告.pdf")
    assert r.status_code == 507, r.json
    assert r.json["error"] == "服务器存储空间已满，文件“自评报告.pdf”未保存。"
    assert list(tiny_disk.iterdir()) == []  # not half a file
    assert world.db_count(Attachment, Attachment.application_id == app_id) == 0
    # the clerk on the web is told on the form, and can go on once there is room
    page = Browser(app, "zj_staff")
    r = page.post_form(
        f"/applications/{app_id}/attachments",
        {"kind": "self_assessment_report", "file": (io.BytesIO(big), "自评报告.pdf")},
        page=f"/applications/{app_id}/edit",
        follow_redirects=True,
    )
    assert "服务器存储空间已满，文件“自评报告.pdf”未保存。" in r.data.decode()
    assert world.upload(app_id, "self_assessment_report", data=PDF).status_code == 201
