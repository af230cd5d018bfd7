"""Who receives an application next: named for the confirmation before an action and the message after it."""

from __future__ import annotations

from flask_babel import gettext

from kxflow.accounts.roles import ROLE_LABELS, Role
from kxflow.core.formats import locale
from kxflow.workflow.models import Application
from kxflow.workflow.states import STATES_BY_NAME, State, state_label
from kxflow.workflow.triggers import HOLDER_ROLE, TRIGGERS_BY_NAME


def holder_unit(app: Application, state: str) -> str | None:
    """The unit holding the application in a state (安吉县 · 县政府领导, 浙江省 · 省科技厅审核人员, 科技部), or None
    once it has ended."""
    role = HOLDER_ROLE.get(State(state))
    if role is None:
        return None
    label = str(ROLE_LABELS[role])
    if role in (Role.COUNTY_STAFF, Role.COUNTY_LEADER):
        return f"{app.county.name} · {label}"
    if role == Role.PROVINCE_REVIEWER:
        return f"{app.county.province.name} · {label}"
    return label


def next_step(app: Application, trigger: str) -> str:
    """What firing the trigger leads to, in a sentence: who receives it, at which stage (or that it ends)."""
    spec = TRIGGERS_BY_NAME[trigger]
    dest = spec.dest_from(app.state)
    return _sentence(app, dest)


def after_action(app: Application) -> str:
    """Where the application is now, said after an action: who has it, or that it has ended."""
    return _sentence(app, app.state)


def _sentence(app: Application, state: str) -> str:
    stage = state_label(state, locale())
    unit = holder_unit(app, state)
    if STATES_BY_NAME[state].final:
        return gettext("The application then ends (%(stage)s).", stage=stage)
    if unit is None:
        return gettext("Nobody needs to act on it next (%(stage)s).", stage=stage)
    return gettext("Next: %(unit)s (%(stage)s).", unit=unit, stage=stage)
