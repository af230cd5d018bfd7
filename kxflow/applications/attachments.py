"""Attachments: type checked by content, stored under generated names outside any static folder.

The original file name is only ever a label (shown, and offered as the download name);
it never becomes part of a path.
"""

from __future__ import annotations

import hashlib
import io
import os
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import filetype
from flask import Response, current_app, send_file
from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.applications.models import Application, Attachment
from kxflow.applications.operations import require_draft_editor
from kxflow.applications.scope import get_application
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Invalid, NotFound

# detected type -> (stored extension, MIME type, name endings that may carry it)
ALLOWED = {
    "pdf": ("pdf", "application/pdf", {".pdf"}),
    "png": ("png", "image/png", {".png"}),
    "jpg": ("jpg", "image/jpeg", {".jpg", ".jpeg"}),
    "docx": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", {".docx"}),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", {".xlsx"}),
}
_OOXML_PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}


def clean_display_name(name: str) -> str:
    """The last path component, without control characters or leading dots; Chinese kept."""
    base = name.replace("\\", "/").split("/")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return base[:200]


def detect(data: bytes) -> str | None:
    """The file's real type from its bytes, or None if it is not one we accept."""
    kind = filetype.guess(data)
    ext = kind.extension if kind else None
    if ext in ("pdf", "png", "jpg"):
        return ext
    if data[:4] == b"PK\x03\x04":
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            for candidate, part in _OOXML_PART.items():
                if part in names:
                    return candidate
    return None


def upload_folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class CheckedUpload:
    display_name: str
    data: bytes
    ext: str
    mime: str


def check_upload(filename: str | None, stream: IO[bytes]) -> tuple[CheckedUpload | None, list[str]]:
    """Reads an uploaded file and checks it (name, size, real type); the problems, in the user's language."""
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    data = stream.read(limit + 1)
    display = clean_display_name(filename or "")
    if not display:
        return None, [gettext("The file has no name.")]
    if not data:
        return None, [gettext("The file is empty.")]
    if len(data) > limit:
        return None, [gettext("The file is larger than %(mb)s MB.", mb=limit // (1024 * 1024))]
    detected = detect(data)
    if detected is None:
        return None, [gettext("Only PDF, DOCX, XLSX, JPG and PNG files are accepted (checked by content).")]
    if Path(display).suffix.lower() not in ALLOWED[detected][2]:
        return None, [gettext("The file's content (%(type)s) does not match its name.", type=detected.upper())]
    ext, mime, _ = ALLOWED[detected]
    return CheckedUpload(display, data, ext, mime), []


@contextmanager
def stored(upload: CheckedUpload) -> Iterator[str]:
    """Writes the file under a generated name; removes it again if the database work that follows fails."""
    name = f"{uuid.uuid4().hex}.{upload.ext}"
    path = upload_folder() / name
    path.write_bytes(upload.data)
    try:
        yield name
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def stored_path(stored_name: str) -> Path:
    path = upload_folder() / stored_name
    if not path.is_file() or os.sep in stored_name:
        raise NotFound()
    return path


def download(path: Path, content_type: str, name: str) -> Response:
    """A stored file as a download under its original name, never sniffed into something else by the browser."""
    response = send_file(path, mimetype=content_type, as_attachment=True, download_name=name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def add_attachment(user: User, application_id: int, kind: str, filename: str, stream: IO[bytes]) -> Attachment:
    app = get_application(user, application_id, for_update=True)
    require_draft_editor(app, user)
    from kxflow.indicators.models import definition_for

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
        for old in db.session.scalars(
            select(Attachment).where(
                Attachment.application_id == app.id, Attachment.kind == kind, Attachment.superseded_at.is_(None)
            )
        ):
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
