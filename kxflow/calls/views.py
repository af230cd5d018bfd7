"""Web: the ministry's calls — list, open one, change one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import SelectChoice

from kxflow.calls import operations
from kxflow.calls.forms import CallForm
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Forbidden, Invalid
from kxflow.core.fields import CHINA
from kxflow.core.inputs import page_arg
from kxflow.core.uow import transaction
from kxflow.core.web import nav_item, perform
from kxflow.indicators.models import IndicatorSet
from kxflow.regions.models import PROGRAMME_DIVISION_TYPES, Province

bp = Blueprint("calls_web", __name__, template_folder="templates")
nav_item("calls_web.index", _l("Calls"), 50, lambda user: True)


@bp.get("/calls")
@login_required
def index():
    filters = {k: request.args.get(k, "").strip()[:40] for k in ("q", "status")}
    if filters["status"] not in operations.CALL_STATUSES:
        filters["status"] = ""
    result = operations.search_calls(
        q=filters["q"] or None, status=filters["status"] or None, page=page_arg(request.args)
    )
    return render_template(
        "calls/list.html",
        result=result,
        filters=filters,
        statuses=CALL_STATUS_LABELS,
        now=clock.now(),
        can_manage=operations.can_manage_calls(current_user),
    )


CALL_STATUS_LABELS = {
    "upcoming": _l("Not open yet"),
    "open": _l("Open to counties"),
    "province": _l("Past the county deadline"),
    "closed": _l("Collection ended"),
}


@bp.get("/calls/<int:call_id>")
@login_required
def detail(call_id: int):
    """A call's page: its dates and each province's actual quota (the call's figure or its override) and use."""
    call = operations.get_call(call_id)
    names = dict(db.session.execute(select(Province.code, Province.name)).all())
    return render_template(
        "calls/detail.html",
        call=call,
        quotas=operations.quotas_visible_to(current_user, call),
        names=names,
        can_manage=operations.can_manage_calls(current_user),
    )


def _overrides_from(form) -> tuple[dict[str, Any], dict[str, list[str]]]:
    overrides: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, raw in form.items():
        if key.startswith("quota_") and raw.strip():
            code = key.removeprefix("quota_")
            try:
                overrides[code] = int(raw)
            except ValueError:
                errors[f"quota_overrides.{code}"] = [gettext("Must be a whole number.")]
    return overrides, errors


@bp.route("/calls/new", methods=["GET", "POST"])
@bp.route("/calls/<int:call_id>/edit", methods=["GET", "POST"])
@login_required
def edit(call_id: int | None = None):
    if not operations.can_manage_calls(current_user):
        raise Forbidden()
    call = operations.get_call(call_id) if call_id else None
    form = CallForm(obj=call)
    form.indicator_set_version.choices = [
        SelectChoice(v, v)
        for v in db.session.scalars(select(IndicatorSet.version).order_by(IndicatorSet.published_at.desc()))
    ]
    if request.method == "GET":
        if call is None:
            form.division_types.data = list(PROGRAMME_DIVISION_TYPES)
        else:
            for name in ("opens_at", "county_deadline", "province_deadline"):
                getattr(form, name).data = getattr(call, name).astimezone(CHINA).replace(tzinfo=None)
    errors: dict[str, list[str]] = {}
    overrides = {o.province_code: o.quota for o in call.quota_overrides} if call else {}
    if form.validate_on_submit():
        overrides, errors = _overrides_from(request.form)
        data = {k: v for k, v in form.data.items() if k != "csrf_token"}
        for name in ("opens_at", "county_deadline", "province_deadline"):
            data[name] = data[name].replace(tzinfo=CHINA)
        data["score_threshold"] = float(data["score_threshold"])
        for name in (
            "expert_review_days",
            "publicity_days",
            "rectification_days",
            "score_gap",
            "return_grace_days",
            "revoked_wait_years",
        ):
            if data[name] is None:
                data.pop(name)  # not given: the call keeps its setting (or the default)
        if "score_gap" in data:
            data["score_gap"] = float(data["score_gap"])
        data["requires_assessment_pass"] = bool(data["requires_assessment_pass"])
        data["quota_overrides"] = overrides
        if not errors:
            try:
                with transaction():
                    saved = (
                        operations.update_call(current_user, call.id, data)
                        if call
                        else operations.create_call(current_user, data)
                    )
            except Invalid as exc:
                errors = exc.extra.get("fields", {})
            else:
                flash(gettext("Saved."))
                return redirect(url_for("calls_web.edit", call_id=saved.id))
    elif request.method == "POST":
        overrides, _ = _overrides_from(request.form)
    provinces = db.session.scalars(select(Province).order_by(Province.code)).all()
    return render_template(
        "calls/form.html",
        form=form,
        call=call,
        errors=errors,
        provinces=provinces,
        overrides=overrides,
        overdue=operations.overdue_drafts(call.id) if call else 0,
        undecided=operations.undecided(call.id) if call else 0,
    ), (422 if errors or form.errors else 200)


@bp.post("/calls/<int:call_id>/close")
@login_required
def close(call_id: int):
    """结束征集: the ministry closes a call whose last application is decided; its figures freeze."""
    perform(
        lambda: operations.close_call(current_user, call_id),
        gettext("The call is closed; its figures no longer change."),
    )
    return redirect(url_for("calls_web.edit", call_id=call_id))
