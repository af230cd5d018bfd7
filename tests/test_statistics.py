"""The statistics: figures checked against values worked out by hand on a small world, scope (a province sees
only its counties in every figure, API answer and export), the Excel files reopened, and a query count that
does not grow with the data.

The world: 安吉县 (浙江) sent to the ministry; 德清县 (浙江) at province review with its own figures; 大邑县
(四川) a draft never sent. Assessment rounds 2022 and 2024 for four counties.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select, update

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Forbidden
from kxflow.core.security_log import SecurityEvent
from kxflow.core.xlsx import Column, safe, to_bytes, workbook, write_sheet
from kxflow.experts.models import Assignment
from kxflow.statistics.operations import _KEPT, dashboard
from kxflow.workflow.models import Application
from tests.factories import EVIDENCE_KINDS, FULL_INDICATORS, bulk_ready_applications
from tests.web_support import Browser

# 德清县's figures: 1.5% of the budget in the first year, 1.55% in the last: +0.05 pp
DEQING = {
    **FULL_INDICATORS,
    "fiscal_st_spending_y1": 3000.0,
    "fiscal_st_spending_y2": 3050.0,
    "fiscal_st_spending_y3": 3100.0,
    "general_budget_expenditure_y1": 200000.0,
    "general_budget_expenditure_y2": 200000.0,
    "general_budget_expenditure_y3": 200000.0,
}
# 安吉县 (FULL_INDICATORS): 4200 / 260000 = 1.615385%, 6300 / 290000 = 2.172414%: +0.557029 pp
ANJI_FIRST, ANJI_LAST = 4200 / 260000 * 100, 6300 / 290000 * 100
DEQING_FIRST, DEQING_LAST = 1.5, 1.55
ROUNDS = (
    "county_code,round_year,result\n330523,2022,未通过\n",
    "county_code,round_year,result\n330523,2024,通过\n330521,2024,未通过\n330522,2024,先进\n510129,2024,未通过\n",
)


def _import_round(world, text: str) -> None:
    r = world.api(
        "post",
        "/api/v1/assessments",
        "ministry",
        data={"file": (io.BytesIO(text.encode()), "round.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.json


@pytest.fixture
def figures(world):
    anji = world.new_application("zj_staff")
    world.to_ministry(anji)
    deqing = world.new_application("zj2_staff", complete=False)
    r = world.api("patch", f"/api/v1/applications/{deqing}", "zj2_staff", json={"indicators": DEQING})
    assert r.status_code == 200, r.json
    for kind in EVIDENCE_KINDS:
        assert world.upload(deqing, kind, user="zj2_staff").status_code == 201
    world.walk(deqing, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"))
    dayi = world.new_application("sc_staff", complete=False)
    # overdue: 大邑县's draft ten days past its date, 德清县 three days at the province, 安吉县 one day over the
    # ministry's time limit
    now = clock.now()
    with world.app.app_context():
        for app_id, values in (
            (dayi, {"due_at": now - timedelta(days=10)}),
            (deqing, {"due_at": now - timedelta(days=3)}),
            (anji, {"due_at": now - timedelta(days=1), "time_limit_at": now - timedelta(days=1)}),
        ):
            db.session.execute(update(Application).where(Application.id == app_id).values(**values))
        db.session.commit()
    for text in ROUNDS:  # after the submissions: the counties' own claims would not match the rounds
        _import_round(world, text)
    return {"anji": anji, "deqing": deqing, "dayi": dayi}


def _get(world, user: str, path: str) -> dict:
    r = world.api("get", path, user)
    assert r.status_code == 200, r.json
    return r.json


def test_pass_rate_of_the_latest_round_against_seventy_percent(world, figures):
    nation = _get(world, "ministry", "/api/v1/statistics/plan")["pass_rates"]
    assert nation["round_year"] == 2024
    assert (nation["counties"], nation["passed"], nation["pass_rate"]) == (4, 2, 0.5)  # 通过 and 先进 pass
    assert nation["meets_target"] is False and nation["target"] == 0.7
    by_province = {p["province_name"]: p for p in nation["provinces"]}
    assert by_province["浙江省"]["pass_rate"] == round(2 / 3, 4) and by_province["浙江省"]["meets_target"] is False
    assert by_province["四川省"]["pass_rate"] == 0.0
    zj = _get(world, "zj_reviewer", "/api/v1/statistics/plan")["pass_rates"]
    assert [p["province_name"] for p in zj["provinces"]] == ["浙江省"]
    assert (zj["counties"], zj["passed"]) == (3, 2)


def test_fiscal_share_and_its_change_in_percentage_points(world, figures):
    # the ministry opens only 安吉县 (德清县 never reached it): its own figures
    nation = _get(world, "ministry", "/api/v1/statistics/plan")["fiscal_share"]
    assert nation["applications"] == 1
    assert nation["share_first"] == pytest.approx(ANJI_FIRST, abs=1e-3)
    assert nation["change_pp"] == pytest.approx(ANJI_LAST - ANJI_FIRST, abs=1e-3)
    assert nation["meets_target"] is True and nation["target_pp"] == 0.2
    # the province opens both of its counties: the average of +0.557 and +0.05 pp
    zj = _get(world, "zj_reviewer", "/api/v1/statistics/plan")["fiscal_share"]
    assert zj["applications"] == 2
    expected = ((ANJI_LAST - ANJI_FIRST) + (DEQING_LAST - DEQING_FIRST)) / 2
    assert zj["change_pp"] == pytest.approx(expected, abs=1e-3)
    assert zj["share_last"] == pytest.approx((ANJI_LAST + DEQING_LAST) / 2, abs=1e-3)
    assert zj["meeting"] == 1  # only 安吉县's change reaches +0.2 pp
    # a county: itself
    county = _get(world, "zj2_staff", "/api/v1/statistics/plan")["fiscal_share"]
    assert county["applications"] == 1 and county["change_pp"] == pytest.approx(0.05, abs=1e-3)
    assert county["meets_target"] is False


def test_funnel_counts_unsent_drafts_but_lists_only_what_the_level_received(world, figures):
    pipe = _get(world, "ministry", "/api/v1/statistics/pipeline")
    funnel = {f["stage"]: (f["count"], f["listed"]) for f in pipe["funnel"]}
    assert funnel["draft"] == (3, 1)
    assert funnel["county_review"] == (2, 1)
    assert funnel["province_review"] == (2, 1)
    assert funnel["ministry_review"] == (1, 1)
    assert funnel["expert_review"] == (0, 0) and funnel["designated"] == (0, 0)
    states = {s["state"]: (s["count"], s["listed"]) for s in pipe["states"]}
    assert states["draft"] == (1, 0) and states["province_review"] == (1, 0) and states["ministry_review"] == (1, 1)
    quota = {q["province_name"]: q for q in pipe["quota"]}
    assert (quota["浙江省"]["quota"], quota["浙江省"]["used"], quota["浙江省"]["left"]) == (2, 1, 1)
    zj = _get(world, "zj_reviewer", "/api/v1/statistics/pipeline")
    assert {f["stage"]: f["count"] for f in zj["funnel"]}["province_review"] == 2
    assert [q["province_name"] for q in zj["quota"]] == ["浙江省"]
    assert [p["province_name"] for p in zj["by_province"]] == ["浙江省"]
    days = {d["stage"]: d for d in pipe["days"]}
    assert days["county_review"]["stays"] == 2  # both sent on from county review


def test_funnel_stage_lists_exactly_the_applications_counted(world, figures):
    listed = _get(world, "zj_reviewer", "/api/v1/statistics/applications?stage=province_review")
    assert {i["id"] for i in listed["items"]} == {figures["anji"], figures["deqing"]}
    listed = _get(world, "ministry", "/api/v1/statistics/applications?stage=province_review")
    assert {i["id"] for i in listed["items"]} == {figures["anji"]}  # 德清县 is counted, never listed


def test_overdue_oldest_first_and_scoped(world, figures):
    zj = _get(world, "zj_reviewer", "/api/v1/statistics/overdue")
    assert zj["total"] == 2
    assert [i["county_name"] for i in zj["items"]] == ["德清县", "安吉县"]  # three days over, then one
    assert [i["days_overdue"] for i in zj["items"]] == [3, 1]
    nation = _get(world, "ministry", "/api/v1/statistics/overdue")
    assert nation["total"] == 3  # 大邑县's and 德清县's unsent applications are counted …
    assert [i["county_name"] for i in nation["items"]] == ["安吉县"]  # … and not listed
    assert {p["province_name"]: p["count"] for p in nation["by_province"]} == {"浙江省": 2, "四川省": 1}
    sc = _get(world, "sc_reviewer", "/api/v1/statistics/overdue")
    assert sc["total"] == 1 and sc["items"] == []
    assert {s["state"]: s["count"] for s in nation["by_state"]} == {
        "draft": 1,
        "province_review": 1,
        "ministry_review": 1,
    }


def test_a_province_sees_only_its_counties_in_every_answer(world, figures):
    for path in (
        "/api/v1/statistics/plan",
        "/api/v1/statistics/designations",
        "/api/v1/statistics/pipeline",
        "/api/v1/statistics/overdue",
        "/api/v1/statistics/inspections",
        "/api/v1/statistics/provinces",
        "/api/v1/statistics/applications",
    ):
        text = world.api("get", path, "zj_reviewer").data.decode()
        assert "四川" not in text and "大邑" not in text, path
        text = world.api("get", path, "sc_reviewer").data.decode()
        assert "浙江" not in text and "安吉" not in text and "德清" not in text, path
    rows = _get(world, "zj_reviewer", "/api/v1/statistics/provinces")
    assert [r["province_name"] for r in rows] == ["浙江省"]
    assert rows[0]["applications"] == 2 and rows[0]["overdue"] == 2 and rows[0]["recommended"] == 1
    assert world.api("get", "/api/v1/statistics/plan", "expert").status_code == 403


def test_the_dashboard_page_and_exports_keep_to_the_province(world, figures):
    page = Browser(world.app, "zj_reviewer")
    html = page.text("/statistics")
    assert "浙江省" in html and "四川省" not in html and "大邑县" not in html
    for path in ("/statistics/export/applications.xlsx", "/statistics/export/provinces.xlsx"):
        r = page.get(path)
        assert r.status_code == 200
        text = " ".join(
            str(c) for row in load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True) for c in row
        )
        assert "四川" not in text and "大邑" not in text, path
        assert "浙江" in text


def test_applications_export_reopened(world, figures):
    page = Browser(world.app, "zj_reviewer")
    r = page.get(f"/statistics/export/applications.xlsx?call_id={world.call_id}")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert sheet.freeze_panes == "A2"
    headers = [c.value for c in sheet[1]]
    assert headers[:5] == ["申报批次", "省份", "县（市）", "区划代码", "所处环节"]
    rows = {row[2]: dict(zip(headers, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"安吉县", "德清县"}
    assert rows["安吉县"]["所处环节"] == "部级形式审查" and rows["德清县"]["所处环节"] == "省级审核"
    assert "本级财政科技支出（申报前第三年）（万元）" in headers
    assert rows["安吉县"]["本级财政科技支出（申报前第三年）（万元）"] == 4200
    assert rows["德清县"]["科技支出占比变化（百分点）"] == pytest.approx(0.05, abs=1e-4)
    score_column = headers.index("自评得分") + 1
    assert sheet.cell(row=2, column=score_column).number_format == "#,##0.00"
    with world.app.app_context():
        events = db.session.scalars(select(SecurityEvent).where(SecurityEvent.event == "export")).all()
        assert events and events[-1].detail["what"] == "applications" and events[-1].detail["rows"] == 2


def test_formula_text_is_escaped():
    assert [safe(v) for v in ("=1+1", "+86", "-3", "@SUM(A1)", "安吉县", 12.5)] == [
        "'=1+1",
        "'+86",
        "'-3",
        "'@SUM(A1)",
        "安吉县",
        12.5,
    ]


def test_a_formula_in_user_text_stays_text_in_the_file(world, figures, app):
    with app.test_request_context():
        book = workbook()
        write_sheet(book, "t", [Column("名称", None, 10)], [['=HYPERLINK("http://evil")'], ["@cmd"]])
        sheet = load_workbook(io.BytesIO(to_bytes(book))).active
    assert sheet["A2"].value == '\'=HYPERLINK("http://evil")' and sheet["A2"].data_type == "s"
    assert sheet["A3"].value == "'@cmd"


def test_call_results_and_provinces_exports(world, figures):
    page = Browser(world.app, "ministry")
    r = page.get(f"/statistics/export/calls/{world.call_id}.xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.data))
    assert book.sheetnames == ["结果", "各省状态", "名额", "漏斗"]
    results = list(book["结果"].iter_rows(min_row=2, values_only=True))
    assert [row[1] for row in results] == ["安吉县"]  # only what the ministry may open
    funnel = {row[0]: row[1] for row in book["漏斗"].iter_rows(min_row=2, values_only=True)}
    assert funnel["草稿"] == 3 and funnel["部级形式审查"] == 1
    r = page.get("/statistics/export/provinces.xlsx")
    sheet = load_workbook(io.BytesIO(r.data)).active
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == 31 and rows["浙江省"][1] == 2 and rows["四川省"][1] == 1
    assert sheet.cell(row=2, column=7).number_format == "0.0%"


def test_bad_filters_are_422_naming_the_field(world, figures):
    r = world.api("get", "/api/v1/statistics/applications?year=2026", "ministry")
    assert r.status_code == 422 and "year" in str(r.json)
    page = Browser(world.app, "ministry")
    assert page.get("/statistics/applications?state=nonsense").status_code == 422
    assert page.get("/statistics?call_id=abc").status_code == 422


def _queries_for(app, browser: Browser, path: str) -> int:
    with app.app_context():
        engine = db.engine
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert browser.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_dashboard_query_count_does_not_grow_with_the_data(world, figures):
    page = Browser(world.app, "ministry")
    page.get("/statistics")  # warm: the session, the indicator sets
    few = _queries_for(world.app, page, "/statistics")
    for app_id, clerk in bulk_ready_applications(world, 8):
        assert world.fire(app_id, "submit", clerk).status_code == 200
    many = _queries_for(world.app, page, "/statistics")
    assert many == few, (few, many)
    assert few <= 40


def test_the_whole_dashboard_in_one_answer_agrees_with_its_parts(world, figures):
    whole = _get(world, "zj_reviewer", "/api/v1/statistics/dashboard")
    assert whole["pass_rates"] == _get(world, "zj_reviewer", "/api/v1/statistics/plan")["pass_rates"]
    assert whole["overdue"] == _get(world, "zj_reviewer", "/api/v1/statistics/overdue")
    assert whole["provinces"] == _get(world, "zj_reviewer", "/api/v1/statistics/provinces")
    assert whole["call"]["id"] == world.call_id
    calendar = whole["inspections"]
    assert calendar["from"] < calendar["to"] and len(calendar["weeks"]) == 16


def test_figures_are_kept_a_minute_per_scope_never_across_scopes(world, figures, app):
    app.config["STATISTICS_CACHE_SECONDS"] = 60
    try:
        with app.app_context():
            users = {n: db.session.get(User, world.ids[n]) for n in ("ministry", "zj_reviewer", "sc_reviewer")}
            nation = dashboard(users["ministry"])
            assert dashboard(users["ministry"]) is nation  # kept
            zj, sc = dashboard(users["zj_reviewer"]), dashboard(users["sc_reviewer"])
            assert [p["province_name"] for p in zj["provinces"]] == ["浙江省"]
            assert [p["province_name"] for p in sc["provinces"]] == ["四川省"]
            with pytest.raises(Forbidden):
                dashboard(db.session.get(User, world.ids["expert"]))
    finally:
        app.config["STATISTICS_CACHE_SECONDS"] = 0.0
        _KEPT.clear()


def test_call_results_carry_the_expert_panels_weighted_score_for_the_ministry_alone(world):
    scored, unscored = world.new_application(), world.new_application("zj2_staff")
    world.to_expert_review(scored)
    world.walk(
        unscored, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"), ("province_recommend", "zj_reviewer")
    )
    panel = world.api("get", f"/api/v1/applications/{scored}/panel", "ministry").json["assignments"]
    first = min(a["id"] for a in panel if a["recused_at"] is None)
    with world.app.app_context():  # the first expert counts twice
        db.session.execute(update(Assignment).where(Assignment.id == first).values(weight=2.0))
        db.session.commit()
    world.score_panel(scored, (0.9, 0.85, 0.8))  # totals 90, 85 and 80 of 100
    expected = (90 * 2 + 85 + 80) / 4  # 86.25

    r = Browser(world.app, "ministry").get(f"/statistics/export/calls/{world.call_id}.xlsx")
    sheet = load_workbook(io.BytesIO(r.data))["结果"]
    headers = [c.value for c in sheet[1]]
    column = headers.index("专家评审得分")
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["安吉县"][column] == pytest.approx(expected)
    assert rows["德清县"][column] is None  # no panel yet: empty, not 0
    assert sheet.cell(row=2, column=column + 1).number_format == "#,##0.00"

    # a province reads its counties' results, not the panels' scores
    r = Browser(world.app, "zj_reviewer").get(f"/statistics/export/calls/{world.call_id}.xlsx")
    assert "专家评审得分" not in [c.value for c in load_workbook(io.BytesIO(r.data))["结果"][1]]
