"""Web: the dashboard (charts with their tables), the list behind a figure, and the Excel exports."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kxflow.core.errors import Forbidden, Invalid
from kxflow.core.formats import locale
from kxflow.core.security_log import record
from kxflow.core.web import nav_item
from kxflow.statistics import charts, excel, operations
from kxflow.statistics.operations import Filters
from kxflow.workflow.states import state_label

bp = Blueprint("statistics_web", __name__, template_folder="templates")
nav_item("statistics_web.dashboard", _l("Statistics"), 55, operations.can_read)


def _require() -> None:
    if not operations.can_read(current_user):
        raise Forbidden()


def _int_arg(name: str, low: int = 1, high: int = 2**31 - 1) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Invalid(fields={name: [gettext("Must be a whole number.")]})
    return int(raw)


def _filters() -> Filters:
    province = request.args.get("province", "").strip() or None
    if province is not None and not (len(province) == 6 and province.isdigit()):
        raise Invalid(fields={"province": [gettext("A province is given by its six-digit code.")]})
    filters = Filters(
        call_id=_int_arg("call_id"),
        province=province,
        state=request.args.get("state", "").strip() or None,
        stage=request.args.get("stage", "").strip() or None,
        event=request.args.get("event", "").strip() or None,
        year=_int_arg("year", 2000, 2100),
        overdue=request.args.get("overdue") in ("1", "true", "y"),
    )
    operations.check_filters(filters)
    return filters


def _behind_url(filters: Filters) -> str:
    return url_for("statistics_web.behind", **filters.as_args())


@bp.get("/statistics")
@login_required
def dashboard():
    _require()
    parts = operations.dashboard(current_user, _int_arg("call_id"))
    chart_specs = charts.charts(parts, _behind_url)
    return render_template(
        "statistics/dashboard.html",
        parts=parts,
        charts=chart_specs,
        by_section={s: [c for c in chart_specs if c["section"] == s] for s in charts.SECTIONS},
        behind_url=_behind_url,
        Filters=Filters,
    )


@bp.get("/statistics/applications")
@login_required
def behind():
    """The applications behind a figure."""
    _require()
    filters = _filters()
    page = _int_arg("page", 1, 10_000) or 1
    result = operations.behind(current_user, filters, page=page)
    return render_template(
        "statistics/behind.html",
        result=result,
        filters=filters,
        describe=_describe(filters),
        export_url=url_for("statistics_web.export_applications", **filters.as_args()),
    )


def _describe(filters: Filters) -> list[tuple[Any, Any]]:
    """The filters in words, for the heading of the list."""
    from_call = {c["id"]: c["title"] for c in operations.calls(current_user)}
    names = {p["code"]: p["name"] for p in operations.provinces_in_scope(current_user)}
    out: list[tuple[Any, Any]] = []
    if filters.call_id:
        out.append((gettext("Call"), from_call.get(filters.call_id, filters.call_id)))
    if filters.province:
        out.append((gettext("Province"), names.get(filters.province, filters.province)))
    if filters.state == "quota":
        out.append((gettext("Stage"), gettext("Holding a recommendation place")))
    elif filters.state == "after_designation":
        out.append((gettext("Stage"), gettext("Designated at some time")))
    elif filters.state:
        out.append((gettext("Stage"), state_label(filters.state, locale())))
    if filters.stage:
        out.append((gettext("Stage reached"), state_label(filters.stage, locale())))
    if filters.event:
        events = {
            "designated": gettext("Designated"),
            "rectification": gettext("Sent to rectification"),
            "revoked": gettext("Revoked"),
        }
        out.append((gettext("Event"), events[filters.event]))
    if filters.year:
        out.append((gettext("Year"), filters.year))
    if filters.overdue:
        out.append((gettext("Overdue"), gettext("Yes")))
    return out


def _xlsx(data: bytes, name: str, what: str, rows: int, detail: dict[str, Any]):
    record(
        "export",
        user_id=current_user.id,
        username=current_user.username,
        status=200,
        detail={"what": what, "format": "xlsx", "rows": rows, **detail},
    )
    return send_file(io.BytesIO(data), mimetype=excel.MIMETYPE, as_attachment=True, download_name=name)


@bp.get("/statistics/export/applications.xlsx")
@login_required
def export_applications():
    _require()
    filters = _filters()
    data, rows = excel.applications_xlsx(current_user, filters)
    return _xlsx(data, gettext("applications.xlsx"), "applications", rows, filters.as_args())


@bp.get("/statistics/export/provinces.xlsx")
@login_required
def export_provinces():
    _require()
    call = operations.pick_call(current_user, _int_arg("call_id"))
    data, rows = excel.provinces_xlsx(current_user, call)
    return _xlsx(data, gettext("provinces.xlsx"), "provinces", rows, {"call_id": call.id if call else None})


@bp.get("/statistics/export/calls/<int:call_id>.xlsx")
@login_required
def export_call(call_id: int):
    _require()
    call = operations.pick_call(current_user, call_id)
    data, rows = excel.call_xlsx(current_user, call)
    return _xlsx(data, gettext("call-results-%(id)s.xlsx", id=call_id), "call_results", rows, {"call_id": call_id})
