"""Bad input gets a clear 4xx naming the field and the problem, in Chinese, and nothing is written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.workflow.models import Application, Attachment, AuditRecord
from tests.files import EXE, PDF, PNG


def test_malformed_json(world):
    app_id = world.new_application(complete=False)
    r = world.api(
        "patch", f"/api/v1/applications/{app_id}", "zj_staff", data="{indicators:", content_type="application/json"
    )
    assert r.status_code == 400
    assert r.json["fields"] == {"_body": ["请求体不是有效的 JSON。"]}
    assert world.db_application(app_id).indicators == {}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"fiscal_st_spending_y1": -5}, "indicators.fiscal_st_spending_y1", "不能为负数。"),
        ({"fiscal_st_spending_y1": "很多"}, "indicators.fiscal_st_spending_y1", "须为数字。"),
        ({"fiscal_st_spending_y1": True}, "indicators.fiscal_st_spending_y1", "须为数字。"),
        ({"st_commissioners": 3.5}, "indicators.st_commissioners", "须为整数。"),
        ({"info_service_12396_coverage": 120}, "indicators.info_service_12396_coverage", "不能大于 100。"),
        ({"leadership_group_top_leader": "是"}, "indicators.leadership_group_top_leader", "须为“是”或“否”。"),
        (
            {"latest_assessment_result": "优"},
            "indicators.latest_assessment_result",
            "须为以下之一：先进、通过、未通过、未参加。",
        ),
        ({"county_gdp": 1}, "indicators.county_gdp", "未知指标。"),
        ({"st_share_y3": 2.0}, "indicators.st_share_y3", "该项为自动计算值，不能填写。"),
        (
            {"fiscal_st_spending_y3": 300000, "general_budget_expenditure_y3": 290000},
            "indicators.fiscal_st_spending_y3",
            "科技支出不能超过一般预算支出（占比超过 100%）。",
        ),
    ],
)
def test_indicator_values(world, values, field, message):
    app_id = world.new_application(complete=False)
    before = world.db_application(app_id)
    r = world.api(
        "patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": {"incubators": 2, **values}}
    )
    assert r.status_code == 422
    assert r.json["fields"][field] == [message]
    after = world.db_application(app_id)
    assert after.indicators == {} and after.version == before.version  # not even the valid value


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"indicators": ["此项为必填项。"]}),
        ({"indicators": [1, 2]}, {"indicators": ["须为对象。"]}),
        ({"indicators": {}, "state": "designated"}, {"state": ["未知字段。"]}),
        ([1], {"_body": ["请求体须为 JSON 对象。"]}),
    ],
)
def test_wrong_shapes(world, body, fields):
    app_id = world.new_application(complete=False)
    r = world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json=body)
    assert r.status_code == 422 and r.json["fields"] == fields


def test_unknown_trigger_and_missing_trigger(world):
    app_id = world.new_application()
    r = world.fire(app_id, "approve_everything", "zj_staff")
    assert r.status_code == 422 and r.json["fields"] == {"trigger": ["未知操作：approve_everything。"]}
    r = world.api("post", f"/api/v1/applications/{app_id}/transitions", "zj_staff", json={"comment": "x"})
    assert r.status_code == 422 and r.json["fields"] == {"trigger": ["此项为必填项。"]}
    assert world.db_count(AuditRecord) == 0


def test_stale_version_is_refused(world):
    app_id = world.new_application()
    version = world.db_application(app_id).version
    world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": {"incubators": 5}})
    r = world.fire(app_id, "submit", "zj_staff", version=version)
    assert r.status_code == 409 and r.json["error"] == "他人已先行处理，请刷新后重试。"
    assert world.db_application(app_id).state == "draft"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (EXE, "自评报告.pdf", "仅接受 PDF、DOCX、XLSX、JPG、PNG 文件（按文件内容识别）。"),
        (
            b"<html><script>alert(1)</script></html>",
            "report.pdf",
            "仅接受 PDF、DOCX、XLSX、JPG、PNG 文件（按文件内容识别）。",
        ),
        (PNG, "report.pdf", "文件内容（PNG）与文件扩展名不符。"),
        (PDF, "report.exe", "文件内容（PDF）与文件扩展名不符。"),
        (b"", "empty.pdf", "文件为空。"),
        (b"PK\x03\x04not really a zip", "表.xlsx", "仅接受 PDF、DOCX、XLSX、JPG、PNG 文件（按文件内容识别）。"),
    ],
)
def test_disguised_or_empty_uploads(world, data, name, message):
    app_id = world.new_application(complete=False)
    r = world.upload(app_id, "self_assessment_report", data, name)
    assert r.status_code == 422 and r.json["fields"] == {"file": [message]}
    assert world.db_count(Attachment) == 0


def test_oversize_upload(world):
    app_id = world.new_application(complete=False)
    big = PDF + b"0" * (1024 * 1024)  # over the 1 MiB limit set for tests, under the request limit
    r = world.upload(app_id, "self_assessment_report", big, "big.pdf")
    assert r.status_code == 422 and r.json["fields"]["file"] == ["文件超过 1 MB。"]
    huge = PDF + b"0" * (3 * 1024 * 1024)  # over the whole-request limit: refused before reading
    r = world.upload(app_id, "self_assessment_report", huge, "huge.pdf")
    assert r.status_code == 413 and r.json["error"] == "上传内容过大。"
    assert world.db_count(Attachment) == 0


def test_unknown_attachment_kind_and_missing_file(world):
    app_id = world.new_application(complete=False)
    r = world.upload(app_id, "photos_of_the_leader", PDF, "a.pdf")
    assert r.status_code == 422 and "未知的附件类别" in r.json["fields"]["kind"][0]
    r = world.api("post", f"/api/v1/applications/{app_id}/attachments", "zj_staff", data={"kind": "other"})
    assert r.status_code == 422 and r.json["fields"] == {"file": ["此项为必填项。"]}


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "..\\..\\boot.ini.pdf", "/abs/path/证明.pdf", "\x00\x1f.pdf"])
def test_path_tricks_in_file_names_are_only_labels(world, app, name):
    app_id = world.new_application(complete=False)
    r = world.upload(app_id, "self_assessment_report", PDF, name)
    if r.status_code == 422:
        assert r.json["fields"]["file"]  # nothing usable left of the name
        return
    assert r.status_code == 201
    assert "/" not in r.json["original_name"] and "\\" not in r.json["original_name"]
    assert not r.json["original_name"].startswith(".")
    with app.app_context():
        from kxflow.core.db import db

        row = db.session.get(Attachment, r.json["id"])
        assert row.stored_name.endswith(".pdf") and len(row.stored_name) == 36
    download = world.api("get", f"/api/v1/applications/{app_id}/attachments/{r.json['id']}", "zj_staff")
    assert download.status_code == 200 and download.data == PDF


@pytest.mark.parametrize(
    ("token", "why"),
    [("", "missing"), ("not-a-token", "forged"), ("expired", "expired"), ("revoked", "revoked")],
)
def test_bad_tokens_get_401(world, token, why):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if why == "expired":
        headers = world.headers("zj_staff")
        world.travel(clock.now() + timedelta(hours=13))
    elif why == "revoked":
        headers = world.headers("zj_staff")
        assert world.client.delete("/api/v1/tokens/current", headers=headers).status_code == 204
    r = world.client.get("/api/v1/applications", headers=headers)
    assert r.status_code == 401 and r.json["error"] == "请先登录：令牌缺失、已过期或无效。"


def test_wrong_password(world):
    r = world.client.post("/api/v1/tokens", json={"username": "zj_staff", "password": "wrong"})
    assert r.status_code == 401 and r.json["error"] == "用户名或密码错误，或账号已停用。"
    r = world.client.post("/api/v1/tokens", json={"username": "zj_staff"})
    assert r.status_code == 422 and r.json["fields"] == {"password": ["此项为必填项。"]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"province_quota": -1}, "province_quota"),
        ({"county_deadline": "2020-01-01T00:00:00+08:00"}, "county_deadline"),
        ({"division_types": ["开发区"]}, "division_types.0"),
        ({"score_threshold": 101}, "score_threshold"),
        ({"quota_overrides": {"330000": -2}}, "quota_overrides.330000.value"),
        ({"quota_overrides": {"999999": 2}}, "quota_overrides.999999"),
        ({"indicator_set_version": "1999.9"}, "indicator_set_version"),
        ({"opens_at": "next tuesday"}, "opens_at"),
    ],
)
def test_bad_calls_write_nothing(world, change, field):
    good = {
        "title": "新批次",
        "year": 2027,
        "opens_at": "2027-01-01T00:00:00+08:00",
        "county_deadline": "2027-03-01T00:00:00+08:00",
        "province_deadline": "2027-04-01T00:00:00+08:00",
        "province_quota": 3,
    }
    r = world.api("post", "/api/v1/calls", "ministry", json={**good, **change})
    assert r.status_code == 422, r.json
    assert field in r.json["fields"], r.json["fields"]
    assert world.db_count(Call) == 1
    assert world.db_count(Application) == 0


def test_a_form_field_whose_name_cannot_be_read_is_refused_not_a_500(world):
    """Found by schemathesis: a multipart field whose name ends in a backslash (so its closing quote is escaped)
    has no name at all, and reached the NUL check as None."""
    body = b'--b\r\nContent-Disposition: form-data; name="kind\\"\r\n\r\n{}\r\n--b--\r\n'
    r = world.api(
        "post",
        "/api/v1/public/notices/1/objections",
        data=body,
        content_type="multipart/form-data; boundary=b",
    )
    assert r.status_code == 422, r.json
    assert r.json["fields"] == {"_body": ["表单中有字段名称无法识别。"]}
