"""The walk of issue 3 in a real browser: clerk → leader → province returns → clerk fixes → … → ministry.

Each step asserts what the user sees: the state label, the timeline entry, the buttons offered.
Screenshots of the detail page and the task inbox land in test-output/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot
from tests.factories import EVIDENCE_KINDS, FULL_INDICATORS, PASSWORD
from tests.files import PDF

pytestmark = pytest.mark.pg_only  # a browser suite: heavy, run on PostgreSQL only


def login(page, user: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()


def buttons(page) -> list[str]:
    return page.locator("section.actions form button[type=submit]").all_inner_texts()


def act(page, action: str, comment: str | None = None, confirm: bool = False) -> None:
    form = page.locator(f"section.actions form:has(button:text-is('{action}'))")
    if comment is not None:
        form.locator("textarea").fill(comment)
    if confirm:
        form.locator("input[name=confirm]").check()
    form.get_by_role("button", name=action, exact=True).click()


def open_from_tasks(page, county: str = "安吉县") -> None:
    page.goto("/tasks")
    page.get_by_role("link", name=county).click()


def test_the_whole_walk_in_chinese(world, new_page, tmp_path):
    clerk, leader, province, ministry = new_page(), new_page(), new_page(), new_page()

    # the clerk opens an application from 我的待办 and fills the form
    login(clerk, "zj_staff")
    clerk.get_by_role("button", name="开始申报").click()
    expect(clerk.get_by_role("heading", name=re.compile("修改申报"))).to_be_visible()
    for key, value in FULL_INDICATORS.items():
        field = clerk.locator(f"#f-{key}")
        if key == "leadership_group_top_leader":
            field.select_option("true")
        elif key == "latest_assessment_result":
            field.select_option(value)
        else:
            field.fill(str(value))
    expect(clerk.locator("#score")).to_have_text("90.1")  # computed while typing
    clerk.get_by_role("button", name="保存").click()
    expect(clerk.get_by_text("已保存。")).to_be_visible()
    for kind in EVIDENCE_KINDS:  # the required files, and the evidence of the platforms it reports
        path = tmp_path / f"{kind}.pdf"
        path.write_bytes(PDF)
        row = clerk.locator(f"form:has(input[name=kind][value={kind}])")
        row.locator("input[type=file]").set_input_files(str(path))
        row.get_by_role("button", name="上传").click()
        expect(clerk.get_by_text(f"已上传 {kind}.pdf。")).to_be_visible()
    expect(clerk.get_by_text("没有了：可以在申报页面提交。")).to_be_visible()
    clerk.get_by_role("link", name="返回申报页面").click()
    expect(clerk.locator("#state-label")).to_have_text("草稿")
    assert buttons(clerk) == ["提交", "放弃申报"]
    # 提交 says who receives it next and asks to be confirmed
    expect(clerk.locator("form[data-trigger=submit]")).to_contain_text("下一步：安吉县 · 县政府领导（县级审核）")
    act(clerk, "提交", confirm=True)
    expect(clerk.get_by_text("已完成：提交。 下一步：安吉县 · 县政府领导（县级审核）。")).to_be_visible()
    expect(clerk.locator("#state-label")).to_have_text("县级审核")
    expect(clerk.locator("#timeline li").first).to_contain_text("提交 — 草稿 → 县级审核")
    assert buttons(clerk) == ["放弃申报", "撤回"]  # until the leader acts, the clerk may take it back (撤回)

    # the county leader approves from their inbox
    login(leader, "zj_leader")
    screenshot(leader, "01-leader-task-inbox")
    open_from_tasks(leader)
    assert buttons(leader) == ["县级审核通过", "县级退回", "放弃申报"]
    act(leader, "县级审核通过")
    expect(leader.locator("#state-label")).to_have_text("省级审核")

    # the province returns it with a reason
    login(province, "zj_reviewer")
    open_from_tasks(province)
    assert buttons(province) == ["省级推荐", "省级退回", "省级不予推荐"]
    act(province, "省级退回")  # without the reason: refused, nothing moves
    expect(province.locator("#state-label")).to_have_text("省级审核")
    act(province, "省级退回", comment="请补充科技特派员名单及财政支出凭证")
    expect(province.locator("#state-label")).to_have_text("草稿")

    # the clerk sees the return in 我的待办, fixes and resubmits
    clerk.goto("/tasks")
    row = clerk.locator("tr", has_text="安吉县")
    expect(row).to_contain_text("草稿")
    expect(row).to_contain_text("退回 1 次")
    screenshot(clerk, "02-clerk-task-inbox-after-return")
    row.get_by_role("link", name="安吉县").click()
    expect(clerk.locator("#timeline")).to_contain_text("请补充科技特派员名单及财政支出凭证")
    clerk.get_by_role("link", name="修改指标与材料").click()
    clerk.locator("#f-st_commissioners").fill("65")
    clerk.get_by_role("button", name="保存").click()
    expect(clerk.get_by_text("已保存。")).to_be_visible()
    clerk.get_by_role("link", name="返回申报页面").click()
    act(clerk, "提交", confirm=True)
    expect(clerk.locator("#state-label")).to_have_text("县级审核")

    open_from_tasks(leader)
    act(leader, "县级审核通过")
    open_from_tasks(province)
    act(province, "省级推荐", comment="同意推荐")
    expect(province.locator("#state-label")).to_have_text("部级形式审查")

    # the ministry accepts
    login(ministry, "ministry")
    open_from_tasks(ministry)
    assert buttons(ministry) == ["形式审查通过", "部级退回", "形式审查不通过"]
    expect(ministry.locator("#auto-panel")).to_have_count(0)  # the panel comes after the formal review
    act(ministry, "形式审查通过")  # passes on its own
    expect(ministry.locator("#state-label")).to_have_text("专家评审")
    ministry.locator("#auto-panel").click()
    expect(ministry.locator("#panel tbody tr")).to_have_count(3)
    timeline = ministry.locator("#timeline li")
    # submit, approve, return, submit, approve, recommend, accept (the return without reason never left the
    # page), then the three seats of the panel
    expect(timeline).to_have_count(10)
    expect(timeline.nth(7)).to_contain_text("专家入组")
    expect(timeline.nth(6)).to_contain_text("形式审查通过 — 部级形式审查 → 专家评审")
    expect(timeline.nth(5)).to_contain_text("同意推荐")
    # the step bar says where it stands: five stages done, expert review now
    expect(ministry.locator("#steps .step.done")).to_have_count(4)
    expect(ministry.locator('#steps [aria-current="step"]')).to_contain_text("专家评审")
    # the whole diagram comes on demand, as a drawing from the server (no script), and it is drawn
    diagram = ministry.locator("#workflow-diagram img")
    expect(diagram).not_to_be_visible()
    ministry.locator("#workflow-diagram summary").click()
    expect(diagram).to_be_visible()
    # a function, not an expression: Playwright re-evaluates an expression with eval on every poll after the
    # first, which the page's CSP refuses (EvalError, seen under load); a function is evaluated once
    ministry.wait_for_function("() => document.querySelector('#workflow-diagram img').naturalWidth > 0")
    screenshot(ministry, "03-ministry-detail-after-acceptance")


def test_a_clerk_of_another_county_gets_404(world, new_page):
    app_id = world.new_application("zj_staff")
    page = new_page()
    login(page, "zj2_staff")
    response = page.goto(f"/applications/{app_id}")
    assert response.status == 404
    expect(page.get_by_role("heading")).to_contain_text("未找到")
    assert "Traceback" not in page.content()


def test_posts_without_a_csrf_token_are_refused(world, new_page):
    app_id = world.new_application("zj_staff")
    page = new_page()
    login(page, "zj_staff")
    r = page.request.post(f"/applications/{app_id}/transitions", form={"trigger": "submit"})
    assert r.status == 400
    assert world.db_application(app_id).state == "draft"
    r = page.request.post("/login", form={"username": "zj_staff", "password": PASSWORD})
    assert r.status == 400


def test_english_on_the_switch(world, new_page):
    app_id = world.new_application("zj_staff")
    page = new_page()
    login(page, "zj_staff")
    page.get_by_role("link", name="English").click()
    page.goto(f"/applications/{app_id}")
    expect(page.locator("#state-label")).to_have_text("Draft")
    assert buttons(page) == ["Submit", "Give up the application"]
