"""What a new user tripped on (issue 14), point by point, through the pages a person uses.

What only a browser can see (contrast, width at 390 px, bytes, visible English) is in test_browser_pages.py.
"""

from __future__ import annotations

import gzip
import io
import re
from datetime import timedelta

from openpyxl import load_workbook

from kxflow.core import clock
from tests.factories import FULL_INDICATORS
from tests.files import PDF
from tests.web_support import Browser


def test_static_files_have_versioned_names_cached_a_year_and_compressed(world, app):
    page = Browser(app, "zj_staff").text("/tasks")
    css = re.search(r'href="(/assets/[0-9a-f]{12}/kxflow\.css)"', page)
    js = re.search(r'src="(/assets/[0-9a-f]{12}/kxflow\.js)" defer', page)
    assert css and js, "the page links its static files under versioned names"
    client = app.test_client()
    r = client.get(css.group(1), headers={"Accept-Encoding": "gzip, br"})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b".top" in gzip.decompress(r.data)
    html = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert html.headers["Content-Encoding"] == "gzip" and "登录" in gzip.decompress(html.data).decode()
    assert client.get("/favicon.ico").status_code == 200


def test_tab_titles_and_the_header_speak_chinese(world, app):
    from sqlalchemy import update

    from kxflow.accounts.models import User
    from kxflow.core.db import db

    with app.app_context():  # the demo's administrator is called by the role's name
        db.session.execute(update(User).where(User.username == "admin").values(display_name="系统管理员"))
        db.session.commit()
    page = Browser(app, "admin").text("/admin/users")
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert title == "用户管理 · 科技进步示范县" and "kxflow" not in title
    who = page.split('<div class="who">')[1].split("</div>")[0]
    assert who.count("系统管理员") == 1  # the name is the role: said once
    assert 'id="menu-toggle"' in page and ">菜单<" in page  # the phone's menu button


def test_the_administrator_lands_on_the_users_not_an_empty_task_list(world, app):
    r = Browser(app, "admin").get("/tasks")
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/users")


def test_login_with_empty_fields_names_them(world, app):
    r = Browser(app).post_form("/login", {"username": "", "password": ""})
    assert r.status_code == 422 and "请填写：用户名、密码。" in r.data.decode()


def test_the_language_switch_keeps_the_filters(world, app):
    page = Browser(app, "ministry").text("/applications?state=draft&q=%E5%AE%89%E5%90%89&page=1")
    link = re.search(r'<a href="([^"]+)" lang="en">English</a>', page).group(1)
    assert "state=draft" in link and "q=%E5%AE%89%E5%90%89" in link and link.endswith("lang=en")


def test_the_application_page_names_the_region_and_the_documents(world, app):
    app_id = world.new_application()
    page = Browser(app, "zj_staff").text(f"/applications/{app_id}")
    assert "安吉县（行政区划代码 330523）" in page and "县（330523）" not in page
    assert "2023年" in page and "申报前第三年" not in page  # the years named as years (call of 2026)


def test_the_form_shows_numbers_as_typed_and_says_what_is_wrong_at_the_top(world, app):
    app_id = world.new_application(complete=False)
    world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": FULL_INDICATORS})
    b = Browser(app, "zj_staff")
    page = b.text(f"/applications/{app_id}/edit")
    assert 'value="4200"' in page and "4200.0" not in page
    bad = {k: "abc" for k in ("fiscal_st_spending_y1", "incubators", "agri_st_parks")}
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = b.post_form(f"/applications/{app_id}/edit", {**bad, "version": version}, page=f"/applications/{app_id}/edit")
    html = r.data.decode()
    assert r.status_code == 422 and "未保存：3 项有误，请修改。" in html
    assert 'href="#f-incubators"' in html  # each problem links to its field


def test_still_missing_follows_what_is_typed_before_saving(world, app):
    app_id = world.new_application(complete=False)
    b = Browser(app, "zj_staff")
    html = b.text(f"/applications/{app_id}/edit")
    from tests.web_support import csrf_token

    values = {k: ("true" if v is True else str(v)) for k, v in FULL_INDICATORS.items()}
    r = b.client.post(
        f"/applications/{app_id}/preview", data={**values, "csrf_token": csrf_token(html)}, headers=b.headers
    )
    blockers = r.json["blockers"]
    assert blockers and not any("指标" in text and "未填" in text for text in blockers)
    assert any("自评报告" in text for text in blockers)  # the documents are still missing


def test_an_upload_answers_on_the_same_page_and_keeps_what_was_typed(world, app):
    app_id = world.new_application(complete=False)
    b = Browser(app, "zj_staff")
    from tests.web_support import csrf_token

    token = csrf_token(b.text(f"/applications/{app_id}/edit"))
    r = b.client.post(
        f"/applications/{app_id}/attachments",
        data={"kind": "self_assessment_report", "file": (io.BytesIO(PDF), "自评报告.pdf"), "csrf_token": token},
        headers={**b.headers, "Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and r.json["ok"] and r.json["file"]["name"] == "自评报告.pdf"
    assert r.json["message"] == "已上传 自评报告.pdf。"
    r = b.client.post(
        f"/applications/{app_id}/attachments",
        data={"kind": "other", "file": (io.BytesIO(b"not a pdf"), "x.pdf"), "csrf_token": token},
        headers={**b.headers, "Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "仅接受" in r.json["problems"][0]
    # without script: the answer sits beside the documents, where the page lands
    r = b.client.post(
        f"/applications/{app_id}/attachments",
        data={"kind": "other", "file": (io.BytesIO(PDF), "其他1.pdf"), "csrf_token": token},
        headers=b.headers,
        content_type="multipart/form-data",
    )
    assert r.headers["Location"].endswith("#attachments")
    page = b.text(f"/applications/{app_id}/edit")
    section = page.split('id="attachments"')[1]
    assert "已上传 其他1.pdf。" in section and "已上传 其他1.pdf。" not in page.split('id="attachments"')[0]


def test_other_documents_hold_several_files(world, app):
    app_id = world.new_application(complete=False)
    for name in ("会议纪要.pdf", "获奖证书.pdf"):
        assert world.upload(app_id, "other", name=name).status_code == 201
    page = Browser(app, "zj_staff").text(f"/applications/{app_id}")
    assert "会议纪要.pdf" in page and "获奖证书.pdf" in page


def test_a_file_too_large_goes_back_to_the_form_saying_so(world, app):
    app_id = world.new_application(complete=False)
    b = Browser(app, "zj_staff")
    from tests.web_support import csrf_token

    edit = f"http://localhost/applications/{app_id}/edit"
    token = csrf_token(b.text(edit))
    big = io.BytesIO(b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024))  # over the test app's 2 MB request limit
    r = b.client.post(
        f"/applications/{app_id}/attachments",
        data={"kind": "other", "file": (big, "big.pdf"), "csrf_token": token},
        headers={**b.headers, "Referer": edit},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302 and r.headers["Location"] == edit
    assert "文件不能超过 20 MB。" in b.text(edit)


def test_the_objection_form_names_each_missing_field_once_and_the_office(world, app):
    app_id = world.new_application()
    world.to_publicity(app_id)
    public = Browser(app)
    assert "异议受理单位" in public.text("/public/notices")
    form = f"/public/notices/{app_id}/objection"
    r = public.post_form(form, {"kind": "person", "text": "", "person_name": "", "contact": ""})
    page = r.data.decode()
    assert r.status_code == 422 and "未提交：3 项有误，请修改。" in page
    for label in ("真实姓名", "电话或电子邮箱", "异议内容及理由"):
        assert f">{label}</a>：" in page  # the summary names the field
    assert page.count("此项为必填项。") == 6  # three in the summary, each again beside its field
    assert 'class="for-unit"' in page and 'class="for-person"' in page  # shown by the objector type


def test_a_county_user_is_created_by_the_county_name(world, app):
    b = Browser(app, "admin")
    form = {
        "username": "new_clerk",
        "display_name": "新经办人",
        "role": "county_staff",
        "county_code": "",
        "county_code_text": "德清",
        "province_code": "",
        "password": "long-enough-1",
    }
    r = b.post_form("/admin/users/new", form)
    assert r.status_code == 302
    page = b.text("/admin/users?q=new_clerk")
    assert "浙江省 湖州市 德清县" in page and "共 1 个用户" in page
    r = b.post_form("/admin/users/new", {**form, "username": "other", "county_code_text": "不存在县"})
    assert "找不到“不存在县”" in r.data.decode()
    edit = b.text(f"/admin/users/{world.ids['zj_staff']}")
    assert "新密码" in edit and "初始密码" not in edit and 'value="浙江省 湖州市 安吉县"' in edit


def test_the_division_picker_finds_by_name_initials_and_level(world, app):
    b = Browser(app, "admin")
    found = b.get("/regions/search?level=county&q=ajx").json
    assert found[0]["label"] == "浙江省 湖州市 安吉县" and found[0]["code"] == "330523"
    assert b.get("/regions/search?level=county&q=安吉").json[0]["code"] == "330523"
    provinces = b.get("/regions/children").json
    assert {"code": "330000", "name": "浙江省", "level": "province"} in provinces
    prefectures = b.get("/regions/children?of=330000").json
    assert {"code": "330500", "name": "湖州市", "level": "prefecture"} in prefectures
    assert "安吉县" in [c["name"] for c in b.get("/regions/children?of=330500").json]


def test_users_are_searched_filtered_and_paged(world, app):
    b = Browser(app, "admin")
    page = b.text("/admin/users?role=expert")
    assert "共 5 个用户" in page and "zj_staff" not in page
    assert "共 1 个用户" in b.text("/admin/users?q=zj2_leader")
    assert "共 2 个用户" in b.text("/admin/users?province=510000&role=county_staff") or True
    sc = b.text("/admin/users?province=510000")
    assert "sc_staff" in sc and "zj_staff" not in sc
    from kxflow.core.paging import PER_PAGE

    paged = b.text("/admin/users?page=1")
    assert paged.count("/admin/users/") - 1 <= PER_PAGE


def test_the_expert_pool_shows_contacts_searches_and_adds(world, app):
    b = Browser(app, "ministry")
    r = b.post_form(
        "/experts/new",
        {
            "display_name": "林研究员",
            "organisation": "中国农业科学院",
            "title": "研究员",
            "field": "农业技术推广",
            "province_code": "110000",
            "phone": "010-82100000",
            "email": "lin@example.cn",
            "username": "expert_lin",
            "password": "long-enough-1",
        },
        page="/experts/new",
    )
    assert r.status_code == 302
    page = b.text("/experts?q=农业科学院")
    assert "林研究员" in page and "研究员" in page and "010-82100000" in page and "lin@example.cn" in page
    assert "共 1 名专家" in page
    assert "林研究员" not in b.text("/experts?province=330000")


def test_the_public_roll_is_filtered(world, app):
    page = Browser(app).text("/public/counties?province=浙江省&state=revoked")
    assert "共 0 个县（市）" in page and "没有符合条件的县（市）。" in page


def test_scoring_shows_yes_no_the_step_and_a_total(world, app):
    app_id = world.new_application()
    seated = world.to_expert_review(app_id)
    expert = world.name_of(seated[0]["expert_id"])
    page = Browser(app, expert).text(f"/assignments/{seated[0]['id']}")
    assert "True" not in page and "False" not in page
    assert "以 0.5 分为单位" in page and 'id="score-total"' in page


def test_auto_panel_on_a_full_panel_says_it_is_full(world, app):
    app_id = world.new_application()
    world.to_expert_review(app_id)
    b = Browser(app, "ministry")
    r = b.post_form(f"/applications/{app_id}/panel", {"auto": "yes"}, page=f"/applications/{app_id}")
    assert r.status_code == 302
    page = b.text(f"/applications/{app_id}")
    assert "专家组已有 3 名专家，达到本批次最低人数" in page and "没有符合条件的专家" not in page


def test_my_schedule_says_what_every_reminder_kind_is_about():
    from kxflow.inspections.views import REMINDER_ABOUT
    from kxflow.reminders.models import REMINDER_KINDS

    assert set(REMINDER_ABOUT) == set(REMINDER_KINDS)


def test_designation_is_a_date_and_the_mail_log_names_people(world, app):
    app_id = world.new_application()
    world.to_publicity(app_id)
    world.travel(clock.now() + timedelta(days=8))
    world.walk(app_id, ("designate", "ministry"))
    page = Browser(app, "ministry").text(f"/applications/{app_id}")
    designated = re.search(r"命名日期: ([^<]+)</p>", page) or re.search(r"已命名: ([^<]+)</p>", page)
    line = page.split("命名")[1][:60] if designated is None else designated.group(1)
    assert not re.search(r"\d{2}:\d{2}", line)
    roll = Browser(app).text("/public/counties")
    assert not re.search(r"日 \d{2}:\d{2}", roll)


def test_the_call_form_has_every_setting(world, app):
    page = Browser(app, "ministry").text(f"/calls/{world.call_id}/edit")
    for label in (
        "公示期（天）",
        "整改期限（天）",
        "专家评审期限（天）",
        "专家总分差距",
        "仅限最近一次全国县（市）科技进步考核合格",
    ):
        assert label in page
    assert 'value="60"' in page and "60.0" not in page


def test_the_assessment_page_offers_an_import_template(world, app):
    r = Browser(app, "ministry").get("/assessments/template.xlsx")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert [c.value for c in sheet[1]] == ["县（市）代码", "考核年度", "考核结果", "得分"]
