"""The ministry half in a real browser: an expert scores from 我的评审; the ministry sees the
aggregate and sets the inspection; anyone objects on the public notice; the ministry resolves it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from kxflow.core import clock
from tests.browser import screenshot
from tests.factories import PASSWORD

pytestmark = pytest.mark.pg_only  # a browser suite: heavy, run on PostgreSQL only


def login(page, user: str, landing: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name=landing)).to_be_visible()


def test_expert_scores_and_the_ministry_sees_the_panel(world, new_page):
    app_id = world.new_application()
    seated = world.to_expert_review(app_id)
    for a, fraction in zip(seated[1:], (0.85, 0.8), strict=True):
        world.score(a["id"], world.name_of(a["expert_id"]), fraction)
    expert = new_page()
    login(expert, world.name_of(seated[0]["expert_id"]), "我的评审")
    expert.get_by_role("link", name="评分").click()
    inputs = expert.locator("#score-form input[type=number]")
    for i in range(inputs.count()):
        field = inputs.nth(i)
        field.fill(field.get_attribute("max"))
    expert.locator("#comment").fill("平台建设扎实，数据可信。")
    expert.get_by_role("button", name="保存评分").click()
    expect(expert.locator(".flash")).to_contain_text("评分已保存")
    expect(expert.locator("table")).to_contain_text("100")
    screenshot(expert, "10-expert-my-reviews")

    ministry = new_page()
    login(ministry, "ministry", "我的待办")
    ministry.goto(f"/applications/{app_id}")
    expect(ministry.locator("#panel-mean")).to_have_text("88.33")  # (100 + 85 + 80) / 3
    expect(ministry.locator("#panel-conflicting")).to_have_count(0)  # a spread of 20 is within the call's gap
    day = (clock.now() + timedelta(days=9)).date().isoformat()
    form = ministry.locator("#schedule-form")
    form.locator("#scheduled_on").fill(day)
    form.locator(f"#team-{world.ids['expert_bj']}").check()
    form.get_by_label("确认仍在当日考察").check()  # in case the day falls on a weekend or a holiday
    form.get_by_role("button", name="安排").click()
    expect(ministry.locator(".flash")).to_contain_text("考察已安排")
    ministry.locator("section.actions").get_by_role("button", name="专家评审通过，安排实地考察", exact=True).click()
    expect(ministry.locator("#state-label")).to_have_text("实地考察")
    screenshot(ministry, "11-ministry-after-expert-review")


def test_the_public_objects_and_the_ministry_resolves(world, new_page):
    app_id = world.new_application()
    world.to_publicity(app_id)
    public = new_page()
    public.goto("/public/notices")
    expect(public.locator("table")).to_contain_text("安吉县")
    public.get_by_role("link", name="提出异议").click()
    public.get_by_label("个人（须署真实姓名）").check()
    public.get_by_role("textbox", name="真实姓名").fill("赵六")
    public.get_by_label("电话或电子邮箱").fill("zhao@example.cn")
    public.get_by_label("异议内容及理由").fill("高新技术企业数量与公开名录不符。")
    public.get_by_role("button", name="提交异议").click()
    expect(public.locator(".flash")).to_contain_text("您的异议已收到")
    screenshot(public, "12-public-notice-after-objection")

    ministry = new_page()
    login(ministry, "ministry", "我的待办")
    ministry.goto(f"/applications/{app_id}")
    objections = ministry.locator("#objections")
    expect(objections).to_contain_text("赵六")
    objections.locator("textarea").fill("经核实，名录已于上月更新，数据无误。")
    objections.get_by_role("button", name="异议不成立").click()
    expect(ministry.locator("#objections")).to_contain_text("不成立：经核实")
    world.travel(clock.now() + timedelta(days=8))
    login(ministry, "ministry", "我的待办")  # eight days on, the session of before has run out
    ministry.goto(f"/applications/{app_id}")
    designate = ministry.locator("section.actions form:has(button:text-is('命名'))")
    designate.locator("input[name=confirm]").check()
    designate.get_by_role("button", name="命名", exact=True).click()
    expect(ministry.locator("#state-label")).to_have_text("已命名")
    public.goto("/public/counties")
    expect(public.locator("table")).to_contain_text("安吉县")
    screenshot(public, "13-public-roll")
