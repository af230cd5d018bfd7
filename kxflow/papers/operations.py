"""What each paper holds, read through the same scope as the pages it comes from.

The 申报书 is the application as the county last submitted it (``applications.operations.as_submitted``): the
figures, computed values, score and documents of that moment, whatever happened to the draft since. The review
summary is the panel as ministry staff see it. A call's 公示名单 and 命名名单 list the applications the reader may
see (``workflow.scope.visible``): the ministry the nation, a province its own counties.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, select

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.applications.operations import SubmittedVersion, as_submitted
from kxflow.calls.models import Call
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, NotFound
from kxflow.experts.models import Assignment, ExpertProfile
from kxflow.experts.operations import Aggregate, panel
from kxflow.indicators.definition import IndicatorSetDefinition, Item
from kxflow.indicators.models import definition_for
from kxflow.regions.models import County, Province
from kxflow.workflow.models import Application, Attachment, AuditRecord
from kxflow.workflow.scope import get_application, visible
from kxflow.workflow.states import AFTER_DESIGNATION, BEFORE_MINISTRY, State
from kxflow.workflow.triggers import Trigger

# roles that print a call's lists (and run long exports): the ministry for the nation, a province for its counties
LIST_ROLES = (Role.MINISTRY_STAFF, Role.PROVINCE_REVIEWER)


def prints_lists(user: User) -> bool:
    return user.role in LIST_ROLES


def require_list_role(user: User) -> None:
    if not prints_lists(user):
        raise Forbidden()


# --- the 申报书 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignOff:
    """A level's sign-off of the submitted version, printed in its box (or the box left blank to sign by hand)."""

    trigger: str
    at: datetime
    actor: str
    comment: str | None


@dataclass(frozen=True)
class ApplicationPaper:
    app: Application
    version: SubmittedVersion
    definition: IndicatorSetDefinition
    attachments: list[Attachment]
    county_sign_off: SignOff | None
    province_sign_off: SignOff | None

    # what the indicator macro reads of an application: the submitted figures, not today's draft
    @property
    def indicators(self) -> dict[str, Any]:
        return self.version.indicators

    @property
    def computed(self) -> dict[str, Any]:
        return self.version.computed

    @property
    def veto_failures(self) -> list[str]:
        return self.version.veto_failures

    @property
    def call(self) -> Call:
        return self.app.call

    @property
    def veto_items(self) -> list[Item]:
        items = {i.key: i for i in (*self.definition.inputs, *self.definition.computed)}
        return [items[key] for key in self.version.veto_failures if key in items]


def has_been_submitted(app: Application) -> bool:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.application_id == app.id, AuditRecord.trigger == Trigger.SUBMIT)
        )
        > 0
    )


def application_paper(user: User, application_id: int) -> ApplicationPaper:
    """The 申报书 of an application the user may see (404 otherwise), as last submitted (409 if never sent)."""
    app = get_application(user, application_id)
    version = as_submitted(user, application_id)
    if version is None:
        raise Conflict(gettext("The application has not been submitted yet: there is no application form to print."))
    attachments = (
        list(
            db.session.scalars(
                select(Attachment)
                .where(Attachment.application_id == app.id, Attachment.id.in_(version.attachment_ids))
                .order_by(Attachment.id)
            )
        )
        if version.attachment_ids
        else []
    )
    later = list(
        db.session.scalars(
            select(AuditRecord)
            .where(
                AuditRecord.application_id == app.id,
                AuditRecord.id > version.audit_id,
                AuditRecord.trigger.in_((Trigger.COUNTY_APPROVE, Trigger.PROVINCE_RECOMMEND)),
            )
            .order_by(AuditRecord.id)
        )
    )

    def sign_off(trigger: str) -> SignOff | None:
        row = next((r for r in later if r.trigger == trigger), None)
        if row is None:
            return None
        return SignOff(trigger, row.at, row.actor.display_name or row.actor.username, row.comment)

    return ApplicationPaper(
        app=app,
        version=version,
        definition=definition_for(app.call.indicator_set_version),
        attachments=attachments,
        county_sign_off=sign_off(Trigger.COUNTY_APPROVE),
        province_sign_off=sign_off(Trigger.PROVINCE_RECOMMEND),
    )


# --- the expert review summary -----------------------------------------------------------------


@dataclass(frozen=True)
class ReviewPaper:
    app: Application
    definition: IndicatorSetDefinition
    items: list[Item]
    seated: list[Assignment]
    recused: list[Assignment]
    profiles: dict[int, ExpertProfile]
    summary: Aggregate
    item_means: dict[str, float | None]


def prints_review(user: User, app: Application) -> bool:
    """Ministry staff print the panel's summary once a panel sits (from expert review on)."""
    if user.role != Role.MINISTRY_STAFF or app.state in BEFORE_MINISTRY:
        return False
    seated = select(Assignment.id).where(Assignment.application_id == app.id, Assignment.recused_at.is_(None))
    return bool(db.session.scalar(select(seated.exists())))


def review_paper(user: User, application_id: int) -> ReviewPaper:
    app = get_application(user, application_id)
    if user.role != Role.MINISTRY_STAFF:
        raise Forbidden()
    app, rows, summary = panel(user, application_id)
    seated = [r for r in rows if r.recused_at is None]
    if not seated or summary is None:
        raise Conflict(gettext("No expert panel has been formed for this application yet."))
    definition = definition_for(app.call.indicator_set_version)
    items = definition.scored
    done = [a for a in seated if a.scores is not None]
    means: dict[str, float | None] = {}
    for item in items:
        given = [a.scores.get(item.key) for a in done if a.scores.get(item.key) is not None]
        means[item.key] = round(sum(given) / len(given), 2) if given else None
    profiles = {
        p.user_id: p
        for p in db.session.scalars(select(ExpertProfile).where(ExpertProfile.user_id.in_([a.expert_id for a in rows])))
    }
    return ReviewPaper(
        app=app,
        definition=definition,
        items=items,
        seated=seated,
        recused=[r for r in rows if r.recused_at is not None],
        profiles=profiles,
        summary=summary,
        item_means=means,
    )


# --- a call's lists ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListEntry:
    application_id: int
    province: str
    prefecture: str | None
    county: str
    state: str
    notice_from: datetime | None  # 公示名单: when the notice opened
    notice_to: datetime | None
    designated_at: datetime | None  # 命名名单


@dataclass(frozen=True)
class CallList:
    call: Call
    entries: list[ListEntry]
    scope: str  # 全国 or the province's name
    designated_on: datetime | None = None  # 命名名单: the designation date (the latest, if several)


def _call_for(call_id: int) -> Call:
    call = db.session.get(Call, call_id)
    if call is None:
        raise NotFound()
    return call


def _scope_name(user: User) -> str:
    if user.role == Role.PROVINCE_REVIEWER and user.province is not None:
        return user.province.name
    return gettext("Nationwide")


def _entries(user: User, call_id: int, where: Any, notice: bool) -> list[ListEntry]:
    opened = (
        select(func.max(AuditRecord.at))
        .where(AuditRecord.application_id == Application.id, AuditRecord.to_state == State.PUBLICITY.value)
        .correlate(Application)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            Application.id,
            Province.name,
            County.prefecture_name,
            County.name,
            Application.state,
            opened if notice else Application.designated_at,
            Application.publicity_ends_at,
            Application.designated_at,
        )
        .join(County, County.code == Application.county_code)
        .join(Province, Province.code == Application.province_code)
        .where(Application.call_id == call_id, visible(user), where)
        .order_by(Province.code, County.code)
    )
    return [
        ListEntry(
            application_id=r[0],
            province=r[1],
            prefecture=r[2],
            county=r[3],
            state=r[4],
            notice_from=r[5] if notice else None,
            notice_to=r[6] if notice else None,
            designated_at=r[7],
        )
        for r in rows
    ]


def publicity_list(user: User, call_id: int) -> CallList:
    """公示名单: the call's applications that were put under public notice, with the notice window."""
    require_list_role(user)
    call = _call_for(call_id)
    was_noticed = select(AuditRecord.id).where(
        AuditRecord.application_id == Application.id, AuditRecord.to_state == State.PUBLICITY.value
    )
    entries = _entries(user, call.id, was_noticed.exists(), notice=True)
    return CallList(call, entries, _scope_name(user))


def designation_list(user: User, call_id: int) -> CallList:
    """命名名单: the call's applications designated national demonstration counties, with the date."""
    require_list_role(user)
    call = _call_for(call_id)
    entries = _entries(
        user, call.id, Application.state.in_(AFTER_DESIGNATION) & Application.designated_at.is_not(None), notice=False
    )
    latest = max((e.designated_at for e in entries if e.designated_at), default=None)
    return CallList(call, entries, _scope_name(user), designated_on=latest)
