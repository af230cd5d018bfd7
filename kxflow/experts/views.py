"""Web: an expert's assignments and scoring form, 回避; ministry staff seat the panel from the application page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.applications.sections import detail_section
from kxflow.core.db import db
from kxflow.core.errors import Forbidden, Invalid
from kxflow.core.paging import page_number
from kxflow.core.uow import transaction
from kxflow.core.web import nav_item, perform
from kxflow.experts import operations
from kxflow.indicators.models import definition_for
from kxflow.regions import search as regions
from kxflow.regions.models import Province
from kxflow.reminders.operations import expert_review_due
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_application
from kxflow.workflow.states import State

bp = Blueprint("experts_web", __name__, template_folder="templates")
nav_item("experts_web.mine", _l("My reviews"), 30, operations.is_expert)
nav_item("experts_web.pool", _l("Expert pool"), 70, operations.keeps_pool)


@detail_section("experts/_panel.html", 10)
def _panel_section(user: User, app: Application) -> dict[str, Any] | None:
    if not operations.sees_panel(user, app):
        return None
    _, assignments, summary = operations.panel(user, app.id)
    can_seat = operations.can_seat(user, app)
    return {
        "assignments": assignments,
        "summary": summary,
        "can_seat": can_seat,
        "eligible": operations.propose(user, app.id, size=100) if can_seat else [],
        "review_due": expert_review_due(app) if app.state == State.EXPERT_REVIEW else None,
    }


def _filters() -> dict[str, str]:
    return {k: request.args.get(k, "").strip() for k in ("q", "province")}


@bp.get("/experts")
@login_required
def pool():
    """The pool, searched and filtered, one page at a time; each expert's profile opens on its own page."""
    filters = _filters()
    result = operations.pool(
        current_user, q=filters["q"] or None, province=filters["province"] or None, page=page_number()
    )
    provinces = db.session.scalars(select(Province).order_by(Province.code)).all()
    return render_template("experts/pool.html", result=result, filters=filters, provinces=provinces)


def _conflicts_from(form) -> tuple[list[dict[str, str | None]], list[str]]:
    """The conflicts kept (ticked) and the one added with the picker, each a county or a province."""
    codes = [c for c in form.getlist("conflict") if c]
    problems = []
    if (form.get("conflict_add") or form.get("conflict_add_text") or "").strip():
        code, problem = regions.picked(form, "conflict_add")
        if problem:
            problems.append(problem)
        elif code:
            codes.append(code)
    conflicts = [
        {"province_code": code, "county_code": None}
        if code.endswith("0000")
        else {"county_code": code, "province_code": None}
        for code in dict.fromkeys(codes)
    ]
    return conflicts, problems


@bp.route("/experts/<int:expert_id>", methods=["GET", "POST"])
@login_required
def profile(expert_id: int):
    """An expert's contact details, field and declared conflicts (chosen by name, never typed as codes)."""
    entry = operations.pool_entry(current_user, expert_id)
    problems: list[str] = []
    if request.method == "POST":
        conflicts, problems = _conflicts_from(request.form)
        contact = {k: request.form.get(k, "") for k in ("organisation", "title", "phone", "email")}
        if not problems and perform(
            lambda: operations.set_profile(
                current_user, expert_id, field_name=request.form.get("field", ""), conflicts=conflicts, **contact
            ),
            gettext("Expert profile saved."),
        ):
            return redirect(url_for(".profile", expert_id=expert_id))
    return render_template("experts/profile.html", entry=entry, problems=problems), 422 if problems else 200


@bp.route("/experts/new", methods=["GET", "POST"])
@login_required
def new_expert():
    """Ministry staff add an expert to the pool from here."""
    if not operations.keeps_pool(current_user):
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    form = request.form
    if request.method == "POST":
        data = {k: form.get(k, "").strip() for k in EXPERT_FIELDS}
        data["password"] = form.get("password", "")
        try:
            with transaction():
                expert = operations.add_expert(current_user, **data)
        except Invalid as exc:
            errors = exc.extra.get("fields", {})
        else:
            flash(gettext("%(name)s added to the expert pool.", name=expert.display_name or expert.username))
            return redirect(url_for(".profile", expert_id=expert.id))
    provinces = db.session.scalars(select(Province).order_by(Province.code)).all()
    return render_template("experts/new.html", errors=errors, form=form, provinces=provinces), 422 if errors else 200


EXPERT_FIELDS = ("username", "display_name", "province_code", "organisation", "title", "field", "phone", "email")


@bp.post("/applications/<int:application_id>/panel")
@login_required
def assign(application_id: int):
    auto = request.form.get("auto") == "yes"
    expert_ids = [int(x) for x in request.form.getlist("expert_id") if x.isdigit()]
    perform(
        lambda: operations.assign(current_user, application_id, expert_ids, auto=auto),
        gettext("Experts assigned; they have been asked to score."),
    )
    return redirect(url_for("applications_web.detail", application_id=application_id, _anchor="panel"))


@bp.get("/assignments")
@login_required
def mine():
    filters = {k: request.args.get(k, "").strip()[:40] for k in ("q", "status")}
    if filters["status"] not in operations.MINE_STATUSES:
        filters["status"] = ""
    result = operations.search_mine(
        current_user, q=filters["q"] or None, status=filters["status"] or None, page=page_number()
    )
    return render_template(
        "experts/mine.html",
        result=result,
        filters=filters,
        statuses=MINE_STATUS_LABELS,
        status=operations.scoring_status,
    )


MINE_STATUS_LABELS = {
    "to_score": _l("Still to score"),
    "scored": _l("Scored, review still open"),
    "closed": _l("Review closed"),
}


@bp.route("/assignments/<int:assignment_id>", methods=["GET", "POST"])
@login_required
def score(assignment_id: int):
    assignment = operations.get_own(current_user, assignment_id)
    app = get_application(current_user, assignment.application_id)
    definition = definition_for(app.call.indicator_set_version)
    if request.method == "POST":
        scores = {item.key: request.form.get(f"score-{item.key}", "") for item in definition.scored}
        done = perform(
            lambda: operations.score(
                current_user, assignment_id, scores, request.form.get("comment"), request.form.getlist("veto_failed")
            ),
            gettext("Your scores are saved; you may change them until the review closes."),
        )
        if done:
            return redirect(url_for(".mine"))
    vetoes = [i for i in (*definition.inputs, *definition.computed) if i.veto]
    return render_template(
        "experts/score.html",
        a=assignment,
        app=app,
        definition=definition,
        vetoes=vetoes,
        status=operations.scoring_status(app),
        can_recuse=operations.can_recuse(app),
    )


@bp.post("/assignments/<int:assignment_id>/recuse")
@login_required
def recuse(assignment_id: int):
    done = perform(
        lambda: operations.recuse(current_user, assignment_id, request.form.get("reason", "")),
        gettext("You have stepped aside; the ministry will assign a replacement."),
    )
    return redirect(url_for(".mine") if done else url_for(".score", assignment_id=assignment_id))
