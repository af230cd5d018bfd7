"""The stages of an application, their labels, and the groupings the rules ask about (defined once, here)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    DRAFT = "draft"
    COUNTY_REVIEW = "county_review"
    PROVINCE_REVIEW = "province_review"
    MINISTRY_REVIEW = "ministry_review"
    EXPERT_REVIEW = "expert_review"
    SITE_INSPECTION = "site_inspection"
    PUBLICITY = "publicity"
    DESIGNATED = "designated"
    RECTIFICATION = "rectification"
    REVOKED = "revoked"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class StateSpec:
    name: State
    label_zh: str
    label_en: str
    final: bool = False


STATES: tuple[StateSpec, ...] = (
    StateSpec(State.DRAFT, "草稿", "Draft"),
    StateSpec(State.COUNTY_REVIEW, "县级审核", "County review"),
    StateSpec(State.PROVINCE_REVIEW, "省级审核", "Province review"),
    StateSpec(State.MINISTRY_REVIEW, "部级形式审查", "Ministry formal review"),
    StateSpec(State.EXPERT_REVIEW, "专家评审", "Expert review"),
    StateSpec(State.SITE_INSPECTION, "实地考察", "Site inspection"),
    StateSpec(State.PUBLICITY, "公示", "Public notice"),
    StateSpec(State.DESIGNATED, "已命名", "Designated"),
    StateSpec(State.RECTIFICATION, "整改", "Rectification"),
    StateSpec(State.REVOKED, "已撤销（摘牌）", "Revoked", final=True),
    StateSpec(State.REJECTED, "未通过", "Rejected", final=True),
    StateSpec(State.WITHDRAWN, "已放弃", "Given up", final=True),
)
STATE_NAMES: tuple[State, ...] = tuple(s.name for s in STATES)
STATES_BY_NAME: dict[str, StateSpec] = {s.name: s for s in STATES}

# --- groupings --------------------------------------------------------------------------------

# still with the county: the call's county deadline applies
AT_COUNTY: tuple[State, ...] = (State.DRAFT, State.COUNTY_REVIEW)
# not yet sent to the ministry: the call's deadlines and their reminders apply
BEFORE_MINISTRY: tuple[State, ...] = (*AT_COUNTY, State.PROVINCE_REVIEW)
# states that hold one of a province's recommendation places in a call
HOLDS_QUOTA: tuple[State, ...] = (
    State.MINISTRY_REVIEW,
    State.EXPERT_REVIEW,
    State.SITE_INSPECTION,
    State.PUBLICITY,
    State.DESIGNATED,
    State.RECTIFICATION,
    State.REVOKED,
)
# the panel is formed (and added to: 加签) in expert review, once the formal review has passed
PANEL_STATES: tuple[State, ...] = (State.EXPERT_REVIEW,)
# a county that was designated: on the public roll, re-checked, possibly revoked
AFTER_DESIGNATION: tuple[State, ...] = (State.DESIGNATED, State.RECTIFICATION, State.REVOKED)
# stages in which written objections may have been lodged (from the public notice on)
OBJECTION_STATES: tuple[State, ...] = (State.PUBLICITY, *AFTER_DESIGNATION, State.REJECTED)
# a county holding the title may not apply again while it does
HOLDS_TITLE: tuple[State, ...] = (State.DESIGNATED, State.RECTIFICATION)
# stages only an application that was sent to the province (or to the ministry) can be at; one that
# was sent and has come back (returned, recalled, withdrawn later) is known by its audit trail instead
FROM_PROVINCE: tuple[State, ...] = tuple(s for s in State if s not in (*AT_COUNTY, State.WITHDRAWN))
FROM_MINISTRY: tuple[State, ...] = tuple(s for s in FROM_PROVINCE if s not in (State.PROVINCE_REVIEW, State.REJECTED))
# an application that is not withdrawn blocks another of the same county in the same call
NOT_LIVE: State = State.WITHDRAWN


def state_label(name: str, locale: str) -> str:
    spec = STATES_BY_NAME[name]
    return spec.label_en if locale.startswith("en") else spec.label_zh
