"""Finding a division the way people name it: by name (安吉), by pinyin initials (ajx) or spelling (anji), by
province → prefecture → county, or by its official code; and reading back what someone typed.

The list is read once per process (about 2,900 rows, reference data that changes once a year).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext
from pypinyin import Style, lazy_pinyin
from sqlalchemy import select

from kxflow.core.db import db
from kxflow.regions.models import County, Province

PROVINCE, COUNTY = "province", "county"


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str  # "province" or "county"
    province: str
    prefecture: str
    initials: str
    spelling: str

    @property
    def label(self) -> str:
        """浙江省 湖州市 安吉县: the whole line a person recognises."""
        if self.level == PROVINCE:
            return self.name
        return " ".join(part for part in (self.province, self.prefecture, self.name) if part)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "level": self.level, "label": self.label}


_CACHE: dict[str, list[Division]] = {}


def _pinyin(name: str) -> tuple[str, str]:
    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).lower(), "".join(lazy_pinyin(name)).lower()


def divisions() -> list[Division]:
    key = str(db.engine.url)
    if key not in _CACHE:
        rows: list[Division] = []
        for p in db.session.scalars(select(Province).order_by(Province.code)):
            rows.append(Division(p.code, p.name, PROVINCE, p.name, "", *_pinyin(p.name)))
        names = {p.code: p.name for p in db.session.scalars(select(Province))}
        for c in db.session.scalars(select(County).where(County.valid_to.is_(None)).order_by(County.code)):
            rows.append(
                Division(c.code, c.name, COUNTY, names[c.province_code], c.prefecture_name or "", *_pinyin(c.name))
            )
        _CACHE[key] = rows
    return _CACHE[key]


def by_code(code: str) -> Division | None:
    return next((d for d in divisions() if d.code == code), None)


def search(q: str, level: str | None = None, limit: int = 20) -> list[Division]:
    """Best matches first: a name or code that starts with what was typed, then one that contains it."""
    q = (q or "").strip().lower().replace(" ", "")
    if not q:
        return []
    pool = [d for d in divisions() if level in (None, d.level)]
    if q.isdigit():
        ranked = [(0, d) for d in pool if d.code.startswith(q)]
    elif q.isascii():
        ranked = [
            (0 if d.initials.startswith(q) else 1 if d.spelling.startswith(q) else 2, d)
            for d in pool
            if d.initials.startswith(q) or d.spelling.startswith(q) or q in d.spelling
        ]
    else:
        ranked = [
            (0 if d.name.startswith(q) else 1 if q in d.name else 2, d)
            for d in pool
            if q in d.name or q in (d.province + d.prefecture + d.name)
        ]
    ranked.sort(key=lambda pair: (pair[0], pair[1].level != PROVINCE, pair[1].code))
    return [d for _, d in ranked[:limit]]


def children(code: str | None) -> list[dict[str, str]]:
    """The next level down: provinces; a province's prefectures (and the counties directly under it); a
    prefecture's counties. Each entry: code, name, level ("province", "prefecture" or "county")."""
    counties = [d for d in divisions() if d.level == COUNTY]
    if not code:
        return [{"code": d.code, "name": d.name, "level": PROVINCE} for d in divisions() if d.level == PROVINCE]
    if code.endswith("0000"):
        province = by_code(code)
        out, seen = [], set()
        for c in (c for c in counties if c.code[:2] == code[:2]):
            if c.prefecture and c.prefecture not in seen:
                seen.add(c.prefecture)
                out.append({"code": c.code[:4] + "00", "name": c.prefecture, "level": "prefecture"})
            elif not c.prefecture:
                out.append({"code": c.code, "name": c.name, "level": COUNTY})
        return out if province else []
    return [
        {"code": c.code, "name": c.name, "level": COUNTY} for c in counties if c.code[:4] == code[:4] and c.prefecture
    ]


def resolve(text: str | None, level: str | None = None) -> tuple[str | None, str | None]:
    """What someone typed or picked (a code, a name, or the whole line) as a code; else the problem, in words."""
    text = (text or "").strip()
    if not text:
        return None, None
    pool = [d for d in divisions() if level in (None, d.level)]
    exact = [d for d in pool if text in (d.code, d.name, d.label)]
    if len(exact) == 1:
        return exact[0].code, None
    if len(exact) > 1:
        places = "、".join(d.label for d in exact[:4])
        return None, gettext(
            "Several divisions are called %(name)s (%(places)s): pick one from the list.", name=text, places=places
        )
    found = search(text, level, limit=2)
    if len(found) == 1:
        return found[0].code, None
    return None, gettext(
        "No division called %(name)s: type part of its name or its pinyin initials and pick it.", name=text
    )


def picked(form, name: str, level: str | None = None) -> tuple[str | None, str | None]:
    """A picker's answer from a posted form: the code it chose, unless the words were changed after the choice."""
    code, text = (form.get(name) or "").strip(), (form.get(f"{name}_text") or "").strip()
    chosen = by_code(code) if code else None
    if chosen is not None and level in (None, chosen.level) and text in ("", chosen.name, chosen.label, chosen.code):
        return chosen.code, None
    return resolve(text, level)


def label_of(code: str | None) -> str:
    found = by_code(code) if code else None
    return found.label if found else (code or "")
