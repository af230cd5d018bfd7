"""What every HTML page shares: error pages, running an action and saying what happened, the navigation
(each feature adds its links), and Chinese date and number formats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, flash, redirect, render_template, request
from flask_babel import lazy_gettext as _l

from kxflow.core.assets import init_assets
from kxflow.core.errors import AppError, Conflict, GuardFailed, Invalid, limit_message
from kxflow.core.formats import fmt_date, fmt_day, fmt_dt, fmt_input, fmt_num, locale
from kxflow.core.uow import transaction

ERROR_TITLES = {
    400: _l("The request is not valid."),
    403: _l("You may not do this"),
    404: _l("Not found"),
    405: _l("This method is not allowed here."),
    409: _l("Someone acted first"),
    413: _l("The upload is too large"),
    414: _l("The address is too long"),
    422: _l("Some fields are not valid."),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    503: _l("Nothing was saved"),
    507: _l("Nothing was saved"),
}
ERROR_ADVICE = {
    403: _l("Your role does not allow this action. If you think it should, ask your administrator."),
    404: _l("The page does not exist, or it is outside what you may see."),
    409: _l("Someone else changed this application while you were looking at it. Reload to see where it stands now."),
    413: _l("Files may be at most 20 MB."),
    429: _l("Please wait a minute and try again."),
    500: _l("The error has been logged. Please try again later."),
    503: _l("The connection to the database was lost before your action was saved. Please try again."),
    507: _l("The server's storage is full. Please tell your administrator; nothing of this action was saved."),
}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy string: rendered in the reader's language
    order: int
    shown_to: Callable[[Any], bool]  # of the logged-in user
    badge: Callable[[Any], int] | None = None
    landing: bool = False  # the first page of those it is shown to who have no 我的待办 (the administrator)


NAVIGATION: list[NavItem] = []


def nav_item(
    endpoint: str, label: Any, order: int, shown_to: Callable[[Any], bool], badge=None, landing: bool = False
) -> None:
    """A link in the header, added by the feature that owns the page, shown to whom the feature says."""
    NAVIGATION.append(NavItem(endpoint, label, order, shown_to, badge, landing))
    NAVIGATION.sort(key=lambda item: item.order)


def landing_for(user: Any) -> str | None:
    """The endpoint a user without applications to handle starts from, if a feature offers one."""
    return next((item.endpoint for item in NAVIGATION if item.landing and item.shown_to(user)), None)


def nav_for(user: Any) -> list[tuple[NavItem, int]]:
    return [(item, item.badge(user) if item.badge else 0) for item in NAVIGATION if item.shown_to(user)]


def safe_next(target: str | None) -> str | None:
    """A ``next`` address that stays on this site (a path), or None. Browsers drop tabs and newlines and read a
    backslash as a slash, so ``/\t/evil.example`` would leave the site: anything but plain printable ASCII is
    refused, as is any address with a scheme or host."""
    if not target or len(target) > 500:
        return None
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def lang_url(code: str) -> str:
    """This page in another language, with everything else it was asked with (filters, search, page) kept."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return "?" + urlencode([*args, ("lang", code)])


def html_error(status: int, exc: Exception | None = None):
    if status == 413 and request.referrer and request.referrer.startswith(request.host_url):
        # a file too large for the form it was sent with: back to that form, saying why (no dead end)
        flash(str(ERROR_ADVICE[413]), "error")
        return redirect(request.referrer)
    message = getattr(exc, "message", None) if isinstance(exc, AppError) else limit_message(exc)
    return (
        render_template(
            "error.html",
            status=status,
            title=ERROR_TITLES.get(status, ERROR_TITLES[500]),
            advice=ERROR_ADVICE.get(status),
            message=message,
        ),
        status,
    )


def perform(action: Callable[[], Any], done: str) -> bool:
    """Runs one operation in its own transaction and says on the next page what happened (or every problem).

    Forbidden and NotFound still become error pages; refusals a user can fix become messages.
    """
    try:
        with transaction():
            action()
    except (GuardFailed, Invalid) as exc:
        flash_problems(exc)
        return False
    except Conflict as exc:
        flash(str(exc.message), "error")
        return False
    flash(done)
    return True


def flash_problems(exc: AppError) -> None:
    """Shows an operation's refusal on the next page: each guard reason and field message."""
    for reason in exc.extra.get("reasons") or []:
        flash(reason, "error")
    for messages in (exc.extra.get("fields") or {}).values():
        for message in messages:
            flash(message, "error")


def init_web(app: Flask) -> None:
    app.config["HTML_ERROR_HANDLER"] = html_error
    app.jinja_env.filters.update(dt=fmt_dt, num=fmt_num, ddate=fmt_date, dday=fmt_day, input=fmt_input)
    app.jinja_env.globals.update(locale=locale, nav_for=nav_for, lang_url=lang_url)
    init_assets(app)

    @app.after_request
    def _remember_language(response):
        asked = request.args.get("lang")
        if asked in ("zh", "en"):
            response.set_cookie("lang", asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        return response
