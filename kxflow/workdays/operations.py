"""Entering a year's holiday schedule as the State Council announced it (ministry staff), and listing the years.

Input is text, one line each: a holiday as ``2027-02-10~2027-02-17 春节`` (or one date), a
调休 working day as ``2027-02-07``. Every line is checked; nothing is saved while any is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Forbidden, Invalid
from kxflow.workdays import calendar
from kxflow.workdays.models import HolidayDay, HolidayYear

_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s*[~～至]\s*(\d{4}-\d{2}-\d{2}))?\s*(.*)$")
FIRST_PACKAGED, LAST_YEAR = 2004, 2100


def can_enter(user: User) -> bool:
    return user.role == Role.MINISTRY_STAFF


@dataclass
class YearRow:
    year: int
    source: str  # "entered", "packaged" or "weekends"
    rest_days: int
    work_days: int
    note: str


def years_around(today: date) -> list[YearRow]:
    """Last year, this year and the next two: where each year's schedule comes from."""
    rows = []
    for year in range(today.year - 1, today.year + 3):
        s = calendar.schedule(year)
        entered = db.session.get(HolidayYear, year)
        rows.append(
            YearRow(
                year,
                s.source,
                len([d for d in s.rest if d.weekday() < 5]),
                len(s.work),
                entered.source if entered else "",
            )
        )
    return rows


def _parse(text: str, year: int, field: str, ranges: bool) -> tuple[list[tuple[date, str]], list[str]]:
    days: list[tuple[date, str]] = []
    problems: list[str] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        try:
            if match is None:
                raise ValueError
            first = date.fromisoformat(match.group(1))
            last = date.fromisoformat(match.group(2)) if match.group(2) else first
        except ValueError:
            problems.append(
                gettext("Line %(n)s: not a date (e.g. 2027-02-10~2027-02-17 春节): %(line)s", n=number, line=line)
            )
            continue
        if (match.group(2) and not ranges) or last < first or (last - first).days > 31:
            problems.append(gettext("Line %(n)s: not a valid range: %(line)s", n=number, line=line))
            continue
        name = match.group(3).strip()[:40]
        for k in range((last - first).days + 1):
            day = first + timedelta(days=k)
            if day.year != year:
                problems.append(
                    gettext("Line %(n)s: %(day)s is not in %(year)s.", n=number, day=day.isoformat(), year=year)
                )
                break
            days.append((day, name))
    return days, problems


def enter_year(user: User, year: int, *, holidays: str, workdays: str, source: str = "") -> HolidayYear:
    """Records (or replaces) a year's schedule; every date computed from now on follows it."""
    if not can_enter(user):
        raise Forbidden()
    fields: dict[str, list[str]] = {}
    if not isinstance(year, int) or not FIRST_PACKAGED <= year <= LAST_YEAR:
        raise Invalid(
            fields={"year": [gettext("Must be between %(min)s and %(max)s.", min=FIRST_PACKAGED, max=LAST_YEAR)]}
        )
    rest, problems = _parse(holidays, year, "holidays", ranges=True)
    if problems:
        fields["holidays"] = problems
    elif not rest:
        fields["holidays"] = [gettext("List the year's public holidays.")]
    work, problems = _parse(workdays, year, "workdays", ranges=False)
    weekday_work = [d.isoformat() for d, _ in work if d.weekday() < 5]
    if problems:
        fields["workdays"] = problems
    elif weekday_work:
        fields["workdays"] = [
            gettext("A 调休 working day falls on a weekend: %(days)s are weekdays.", days="、".join(weekday_work))
        ]
    both = sorted({d for d, _ in rest} & {d for d, _ in work})
    if both:
        fields.setdefault("workdays", []).append(
            gettext("Both a holiday and a working day: %(days)s.", days="、".join(d.isoformat() for d in both))
        )
    if len((source or "").strip()) > 200:
        fields["source"] = [gettext("At most %(max)s characters.", max=200)]
    if fields:
        raise Invalid(fields=fields)
    row = db.session.get(HolidayYear, year)
    if row is None:
        row = HolidayYear(year=year)
        db.session.add(row)
    row.source = (source or "").strip()
    row.entered_by_id = user.id
    row.entered_at = clock.now()
    row.days = [HolidayDay(day=d, kind="rest", name=name) for d, name in dict(rest).items()] + [
        HolidayDay(day=d, kind="work", name=name) for d, name in dict(work).items()
    ]
    db.session.flush()
    calendar.forget(year)
    return row


def entered_text(year: int) -> tuple[str, str]:
    """The year's entered days back as the form's text (for correcting an entry)."""
    days = db.session.scalars(select(HolidayDay).where(HolidayDay.year == year).order_by(HolidayDay.day)).all()
    rest = "\n".join(f"{d.day.isoformat()} {d.name}".strip() for d in days if d.kind == "rest")
    work = "\n".join(d.day.isoformat() for d in days if d.kind == "work")
    return rest, work
