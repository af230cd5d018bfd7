"""Lists that scale: the calls, 我的评审 and 通知 are searchable, filterable and paged, and keep their
filters across pages and the language switch."""

from __future__ import annotations

from datetime import timedelta

from kxflow.core import clock
from tests.factories import open_call
from tests.web_support import Browser


def _calls(app, world, n: int) -> None:
    with app.app_context():
        now = clock.now()
        for i in range(n):
            opens = now + timedelta(days=40 + i)  # announced, not open yet
            open_call(
                world,
                title=f"{2030 + i}年度专项申报",
                year=2030 + i,
                opens_at=opens,
                county_deadline=opens + timedelta(days=30),
                province_deadline=opens + timedelta(days=45),
            )


def test_the_calls_list_is_searched_filtered_and_paged(world, app):
    _calls(app, world, 31)
    county = Browser(app, "zj_staff")
    page = county.text("/calls")
    assert "共 32 个批次" in page and "第 1 页，共 2 页" in page
    assert page.count("<tr><td>") == 30
    page = county.text("/calls?q=2031")
    assert "共 1 个批次" in page and "2031年度专项申报" in page and "2032年度" not in page
    page = county.text("/calls?status=open")
    assert "共 1 个批次" in page and "县级申报中" in page and "2026年度国家科技进步示范县（市）申报" in page
    page = county.text("/calls?status=upcoming&page=2")
    assert "第 2 页，共 2 页" in page and 'href="?status=upcoming&amp;page=1"' in page
    page = county.text("/calls?q=不存在的批次")
    assert "没有符合条件的批次。" in page
    # the language switch keeps the filters
    page = county.text("/calls?q=2031&lang=en")
    assert "2031年度专项申报" in page and "1 calls" in page


def test_my_reviews_are_searched_by_county_and_filtered_by_what_is_left_to_do(world, app):
    anji = world.new_application("zj_staff")
    panel = world.to_expert_review(anji)
    daye = world.new_application("sc_staff")
    world.to_ministry(daye, county="sc")
    world.walk(daye, ("ministry_accept", "ministry"))
    world.seat_panel(daye)
    expert = world.name_of(panel[0]["expert_id"])
    assert world.score(panel[0]["id"], expert).status_code == 200
    b = Browser(app, expert)
    page = b.text("/assignments")
    assigned = page.count('href="/assignments/')
    assert assigned >= 1 and f"共 {assigned} 项评审任务" in page
    page = b.text("/assignments?status=scored")
    assert "共 1 项评审任务" in page and "安吉县" in page
    page = b.text("/assignments?q=安吉")
    assert "安吉县" in page and "大邑县" not in page
    page = b.text("/assignments?q=不存在")
    assert "没有符合条件的评审任务。" in page
    page = b.text("/assignments?status=closed")
    assert "共 0 项评审任务" in page


def test_notifications_are_searched_by_county_and_filtered_by_status_and_kind(world, app):
    anji = world.new_application("zj_staff")
    world.fire(anji, "submit", "zj_staff")
    daye = world.new_application("sc_staff")
    world.walk(daye, ("submit", "sc_staff"), ("county_approve", "sc_leader"))
    world.fire(anji, "county_approve", "zj_leader")
    b = Browser(app, "zj_reviewer")  # told of 安吉县's arrival
    page = b.text("/notifications")
    assert "安吉县" in page and "共 1 条通知" in page
    assert "安吉县" in b.text("/notifications?q=安吉&status=unread&kind=action_required")
    page = b.text("/notifications?q=大邑")
    assert "没有符合条件的通知。" in page and "共 0 条通知" in page
    assert "没有符合条件的通知。" in b.text("/notifications?status=read")
    page = b.text("/notifications?status=bogus&kind=bogus")  # unknown filters are ignored, not a 500
    assert "共 1 条通知" in page


def test_my_tasks_are_searched_filtered_to_the_overdue_and_paged(world, app):
    anji = world.new_application("zj_staff")
    world.walk(anji, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    daye = world.new_application("sc_staff")
    world.walk(daye, ("submit", "sc_staff"), ("county_approve", "sc_leader"))
    b = Browser(app, "zj_reviewer")
    page = b.text("/tasks")
    assert "共 1 件待您办理" in page and "安吉县" in page and "大邑县" not in page  # scope as before
    assert "没有符合条件的待办。" in b.text("/tasks?q=德清")
    assert "安吉县" in b.text(f"/tasks?q=安吉&call_id={world.call_id}")
    assert "没有符合条件的待办。" in b.text("/tasks?overdue=1")
    world.travel(clock.now() + timedelta(days=60))  # past the province's deadline (and the session's end)
    page = Browser(app, "zj_reviewer").text("/tasks?overdue=1")
    assert "共 1 件待您办理" in page and "安吉县" in page


def test_my_schedule_is_searched_by_county_and_filtered_by_what_it_is_about(world, app):
    world.new_application("zj_staff")
    b = Browser(app, "zj_staff")
    page = b.text("/schedule")
    assert "暂无提醒。" not in page and "县级截止时间" in page
    assert "暂无提醒。" in b.text("/schedule?q=德清")
    assert "暂无提醒。" not in b.text("/schedule?q=安吉&kind=county_deadline")
    assert "暂无提醒。" in b.text("/schedule?kind=rectification_due")
