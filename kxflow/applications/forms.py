"""Reading the indicator form: turning what a clerk typed into the values the operations check."""

from __future__ import annotations

from typing import Any

from kxflow.indicators.definition import IndicatorSetDefinition


def parse_indicator_form(definition: IndicatorSetDefinition, form: Any) -> dict[str, Any]:
    """Empty clears a value; numbers may carry thousands separators; anything unparsable is passed
    through as text so the operation names the field and the problem."""
    values: dict[str, Any] = {}
    for item in definition.inputs:
        if item.key not in form:
            continue
        raw = (form.get(item.key) or "").strip()
        if raw == "":
            values[item.key] = None
        elif item.type == "boolean":
            values[item.key] = {"true": True, "false": False}.get(raw, raw)
        elif item.type in ("number", "integer"):
            text = raw.replace(",", "").replace("，", "")
            try:
                number = float(text)
                values[item.key] = int(number) if item.type == "integer" and number.is_integer() else number
            except ValueError:
                values[item.key] = raw
        else:
            values[item.key] = raw
    return values
