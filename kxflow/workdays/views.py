"""Web: the holiday schedule by year (ministry staff enter a newly announced year)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kxflow.core import clock
from kxflow.core.errors import Forbidden, Invalid
from kxflow.core.fields import CHINA
from kxflow.core.formats import fmt_dt
from kxflow.core.uow import transaction
from kxflow.core.web import nav_item
from kxflow.workdays import calendar, operations

bp = Blueprint("workdays_web", __name__, template_folder="templates")
nav_item("workdays_web.index", _l("Holiday schedule"), 85, operations.can_enter)


@bp.app_template_filter("due_dt")
def due_filter(value) -> str:
    """A computed due date, with 节假日安排未公布 beside it when its year's schedule is not known yet."""
    text = fmt_dt(value)
    if value is not None and calendar.provisional(value):
        text += gettext(" (holiday schedule not yet announced)")
    return text


@bp.app_template_filter("iso_dt")
def iso_dt(value: str | None) -> str:
    """A date kept as ISO text (in an audit snapshot), shown like any other."""
    return due_filter(datetime.fromisoformat(value)) if value else "—"


@bp.app_template_filter("is_rest_day")
def is_rest_day(value) -> bool:
    return value is not None and not calendar.is_workday(value)


@bp.route("/holiday-schedule", methods=["GET", "POST"])
@login_required
def index():
    if not operations.can_enter(current_user):
        raise Forbidden()
    today = clock.now().astimezone(CHINA).date()
    errors: dict[str, list[str]] = {}
    form = {"year": str(today.year + 1), "source": "", "holidays": "", "workdays": ""}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in form}
        try:
            year = int(form["year"])
        except ValueError:
            errors = {"year": [gettext("Must be a whole number.")]}
        else:
            try:
                with transaction():
                    operations.enter_year(
                        current_user, year, holidays=form["holidays"], workdays=form["workdays"], source=form["source"]
                    )
            except Invalid as exc:
                errors = exc.extra.get("fields", {})
            else:
                flash(
                    gettext("The %(year)s holiday schedule is saved; dates computed from now on follow it.", year=year)
                )
                return redirect(url_for(".index"))
    elif request.args.get("year", type=int):
        year = request.args.get("year", type=int)
        holidays, workdays = operations.entered_text(year)
        form = {"year": str(year), "source": "", "holidays": holidays, "workdays": workdays}
    return render_template("workdays/index.html", years=operations.years_around(today), form=form, errors=errors), (
        422 if errors else 200
    )
