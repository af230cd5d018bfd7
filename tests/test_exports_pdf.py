"""Papers as a user prints and files them, and the long export a worker writes.

The PDFs are read back the way a person would read them: their text extracted with poppler's pdftotext (Chinese
included), their pages counted with pdfinfo, and the first page of each rendered to PNG under
test-output/papers/ to look at. Rendering is heavy: those tests run on PostgreSQL only, within the suite's cap.
Scope is checked on both databases (it is refused before anything is rendered).
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select, update
from werkzeug.serving import make_server

from kxflow import create_app
from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.extensions import limiter
from kxflow.core.fields import CHINA
from kxflow.core.security_log import SecurityEvent
from kxflow.papers import pdf
from kxflow.papers.models import Export
from kxflow.workflow.models import Application
from tests.browser import screenshot
from tests.factories import FULL_INDICATORS, PASSWORD
from tests.web_support import Browser

OUT = Path(__file__).resolve().parent.parent / "test-output" / "papers"


def read_pdf(body: bytes, name: str) -> tuple[str, int]:
    """The PDF's text (layout kept) and its page count; its first page saved as a PNG to look at."""
    assert body.startswith(b"%PDF-"), body[:200]
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.pdf"
    path.write_bytes(body)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True).stdout
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(path), str(OUT / name)])
    assert (OUT / f"{name}.png").stat().st_size > 5_000  # a page with something drawn on it
    return text.decode("utf-8"), pages


def footer_pages(text: str, pages: int) -> None:
    """Every page carries 第 n 页，共 N 页, N the real count."""
    for n in range(1, pages + 1):
        assert f"第 {n} 页，共 {pages} 页" in text, (n, pages)


def export_events(world) -> list[dict]:
    with world.app.app_context():
        return [e.detail for e in db.session.scalars(select(SecurityEvent).where(SecurityEvent.event == "export"))]


def sent_to_ministry(world) -> int:
    app_id = world.new_application()
    world.to_ministry(app_id)
    return app_id


# --- the 申报书 ---------------------------------------------------------------------------------


@pytest.mark.pg_only
def test_application_form_prints_the_version_submitted_with_boxes_to_sign_and_stamp(world, app):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_return", "zj_leader"))
    # the county changes a figure in the returned draft, then submits again: the form prints the new submission
    r = world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": {"st_commissioners": 45}})
    assert r.status_code == 200
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"), ("province_recommend", "zj_reviewer"))
    # a figure changed after the last submission (straight in the database: the draft is no longer editable)
    with app.app_context():
        changed = {**FULL_INDICATORS, "st_commissioners": 45, "tech_contract_turnover": 4321.5}
        db.session.execute(update(Application).where(Application.id == app_id).values(indicators=changed))
        db.session.commit()

    page = Browser(app, "zj_reviewer").text(f"/applications/{app_id}")
    assert "申报书（PDF）" in page
    r = Browser(app, "zj_reviewer").get(f"/applications/{app_id}/papers/application-form.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "attachment" in r.headers["Content-Disposition"]
    text, pages = read_pdf(r.data, "application-form")

    assert "国家科技进步示范县（市）申报书" in text
    assert "2026年度国家科技进步示范县（市）申报" in text
    assert "安吉县" in text and "浙江省" in text and "330523" in text
    # the indicators with the years named, computed values, the score of that submission
    assert "本级财政科技支出（2023年）" in text
    assert "科技特派员" in text and re.search(r"科技特派员\s+45\b", text)
    assert "3,000" in text and "4,321.5" not in text  # as submitted, not as changed since
    assert "科技支出占一般预算支出比例" in text
    with app.app_context():
        score = db.session.get(Application, app_id).score
    assert f"{score:.2f}".rstrip("0").rstrip(".") in text
    # the documents listed
    for label in ("自评报告", "财政科技支出证明材料", "科技领导小组成立文件", "科技平台证明材料"):
        assert label in text
    assert text.count("材料.pdf") == 4
    # the boxes to sign and stamp, with the sign-offs the system knows
    assert "县级人民政府意见" in text and "县人民政府（盖章）" in text
    assert "省级科技管理部门推荐意见" in text and "省科技厅（盖章）" in text
    assert "负责人签字" in text
    # A4, numbered pages; a cover and the form
    assert pages >= 2
    footer_pages(text, pages)
    info = subprocess.run(
        ["pdfinfo", str(OUT / "application-form.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info), info
    assert {"format": "pdf", "paper": "application_form", "application_id": app_id}.items() <= export_events(world)[
        -1
    ].items()


def test_a_province_cannot_print_another_provinces_application_form(world, app):
    app_id = sent_to_ministry(world)
    for user in ("sc_reviewer", "zj2_staff", "expert_bj"):
        r = Browser(app, user).get(f"/applications/{app_id}/papers/application-form.pdf")
        assert r.status_code == 404, user
    assert export_events(world) == []  # nothing was printed, nothing recorded


def test_a_draft_never_submitted_has_no_application_form_to_print(world, app):
    app_id = world.new_application()
    web = Browser(app, "zj_staff")
    assert "申报书（PDF）" not in web.text(f"/applications/{app_id}")
    r = web.get(f"/applications/{app_id}/papers/application-form.pdf")
    assert r.status_code == 409
    assert "尚未提交" in r.data.decode()


def test_without_the_chinese_fonts_the_paper_is_refused_with_what_to_install(world, app, monkeypatch):
    app_id = sent_to_ministry(world)
    monkeypatch.setattr(pdf, "_cjk_fonts_installed", lambda: False)
    monkeypatch.setattr(pdf._cjk_fonts_installed, "cache_clear", lambda: None, raising=False)
    r = Browser(app, "zj_staff").get(f"/applications/{app_id}/papers/application-form.pdf")
    assert r.status_code == 503
    assert "fonts-noto-cjk" in r.data.decode()


# --- the review summary -------------------------------------------------------------------------


@pytest.mark.pg_only
def test_review_summary_lists_every_experts_scores_and_the_weighted_mean(world, app):
    app_id = world.new_application()
    world.to_expert_review(app_id)
    world.score_panel(app_id)
    assert "专家评审意见汇总表（PDF）" in Browser(app, "ministry").text(f"/applications/{app_id}")
    assert "专家评审意见汇总表（PDF）" not in Browser(app, "zj_reviewer").text(f"/applications/{app_id}")
    r = Browser(app, "ministry").get(f"/applications/{app_id}/papers/review-summary.pdf")
    assert r.status_code == 200
    text, pages = read_pdf(r.data, "review-summary")
    assert "专家评审意见汇总表" in text and "安吉县" in text
    panel = world.api("get", f"/api/v1/applications/{app_id}/panel", "ministry").json
    mean = panel["aggregate"]["weighted_mean"]
    assert f"{mean:.2f}".rstrip("0").rstrip(".") in text
    for n in (1, 2, 3):
        assert f"专家{n}" in text
    assert "材料翔实" in text  # the experts' opinions
    assert "科技特派员" in text  # item by item
    footer_pages(text, pages)
    assert Browser(app, "zj_reviewer").get(f"/applications/{app_id}/papers/review-summary.pdf").status_code == 403


# --- a call's lists -----------------------------------------------------------------------------


@pytest.mark.pg_only
def test_publicity_and_designation_lists_of_a_call_scoped_to_the_reader(world, app):
    app_id = world.new_application()
    world.to_publicity(app_id)
    call = world.call_id

    ministry = Browser(app, "ministry")
    assert f"/calls/{call}/papers/publicity-list.pdf" in ministry.text("/papers")
    text, pages = read_pdf(ministry.get(f"/calls/{call}/papers/publicity-list.pdf").data, "publicity-list")
    assert "公示名单" in text and "2026年度国家科技进步示范县（市）申报" in text
    assert "安吉县" in text and "浙江省" in text and "湖州市" in text
    ends = world.db_application(app_id).publicity_ends_at.astimezone(CHINA).date()
    assert f"{ends.year}年{ends.month}月{ends.day}日" in text
    assert "1 个" in text
    footer_pages(text, pages)

    # a province prints its own counties only
    other, _ = read_pdf(Browser(app, "sc_reviewer").get(f"/calls/{call}/papers/publicity-list.pdf").data, "pl-sc")
    assert "安吉县" not in other and "四川省" in other

    world.travel(world.db_application(app_id).publicity_ends_at + timedelta(hours=1))
    world.walk(app_id, ("designate", "ministry"))
    text, pages = read_pdf(
        Browser(app, "ministry").get(f"/calls/{call}/papers/designation-list.pdf").data, "designation-list"
    )
    day = clock.now().astimezone(CHINA).date()
    assert "命名名单" in text and "安吉县" in text
    assert f"命名日期：{day.year}年{day.month}月{day.day}日" in text
    footer_pages(text, pages)
    zj, _ = read_pdf(Browser(app, "zj_reviewer").get(f"/calls/{call}/papers/designation-list.pdf").data, "dl-zj")
    assert "安吉县" in zj
    papers = [e.get("paper") for e in export_events(world)]
    assert papers.count("publicity_list") == 2 and papers.count("designation_list") == 2


def test_only_the_ministry_and_provinces_print_a_calls_lists(world, app):
    for user in ("zj_staff", "expert_bj", "admin"):
        assert Browser(app, user).get(f"/calls/{world.call_id}/papers/publicity-list.pdf").status_code == 403, user
        assert Browser(app, user).get("/papers").status_code == 403, user
    assert Browser(app, "ministry").get("/calls/9999/papers/designation-list.pdf").status_code == 404


def test_pdfs_are_limited_per_user_over_all_four_papers_with_a_page_in_the_readers_language(world, app, monkeypatch):
    limiter.reset()
    monkeypatch.setitem(app.config, "PDF_RATE_LIMIT", "2 per minute")
    call = world.call_id
    ministry = Browser(app, "ministry")
    for _ in range(2):
        r = ministry.get(f"/calls/{call}/papers/designation-list.pdf")
        assert r.status_code == 200 and r.mimetype == "application/pdf"
    r = ministry.get(f"/calls/{call}/papers/publicity-list.pdf")  # one budget for every paper
    assert r.status_code == 429 and r.mimetype == "text/html"
    page = r.data.decode()
    assert "您在短时间内打印了较多文书。" in page and "请稍候一分钟再试。" in page and "<html" in page
    assert int(r.headers["Retry-After"]) > 0
    r = Browser(app, "ministry", lang="en").get(f"/calls/{call}/papers/designation-list.pdf")  # the same user
    assert r.status_code == 429 and "You have printed many papers in a short time." in r.data.decode()
    # another user has a budget of their own
    assert Browser(app, "zj_reviewer").get(f"/calls/{call}/papers/designation-list.pdf").status_code == 200
    limiter.reset()


# --- the long export ----------------------------------------------------------------------------


def test_an_export_refuses_bad_filters_naming_the_field(world, app):
    web = Browser(app, "zj_reviewer")
    r = web.post_form("/exports", {"call_ids": ["9999"]}, page="/papers")
    assert r.status_code == 422 and "申报批次：没有这个批次" in r.data.decode()
    r = web.post_form("/exports", {"call_ids": ["第一批"]}, page="/papers")
    assert r.status_code == 422 and "申报批次：没有这个批次（第一批）" in r.data.decode()
    r = web.post_form("/exports", {"state": "published"}, page="/papers")
    assert r.status_code == 422 and "所处环节：" in r.data.decode()
    r = web.post_form("/exports", {"province": "510000"}, page="/papers")
    assert r.status_code == 422 and "省份：" in r.data.decode()
    with app.app_context():
        assert db.session.scalar(select(Export.id)) is None


@pytest.fixture
def web_with_worker(database, worker_env, start_worker, app):
    """The web app and a real worker sharing the database, the queue (a folder) and the upload folder."""
    instance = Path(worker_env["KXFLOW_INSTANCE"])
    web = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database["url"],
            "UPLOAD_FOLDER": worker_env["UPLOAD_FOLDER"],
            "CELERY_FOLDER": str(instance / "celery"),
            "LOGIN_RATE_LIMIT": "10000 per minute",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    start_worker()
    yield web
    app.extensions["celery"].set_default()  # the session's app sends the other tests' tasks again


@contextmanager
def serving(app):
    """The app on a port of its own, for Chromium."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def test_a_long_export_runs_on_a_worker_shows_its_progress_and_only_its_owner_downloads_it(
    world, web_with_worker, browser
):
    sent = [sent_to_ministry(world)]
    second = world.new_application("zj2_staff")
    world.walk(second, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"), ("province_recommend", "zj_reviewer"))
    sent.append(second)
    world.new_application("sc_staff")  # a draft never sent up: not the ministry's to export
    with world.app.app_context():  # text a spreadsheet would run as a formula must stay text
        db.session.execute(update(Call).where(Call.id == world.call_id).values(title='=HYPERLINK("x")申报'))
        db.session.commit()

    # in Chromium: the ministry asks for the call's list, watches the bar fill and downloads the file
    with serving(web_with_worker) as base_url:
        context = browser.new_context(base_url=base_url, locale="zh-CN", accept_downloads=True)
        context.set_default_timeout(15000)
        errors: list[str] = []
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto("/login")
        page.get_by_label("用户名").fill("ministry")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.get_by_role("link", name="文书与导出").click()
        page.locator(f"input[name=call_ids][value='{world.call_id}']").check()
        page.get_by_role("button", name="开始导出").click()
        expect(page.locator("#export-progress")).to_be_visible()
        link = page.locator("#export-download-link")
        expect(link).to_be_visible(timeout=90_000)  # the script polled the status until the worker was done
        expect(page.locator("#export-progress")).to_have_js_property("value", 100)
        expect(page.locator("#export-label")).to_have_text("已完成：共 2 行。")
        screenshot(page, "papers/export-done")
        with page.expect_download() as download:
            link.click()
        data = Path(download.value.path()).read_bytes()
        export_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        context.close()
    assert errors == []

    web = Browser(web_with_worker, "ministry")
    status = web.get(f"/exports/{export_id}/status").json
    assert status["status"] == "done" and status["progress"] == 100
    assert status["download_url"] == f"/exports/{export_id}/download"

    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == ("序号", "申报批次", "省份", "地市", "县（市）", "区划代码", "所处环节")
    assert "科技特派员（人）" in rows[0]
    assert sheet.freeze_panes == "A2"
    assert sorted(r[4] for r in rows[1:]) == ["安吉县", "德清县"]  # not the 四川 draft the ministry never received
    assert all(r[1] == '\'=HYPERLINK("x")申报' for r in rows[1:])
    assert all(r[6] == "部级形式审查" for r in rows[1:])
    assert {"format": "xlsx", "export_id": export_id, "rows": 2}.items() <= export_events(world)[-1].items()

    # another user sees neither its progress nor its file
    for user in ("zj_reviewer", "sc_reviewer"):
        other = Browser(web_with_worker, user)
        assert other.get(f"/exports/{export_id}/status").status_code == 404
        assert other.get(f"/exports/{export_id}/download").status_code == 404
        assert other.get(f"/exports/{export_id}").status_code == 404
