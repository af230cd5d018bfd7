"""The statistics dashboard in Chromium: every chart drawn (vendored ECharts, under the strict CSP), no console
error, each chart's series equal to the table beside it, a bar leading to the list behind it, the provinces
table sorting; screenshots at 1366 and 390 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot
from tests.test_browser import login
from tests.test_statistics import figures  # noqa: F401 (the small world of the figures tests)

pytestmark = pytest.mark.pg_only  # a browser suite: heavy, run on PostgreSQL only

# per chart: its categories and series as ECharts holds them, and its table's row headers and cell values
READ_CHARTS = """
() => Array.from(document.querySelectorAll('[data-chart]')).map(el => {
  const chart = window.echarts.getInstanceByDom(el);
  const option = chart ? chart.getOption() : null;
  const table = document.querySelector('[data-table-for="' + el.dataset.chart + '"]');
  const rows = Array.from(table.tBodies[0].rows);
  let categories = null, series = null;
  if (option) {
    const axes = [].concat(option.xAxis || [], option.yAxis || []);
    const categoryAxis = axes.find(a => a.type === 'category');
    categories = categoryAxis ? categoryAxis.data : option.series[0].data.map(d => d.name);
    series = option.series.map(s => s.data.map(d => (d !== null && typeof d === 'object') ? d.value : d));
  }
  const canvas = el.querySelector('canvas');
  return {
    id: el.dataset.chart,
    drawn: el.dataset.drawn === '1' && !!canvas && canvas.width > 0 && canvas.height > 0,
    categories: categories,
    series: series,
    tableCategories: rows.map(r => r.cells[0].textContent.trim()),
    tableSeries: rows.length ? Array.from(rows[0].cells).slice(1).map((_, i) =>
      rows.map(r => { const v = r.cells[i + 1].dataset.value; return v === '' ? null : Number(v); })) : [],
  };
})
"""


def test_the_dashboard_draws_every_chart_as_its_table_says(world, figures, new_page):  # noqa: F811
    page = new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    login(page, "ministry")
    page.goto("/statistics")
    expect(page.get_by_role("heading", name="统计", exact=True)).to_be_visible()
    # functions, not expressions: the CSP refuses the eval Playwright polls an expression with
    page.wait_for_function("() => document.querySelectorAll('[data-chart]').length > 0")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-chart]')).every(el => el.dataset.drawn === '1')"
    )
    charts = page.evaluate(READ_CHARTS)
    assert len(charts) >= 10, [c["id"] for c in charts]
    for chart in charts:
        assert chart["drawn"], chart["id"]
        assert chart["categories"] == chart["tableCategories"], chart["id"]
        assert chart["series"] == chart["tableSeries"], chart["id"]
    by_id = {c["id"]: c for c in charts}
    assert by_id["funnel"]["series"] == [[3, 2, 2, 1, 0, 0, 0, 0]]
    assert by_id["pass-rate"]["series"] == [[50, 66.67, 0]]
    screenshot(page, "statistics/ministry-1366")
    assert problems == []

    # a value of a table leads to the applications behind it
    page.locator('[data-table-for="funnel"] a').last.click()
    expect(page.get_by_role("heading", name="数字背后的申报")).to_be_visible()
    expect(page.locator("table.cards tbody tr")).to_have_count(1)
    expect(page.locator("table.cards")).to_contain_text("安吉县")

    # the provinces table sorts by a column, most first on the second click
    page.goto("/statistics")
    table = page.locator("table[data-sortable]")
    table.get_by_role("button", name="申报数").click()
    table.get_by_role("button", name="申报数").click()
    expect(table.locator("tbody tr").first.locator("th")).to_have_text("浙江省")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/statistics")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-chart]')).every(el => el.dataset.drawn === '1')"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "statistics/ministry-390")
    assert problems == []


def test_a_province_dashboard_shows_its_own_counties(world, figures, new_page):  # noqa: F811
    page = new_page()
    login(page, "zj_reviewer")
    page.goto("/statistics")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-chart]')).every(el => el.dataset.drawn === '1')"
    )
    charts = {c["id"]: c for c in page.evaluate(READ_CHARTS)}
    assert charts["by-province"]["categories"] == ["浙江省"]
    assert charts["pass-rate"]["categories"] == ["合计", "浙江省"]
    assert "四川省" not in page.locator("main").inner_text()
    screenshot(page, "statistics/province-1366")
