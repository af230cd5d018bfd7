"""The dashboard's charts as data: for each, its categories, series and the list behind every value.

The page draws each chart (ECharts, in static/statistics.js) and prints its table from the same spec, so the
table beside a chart always holds the chart's numbers. A value whose applications the reader may not open
(drafts never sent to their level) has no link: it is a count only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext

from kxflow.core.formats import locale
from kxflow.statistics.operations import AFTER_DESIGNATION, Filters
from kxflow.workflow.states import state_label

Link = Callable[[Filters], str]


def _series(name: str, data: list, links: list | None = None) -> dict:
    return {"name": name, "data": data, "links": links or [None] * len(data)}


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def charts(parts: dict, link: Link) -> list[dict[str, Any]]:
    """Every chart of the dashboard, in the order of the page."""
    loc = locale()
    call_id = parts["call"]["id"] if parts["call"] else None
    out: list[dict[str, Any]] = []

    rates = parts["pass_rates"]
    rows = rates["provinces"]
    out.append(
        {
            "id": "pass-rate",
            "section": "plan",
            "title": gettext(
                "Pass rate of the %(year)s assessment, against the 70%% target", year=rates["round_year"] or "—"
            ),
            "kind": "hbar",
            "format": "percent",
            "target": 70,
            "category_label": gettext("Province"),
            "categories": [gettext("All in scope")] + [r["province_name"] for r in rows],
            "series": [
                _series(gettext("Pass rate (%)"), [_pct(rates["pass_rate"])] + [_pct(r["pass_rate"]) for r in rows])
            ],
        }
    )

    share = parts["fiscal_share"]
    rows = share["provinces"]
    cats = [gettext("All in scope")] + [r["province_name"] for r in rows]
    links = [link(Filters(call_id=call_id))] + [
        link(Filters(call_id=call_id, province=r["province_code"])) for r in rows
    ]
    out.append(
        {
            "id": "fiscal-share",
            "section": "plan",
            "title": gettext("County fiscal S&T share of general budget expenditure (%)"),
            "kind": "bar",
            "format": "number",
            "category_label": gettext("Province"),
            "categories": cats,
            "series": [
                _series(
                    gettext("First of the three years (%)"),
                    [share["share_first"]] + [r["share_first"] for r in rows],
                    links,
                ),
                _series(
                    gettext("Last of the three years (%)"),
                    [share["share_last"]] + [r["share_last"] for r in rows],
                    links,
                ),
            ],
        }
    )
    out.append(
        {
            "id": "share-change",
            "section": "plan",
            "title": gettext("Change of the share in percentage points, against the +0.2 target"),
            "kind": "bar",
            "format": "number",
            "target": 0.2,
            "category_label": gettext("Province"),
            "categories": cats,
            "series": [
                _series(
                    gettext("Change (percentage points)"), [share["change_pp"]] + [r["change_pp"] for r in rows], links
                ),
                _series(
                    gettext("Number of applications"),
                    [share["applications"]] + [r["applications"] for r in rows],
                    links,
                ),
            ],
            "secondary": 1,  # the second series is a count: shown in the table, drawn on its own axis
        }
    )

    years = parts["designations"]["years"]
    out.append(
        {
            "id": "designations",
            "section": "designations",
            "title": gettext("Demonstration counties over the years"),
            "kind": "bar",
            "format": "count",
            "category_label": gettext("Year"),
            "categories": [str(y["year"]) for y in years],
            "series": [
                _series(
                    label,
                    [y[key] for y in years],
                    [link(Filters(event=key, year=y["year"])) for y in years],
                )
                for key, label in (
                    ("designated", gettext("Designated")),
                    ("rectification", gettext("Sent to rectification")),
                    ("revoked", gettext("Revoked")),
                )
            ],
        }
    )
    now = parts["designations"]["now"]
    out.append(
        {
            "id": "designations-now",
            "section": "designations",
            "title": gettext("Where the designated counties stand now"),
            "kind": "bar",
            "format": "count",
            "category_label": gettext("Stage"),
            "categories": [state_label(s.value, loc) for s in AFTER_DESIGNATION],
            "series": [
                _series(
                    gettext("Counties"),
                    [now[s.value] for s in AFTER_DESIGNATION],
                    [link(Filters(state=s.value)) for s in AFTER_DESIGNATION],
                )
            ],
        }
    )

    pipe = parts["pipeline"]
    states = [s for s in pipe["states"] if s["count"]]
    out.append(
        {
            "id": "states",
            "section": "pipeline",
            "title": gettext("Applications of the call by stage"),
            "kind": "bar",
            "format": "count",
            "category_label": gettext("Stage"),
            "categories": [state_label(s["state"], loc) for s in states],
            "series": [
                _series(
                    gettext("Number of applications"),
                    [s["count"] for s in states],
                    [
                        link(Filters(call_id=call_id, state=s["state"])) if s["listed"] == s["count"] else None
                        for s in states
                    ],
                )
            ],
        }
    )
    out.append(
        {
            "id": "funnel",
            "section": "pipeline",
            "title": gettext("Funnel: how far the call's applications got"),
            "kind": "funnel",
            "format": "count",
            "category_label": gettext("Stage reached"),
            "categories": [state_label(f["stage"], loc) for f in pipe["funnel"]],
            "series": [
                _series(
                    gettext("Number of applications"),
                    [f["count"] for f in pipe["funnel"]],
                    [
                        link(Filters(call_id=call_id, stage=f["stage"]))
                        if f["listed"] == f["count"] and f["count"]
                        else None
                        for f in pipe["funnel"]
                    ],
                )
            ],
        }
    )
    by_province = [p for p in pipe["by_province"] if p["total"]]
    out.append(
        {
            "id": "by-province",
            "section": "pipeline",
            "title": gettext("Applications of the call by province"),
            "kind": "hbar",
            "format": "count",
            "category_label": gettext("Province"),
            "categories": [p["province_name"] for p in by_province],
            "series": [
                _series(
                    gettext("Number of applications"),
                    [p["total"] for p in by_province],
                    [link(Filters(call_id=call_id, province=p["province_code"])) for p in by_province],
                )
            ],
        }
    )
    quota = [q for q in pipe["quota"] if q["used"] or len(pipe["quota"]) <= 3]
    out.append(
        {
            "id": "quota",
            "section": "pipeline",
            "title": gettext("Recommendation places: used and left"),
            "kind": "hbar",
            "stack": True,
            "format": "count",
            "category_label": gettext("Province"),
            "categories": [q["province_name"] for q in quota],
            "series": [
                _series(
                    gettext("Used"),
                    [q["used"] for q in quota],
                    [link(Filters(call_id=call_id, province=q["province_code"], state="quota")) for q in quota],
                ),
                _series(gettext("Left"), [q["left"] for q in quota]),
            ],
        }
    )
    out.append(
        {
            "id": "days",
            "section": "pipeline",
            "title": gettext("Average days spent at each stage"),
            "kind": "bar",
            "format": "number",
            "category_label": gettext("Stage"),
            "categories": [state_label(d["stage"], loc) for d in pipe["days"]],
            "series": [_series(gettext("Days"), [d["average_days"] for d in pipe["days"]])],
        }
    )

    late = parts["overdue"]
    out.append(
        {
            "id": "overdue-stage",
            "section": "overdue",
            "title": gettext("Overdue applications by stage"),
            "kind": "bar",
            "format": "count",
            "category_label": gettext("Stage"),
            "categories": [state_label(s["state"], loc) for s in late["by_state"]],
            "series": [
                _series(
                    gettext("Overdue"),
                    [s["count"] for s in late["by_state"]],
                    [link(Filters(call_id=call_id, state=s["state"], overdue=True)) for s in late["by_state"]],
                )
            ],
        }
    )
    out.append(
        {
            "id": "overdue-province",
            "section": "overdue",
            "title": gettext("Overdue applications by province"),
            "kind": "hbar",
            "format": "count",
            "category_label": gettext("Province"),
            "categories": [p["province_name"] for p in late["by_province"]],
            "series": [
                _series(
                    gettext("Overdue"),
                    [p["count"] for p in late["by_province"]],
                    [
                        link(Filters(call_id=call_id, province=p["province_code"], overdue=True))
                        for p in late["by_province"]
                    ],
                )
            ],
        }
    )

    weeks = parts["inspections"]["weeks"]
    out.append(
        {
            "id": "inspections",
            "section": "inspections",
            "title": gettext("Inspections by week"),
            "kind": "bar",
            "format": "count",
            "category_label": gettext("Week from"),
            "categories": [
                w["week"].strftime("%m-%d") if loc.startswith("en") else f"{w['week'].month}月{w['week'].day}日"
                for w in weeks
            ],
            "series": [
                _series(gettext("Site inspections"), [w["site"] for w in weeks]),
                _series(gettext("Re-checks"), [w["recheck"] for w in weeks]),
                _series(gettext("Reports overdue"), [w["reports_overdue"] for w in weeks]),
            ],
        }
    )
    return out


SECTIONS = ("plan", "designations", "pipeline", "overdue", "inspections")
