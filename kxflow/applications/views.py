"""Web: my tasks, the applications list, an application's page, its form, its actions.

Thin: each view checks the session user, reads the form, calls the operations the API calls.
"""

from __future__ import annotations

from datetime import date, datetime, time

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from kxflow.accounts.roles import Role
from kxflow.applications import attachments, bulk, deadlines, handling, operations, phrases, queries, quota
from kxflow.applications.forms import parse_indicator_form
from kxflow.applications.handover import after_action, next_step
from kxflow.applications.sections import sections_for
from kxflow.applications.versions import timeline_links
from kxflow.calls.operations import list_calls
from kxflow.core.db import db
from kxflow.core.errors import Conflict, GuardFailed, Invalid, StorageFull
from kxflow.core.fields import CHINA
from kxflow.core.formats import fmt_dt, fmt_num, locale
from kxflow.core.inputs import page_arg
from kxflow.core.uow import transaction
from kxflow.core.uploads import download as download_file
from kxflow.core.web import flash_problems, landing_for, nav_item, perform
from kxflow.indicators.evaluate import evaluate
from kxflow.indicators.models import definition_for
from kxflow.notifications import operations as notifications
from kxflow.regions import search as regions
from kxflow.regions.models import Province
from kxflow.reminders import operations as reminders
from kxflow.workflow import triggers
from kxflow.workflow.diagram import steps, svg_name
from kxflow.workflow.scope import get_application, nationwide
from kxflow.workflow.states import STATE_NAMES, STATES_BY_NAME
from kxflow.workflow.triggers import TRIGGERS_BY_NAME

bp = Blueprint("applications_web", __name__, template_folder="templates")
nav_item("applications_web.tasks", _l("My tasks"), 10, operations.handles_applications)
nav_item("applications_web.index", _l("Applications"), 20, operations.handles_applications)


@bp.app_template_global()
def state_label(name: str) -> str:
    spec = STATES_BY_NAME[name]
    return spec.label_en if locale().startswith("en") else spec.label_zh


@bp.app_template_global()
def item_label(item, app) -> str:
    """An indicator's label in the reader's language, the years named as years (2023年), not 申报前第三年."""
    return item.label(locale(), app.call.year)


@bp.app_template_global()
def trigger_label(name: str) -> str:
    return triggers.trigger_label(name, locale())


@bp.get("/")
def home():
    return redirect(url_for("applications_web.tasks" if current_user.is_authenticated else "accounts.login"))


@bp.get("/tasks")
@login_required
def tasks():
    if current_user.role == Role.EXPERT:
        return redirect(url_for("experts_web.mine"))  # an expert's tasks are their assignments
    if not operations.handles_applications(current_user):
        # nothing of theirs ever waits here (the administrator): their own first page instead
        landing = landing_for(current_user)
        if landing is not None:
            return redirect(url_for(landing))
    filters = {k: request.args.get(k, "").strip()[:40] for k in ("q", "call_id", "overdue")}
    result = queries.tasks_filtered(  # mine first, then the unit's unclaimed, then colleagues' (across pages)
        current_user,
        q=filters["q"] or None,
        call_id=int(filters["call_id"]) if filters["call_id"].isdigit() else None,
        overdue=filters["overdue"] == "1",
        page=page_arg(request.args),
    )
    items = [(app, queries.urgency(app)) for app in result.items]
    return render_template(
        "applications/tasks.html",
        items=items,
        handlers=handling.handlers(result.items),
        result=result,
        filters=filters,
        counts=queries.counts_by_state(current_user),
        states=STATE_NAMES,
        offers=operations.call_offers(current_user),
        follow_up=queries.follow_up(current_user),
        calls={c.id: c for c in list_calls()},
        quotas=quota.in_sight(current_user),
    )


@bp.get("/applications")
@login_required
def index():
    args = request.args
    state = args.get("state") if args.get("state") in STATE_NAMES else None
    sort = args.get("sort") if args.get("sort") in queries.SORTS else "updated"
    page = page_arg(args)
    result = queries.search(
        current_user,
        state=state,
        call_id=args.get("call_id", type=int),
        province=args.get("province") or None,
        county=args.get("county") or None,
        q=args.get("q") or None,
        sort=sort,
        page=page,
    )
    calls = list_calls()
    provinces = db.session.scalars(select(Province).order_by(Province.code)).all()
    return render_template(
        "applications/list.html",
        result=result,
        calls=calls,
        provinces=provinces,
        states=STATE_NAMES,
        urgency=queries.urgency,
        handlers=handling.handlers(result.items),
        sort=sort,
        spans_provinces=nationwide(current_user),
        bulk_actions=bulk.bulk_triggers_for(current_user, state) if state else [],
        can_bulk=bool(bulk.bulk_triggers_for(current_user)),
        quotas=quota.in_sight(current_user),
    )


@bp.post("/applications/new")
@login_required
def create():
    call_id = request.form.get("call_id", type=int)
    try:
        with transaction():
            app = operations.create_application(current_user, call_id or 0)
    except Invalid as exc:
        flash_problems(exc)
        return redirect(url_for("applications_web.tasks"))
    except Conflict as exc:
        flash(str(exc.message), "error")
        existing = exc.extra.get("application_id")
        return redirect(url_for("applications_web.detail", application_id=existing) if existing else url_for(".tasks"))
    flash(gettext("Application opened. Fill in the indicators and upload the documents."))
    return redirect(url_for("applications_web.edit", application_id=app.id))


@bp.get("/applications/<int:application_id>")
@login_required
def detail(application_id: int):
    return _detail(application_id)


def _detail(application_id: int, kept: dict[str, str] | None = None, status: int = 200):
    """The application's page; ``kept`` holds what the user typed into a form that was refused."""
    app = get_application(current_user, application_id)
    history = operations.history(current_user, application_id)
    definition = definition_for(app.call.indicator_set_version)
    visited = [r.from_state for r in history] + [app.state]  # the stages it has passed through
    allowed = [TRIGGERS_BY_NAME[name] for name in operations.allowed_triggers(app, current_user)]
    blockers = operations.submit_blockers(current_user, app) if any(t.name == "submit" for t in allowed) else []
    sections, facts = sections_for(current_user, app)
    return render_template(
        "applications/detail.html",
        app=app,
        definition=definition,
        history=history,
        files=attachments.list_attachments(current_user, application_id),
        triggers=allowed,
        blockers=blockers,
        steps=steps(app.state, visited),
        diagram=svg_name(locale()),
        urgency=queries.urgency(app),
        can_edit=operations.can_edit(current_user, app),
        can_press=reminders.can_press(current_user, app),
        deliveries=(
            notifications.deliveries_of_application(current_user, app.id)
            if notifications.can_see_deliveries(current_user)
            else []
        ),
        render_message=notifications.render_message,
        delivery_error=notifications.delivery_error,
        sections=sections,
        can_extend=deadlines.can_extend(current_user, app),
        kept=kept or {},
        next_steps={t.name: next_step(app, t.name) for t in allowed},
        quota=quota.for_application(current_user, app),
        saved_phrases=phrases.mine(current_user) if any(t.takes_comment for t in allowed) else [],
        versions=timeline_links(current_user, application_id),
        **facts,
    ), status


CONTACT = ("contact_name", "contact_phone")


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@login_required
def edit(application_id: int):
    app = get_application(current_user, application_id)
    operations.require_draft_editor(app, current_user)
    definition = definition_for(app.call.indicator_set_version)
    errors: dict[str, list[str]] = {}
    values = dict(app.indicators or {})
    contact = {k: getattr(app, k) for k in CONTACT}
    if request.method == "POST":
        submitted = parse_indicator_form(definition, request.form)
        try:
            with transaction():
                app = operations.update_indicators(
                    current_user,
                    application_id,
                    submitted,
                    request.form.get("version", type=int),
                    contact={k: request.form.get(k, "") for k in CONTACT if k in request.form},
                )
        except Invalid as exc:
            errors = {k.removeprefix("indicators."): v for k, v in exc.extra.get("fields", {}).items()}
            values = {**values, **{k: request.form.get(k, "") for k in submitted}}
            contact = {k: request.form.get(k, "") for k in CONTACT}
        else:
            flash(gettext("Saved."))
            return redirect(url_for("applications_web.edit", application_id=application_id))
    return render_template(
        "applications/form.html",
        app=app,
        definition=definition,
        values=values,
        contact=contact,
        errors=errors,
        files=attachments.list_attachments(current_user, application_id),
        blockers=operations.submit_blockers(current_user, app),
        warnings=_warnings(definition, evaluate(definition, dict(app.indicators or {})).warnings),
        multiple_kinds=attachments.MULTIPLE_KINDS,
        max_bytes=current_app.config["ATTACHMENT_MAX_BYTES"],
        max_mb=current_app.config["ATTACHMENT_MAX_BYTES"] // (1024 * 1024),
    ), (422 if errors else 200)


@bp.post("/applications/<int:application_id>/preview")
@login_required
def preview(application_id: int):
    app = get_application(current_user, application_id)
    definition = definition_for(app.call.indicator_set_version)
    typed = parse_indicator_form(definition, request.form)
    result, errors = operations.preview_indicators(current_user, application_id, typed)
    labels = {i.key: i.label(locale()) for i in (*definition.inputs, *definition.computed)}
    return jsonify(
        computed={k: fmt_num(v) for k, v in result.computed.items()},
        score=fmt_num(result.score),
        veto=[labels[k] for k in result.veto_failures],
        errors={k.removeprefix("indicators."): v for k, v in errors.items()},
        blockers=operations.submit_blockers(current_user, app, typed),
        warnings=_warnings(definition, result.warnings),
    )


def _warnings(definition, warnings: dict[str, str]) -> list[str]:
    """Plausibility warnings as the clerk reads them: the item's label, then what looks wrong."""
    return [f"{definition.inputs_by_key[k].label(locale())}：{text}" for k, text in warnings.items()]


@bp.post("/applications/<int:application_id>/attachments")
@login_required
def upload(application_id: int):
    file = request.files.get("file")
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        with transaction():
            row = attachments.add_attachment(
                current_user,
                application_id,
                request.form.get("kind", ""),
                file.filename if file else "",
                file.stream if file else None,
            )
    except Invalid as exc:
        problems = [m for ms in (exc.extra.get("fields") or {}).values() for m in ms]
        if wants_json:
            return jsonify(ok=False, problems=problems), 422
        for message in problems:
            flash(message, "upload-error")
    except StorageFull as exc:
        if wants_json:
            return jsonify(ok=False, problems=[str(exc.message)]), 507
        flash(str(exc.message), "upload-error")
    else:
        message = gettext("Uploaded %(name)s.", name=row.original_name)
        if wants_json:
            app = get_application(current_user, application_id)
            return jsonify(
                ok=True,
                message=message,
                file={
                    "name": row.original_name,
                    "url": url_for(".download", application_id=application_id, attachment_id=row.id),
                    "uploaded_at": fmt_dt(row.uploaded_at),
                },
                blockers=operations.submit_blockers(current_user, app),
            )
        flash(message, "upload-ok")
    return redirect(url_for("applications_web.edit", application_id=application_id) + "#attachments")


@bp.get("/applications/<int:application_id>/attachments/<int:attachment_id>")
@login_required
def download(application_id: int, attachment_id: int):
    row, path = attachments.attachment_for_download(current_user, application_id, attachment_id)
    return download_file(path, row.content_type, row.original_name)


@bp.post("/applications/<int:application_id>/extensions")
@login_required
def extend(application_id: int):
    """延期 from the application's page or, for a draft the level above may not open, from 我的待办."""
    perform(
        lambda: deadlines.extend(
            current_user, application_id, _end_of_day(request.form.get("due_at")), request.form.get("reason")
        ),
        gettext("Due date extended; the holder has been told and the reminders moved."),
    )
    if request.form.get("next") == "tasks":
        return redirect(url_for("applications_web.tasks"))
    return redirect(url_for("applications_web.detail", application_id=application_id))


@bp.post("/calls/<int:call_id>/reopen")
@login_required
def reopen(call_id: int):
    """From the call's page: the ministry reopens the drafts flagged 逾期未提交 of one county or one province."""
    code, problem = regions.picked(request.form, "division")
    if problem:
        flash(problem, "error")
        return redirect(url_for("calls_web.edit", call_id=call_id) + "#closeout")
    level = regions.by_code(code).level if code else None
    perform(
        lambda: deadlines.reopen(
            current_user,
            call_id,
            new_due=_end_of_day(request.form.get("due_at")),
            reason=request.form.get("reason"),
            county=code if level == regions.COUNTY else None,
            province=code if level == regions.PROVINCE else None,
        ),
        gettext("Reopened with the new date; the counties have been told."),
    )
    return redirect(url_for("calls_web.edit", call_id=call_id) + "#closeout")


@bp.post("/applications/<int:application_id>/press")
@login_required
def press(application_id: int):
    try:
        with transaction():
            handling.press(
                current_user, application_id, request.form.get("comment"), request.form.getlist("cc", type=int)
            )
    except Conflict as exc:
        flash(str(exc.message), "error")
    else:
        flash(gettext("The holder has been reminded."))
    if request.form.get("next") == "tasks":
        return redirect(url_for("applications_web.tasks"))
    return redirect(url_for("applications_web.detail", application_id=application_id))


def _end_of_day(value: str | None) -> datetime | None:
    """A date from a form as the end of that day, Beijing time (None if not given or not a date)."""
    try:
        return datetime.combine(date.fromisoformat(value or ""), time(23, 59), tzinfo=CHINA)
    except ValueError:
        return None


@bp.post("/applications/<int:application_id>/transitions")
@login_required
def transition(application_id: int):
    trigger = request.form.get("trigger", "")
    spec = TRIGGERS_BY_NAME.get(trigger)
    if spec is None:
        abort(400)
    comment = request.form.get("comment") or ""
    # what was typed stays in the box when the action is refused (a redirect would lose it)
    kept = {trigger: comment, "decision": comment}
    if spec.asks_confirmation and request.form.get("confirm") != "yes":
        flash(gettext("Tick the box to confirm: %(action)s.", action=trigger_label(trigger)), "error")
        return _detail(application_id, kept=kept, status=422)
    if spec.page_asks_reason and not comment.strip():
        flash(gettext("Give a reason: %(action)s.", action=trigger_label(trigger)), "error")
        return _detail(application_id, kept=kept, status=422)
    try:
        with transaction():
            app = handling.fire(
                current_user,
                application_id,
                trigger,
                comment,
                request.form.get("version", type=int),
                deadline=_end_of_day(request.form.get("deadline")),
                cc=request.form.getlist("cc", type=int),
            )
            if request.form.get("save_phrase") == "yes" and comment.strip():
                _keep_phrase(comment)
    except (GuardFailed, Invalid) as exc:
        flash_problems(exc)
        return _detail(application_id, kept=kept, status=422)
    else:
        flash(gettext("Done: %(action)s.", action=trigger_label(trigger)) + " " + after_action(app))
    return redirect(url_for("applications_web.detail", application_id=application_id))


def _keep_phrase(text: str) -> None:
    """Saves the opinion to the user's phrases; a phrase that cannot be kept (too long, too many) is said, and
    never undoes the decision (it is refused before anything is written)."""
    try:
        phrases.save(current_user, text)
    except Invalid as exc:
        flash_problems(exc)
