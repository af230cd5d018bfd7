"""Work that must outlive the request's own transaction: done once that transaction is over, committed or not.

The security log and the login throttle write in transactions of their own. Written while the request's
transaction holds SQLite's write lock, they would wait for it; so inside a request they are queued here and
run when the request ends (outside a request, at once). Nothing queued is lost to a rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, g, has_request_context

log = logging.getLogger(__name__)


def later(work: Callable[[], None]) -> None:
    if has_request_context():
        g.setdefault("_kxflow_afterwards", []).append(work)
    else:
        work()


def init_afterwards(app: Flask) -> None:
    @app.teardown_request
    def _run(_exc: BaseException | None) -> None:
        for work in g.pop("_kxflow_afterwards", []):
            try:
                work()
            except Exception:
                log.exception("work after the request failed")
