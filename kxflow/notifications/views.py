"""Web: my notifications, newest first; opening one marks it read."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kxflow.core.formats import locale
from kxflow.core.inputs import page_arg
from kxflow.core.paging import Page
from kxflow.core.uow import transaction
from kxflow.core.web import nav_item
from kxflow.notifications import copies, operations

bp = Blueprint("notifications_web", __name__, template_folder="templates")
nav_item("notifications_web.index", _l("Notifications"), 100, lambda user: True, badge=operations.unread_count)
PER_PAGE = 30


@bp.get("/notifications")
@login_required
def index():
    page = page_arg(request.args)
    filters = {k: request.args.get(k, "").strip()[:40] for k in ("q", "status", "kind")}
    filters = {k: v for k, v in filters.items() if k == "q" or v in FILTER_VALUES[k]}
    rows, total, unread = operations.mine(
        current_user,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
        q=filters.get("q") or None,
        read={"unread": False, "read": True}.get(filters.get("status", "")),
        kind=filters.get("kind") or None,
    )
    items = [(n, operations.render_message(n, locale())) for n in rows]
    result = Page(items, total, page, PER_PAGE)
    return render_template(
        "notifications/list.html", result=result, items=items, unread=unread, filters=filters, labels=FILTER_LABELS
    )


FILTER_LABELS = {
    "status": {"unread": _l("unread"), "read": _l("read")},
    "kind": {"action_required": _l("action needed"), "info": _l("for information")},
}
FILTER_VALUES = {k: set(v) for k, v in FILTER_LABELS.items()}


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open_one(notification_id: int):
    with transaction():
        row = operations.mark_read(current_user, notification_id)
        if row.event == "cc" and row.application_id:
            copies.mark_opened(current_user, row.application_id)  # opening a copy's notice reads the copy
    if row.application_id:
        return redirect(url_for("applications_web.detail", application_id=row.application_id))
    return redirect(url_for("notifications_web.index"))


@bp.post("/notifications/read-all")
@login_required
def read_all():
    with transaction():
        operations.mark_all_read(current_user)
    return redirect(url_for("notifications_web.index"))
