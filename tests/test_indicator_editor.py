"""Indicator sets edited as a form, not as JSON: every group, item and attachment kind a row of fields;
problems named by the item and the field; the JSON upload kept for power users."""

from __future__ import annotations

import json
import re

from werkzeug.datastructures import MultiDict

from kxflow.core.db import db
from kxflow.indicators import editor
from kxflow.indicators.definition import packaged_sets
from kxflow.indicators.models import IndicatorSet, definition_for
from tests.web_support import Browser, csrf_token


def _form_of(html: str) -> dict[str, str]:
    """The editor's fields as the browser would post them untouched (inputs, textareas, selected options)."""
    form: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if not name or 'type="checkbox"' in tag:
            continue
        form[name.group(1)] = value.group(1) if value else ""
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        form[name] = text
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        form[name] = chosen.group(1) if chosen else ""
    return {k: v.replace("&amp;", "&").replace("&#34;", '"').replace("&#39;", "'") for k, v in form.items()}


def _row(form: dict[str, str], key: str) -> str:
    return next(name.removesuffix("-key") for name, v in form.items() if name.endswith("-key") and v == key)


def test_the_ministry_edits_a_new_version_as_a_form_and_publishes_it(world, app):
    b = Browser(app, "ministry")
    html = b.text("/indicator-sets/edit")
    assert "<textarea" in html and 'class="code"' not in html  # no JSON to edit here
    form = _form_of(html)
    assert form["version"] == "2026.3"  # after the newest, 2026.2
    erc = _row(form, "engineering_research_centres")
    assert form[f"{erc}-label_zh"] == "工程技术研究中心" and form[f"{erc}-max"] == "10000"
    assert form[f"{erc}-score_rule"] == "linear" and form[f"{erc}-evidence_kind"] == "platform_evidence"

    # a typo and a missing target: refused, each named by item and field, nothing published
    bad = {**form, f"{erc}-max": "一万", f"{erc}-score_target": ""}
    r = b.client.post("/indicator-sets/edit", data={**bad, "csrf_token": csrf_token(html)})
    page = r.data.decode()
    assert r.status_code == 422
    n = int(erc.split("-")[1]) + 1
    assert f"第 {n} 项（工程技术研究中心）：最大值须为数字。" in page
    assert f"第 {n} 项（工程技术研究中心）：线性计分须设定大于 0 的满分目标值。" in page
    assert f'id="{erc}-max" name="{erc}-max" type="text" value="一万"' in page  # what was typed stays
    with app.app_context():
        assert db.session.get(IndicatorSet, "2026.3") is None

    # a new indicator in the empty row, 10 points moved to it from 工程技术研究中心's 3 … and the total kept
    new = next(
        n.removesuffix("-key") for n, v in form.items() if n.startswith("item-") and n.endswith("-key") and not v
    )
    good = {
        **form,
        f"{erc}-weight": "1",
        f"{new}-key": "st_parks_new",
        f"{new}-group": "platforms",
        f"{new}-label_zh": "县级科技园区",
        f"{new}-type": "integer",
        f"{new}-unit": "个",
        f"{new}-min": "0",
        f"{new}-max": "100",
        f"{new}-required": "y",
        f"{new}-weight": "2",
        f"{new}-score_rule": "linear",
        f"{new}-score_target": "2",
        f"{new}-guidance_zh": "经认定的县级科技园区数。",
    }
    r = b.client.post("/indicator-sets/edit", data={**good, "csrf_token": csrf_token(html)})
    assert r.status_code == 302, re.findall(r'class="error"[^>]*>([^<]+)', r.data.decode())
    with app.app_context():
        published = definition_for("2026.3")
        added = published.inputs_by_key["st_parks_new"]
        assert (added.label_zh, added.unit, added.max, added.weight, added.score) == (
            "县级科技园区",
            "个",
            100,
            2,
            {"rule": "linear", "target": 2},
        )
        assert published.inputs_by_key["engineering_research_centres"].weight == 1
        assert len(published.inputs) == len(definition_for("2026.2").inputs) + 1
        assert published.total_weight == 100
    assert Browser(app, "zj_staff").get("/indicator-sets/edit").status_code == 403


def test_points_that_do_not_add_up_are_refused_naming_the_total(world, app):
    b = Browser(app, "ministry")
    html = b.text("/indicator-sets/edit?from=2026.1")
    form = _form_of(html)
    erc = _row(form, "engineering_research_centres")
    r = b.client.post("/indicator-sets/edit", data={**form, f"{erc}-weight": "9", "csrf_token": csrf_token(html)})
    assert r.status_code == 422
    assert "本版本：各项分值合计 104，与总分 100 不符。" in r.data.decode()


def test_an_untouched_form_gives_back_each_packaged_version_unchanged(app):
    for raw in packaged_sets():
        rows = editor.rows_of(raw)
        form = {k: rows[k] for k in ("version", "title_zh", "title_en", "total_weight")}
        for prefix, name in (("group", "groups"), ("item", "items"), ("computed", "computed"), ("kind", "kinds")):
            for i, row in enumerate(rows[name]):
                form.update({f"{prefix}-{i}-{field}": value for field, value in row.items()})
        with app.test_request_context():
            back, problems = editor.raw_from_rows(editor.rows_from_form(MultiDict(form)))
        assert problems == {}
        assert json.loads(json.dumps(back, sort_keys=True)) == json.loads(json.dumps(raw, sort_keys=True))
