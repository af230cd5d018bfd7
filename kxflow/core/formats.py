"""Dates and numbers as Chinese readers expect them (Beijing time), or in English on request."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import format_date, format_datetime, format_decimal, get_locale


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
        return str(value)
    return format_decimal(round(float(value), digits), format="#,##0.##")


def fmt_date(value: date | None) -> str:
    """2026年12月5日 in Chinese, 2026-12-05 in English."""
    if value is None:
        return "—"
    return format_date(value, "yyyy-MM-dd" if locale().startswith("en") else "yyyy年M月d日")
