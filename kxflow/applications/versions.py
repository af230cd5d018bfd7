"""Rounds of an application side by side: a submitted or returned version as it was, and what changed.

A version is the snapshot its audit row keeps (提交 keeps what was sent; a return keeps the version it sent
back the same way); the comparison goes field by field (inputs, computed values, score) and file by
file (per kind: unchanged, replaced, added, removed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.core.db import db
from kxflow.core.errors import Invalid, NotFound
from kxflow.core.formats import locale
from kxflow.indicators.models import definition_for
from kxflow.workflow.models import Application, Attachment, AuditRecord
from kxflow.workflow.scope import get_application
from kxflow.workflow.triggers import Trigger, trigger_label

# the moments a version is kept: sent (提交) or sent back (退回), and taken back (撤回)
RETURNS = (Trigger.COUNTY_RETURN, Trigger.PROVINCE_RETURN, Trigger.MINISTRY_RETURN, Trigger.RECALL)


@dataclass(frozen=True)
class Version:
    audit_id: int
    trigger: str
    revision_round: int
    at: datetime
    actor_name: str
    indicators: dict[str, Any]
    computed: dict[str, Any]
    score: float
    veto_failures: list[str]
    attachment_ids: list[int]

    @property
    def label(self) -> str:
        return gettext(
            "Round %(n)s · %(action)s", n=self.revision_round + 1, action=trigger_label(self.trigger, locale())
        )


def versions(user: User, application_id: int) -> list[Version]:
    """Every version submitted or returned, oldest first: each is the snapshot its audit row keeps."""
    app = get_application(user, application_id)
    rows = db.session.scalars(
        select(AuditRecord)
        .where(AuditRecord.application_id == app.id, AuditRecord.trigger.in_((Trigger.SUBMIT, *RETURNS)))
        .order_by(AuditRecord.at, AuditRecord.id)
    )
    return [_from_audit(r) for r in rows if r.trigger == Trigger.SUBMIT or "indicators" in (r.snapshot or {})]


def _from_audit(r: AuditRecord) -> Version:
    s = r.snapshot or {}
    return Version(
        r.id,
        r.trigger,
        r.revision_round,
        r.at,
        r.actor.display_name,
        s.get("indicators") or {},
        s.get("computed") or {},
        s.get("score") or 0.0,
        s.get("veto_failures") or [],
        s.get("attachment_ids") or [],
    )


def version(user: User, application_id: int, audit_id: int) -> Version:
    for v in versions(user, application_id):
        if v.audit_id == audit_id:
            return v
    raise NotFound()


def files_of(app: Application, v: Version) -> list[Attachment]:
    """The files of a version, superseded ones included (a replacement never deletes)."""
    if not v.attachment_ids:
        return []
    return list(
        db.session.scalars(
            select(Attachment)
            .where(Attachment.application_id == app.id, Attachment.id.in_(v.attachment_ids))
            .order_by(Attachment.kind, Attachment.id)
        )
    )


class AsOf:
    """The application read as it was in a version (for the read-only indicator table)."""

    def __init__(self, app: Application, v: Version) -> None:
        self._app = app
        self.indicators, self.computed, self.score, self.veto_failures = (
            v.indicators,
            v.computed,
            v.score,
            v.veto_failures,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


@dataclass(frozen=True)
class FieldChange:
    key: str
    label: str
    unit: str
    before: Any
    after: Any
    computed: bool

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class FileChange:
    kind: str
    label: str
    status: str  # unchanged, replaced, added, removed
    before: list[Attachment]
    after: list[Attachment]


@dataclass(frozen=True)
class Comparison:
    before: Version
    after: Version
    fields: list[FieldChange]
    files: list[FileChange]

    @property
    def changed_fields(self) -> list[FieldChange]:
        return [f for f in self.fields if f.changed]

    @property
    def changed_files(self) -> list[FileChange]:
        return [f for f in self.files if f.status != "unchanged"]

    @property
    def score_changed(self) -> bool:
        return self.before.score != self.after.score


def compare(user: User, application_id: int, before_id: int | None = None, after_id: int | None = None) -> Comparison:
    """Two versions field by field and file by file; by default the last two submitted."""
    app = get_application(user, application_id)
    all_versions = versions(user, application_id)
    if before_id is None and after_id is None:
        sent = [v for v in all_versions if v.trigger == Trigger.SUBMIT]
        if len(sent) < 2:
            raise Invalid(fields={"from": [gettext("It has been submitted only once: there is nothing to compare.")]})
        before, after = sent[-2], sent[-1]
    else:
        by_id = {v.audit_id: v for v in all_versions}
        problems = {
            name: [gettext("No such version of this application.")]
            for name, value in (("from", before_id), ("to", after_id))
            if value not in by_id
        }
        if problems:
            raise Invalid(fields=problems)
        before, after = by_id[before_id], by_id[after_id]  # type: ignore[index]
    definition = definition_for(app.call.indicator_set_version)
    lang = locale()
    fields = [
        FieldChange(i.key, i.label(lang, app.call.year), i.unit or "", was.get(i.key), now.get(i.key), is_computed)
        for group, was, now, is_computed in (
            (definition.inputs, before.indicators, after.indicators, False),
            (definition.computed, before.computed, after.computed, True),
        )
        for i in group
    ]
    return Comparison(before, after, fields, _file_changes(app, definition, before, after))


def _file_changes(app: Application, definition, before: Version, after: Version) -> list[FileChange]:
    old, new = files_of(app, before), files_of(app, after)
    kinds = list(dict.fromkeys([f.kind for f in old] + [f.kind for f in new]))
    out = []
    for kind in kinds:
        a = [f for f in old if f.kind == kind]
        b = [f for f in new if f.kind == kind]
        if {f.id for f in a} == {f.id for f in b}:
            status = "unchanged"
        elif a and b:
            status = "replaced"
        elif b:
            status = "added"
        else:
            status = "removed"
        label = definition.kinds[kind].label(locale()) if kind in definition.kinds else kind
        out.append(FileChange(kind, label, status, a, b))
    return out


@dataclass(frozen=True)
class TimelineLinks:
    ids: frozenset[int]  # audit rows that kept a version
    previous: dict[int, int]  # a submission -> the submission before it (for 对比)


def timeline_links(user: User, application_id: int) -> TimelineLinks:
    all_versions = versions(user, application_id)
    sent = [v.audit_id for v in all_versions if v.trigger == Trigger.SUBMIT]
    return TimelineLinks(frozenset(v.audit_id for v in all_versions), dict(zip(sent[1:], sent[:-1], strict=True)))
