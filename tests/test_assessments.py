"""National assessment results: imported per round, every bad row reported, all or nothing;
a call can require a pass; lists sort by it. And new indicator-set versions, checked whole."""

from __future__ import annotations

import copy
import io
import json

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from kxflow.assessments.models import AssessmentResult
from kxflow.core.db import db
from kxflow.indicators.definition import packaged_sets
from tests.factories import build_world


def xlsx(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(world, data: bytes, name: str, user: str = "ministry"):
    return world.api(
        "post", "/api/v1/assessments", user, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )


def results(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(select(AssessmentResult.county_code, AssessmentResult.result)).all())


GOOD = [
    ["县（市）代码", "考核年度", "考核结果", "得分"],
    ["330523", 2024, "先进", 93.5],
    ["330521", 2024, "通过", 78],
    ["510129", 2024, "未通过", 52],
    [330122, "2024", "通过", None],
]


def test_import_a_round_and_read_its_pass_rate(world, app):
    r = upload(world, xlsx(GOOD), "2024年考核结果.xlsx")
    assert r.status_code == 201, r.json
    assert (r.json["round_year"], r.json["row_count"]) == (2024, 4)
    assert results(app) == {"330523": "先进", "330521": "通过", "510129": "未通过", "330122": "通过"}
    rounds = world.api("get", "/api/v1/assessments", "ministry").json
    assert rounds == [
        {"round_year": 2024, "counties": 4, "passed": 3, "pass_rate": 0.75, "target": 0.7, "meets_target": True}
    ]
    # a province reads the results of its own counties (three of the four are in 浙江, all passed)
    rounds = world.api("get", "/api/v1/assessments", "zj_reviewer").json
    assert rounds == [
        {"round_year": 2024, "counties": 3, "passed": 3, "pass_rate": 1.0, "target": 0.7, "meets_target": True}
    ]
    assert world.api("get", "/api/v1/assessments", "zj_staff").status_code == 403
    assert upload(world, xlsx(GOOD), "a.xlsx", user="zj_reviewer").status_code == 403


def test_every_bad_row_is_reported_and_nothing_is_written(world, app):
    bad = [
        GOOD[0],
        ["330523", 2024, "先进", 90],
        ["999999", 2024, "通过", 80],  # unknown county
        ["330521", 2024, "优秀", 80],  # unknown result
        ["330523", 2024, "通过", 70],  # repeats row 2
        ["510129", 2024, "通过", 130],  # score over 100
        ["330122", "去年", "通过", 80],  # not a year
    ]
    r = upload(world, xlsx(bad), "bad.xlsx")
    assert r.status_code == 422
    assert r.json["error"] == "有 5 行被拒绝，未导入任何数据。"
    assert [(e["row"], e["field"]) for e in r.json["rows"]] == [
        (3, "county_code"),
        (4, "result"),
        (5, "county_code"),
        (6, "score"),
        (7, "round_year"),
    ]
    assert r.json["rows"][0]["message"] == "未知的县（市）代码 999999。"
    assert r.json["rows"][2]["message"] == "与第 2 行重复。"
    assert results(app) == {}


def test_csv_in_gbk_and_a_second_import_replaces_the_round(world, app):
    assert upload(world, xlsx(GOOD), "first.xlsx").status_code == 201
    csv_text = "county_code,round_year,result,score\n330523,2024,通过,80\n"
    r = upload(world, csv_text.encode("gb18030"), "更正.csv")
    assert r.status_code == 201
    assert results(app) == {"330523": "通过"}  # the round was replaced, not merged


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"x", "results.pdf", "只能导入 XLSX 或 CSV 文件。"),
        (b"not a zip", "results.xlsx", "无法读取 results.xlsx（不是完好的 DOCX 或 XLSX 文件）。"),
        ("代码,年度\n330523,2024\n".encode(), "r.csv", "缺少列：考核结果。"),
        (b"county_code,round_year,result\n", "r.csv", "文件中没有结果行。"),
        ("county_code,round_year,result\n330523,2022,通过\n330521,2024,通过\n".encode(), "r.csv", None),
    ],
)
def test_files_that_cannot_be_imported(world, app, data, name, message):
    r = upload(world, data, name)
    assert r.status_code == 422
    if message:
        assert r.json["fields"]["file"] == [message]
    else:
        assert r.json["rows"][-1]["message"] == "一个文件只能包含一轮考核，此文件包含 2022、2024。"
    assert results(app) == {}


def test_a_call_can_require_a_pass_and_lists_sort_by_the_result(app, client):
    world = build_world(app, client, requires_assessment_pass=True)
    assert upload(world, xlsx(GOOD), "2024.xlsx").status_code == 201
    anji, deqing, dayi = (world.new_application(u) for u in ("zj_staff", "zj2_staff", "sc_staff"))
    for app_id, user, result in (
        (anji, "zj_staff", "先进"),
        (deqing, "zj2_staff", "通过"),
        (dayi, "sc_staff", "未通过"),
    ):
        declared = {"latest_assessment_result": result, "latest_assessment_year": 2024}  # as imported
        world.api("patch", f"/api/v1/applications/{app_id}", user, json={"indicators": declared})
    world.walk(deqing, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"), ("province_recommend", "zj_reviewer"))
    world.to_ministry(anji)  # 先进
    r = world.fire(dayi, "submit", "sc_staff")  # 未通过
    assert r.status_code == 422 and r.json["reasons"] == [
        "本批次仅限通过全国县（市）科技进步考核的县（市）申报；您所在县（市）2024 年的结果为“未通过”。"
    ]
    ranked = world.api("get", "/api/v1/applications?sort=assessment", "ministry").json["items"]
    assert [a["id"] for a in ranked] == [anji, deqing]  # 先进 first (大邑's draft was never sent)


def definition(**change):
    raw = copy.deepcopy(packaged_sets()[0])
    raw["version"] = "2027.1"
    raw.update(change)
    return raw


def test_publish_a_new_indicator_set_version(world):
    r = world.api("post", "/api/v1/indicator-sets", "ministry", json=definition())
    assert r.status_code == 201 and r.json["version"] == "2027.1"
    published = {s["version"] for s in world.api("get", "/api/v1/indicator-sets", "zj_staff").json}
    assert published == {"2026.1", "2026.2", "2027.1"}
    again = world.api("post", "/api/v1/indicator-sets", "ministry", json=definition())
    assert again.status_code == 409
    call = world.api(
        "post",
        "/api/v1/calls",
        "ministry",
        json={
            "title": "2027",
            "year": 2027,
            "opens_at": "2027-01-01T00:00:00",
            "county_deadline": "2027-03-01T00:00:00",
            "province_deadline": "2027-04-01T00:00:00",
            "province_quota": 3,
            "indicator_set_version": "2027.1",
        },
    )
    assert call.status_code == 201 and call.json["indicator_set_version"] == "2027.1"


@pytest.mark.parametrize(
    ("breaks", "why"),
    [
        (lambda d: d["indicators"].append(dict(d["indicators"][0])), "unique"),
        (lambda d: d.update(total_weight=90), "weights add up"),
        (lambda d: d["indicators"][6]["score"].update(rule="magic"), "unknown scoring rule"),
        (lambda d: d["computed"][1]["score"].update(target=0), "positive target"),
    ],
)
def test_a_broken_indicator_set_is_refused(world, breaks, why):
    raw = definition()
    breaks(raw)
    r = world.api("post", "/api/v1/indicator-sets", "ministry", json=json.loads(json.dumps(raw)))
    assert r.status_code == 422 and why in r.json["fields"]["definition"][0]
    assert world.api("post", "/api/v1/indicator-sets", "zj_staff", json=definition()).status_code == 403
    with world.app.app_context():
        from kxflow.indicators.models import IndicatorSet

        assert db.session.scalar(select(func.count()).select_from(IndicatorSet)) == 2  # the two packaged


def test_the_assessment_page_imports_and_draws_the_pass_rate(world, app):
    from tests.web_support import Browser

    b = Browser(app, "ministry")
    r = b.post_form("/assessments", {"file": (io.BytesIO(xlsx(GOOD[:2] + [["999999", 2024, "通过", 1]])), "x.xlsx")})
    page = r.data.decode()
    assert r.status_code == 422 and "有 1 行被拒绝" in page and "未知的县（市）代码 999999。" in page
    r = b.post_form("/assessments", {"file": (io.BytesIO(xlsx(GOOD)), "2024.xlsx")}, follow_redirects=True)
    page = r.data.decode()
    assert "已导入 2024 年考核的 4 条结果。" in page
    assert "通过率 75.0%" in page and "70% 以上" in page and 'width="75.0"' in page
    province = Browser(app, "zj_reviewer")
    page = province.text("/assessments")
    assert "通过率 100.0%" in page and "导入" not in page  # its own three counties; no import form
    assert province.post_form("/assessments", {"file": (io.BytesIO(xlsx(GOOD)), "2024.xlsx")}).status_code == 403
    assert Browser(app, "zj_staff").get("/assessments").status_code == 403
