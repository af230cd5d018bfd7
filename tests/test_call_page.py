"""The call's page as the ministry uses it: the rules only the API had (grace after a return, a revoked
county's wait), and the close-out — 结束征集 and reopening a county or province flagged 逾期未提交."""

from __future__ import annotations

import re

from sqlalchemy import select

from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db
from tests.factories import build_world
from tests.test_calendar_and_deadlines import beijing, scan
from tests.web_support import Browser

GOOD = {
    "title": "2027年度申报",
    "year": "2027",
    "opens_at": "2027-01-10T09:00",
    "county_deadline": "2027-03-31T17:00",
    "province_deadline": "2027-04-30T17:00",
    "province_quota": "3",
    "min_experts": "3",
    "score_threshold": "60",
    "division_types": ["县", "县级市"],
    "indicator_set_version": "2026.1",
}


def test_the_call_form_sets_the_grace_after_a_return_and_the_wait_after_a_revocation(world, app):
    b = Browser(app, "ministry")
    page = b.text("/calls/new")
    assert "退回后补正期限（工作日）" in page and "被撤销命名的县（市）再次申报须间隔（年）" in page
    r = b.post_form("/calls/new", {**GOOD, "return_grace_days": "0", "revoked_wait_years": "4"})
    assert r.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Call).where(Call.title == "2027年度申报")) is None
    r = b.post_form("/calls/new", {**GOOD, "return_grace_days": "8", "revoked_wait_years": "4"})
    assert r.status_code == 302
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.title == "2027年度申报"))
        assert (call.return_grace_days, call.revoked_wait_years) == (8, 4)
    page = b.text(f"/calls/{call.id}/edit")
    assert re.search(r'id="return_grace_days"[^>]*value="8"', page) and re.search(
        r'id="revoked_wait_years"[^>]*value="4"', page
    )


def test_end_collection_is_refused_while_an_application_is_open_then_closes_the_call(world, app):
    app_id = world.new_application()
    world.to_ministry(app_id)
    b = Browser(app, "ministry")
    page = b.text(f"/calls/{world.call_id}/edit")
    assert "结束征集" in page and "尚待决定的申报：1" in page
    r = b.post_form(f"/calls/{world.call_id}/close", {}, page=f"/calls/{world.call_id}/edit", follow_redirects=True)
    assert "该批次尚有 1 项申报未作出决定。" in r.data.decode()
    world.walk(app_id, ("ministry_reject", "ministry"))
    r = b.post_form(f"/calls/{world.call_id}/close", {}, page=f"/calls/{world.call_id}/edit", follow_redirects=True)
    page = r.data.decode()
    assert "批次已结束征集，数据不再变动。" in page and "结束征集于" in page
    assert Browser(app, "zj_reviewer").post_form(f"/calls/{world.call_id}/close", {}, page="/calls").status_code == 403


def test_the_ministry_reopens_a_flagged_province_from_the_call_page(app, client):
    clock.freeze(beijing(2026, 11, 2))
    world = build_world(app, client, county_deadline=beijing(2026, 11, 20, 17))
    unsent = world.new_application("zj_staff")
    world.travel(beijing(2026, 11, 23, 9))
    scan(app)
    assert world.db_application(unsent).overdue_since is not None
    b = Browser(app, "ministry")
    edit = f"/calls/{world.call_id}/edit"
    assert "县级截止时逾期未提交的草稿：1" in b.text(edit)
    r = b.post_form(
        f"/calls/{world.call_id}/reopen",
        {"division": "", "division_text": "浙江省", "due_at": "2026-12-11", "reason": ""},
        page=edit,
        follow_redirects=True,
    )
    assert "此项为必填项。" in r.data.decode()  # the reason
    assert world.db_application(unsent).overdue_since is not None
    r = b.post_form(
        f"/calls/{world.call_id}/reopen",
        {"division": "330000", "division_text": "浙江省", "due_at": "2026-12-11", "reason": "系统故障"},
        page=edit,
        follow_redirects=True,
    )
    assert "已重新开放并设定新的截止日期，相关县（市）已收到通知。" in r.data.decode()
    assert world.db_application(unsent).overdue_since is None
    assert world.db_application(unsent).due_at == beijing(2026, 12, 11, 23, 59)
    assert world.fire(unsent, "submit", "zj_staff").status_code == 200
