"""The pages of the demo walk, per role, and what a person would notice on each of them.

``PAGES`` lists, for every demo login (and for someone not logged in), the pages that person opens in
the walk. A path may name demo facts in braces, resolved from the seeded demo data by ``resolve``:

- ``{app:安吉县}`` — the id of that county's application (the latest one);
- ``{assignment:蒲江县}`` — the id of the logged-in expert's assignment for that county's application;
- ``{call}`` — the id of the open call; ``{user:zj_county}`` — a user's id.

To add a page: one line in the list of each role that opens it, e.g. ``"/dashboard"`` under ``"ministry"``.
Every page listed is then checked at 1366 and 390 px by tests/test_browser_pages.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core.db import db
from kxflow.experts.models import Assignment
from kxflow.regions.models import County
from kxflow.workflow.models import Application

AXE = Path(__file__).resolve().parent.parent / "kxflow" / "static" / "vendor" / "axe-core" / "axe.min.js"

PAGES: dict[str, list[str]] = {
    "anonymous": [
        "/login",
        "/public/notices",
        "/public/notices/{app:平湖市}/objection",
        "/public/counties",
    ],
    "zj_county": [
        "/tasks",
        "/applications",
        "/applications/{app:安吉县}",
        "/applications/{app:安吉县}/edit",
        "/notifications",
        "/schedule",
        "/calls",
        "/calls?status=open",
        "/indicator-sets",
        "/settings",
        "/statistics",
    ],
    "zj_leader2": [
        "/tasks",
        "/applications/{app:德清县}",
        "/notifications",
    ],
    "zj_province": [
        "/tasks",
        "/tasks?overdue=1",
        "/applications",
        "/applications/{app:长兴县}",
        "/applications/{app:嘉善县}",
        "/applications?state=province_review",
        "/applications/bulk?trigger=province_recommend&id={app:新昌县}",
        "/applications/{app:新昌县}",
        "/applications/{app:新昌县}/compare",
        "/phrases",
        "/calls/{call}",
        "/notifications",
        "/notifications?status=unread&kind=action_required",
        "/assessments",
        "/statistics",
        "/statistics/applications?stage=province_review",
        "/papers",
    ],
    "sc_province": [
        "/tasks",
        "/applications/{app:大邑县}",
        "/account/deputies",
    ],
    "sc_leader": [
        "/tasks",
        "/copies",
        "/applications/{app:大邑县}",
    ],
    "ministry": [
        "/tasks",
        "/applications",
        "/applications/{app:长兴县}",
        "/applications/{app:蒲江县}",
        "/applications/{app:海盐县}",
        "/applications/{app:平湖市}",
        "/applications/{app:桐乡市}",
        "/applications/{app:都江堰市}",
        "/applications/{app:彭州市}",
        "/notifications",
        "/copies",
        "/account/deputies",
        "/schedule",
        "/schedule?kind=expert_due",
        "/calls",
        "/calls/new",
        "/calls/{call}/edit",
        "/calls/{call}",
        "/experts",
        "/assessments",
        "/indicator-sets",
        "/statistics",
        "/statistics/applications?call_id={call}&stage=ministry_review",
        "/statistics/applications?overdue=1",
        "/papers",
        "/indicator-sets/edit",
    ],
    "expert_js": [
        "/assignments",
        "/assignments?status=to_score",
        "/assignments/{assignment:蒲江县}",
        "/applications/{app:蒲江县}",
        "/schedule",
        "/notifications",
    ],
    "admin": [
        "/tasks",
        "/admin/users",
        "/admin/users/new",
        "/admin/users/{user:zj_county}",
        "/notifications",
    ],
}

# Words a Chinese page may show in Latin letters: names of formats and of the product, units.
ALLOWED_LATIN = {
    "kxflow",
    "PDF",
    "API",
    "DOCX",
    "XLSX",
    "JPG",
    "JPEG",
    "PNG",
    "JSON",
    "CSV",
    "MB",
    "KB",
    "S&T",
}
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_&.\-]*[A-Za-z0-9_]|[A-Za-z]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_URL = re.compile(r"https?://\S+")
_BARE_CODE = re.compile(r"(?<![\d.])(\d{6})(?![\d.])")


@dataclass
class Walk:
    """Ids of the seeded demo facts a page path may name."""

    apps: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    call: int = 0

    def resolve(self, path: str, username: str | None) -> str:
        def one(match: re.Match) -> str:
            kind, _, arg = match.group(1).partition(":")
            if kind == "app":
                return str(self.apps[arg])
            if kind == "user":
                return str(self.users[arg])
            if kind == "call":
                return str(self.call)
            if kind == "assignment":
                return str(_assignment_of(self.users[username], self.apps[arg]))
            raise KeyError(match.group(0))

        return re.sub(r"\{([^}]+)\}", one, path)


def demo_facts() -> Walk:
    """Reads the ids the page lists refer to (inside an app context, once the demo is seeded)."""
    walk = Walk()
    rows = db.session.execute(
        select(County.name, Application.id)
        .join(County, County.code == Application.county_code)
        .order_by(Application.id)
    )
    walk.apps = {name: app_id for name, app_id in rows}
    walk.users = {name: user_id for name, user_id in db.session.execute(select(User.username, User.id))}
    walk.call = db.session.scalar(select(Call.id).order_by(Call.opens_at.desc()).limit(1))
    return walk


def _assignment_of(expert_id: int, application_id: int) -> int:
    return db.session.scalar(
        select(Assignment.id).where(Assignment.expert_id == expert_id, Assignment.application_id == application_id)
    )


def foreign_words(text: str, values: str = "") -> list[str]:
    """Latin-letter words (in the text and in what fields hold) and bare six-digit codes in the text that a
    Chinese reader would trip on (allow-list aside; a code named as one, 行政区划代码 330523, is fine)."""
    found = []
    for chunk in (text, values):
        chunk = _URL.sub(" ", _EMAIL.sub(" ", chunk))
        found += [
            w for w in _LATIN_WORD.findall(chunk) if w not in ALLOWED_LATIN and w.rstrip(".") not in ALLOWED_LATIN
        ]
    for match in _BARE_CODE.finditer(text):
        before = text[max(0, match.start() - 8) : match.start()]
        if not any(word in before for word in ("代码", "邮编", "邮政编码")):
            found.append(match.group(1))
    return found


# The page's visible text (what innerText shows), its title, and the values and placeholders of its fields.
VISIBLE_TEXT_JS = """() => {
  let body = document.body.innerText;
  // words marked as another language (the 'English' of the language switch) are not the page's own
  // and identifiers shown verbatim (translate="no": login names, file names) are not words to translate
  for (const el of document.querySelectorAll('body [lang]:not([lang^="zh"]), body [translate="no"]')) {
    if (el.innerText) body = body.replace(el.innerText, ' ');
  }
  const parts = [];
  const shown = 'input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=submit])'
    + ':not([type=date]):not([type=datetime-local]):not([lang]):not([translate="no"]),'
    + 'textarea:not([lang]):not([translate="no"])';
  for (const el of document.querySelectorAll(shown)) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || el.closest('[hidden]')) continue;
    if (el.type !== 'password' && el.type !== 'file' && el.value) parts.push(el.value);
    if (el.placeholder) parts.push(el.placeholder);
  }
  return {text: document.title + '\\n' + body, values: parts.join('\\n')};
}"""

# Numbers shown in form fields as a program prints them ("4200.0") rather than as a person writes them.
RAW_NUMBER_JS = """() => Array.from(document.querySelectorAll('input'))
  .filter(el => /^-?\\d+\\.0$/.test(el.value)).map(el => (el.id || el.name) + '=' + el.value)"""

AXE_RUN_JS = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations', 'incomplete']});
  const pick = (kind) => (item) => ({kind, id: item.id, impact: item.impact,
    nodes: item.nodes.map(n => ({
      target: n.target.join(' '),
      data: n.any && n.any[0] && n.any[0].data ? JSON.stringify(n.any[0].data).slice(0, 200) : ''}))});
  const contrast = r.incomplete.filter(i => i.id === 'color-contrast');
  return r.violations.map(pick('violation')).concat(contrast.map(pick('incomplete')));
}"""

OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = Array.from(document.querySelectorAll('body *')).filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.right > width + 1 && getComputedStyle(el).position !== 'fixed'
      && !el.closest('.sr, .sr-only, .skip');
  }).slice(0, 3).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ').join('.') : ''));
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""


def serious(findings: list[dict]) -> list[dict]:
    """axe's serious and critical violations, and every colour contrast it could not decide (text it
    may not be able to read: e.g. white on an undetermined background)."""
    return [f for f in findings if f["kind"] == "incomplete" or f["impact"] in ("serious", "critical")]


def describe(findings: list[dict]) -> list[str]:
    out = []
    for f in findings:
        nodes = f["nodes"]
        where = "; ".join(f"{n['target']} {n['data']}".strip() for n in nodes[:3])
        label = f"axe {f['id']} ({f['kind']}, {f['impact']}) x{len(nodes)}"
        out.append(f"{label}: {where}")
    return out
