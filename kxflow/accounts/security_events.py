"""What each security-log event is called on the administrator's page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from kxflow.core.security_log import EVENTS

EVENT_LABELS = {
    "login_ok": _l("Logged in"),
    "login_failed": _l("Failed login"),
    "login_locked": _l("Locked out"),
    "logout": _l("Logged out"),
    "session_expired": _l("Session expired"),
    "session_revoked": _l("Session ended by its user"),
    "password_changed": _l("Password changed"),
    "password_reset": _l("Password reset by an administrator"),
    "password_rehashed": _l("Password hash upgraded"),
    "mfa_enrolled": _l("Second factor set up"),
    "mfa_failed": _l("Wrong second-factor code"),
    "mfa_disabled": _l("Second factor removed"),
    "mfa_reset": _l("Second factor reset by an administrator"),
    "recovery_code_used": _l("Recovery code used"),
    "token_issued": _l("API token issued"),
    "token_refused": _l("API token refused"),
    "token_revoked": _l("API token revoked"),
    "access_refused": _l("Access refused"),
    "user_created": _l("User created"),
    "user_changed": _l("User changed"),
    "role_changed": _l("Role changed"),
    "user_deactivated": _l("User deactivated"),
    "sessions_ended": _l("All sessions ended by an administrator"),
    "export": _l("Export"),
    "objection_refused": _l("Public objection refused"),
}
assert set(EVENT_LABELS) == set(EVENTS), "every security event needs its label"
