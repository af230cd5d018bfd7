"""Web: the public notice and the roll of demonstration counties (no login), the objection form;
ministry staff resolve objections from the application's page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from kxflow.accounts.models import User
from kxflow.applications.sections import detail_section
from kxflow.core.errors import Conflict, Invalid
from kxflow.core.extensions import limiter
from kxflow.core.paging import page_number, page_of
from kxflow.core.uow import transaction
from kxflow.core.uploads import download as file_download
from kxflow.core.web import perform
from kxflow.publicity import challenge, operations
from kxflow.workflow.models import Application
from kxflow.workflow.states import State

bp = Blueprint("publicity_web", __name__, template_folder="templates")


@detail_section("publicity/_objections.html", 30)
def _objections_section(user: User, app: Application) -> dict[str, Any] | None:
    if not operations.sees_objections(user, app):
        return None
    return {"objections": operations.of_application(user, app.id)}


@bp.get("/public/notices")
def notices():
    return render_template("publicity/notices.html", notices=operations.notices(), office=_office())


@bp.route("/public/notices/<int:application_id>/objection", methods=["GET", "POST"])
@limiter.shared_limit(lambda: current_app.config["OBJECTION_RATE_LIMIT"], scope="objections", methods=["POST"])
@limiter.shared_limit(
    lambda: current_app.config["OBJECTION_GLOBAL_LIMIT"],
    scope="objections-all",
    key_func=lambda: "all",
    methods=["POST"],
)
def objection(application_id: int):
    notice = next((n for n in operations.notices() if n.application_id == application_id), None)
    if notice is None:
        return render_template(
            "publicity/notices.html", notices=operations.notices(), missing=True, office=_office()
        ), 404
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        scan = request.files.get("scan")
        form = {k: request.form.get(k, "") for k in ("kind", "text", "unit_name", "person_name", "contact")}
        try:
            with transaction():
                challenge.check(request.form.get("challenge"), application_id)
                operations.lodge(
                    application_id, **form, scan=(scan.filename or "", scan.stream) if scan and scan.filename else None
                )
        except Invalid as exc:
            errors = exc.extra.get("fields") or {}  # each next to its field, named in the summary above the form
        except Conflict as exc:
            flash(str(exc.message), "error")
        else:
            flash(
                gettext(
                    "Your objection has been received. The ministry will look into it; "
                    "the county is not told who objected."
                )
            )
            return redirect(url_for(".notices"))
    return render_template(
        "publicity/objection.html",
        notice=notice,
        form=request.form,
        errors=errors,
        office=_office(),
        challenge=challenge.issue(application_id),
    ), 422 if errors else 200


def _office() -> dict[str, str]:
    """Who receives objections, as the notice must say: the office, its address and telephone."""
    cfg = current_app.config
    return {"name": cfg["OBJECTION_OFFICE"], "address": cfg["OBJECTION_ADDRESS"], "phone": cfg["OBJECTION_PHONE"]}


@bp.get("/public/counties")
def roll():
    """The roll, searched by county name, filtered by province and status, one page at a time."""
    filters = {k: request.args.get(k, "").strip() for k in ("q", "province", "state")}
    entries = operations.roll()
    provinces = sorted({e.province for e in entries})
    chosen = [
        e
        for e in entries
        if (not filters["q"] or filters["q"] in e.county)
        and (not filters["province"] or e.province == filters["province"])
        and (not filters["state"] or e.state == filters["state"])
    ]
    return render_template(
        "publicity/roll.html",
        result=page_of(chosen, page_number()),
        filters=filters,
        provinces=provinces,
        states=ROLL_STATES,
    )


ROLL_STATES = (State.DESIGNATED, State.RECTIFICATION, State.REVOKED)


@bp.post("/objections/<int:objection_id>/resolve")
@login_required
def resolve(objection_id: int):
    upheld = request.form.get("outcome") == "upheld"
    application_id = request.form.get("application_id", type=int)
    perform(
        lambda: operations.resolve(current_user, objection_id, upheld=upheld, reason=request.form.get("reason", "")),
        gettext("Objection upheld; the application is rejected.") if upheld else gettext("Objection dismissed."),
    )
    return redirect(url_for("applications_web.detail", application_id=application_id, _anchor="objections"))


@bp.get("/objections/<int:objection_id>/scan")
@login_required
def scan(objection_id: int):
    row, path = operations.scan_for_download(current_user, objection_id)
    return file_download(path, row.scan_content_type, row.scan_original_name)
