"""The one workflow of the programme: the trigger table (who may move an application from where to where,
guarded by what) and the ``transitions`` machine built from it.

Built once at import as a ``transitions`` machine with no models attached; a trigger is fired
on a loaded row through ``MACHINE.events[name].trigger(row, ctx=...)`` (the state is the row's
``state`` column). Guards are the machine's ``conditions``; each reads its verdict from the
``GuardContext``, which evaluates every guard once so a refusal can list all its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from transitions import Machine

from kxflow.accounts.roles import Role
from kxflow.workflow.states import STATE_NAMES, State


class Trigger(StrEnum):
    SUBMIT = "submit"
    COUNTY_APPROVE = "county_approve"
    COUNTY_RETURN = "county_return"
    PROVINCE_RECOMMEND = "province_recommend"
    PROVINCE_RETURN = "province_return"
    PROVINCE_REJECT = "province_reject"
    MINISTRY_ACCEPT = "ministry_accept"
    MINISTRY_RETURN = "ministry_return"
    MINISTRY_REJECT = "ministry_reject"
    SCHEDULE_INSPECTION = "schedule_inspection"
    EXPERT_REJECT = "expert_reject"
    PASS_INSPECTION = "pass_inspection"
    FAIL_INSPECTION = "fail_inspection"
    DESIGNATE = "designate"
    UPHOLD_OBJECTION = "uphold_objection"
    FAIL_RECHECK = "fail_recheck"
    PASS_RECHECK = "pass_recheck"
    REVOKE = "revoke"
    WITHDRAW = "withdraw"
    RECALL = "recall"


@dataclass(frozen=True)
class TriggerSpec:
    name: Trigger
    sources: tuple[State, ...]
    dest: State
    roles: frozenset[Role]
    label_zh: str
    label_en: str
    guards: tuple[str, ...] = ()
    comment_required: bool = False
    takes_comment: bool = True  # the form offers a comment box (required or optional)
    asks_deadline: bool = False  # the form asks for a date (the rectification deadline)
    irreversible: bool = False
    bumps_revision: bool = False
    confirm: bool = False  # the page asks for confirmation (besides every irreversible step)
    page_asks_reason: bool = False  # the page requires a reason the API leaves optional
    # when the destination and the role depend on the source: (source, destination, role)
    routes: tuple[tuple[State, State, Role], ...] = ()

    @property
    def asks_confirmation(self) -> bool:
        return self.confirm or self.irreversible

    def dest_from(self, source: str) -> State:
        for route_source, dest, _ in self.routes:
            if route_source == source:
                return dest
        return self.dest

    def roles_from(self, source: str) -> frozenset[Role]:
        """Who may fire it from this source (the sender, for a recall)."""
        by_source = frozenset(role for route_source, _, role in self.routes if route_source == source)
        return by_source or self.roles


_COUNTY = frozenset({Role.COUNTY_STAFF, Role.COUNTY_LEADER})
_MINISTRY = frozenset({Role.MINISTRY_STAFF})

TRIGGERS: tuple[TriggerSpec, ...] = (
    TriggerSpec(
        Trigger.SUBMIT,
        (State.DRAFT,),
        State.COUNTY_REVIEW,
        frozenset({Role.COUNTY_STAFF}),
        "提交",
        "Submit",
        guards=(
            "call_open",
            "county_eligible",
            "assessment_passed",
            "assessment_matches",
            "indicators_complete",
            "no_veto_in_figures",
            "attachments_present",
            "evidence_present",
        ),
        takes_comment=False,
        confirm=True,
    ),
    TriggerSpec(
        Trigger.COUNTY_APPROVE,
        (State.COUNTY_REVIEW,),
        State.PROVINCE_REVIEW,
        frozenset({Role.COUNTY_LEADER}),
        "县级审核通过",
        "Approve (county)",
    ),
    TriggerSpec(
        Trigger.COUNTY_RETURN,
        (State.COUNTY_REVIEW,),
        State.DRAFT,
        frozenset({Role.COUNTY_LEADER}),
        "县级退回",
        "Return (county)",
        guards=("comment_given",),
        comment_required=True,
    ),
    TriggerSpec(
        Trigger.PROVINCE_RECOMMEND,
        (State.PROVINCE_REVIEW,),
        State.MINISTRY_REVIEW,
        frozenset({Role.PROVINCE_REVIEWER}),
        "省级推荐",
        "Recommend (province)",
        guards=("before_province_deadline", "province_quota"),
    ),
    TriggerSpec(
        Trigger.PROVINCE_RETURN,
        (State.PROVINCE_REVIEW,),
        State.DRAFT,
        frozenset({Role.PROVINCE_REVIEWER}),
        "省级退回",
        "Return (province)",
        guards=("comment_given",),
        comment_required=True,
        bumps_revision=True,
    ),
    TriggerSpec(
        Trigger.PROVINCE_REJECT,
        (State.PROVINCE_REVIEW,),
        State.REJECTED,
        frozenset({Role.PROVINCE_REVIEWER}),
        "省级不予推荐",
        "Reject (province)",
        guards=("comment_given",),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        Trigger.MINISTRY_ACCEPT,
        (State.MINISTRY_REVIEW,),
        State.EXPERT_REVIEW,
        _MINISTRY,
        "形式审查通过",
        "Accept (formal review)",
    ),
    TriggerSpec(
        Trigger.MINISTRY_RETURN,
        (State.MINISTRY_REVIEW,),
        State.PROVINCE_REVIEW,
        _MINISTRY,
        "部级退回",
        "Return (ministry)",
        guards=("comment_given",),
        comment_required=True,
    ),
    TriggerSpec(
        Trigger.MINISTRY_REJECT,
        (State.MINISTRY_REVIEW,),
        State.REJECTED,
        _MINISTRY,
        "形式审查不通过",
        "Reject (formal review)",
        guards=("comment_given",),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        Trigger.SCHEDULE_INSPECTION,
        (State.EXPERT_REVIEW,),
        State.SITE_INSPECTION,
        _MINISTRY,
        "专家评审通过，安排实地考察",
        "Pass expert review, schedule inspection",
        guards=("all_scored", "no_veto_failed", "aggregate_meets_threshold", "inspection_set"),
    ),
    TriggerSpec(
        Trigger.EXPERT_REJECT,
        (State.EXPERT_REVIEW,),
        State.REJECTED,
        _MINISTRY,
        "专家评审不通过",
        "Reject (expert review)",
        guards=("all_scored", "comment_given"),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        Trigger.PASS_INSPECTION,
        (State.SITE_INSPECTION,),
        State.PUBLICITY,
        _MINISTRY,
        "考察通过，进入公示",
        "Pass inspection, open public notice",
        guards=("report_recorded",),
    ),
    TriggerSpec(
        Trigger.FAIL_INSPECTION,
        (State.SITE_INSPECTION,),
        State.REJECTED,
        _MINISTRY,
        "考察不通过",
        "Fail inspection",
        guards=("report_recorded", "comment_given"),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        Trigger.DESIGNATE,
        (State.PUBLICITY,),
        State.DESIGNATED,
        _MINISTRY,
        "命名",
        "Designate",
        guards=("notice_over", "no_open_objection"),
        irreversible=True,
    ),
    TriggerSpec(
        Trigger.UPHOLD_OBJECTION,
        (State.PUBLICITY,),
        State.REJECTED,
        _MINISTRY,
        "异议成立，不予命名",
        "Objection upheld: reject",
        guards=("objection_upheld", "comment_given"),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        Trigger.FAIL_RECHECK,
        (State.DESIGNATED,),
        State.RECTIFICATION,
        _MINISTRY,
        "复查不达标，限期整改",
        "Re-check failed: rectify",
        guards=("recheck_failed",),
        asks_deadline=True,
    ),
    TriggerSpec(
        Trigger.PASS_RECHECK,
        (State.RECTIFICATION,),
        State.DESIGNATED,
        _MINISTRY,
        "整改复查通过",
        "Rectified: re-check passed",
        guards=("recheck_passed",),
    ),
    TriggerSpec(
        Trigger.REVOKE,
        (State.DESIGNATED, State.RECTIFICATION),
        State.REVOKED,
        _MINISTRY,
        "撤销命名（摘牌）",
        "Revoke (摘牌)",
        guards=("comment_given",),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        Trigger.WITHDRAW,
        (State.DRAFT, State.COUNTY_REVIEW, State.PROVINCE_REVIEW, State.MINISTRY_REVIEW),
        State.WITHDRAWN,
        _COUNTY,
        "放弃申报",
        "Give up the application",
        irreversible=True,
        page_asks_reason=True,  # the API keeps it optional: its clients send none
    ),
    # 撤回: the sender takes it back, every field and file kept, while the next level has not acted
    TriggerSpec(
        Trigger.RECALL,
        (State.COUNTY_REVIEW, State.PROVINCE_REVIEW, State.MINISTRY_REVIEW),
        State.DRAFT,
        frozenset({Role.COUNTY_STAFF, Role.COUNTY_LEADER, Role.PROVINCE_REVIEWER}),
        "撤回",
        "Recall",
        routes=(
            (State.COUNTY_REVIEW, State.DRAFT, Role.COUNTY_STAFF),
            (State.PROVINCE_REVIEW, State.COUNTY_REVIEW, Role.COUNTY_LEADER),
            (State.MINISTRY_REVIEW, State.PROVINCE_REVIEW, Role.PROVINCE_REVIEWER),
        ),
    ),
)
TRIGGERS_BY_NAME = {t.name: t for t in TRIGGERS}

# Who holds an application in each state, i.e. who is asked to act next.
HOLDER_ROLE: dict[State, Role] = {
    State.DRAFT: Role.COUNTY_STAFF,
    State.COUNTY_REVIEW: Role.COUNTY_LEADER,
    State.PROVINCE_REVIEW: Role.PROVINCE_REVIEWER,
    State.MINISTRY_REVIEW: Role.MINISTRY_STAFF,
    State.EXPERT_REVIEW: Role.MINISTRY_STAFF,
    State.SITE_INSPECTION: Role.MINISTRY_STAFF,
    State.PUBLICITY: Role.MINISTRY_STAFF,
    State.RECTIFICATION: Role.MINISTRY_STAFF,
}


def _condition(guard: str):
    def check(event) -> bool:
        return not event.kwargs["ctx"].reasons(guard)

    check.__name__ = guard
    return check


# plain strings, not the enum: ``transitions`` names Enum states by their member names (DRAFT)
MACHINE = Machine(
    model=None,
    states=[s.value for s in STATE_NAMES],
    initial=State.DRAFT.value,
    transitions=[
        {
            "trigger": t.name.value,
            "source": source.value,
            "dest": t.dest_from(source).value,
            "conditions": [_condition(g) for g in t.guards],
        }
        for t in TRIGGERS
        for source in t.sources
    ],
    auto_transitions=False,
    send_event=True,
)


def can_fire_from(trigger: str, state: str) -> bool:
    return bool(MACHINE.get_transitions(trigger=trigger, source=state))


def triggers_for(role: str, state: str) -> list[Trigger]:
    """The triggers a role may fire from a state (guards not yet considered)."""
    return [t.name for t in TRIGGERS if state in t.sources and role in t.roles_from(state)]


# audited actions that do not move the application
EVENT_LABELS = {
    "press": ("催办", "Pressed for action"),
    "extend": ("延期", "Due date extended"),
    "reopen": ("重新开放申报", "Reopened after close-out"),
    "panel_seat": ("专家入组", "Expert seated on the panel"),
    "panel_recusal": ("专家回避", "Expert stepped aside"),
    "score": ("专家评分", "Expert scored"),
    "score_change": ("专家修改评分", "Expert changed scores"),
    "rectification_report": ("提交整改报告", "Rectification report submitted"),
    "inspection_cancelled": ("取消考察", "Inspection cancelled"),
    "claim": ("认领", "Claimed"),
    "transfer": ("转办", "Transferred"),
    "delegate": ("委派", "Delegated for an opinion"),
    "delegate_opinion": ("委派意见", "Opinion of the colleague asked"),
}


def trigger_label(name: str, locale: str) -> str:
    spec = TRIGGERS_BY_NAME.get(name)
    zh, en = (spec.label_zh, spec.label_en) if spec else EVENT_LABELS[name]
    return en if locale.startswith("en") else zh
