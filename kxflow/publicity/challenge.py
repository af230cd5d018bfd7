"""The public objection form's challenge, offline and without any outside service: a token signed with the app's
secret, issued with the form (or by ``GET …/challenge`` for an API client) and accepted only after a minimum fill
time and before it expires. A script posting at once, or a form copied days ago, is refused."""

from __future__ import annotations

import secrets
import time

from flask import current_app
from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from kxflow.core.errors import Invalid
from kxflow.core.security_log import record

_SALT = "kxflow.objection-challenge"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def issue(application_id: int) -> str:
    return _serializer().dumps({"a": application_id, "n": secrets.token_hex(8)})


def check(token: str | None, application_id: int) -> None:
    """Accepts a challenge for this notice that has waited at least the minimum fill time, or refuses (422)."""
    cfg = current_app.config
    problem = None
    try:
        payload, issued = _serializer().loads(
            token or "", max_age=cfg["OBJECTION_CHALLENGE_MAX_AGE_SECONDS"], return_timestamp=True
        )
    except SignatureExpired:
        problem = gettext("The form has expired. Reload the page and submit again.")
    except BadSignature:
        problem = gettext("The form is not valid. Reload the page and submit again.")
    else:
        if payload.get("a") != application_id:
            problem = gettext("The form is not valid. Reload the page and submit again.")
        elif time.time() - issued.timestamp() < cfg["OBJECTION_MIN_FILL_SECONDS"]:
            problem = gettext("Submitted too quickly. Read the form through, then submit it again.")
    if problem:
        record("objection_refused", status=422, detail={"application_id": application_id, "why": problem})
        raise Invalid(fields={"challenge": [problem]})
