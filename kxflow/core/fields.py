"""marshmallow fields shared by the API schemas."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext
from marshmallow import ValidationError, fields, validate

CHINA = ZoneInfo("Asia/Shanghai")
# the programme's dates lie in this century: a year 9999 is a typo or a probe, and would overflow date arithmetic
YEARS = (2000, 2100)
INT32 = (-(2**31), 2**31 - 1)  # an id, a page, a quota: what the database's integer columns hold


def sane_year(value: date) -> date:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValidationError(gettext("The year must be between %(min)s and %(max)s.", min=YEARS[0], max=YEARS[1]))
    return value


class ChinaDateTime(fields.DateTime):
    """ISO 8601 in and out; a time without offset means Beijing time; written back with +08:00."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        sane_year(parsed)
        return parsed.replace(tzinfo=CHINA) if parsed.tzinfo is None else parsed

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(CHINA).isoformat()


class SaneDate(fields.Date):
    """An ISO date within the programme's years."""

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        return sane_year(super()._deserialize(value, attr, data, **kwargs))


class Int(fields.Integer):
    """A whole number the database can hold: outside 32 bits it is a 422 naming the field, never a 500."""

    def __init__(self, *args, **kwargs) -> None:
        validators = kwargs.pop("validate", None)
        validators = [validators] if callable(validators) else list(validators or [])
        super().__init__(*args, validate=[validate.Range(*INT32), *validators], **kwargs)
