"""In a real browser: the county's 整改报告 during rectification, and what a province sees of its counties —
the applications sent to it, and of the drafts only counts and due dates (with 延期 and 催办)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from kxflow.core import clock
from kxflow.core.fields import CHINA
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.files import PDF

pytestmark = pytest.mark.pg_only  # Chromium walks run once, on PostgreSQL


def login(page, user: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()


def rectifying(world) -> int:
    """安吉县, designated, failed its re-check: in rectification with a deadline 90 days on."""
    app_id = world.new_application()
    world.db_state(app_id, "designated")
    inspection_id = world.set_inspection(app_id, kind="recheck", team=("expert_bj",), days=1)
    assert world.report(inspection_id, result="unsatisfactory").status_code == 200
    deadline = (clock.now() + timedelta(days=90)).astimezone(CHINA).replace(microsecond=0).isoformat()
    assert (
        world.fire(app_id, "fail_recheck", "ministry", comment="科技投入连续下降", deadline=deadline).status_code == 200
    )
    return app_id


def test_the_county_submits_its_rectification_report_and_the_ministry_reads_it(world, new_page, tmp_path):
    app_id = rectifying(world)
    clerk = new_page()
    login(clerk, "zj_staff")
    clerk.goto("/applications")
    clerk.get_by_role("link", name="安吉县").click()
    expect(clerk.locator("#state-label")).to_have_text("整改")
    section = clerk.locator("#rectification")
    expect(section).to_contain_text("尚未提交整改报告")
    expect(section).to_contain_text("整改期限")
    section.get_by_label("整改情况").fill("已恢复财政科技投入增长，2026年本级财政科技支出较上年增长18%。")
    path = tmp_path / "整改报告.pdf"
    path.write_bytes(PDF)
    section.get_by_label(re.compile("整改报告及佐证材料")).set_input_files(str(path))
    section.get_by_role("button", name="提交整改报告").click()
    expect(clerk.locator(".flash")).to_contain_text("整改报告已提交")
    expect(clerk.locator("#rectification .rectification-report")).to_contain_text("较上年增长18%")
    expect(clerk.locator("#rectification").get_by_role("link", name="整改报告.pdf")).to_be_visible()
    expect(clerk.locator("#timeline")).to_contain_text("提交整改报告")
    screenshot(clerk, "20-county-rectification-report")

    ministry = new_page()
    login(ministry, "ministry")
    ministry.goto(f"/applications/{app_id}")
    expect(ministry.locator("#rectification")).to_contain_text("较上年增长18%")
    expect(ministry.locator("#rectification form")).to_have_count(0)  # the county's to write, not the ministry's
    expect(ministry.locator("#schedule-form")).to_be_visible()  # it schedules the re-check from here
    screenshot(ministry, "21-ministry-reads-rectification-report")


def test_the_province_sees_what_was_sent_and_counts_the_rest(world, new_page):
    sent = world.new_application("zj_staff")
    world.walk(sent, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    unsent = world.new_application("zj2_staff")
    world.fire(unsent, "submit", "zj2_staff")  # with 德清县's leader: not sent to the province yet
    province = new_page()
    login(province, "zj_reviewer")
    tasks = province.locator("main")
    expect(tasks.locator("table").first).to_contain_text("安吉县")
    follow = province.locator("#follow-up-table")
    expect(follow).to_contain_text("德清县")
    expect(follow).not_to_contain_text("安吉县")
    screenshot(province, "22-province-tasks-and-follow-up")
    province.goto("/applications")
    expect(province.locator("main table")).to_contain_text("安吉县")
    expect(province.locator("main table")).not_to_contain_text("德清县")
    response = province.goto(f"/applications/{unsent}")
    assert response.status == 404  # its content stays with the county until it is sent
    province.goto("/tasks")
    row = province.locator("#follow-up-table tr", has_text="德清县")
    due = (world.db_application(unsent).due_at + timedelta(days=10)).astimezone(CHINA).date().isoformat()
    row.locator("input[type=date]").fill(due)
    row.get_by_placeholder("理由").fill("县政府常务会议延后")
    row.get_by_role("button", name="延期").click()
    expect(province.locator(".flash")).to_contain_text("已延期")
    province.locator("#follow-up-table tr", has_text="德清县").get_by_role("button", name="催办").click()
    expect(province.locator(".flash")).to_contain_text("已提醒当前办理人")
    screenshot(province, "23-province-after-extension-and-press")
    leader = new_page()
    login(leader, "zj2_leader")
    leader.goto(f"/applications/{unsent}")
    expect(leader.locator("#timeline")).to_contain_text("延期")
    expect(leader.locator("#timeline")).to_contain_text("县政府常务会议延后")
