"""An application's attachments: added while in draft (a replacement supersedes, never deletes), listed, downloaded."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.applications.operations import require_draft_editor
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Invalid, NotFound
from kxflow.core.uploads import check_upload, stored, stored_path
from kxflow.indicators.models import definition_for
from kxflow.workflow.models import Application, Attachment
from kxflow.workflow.scope import get_application

# kinds that hold several files (其他材料): a new one is added beside the others, not in their place
MULTIPLE_KINDS = frozenset({"other"})


def add_attachment(user: User, application_id: int, kind: str, filename: str, stream: IO[bytes]) -> Attachment:
    app = get_application(user, application_id, for_update=True)
    require_draft_editor(app, user)
    definition = definition_for(app.call.indicator_set_version)
    fields: dict[str, list[str]] = {}
    if kind not in definition.kinds:
        fields["kind"] = [gettext("Unknown attachment kind. Allowed: %(kinds)s.", kinds=", ".join(definition.kinds))]
    upload, problems = check_upload(filename, stream)
    if problems:
        fields["file"] = problems
    if fields or upload is None:
        raise Invalid(fields=fields)

    with stored(upload) as stored_name:
        now = clock.now()
        replaced = (
            ()
            if kind in MULTIPLE_KINDS
            else db.session.scalars(
                select(Attachment).where(
                    Attachment.application_id == app.id, Attachment.kind == kind, Attachment.superseded_at.is_(None)
                )
            )
        )
        for old in replaced:
            old.superseded_at = now  # a replacement: the old file stays on record
        row = Attachment(
            application_id=app.id,
            kind=kind,
            original_name=upload.display_name,
            stored_name=stored_name,
            content_type=upload.mime,
            size_bytes=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(),
            uploaded_by_id=user.id,
            uploaded_at=now,
        )
        db.session.add(row)
        app.updated_at = now
        db.session.flush()
    return row


def list_attachments(user: User, application_id: int, *, include_superseded: bool = False) -> list[Attachment]:
    app = get_application(user, application_id)
    stmt = select(Attachment).where(Attachment.application_id == app.id)
    if not include_superseded:
        stmt = stmt.where(Attachment.superseded_at.is_(None))
    return list(db.session.scalars(stmt.order_by(Attachment.kind, Attachment.id)))


def attachment_for_download(user: User, application_id: int, attachment_id: int) -> tuple[Attachment, Path]:
    app: Application = get_application(user, application_id)
    row = db.session.get(Attachment, attachment_id)
    if row is None or row.application_id != app.id:
        raise NotFound()
    return row, stored_path(row.stored_name)
