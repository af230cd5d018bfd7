"""marshmallow fields shared by the API schemas."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from marshmallow import fields

CHINA = ZoneInfo("Asia/Shanghai")


class ChinaDateTime(fields.DateTime):
    """ISO 8601 in and out; a time without offset means Beijing time; written back with +08:00."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        return parsed.replace(tzinfo=CHINA) if parsed.tzinfo is None else parsed

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(CHINA).isoformat()
