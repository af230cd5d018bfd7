"""Validation messages in the user's language.

marshmallow/webargs write English messages; the API answers in the user's language, so the
messages the schemas can produce are mapped here (one table), and the nested webargs layout
is flattened to ``{"field.sub": ["message", ...]}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask_babel import gettext

_EXACT: dict[str, Callable[[], str]] = {
    "Missing data for required field.": lambda: gettext("This field is required."),
    "Unknown field.": lambda: gettext("Unknown field."),
    "Field may not be null.": lambda: gettext("This field may not be empty."),
    "Not a valid integer.": lambda: gettext("Must be a whole number."),
    "Not a valid number.": lambda: gettext("Must be a number."),
    "Not a valid string.": lambda: gettext("Must be text."),
    "Not a valid boolean.": lambda: gettext("Must be true or false."),
    "Not a valid datetime.": lambda: gettext("Must be a date and time (ISO 8601)."),
    "Not a valid date.": lambda: gettext("Must be a date (ISO 8601)."),
    "Not a valid list.": lambda: gettext("Must be a list."),
    "Not a valid mapping type.": lambda: gettext("Must be an object."),
    "Invalid input type.": lambda: gettext("The body must be a JSON object."),
    "Not a valid email address.": lambda: gettext("Not a valid e-mail address."),
    "Invalid value.": lambda: gettext("Invalid value."),
    "Invalid JSON body.": lambda: gettext("The body is not valid JSON."),
    "Not a valid URL.": lambda: gettext("Not a valid URL."),
    "Not a valid dict.": lambda: gettext("Must be an object."),
}

_PATTERNS: list[tuple[re.Pattern[str], Callable[..., str]]] = [
    (
        re.compile(r"^Must be greater than or equal to (?P<min>\S+) and less than or equal to (?P<max>\S+)\.$"),
        lambda min, max: gettext("Must be between %(min)s and %(max)s.", min=min, max=max),
    ),
    (
        re.compile(r"^Must be greater than or equal to (?P<min>\S+)\.$"),
        lambda min: gettext("Must be at least %(min)s.", min=min),
    ),
    (
        re.compile(r"^Must be less than or equal to (?P<max>\S+)\.$"),
        lambda max: gettext("Must be at most %(max)s.", max=max),
    ),
    (
        re.compile(r"^Length must be between (?P<min>\d+) and (?P<max>\d+)\.$"),
        lambda min, max: gettext("Length must be %(min)s to %(max)s characters.", min=min, max=max),
    ),
    (
        re.compile(r"^Shorter than minimum length (?P<min>\d+)\.$"),
        lambda min: gettext("Must be at least %(min)s characters.", min=min),
    ),
    (
        re.compile(r"^Longer than maximum length (?P<max>\d+)\.$"),
        lambda max: gettext("Must be at most %(max)s characters.", max=max),
    ),
    (
        re.compile(r"^Must be one of: (?P<choices>.*)\.$"),
        lambda choices: gettext("Must be one of: %(choices)s.", choices=choices),
    ),
]

_LOCATIONS = {"json", "query", "form", "files", "headers", "view_args", "json_or_form", "querystring"}


def translate(message: str) -> str:
    if message in _EXACT:
        return _EXACT[message]()
    for pattern, render in _PATTERNS:
        match = pattern.match(message)
        if match:
            return render(**match.groupdict())
    return message  # already ours (schemas raise translated messages themselves)


def translate_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten webargs' ``{location: {field: [msg] | {sub: [msg]}}}`` into dotted field names."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            key = str(key)
            if not prefix and key in _LOCATIONS:
                name = ""
            elif key == "_schema":
                name = prefix.rstrip(".") or "_body"
            else:
                name = f"{prefix}{key}"
            if isinstance(value, dict):
                for sub, msgs in translate_messages(value, f"{name}." if name else "").items():
                    out.setdefault(sub, []).extend(msgs)
            else:
                msgs = value if isinstance(value, list) else [value]
                out.setdefault(name or "_body", []).extend(translate(str(m)) for m in msgs)
    return out
