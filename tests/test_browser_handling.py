"""Issue 11 in a real browser: a province reviewer claims an application, asks a colleague for an opinion
(委派), the colleague records it, and the reviewer decides. Screenshots land in test-output/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot
from tests.test_browser import act, login
from tests.test_handling import add_user

pytestmark = pytest.mark.pg_only  # a browser suite: heavy, run on PostgreSQL only


def test_claim_delegate_opinion_decide(world, new_page):
    add_user(world, "zj_reviewer2", "province_reviewer", province="330000", display="王审核")
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    reviewer, colleague = new_page(), new_page()

    login(reviewer, "zj_reviewer")
    reviewer.goto(f"/applications/{app_id}")
    expect(reviewer.locator("#handler")).to_have_text("浙江省 · 省科技厅审核人")
    reviewer.get_by_role("button", name="认领").click()
    expect(reviewer.locator("#handler")).to_have_text("zj_reviewer")

    reviewer.locator("#delegate summary").click()
    reviewer.get_by_label("同事").first.select_option(label="王审核")
    reviewer.get_by_label("审阅要点（选填）").fill("请核对财政科技支出佐证")
    reviewer.get_by_role("button", name="委派", exact=True).click()
    expect(reviewer.get_by_text("王审核 正在审阅并填写意见")).to_be_visible()

    # the colleague sees who holds it, may not decide, and records an opinion
    login(colleague, "zj_reviewer2")
    colleague.goto(f"/applications/{app_id}")
    expect(colleague.locator("#handler")).to_have_text("zj_reviewer")
    colleague.get_by_label("您的意见（由办理人决定）").fill("佐证齐全，同意推荐")
    colleague.get_by_role("button", name="提交意见").click()
    expect(colleague.get_by_text("已记录意见")).to_be_visible()

    # the reviewer reads the opinion on the timeline and decides
    reviewer.goto(f"/applications/{app_id}")
    timeline = reviewer.locator("#timeline")
    expect(timeline).to_contain_text("委派意见")
    expect(timeline).to_contain_text("佐证齐全，同意推荐")
    screenshot(reviewer, "handling-opinion-back")
    act(reviewer, "省级推荐")
    expect(reviewer.locator("#state-label")).to_have_text("部级形式审查")
    expect(reviewer.locator("#handler")).to_have_text("科技部工作人员")
    assert screenshot(reviewer, "handling-decided").exists()


def test_the_overdue_filter_sits_on_one_line_with_its_label_on_a_phone(world, new_page):
    world.new_application()  # a task for the clerk: the filters show
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "zj_staff")
    page.goto("/tasks")
    box = page.locator("#f-overdue")
    label = page.locator("label[for=f-overdue]")
    expect(box).to_be_visible()
    check, words = box.bounding_box(), label.bounding_box()
    screenshot(page, "tasks-filters-390")
    # the box and its words share one line: the box's middle within the label's height, and beside its text
    assert words["height"] < 2 * check["height"] + 16, (check, words)
    assert check["width"] < 40, check  # a box, not stretched across the screen
    assert page.get_by_label("仅看已逾期").is_visible()
    page.get_by_label("仅看已逾期").check()
    assert box.is_checked()
    page.set_viewport_size({"width": 1366, "height": 900})  # and on a desk, still beside its words
    check, words = box.bounding_box(), label.bounding_box()
    assert words["height"] < 2 * check["height"] + 16, (check, words)
    screenshot(page, "tasks-filters-1366")
