"""The public notice (公示): what the public may see, lodging a written objection, and resolving it.

The public sees only county, province, call and window — never scores, files or names. An
objection is stored for ministry staff alone; the county learns the outcome through the
workflow, never who objected. Upholding an objection rejects the application in the same
transaction, with the reason as the comment.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.applications.operations import fire_trigger
from kxflow.calls.models import Call
from kxflow.core import clock, limits
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from kxflow.core.uploads import check_upload, stored, stored_path
from kxflow.notifications.models import Notification
from kxflow.notifications.operations import active_ids, notify_users
from kxflow.publicity.models import Objection
from kxflow.regions.models import County, Province
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_application
from kxflow.workflow.states import AFTER_DESIGNATION, OBJECTION_STATES, State
from kxflow.workflow.triggers import Trigger

_CONTACT = re.compile(r"^[0-9+\-() ]{7,20}$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
TEXT_MAX = 5000


@dataclass
class Notice:
    application_id: int
    county: str
    province: str
    call: str
    starts_at: datetime
    ends_at: datetime


def notices() -> list[Notice]:
    """Applications under public notice now: nothing confidential, only what the notice itself says."""
    rows = db.session.execute(
        select(
            Application.id,
            County.name,
            Province.name,
            Call.title,
            Application.state_changed_at,
            Application.publicity_ends_at,
        )
        .join(County, County.code == Application.county_code)
        .join(Province, Province.code == Application.province_code)
        .join(Call, Call.id == Application.call_id)
        .where(Application.state == State.PUBLICITY)
        .order_by(Application.publicity_ends_at, Province.code, County.code)
    )
    return [Notice(*row) for row in rows.all()]


def under_notice_or_404(application_id: int) -> None:
    _under_notice(application_id)


def _under_notice(application_id: int) -> Application:
    app = db.session.scalars(
        select(Application).where(Application.id == application_id, Application.state == State.PUBLICITY)
    ).first()
    if app is None:
        raise NotFound()
    return app


def lodge(
    application_id: int,
    *,
    kind: str,
    text: str,
    unit_name: str = "",
    person_name: str = "",
    contact: str = "",
    scan: tuple[str, IO[bytes]] | None = None,
) -> Objection:
    """A written objection from a unit (with a scan of its stamped letter) or a named person (with contact)."""
    app = _under_notice(application_id)
    now = clock.now()
    fields: dict[str, list[str]] = {}
    if app.publicity_ends_at is not None and now > app.publicity_ends_at:
        raise Conflict(gettext("The public notice period has ended."))
    text, unit_name, person_name, contact = (
        v.strip() for v in (text or "", unit_name or "", person_name or "", contact or "")
    )
    if not text:
        fields["text"] = [gettext("This field is required.")]
    elif len(text) > TEXT_MAX:
        fields["text"] = [gettext("At most %(max)s characters.", max=TEXT_MAX)]
    upload = None
    if kind == "unit":
        if not unit_name:
            fields["unit_name"] = [gettext("This field is required.")]
        elif len(unit_name) > 200:
            fields["unit_name"] = [gettext("At most %(max)s characters.", max=200)]
        if scan is None or not scan[0]:
            fields["scan"] = [gettext("A unit's objection needs a scan of the letter with its stamp.")]
        else:
            upload, problems = check_upload(*scan)
            if problems:
                fields["scan"] = problems
    elif kind == "person":
        if not person_name:
            fields["person_name"] = [gettext("This field is required.")]
        elif len(person_name) > 80:
            fields["person_name"] = [gettext("At most %(max)s characters.", max=80)]
        if not contact:
            fields["contact"] = [gettext("This field is required.")]
        elif not _CONTACT.match(contact):
            fields["contact"] = [gettext("Give a telephone number or an e-mail address.")]
    else:
        fields["kind"] = [gettext("Choose a unit or a named person.")]
    if fields:
        raise Invalid(fields=fields)
    row = Objection(application_id=app.id, kind=kind, text=text, received_at=now, status="open")
    if kind == "unit":
        row.unit_name = unit_name
    else:
        row.person_name, row.contact = person_name, contact
    ministry = active_ids(Role.MINISTRY_STAFF)
    with stored(upload) if upload is not None else nullcontext() as stored_name:
        if upload is not None:
            row.scan_original_name = upload.display_name
            row.scan_stored_name = stored_name
            row.scan_content_type = upload.mime
            row.scan_size_bytes = len(upload.data)
        db.session.add(row)
        db.session.flush()
        _digest(ministry, app, now)
    return row


def _digest(ministry: list[int], app: Application, now: datetime) -> None:
    """Tells ministry staff of new objections once per digest window (OBJECTION_DIGEST_MINUTES), not once per
    objection: the first objection of a window writes each one notification (one e-mail), the rest none."""
    minutes = current_app.config["OBJECTION_DIGEST_MINUTES"]
    window = int(now.timestamp() // (minutes * 60))
    prefix = f"objection-digest:{window}"
    taken = set(db.session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.like(f"{prefix}:%"))))
    fresh = [uid for uid in ministry if f"{prefix}:user:{uid}" not in taken]
    if not fresh:
        return
    try:
        with db.session.begin_nested():  # two objections at one instant: the second finds the digest written
            notify_users(
                fresh,
                application_id=app.id,
                event="objection_digest",
                params={"county": app.county.name, "minutes": minutes},
                dedupe_prefix=prefix,
            )
    except IntegrityError:
        pass


def _require_ministry(user: User) -> None:
    if user.role != Role.MINISTRY_STAFF:
        raise Forbidden()


def sees_objections(user: User, app: Application) -> bool:
    """Objections are for ministry staff alone, from the public notice on."""
    return user.role == Role.MINISTRY_STAFF and app.state in OBJECTION_STATES


def of_application(user: User, application_id: int) -> list[Objection]:
    _require_ministry(user)
    app = get_application(user, application_id)
    return list(db.session.scalars(select(Objection).where(Objection.application_id == app.id).order_by(Objection.id)))


def resolve(user: User, objection_id: int, *, upheld: bool, reason: str) -> Objection:
    """Ministry staff decide an objection; upholding it rejects the application with the reason."""
    _require_ministry(user)
    limits.require_length("reason", reason, limits.RESOLUTION)
    row = db.session.scalars(select(Objection).where(Objection.id == objection_id).with_for_update()).first()
    if row is None:
        raise NotFound()
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(fields={"reason": [gettext("This field is required.")]})
    if row.status != "open":
        raise Conflict(gettext("This objection has already been resolved."))
    app = get_application(user, row.application_id)
    if app.state != State.PUBLICITY:
        raise Conflict(gettext("The application is no longer under public notice."), state=app.state)
    # only the first of two people deciding at once changes the row (SQLite ignores FOR UPDATE)
    decided = db.session.execute(
        update(Objection)
        .where(Objection.id == row.id, Objection.status == "open")
        .values(
            status="upheld" if upheld else "dismissed",
            resolution=reason,
            resolved_by_id=user.id,
            resolved_at=clock.now(),
        )
    )
    if decided.rowcount != 1:
        raise Conflict(gettext("This objection has already been resolved."))
    db.session.refresh(row)
    if upheld:
        fire_trigger(user, app.id, Trigger.UPHOLD_OBJECTION, comment=reason)
    return row


def scan_for_download(user: User, objection_id: int):
    _require_ministry(user)
    row = db.session.get(Objection, objection_id)
    if row is None or row.scan_stored_name is None:
        raise NotFound()
    get_application(user, row.application_id)
    return row, stored_path(row.scan_stored_name)


@dataclass
class RollEntry:
    county: str
    province: str
    state: str
    designated_at: datetime
    revoked_at: datetime | None


def roll() -> list[RollEntry]:
    """The public list of demonstration counties: current (designated or rectifying) and revoked, with dates."""
    rows = db.session.execute(
        select(County.name, Province.name, Application.state, Application.designated_at, Application.revoked_at)
        .join(County, County.code == Application.county_code)
        .join(Province, Province.code == Application.province_code)
        .where(Application.state.in_(AFTER_DESIGNATION), Application.designated_at.is_not(None))
        .order_by(Province.code, County.code)
    )
    return [RollEntry(*row) for row in rows.all()]
