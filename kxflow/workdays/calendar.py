"""The one calendar every time limit uses: working days on the State Council's schedule, with its 调休 days.

A year's schedule comes from the ministry's own entry if there is one, else from the packaged
``chinesecalendar`` data; for a year nobody has announced yet only weekends are rest days, and
every date computed in such a year is *provisional* (the pages say 节假日安排未公布 beside it).
Times are kept to the minute in Beijing time: "3 working days after" a moment is the same time of
day on the third working day after its day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar
from sqlalchemy import select

from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.workdays.models import HolidayDay, HolidayYear

CACHE_SECONDS = 300  # another process's entry of a new year is seen within this long


@dataclass(frozen=True)
class YearSchedule:
    year: int
    rest: frozenset[date]  # holidays falling on weekdays (and on weekends: harmless)
    work: frozenset[date]  # weekend days that are working days (调休)
    announced: bool
    source: str  # "entered", "packaged" or "weekends"


_cache: dict[int, tuple[float, YearSchedule]] = {}


def _packaged(year: int) -> YearSchedule | None:
    rest = frozenset(d for d in chinese_calendar.holidays if d.year == year)
    work = frozenset(d for d in chinese_calendar.workdays if d.year == year)
    try:
        chinese_calendar.is_workday(date(year, 6, 30))
    except NotImplementedError:  # past the package's horizon
        return None
    return YearSchedule(year, rest, work, True, "packaged")


def schedule(year: int) -> YearSchedule:
    hit = _cache.get(year)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    entered = db.session.get(HolidayYear, year)
    if entered is not None:
        days = db.session.execute(select(HolidayDay.day, HolidayDay.kind).where(HolidayDay.year == year)).all()
        found = YearSchedule(
            year,
            frozenset(d for d, k in days if k == "rest"),
            frozenset(d for d, k in days if k == "work"),
            True,
            "entered",
        )
    else:
        found = _packaged(year) or YearSchedule(year, frozenset(), frozenset(), False, "weekends")
    _cache[year] = (time.monotonic(), found)
    return found


def forget(year: int | None = None) -> None:
    """After a year is entered (and in tests): read it again."""
    if year is None:
        _cache.clear()
    else:
        _cache.pop(year, None)


def is_workday(day: date) -> bool:
    s = schedule(day.year)
    if day in s.work:
        return True
    if day in s.rest:
        return False
    return day.weekday() < 5


def announced(year: int) -> bool:
    return schedule(year).announced


def _china(moment: datetime) -> datetime:
    return moment.astimezone(CHINA)


def add_workdays(start: datetime, n: int) -> datetime:
    """The same Beijing time of day on the ``n``-th working day after ``start``'s day (n ≥ 0; 0 = start)."""
    local = _china(start)
    day = local.date()
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return datetime.combine(day, local.timetz())


def subtract_workdays(moment: datetime, n: int) -> datetime:
    """The same Beijing time on the ``n``-th working day before ``moment``'s day."""
    local = _china(moment)
    day = local.date()
    counted = 0
    while counted < n:
        day -= timedelta(days=1)
        if is_workday(day):
            counted += 1
    return datetime.combine(day, local.timetz())


def on_workday_before(moment: datetime) -> datetime:
    """A reminder that would fall on a rest day goes out at the same time on the working day before."""
    local = _china(moment)
    day = local.date()
    while not is_workday(day):
        day -= timedelta(days=1)
    return datetime.combine(day, local.timetz())


def on_workday_after(moment: datetime) -> datetime:
    """A prompt about something that has ended waits for the next working day (never before the end)."""
    local = _china(moment)
    day = local.date()
    while not is_workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, local.timetz())


def provisional(value: datetime | date | None) -> bool:
    """Computed in a year whose holiday schedule nobody has entered yet (weekends only)."""
    if value is None:
        return False
    day = _china(value).date() if isinstance(value, datetime) else value
    return not announced(day.year)


def workdays_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (negative when ``end`` is earlier)."""
    if end < start:
        return -workdays_between(end, start)
    return sum(1 for k in range(1, (end - start).days + 1) if is_workday(start + timedelta(days=k)))
