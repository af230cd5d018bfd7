"""The one workflow of the programme: states, triggers, who may fire them, and their guards.

Built once at import as a ``transitions`` machine with no models attached; a trigger is fired
on a loaded row through ``MACHINE.events[name].trigger(row, ctx=...)`` (the state is the row's
``state`` column). Guards are the machine's ``conditions``; each reads its verdict from the
``GuardContext``, which evaluates every guard once so a refusal can list all its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from transitions import Machine

from kxflow.accounts.roles import Role


@dataclass(frozen=True)
class StateSpec:
    name: str
    label_zh: str
    label_en: str
    final: bool = False


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[Role]
    label_zh: str
    label_en: str
    guards: tuple[str, ...] = ()
    comment_required: bool = False
    irreversible: bool = False
    bumps_revision: bool = False


STATES: tuple[StateSpec, ...] = (
    StateSpec("draft", "草稿", "Draft"),
    StateSpec("county_review", "县级审核", "County review"),
    StateSpec("province_review", "省级审核", "Province review"),
    StateSpec("ministry_review", "部级形式审查", "Ministry formal review"),
    StateSpec("expert_review", "专家评审", "Expert review"),
    StateSpec("site_inspection", "实地考察", "Site inspection"),
    StateSpec("publicity", "公示", "Public notice"),
    StateSpec("designated", "已命名", "Designated"),
    StateSpec("rectification", "整改", "Rectification"),
    StateSpec("revoked", "已撤销（摘牌）", "Revoked", final=True),
    StateSpec("rejected", "未通过", "Rejected", final=True),
    StateSpec("withdrawn", "已撤回", "Withdrawn", final=True),
)
STATE_NAMES = tuple(s.name for s in STATES)
STATES_BY_NAME = {s.name: s for s in STATES}

_COUNTY = frozenset({Role.COUNTY_STAFF, Role.COUNTY_LEADER})
_MINISTRY = frozenset({Role.MINISTRY_STAFF})

TRIGGERS: tuple[TriggerSpec, ...] = (
    TriggerSpec(
        "submit",
        ("draft",),
        "county_review",
        frozenset({Role.COUNTY_STAFF}),
        "提交",
        "Submit",
        guards=("call_open", "assessment_passed", "indicators_complete", "attachments_present"),
    ),
    TriggerSpec(
        "county_approve",
        ("county_review",),
        "province_review",
        frozenset({Role.COUNTY_LEADER}),
        "县级审核通过",
        "Approve (county)",
    ),
    TriggerSpec(
        "county_return",
        ("county_review",),
        "draft",
        frozenset({Role.COUNTY_LEADER}),
        "县级退回",
        "Return (county)",
        guards=("comment_given",),
        comment_required=True,
    ),
    TriggerSpec(
        "province_recommend",
        ("province_review",),
        "ministry_review",
        frozenset({Role.PROVINCE_REVIEWER}),
        "省级推荐",
        "Recommend (province)",
        guards=("before_province_deadline", "province_quota"),
    ),
    TriggerSpec(
        "province_return",
        ("province_review",),
        "draft",
        frozenset({Role.PROVINCE_REVIEWER}),
        "省级退回",
        "Return (province)",
        guards=("comment_given",),
        comment_required=True,
        bumps_revision=True,
    ),
    TriggerSpec(
        "province_reject",
        ("province_review",),
        "rejected",
        frozenset({Role.PROVINCE_REVIEWER}),
        "省级不予推荐",
        "Reject (province)",
        guards=("comment_given",),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        "ministry_accept",
        ("ministry_review",),
        "expert_review",
        _MINISTRY,
        "形式审查通过",
        "Accept (formal review)",
        guards=("panel_ready",),
    ),
    TriggerSpec(
        "ministry_return",
        ("ministry_review",),
        "province_review",
        _MINISTRY,
        "部级退回",
        "Return (ministry)",
        guards=("comment_given",),
        comment_required=True,
    ),
    TriggerSpec(
        "ministry_reject",
        ("ministry_review",),
        "rejected",
        _MINISTRY,
        "形式审查不通过",
        "Reject (formal review)",
        guards=("comment_given",),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        "schedule_inspection",
        ("expert_review",),
        "site_inspection",
        _MINISTRY,
        "专家评审通过，安排实地考察",
        "Pass expert review, schedule inspection",
        guards=("all_scored", "no_veto_failed", "aggregate_meets_threshold", "inspection_set"),
    ),
    TriggerSpec(
        "expert_reject",
        ("expert_review",),
        "rejected",
        _MINISTRY,
        "专家评审不通过",
        "Reject (expert review)",
        guards=("all_scored", "comment_given"),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        "pass_inspection",
        ("site_inspection",),
        "publicity",
        _MINISTRY,
        "考察通过，进入公示",
        "Pass inspection, open public notice",
        guards=("report_recorded",),
    ),
    TriggerSpec(
        "fail_inspection",
        ("site_inspection",),
        "rejected",
        _MINISTRY,
        "考察不通过",
        "Fail inspection",
        guards=("report_recorded", "comment_given"),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        "designate",
        ("publicity",),
        "designated",
        _MINISTRY,
        "命名",
        "Designate",
        guards=("notice_over", "no_open_objection"),
        irreversible=True,
    ),
    TriggerSpec(
        "uphold_objection",
        ("publicity",),
        "rejected",
        _MINISTRY,
        "异议成立，不予命名",
        "Objection upheld: reject",
        guards=("objection_upheld", "comment_given"),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        "fail_recheck",
        ("designated",),
        "rectification",
        _MINISTRY,
        "复查不达标，限期整改",
        "Re-check failed: rectify",
        guards=("recheck_failed",),
    ),
    TriggerSpec(
        "pass_recheck",
        ("rectification",),
        "designated",
        _MINISTRY,
        "整改复查通过",
        "Rectified: re-check passed",
        guards=("recheck_passed",),
    ),
    TriggerSpec(
        "revoke",
        ("designated", "rectification"),
        "revoked",
        _MINISTRY,
        "撤销命名（摘牌）",
        "Revoke (摘牌)",
        guards=("comment_given",),
        comment_required=True,
        irreversible=True,
    ),
    TriggerSpec(
        "withdraw",
        ("draft", "county_review", "province_review", "ministry_review"),
        "withdrawn",
        _COUNTY,
        "撤回",
        "Withdraw",
        irreversible=True,
    ),
)
TRIGGERS_BY_NAME = {t.name: t for t in TRIGGERS}

# Who holds an application in each state, i.e. who is asked to act next.
HOLDER_ROLE: dict[str, Role] = {
    "draft": Role.COUNTY_STAFF,
    "county_review": Role.COUNTY_LEADER,
    "province_review": Role.PROVINCE_REVIEWER,
    "ministry_review": Role.MINISTRY_STAFF,
    "expert_review": Role.MINISTRY_STAFF,
    "site_inspection": Role.MINISTRY_STAFF,
    "publicity": Role.MINISTRY_STAFF,
    "rectification": Role.MINISTRY_STAFF,
}


def _condition(guard: str):
    def check(event) -> bool:
        return not event.kwargs["ctx"].reasons(guard)

    check.__name__ = guard
    return check


MACHINE = Machine(
    model=None,
    states=list(STATE_NAMES),
    initial="draft",
    transitions=[
        {"trigger": t.name, "source": list(t.sources), "dest": t.dest, "conditions": [_condition(g) for g in t.guards]}
        for t in TRIGGERS
    ],
    auto_transitions=False,
    send_event=True,
)


def can_fire_from(trigger: str, state: str) -> bool:
    return bool(MACHINE.get_transitions(trigger=trigger, source=state))


def triggers_for(role: str, state: str) -> list[str]:
    """The triggers a role may fire from a state (guards not yet considered)."""
    return [t.name for t in TRIGGERS if role in t.roles and state in t.sources]


def state_label(name: str, locale: str) -> str:
    spec = STATES_BY_NAME[name]
    return spec.label_en if locale.startswith("en") else spec.label_zh


# audited actions that do not move the application
EVENT_LABELS = {"press": ("催办", "Pressed for action")}


def trigger_label(name: str, locale: str) -> str:
    spec = TRIGGERS_BY_NAME.get(name)
    zh, en = (spec.label_zh, spec.label_en) if spec else EVENT_LABELS[name]
    return en if locale.startswith("en") else zh
