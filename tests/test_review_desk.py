"""Issue 11, parts 4–8: bulk actions, recall versus giving up, versions side by side, the quota in sight, and
one 审核意见 box with saved phrases — through the API and the pages."""

from __future__ import annotations

import re

from sqlalchemy import event, select

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.workflow import audit as audit_trail
from kxflow.workflow.models import Application
from tests.factories import FULL_INDICATORS, build_world
from tests.web_support import Browser, csrf_token

BULK = "/api/v1/applications/bulk-transitions"


def at_province(world, *clerks: str) -> list[int]:
    ids = []
    for clerk in clerks:
        app_id = world.new_application(f"{clerk}_staff")
        world.walk(app_id, ("submit", f"{clerk}_staff"), ("county_approve", f"{clerk}_leader"))
        ids.append(app_id)
    return ids


# --- 4. bulk actions ------------------------------------------------------------------------------


def test_bulk_recommend_beyond_the_quota_passes_exactly_the_quota_and_lists_the_rest(app, client):
    world = build_world(app, client, province_quota=1)
    deqing, anji = at_province(world, "zj2", "zj")
    r = world.api(
        "post",
        BULK,
        "zj_reviewer",
        json={"trigger": "province_recommend", "application_ids": [deqing, anji], "comment": "同意推荐"},
    )
    assert r.status_code == 200, r.json
    assert (r.json["done"], r.json["refused"]) == (1, 1)
    first, second = r.json["results"]
    # the quota goes in the order given: 德清县 first
    assert first["application_id"] == deqing and first["ok"] and first["state"] == "ministry_review"
    assert "科技部" in first["next_step"]
    assert second["application_id"] == anji and not second["ok"] and second["county_name"] == "安吉县"
    assert second["reasons"] == ["本省在该批次的推荐名额（1 个）已用完：已用 1 个，剩余 0 个。"]
    # the refusal undid nothing of the other; the comment went with the one that passed
    assert world.db_application(deqing).state == "ministry_review"
    assert world.db_application(anji).state == "province_review"
    history = world.api("get", f"/api/v1/applications/{deqing}/history", "zj_reviewer").json
    assert history[-1]["trigger"] == "province_recommend" and history[-1]["comment"] == "同意推荐"


def test_bulk_reports_each_refusal_with_its_reason_and_acts_on_the_rest(world):
    ready, waiting = at_province(world, "zj", "zj2")
    world.walk(ready, ("province_recommend", "zj_reviewer"))
    sc = world.new_application("sc_staff")
    world.walk(sc, ("submit", "sc_staff"), ("county_approve", "sc_leader"))
    body = {"trigger": "ministry_accept", "application_ids": [waiting, ready, ready, 999999, sc]}
    r = world.api("post", BULK, "ministry", json=body)
    assert r.status_code == 200
    results = {x["application_id"]: x for x in r.json["results"]}
    assert list(results) == [waiting, ready, 999999, sc]  # each once, in the order given
    assert results[ready]["ok"] and results[ready]["state"] == "expert_review"
    # never sent to the ministry: for it, no such application; at another stage: the stage is the reason
    assert not results[waiting]["ok"] and results[waiting]["county_name"] is None
    assert results[999999] == {**results[999999], "ok": False, "county_name": None, "reasons": ["未找到。"]}
    assert not results[sc]["ok"]


def test_bulk_return_needs_its_reason_per_item_and_only_bulk_actions_are_taken(world):
    (app_id,) = at_province(world, "zj")
    r = world.api("post", BULK, "zj_reviewer", json={"trigger": "province_return", "application_ids": [app_id]})
    assert r.status_code == 200 and r.json["results"][0]["reasons"] == ["此操作须填写意见（理由）。"]
    assert world.db_application(app_id).state == "province_review"
    for body in (
        {"trigger": "submit", "application_ids": [app_id]},
        {"trigger": "province_recommend", "application_ids": []},
    ):
        assert world.api("post", BULK, "zj_reviewer", json=body).status_code == 422
    # a role whose bulk action it is not
    r = world.api("post", BULK, "zj_reviewer", json={"trigger": "ministry_accept", "application_ids": [app_id]})
    assert r.status_code == 422 and "trigger" in r.json["fields"]


def test_bulk_on_the_pages_confirms_then_lists_each_result(app, client):
    world = build_world(app, client, province_quota=1)
    deqing, anji = at_province(world, "zj2", "zj")
    b = Browser(app, "zj_reviewer")
    page = b.text("/applications?state=province_review")
    assert 'form="bulk"' in page and "省级推荐" in page and "已用 0 个，共 1 个" in page
    assert 'id="bulk-hint"' in b.text("/applications")  # unfiltered: told to filter by stage first
    confirm = b.text(f"/applications/bulk?trigger=province_recommend&id={deqing}&id={anji}")
    assert confirm.index("德清县") < confirm.index("安吉县") and "下一步：科技部" in confirm
    r = b.client.post(
        "/applications/bulk",
        data={
            "trigger": "province_recommend",
            "id": [deqing, anji],
            "comment": "同意",
            "csrf_token": csrf_token(confirm),
        },
        headers=b.headers,
    )
    page = r.data.decode()
    assert r.status_code == 200 and "1 件办理成功，1 件未办理。" in page
    rows = re.findall(r'<tr class="(ok|refused)">(.*?)</tr>', page, re.S)
    assert [kind for kind, _ in rows] == ["ok", "refused"]
    assert "成功" in rows[0][1] and "德清县" in rows[0][1]
    assert "安吉县" in rows[1][1] and "已用 1 个，剩余 0 个" in rows[1][1]


def test_an_irreversible_bulk_step_asks_for_confirmation(world, app):
    (app_id,) = at_province(world, "zj")
    b = Browser(app, "zj_reviewer")
    confirm = b.text(f"/applications/bulk?trigger=province_reject&id={app_id}")
    assert 'name="confirm"' in confirm
    data = {"trigger": "province_reject", "id": [app_id], "comment": "不符合条件", "csrf_token": csrf_token(confirm)}
    r = b.client.post("/applications/bulk", data=data, headers=b.headers)
    assert r.status_code == 422 and "不符合条件" in r.data.decode()  # the opinion stays in the box
    assert world.db_application(app_id).state == "province_review"
    r = b.client.post("/applications/bulk", data={**data, "confirm": "yes"}, headers=b.headers)
    assert r.status_code == 200 and world.db_application(app_id).state == "rejected"


# --- 5. recall versus giving up -----------------------------------------------------------------


def test_each_sender_recalls_while_the_next_level_has_not_acted_keeping_everything(world):
    app_id = world.new_application()
    files = world.api("get", f"/api/v1/applications/{app_id}/attachments", "zj_staff").json
    world.walk(app_id, ("submit", "zj_staff"))
    r = world.fire(app_id, "recall", "zj_staff")
    assert r.status_code == 200 and r.json["state"] == "draft"
    assert world.db_application(app_id).indicators == FULL_INDICATORS
    assert world.api("get", f"/api/v1/applications/{app_id}/attachments", "zj_staff").json == files
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    assert world.fire(app_id, "recall", "zj_staff").status_code == 409  # not the clerk's to recall now
    r = world.fire(app_id, "recall", "zj_leader")
    assert r.status_code == 200 and r.json["state"] == "county_review"
    world.walk(app_id, ("county_approve", "zj_leader"), ("province_recommend", "zj_reviewer"))
    r = world.fire(app_id, "recall", "zj_reviewer")
    assert r.status_code == 200 and r.json["state"] == "province_review"
    assert world.db_application(app_id).revision_round == 0  # a recall is not a return


def test_a_recall_after_the_next_level_acted_is_refused_with_409(world, app):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"), ("province_recommend", "zj_reviewer"))
    # the ministry has decided: too late for the leader and the province
    world.walk(app_id, ("ministry_accept", "ministry"))
    r = world.fire(app_id, "recall", "zj_reviewer")
    assert r.status_code == 409 and world.db_application(app_id).state == "expert_review"
    # the province has acted on it without moving it (a claim, a note…): the leader may no longer take it back
    other = world.new_application("zj2_staff")
    world.walk(other, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"))
    with app.app_context():
        row = db.session.get(Application, other)
        reviewer = db.session.get(User, world.ids["zj_reviewer"])
        audit_trail.append(row, reviewer, "press", from_state=row.state, at=clock.now(), comment="已阅")
        db.session.commit()
    assert "recall" not in world.api("get", f"/api/v1/applications/{other}", "zj2_leader").json["allowed_triggers"]
    r = world.fire(other, "recall", "zj2_leader")
    assert r.status_code == 409 and "已办理" in r.json["error"] and "recall" not in r.json["allowed_triggers"]
    # what came back from the ministry is not the leader's to recall
    third = at_province(world, "sc")[0]
    world.walk(third, ("province_recommend", "sc_reviewer"), ("ministry_return", "ministry"))
    assert world.fire(third, "recall", "sc_leader").status_code == 409


def test_the_list_reads_whether_each_row_may_be_recalled_in_one_query_for_the_page(world, app):
    """A province's list of what it sent to the ministry says of each row whether it may still be recalled, as the
    application itself does, with one query for the page (it cost up to three queries a row)."""
    untouched, acted_on = world.new_application(), world.new_application("zj2_staff")
    for app_id, county in ((untouched, "zj"), (acted_on, "zj2")):
        world.walk(
            app_id,
            ("submit", f"{county}_staff"),
            ("county_approve", f"{county}_leader"),
            ("province_recommend", "zj_reviewer"),
        )
    with app.app_context():  # the ministry has acted on one without moving it
        row = db.session.get(Application, acted_on)
        ministry = db.session.get(User, world.ids["ministry"])
        audit_trail.append(row, ministry, "press", from_state=row.state, at=clock.now(), comment="已阅")
        db.session.commit()
        engine = db.engine
    world.headers("zj_reviewer")  # the token issued before counting
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        listed = world.api("get", "/api/v1/applications", "zj_reviewer").json["items"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    allowed = {item["id"]: item["allowed_triggers"] for item in listed}
    assert "recall" in allowed[untouched] and "recall" not in allowed[acted_on]
    for app_id in (untouched, acted_on):
        assert (
            allowed[app_id]
            == world.api("get", f"/api/v1/applications/{app_id}", "zj_reviewer").json["allowed_triggers"]
        )
    recall_reads = [s for s in seen if "audit_records.actor_role" in s]  # the page and its count read the trail too
    assert len(recall_reads) == 1, recall_reads


def test_giving_up_is_放弃申报_with_a_reason_on_the_page_and_optional_in_the_api(world, app):
    app_id = world.new_application()
    b = Browser(app, "zj_staff")
    page = b.text(f"/applications/{app_id}")
    assert "放弃申报" in page and "撤回" not in page  # a draft has nothing to recall
    r = b.post_form(
        f"/applications/{app_id}/transitions", {"trigger": "withdraw", "confirm": "yes"}, page=f"/applications/{app_id}"
    )
    assert r.status_code == 422 and "请填写理由：放弃申报。" in r.data.decode()
    assert world.db_application(app_id).state == "draft"
    r = b.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "withdraw", "confirm": "yes", "comment": "本年度条件不足"},
        page=f"/applications/{app_id}",
        follow_redirects=True,
    )
    page = r.data.decode()
    assert "已放弃" in page and "申报至此结束（已放弃）" in page
    other = world.new_application("zj2_staff")
    r = world.fire(other, "withdraw", "zj2_staff")  # API clients send no comment, as before
    assert r.status_code == 200 and r.json["state_label"] == "已放弃"


def test_submit_asks_for_confirmation_and_says_who_is_next(world, app):
    app_id = world.new_application()
    b = Browser(app, "zj_staff")
    page = b.text(f"/applications/{app_id}")
    assert "下一步：安吉县 · " in page  # named before the clerk confirms
    r = b.post_form(f"/applications/{app_id}/transitions", {"trigger": "submit"}, page=f"/applications/{app_id}")
    assert r.status_code == 422 and world.db_application(app_id).state == "draft"
    r = b.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "submit", "confirm": "yes"},
        page=f"/applications/{app_id}",
        follow_redirects=True,
    )
    page = r.data.decode()
    assert world.db_application(app_id).state == "county_review"
    assert re.search(r"已完成：提交。 ?下一步：安吉县 · [^（]+（县级审核）。", page)
    assert "撤回" in page  # the clerk may take it back until the leader acts


# --- 6. versions side by side -------------------------------------------------------------------


def returned_and_resubmitted(world) -> int:
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"), ("province_return", "zj_reviewer"))
    changed = {**FULL_INDICATORS, "st_commissioners": 65}
    assert (
        world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": changed}).status_code
        == 200
    )
    assert world.upload(app_id, "leadership_group_document", name="领导小组文件（修订）.pdf").status_code == 201
    world.walk(app_id, ("submit", "zj_staff"))
    return app_id


def test_compare_shows_a_changed_indicator_and_a_replaced_file(world, app):
    app_id = returned_and_resubmitted(world)
    versions = world.api("get", f"/api/v1/applications/{app_id}/versions", "zj_leader").json
    assert [v["trigger"] for v in versions] == ["submit", "province_return", "submit"]
    assert [v["indicators"]["st_commissioners"] for v in versions] == [40, 40, 65]
    r = world.api("get", f"/api/v1/applications/{app_id}/versions/compare", "zj_leader")
    assert r.status_code == 200
    changed = {f["key"]: (f["before"], f["after"]) for f in r.json["fields"] if f["changed"]}
    assert changed["st_commissioners"] == (40, 65)
    files = {f["kind"]: f for f in r.json["files"]}
    assert files["leadership_group_document"]["status"] == "replaced"
    assert files["leadership_group_document"]["after"][0]["original_name"] == "领导小组文件（修订）.pdf"
    assert files["self_assessment_report"]["status"] == "unchanged"
    bad = world.api("get", f"/api/v1/applications/{app_id}/versions/compare?from=1&to=2", "zj_leader")
    assert bad.status_code == 422

    b = Browser(app, "zj_leader")
    detail = b.text(f"/applications/{app_id}")
    link = re.search(r'href="(/applications/\d+/compare\?[^"]+)"', detail).group(1).replace("&amp;", "&")
    page = b.text(link)
    row = re.search(r'<tr class="changed" data-key="st_commissioners">(.*?)</tr>', page, re.S).group(1)
    assert "40" in row and "65" in row and "已更改" in row
    files_row = re.search(r'<tr class="changed" data-kind="leadership_group_document">(.*?)</tr>', page, re.S).group(1)
    assert "已替换" in files_row and "领导小组文件（修订）.pdf" in files_row
    assert 'data-kind="self_assessment_report"' in page and "1 项指标、1 类材料有变化" in page
    # the first round opens as it was
    first = re.search(r'href="(/applications/\d+/versions/\d+)"', detail).group(1)
    old = b.text(first)
    assert "第 1 轮 · 提交" in old and "领导小组文件（修订）.pdf" not in old


def test_versions_stay_in_scope(world, app):
    app_id = returned_and_resubmitted(world)
    assert world.api("get", f"/api/v1/applications/{app_id}/versions", "zj2_staff").status_code == 404
    assert Browser(app, "zj2_staff").get(f"/applications/{app_id}/compare").status_code == 404


# --- 7. the quota in sight ----------------------------------------------------------------------


def test_the_province_sees_its_quota_on_the_list_tasks_and_detail(world, app):
    first, second = at_province(world, "zj", "zj2")
    world.walk(first, ("province_recommend", "zj_reviewer"))
    b = Browser(app, "zj_reviewer")
    for path in ("/applications", "/tasks"):
        assert "已用 1 个，共 2 个，剩余 1 个" in b.text(path).replace("</span>", "").replace(
            '<span class="left-1">', ""
        )
    assert "已用 1 个，剩余 1 个" in b.text(f"/applications/{second}")
    assert "quota-" not in Browser(app, "zj_staff").text("/tasks")


def test_the_ministry_call_page_shows_each_provinces_actual_quota_and_use(app, client):
    world = build_world(app, client, quota_overrides={"510000": 5})
    world.to_ministry(world.new_application())
    r = world.api("get", f"/api/v1/calls/{world.call_id}/quotas", "ministry")
    by_code = {q["province_code"]: q for q in r.json}
    assert by_code["330000"] == {"province_code": "330000", "quota": 2, "used": 1, "left": 1}
    assert by_code["510000"]["quota"] == 5 and len(by_code) == 31
    mine = world.api("get", f"/api/v1/calls/{world.call_id}/quotas", "zj_reviewer").json
    assert [q["province_code"] for q in mine] == ["330000"]
    page = Browser(app, "ministry").text(f"/calls/{world.call_id}")
    row = re.search(r'<tr data-province="510000">(.*?)</tr>', page, re.S).group(1)
    assert "四川省" in row and '<td class="num">5</td>' in row
    row = re.search(r'<tr data-province="330000">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["2", "1", "1"]


# --- 8. one 审核意见 box, saved phrases ------------------------------------------------------------


def test_one_opinion_box_distinct_buttons_and_the_opinion_kept_when_refused(app, client):
    world = build_world(app, client, province_quota=1)
    taken, app_id = at_province(world, "zj2", "zj")
    world.walk(taken, ("province_recommend", "zj_reviewer"))
    b = Browser(app, "zj_reviewer")
    page = b.text(f"/applications/{app_id}")
    form = re.search(r'<form[^>]*id="decision".*?</form>', page, re.S).group(0)
    assert form.count("<textarea") == 1
    buttons = dict(re.findall(r'<button type="submit" name="trigger" value="(\w+)" class="(\w+)"', form))
    assert buttons == {"province_recommend": "approve", "province_return": "secondary", "province_reject": "danger"}
    r = b.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "province_recommend", "comment": "材料齐全，建议推荐"},
        page=f"/applications/{app_id}",
    )
    page = r.data.decode()
    assert r.status_code == 422 and "剩余 0 个" in page
    assert ">材料齐全，建议推荐</textarea>" in page


def test_saved_phrases_are_offered_in_the_box(world, app):
    (app_id,) = at_province(world, "zj")
    r = world.api("post", "/api/v1/phrases", "zj_reviewer", json={"text": "请补充财政科技支出凭证"})
    assert r.status_code == 201
    assert world.api("post", "/api/v1/phrases", "zj_reviewer", json={"text": "  "}).status_code == 422
    assert [p["text"] for p in world.api("get", "/api/v1/phrases", "zj_reviewer").json] == ["请补充财政科技支出凭证"]
    b = Browser(app, "zj_reviewer")
    page = b.text(f"/applications/{app_id}")
    assert 'data-phrase-for="decision-comment"' in page and ">请补充财政科技支出凭证</option>" in page
    # saving from the box as the decision is taken
    b.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "province_return", "comment": "指标填报有误，请核实", "save_phrase": "yes"},
        page=f"/applications/{app_id}",
    )
    texts = [p["text"] for p in world.api("get", "/api/v1/phrases", "zj_reviewer").json]
    assert texts == ["请补充财政科技支出凭证", "指标填报有误，请核实"]
    assert world.api("get", "/api/v1/phrases", "zj2_staff").json == []  # one's own
    phrase_id = world.api("get", "/api/v1/phrases", "zj_reviewer").json[0]["id"]
    assert world.api("delete", f"/api/v1/phrases/{phrase_id}", "zj2_staff").status_code == 404
    assert world.api("delete", f"/api/v1/phrases/{phrase_id}", "zj_reviewer").status_code == 204
    with app.app_context():
        assert db.session.scalar(select(Application.state).where(Application.id == app_id)) == "draft"


def test_phrases_are_kept_and_removed_on_their_page(world, app):
    b = Browser(app, "zj_reviewer")
    r = b.post_form("/phrases", {"text": "同意推荐。"}, page="/phrases", follow_redirects=True)
    assert "已存为常用意见。" in r.data.decode() and "<td>同意推荐。</td>" in r.data.decode()
    page = b.text("/phrases")
    action = re.search(r'action="(/phrases/\d+/delete)"', page).group(1)
    r = b.post_form(action, {}, page="/phrases", follow_redirects=True)
    assert "已删除该常用意见。" in r.data.decode() and "<td>同意推荐。</td>" not in r.data.decode()
    assert Browser(app, "zj2_staff").post_form(action, {}, page="/phrases").status_code == 404


def test_an_opinion_too_long_to_keep_as_a_phrase_still_decides(world, app):
    (app_id,) = at_province(world, "zj")
    b = Browser(app, "zj_reviewer")
    r = b.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "province_return", "comment": "请补充" * 200, "save_phrase": "yes"},
        page=f"/applications/{app_id}",
        follow_redirects=True,
    )
    assert "最多 500 个字。" in r.data.decode()
    assert world.db_application(app_id).state == "draft"
    assert world.api("get", "/api/v1/phrases", "zj_reviewer").json == []
