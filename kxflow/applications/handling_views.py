"""Web: 认领, 转办, 委派 and the opinion on an application's page; 抄送我的; my deputies.

Thin: each view reads the form and calls one operation of ``handling``.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kxflow.accounts.models import User
from kxflow.applications import handling, operations
from kxflow.applications.sections import detail_section
from kxflow.core.uow import transaction
from kxflow.core.web import nav_item, perform
from kxflow.notifications import copies
from kxflow.reminders import operations as reminders
from kxflow.workflow import holders
from kxflow.workflow.models import Application

bp = Blueprint("handling_web", __name__, template_folder="templates")


def _acts(user: User) -> bool:
    """Roles that hold applications at some stage: they name deputies."""
    return user.role in {role.value for role in holders.HOLDER_ROLE.values()}


nav_item("handling_web.copies_to_me", _l("Copied to me"), 95, lambda user: True, badge=copies.unread_copies)
nav_item("handling_web.deputies", _l("Deputies"), 96, _acts)


@detail_section("applications/_handling.html", 5)
def _section(user: User, app: Application) -> dict:
    """当前办理人 and the buttons to claim, hand on, delegate or answer; the people a step can be copied to."""
    handler = handling.handler_of(app)
    may_hand_on = handling.may_hand_on(user, app)
    may_delegate = handling.may_delegate(user, app)
    return {
        "show": True,
        "handler": handler if holders.unit_role(app) is not None else None,
        "may_claim": handling.may_claim(user, app),
        "may_hand_on": may_hand_on,
        "may_delegate": may_delegate,
        "may_give_opinion": handling.may_give_opinion(user, app),
        "colleagues": handling.colleagues(user, app) if (may_hand_on or may_delegate) else [],
        # only where a step can be taken from the page: a trigger or 催办
        "cc_candidates": handling.cc_candidates(user, app) if _takes_steps(user, app) else [],
        "unread_copies": [c for c in copies.copied_to(user, unread_only=True) if c.application_id == app.id],
    }


def _takes_steps(user: User, app: Application) -> bool:
    return bool(operations.allowed_triggers(app, user)) or reminders.can_press(user, app)


def _back(application_id: int):
    return redirect(url_for("applications_web.detail", application_id=application_id))


def _hand(application_id: int, step, done: str):
    """One hand-on step from the application's page: the operation, its message, back to the page."""
    perform(step, done)
    return _back(application_id)


def _to_user() -> int | None:
    return request.form.get("to_user_id", type=int)


@bp.post("/applications/<int:application_id>/claim")
@login_required
def claim(application_id: int):
    return _hand(
        application_id,
        lambda: handling.claim(current_user, application_id),
        gettext("Claimed: the application is yours now."),
    )


@bp.post("/applications/<int:application_id>/transfer")
@login_required
def transfer(application_id: int):
    return _hand(
        application_id,
        lambda: handling.transfer(current_user, application_id, _to_user(), request.form.get("reason")),
        gettext("Handed on (转办)."),
    )


@bp.post("/applications/<int:application_id>/delegate")
@login_required
def delegate(application_id: int):
    return _hand(
        application_id,
        lambda: handling.delegate(current_user, application_id, _to_user(), request.form.get("note")),
        gettext("Asked for an opinion (委派); the application comes back to you with it."),
    )


@bp.post("/applications/<int:application_id>/opinion")
@login_required
def opinion(application_id: int):
    return _hand(
        application_id,
        lambda: handling.record_opinion(current_user, application_id, request.form.get("opinion")),
        gettext("Opinion recorded; the application is back with the one who asked."),
    )


@bp.get("/copies")
@login_required
def copies_to_me():
    return render_template("applications/copies.html", rows=copies.copied_to(current_user))


@bp.post("/copies/<int:copy_id>/open")
@login_required
def open_copy(copy_id: int):
    with transaction():
        row = copies.open_copy(current_user, copy_id)
    return _back(row.application_id)


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.form.get(name) or "")
    except ValueError:
        return None


@bp.route("/account/deputies", methods=["GET", "POST"])
@login_required
def deputies():
    status = 200
    if request.method == "POST":
        if perform(
            lambda: handling.name_deputy(
                current_user, request.form.get("deputy_id", type=int), _day("starts_on"), _day("ends_on")
            ),
            gettext("Deputy named."),
        ):
            return redirect(url_for("handling_web.deputies"))
        status = 422
    return render_template(
        "applications/deputies.html",
        named=handling.deputies_named_by(current_user),
        standing_in=handling.standing_in_for(current_user),
        colleagues=handling.unit_colleagues(current_user),
        today=holders.today(),
    ), status


@bp.post("/account/deputies/<int:deputy_row_id>/cancel")
@login_required
def cancel_deputy(deputy_row_id: int):
    perform(lambda: handling.cancel_deputy(current_user, deputy_row_id), gettext("Deputy arrangement ended."))
    return redirect(url_for("handling_web.deputies"))
