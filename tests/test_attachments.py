"""Attachments: accepted by content, stored under generated names, downloaded only in scope."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kxflow.core.db import db
from kxflow.workflow.models import Attachment
from tests.files import JPG, PDF, PNG, ooxml, pdf, xlsx_from_openpyxl

PDF_V2 = pdf(b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>", b"<</Version 2>>")


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (PDF, "自评报告.pdf", "application/pdf"),
        (PNG, "证书.PNG", "image/png"),
        (JPG, "现场照片.jpeg", "image/jpeg"),
        (ooxml("docx"), "说明.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (xlsx_from_openpyxl(), "统计表.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_accepted_types_round_trip(world, app, data, name, mime):
    app_id = world.new_application(complete=False)
    r = world.upload(app_id, "other", data, name)
    assert r.status_code == 201, r.json
    assert r.json["content_type"] == mime and r.json["original_name"] == name
    assert r.json["sha256"] == hashlib.sha256(data).hexdigest() and r.json["size_bytes"] == len(data)
    with app.app_context():
        row = db.session.get(Attachment, r.json["id"])
        stored = Path(app.config["UPLOAD_FOLDER"]) / row.stored_name
        assert stored.read_bytes() == data
        assert name not in row.stored_name
        assert not str(stored.resolve()).startswith(str(Path(app.static_folder).resolve()))
    # the county's leader reads it (a draft is the county's until it is sent up)
    download = world.api("get", f"/api/v1/applications/{app_id}/attachments/{r.json['id']}", "zj_leader")
    assert download.status_code == 200 and download.data == data
    assert download.headers["Content-Type"].startswith(mime)
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_replacing_a_kind_keeps_the_old_file_on_record(world, app):
    app_id = world.new_application(complete=False)
    first = world.upload(app_id, "self_assessment_report", PDF, "v1.pdf").json
    second = world.upload(app_id, "self_assessment_report", PDF_V2, "v2.pdf").json
    listed = world.api("get", f"/api/v1/applications/{app_id}/attachments", "zj_staff").json
    assert [a["id"] for a in listed] == [second["id"]]
    with app.app_context():
        assert db.session.get(Attachment, first["id"]).superseded_at is not None


def test_attachments_only_change_in_draft(world):
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    r = world.upload(app_id, "other", PDF, "late.pdf")
    assert r.status_code == 409 and r.json["error"] == "只有草稿状态的申报可以修改。"
    r = world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": {"incubators": 9}})
    assert r.status_code == 409


def test_a_download_from_another_application_is_404(world):
    mine = world.new_application("zj_staff")
    other = world.new_application("zj2_staff", complete=False)
    theirs = world.upload(other, "other", PDF, "a.pdf", user="zj2_staff").json["id"]
    # the province reviewer sees both applications, but the attachment is not part of the first
    r = world.api("get", f"/api/v1/applications/{mine}/attachments/{theirs}", "zj_reviewer")
    assert r.status_code == 404
