"""The public notice: the window on a controlled clock, the public list (nothing confidential),
objection intake (every bad input refused, nothing stored), objections blocking designation."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from kxflow.core import clock
from kxflow.publicity.models import Objection
from tests.files import PDF

PERSON = {"kind": "person", "text": "该县科技特派员人数与实际不符。", "person_name": "张三", "contact": "13800000000"}


def challenge(world, app_id) -> str:
    r = world.api("get", f"/api/v1/public/notices/{app_id}/challenge")
    return r.json["challenge"] if r.status_code == 200 else "none"


def lodge(world, app_id, form, scan=None, **kwargs):
    """Lodges an objection the way a client does: fetch the challenge, send it with the form."""
    data = {"challenge": challenge(world, app_id), **form}
    if scan is not None:
        data["scan"] = (io.BytesIO(scan[1]), scan[0])
    return world.api(
        "post", f"/api/v1/public/notices/{app_id}/objections", data=data, content_type="multipart/form-data", **kwargs
    )


@pytest.fixture
def noticed(world):
    app_id = world.new_application()
    world.to_publicity(app_id)
    return app_id


def test_the_window_opens_on_pass_and_designation_waits_for_its_end(world, noticed):
    app = world.api("get", f"/api/v1/applications/{noticed}", "ministry").json
    assert app["state"] == "publicity"
    row = world.db_application(noticed)
    ends = row.publicity_ends_at
    assert ends == row.state_changed_at + timedelta(days=7)  # the call's default window
    r = world.fire(noticed, "designate", "ministry")
    assert r.status_code == 422 and r.json["reasons"][0].startswith("公示期至")
    world.travel(ends - timedelta(seconds=1))
    assert world.fire(noticed, "designate", "ministry").status_code == 422
    world.travel(ends + timedelta(seconds=1))
    r = world.fire(noticed, "designate", "ministry")
    assert r.status_code == 200 and r.json["state"] == "designated"
    assert world.db_application(noticed).designated_at == ends + timedelta(seconds=1)


def test_a_call_sets_its_own_window(app, client):
    from tests.factories import build_world

    world = build_world(app, client, publicity_days=10)
    app_id = world.new_application()
    world.to_publicity(app_id)
    row = world.db_application(app_id)
    assert row.publicity_ends_at == row.state_changed_at + timedelta(days=10)


def test_the_public_list_needs_no_login_and_shows_nothing_confidential(world, noticed):
    r = world.api("get", "/api/v1/public/notices")
    assert r.status_code == 200
    assert len(r.json) == 1
    assert set(r.json[0]) == {"application_id", "county", "province", "call", "starts_at", "ends_at"}
    assert r.json[0]["county"] == "安吉县" and r.json[0]["province"] == "浙江省"
    page = world.client.get("/public/notices")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "安吉县" in html and "异议" in html
    assert "score" not in html.lower() and "90.1" not in html


def test_objection_intake_refuses_bad_input_and_stores_nothing(world, noticed, app, monkeypatch):
    cases = [
        (
            {"kind": "person", "text": " ", "person_name": "", "contact": "不详"},
            None,
            {"text", "person_name", "contact"},
        ),
        ({"kind": "unit", "text": "材料不实", "unit_name": "某某协会"}, None, {"scan"}),
        ({"kind": "unit", "text": "材料不实", "unit_name": "某某协会"}, ("公函.pdf", b"just text"), {"scan"}),
        ({"kind": "unit", "text": "材料不实", "unit_name": ""}, ("公函.png", PDF), {"unit_name", "scan"}),
        ({"kind": "anonymous", "text": "x"}, None, {"kind"}),
        ({"text": "x"}, None, {"kind"}),
    ]
    for form, scan, fields in cases:
        r = lodge(world, noticed, form, scan)
        assert r.status_code == 422, (form, r.json)
        assert set(r.json["fields"]) == fields, (form, r.json)
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 1024 * 1024)
    big = PDF + b"0" * (1024 * 1024)
    r = lodge(world, noticed, {"kind": "unit", "text": "材料不实", "unit_name": "某协会"}, ("公函.pdf", big))
    assert r.status_code == 422 and r.json["fields"] == {"scan": ["文件超过 1 MB。"]}
    assert world.db_count(Objection) == 0
    # only applications under notice take objections
    draft = world.new_application("zj2_staff")
    assert lodge(world, draft, PERSON).status_code == 404


def test_objections_are_rate_limited(world, noticed, app, monkeypatch):
    monkeypatch.setitem(app.config, "OBJECTION_RATE_LIMIT", "2 per minute")
    assert lodge(world, noticed, PERSON).status_code == 201
    assert lodge(world, noticed, PERSON).status_code == 201
    r = lodge(world, noticed, PERSON)
    assert r.status_code == 429 and r.is_json
    assert world.db_count(Objection) == 2


def test_an_open_objection_blocks_designation_until_resolved(world, noticed):
    r = lodge(world, noticed, {"kind": "unit", "text": "数据不实", "unit_name": "某县科学技术协会"}, ("公函.pdf", PDF))
    assert r.status_code == 201
    objection_id = r.json["id"]
    world.travel(clock.now() + timedelta(days=8))
    r = world.fire(noticed, "designate", "ministry")
    assert r.status_code == 422 and r.json["reasons"] == ["尚有 1 件异议未处理，请逐一处理后再命名。"]
    # the ministry reads it (with the scan); the county and the province may not
    listed = world.api("get", f"/api/v1/applications/{noticed}/objections", "ministry").json
    assert listed[0]["unit_name"] == "某县科学技术协会" and listed[0]["status"] == "open"
    assert world.api("get", f"/api/v1/objections/{objection_id}/scan", "ministry").data == PDF
    for user in ("zj_staff", "zj_reviewer"):
        assert world.api("get", f"/api/v1/applications/{noticed}/objections", user).status_code == 403
    r = world.api(
        "post", f"/api/v1/objections/{objection_id}/resolve", "ministry", json={"upheld": False, "reason": ""}
    )
    assert r.status_code == 422
    r = world.api(
        "post",
        f"/api/v1/objections/{objection_id}/resolve",
        "ministry",
        json={"upheld": False, "reason": "经核实数据无误"},
    )
    assert r.status_code == 200 and r.json["status"] == "dismissed"
    assert world.fire(noticed, "designate", "ministry").status_code == 200


def test_an_upheld_objection_rejects_without_naming_the_objector(world, noticed):
    objection_id = lodge(world, noticed, PERSON).json["id"]
    assert world.fire(noticed, "uphold_objection", "ministry", comment="x").json["reasons"] == ["没有成立的异议。"]
    r = world.api(
        "post",
        f"/api/v1/objections/{objection_id}/resolve",
        "ministry",
        json={"upheld": True, "reason": "经核实，科技特派员人数虚报。"},
    )
    assert r.status_code == 200 and r.json["status"] == "upheld"
    app = world.api("get", f"/api/v1/applications/{noticed}", "zj_staff").json
    assert app["state"] == "rejected"
    history = world.api("get", f"/api/v1/applications/{noticed}/history", "zj_staff").json
    assert history[-1]["trigger"] == "uphold_objection" and history[-1]["comment"] == "经核实，科技特派员人数虚报。"
    seen_by_county = str(world.api("get", "/api/v1/notifications", "zj_staff").json) + str(history)
    assert "张三" not in seen_by_county and "13800000000" not in seen_by_county
    # the window has not ended, but no further objection can be lodged once rejected
    assert lodge(world, noticed, PERSON).status_code == 404


def test_the_ministry_is_prompted_when_the_notice_ends(world, noticed, app):
    from kxflow.core.db import db
    from kxflow.notifications.models import Notification
    from kxflow.reminders.operations import scan_due

    ends = world.db_application(noticed).publicity_ends_at

    def prompts():
        return world.db_count(Notification, Notification.event == "publicity_end")

    for moment in (ends - timedelta(minutes=1), ends + timedelta(minutes=1), ends + timedelta(minutes=2)):
        world.travel(moment)
        with app.app_context():
            scan_due()
            db.session.remove()
    assert prompts() == 1  # once, to the one ministry user, however often the scan runs
    message = world.api("get", "/api/v1/notifications", "ministry").json["items"][0]["message"]
    assert message == "安吉县：公示期已满，请办理命名或作出决定。"


def test_the_database_refuses_an_unstamped_unit_or_an_anonymous_person(world, noticed, app):
    from sqlalchemy.exc import IntegrityError

    from kxflow.core.db import db

    with app.app_context():
        for row in (
            Objection(application_id=noticed, kind="unit", unit_name="某协会", text="x"),
            Objection(application_id=noticed, kind="person", person_name="张三", text="x"),
            Objection(
                application_id=noticed, kind="person", person_name="张三", contact="1", text="x", status="upheld"
            ),
        ):
            db.session.add(row)
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()
