"""Dates and numbers as Chinese readers expect them (Beijing time), or in English on request."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import format_date, format_datetime, format_decimal, get_locale, gettext


def locale() -> str:
    return str(get_locale() or "zh")


def fmt_dt(value: datetime | None, with_time: bool = True) -> str:
    """2026年11月28日 14:30 in Chinese, 2026-11-28 14:30 in English; always Beijing time."""
    if value is None:
        return "—"
    if locale().startswith("en"):
        return format_datetime(value, "yyyy-MM-dd HH:mm" if with_time else "yyyy-MM-dd")
    return format_datetime(value, "yyyy年M月d日 HH:mm" if with_time else "yyyy年M月d日")


def fmt_num(value: Any, digits: int = 2) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return format_decimal(round(float(value), digits), format="#,##0.##")


def fmt_date(value: date | None) -> str:
    """2026年12月5日 in Chinese, 2026-12-05 in English."""
    if value is None:
        return "—"
    return format_date(value, "yyyy-MM-dd" if locale().startswith("en") else "yyyy年M月d日")


def fmt_day(value: datetime | None) -> str:
    """The day of a moment (Beijing time), for events where the hour does not matter (命名日期)."""
    return fmt_dt(value, with_time=False)


def fmt_input(value: Any) -> str:
    """A number as a person types it back into a form: 4200, not 4200.0; 0.5 stays 0.5."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
