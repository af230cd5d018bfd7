"""Finding 5 in a real browser: the strict Content-Security-Policy (no inline script or style) holds on the pages
that used to need inline code — the API docs (Swagger UI) and the application page — with no violation reported,
and the pages still work (the docs list the operations, the application page shows its stage and buttons)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_assessments import upload, xlsx
from tests.test_browser import login

pytestmark = pytest.mark.pg_only

REPORTER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


def _watch(page) -> list[str]:
    seen: list[str] = []
    page.add_init_script(REPORTER)
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def _violations(page, console: list[str]) -> list[str]:
    return console + page.evaluate("window.__csp || []")


def test_the_api_docs_run_under_the_policy(world, new_page):
    page = new_page()
    console = _watch(page)
    response = page.goto("/api/v1/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_text("/api/v1/applications/{application_id}/transitions").first).to_be_visible()
    page.wait_for_timeout(500)
    assert _violations(page, console) == []


def test_the_application_page_runs_under_the_policy(world, new_page):
    app_id = world.new_application("zj_staff")
    page = new_page()
    console = _watch(page)
    login(page, "zj_staff")
    response = page.goto(f"/applications/{app_id}")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.locator("#state-label")).to_have_text("草稿")
    page.wait_for_timeout(500)
    assert _violations(page, console) == []
    page.goto(f"/applications/{app_id}/edit")
    page.locator("#f-st_commissioners").fill("41")  # the live preview (fetch) still works under connect-src 'self'
    expect(page.locator("[data-computed]").first).not_to_be_empty()
    page.wait_for_timeout(800)
    assert _violations(page, console) == []


def test_the_assessment_bars_need_no_inline_style(world, new_page):
    r = upload(world, xlsx([["县（市）代码", "考核年度", "考核结果"], ["330523", "2024", "通过"]]), "r.xlsx")
    assert r.status_code == 201, r.json
    page = new_page()
    console = _watch(page)
    login(page, "ministry")
    page.goto("/assessments")
    expect(page.locator("svg.bar rect.fill")).to_have_count(1)
    assert _violations(page, console) == []
