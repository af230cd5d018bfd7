"""Authorization: each role × each endpoint × own / foreign scope.

Outside the scope an application does not exist (404, whatever is asked); inside it, a role
that may not do the thing gets 403; nothing is written either way.
"""

from __future__ import annotations

import pytest

from kxflow.workflow.models import Attachment, AuditRecord
from tests.files import PDF

# who sees 安吉县's draft (county 330523, province 330000): the county only — the province and the
# ministry see an application once it has been sent to them (test_scope_above covers that)
SEES = {"zj_staff", "zj_leader"}
BLIND = {
    "zj_reviewer",
    "ministry",
    "zj2_staff",
    "zj2_leader",
    "sc_reviewer",
    "sc_staff",
    "sc_leader",
    "admin",
    "expert",
    "district_staff",
}
EVERYONE = sorted(SEES | BLIND)


@pytest.fixture
def target(world):
    app_id = world.new_application("zj_staff")
    with world.app.app_context():
        from sqlalchemy import select

        from kxflow.core.db import db

        attachment_id = db.session.scalar(select(Attachment.id).where(Attachment.application_id == app_id))
    return world, app_id, attachment_id


@pytest.mark.parametrize("user", EVERYONE)
def test_reading(target, user):
    world, app_id, attachment_id = target
    expected = 200 if user in SEES else 404
    for path in (
        f"/api/v1/applications/{app_id}",
        f"/api/v1/applications/{app_id}/history",
        f"/api/v1/applications/{app_id}/attachments",
        f"/api/v1/applications/{app_id}/attachments/{attachment_id}",
    ):
        r = world.api("get", path, user)
        assert r.status_code == expected, (path, r.status_code)
        if expected == 404:
            assert r.json == {"error": "未找到。", "code": "not_found", "status": 404}


@pytest.mark.parametrize("user", EVERYONE)
def test_editing_indicators(target, user):
    world, app_id, _ = target
    expected = 200 if user == "zj_staff" else 403 if user in SEES else 404
    r = world.api("patch", f"/api/v1/applications/{app_id}", user, json={"indicators": {"st_commissioners": 99}})
    assert r.status_code == expected
    assert (world.db_application(app_id).indicators["st_commissioners"] == 99) is (expected == 200)


@pytest.mark.parametrize("user", EVERYONE)
def test_uploading(target, user):
    world, app_id, _ = target
    expected = 201 if user == "zj_staff" else 403 if user in SEES else 404
    before = world.db_count(Attachment)
    r = world.upload(app_id, "other", PDF, "其他.pdf", user=user)
    assert r.status_code == expected
    assert world.db_count(Attachment) == before + (1 if expected == 201 else 0)


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize("trigger", ["submit", "county_approve", "province_recommend", "ministry_accept", "bogus"])
def test_firing_out_of_scope_is_404_whatever_the_trigger(target, user, trigger):
    world, app_id, _ = target
    r = world.fire(app_id, trigger, user, comment="x")
    if user in BLIND:
        assert r.status_code == 404
    elif trigger == "bogus":
        assert r.status_code == 422 and "trigger" in r.json["fields"]
    elif trigger == "submit":
        assert r.status_code == (200 if user == "zj_staff" else 403)
    else:
        # in scope, state draft: a role that may never fire it → 403; the right role → 409 (wrong state)
        right_role = {"county_approve": "zj_leader"}
        assert r.status_code == (409 if right_role.get(trigger) == user else 403)
    if not (user == "zj_staff" and trigger == "submit"):
        assert world.db_count(AuditRecord) == 0


@pytest.mark.parametrize("user", EVERYONE)
def test_listing_shows_only_the_scope(world, user):
    anji = world.new_application("zj_staff")
    world.to_ministry(anji)  # sent up: the province and the ministry see it
    deqing = world.new_application("zj2_staff", complete=False)
    dayi = world.new_application("sc_staff", complete=False)
    r = world.api("get", "/api/v1/applications", user)
    assert r.status_code == 200
    ids = {item["id"] for item in r.json["items"]}
    expected = {
        "zj_staff": {anji},
        "zj_leader": {anji},
        "zj2_staff": {deqing},
        "zj2_leader": {deqing},
        "zj_reviewer": {anji},  # not 德清's draft: never sent
        "sc_reviewer": set(),
        "sc_staff": {dayi},
        "sc_leader": {dayi},
        "ministry": {anji},
    }.get(user, set())
    assert ids == expected and r.json["total"] == len(expected)


def test_list_filters_and_pages(world):
    anji = world.new_application("zj_staff")
    deqing = world.new_application("zj2_staff")
    dayi = world.new_application("sc_staff")
    for app_id, county in ((anji, "zj"), (deqing, "zj2"), (dayi, "sc")):
        world.walk(app_id, ("submit", f"{county}_staff"), ("county_approve", f"{county}_leader"))
        world.walk(app_id, ("province_recommend", "sc_reviewer" if county == "sc" else "zj_reviewer"))
    world.fire(anji, "ministry_return", "ministry", comment="推荐函缺盖章")
    get = lambda q: world.api("get", f"/api/v1/applications?{q}", "ministry").json  # noqa: E731
    assert [i["id"] for i in get("state=province_review")["items"]] == [anji]  # returned, still seen
    assert {i["id"] for i in get("province=330000")["items"]} == {anji, deqing}
    assert [i["id"] for i in get("county=330521")["items"]] == [deqing]
    page = get("per_page=2&page=2")
    assert page["total"] == 3 and len(page["items"]) == 1 and page["page"] == 2
    r = world.api("get", "/api/v1/applications?state=nonsense&per_page=500", "ministry")
    assert r.status_code == 422 and set(r.json["fields"]) == {"state", "per_page"}


@pytest.mark.parametrize("user", EVERYONE)
def test_only_county_staff_open_applications(world, user):
    r = world.api("post", "/api/v1/applications", user, json={"call_id": world.call_id})
    expected = 201 if user in {"zj_staff", "zj2_staff", "sc_staff"} else 422 if user == "district_staff" else 403
    assert r.status_code == expected, r.json


@pytest.mark.parametrize("user", EVERYONE)
def test_only_ministry_manages_calls(world, user):
    assert world.api("get", "/api/v1/calls", user).status_code == 200
    r = world.api("patch", f"/api/v1/calls/{world.call_id}", user, json={"province_quota": 9})
    assert r.status_code == (200 if user == "ministry" else 403)


def test_no_token_no_entry(world):
    app_id = world.new_application()
    for method, path in [
        ("get", "/api/v1/applications"),
        ("get", f"/api/v1/applications/{app_id}"),
        ("post", f"/api/v1/applications/{app_id}/transitions"),
        ("get", "/api/v1/calls"),
        ("get", "/api/v1/notifications"),
    ]:
        r = world.api(method, path, json={"trigger": "submit"} if method == "post" else None)
        assert r.status_code == 401 and r.json["code"] == "unauthorized"
