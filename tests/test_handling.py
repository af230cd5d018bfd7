"""Work done by people (issue 11, parts 1–3): 认领, 转办, 委派, deputies, 抄送 — through the API and the pages.

A province's reviewers are one unit: a task at province review is theirs until one claims it; then only the
holder (their deputy while the deputy's range runs, or a lead) acts, and the others are refused with 409
naming the holder.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import event, select, update

from kxflow.accounts.models import User
from kxflow.accounts.operations import create_user
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.notifications.models import Notification
from kxflow.workflow.holders import Deputy, today
from kxflow.workflow.models import AuditRecord
from tests.factories import PASSWORD, World, bulk_ready_applications
from tests.test_concurrency import at_once
from tests.web_support import Browser


def add_user(world: World, name: str, role: str, *, county=None, province=None, lead=False, display=None) -> int:
    with world.app.app_context():
        user = create_user(
            username=name,
            password=PASSWORD,
            role=role,
            county_code=county,
            province_code=province,
            display_name=display or name,
        )
        user.is_lead = lead
        db.session.commit()
        world.ids[name] = user.id
        return user.id


def at_province(world: World) -> int:
    """An application waiting at 浙江's province review, with a second reviewer and a lead in the unit."""
    add_user(world, "zj_reviewer2", "province_reviewer", province="330000", display="王审核")
    add_user(world, "zj_lead", "province_reviewer", province="330000", lead=True, display="李处长")
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    return app_id


def act(world: World, app_id: int, what: str, user: str, **body):
    return world.api("post", f"/api/v1/applications/{app_id}/{what}", user, json=body)


def handler(world: World, app_id: int, user: str = "zj_reviewer") -> dict:
    r = world.api("get", f"/api/v1/applications/{app_id}/handler", user)
    assert r.status_code == 200, r.json
    return r.json


def received(world: World, event: str) -> list[str]:
    with world.app.app_context():
        rows = db.session.execute(
            select(User.username)
            .join(Notification, Notification.recipient_id == User.id)
            .where(Notification.event == event)
            .order_by(Notification.id)
        ).all()
        return [r[0] for r in rows]


def trail(world: World, app_id: int) -> list[AuditRecord]:
    with world.app.app_context():
        rows = db.session.scalars(
            select(AuditRecord).where(AuditRecord.application_id == app_id).order_by(AuditRecord.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


# --- 1. claim, transfer, delegate ------------------------------------------------------------------


def test_claimed_task_is_the_holders_alone_and_others_get_409_naming_them(world):
    app_id = at_province(world)
    assert handler(world, app_id)["handler"] == "浙江省 · 省科技厅审核人"
    r = world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer2")
    assert r.status_code == 200 and r.json["holder_id"] == world.ids["zj_reviewer2"]
    assert handler(world, app_id)["handler"] == "王审核"

    # a colleague of the unit reads it but may not act, nor claim it in turn
    assert world.api("get", f"/api/v1/applications/{app_id}", "zj_reviewer").json["handler"] == "王审核"
    refused = world.fire(app_id, "province_return", "zj_reviewer", comment="补充材料")
    assert refused.status_code == 409
    assert "王审核" in refused.json["error"] and refused.json["holder"] == "王审核"
    again = world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer")
    assert again.status_code == 409 and again.json["holder"] == "王审核"
    assert world.db_application(app_id).state == "province_review"

    # the county, which is not of the holding unit, may still give the application up (withdraw)
    # and the holder acts; the claim ends when the application leaves the level
    assert world.fire(app_id, "province_recommend", "zj_reviewer2").status_code == 200
    at_ministry = handler(world, app_id, "ministry")
    assert at_ministry["holder_id"] is None and at_ministry["handler"] == "科技部工作人员"
    assert [r.trigger for r in trail(world, app_id)][-2:] == ["claim", "province_recommend"]
    # claimed at the ministry and returned: back at province review it is the unit's again, claimed anew
    assert act(world, app_id, "claim", "ministry").status_code == 200
    world.walk(app_id, ("ministry_return", "ministry"))
    assert handler(world, app_id)["holder_id"] is None
    assert act(world, app_id, "claim", "zj_reviewer").json["holder_id"] == world.ids["zj_reviewer"]


def test_unclaimed_task_is_open_to_the_whole_unit(world):
    app_id = at_province(world)
    assert world.fire(app_id, "province_recommend", "zj_reviewer2").status_code == 200


def test_transfer_to_a_colleague_of_the_unit_with_a_reason(world):
    app_id = at_province(world)
    world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer")
    before = len(trail(world, app_id))

    outside = {"to_user_id": world.ids["sc_reviewer"], "reason": "出差"}  # another province's reviewer
    r = world.api("post", f"/api/v1/applications/{app_id}/transfer", "zj_reviewer", json=outside)
    assert r.status_code == 422 and "to_user_id" in r.json["fields"]
    other_role = {"to_user_id": world.ids["zj_leader"], "reason": "出差"}  # of the county, not the unit
    assert (
        world.api("post", f"/api/v1/applications/{app_id}/transfer", "zj_reviewer", json=other_role).status_code == 422
    )
    no_reason = {"to_user_id": world.ids["zj_reviewer2"], "reason": "  "}
    r = world.api("post", f"/api/v1/applications/{app_id}/transfer", "zj_reviewer", json=no_reason)
    assert r.status_code == 422 and "reason" in r.json["fields"]
    assert len(trail(world, app_id)) == before  # nothing written
    assert handler(world, app_id)["holder_id"] == world.ids["zj_reviewer"]

    named = world.api("get", f"/api/v1/applications/{app_id}/colleagues", "zj_reviewer").json
    assert sorted(c["name"] for c in named) == ["李处长", "王审核"]
    body = {"to_user_id": world.ids["zj_reviewer2"], "reason": "本人出差，请王审核办理"}
    r = world.api("post", f"/api/v1/applications/{app_id}/transfer", "zj_reviewer", json=body)
    assert r.status_code == 200 and r.json["handler"] == "王审核"
    last = trail(world, app_id)[-1]
    assert (last.trigger, last.comment, last.snapshot["to_name"]) == ("transfer", "本人出差，请王审核办理", "王审核")
    assert received(world, "transferred") == ["zj_reviewer2"]
    # the one who handed it on is now refused
    assert world.fire(app_id, "province_recommend", "zj_reviewer").status_code == 409


def test_a_lead_reassigns_any_task_of_the_unit_and_others_may_not(world):
    app_id = at_province(world)
    body = {"to_user_id": world.ids["zj_reviewer2"], "reason": "分工调整"}
    # unclaimed: a plain member cannot assign it, a lead can
    assert world.api("post", f"/api/v1/applications/{app_id}/transfer", "zj_reviewer", json=body).status_code == 403
    assert world.api("post", f"/api/v1/applications/{app_id}/transfer", "zj_lead", json=body).status_code == 200
    # claimed by 王审核: a plain colleague is refused naming the holder, the lead takes it back
    back = {"to_user_id": world.ids["zj_reviewer"], "reason": "分工调整"}
    r = world.api("post", f"/api/v1/applications/{app_id}/transfer", "zj_reviewer", json=back)
    assert r.status_code == 409 and r.json["holder"] == "王审核"
    assert world.api("post", f"/api/v1/applications/{app_id}/transfer", "zj_lead", json=back).status_code == 200
    assert handler(world, app_id)["holder_id"] == world.ids["zj_reviewer"]
    # a lead may act on a task a colleague holds
    assert world.fire(app_id, "province_recommend", "zj_lead").status_code == 200


def test_lead_flag_is_set_by_an_administrator_only(world):
    uid = world.ids["zj_reviewer"]
    assert world.api("put", f"/api/v1/users/{uid}/lead", "ministry", json={"is_lead": True}).status_code == 403
    r = world.api("put", f"/api/v1/users/{uid}/lead", "admin", json={"is_lead": True})
    assert r.status_code == 200 and r.json["is_lead"] is True


def test_delegate_opinion_then_the_delegator_decides(world):
    app_id = at_province(world)
    world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer")
    body = {"to_user_id": world.ids["zj_reviewer2"], "note": "请核对财政科技支出佐证"}
    r = world.api("post", f"/api/v1/applications/{app_id}/delegate", "zj_reviewer", json=body)
    assert r.status_code == 200 and r.json["delegate_id"] == world.ids["zj_reviewer2"]
    assert received(world, "delegated") == ["zj_reviewer2"]

    # the colleague asked examines, may not decide, and records an opinion
    assert world.fire(app_id, "province_recommend", "zj_reviewer2").status_code == 409
    assert (
        world.api("post", f"/api/v1/applications/{app_id}/opinion", "zj_lead", json={"opinion": "x"}).status_code == 403
    )
    empty = world.api("post", f"/api/v1/applications/{app_id}/opinion", "zj_reviewer2", json={"opinion": " "})
    assert empty.status_code == 422 and "opinion" in empty.json["fields"]
    r = world.api(
        "post", f"/api/v1/applications/{app_id}/opinion", "zj_reviewer2", json={"opinion": "佐证齐全，同意推荐"}
    )
    assert r.status_code == 200 and r.json["delegate_id"] is None and r.json["holder_id"] == world.ids["zj_reviewer"]
    assert received(world, "opinion_in") == ["zj_reviewer"]

    assert world.fire(app_id, "province_recommend", "zj_reviewer").status_code == 200
    steps = [(r.trigger, r.comment) for r in trail(world, app_id)][-4:]
    assert steps == [
        ("claim", None),
        ("delegate", "请核对财政科技支出佐证"),
        ("delegate_opinion", "佐证齐全，同意推荐"),
        ("province_recommend", None),
    ]


def test_only_the_unit_holding_it_claims(world):
    app_id = at_province(world)
    assert world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_leader").status_code == 403
    assert world.api("post", f"/api/v1/applications/{app_id}/claim", "sc_reviewer").status_code == 404


def test_reminders_go_to_the_holder_once_claimed_else_to_the_unit(world):
    app_id = at_province(world)
    world.walk(app_id, ("province_recommend", "zj_reviewer"))
    world.walk(app_id, ("ministry_return", "ministry"))  # back at province review, unclaimed
    assert world.api("post", f"/api/v1/applications/{app_id}/press", "ministry", json={}).status_code == 201
    assert sorted(received(world, "press")) == ["zj_lead", "zj_reviewer", "zj_reviewer2"]

    world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer2")
    world.travel(clock.now() + timedelta(days=1))
    r = world.api("post", f"/api/v1/applications/{app_id}/press", "ministry", json={"comment": "今天下班前务必处理"})
    assert r.status_code == 201
    assert received(world, "press")[3:] == ["zj_reviewer2"]
    # 催办 keeps the note it was given: the holder reads it
    message = world.api("get", "/api/v1/notifications", "zj_reviewer2").json["items"][0]["message"]
    assert "今天下班前务必处理" in message


def test_my_tasks_shows_mine_first_then_the_units_unclaimed(world):
    at_province(world)
    second = world.new_application("zj2_staff")
    world.walk(second, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"))
    world.api("post", f"/api/v1/applications/{second}/claim", "zj_reviewer")
    page = Browser(world.app, "zj_reviewer").text("/tasks")
    assert page.index("德清县") < page.index("安吉县")  # mine (德清县) before the unit's unclaimed (安吉县)
    other = Browser(world.app, "zj_reviewer2").text("/tasks")
    assert other.index("安吉县") < other.index("德清县")  # theirs: the unclaimed first, a colleague's after
    assert "当前办理人" in other and "zj_reviewer" in other


# --- 3. 抄送 ----------------------------------------------------------------------------------------


def test_cc_on_a_trigger_reaches_readers_and_is_read_only(world):
    app_id = at_province(world)
    # someone who may not read the application cannot be copied; nothing moves
    r = world.fire(app_id, "province_recommend", "zj_reviewer", cc=[world.ids["sc_staff"]])
    assert r.status_code == 422 and "cc" in r.json["fields"]
    assert world.db_application(app_id).state == "province_review"

    cc = [world.ids["zj_leader"], world.ids["zj_lead"]]  # the county leader and a colleague
    r = world.fire(app_id, "province_recommend", "zj_reviewer", comment="推荐", cc=cc)
    assert r.status_code == 200
    assert received(world, "cc") == ["zj_leader", "zj_lead"]
    copies = world.api("get", "/api/v1/copies", "zj_lead").json
    assert [(c["county_name"], c["event"], c["comment"], c["read_at"]) for c in copies] == [
        ("安吉县", "province_recommend", "推荐", None)
    ]
    message = world.api("get", "/api/v1/notifications", "zj_lead").json["items"][0]["message"]
    assert "抄送" in message and "推荐" in message

    # read-only: a copy adds nothing to what its reader may do (the colleague may recall it exactly as a reviewer
    # of the sending province without a copy may); opening marks it read
    def allowed(user):
        return world.api("get", f"/api/v1/applications/{app_id}", user).json["allowed_triggers"]

    assert allowed("zj_lead") == allowed("zj_reviewer") == ["recall"]
    r = world.api("post", f"/api/v1/copies/{copies[0]['id']}/read", "zj_lead")
    assert r.status_code == 200 and r.json["read_at"] is not None
    assert world.api("get", "/api/v1/copies?unread=true", "zj_lead").json == []
    assert world.api("post", f"/api/v1/copies/{copies[0]['id']}/read", "zj_staff").status_code == 404


def test_cc_on_press_and_from_the_pages(world):
    app_id = at_province(world)
    r = world.api(
        "post",
        f"/api/v1/applications/{app_id}/press",
        "ministry",
        json={"comment": "请加快", "cc": [world.ids["zj_lead"]]},
    )
    assert r.status_code == 201 and received(world, "cc") == ["zj_lead"]

    lead = Browser(world.app, "zj_lead")
    page = lead.text("/copies")
    assert "催办" in page and "请加快" in page and "<strong>未读</strong>" in page
    copy_id = world.api("get", "/api/v1/copies", "zj_lead").json[0]["id"]
    r = lead.post_form(f"/copies/{copy_id}/open", {}, page="/copies")  # opening it from 抄送我的
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/applications/{app_id}")
    assert "<strong>未读</strong>" not in lead.text("/copies")

    # the trigger form on the page offers 抄送 to people who may read it
    reviewer = Browser(world.app, "zj_reviewer")
    detail = reviewer.text(f"/applications/{app_id}")
    assert 'name="cc"' in detail and "抄送" in detail
    r = reviewer.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "province_recommend", "cc": str(world.ids["zj_leader"])},
        page=f"/applications/{app_id}",
    )
    assert r.status_code == 302
    assert received(world, "cc") == ["zj_lead", "zj_leader"]
    assert "下一步：科技部工作人员（部级形式审查）。" in reviewer.text(r.headers["Location"])


# --- 2. deputies ------------------------------------------------------------------------------------


def _today() -> str:
    return clock.now().astimezone(CHINA).date().isoformat()


def test_deputy_acts_for_the_holder_while_the_range_runs_and_not_after(world):
    world.travel(datetime(2026, 12, 1, 10, 0, tzinfo=CHINA))  # a Tuesday
    app_id = at_province(world)
    world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer")

    outside = {"deputy_id": world.ids["zj_leader"], "starts_on": "2026-12-01", "ends_on": "2026-12-03"}
    r = world.api("post", "/api/v1/me/deputies", "zj_reviewer", json=outside)
    assert r.status_code == 422 and "deputy_id" in r.json["fields"]
    backwards = {"deputy_id": world.ids["zj_reviewer2"], "starts_on": "2026-12-03", "ends_on": "2026-12-01"}
    assert world.api("post", "/api/v1/me/deputies", "zj_reviewer", json=backwards).status_code == 422

    body = {"deputy_id": world.ids["zj_reviewer2"], "starts_on": "2026-12-01", "ends_on": "2026-12-03"}
    r = world.api("post", "/api/v1/me/deputies", "zj_reviewer", json=body)
    assert r.status_code == 201 and r.json["running"] is True
    assert received(world, "deputy_named") == ["zj_reviewer2"]
    assert (
        world.api("get", "/api/v1/me/deputies", "zj_reviewer2").json["standing_in_for"][0]["user_name"] == "zj_reviewer"
    )

    # reminders reach the deputy too while it runs
    world.api("post", f"/api/v1/applications/{app_id}/press", "ministry", json={})
    assert sorted(received(world, "press")) == ["zj_reviewer", "zj_reviewer2"]

    # after the last day the deputy is a plain colleague again: refused, naming the holder
    world.travel(datetime(2026, 12, 4, 9, 0, tzinfo=CHINA))
    r = world.fire(app_id, "province_recommend", "zj_reviewer2")
    assert r.status_code == 409 and r.json["holder"] == "zj_reviewer"
    world.travel(datetime(2026, 12, 3, 17, 0, tzinfo=CHINA))  # the last day still counts
    assert world.fire(app_id, "province_recommend", "zj_reviewer2").status_code == 200
    last = trail(world, app_id)[-1]
    assert last.actor_id == world.ids["zj_reviewer2"] and last.snapshot["on_behalf_name"] == "zj_reviewer"
    page = Browser(world.app, "zj_reviewer").text(f"/applications/{app_id}")
    assert "代 zj_reviewer 办理" in page


def test_ending_a_deputy_early(world):
    app_id = at_province(world)
    world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer")
    body = {"deputy_id": world.ids["zj_reviewer2"], "starts_on": _today(), "ends_on": _today()}
    row = world.api("post", "/api/v1/me/deputies", "zj_reviewer", json=body).json
    assert world.api("post", f"/api/v1/me/deputies/{row['id']}/cancel", "zj_reviewer2").status_code == 404
    r = world.api("post", f"/api/v1/me/deputies/{row['id']}/cancel", "zj_reviewer")
    assert r.status_code == 200 and r.json["running"] is False
    assert world.fire(app_id, "province_recommend", "zj_reviewer2").status_code == 409


def test_deputies_page(world):
    at_province(world)
    b = Browser(world.app, "zj_reviewer")
    page = b.text("/account/deputies")
    assert "王审核" in page and "李处长" in page
    r = b.post_form(
        "/account/deputies",
        {"deputy_id": str(world.ids["zj_reviewer2"]), "starts_on": _today(), "ends_on": _today()},
        follow_redirects=True,
    )
    assert "已指定代理人。" in r.data.decode() and "进行中" in r.data.decode()
    bad = b.post_form(
        "/account/deputies", {"deputy_id": str(world.ids["zj_reviewer2"]), "starts_on": "", "ends_on": ""}
    )
    assert bad.status_code == 422 and "请填写第一天。" in bad.data.decode()


# --- the pages: 当前办理人, claim, transfer, delegate --------------------------------------------------


def test_detail_page_shows_the_handler_and_claims_hands_on_and_delegates(world):
    app_id = at_province(world)
    path = f"/applications/{app_id}"
    mine = Browser(world.app, "zj_reviewer")
    page = mine.text(path)
    assert "当前办理人" in page and "浙江省 · 省科技厅审核人" in page and "认领" in page
    assert "浙江省 · 省科技厅审核人" in mine.text("/applications")

    r = mine.post_form(f"{path}/claim", {}, page=path, follow_redirects=True)
    page = r.data.decode()
    assert "已认领" in page and '<strong id="handler">zj_reviewer</strong>' in page
    assert "转办" in page and "委派" in page

    # a colleague sees who has it and is refused with the holder named
    colleague = Browser(world.app, "zj_reviewer2")
    assert '<strong id="handler">zj_reviewer</strong>' in colleague.text(path)
    refused = colleague.post_form(f"{path}/transitions", {"trigger": "province_recommend"}, page=path)
    assert refused.status_code == 409 and "zj_reviewer" in refused.data.decode()

    r = mine.post_form(
        f"{path}/delegate",
        {"to_user_id": str(world.ids["zj_reviewer2"]), "note": "请看佐证"},
        page=path,
        follow_redirects=True,
    )
    assert "王审核" in r.data.decode()
    r = colleague.post_form(f"{path}/opinion", {"opinion": "同意"}, page=path, follow_redirects=True)
    assert "已记录意见" in r.data.decode()
    r = mine.post_form(
        f"{path}/transfer",
        {"to_user_id": str(world.ids["sc_reviewer"]), "reason": "x"},
        page=path,
        follow_redirects=True,
    )
    assert "请选择办理该申报的单位中的同事。" in r.data.decode()
    assert handler(world, app_id)["holder_id"] == world.ids["zj_reviewer"]


def test_claim_race_second_claim_is_refused(world):
    app_id = at_province(world)
    with world.app.app_context():
        db.session.execute(update(User).where(User.id == world.ids["zj_reviewer"]).values(display_name="张审核"))
        db.session.commit()
    assert world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer").status_code == 200
    r = world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer2")
    assert r.status_code == 409 and r.json["holder"] == "张审核" and "张审核" in r.json["error"]
    assert world.api("post", f"/api/v1/applications/{app_id}/claim", "zj_reviewer").status_code == 200  # idempotent
    assert [r.trigger for r in trail(world, app_id)].count("claim") == 1


def test_demo_shows_a_claimed_task_a_delegation_a_deputy_and_a_cc(app):
    assert app.test_cli_runner().invoke(args=["kxflow", "seed-demo"]).exit_code == 0
    demo = World(app=app, client=app.test_client())
    with app.app_context():
        for name in ("ministry", "ministry2", "sc_province", "sc_leader"):
            demo.ids[name] = db.session.scalar(select(User.id).where(User.username == name))
    changxing = demo.api("get", "/api/v1/applications?q=长兴县", "ministry").json["items"][0]
    assert changxing["handler"] == "科技部 张司长"
    assert handler(demo, changxing["id"], "ministry")["delegate_id"] == demo.ids["ministry2"]
    dayi = demo.api("get", "/api/v1/applications?q=大邑县", "sc_province").json["items"][0]
    assert dayi["handler"] == "四川省科技厅 刘处长"
    named = demo.api("get", "/api/v1/me/deputies", "ministry").json["named"]
    assert [(d["deputy_name"], d["running"]) for d in named] == [("科技部 孙处长", True)]
    copies = demo.api("get", "/api/v1/copies", "sc_leader").json
    assert [(c["county_name"], c["event"]) for c in copies] == [("大邑县", "press")]


def test_opening_the_notice_of_a_copy_reads_the_copy(world):
    app_id = at_province(world)
    act(world, app_id, "press", "ministry", cc=[world.ids["zj_lead"]])
    notices = world.api("get", "/api/v1/notifications", "zj_lead").json["items"]
    notice = next(n for n in notices if "抄送" in n["message"])
    lead = Browser(world.app, "zj_lead")
    r = lead.post_form(f"/notifications/{notice['id']}/open", {}, page="/notifications")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/applications/{app_id}")
    assert world.api("get", "/api/v1/copies?unread=true", "zj_lead").json == []


def test_colleagues_claiming_at_once_one_gets_it(world):
    app_id = at_province(world)
    add_user(world, "zj_reviewer3", "province_reviewer", province="330000")
    claimants = ["zj_reviewer", "zj_reviewer2", "zj_lead", "zj_reviewer3"]
    results = at_once(world, [(f"/api/v1/applications/{app_id}/claim", {}, user) for user in claimants])
    codes = sorted(code for code, _ in results)
    assert codes == [200, 409, 409, 409], results
    winner = next(body["holder_id"] for code, body in results if code == 200)
    assert handler(world, app_id)["holder_id"] == winner
    assert [r.trigger for r in trail(world, app_id)].count("claim") == 1


# --- the API lists: 当前办理人 of a whole page read at once ---------------------------------------


def _api_queries(world: World, path: str, user: str) -> tuple[int, dict]:
    with world.app.app_context():
        engine = db.engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    world.headers(user)  # the token issued before counting
    event.listen(engine, "before_cursor_execute", count)
    try:
        r = world.api("get", path, user)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.json
    return len(seen), r.json


def test_an_api_page_of_applications_costs_the_same_queries_for_3_rows_or_12(world):
    apps = [app_id for app_id, _clerk in bulk_ready_applications(world, 12)]
    for app_id in apps[:3]:
        world.db_state(app_id, "ministry_review")
    assert world.api("post", f"/api/v1/applications/{apps[0]}/claim", "ministry").status_code == 200
    few, body = _api_queries(world, "/api/v1/applications?per_page=100", "ministry")
    assert len(body["items"]) == 3

    for app_id in apps[3:]:
        world.db_state(app_id, "ministry_review")
    for app_id in apps[3:7]:  # some claimed, the rest in the unit's pool
        assert world.api("post", f"/api/v1/applications/{app_id}/claim", "ministry").status_code == 200
    many, body = _api_queries(world, "/api/v1/applications?per_page=100", "ministry")
    assert len(body["items"]) == 12
    assert many == few, (few, many)

    with world.app.app_context():
        me = db.session.get(User, world.ids["ministry"])
        name = me.display_name or me.username
    handlers = {item["id"]: item["handler"] for item in body["items"]}
    claimed = {apps[0], *apps[3:7]}
    assert {handlers[i] for i in claimed} == {name}
    assert {handlers[i] for i in set(apps) - claimed} == {"科技部工作人员"}  # the unit, while unclaimed


# --- 我的待办: mine first, across pages --------------------------------------------------------------


def test_my_tasks_put_mine_first_then_the_units_then_colleagues_across_pages(world):
    """35 tasks at the ministry (30 a page): those I hold, hold for an absent colleague or was delegated come
    first on page 1 even though they are the least urgent; colleagues' come last, on page 2."""
    add_user(world, "ministry2", "ministry_staff", display="钱处长")
    add_user(world, "ministry3", "ministry_staff", display="孙处长")
    apps = [app_id for app_id, _clerk in bulk_ready_applications(world, 35)]  # most urgent first: in this order
    for app_id in apps:
        world.db_state(app_id, "ministry_review")
    with world.app.app_context():  # ministry stands in for ministry3 today
        day = today()
        db.session.add(
            Deputy(
                user_id=world.ids["ministry3"],
                deputy_id=world.ids["ministry"],
                starts_on=day - timedelta(days=1),
                ends_on=day + timedelta(days=1),
            )
        )
        db.session.commit()
    mine, held_for, delegated = apps[-1], apps[-2], apps[-3]  # the least urgent three
    colleagues = apps[:2]  # the most urgent two
    assert act(world, mine, "claim", "ministry").status_code == 200
    assert act(world, held_for, "claim", "ministry3").status_code == 200
    assert act(world, delegated, "claim", "ministry2").status_code == 200
    assert act(world, delegated, "delegate", "ministry2", to_user_id=world.ids["ministry"]).status_code == 200
    for app_id in colleagues:
        assert act(world, app_id, "claim", "ministry2").status_code == 200
    pool = [a for a in apps if a not in {mine, held_for, delegated, *colleagues}]

    web = Browser(world.app, "ministry")
    link = re.compile(r'href="/applications/(\d+)"')
    shown = []
    for page in (1, 2):
        ids = [int(i) for i in link.findall(web.text(f"/tasks?page={page}"))]
        shown += list(dict.fromkeys(ids))
    expected = [delegated, held_for, mine, *pool, *colleagues]  # urgency order within each group
    assert shown == expected
    assert [int(i) for i in link.findall(web.text("/tasks?page=2"))] == expected[30:]  # 5 on the second page
