"""What an application's indicator values mean: field errors, derived values, score, veto failures.

The server is the authority: the same evaluation runs on every save and before ``submit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext

from kxflow.indicators.definition import IndicatorSetDefinition, Item


@dataclass
class Evaluation:
    errors: dict[str, list[str]] = field(default_factory=dict)
    computed: dict[str, float | None] = field(default_factory=dict)
    score: float = 0.0
    veto_failures: list[str] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)
    # values allowed but unusual for a county (above the item's plausible maximum): a warning, not an error
    warnings: dict[str, str] = field(default_factory=dict)


def _check_value(item: Item, value: Any) -> tuple[Any, str | None]:
    """Returns the normalised value, or an error in the user's language."""
    if item.type == "boolean":
        return (value, None) if isinstance(value, bool) else (None, gettext("Must be true or false."))
    if item.type == "choice":
        if value in item.choices:
            return value, None
        return None, gettext("Must be one of: %(choices)s.", choices="、".join(item.choices))
    if item.type == "text":
        if not isinstance(value, str):
            return None, gettext("Must be text.")
        return (value, None) if len(value) <= 2000 else (None, gettext("Must be at most %(max)s characters.", max=2000))
    # number / integer: JSON booleans are ints in Python and must not pass as numbers
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None, gettext("Must be a number.")
    if item.type == "integer":
        if isinstance(value, float) and not value.is_integer():
            return None, gettext("Must be a whole number.")
        value = int(value)
    if item.min is not None and value < item.min:
        if item.min == 0:
            return None, gettext("May not be negative.")
        return None, gettext("Must be at least %(min)s.", min=_fmt(item.min))
    if item.max is not None and value > item.max:
        return None, gettext("Must be at most %(max)s.", max=_fmt(item.max))
    return value, None


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def validate_values(
    definition: IndicatorSetDefinition, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Checks submitted values one by one; ``None`` clears a value. Unknown keys are errors."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        item = definition.inputs_by_key.get(key)
        if item is None:
            computed_keys = {c.key for c in definition.computed}
            msg = (
                gettext("Computed value; it cannot be typed in.")
                if key in computed_keys
                else gettext("Unknown indicator.")
            )
            errors[f"indicators.{key}"] = [msg]
            continue
        if value is None:
            clean[key] = None
            continue
        normalised, error = _check_value(item, value)
        if error:
            errors[f"indicators.{key}"] = [error]
        else:
            clean[key] = normalised
    return clean, errors


def _share(values: dict[str, Any], year: int) -> float | None:
    spend, budget = values.get(f"fiscal_st_spending_y{year}"), values.get(f"general_budget_expenditure_y{year}")
    if spend is None or not budget:
        return None
    return spend / budget * 100


def _formula(name: str, values: dict[str, Any], computed: dict[str, float | None]) -> float | None:
    if name == "st_share_y1":
        return _share(values, 1)
    if name == "st_share_y3":
        return _share(values, 3)
    if name == "st_share_change_pp":
        a, b = _share(values, 1), _share(values, 3)
        return None if a is None or b is None else b - a
    if name == "st_spending_growth_3y":
        first, last = values.get("fiscal_st_spending_y1"), values.get("fiscal_st_spending_y3")
        if not first or last is None:
            return None
        return ((last / first) ** 0.5 - 1) * 100  # two yearly steps from y1 to y3
    raise ValueError(name)


def _points(item: Item, value: Any) -> float:
    if value is None or not item.score:
        return 0.0
    rule = item.score["rule"]
    if rule == "boolean":
        fraction = 1.0 if value is True else 0.0
    elif rule == "choice":
        fraction = float(item.score["points"].get(value, 0.0))
    else:
        fraction = max(0.0, min(float(value) / float(item.score["target"]), 1.0))
    return item.weight * fraction


def _vetoed(item: Item, value: Any) -> bool:
    if not item.veto or value is None:
        return False
    rule = item.veto["rule"]
    if rule == "equals":
        return value != item.veto["value"]
    if rule == "min":
        return value < item.veto["value"]
    return value in item.veto["values"]  # not_in


def evaluate(definition: IndicatorSetDefinition, values: dict[str, Any]) -> Evaluation:
    result = Evaluation()
    for year in (1, 2, 3):
        spend, budget = values.get(f"fiscal_st_spending_y{year}"), values.get(f"general_budget_expenditure_y{year}")
        if spend is not None and budget and spend > budget:
            result.errors.setdefault(f"indicators.fiscal_st_spending_y{year}", []).append(
                gettext("S&T spending cannot exceed general budget expenditure (a share over 100 percent).")
            )
    for item in definition.computed:
        value = _formula(item.formula or "", values, result.computed)
        result.computed[item.key] = None if value is None else round(value, 4)
    merged = {**values, **result.computed}
    result.score = round(sum(_points(i, merged.get(i.key)) for i in definition.scored), 2)
    result.veto_failures = [i.key for i in (*definition.inputs, *definition.computed) if _vetoed(i, merged.get(i.key))]
    result.missing_required = [i.key for i in definition.inputs if i.required and values.get(i.key) is None]
    for item in definition.inputs:
        value = values.get(item.key)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if item.plausible_max is not None and number and value > item.plausible_max:
            result.warnings[item.key] = gettext(
                "Unusually high for a county (usually at most %(max)s %(unit)s): please check the figure.",
                max=_fmt(item.plausible_max),
                unit=item.unit,
            )
    return result
