"""Every page of the demo walk, in every role, looked at in Chromium as a person would see it.

On the seeded demo (an application at every stage), each role logs in and opens its pages
(tests/pagewalk.py: ``PAGES``), at 1366 px and as a 390 px phone. On each page:

- axe-core (vendored, injected by this test only) finds no serious or critical violation, and no colour
  contrast it could not decide (white text on an undetermined background reads as nothing at all);
- no English word or raw code is visible on the Chinese page (allow-list: kxflow, PDF, API …), and no
  number is shown in a form field as a program prints it (4200.0);
- the bytes transferred stay within the budget: 500 KB on a first view (empty cache), 50 KB on a repeat;
- at 390 px nothing is wider than the screen;
- a screenshot at both widths lands in test-output/screenshots/pages/<role>/.

All problems of a role are reported together. PostgreSQL only (one database is enough for what the browser
sees), each role within a time cap.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from kxflow.core.db import db
from kxflow.demo import DEMO_PASSWORD, seed_demo
from tests.browser import OUTPUT
from tests.conftest import reset_database
from tests.pagewalk import (
    AXE,
    AXE_RUN_JS,
    OVERFLOW_JS,
    PAGES,
    RAW_NUMBER_JS,
    VISIBLE_TEXT_JS,
    demo_facts,
    describe,
    foreign_words,
    serious,
)

FIRST_VIEW_BUDGET = 500 * 1024
REPEAT_VIEW_BUDGET = 50 * 1024
CAP_SECONDS = 240  # per role: the walk stops there and says so
WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.pg_only


@pytest.fixture(autouse=True)
def _fresh_state():
    """Overrides the conftest fixture: the demo is seeded once for the whole module (``demo`` below)."""
    yield


@pytest.fixture(scope="module")
def demo(app, database):
    reset_database(app, database)
    with app.app_context():
        seed_demo()
        db.session.commit()
        facts = demo_facts()
        db.session.remove()
    return facts


class Transfer:
    """Bytes received over the network by one page (Chrome's own count, headers included)."""

    def __init__(self, context, page) -> None:
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.bytes = 0
        self.cdp.on("Network.loadingFinished", self._finished)

    def _finished(self, event: dict) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))

    def view(self, page, path: str, clear: bool):
        if clear:
            self.cdp.send("Network.clearBrowserCache")
        self.bytes = 0
        response = page.goto(path, wait_until="load")
        page.wait_for_timeout(150)  # late events (the favicon) arrive after load
        return response, self.bytes


def _login(page, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "/login" not in page.url, f"{username} could not log in"


def _axe(page) -> list[dict]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return serious(page.evaluate(AXE_RUN_JS))


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "root"


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_of_the_walk(role, demo, app, browser, live_server):
    started = time.monotonic()
    shots = OUTPUT / "pages" / role
    shots.mkdir(parents=True, exist_ok=True)
    username = None if role == "anonymous" else role
    contexts = {
        "wide": browser.new_context(base_url=live_server, locale="zh-CN", viewport=WIDE),
        "phone": browser.new_context(
            base_url=live_server, locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True
        ),
    }
    pages = {name: context.new_page() for name, context in contexts.items()}
    for page in pages.values():
        page.set_default_timeout(20000)
        if username:
            _login(page, username)
    transfer = Transfer(contexts["wide"], pages["wide"])
    problems: list[str] = []
    try:
        for n, raw_path in enumerate(PAGES[role], start=1):
            if time.monotonic() - started > CAP_SECONDS:
                problems.append(f"time cap of {CAP_SECONDS} s reached before {raw_path}")
                break
            with app.app_context():
                path = demo.resolve(raw_path, username)
            name = f"{n:02d}-{_slug(raw_path)}"
            problems += [f"{path} 1366px: {p}" for p in _look_wide(pages["wide"], transfer, path, shots / name)]
            problems += [f"{path} 390px: {p}" for p in _look_phone(pages["phone"], path, shots / name)]
    finally:
        for context in contexts.values():
            context.close()
    assert problems == [], f"{role}: {len(problems)} problems\n" + "\n".join(problems)


def _look_wide(page, transfer: Transfer, path: str, shot: Path) -> list[str]:
    problems = []
    response, first = transfer.view(page, path, clear=True)
    if response is None or response.status >= 400:
        return [f"status {response.status if response else 'none'}"]
    if first > FIRST_VIEW_BUDGET:
        problems.append(f"first view {first / 1024:.0f} KB > {FIRST_VIEW_BUDGET // 1024} KB")
    _, repeat = transfer.view(page, path, clear=False)
    if repeat > REPEAT_VIEW_BUDGET:
        problems.append(f"repeat view {repeat / 1024:.0f} KB > {REPEAT_VIEW_BUDGET // 1024} KB")
    shown = page.evaluate(VISIBLE_TEXT_JS)
    words = foreign_words(shown["text"], shown["values"])
    if words:
        problems.append(f"English or raw codes on the Chinese page: {sorted(set(words))[:15]}")
    raw_numbers = page.evaluate(RAW_NUMBER_JS)
    if raw_numbers:
        problems.append(f"numbers as a program prints them: {raw_numbers[:5]}")
    problems += describe(_axe(page))
    page.screenshot(path=f"{shot}-1366.png", full_page=True)
    return problems


def _look_phone(page, path: str, shot: Path) -> list[str]:
    problems = []
    response = page.goto(path, wait_until="load")
    if response is None or response.status >= 400:
        return [f"status {response.status if response else 'none'}"]
    overflow = page.evaluate(OVERFLOW_JS)
    if overflow["scroll"] > overflow["width"]:
        problems.append(f"{overflow['scroll']} px wide on a {overflow['width']} px screen: {overflow['wide']}")
    problems += describe(_axe(page))
    page.screenshot(path=f"{shot}-390.png", full_page=True)
    return problems
