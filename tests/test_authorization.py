"""Authorization: each role × each endpoint × own / foreign scope.

Outside the scope an application does not exist (404, whatever is asked); inside it, a role
that may not do the thing gets 403; nothing is written either way.
"""

from __future__ import annotations

import io

import pytest

from kxflow.workflow.models import Attachment, AuditRecord
from tests.files import PDF
from tests.web_support import csrf_token

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


# --- every route, walked by users of another county, another province, and an expert not on the panel ----------

NOWHERE = 2**31 - 1  # an id that exists nowhere (the largest the database holds)
UNSCOPED = (
    "/public/",
    "/api/v1/public/",
    "/static/",
    "/assets/",
    "/api/v1/calls/<int:call_id>",
    "/calls/<int:call_id>",  # a call's page: its dates for all; the quota figures each may see
    "/calls/<int:call_id>/papers/",  # a call is open to all; its lists hold only the reader's counties
    "/statistics/export/calls/<int:call_id>.xlsx",  # likewise: a call's results hold only the reader's counties
)  # open to all by design
UNCHANGING = {"security_events", "user_sessions", "api_tokens", "login_throttle", "scheduler_locks"}


@pytest.fixture
def stage(world):
    """安吉县's application under public notice: panel, scores, an inspection report with a file, an objection with
    a scan, notifications, the clerk's session and token — one row of every kind a route can name."""
    from kxflow.experts.models import Assignment
    from kxflow.inspections.models import Inspection, InspectionFile
    from kxflow.notifications.models import Notification
    from kxflow.publicity.models import Objection
    from tests.test_publicity import lodge
    from tests.web_support import Browser

    app_id = world.new_application("zj_staff")
    world.to_expert_review(app_id)
    world.score_panel(app_id)
    inspection = world.set_inspection(app_id)
    world.walk(app_id, ("schedule_inspection", "ministry"))
    world.to_inspection_day(inspection)
    r = world.api(
        "post",
        f"/api/v1/inspections/{inspection}/report",
        "expert_bj",
        data={"findings": "属实", "recommendation": "pass", "files": [(io.BytesIO(PDF), "记录.pdf")]},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.json
    world.walk(app_id, ("pass_inspection", "ministry"))
    form = {"kind": "unit", "text": "材料不实。", "unit_name": "某协会"}
    assert lodge(world, app_id, form, scan=("公函.pdf", PDF)).status_code == 201
    Browser(world.app, "zj_staff")  # a live session of the clerk
    world.headers("zj_staff")  # and a token
    phrase = world.api("post", "/api/v1/phrases", "zj_staff", json={"text": "已核实。"}).json["id"]  # a saved phrase
    from sqlalchemy import select

    from kxflow.accounts.models import ApiToken, UserSession
    from kxflow.core.db import db

    with world.app.app_context():
        # a deputy arrangement of the clerk and a copy (抄送) to the clerk: rows the outsiders must not find
        from kxflow.core import clock
        from kxflow.notifications.copies import CarbonCopy
        from kxflow.workflow.holders import Deputy

        today = clock.now().date()
        deputy = Deputy(user_id=world.ids["zj_staff"], deputy_id=world.ids["zj_leader"], starts_on=today, ends_on=today)
        audit_id = db.session.scalar(select(AuditRecord.id).where(AuditRecord.application_id == app_id).limit(1))
        clerk, ministry = world.ids["zj_staff"], world.ids["ministry"]
        copy = CarbonCopy(application_id=app_id, audit_id=audit_id, sender_id=ministry, recipient_id=clerk)
        db.session.add_all([deputy, copy])
        db.session.commit()
        panel = db.session.scalars(select(Assignment).where(Assignment.application_id == app_id)).all()
        ids = {
            "application_id": app_id,
            "attachment_id": db.session.scalar(select(Attachment.id).where(Attachment.application_id == app_id)),
            "assignment_id": panel[0].id,
            "inspection_id": inspection,
            "file_id": db.session.scalar(select(InspectionFile.id)),
            "objection_id": db.session.scalar(select(Objection.id)),
            "notification_id": db.session.scalar(
                select(Notification.id).where(Notification.recipient_id == world.ids["zj_staff"])
            ),
            "session_id": db.session.scalar(select(UserSession.id).where(UserSession.user_id == world.ids["zj_staff"])),
            "token_id": db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == world.ids["zj_staff"])),
            "user_id": world.ids["zj_staff"],
            "expert_id": world.ids["expert_bj"],
            "call_id": world.call_id,
            "deputy_row_id": deputy.id,
            "copy_id": copy.id,
            "phrase_id": phrase,
            "audit_id": db.session.scalar(
                select(AuditRecord.id).where(AuditRecord.application_id == app_id, AuditRecord.trigger == "submit")
            ),
            "export_id": _export_of(world, "zj_reviewer"),
        }
        seated = {a.expert_id for a in panel}
        assert db.session.get(Inspection, inspection) is not None and all(ids.values()), ids
    outsider = next(
        name for name in ("expert_bj", "expert_js", "expert_hb", "expert_sc") if world.ids[name] not in seated
    )
    return ids, outsider


def _export_of(world, name: str) -> int:
    """A long export the province's reviewer asked for (a row only its owner may see)."""
    from kxflow.core import clock
    from kxflow.core.db import db
    from kxflow.papers.models import Export

    row = Export(user_id=world.ids[name], kind="applications_xlsx", filters={}, file_name="申报名单.xlsx")
    row.status, row.progress, row.rows, row.created_at = "queued", 0, 0, clock.now()
    db.session.add(row)
    db.session.commit()
    return row.id


def _fingerprint(app) -> dict:
    from sqlalchemy import text

    from kxflow.core.db import db

    with app.app_context():
        counts = {
            t: db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in db.metadata.tables
            if t not in UNCHANGING
        }
        counts["versions"] = db.session.execute(text("SELECT sum(version) FROM applications")).scalar()
        counts["objections"] = db.session.execute(text("SELECT min(status) FROM objections")).scalar()
        counts["read"] = db.session.execute(text("SELECT count(read_at) FROM notifications")).scalar()
        counts["must_change"] = db.session.execute(
            text("SELECT count(*) FROM users WHERE must_change_password")
        ).scalar()
        return counts


@pytest.mark.parametrize("who", ["another county", "another province", "another expert"])
def test_every_route_treats_another_scope_as_nowhere(world, app, stage, who):
    """For every route that names a row, a user of another county (德清县's clerk), another province (四川's
    reviewer) or an expert not on the panel gets exactly what they would get for an id that exists nowhere — the
    row's existence is not revealed, nothing is changed — and never a 2xx."""
    import re

    from tests.web_support import Browser

    ids, outsider = stage
    user = {"another county": "zj2_staff", "another province": "sc_reviewer", "another expert": outsider}[who]
    web = Browser(app, user)
    token = csrf_token(web.text("/settings"))
    before = _fingerprint(app)
    walked, differ = 0, []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.arguments or rule.rule.startswith(UNSCOPED) or rule.endpoint == "accounts.logout":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            real = re.sub(r"<(?:int:)?([a-z_]+)>", lambda m: str(ids[m.group(1)]), rule.rule)
            nowhere = re.sub(r"<(?:int:)?([a-z_]+)>", str(NOWHERE), rule.rule)
            answers = []
            for path in (real, nowhere):
                if path.startswith("/api/"):
                    r = world.api(method, path, user, json={} if method != "GET" else None)
                else:
                    r = web.client.open(path, method=method, data={"csrf_token": token}, headers=web.headers)
                answers.append(r.status_code)
            walked += 1
            if answers[0] != answers[1] or answers[0] < 300:
                differ.append((method, rule.rule, answers))
    assert walked > 40
    assert differ == []
    assert _fingerprint(app) == before
