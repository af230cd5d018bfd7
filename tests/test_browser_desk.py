"""Issue 11 in Chromium: a province recommends several counties at once, beyond its quota, and reads each
result; the clerk compares two rounds. Screenshots land in test-output/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot
from tests.factories import build_world
from tests.test_browser import login

pytestmark = pytest.mark.pg_only  # a browser suite: heavy, run on PostgreSQL only


def test_a_bulk_recommend_beyond_the_quota(app, client, new_page):
    world = build_world(app, client, province_quota=1)
    ids = []
    for clerk in ("zj", "zj2"):  # 德清县 changed last: first in the list (latest change first)
        app_id = world.new_application(f"{clerk}_staff")
        world.walk(app_id, ("submit", f"{clerk}_staff"), ("county_approve", f"{clerk}_leader"))
        ids.append(app_id)
    page = new_page()
    login(page, "zj_reviewer")
    expect(page.locator("#quota-tasks")).to_contain_text("已用 0 个，共 1 个，剩余 1 个")
    page.goto("/applications?state=province_review")
    expect(page.locator("#quota-list")).to_contain_text("剩余 1 个")
    page.get_by_label("全选本页").check()
    page.get_by_label("对下方勾选的申报").select_option("province_recommend")
    page.get_by_role("button", name="批量办理…").click()

    # the confirmation lists both in the order they will be taken, and who receives them next
    expect(page.get_by_role("heading", name="批量办理：省级推荐")).to_be_visible()
    rows = page.locator("#bulk-items tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("德清县")
    expect(rows.nth(0)).to_contain_text("下一步：科技部")
    page.get_by_label("审核意见（各件共用）").fill("经审核，材料齐全，同意推荐。")
    page.get_by_role("button", name="省级推荐（2 件）").click()

    expect(page.locator("#bulk-summary")).to_have_text("1 件办理成功，1 件未办理。")
    results = page.locator("#bulk-results tbody tr")
    expect(results.nth(0)).to_contain_text("德清县")
    expect(results.nth(0)).to_contain_text("成功")
    expect(results.nth(1)).to_contain_text("安吉县")
    expect(results.nth(1)).to_contain_text("未办理")
    expect(results.nth(1)).to_contain_text("本省在该批次的推荐名额（1 个）已用完：已用 1 个，剩余 0 个。")
    screenshot(page, "11-bulk-recommend-result")
    assert [world.db_application(i).state for i in ids] == ["province_review", "ministry_review"]


def test_recall_and_compare_two_rounds(world, new_page):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"), ("province_return", "zj_reviewer"))
    world.upload(app_id, "self_assessment_report", name="自评报告（修订）.pdf")
    world.walk(app_id, ("submit", "zj_staff"))
    clerk = new_page()
    login(clerk, "zj_staff")
    clerk.goto(f"/applications/{app_id}")
    # the clerk takes it back (撤回) before the leader acts: still a draft with everything in it
    clerk.locator("form[data-trigger=recall]").get_by_role("button", name="撤回").click()
    expect(clerk.locator("#state-label")).to_have_text("草稿")
    clerk.get_by_role("link", name="与上一轮对比").click()
    expect(clerk.locator("#compare-summary")).to_contain_text("0 项指标、1 类材料有变化")
    row = clerk.locator('#compare-files tr[data-kind="self_assessment_report"]')
    expect(row).to_contain_text("已替换")
    expect(row).to_contain_text("自评报告（修订）.pdf")
    screenshot(clerk, "11-compare-two-rounds")
