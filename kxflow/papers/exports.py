"""Long exports: the filtered application list (the nation over several calls) as XLSX, written by a worker.

``start`` records what was asked (the unit of work commits it, then the view hands the id to the worker);
``run`` is the worker's side: it reads the applications through the asker's scope, writes the workbook row by
row (through ``core.xlsx``, the writer the statistics' files use) and reports its progress in short
transactions of its own, so the page polling ``status`` sees the bar move. A worker claims its export by the name
of the file it will write; every later write of its own (each report, the end) holds only while the export is still
running and still under that name, so a worker whose export was given up and asked again (it was only slow) stops
at its next report and leaves no file.
Only the user who asked sees the export and downloads its file.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import func, select, update

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db, side_transaction
from kxflow.core.errors import Conflict, Invalid, NotFound
from kxflow.core.fields import CHINA
from kxflow.core.formats import locale
from kxflow.core.uploads import stored_path, upload_folder
from kxflow.core.xlsx import DEC, INT, MIMETYPE, Column, local, save, workbook, write_sheet
from kxflow.indicators.definition import Item
from kxflow.indicators.models import definition_for
from kxflow.papers.models import Export
from kxflow.papers.operations import require_list_role
from kxflow.regions.models import County, Province
from kxflow.workflow.models import Application
from kxflow.workflow.scope import applications_for, nationwide
from kxflow.workflow.states import STATE_NAMES, state_label

log = logging.getLogger(__name__)

KIND = "applications_xlsx"
XLSX = MIMETYPE
BATCH = 200  # rows between two progress reports (at most every 2 %); each report is the worker's heartbeat
EXPIRES_SECONDS = 24 * 3600  # a queued export waits for a busy worker this long, then its task is dropped
STALLED = "stalled"  # the error of an export given up because its worker stopped reporting


# --- asking -------------------------------------------------------------------------------------


def start(user: User, *, call_ids: list[str], state: str | None, province: str | None) -> Export:
    """Records an export of the applications the user may see, filtered; 422 naming the field on bad input.
    ``call_ids`` as the form sends them (none: every call)."""
    require_list_role(user)
    errors: dict[str, list[str]] = {}
    asked = {int(v) for v in call_ids if v.isdecimal() and len(v) < 10}
    known = set(db.session.scalars(select(Call.id).where(Call.id.in_(asked)))) if asked else set()
    unknown = [v for v in call_ids if v and not (v.isdecimal() and len(v) < 10 and int(v) in known)]
    if unknown:
        errors["call_ids"] = [gettext("Call: no such call (%(ids)s).", ids=", ".join(v[:20] for v in unknown[:5]))]
    if state and state not in STATE_NAMES:
        errors["state"] = [gettext("Stage: not a stage of the workflow.")]
    if province:
        if not nationwide(user):
            errors["province"] = [gettext("Province: only the ministry chooses a province; yours is exported.")]
        elif db.session.get(Province, province) is None:
            errors["province"] = [gettext("Province: no such province.")]
    if errors:
        raise Invalid(fields=errors)
    filters = {"call_ids": sorted(known), "state": state or None, "province": province or None, "locale": locale()}
    return _queued(user, KIND, filters)


def _queued(user: User, kind: str, filters: dict[str, Any]) -> Export:
    """A new export row, waiting for a worker, named for the moment it was asked (Beijing time)."""
    now = clock.now()
    row = Export(
        user_id=user.id,
        kind=kind,
        filters=filters,
        status="queued",
        progress=0,
        rows=0,
        file_name=gettext("applications") + now.astimezone(CHINA).strftime("-%Y%m%d-%H%M%S") + ".xlsx",
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


def get_own(user: User, export_id: int) -> Export:
    """The user's own export; anyone else's is 404, so ids reveal nothing."""
    row = db.session.get(Export, export_id)
    if row is None or row.user_id != user.id:
        raise NotFound()
    return row


def stalled(row: Export) -> bool:
    """An export whose worker is gone: running with no progress report for ``EXPORT_STALL_SECONDS``, or still
    queued after the task's own expiry (no worker will take it up any more). Its page shows it as failed."""
    now = clock.now()
    if row.status == "running":
        last = row.heartbeat_at or row.created_at
        return (now - last).total_seconds() > current_app.config["EXPORT_STALL_SECONDS"]
    if row.status == "queued":
        return (now - row.created_at).total_seconds() > EXPIRES_SECONDS
    return False


def shown_status(row: Export) -> str:
    """The status the user is shown: a stalled export is failed (the page stops polling and offers a retry)."""
    return "failed" if stalled(row) else row.status


def can_retry(row: Export) -> bool:
    return shown_status(row) == "failed"


def status_label(row: Export) -> str:
    if stalled(row):
        return gettext(
            "The export stopped: there has been no progress for a long time (the program writing it may have "
            "stopped). Please start it again."
        )
    if row.status == "queued":
        return gettext("Waiting for a worker…")
    if row.status == "running":
        return gettext("Exporting: %(progress)s %% (%(rows)s rows so far)", progress=row.progress, rows=row.rows)
    if row.status == "done":
        return gettext("Done: %(rows)s rows.", rows=row.rows)
    return gettext("The export failed; please try again or tell your administrator.")


def retry(user: User, export_id: int) -> tuple[Export, bool]:
    """A failed or stalled export asked again, with the same filters: a new export (the old one, if it was stalled,
    is recorded as failed so a late worker's file is never mistaken for it), and True. Asked again once more (a
    second click, a second tab), the export the first retry started, and False: one retry, one export. 409 while
    it is still going."""
    row = get_own(user, export_id)
    db.session.refresh(row, with_for_update=True)  # two retries at once: the second waits, then sees the first's
    if not can_retry(row):
        raise Conflict(gettext("This export has not failed; it needs no retry."))
    require_list_role(user)
    since = db.session.scalars(
        select(Export)
        .where(Export.user_id == user.id, Export.kind == row.kind, Export.id > row.id, Export.status != "failed")
        .order_by(Export.id)
    )
    for later in since:
        if later.filters == row.filters:
            return later, False
    if row.status != "failed":  # its worker, if only slow, stops at its next report (see ``run``)
        row.status, row.error, row.finished_at, row.stored_name = "failed", STALLED, clock.now(), None
    return _queued(user, row.kind, dict(row.filters)), True


def mine(user: User, limit: int = 10) -> list[Export]:
    return list(
        db.session.scalars(select(Export).where(Export.user_id == user.id).order_by(Export.id.desc()).limit(limit))
    )


def file_of(user: User, export_id: int):
    row = get_own(user, export_id)
    if row.status != "done" or row.stored_name is None:
        raise NotFound()
    return row, stored_path(row.stored_name)


# --- the worker's side -------------------------------------------------------------------------


class _GivenUp(Exception):
    """The export is no longer this worker's: given up (failed, asked again) or claimed by another worker."""


def _claim(export_id: int, name: str) -> bool:
    """The export is this worker's, to be written under ``name``, if it waits for one or is running (a task
    delivered again after its worker died); a done or failed export is not taken up again."""
    with side_transaction() as conn:
        claimed = conn.execute(
            update(Export)
            .where(Export.id == export_id, Export.status.in_(("queued", "running")))
            .values(status="running", stored_name=name, progress=0, rows=0, error=None, heartbeat_at=clock.now())
        )
    return claimed.rowcount == 1


def _report(export_id: int, name: str, **values: Any) -> None:
    """Progress (or the end) in a transaction of its own, written only while the export is still running and
    still this worker's: else ``_GivenUp``. Every report is also the worker's heartbeat."""
    with side_transaction() as conn:
        reported = conn.execute(
            update(Export)
            .where(Export.id == export_id, Export.status == "running", Export.stored_name == name)
            .values(heartbeat_at=clock.now(), **values)
        )
    if reported.rowcount != 1:
        raise _GivenUp()


def _query(user: User, filters: dict[str, Any]):
    stmt = applications_for(user)
    if filters.get("call_ids"):
        stmt = stmt.where(Application.call_id.in_(filters["call_ids"]))
    if filters.get("state"):
        stmt = stmt.where(Application.state == filters["state"])
    if filters.get("province"):
        stmt = stmt.where(Application.province_code == filters["province"])
    return stmt


def _items(filters: dict[str, Any]) -> list[Item]:
    """The indicators of every set the chosen calls use, each once, in the sets' order."""
    calls = select(Call.indicator_set_version).distinct()
    if filters.get("call_ids"):
        calls = calls.where(Call.id.in_(filters["call_ids"]))
    seen: dict[str, Item] = {}
    for version in sorted(db.session.scalars(calls)):
        definition = definition_for(version)
        for item in (*definition.inputs, *definition.computed):
            seen.setdefault(item.key, item)
    return list(seen.values())


def run(export_id: int) -> None:
    """Writes the export's workbook; idempotent (a finished or failed export is left alone). A worker whose
    export was given up while it wrote (asked again: it was only slow) stops, removing its file."""
    row = db.session.get(Export, export_id)
    name = f"export-{uuid.uuid4().hex}.xlsx"
    if row is None or not _claim(export_id, name):
        log.info("export %s is done, failed or gone: its task is dropped", export_id)
        return
    user = db.session.get(User, row.user_id)
    filters = dict(row.filters)
    path = upload_folder() / name
    try:
        with force_locale(filters.get("locale") or "zh"):
            count = _write(user, filters, export_id, name)
        db.session.rollback()  # the long read ends here; the result is written in a transaction of its own
        _report(export_id, name, status="done", progress=100, rows=count, finished_at=clock.now())
    except _GivenUp:
        db.session.rollback()
        path.unlink(missing_ok=True)
        log.info("export %s was given up while its worker wrote it (asked again): the worker stops", export_id)
    except Exception as exc:
        log.exception("export %s failed", export_id)
        db.session.rollback()
        path.unlink(missing_ok=True)
        with suppress(_GivenUp):  # given up meanwhile: it stays as the retry left it
            _report(export_id, name, status="failed", error=str(exc)[:500], finished_at=clock.now(), stored_name=None)


def _write(user: User, filters: dict[str, Any], export_id: int, name: str) -> int:
    stmt = _query(user, filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = _items(filters)
    loc = locale()
    columns = [
        Column(gettext("No."), INT, 6),
        Column(gettext("Call"), None, 30),
        Column(gettext("Province"), None, 12),
        Column(gettext("Prefecture"), None, 12),
        Column(gettext("County"), None, 14),
        Column(gettext("Division code"), None, 10),
        Column(gettext("Stage"), None, 12),
        Column(gettext("Score"), DEC, 10),
        Column(gettext("Veto items failed"), None, 14),
        Column(gettext("Revision round"), INT, 8),
        Column(gettext("Last changed"), None, 16),
        *(
            Column(
                gettext("%(label)s (%(unit)s)", label=item.label(loc), unit=item.unit)
                if item.unit
                else item.label(loc),
                DEC if item.type == "number" or item.formula else None,
                14,
            )
            for item in items
        ),
    ]
    stmt = (
        stmt.join(County, County.code == Application.county_code)
        .join(Province, Province.code == Application.province_code)
        .join(Call, Call.id == Application.call_id)
        .with_only_columns(
            Application.call_id,
            Call.title,
            Province.name.label("province"),
            County.prefecture_name,
            County.name.label("county"),
            Application.county_code,
            Application.state,
            Application.score,
            Application.veto_failures,
            Application.revision_round,
            Application.updated_at,
            Application.indicators,
            Application.computed,
        )
        .order_by(Application.call_id, Province.code, County.code, Application.id)
        .execution_options(yield_per=BATCH)
    )
    labels = {item.key: item.label(loc) for item in items}

    def lines() -> Iterator[list[Any]]:
        for done, r in enumerate(db.session.execute(stmt), start=1):
            values = {**(r.indicators or {}), **(r.computed or {})}
            yield [
                done,
                r.title,
                r.province,
                r.prefecture_name or "",
                r.county,
                r.county_code,
                state_label(r.state, loc),
                r.score,
                "、".join(labels.get(k, k) for k in (r.veto_failures or [])),
                r.revision_round,
                local(r.updated_at),
                *(_display(values.get(item.key)) for item in items),
            ]
            if done % BATCH == 0 and total:
                _report(export_id, name, progress=min(99, done * 100 // total), rows=done)

    book = workbook()
    done = write_sheet(book, gettext("Applications"), columns, lines())
    save(book, upload_folder() / name)
    return done


def _display(value: Any) -> Any:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return value
