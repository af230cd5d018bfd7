"""The web pages, through the test client: what each role sees and what the forms refuse."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db
from tests.factories import PASSWORD, build_world, open_call
from tests.web_support import Browser


def test_login_failure_is_explained_in_chinese_and_rate_limited(world, app, monkeypatch):
    from kxflow.core.extensions import limiter

    limiter.reset()
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "5 per minute")
    b = Browser(app)
    r = b.post_form("/login", {"username": "zj_staff", "password": "wrong"})
    assert r.status_code == 401 and "用户名或密码错误，或账号已停用。" in r.data.decode()
    for _ in range(5):
        r = b.post_form("/login", {"username": "zj_staff", "password": "wrong"})
    assert r.status_code == 429
    page = r.data.decode()
    assert "尝试次数过多" in page and "<html" in page and "Traceback" not in page
    limiter.reset()


def test_pages_need_a_login(world, app):
    r = app.test_client().get("/tasks")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")


def test_inbox_lists_my_work_most_urgent_first_with_overdue_marked(app, client):
    world = build_world(app, client)
    early = world.new_application("zj_staff")
    world.walk(early, ("submit", "zj_staff"))
    with app.app_context():  # a second, older call whose county deadline has passed
        now = clock.now()
        late_call_id = open_call(
            world,
            title="上一批次",
            year=2025,
            opens_at=now - timedelta(days=60),
            county_deadline=now + timedelta(days=3),
            province_deadline=now + timedelta(days=40),
        )
    overdue = world.new_application("zj_staff", call_id=late_call_id)
    world.walk(overdue, ("submit", "zj_staff"))
    world.travel(clock.now() + timedelta(days=5))  # past the older call's county deadline
    html = Browser(app, "zj_leader").text("/tasks")
    rows = re.findall(r"<tr>\s*<td><a href=\"/applications/(\d+)\"", html)
    assert rows == [str(overdue), str(early)]
    assert "已逾期" in html and "剩余 25 天" in html
    assert "县级审核" in html


def test_list_filters_search_sort_and_pages(app, client):
    world = build_world(app, client)
    ids = {u: world.new_application(u) for u in ("zj_staff", "zj2_staff", "sc_staff")}
    world.api(
        "patch", f"/api/v1/applications/{ids['zj2_staff']}", "zj2_staff", json={"indicators": {"st_commissioners": 0}}
    )
    for user, county, reviewer in (
        ("zj_staff", "zj", "zj_reviewer"),
        ("zj2_staff", "zj2", "zj_reviewer"),
        ("sc_staff", "sc", "sc_reviewer"),
    ):
        world.walk(
            ids[user], ("submit", user), ("county_approve", f"{county}_leader"), ("province_recommend", reviewer)
        )
    world.fire(ids["zj_staff"], "ministry_return", "ministry", comment="推荐函缺盖章")
    b = Browser(app, "ministry")
    assert "共 3 项申报" in b.text("/applications")
    assert "共 1 项申报" in b.text("/applications?state=province_review")  # returned: the ministry still sees it
    page = b.text("/applications?q=德清")
    assert "德清县" in page and "安吉县" not in page
    page = b.text("/applications?province=510000")
    assert "大邑县" in page and "安吉县" not in page
    by_score = b.text("/applications?sort=score")
    assert by_score.index("安吉县") < by_score.index("德清县")  # 德清 reported no S&T commissioners
    assert "第 1 页" not in b.text("/applications")  # one page: no pager
    assert Browser(app, "zj_reviewer").text("/applications").count('href="/applications/') == 2


def test_calls_form_creates_and_refuses_bad_dates_and_quotas(world, app):
    b = Browser(app, "ministry")
    good = {
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
        "quota_330000": "5",
    }
    r = b.post_form("/calls/new", {**good, "county_deadline": "2026-12-31T17:00", "province_quota": "-1"})
    page = r.data.decode()
    assert r.status_code == 422
    assert "县级截止时间须晚于开放时间。" in page and "不能为负数。" in page
    with app.app_context():
        assert db.session.scalar(select(Call).where(Call.title == "2027年度申报")) is None
    r = b.post_form("/calls/new", good)
    assert r.status_code == 302
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.title == "2027年度申报"))
        assert call.quota_for("330000") == 5 and call.quota_for("510000") == 3
        assert call.division_types == ["县", "县级市"]
        assert call.opens_at.isoformat() == "2027-01-10T01:00:00+00:00"  # entered as Beijing time
    county = Browser(app, "zj_staff")
    page = county.text("/calls")  # every role reads the calls (a county needs them to apply)
    assert "2027年度申报" in page and "新建申报批次" not in page  # but only the ministry opens or changes one
    assert county.get("/calls/new").status_code == 403


def test_admin_creates_deactivates_and_rescopes_users(world, app):
    b = Browser(app, "admin")
    assert "zj_staff" in b.text("/admin/users")
    r = b.post_form(
        "/admin/users/new",
        {
            "username": "hz_clerk",
            "display_name": "杭州某县",
            "role": "county_staff",
            "county_code": "",
            "province_code": "",
            "password": "long-enough-1",
        },
    )
    assert r.status_code == 200 and "县级角色须选定所在县（市）：输入名称并从列表中选择。" in r.data.decode()
    r = b.post_form(
        "/admin/users/new",
        {
            "username": "hz_clerk",
            "display_name": "桐庐县经办人",
            "role": "county_staff",
            "county_code": "330122",
            "province_code": "",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 302
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == "hz_clerk"))
    Browser(app, "hz_clerk")  # can log in (asserts the redirect)
    r = b.post_form(
        f"/admin/users/{user_id}",
        {
            "display_name": "桐庐县经办人",
            "role": "province_reviewer",
            "county_code": "",
            "province_code": "330000",
            "password": "",
        },
    )
    assert r.status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.role, user.province_code, user.county_code, user.active) == (
            "province_reviewer",
            "330000",
            None,
            False,
        )
    login = Browser(app)
    r = login.post_form("/login", {"username": "hz_clerk", "password": PASSWORD})
    assert r.status_code == 401  # deactivated (the box was not ticked)
    assert Browser(app, "ministry").get("/admin/users").status_code == 403


def test_notifications_inbox_and_header_count(world, app):
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    b = Browser(app, "zj_leader")
    page = b.text("/notifications")
    assert "安吉县的申报已提交，现处于“县级审核”环节，请您办理。" in page
    assert 'aria-label="1 条未读"' in page
    notification_id = re.search(r"/notifications/(\d+)/open", page).group(1)
    r = b.post_form(f"/notifications/{notification_id}/open", {}, page="/notifications")
    assert r.status_code == 302 and r.headers["Location"] == f"/applications/{app_id}"
    assert "条未读" not in b.text("/notifications")


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        ("/admin/users", 403, "无权执行此操作"),
        ("/applications/999", 404, "未找到"),
        ("/calls/999/edit", 403, "无权执行此操作"),
    ],
)
def test_error_pages_are_in_the_apps_style_and_language(world, app, path, status, title):
    r = Browser(app, "zj_staff").get(path)
    page = r.data.decode()
    assert r.status_code == status and title in page and 'class="top"' in page and "Traceback" not in page


def test_409_page_when_someone_acted_first(world, app):
    app_id = world.new_application()
    leader = Browser(app, "zj_leader")
    clerk = Browser(app, "zj_staff")
    world.fire(app_id, "submit", "zj_staff")
    detail = leader.text(f"/applications/{app_id}")
    version = re.search(r'name="version" value="(\d+)"', detail).group(1)
    clerk.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "withdraw", "confirm": "yes", "comment": "本年度不再申报"},
        page=f"/applications/{app_id}",
    )
    r = leader.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "county_approve", "version": version},
        page=f"/applications/{app_id}",
    )
    page = r.data.decode()
    assert r.status_code == 409 and "他人已先行处理" in page and "刷新" in page
    assert world.db_application(app_id).state == "withdrawn"


def test_413_page_for_an_oversize_upload(world, app):
    app_id = world.new_application(complete=False)
    import io

    b = Browser(app, "zj_staff")
    r = b.post_form(
        f"/applications/{app_id}/attachments",
        {"kind": "other", "file": (io.BytesIO(b"%PDF-" + b"0" * (3 * 1024 * 1024)), "big.pdf")},
        page=f"/applications/{app_id}/edit",
    )
    assert r.status_code == 413 and "上传内容过大" in r.data.decode()


def test_500_page_hides_the_trace(world, app, monkeypatch):
    from kxflow.applications import queries

    def broken(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "tasks_filtered", broken)
    r = Browser(app, "zj_staff").get("/tasks")
    page = r.data.decode()
    assert r.status_code == 500 and "系统出错" in page and "secret internals" not in page


def test_irreversible_actions_need_the_confirmation_box(world, app):
    app_id = world.new_application()
    b = Browser(app, "zj_staff")
    r = b.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "withdraw", "comment": "本年度不再申报"},
        page=f"/applications/{app_id}",
        follow_redirects=True,
    )
    assert r.status_code == 422 and "请勾选确认：放弃申报。" in r.data.decode()
    assert world.db_application(app_id).state == "draft"


def test_form_errors_are_shown_beside_each_field(world, app):
    app_id = world.new_application(complete=False)
    b = Browser(app, "zj_staff")
    r = b.post_form(
        f"/applications/{app_id}/edit", {"fiscal_st_spending_y1": "很多", "st_commissioners": "-2", "incubators": "3"}
    )
    page = r.data.decode()
    assert r.status_code == 422
    assert re.search(r'id="e-fiscal_st_spending_y1"\s*>须为数字。', page)
    assert re.search(r'id="e-st_commissioners"\s*>不能为负数。', page)
    assert 'value="很多"' in page  # what was typed is kept
    assert world.db_application(app_id).indicators == {}


def test_preview_computes_without_saving(world, app):
    app_id = world.new_application(complete=False)
    b = Browser(app, "zj_staff")
    r = b.post_form(
        f"/applications/{app_id}/preview",
        {
            "fiscal_st_spending_y3": "6,300",
            "general_budget_expenditure_y3": "290000",
            "leadership_group_top_leader": "false",
        },
        page=f"/applications/{app_id}/edit",
    )
    assert r.json["computed"]["st_share_y3"] == "2.17"
    assert r.json["veto"] == ["成立由党委或政府主要领导任组长的科技领导小组"]
    assert world.db_application(app_id).indicators == {}


def test_english_switch_sticks(world, app):
    b = Browser(app, "zj_staff")
    assert "My tasks" in b.text("/tasks?lang=en")
    assert "My tasks" in b.text("/tasks")  # remembered in a cookie
    assert "我的待办" in b.text("/tasks?lang=zh")


def test_my_settings_page(world, app):
    b = Browser(app, "zj_staff")
    r = b.post_form("/settings", {"locale": "en", "email_all": "y"})
    assert r.status_code == 302
    assert "My tasks" in b.text("/tasks")  # the pages follow the chosen language
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "zj_staff"))
        assert (user.locale, user.email_all) == ("en", True)
    b.post_form("/settings", {"locale": ""})
    assert "我的待办" in b.text("/tasks")  # back to following the browser (Chinese here)


def test_a_district_clerk_is_not_offered_a_call_that_excludes_districts(world, app):
    """The list of calls to start from applies the same rule as opening one: the call's division types."""
    start = "开始申报"
    assert start in Browser(app, "zj_staff").text("/tasks")  # 安吉县, a 县: offered the call
    page = Browser(app, "district_staff").text("/tasks")  # 上城区, a 市辖区: the call admits no districts
    assert start not in page and "2026年度国家科技进步示范县（市）申报" not in page
