"""Static files for slow networks: each under a name carrying its content hash, cached for a year and never
asked for again, text compressed once (gzip) and kept compressed; pages themselves compressed too.

Templates write ``{{ asset('kxflow.css') }}`` → ``/assets/<hash>/kxflow.css``. A new version of a file has
a new hash, hence a new address: browsers never keep an old one.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, abort, request, url_for

YEAR = 365 * 24 * 3600
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml", "image/x-icon")
MIN_COMPRESS = 1024  # smaller answers gain nothing from compression


@lru_cache(maxsize=512)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=256)
def _compressed(path: Path, mtime_ns: int) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)


def _file(app: Flask, filename: str) -> Path:
    root = Path(app.static_folder or "").resolve()
    path = (root / filename).resolve()
    if root not in path.parents or not path.is_file():
        abort(404)
    return path


def digest_of(app: Flask, filename: str) -> str:
    path = _file(app, filename)
    return _digest(path, path.stat().st_mtime_ns)


def accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "")


def compressible(mimetype: str | None) -> bool:
    return bool(mimetype) and mimetype.startswith(COMPRESSIBLE)


def init_assets(app: Flask) -> None:
    def asset(filename: str) -> str:
        return url_for("assets", digest=digest_of(app, filename), filename=filename)

    app.jinja_env.globals["asset"] = asset

    @app.get("/assets/<digest>/<path:filename>")
    def assets(digest: str, filename: str) -> Response:
        path = _file(app, filename)
        mtime = path.stat().st_mtime_ns
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mimetype.startswith("text/") or mimetype == "application/javascript":
            mimetype += "; charset=utf-8"
        current = _digest(path, mtime) == digest
        if compressible(mimetype) and accepts_gzip():
            response = Response(_compressed(path, mtime), mimetype=mimetype)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = Response(path.read_bytes(), mimetype=mimetype)
        response.headers["Vary"] = "Accept-Encoding"
        # an old address (a page cached during a deploy) still gets the file, but only for a short while
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable" if current else "public, max-age=300"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/favicon.ico")
    def favicon() -> Response:
        path = _file(app, "favicon.ico")
        response = Response(path.read_bytes(), mimetype="image/x-icon")
        response.headers["Cache-Control"] = "public, max-age=604800"
        return response

    @app.after_request
    def _compress_pages(response: Response) -> Response:
        if (
            response.direct_passthrough
            or response.status_code < 200
            or "Content-Encoding" in response.headers
            or not (response.mimetype or "").startswith("text/html")
            or not accepts_gzip()
        ):
            return response
        data = response.get_data()
        if len(data) < MIN_COMPRESS:
            return response
        response.set_data(gzip.compress(data, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        return response
