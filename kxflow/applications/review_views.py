"""Web: bulk actions from the lists, versions of an application side by side, saved review phrases.

Thin like the other views: each asks the operations (``bulk``, ``versions``, ``phrases``) the API asks.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from kxflow.applications import bulk, phrases, quota, versions
from kxflow.applications.handover import next_step
from kxflow.core.errors import Invalid
from kxflow.core.web import flash_problems
from kxflow.indicators.models import definition_for
from kxflow.workflow.scope import get_application
from kxflow.workflow.triggers import TRIGGERS_BY_NAME, TriggerSpec

bp = Blueprint("review_web", __name__, template_folder="templates")


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and int(v) < 2**31][: bulk.MAX_ITEMS + 1]


@bp.get("/applications/bulk")
@login_required
def bulk_confirm():
    """The selected applications and the action, in the order they will be taken: one comment, then confirm."""
    ids = _ids(request.args.getlist("id"))
    trigger = request.args.get("trigger", "")
    back = request.args.get("back") or url_for("applications_web.index")
    try:
        spec = bulk.check_request(current_user, trigger, ids)
    except Invalid as exc:
        flash_problems(exc)
        return redirect(
            back if back.startswith("/") and not back.startswith("//") else url_for("applications_web.index")
        )
    return _confirm_page(spec, ids, kept="")


def _confirm_page(spec: TriggerSpec, ids: list[int], kept: str) -> str:
    """The selection in the order it will be taken, each one's next step, the quotas in play, the comment box."""
    apps = bulk.selected(current_user, ids)
    return render_template(
        "applications/bulk_confirm.html",
        spec=spec,
        apps=apps,
        next_steps={a.id: next_step(a, spec.name) for a in apps if a.state in spec.sources},
        quotas=quota.for_applications(current_user, apps) if spec.name == "province_recommend" else [],
        saved=phrases.mine(current_user),
        kept=kept,
    )


@bp.post("/applications/bulk")
@login_required
def bulk_fire():
    ids = _ids(request.form.getlist("id"))
    trigger = request.form.get("trigger", "")
    spec = TRIGGERS_BY_NAME.get(trigger)  # type: ignore[call-overload]
    if spec is None:
        abort(400)
    comment = request.form.get("comment")
    if spec.asks_confirmation and request.form.get("confirm") != "yes":
        flash(gettext("Tick the box to confirm: this action cannot be undone."), "error")
        return _confirm_page(spec, ids, kept=comment or ""), 422
    try:
        results = bulk.fire_many(current_user, trigger, ids, comment)
    except Invalid as exc:
        flash_problems(exc)
        return redirect(url_for("applications_web.index"))
    if request.form.get("save_phrase") == "yes" and (comment or "").strip():
        try:
            phrases.save(current_user, comment)
        except Invalid as exc:  # refused before anything is written: the decisions stand
            flash_problems(exc)
    return render_template(
        "applications/bulk_result.html",
        spec=spec,
        results=results,
        done=sum(r.ok for r in results),
        quotas=quota.in_sight(current_user) if spec.name == "province_recommend" else [],
    )


@bp.get("/applications/<int:application_id>/versions/<int:audit_id>")
@login_required
def version(application_id: int, audit_id: int):
    app = get_application(current_user, application_id)
    v = versions.version(current_user, application_id, audit_id)
    all_versions = versions.versions(current_user, application_id)
    return render_template(
        "applications/version.html",
        app=app,
        v=v,
        as_of=versions.AsOf(app, v),
        definition=definition_for(app.call.indicator_set_version),
        files=versions.files_of(app, v),
        others=[o for o in all_versions if o.audit_id != v.audit_id],
    )


@bp.get("/applications/<int:application_id>/compare")
@login_required
def compare(application_id: int):
    app = get_application(current_user, application_id)
    before, after = request.args.get("from", type=int), request.args.get("to", type=int)
    try:
        comparison = versions.compare(current_user, application_id, before, after)
    except Invalid as exc:
        flash_problems(exc)
        return redirect(url_for("applications_web.detail", application_id=application_id) + "#timeline")
    return render_template(
        "applications/compare.html",
        app=app,
        c=comparison,
        all_versions=versions.versions(current_user, application_id),
    )


@bp.get("/phrases")
@login_required
def my_phrases():
    """常用意见: the phrases offered beside every 审核意见 box, added and removed here."""
    return render_template("applications/phrases.html", saved=phrases.mine(current_user))


@bp.post("/phrases")
@login_required
def save_phrase():
    try:
        phrases.save(current_user, request.form.get("text"))
    except Invalid as exc:
        flash_problems(exc)
    else:
        flash(gettext("Saved to your phrases."))
    return redirect(_back())


@bp.post("/phrases/<int:phrase_id>/delete")
@login_required
def delete_phrase(phrase_id: int):
    phrases.delete(current_user, phrase_id)
    flash(gettext("Phrase removed."))
    return redirect(_back())


def _back() -> str:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else url_for("review_web.my_phrases")
