"""Bulk actions: one trigger with one comment on several applications, each in its own savepoint.

Every item goes through ``fire_trigger`` with its own scope, role, state and guards, in the order given (so
a quota is taken in the order the list shows); a refusal undoes only its own item and is reported with the
exact reasons, the others stand. The request commits once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext

from kxflow.accounts.models import User
from kxflow.applications.handover import after_action
from kxflow.applications.operations import fire_trigger
from kxflow.core.errors import AppError, Invalid
from kxflow.core.uow import item
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_application
from kxflow.workflow.triggers import TRIGGERS_BY_NAME, Trigger, TriggerSpec

# the decisions taken on many applications at once at deadline time
BULK_TRIGGERS: tuple[Trigger, ...] = (
    Trigger.PROVINCE_RECOMMEND,
    Trigger.PROVINCE_RETURN,
    Trigger.PROVINCE_REJECT,
    Trigger.MINISTRY_ACCEPT,
    Trigger.MINISTRY_RETURN,
    Trigger.DESIGNATE,
)
MAX_ITEMS = 100


@dataclass
class ItemResult:
    application_id: int
    county_name: str | None  # None: not found (or not in the user's scope)
    ok: bool
    state: str | None = None
    reasons: list[str] = field(default_factory=list)
    next_step: str | None = None


def bulk_triggers_for(user: User, state: str | None = None) -> list[TriggerSpec]:
    """The bulk actions a user may take (from one state, if given)."""
    return [
        spec
        for name in BULK_TRIGGERS
        if (spec := TRIGGERS_BY_NAME[name]) and user.role in spec.roles and (state is None or state in spec.sources)
    ]


def check_request(user: User, trigger: str, application_ids: list[int]) -> TriggerSpec:
    """The trigger of a bulk request, once it is one of the bulk actions of the user's role and names 1–100
    applications (422 otherwise, nothing done)."""
    fields: dict[str, list[str]] = {}
    spec = TRIGGERS_BY_NAME.get(trigger)  # type: ignore[call-overload]
    if spec is None or spec.name not in BULK_TRIGGERS or user.role not in spec.roles:
        fields["trigger"] = [gettext("Not an action you can take on several applications at once.")]
    if not application_ids:
        fields["application_ids"] = [gettext("Select at least one application.")]
    elif len(application_ids) > MAX_ITEMS:
        fields["application_ids"] = [gettext("At most %(n)s applications at once.", n=MAX_ITEMS)]
    if fields:
        raise Invalid(fields=fields)
    return spec  # type: ignore[return-value]


def selected(user: User, application_ids: list[int]) -> list[Application]:
    """The applications named, in the order given, that the user may see (the others are left out)."""
    apps = []
    for application_id in dict.fromkeys(application_ids):
        try:
            apps.append(get_application(user, application_id))
        except AppError:
            continue
    return apps


def fire_many(user: User, trigger: str, application_ids: list[int], comment: str | None = None) -> list[ItemResult]:
    """Fires the trigger on each application in the order given; one result per distinct application."""
    check_request(user, trigger, application_ids)
    results: list[ItemResult] = []
    for application_id in dict.fromkeys(application_ids):  # each once, in the order given
        try:
            with item():
                app = fire_trigger(user, application_id, trigger, comment)
        except AppError as exc:
            results.append(_refused(user, application_id, exc))
        else:
            results.append(ItemResult(app.id, app.county.name, True, app.state, next_step=after_action(app)))
    return results


def _refused(user: User, application_id: int, exc: AppError) -> ItemResult:
    reasons = list(exc.extra.get("reasons") or [])
    reasons += [m for ms in (exc.extra.get("fields") or {}).values() for m in ms]
    reasons = reasons or [str(exc.message)]
    try:
        app: Application | None = get_application(user, application_id)
    except AppError:
        app = None
    return ItemResult(
        application_id,
        app.county.name if app else None,
        False,
        app.state if app else None,
        reasons=reasons,
    )
