"""Excel files of the figures: the applications behind a figure (with indicators, scores and stages), the
provinces side by side, and a call's full results. What they say is chosen here; how a sheet is written (Chinese
headers frozen, number formats, no formula injection) is ``core.xlsx``, shared with the long export."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core.formats import locale
from kxflow.core.xlsx import DATE, DEC, INT, MIMETYPE, PCT, Column, local, to_bytes, workbook, write_sheet
from kxflow.experts.operations import panel_scores, sees_panel_scores
from kxflow.indicators.models import definition_for
from kxflow.statistics import operations
from kxflow.statistics.operations import Filters
from kxflow.workflow.models import Application
from kxflow.workflow.states import state_label

__all__ = ["MIMETYPE", "applications_xlsx", "call_xlsx", "provinces_xlsx"]


def _indicator_columns(apps: list[Application]) -> list[tuple[str, str, str]]:
    """(key, header, format) of every indicator and computed value of the sets these applications use."""
    columns: dict[str, tuple[str, str, str]] = {}
    loc = locale()
    for version in dict.fromkeys(a.call.indicator_set_version for a in apps):
        definition = definition_for(version)
        if definition is None:
            continue
        for item in (*definition.inputs, *definition.computed):
            header = item.label(loc) + (f"（{item.unit}）" if item.unit else "")
            fmt = DEC if item.type == "number" or item.formula else None
            columns.setdefault(item.key, (item.key, header, fmt))
    return list(columns.values())


def _display(value: Any) -> Any:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return value


def applications_xlsx(user: User, filters: Filters) -> tuple[bytes, int]:
    """The applications behind a figure, one row each, with every indicator, the score and the stage."""
    apps = operations.behind_all(user, filters)
    loc = locale()
    indicator_columns = _indicator_columns(apps)
    headers = [
        Column(gettext("Call"), None, 30),
        Column(gettext("Province"), None, 12),
        Column(gettext("County"), None, 14),
        Column(gettext("Division code"), None, 10),
        Column(gettext("Stage"), None, 12),
        Column(gettext("Self-assessment score"), DEC, 10),
        Column(gettext("Veto items failed"), None, 14),
        Column(gettext("Revision round"), INT, 8),
        Column(gettext("Due"), DATE, 12),
        Column(gettext("Designated on"), DATE, 12),
        *(Column(header, fmt, 14) for _key, header, fmt in indicator_columns),
    ]
    rows = (
        [
            a.call.title,
            a.county.province.name,
            a.county.name,
            a.county_code,
            state_label(a.state, loc),
            a.score,
            "、".join(a.veto_failures or []),
            a.revision_round,
            local(a.due_at),
            local(a.designated_at),
            *(_display({**(a.indicators or {}), **(a.computed or {})}.get(key)) for key, _h, _f in indicator_columns),
        ]
        for a in apps
    )
    book = workbook()
    write_sheet(book, gettext("Applications"), headers, rows)
    return to_bytes(book), len(apps)


def provinces_xlsx(user: User, call: Call | None) -> tuple[bytes, int]:
    rows = operations.provinces(user, call)
    headers = [
        Column(gettext("Province"), None, 14),
        Column(gettext("Number of applications"), INT, 10),
        Column(gettext("Recommended"), INT, 10),
        Column(gettext("Designated"), INT, 10),
        Column(gettext("Quota"), INT, 8),
        Column(gettext("Places left"), INT, 8),
        Column(gettext("Pass rate of the latest assessment"), PCT, 14),
        Column(gettext("Fiscal S&T share, last year (%)"), DEC, 14),
        Column(gettext("Change of the share (percentage points)"), DEC, 14),
        Column(gettext("Overdue"), INT, 8),
    ]
    book = workbook()
    write_sheet(
        book,
        gettext("Provinces"),
        headers,
        (
            [
                r["province_name"],
                r["applications"],
                r["recommended"],
                r["designated"],
                r["quota"],
                r["quota_left"],
                r["pass_rate"],
                r["share_last"],
                r["change_pp"],
                r["overdue"],
            ]
            for r in rows
        ),
    )
    return to_bytes(book), len(rows)


def call_xlsx(user: User, call: Call) -> tuple[bytes, int]:
    """A call's full results: every application the user may open, with its stage, figures and (for the ministry)
    its expert panel's score; the stages per province; the quota; the funnel."""
    loc = locale()
    book = workbook()
    apps = operations.behind_all(user, Filters(call_id=call.id))
    indicator_columns = _indicator_columns(apps)
    panel = panel_scores(apps) if sees_panel_scores(user) else None  # the ministry's alone, like the panel page
    write_sheet(
        book,
        gettext("Results"),
        [
            Column(gettext("Province"), None, 12),
            Column(gettext("County"), None, 14),
            Column(gettext("Stage"), None, 12),
            Column(gettext("Self-assessment score"), DEC, 10),
            *([Column(gettext("Expert panel score"), DEC, 10)] if panel is not None else []),
            Column(gettext("Designated on"), DATE, 12),
            *(Column(header, fmt, 14) for _key, header, fmt in indicator_columns),
        ],
        (
            [
                a.county.province.name,
                a.county.name,
                state_label(a.state, loc),
                a.score,
                *([panel[a.id]] if panel is not None else []),
                local(a.designated_at),
                *(
                    _display({**(a.indicators or {}), **(a.computed or {})}.get(key))
                    for key, _h, _f in indicator_columns
                ),
            ]
            for a in apps
        ),
    )
    pipe = operations.pipeline(user, call)
    shown = [s["state"] for s in pipe["states"] if s["count"]]
    write_sheet(
        book,
        gettext("Stages by province"),
        [
            Column(gettext("Province"), None, 14),
            *(Column(state_label(s, loc), INT, 10) for s in shown),
            Column(gettext("Total"), INT, 8),
        ],
        (
            [p["province_name"], *(p["states"].get(s, 0) for s in shown), p["total"]]
            for p in pipe["by_province"]
            if p["total"]
        ),
    )
    write_sheet(
        book,
        gettext("Quota"),
        [
            Column(gettext("Province"), None, 14),
            Column(gettext("Quota"), INT, 8),
            Column(gettext("Used"), INT, 8),
            Column(gettext("Left"), INT, 8),
        ],
        ([q["province_name"], q["quota"], q["used"], q["left"]] for q in pipe["quota"]),
    )
    write_sheet(
        book,
        gettext("Funnel"),
        [Column(gettext("Stage reached"), None, 14), Column(gettext("Number of applications"), INT, 10)],
        ([state_label(f["stage"], loc), f["count"]] for f in pipe["funnel"]),
    )
    return to_bytes(book), len(apps)
