"""Uploaded files, whatever they belong to: type checked by content, size capped, stored under generated
names outside any static folder, sent back as nosniff downloads.

The original file name is only ever a label (shown, and offered as the download name);
it never becomes part of a path.
"""

from __future__ import annotations

import errno
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

from kxflow.core.errors import NotFound, StorageFull

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
    try:
        path.write_bytes(upload.data)
    except OSError as exc:
        path.unlink(missing_ok=True)  # half a file is no file
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            message = gettext("The server's storage is full: %(name)s was not saved.", name=upload.display_name)
            raise StorageFull(message) from exc
        raise
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
