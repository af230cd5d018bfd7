"""Uploaded files, whatever they belong to: type checked by content, size capped, stored under generated
names outside any static folder, sent back as nosniff downloads.

Checked before anything opens them: an OOXML file (DOCX, XLSX) as a zip from its directory alone (what
it would unpack to, the ratio of each entry, how many entries, no archive inside), so a few kilobytes
that inflate to gigabytes are refused in microseconds; a PDF for JavaScript and launch actions; every
file for a second format hiding in it (a polyglot: a zip or PDF riding on an image, and the like).
Each refusal names the file and the reason in the user's language; nothing is stored.

The original file name is only ever a label (shown, and offered as the download name);
it never becomes part of a path.
"""

from __future__ import annotations

import errno
import io
import logging
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
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import DictionaryObject, IndirectObject, NameObject

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
# the OpenAPI of a route that sends a stored file back: one of the accepted types, as bytes
FILE_RESPONSES = {
    200: {
        "description": "The file, as a download under its original name.",
        "content": {mime: {"schema": {"type": "string", "format": "binary"}} for _, mime, _ in ALLOWED.values()},
    }
}
_ARCHIVE_ENDINGS = (".zip", ".jar", ".docx", ".xlsx", ".xlsm", ".pptx", ".7z", ".rar", ".gz", ".tar", ".bz2", ".xz")
# pypdf warns of every oddity of a hostile or sloppy file; the refusal says what matters
logging.getLogger("pypdf").setLevel(logging.ERROR)
_PDF_ACTIONS = {"/JavaScript", "/Launch"}  # action types a PDF may not carry
_PDF_ACTION_KEYS = {"/JS", "/JavaScript"}


class Refused(ValueError):
    """A file refused for what it is, with the reason in the user's language."""


@dataclass(frozen=True)
class ZipLimits:
    max_total: int  # bytes the whole archive may unpack to
    max_ratio: int  # how much one entry may grow when inflated
    max_entries: int

    @classmethod
    def from_config(cls, max_total: int | None = None) -> ZipLimits:
        cfg = current_app.config
        return cls(max_total or cfg["OOXML_MAX_UNCOMPRESSED_BYTES"], cfg["OOXML_MAX_RATIO"], cfg["OOXML_MAX_ENTRIES"])


def check_zip(name: str, data: bytes, limits: ZipLimits) -> None:
    """Checks an OOXML file as a zip from its central directory, before any entry is inflated."""
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Refused(gettext("%(name)s cannot be read (it is not a sound DOCX or XLSX file).", name=name)) from exc
    if len(entries) > limits.max_entries:
        raise Refused(
            gettext(
                "%(name)s holds %(n)s parts, more than the %(max)s allowed.",
                name=name,
                n=len(entries),
                max=limits.max_entries,
            )
        )
    total = 0
    for entry in entries:
        if entry.filename.lower().endswith(_ARCHIVE_ENDINGS):
            raise Refused(
                gettext(
                    "%(name)s contains another archive (%(inner)s); embedded archives are not accepted.",
                    name=name,
                    inner=entry.filename[-80:],
                )
            )
        total += entry.file_size
        if entry.file_size > 1024 * 1024 and entry.file_size > limits.max_ratio * max(entry.compress_size, 1):
            raise Refused(
                gettext(
                    "%(name)s would inflate %(ratio)s times when opened (a compression bomb); it is refused.",
                    name=name,
                    ratio=entry.file_size // max(entry.compress_size, 1),
                )
            )
    if total > limits.max_total:
        raise Refused(
            gettext(
                "%(name)s would unpack to %(mb)s MB, more than the %(max)s MB allowed.",
                name=name,
                mb=total // (1024 * 1024),
                max=limits.max_total // (1024 * 1024),
            )
        )


def _pdf_actions(reader: PdfReader) -> str | None:
    """The first JavaScript or launch action anywhere in the PDF (every object, object streams included)."""
    seen = 0
    for num in range(1, (reader.trailer.get("/Size") or 0) + 1):
        for generation in (0,):
            try:
                obj = reader.get_object(IndirectObject(num, generation, reader))
            except Exception:
                continue
            seen += 1
            if isinstance(obj, DictionaryObject):
                if obj.get("/S") in _PDF_ACTIONS:
                    return str(obj.get("/S"))
                for key in _PDF_ACTION_KEYS:
                    if NameObject(key) in obj:
                        return key
                names = obj.get("/Names")
                if isinstance(names, DictionaryObject) and "/JavaScript" in names:
                    return "/JavaScript"
    return None


def check_pdf(name: str, data: bytes) -> None:
    """Refuses a PDF that runs JavaScript or launches a program, however it hides it (compressed object streams,
    names spelled with #xx escapes: pypdf reads both), and one that cannot be read at all."""
    tail = data[-1024:].rstrip(b"\r\n\t \x00")
    if not tail.endswith(b"%%EOF"):
        raise Refused(gettext("%(name)s carries data after the end of the PDF (a file hidden in a file).", name=name))
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Refused(gettext("%(name)s is an encrypted PDF; upload it without a password.", name=name))
        action = _pdf_actions(reader)
    except Refused:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, RecursionError, OSError) as exc:
        raise Refused(gettext("%(name)s is not a readable PDF file.", name=name)) from exc
    if action is not None:
        raise Refused(
            gettext(
                "%(name)s contains a script or launch action (%(what)s); PDFs must not run code.",
                name=name,
                what=action.lstrip("/"),
            )
        )


def check_polyglot(name: str, kind: str, data: bytes) -> None:
    """A file must be one format only: no PDF header near the start of anything else (PDF readers look in the
    first kilobyte), no zip directory at the end of a non-zip (zip readers look from the end)."""
    if kind != "pdf" and b"%PDF-" in data[:1024]:
        raise Refused(gettext("%(name)s also looks like a PDF (a file hidden in a file).", name=name))
    if kind not in ("docx", "xlsx") and b"PK\x05\x06" in data[-65557:]:
        raise Refused(gettext("%(name)s also carries a zip archive (a file hidden in a file).", name=name))
    if kind == "png" and not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        raise Refused(gettext("%(name)s carries data after the end of the image (a file hidden in a file).", name=name))


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
        except (zipfile.BadZipFile, ValueError, OSError):
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
    try:
        check_contents(display, detected, data)
    except Refused as exc:
        return None, [str(exc)]
    ext, mime, _ = ALLOWED[detected]
    return CheckedUpload(display, data, ext, mime), []


def check_contents(name: str, kind: str, data: bytes, zip_limits: ZipLimits | None = None) -> None:
    """What a file of a detected type must also pass before it is kept or opened (raises ``Refused``)."""
    check_polyglot(name, kind, data)
    if kind in ("docx", "xlsx"):
        check_zip(name, data, zip_limits or ZipLimits.from_config())
    elif kind == "pdf":
        check_pdf(name, data)


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
