"""The length of every free text a user can send, one table for the API schemas and the operations alike, so a
web form cannot put more into the record than the API would (a 2 MB comment once went into the audit trail)."""

from __future__ import annotations

from flask_babel import gettext

from kxflow.core.errors import Invalid

COMMENT = 2000  # a transition's comment or reason
PRESS_COMMENT = 500
RESOLUTION = 2000  # why an objection was upheld or dismissed
RECUSAL_REASON = 500
SCORE_COMMENT = 5000
FINDINGS = 20000  # an inspection report
PLACE = 200
EXPERT_FIELD = 80
# no single text field of any form or JSON body may be longer (checked for every request before any view)
ANY_TEXT = FINDINGS


def require_length(field: str, value: str | None, maximum: int) -> None:
    if value is not None and len(value) > maximum:
        raise Invalid(fields={field: [gettext("Must be at most %(max)s characters.", max=maximum)]})
