"""Web: my tasks, the applications list, an application's page, its form, its actions.

Thin: each view checks the session user, reads the form, calls the operations the API calls.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from kxflow.accounts.roles import Role
from kxflow.applications import attachments, operations, queries
from kxflow.applications.diagram import mermaid
from kxflow.applications.forms import parse_indicator_form
from kxflow.applications.models import Application
from kxflow.applications.scope import get_application
from kxflow.applications.workflow import STATE_NAMES, TRIGGERS_BY_NAME
from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Conflict, GuardFailed, Invalid
from kxflow.core.uow import transaction
from kxflow.core.web import flash_problems, fmt_num, locale
from kxflow.indicators.models import definition_for
from kxflow.notifications import operations as notifications
from kxflow.regions.models import Province
from kxflow.reminders import operations as reminders

bp = Blueprint("applications_web", __name__, template_folder="templates")


@bp.get("/")
def home():
    return redirect(url_for("applications_web.tasks" if current_user.is_authenticated else "accounts.login"))


def _open_calls() -> list[Call]:
    now = clock.now()
    return list(db.session.scalars(select(Call).where(Call.opens_at <= now, Call.county_deadline >= now)))


@bp.get("/tasks")
@login_required
def tasks():
    if current_user.role == Role.EXPERT:
        return redirect(url_for("experts_web.mine"))  # an expert's tasks are their assignments
    items = [(app, queries.urgency(app)) for app in queries.tasks(current_user)]
    startable = []
    if current_user.role == Role.COUNTY_STAFF:
        mine = {a.call_id for a in queries.search(current_user, per_page=100).items if a.state != "withdrawn"}
        startable = [c for c in _open_calls() if c.id not in mine]
    return render_template(
        "applications/tasks.html",
        items=items,
        counts=queries.counts_by_state(current_user),
        states=STATE_NAMES,
        startable=startable,
    )


@bp.get("/applications")
@login_required
def index():
    args = request.args
    state = args.get("state") if args.get("state") in STATE_NAMES else None
    sort = args.get("sort") if args.get("sort") in queries.SORTS else "updated"
    page = max(1, args.get("page", 1, type=int) or 1)
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
    calls = db.session.scalars(select(Call).order_by(Call.opens_at.desc())).all()
    provinces = db.session.scalars(select(Province).order_by(Province.code)).all()
    return render_template(
        "applications/list.html",
        result=result,
        calls=calls,
        provinces=provinces,
        states=STATE_NAMES,
        urgency=queries.urgency,
        sort=sort,
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
    app = get_application(current_user, application_id)
    history = operations.history(current_user, application_id)
    definition = definition_for(app.call.indicator_set_version)
    visited = [r.from_state for r in history] + [app.state]
    triggers = [TRIGGERS_BY_NAME[name] for name in operations.allowed_triggers(app, current_user)]
    blockers = operations.submit_blockers(current_user, app) if "submit" in [t.name for t in triggers] else []
    return render_template(
        "applications/detail.html",
        app=app,
        definition=definition,
        history=history,
        files=attachments.list_attachments(current_user, application_id),
        triggers=triggers,
        blockers=blockers,
        diagram=mermaid(app.state, visited, locale()),
        urgency=queries.urgency(app),
        can_press=current_user.role in reminders.PRESSERS.get(app.state, set()),
        deliveries=(
            notifications.deliveries_of_application(current_user, app.id)
            if current_user.role == Role.MINISTRY_STAFF
            else []
        ),
        render_message=notifications.render_message,
        **_evaluation(app),
    )


def _evaluation(app: Application) -> dict:
    """The panel, inspections and objections sections of an application's page, as far as this user may see them."""
    from kxflow.accounts.models import User
    from kxflow.experts import operations as experts
    from kxflow.inspections import operations as inspections
    from kxflow.inspections.models import Inspection
    from kxflow.publicity import operations as publicity

    user, ministry = current_user, current_user.role == Role.MINISTRY_STAFF
    context: dict = {"show_panel": False, "objections": None}
    if user.role in (Role.MINISTRY_STAFF, Role.EXPERT) and app.state not in (
        "draft",
        "county_review",
        "province_review",
    ):
        _, context["assignments"], context["summary"] = experts.panel(user, app.id)
        context["can_seat"] = ministry and app.state in experts.PANEL_STATES
        context["eligible"] = experts.propose(user, app.id, size=100) if context["can_seat"] else []
        context["show_panel"] = True
        context["review_due"] = reminders.expert_review_due(app) if app.state == "expert_review" else None
    rows = list(
        db.session.scalars(
            select(Inspection)
            .where(Inspection.application_id == app.id, inspections.visible(user))
            .order_by(Inspection.scheduled_on, Inspection.id)
        )
    )
    context["inspections"] = rows
    context["recheck_due"] = (
        inspections.recheck_due(app.designated_at, current_app.config["RECHECK_CYCLE_YEARS"], inspections.today())
        if app.state == "designated" and app.designated_at
        else None
    )
    context["reportable"] = {
        i.id
        for i in rows
        if app.state in inspections.SCHEDULE_STATES[i.kind] and (ministry or user.id in {m.user_id for m in i.members})
    }
    kinds = [k for k, states in inspections.SCHEDULE_STATES.items() if app.state in states]
    context["schedulable"] = kinds[0] if ministry and kinds else None
    context["team_candidates"] = (
        db.session.scalars(
            select(User)
            .where(User.role.in_(inspections.TEAM_ROLES), User.active.is_(True))
            .order_by(User.role, User.id)
        ).all()
        if context["schedulable"]
        else []
    )
    if ministry and app.state in ("publicity", "designated", "rejected", "revoked", "rectification"):
        context["objections"] = publicity.of_application(user, app.id)
    return context


@bp.get("/schedule")
@login_required
def schedule():
    """My upcoming inspections and the reminders still to come my way."""
    from kxflow.inspections.operations import mine

    upcoming = reminders.upcoming_for(current_user)
    inspections = mine(current_user)
    ids = {r.application_id for r in upcoming} | {i.application_id for i in inspections}
    apps = {a.id: a for a in db.session.scalars(select(Application).where(Application.id.in_(ids or {-1})))}
    return render_template("applications/schedule.html", upcoming=upcoming, apps=apps, inspections=inspections)


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@login_required
def edit(application_id: int):
    app = get_application(current_user, application_id)
    operations.require_draft_editor(app, current_user)
    definition = definition_for(app.call.indicator_set_version)
    errors: dict[str, list[str]] = {}
    values = dict(app.indicators or {})
    if request.method == "POST":
        submitted = parse_indicator_form(definition, request.form)
        try:
            with transaction():
                app = operations.update_indicators(
                    current_user, application_id, submitted, request.form.get("version", type=int)
                )
        except Invalid as exc:
            errors = {k.removeprefix("indicators."): v for k, v in exc.extra.get("fields", {}).items()}
            values = {**values, **{k: request.form.get(k, "") for k in submitted}}
        else:
            flash(gettext("Saved."))
            return redirect(url_for("applications_web.edit", application_id=application_id))
    return render_template(
        "applications/form.html",
        app=app,
        definition=definition,
        values=values,
        errors=errors,
        files=attachments.list_attachments(current_user, application_id),
        blockers=operations.submit_blockers(current_user, app),
    ), (422 if errors else 200)


@bp.post("/applications/<int:application_id>/preview")
@login_required
def preview(application_id: int):
    app = get_application(current_user, application_id)
    definition = definition_for(app.call.indicator_set_version)
    result, errors = operations.preview_indicators(
        current_user, application_id, parse_indicator_form(definition, request.form)
    )
    labels = {i.key: i.label(locale()) for i in (*definition.inputs, *definition.computed)}
    return jsonify(
        computed={k: fmt_num(v) for k, v in result.computed.items()},
        score=fmt_num(result.score),
        veto=[labels[k] for k in result.veto_failures],
        errors={k.removeprefix("indicators."): v for k, v in errors.items()},
    )


@bp.post("/applications/<int:application_id>/attachments")
@login_required
def upload(application_id: int):
    file = request.files.get("file")
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
        flash_problems(exc)
    else:
        flash(gettext("Uploaded %(name)s.", name=row.original_name))
    return redirect(url_for("applications_web.edit", application_id=application_id) + "#attachments")


@bp.get("/applications/<int:application_id>/attachments/<int:attachment_id>")
@login_required
def download(application_id: int, attachment_id: int):
    row, path = attachments.attachment_for_download(current_user, application_id, attachment_id)
    return attachments.download(path, row.content_type, row.original_name)


@bp.post("/applications/<int:application_id>/press")
@login_required
def press(application_id: int):
    try:
        with transaction():
            reminders.press(current_user, application_id, request.form.get("comment"))
    except Conflict as exc:
        flash(str(exc.message), "error")
    else:
        flash(gettext("The holder has been reminded."))
    return redirect(url_for("applications_web.detail", application_id=application_id))


def _end_of_day(value: str | None):
    """A date from a form as the end of that day, Beijing time (None if not given or not a date)."""
    from datetime import date, datetime, time

    from kxflow.core.fields import CHINA

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
    if spec.irreversible and request.form.get("confirm") != "yes":
        flash(gettext("Tick the box to confirm: this action cannot be undone."), "error")
        return redirect(url_for("applications_web.detail", application_id=application_id))
    try:
        with transaction():
            operations.fire_trigger(
                current_user,
                application_id,
                trigger,
                request.form.get("comment"),
                request.form.get("version", type=int),
                deadline=_end_of_day(request.form.get("deadline")),
            )
    except (GuardFailed, Invalid) as exc:
        flash_problems(exc)
    else:
        flash(gettext("Done: %(action)s.", action=spec.label_en if locale().startswith("en") else spec.label_zh))
    return redirect(url_for("applications_web.detail", application_id=application_id))
