"""The workflow drawn for people: the step bar of one application, and the whole diagram as Mermaid text
(rendered once per workflow version to a static SVG by ``make diagram``, never in the user's browser)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kxflow.workflow.states import STATES, State
from kxflow.workflow.triggers import TRIGGERS

# the way an application goes when all is well; other stages show where it left that way
MAIN_PATH: tuple[State, ...] = (
    State.DRAFT,
    State.COUNTY_REVIEW,
    State.PROVINCE_REVIEW,
    State.MINISTRY_REVIEW,
    State.EXPERT_REVIEW,
    State.SITE_INSPECTION,
    State.PUBLICITY,
    State.DESIGNATED,
)


@dataclass(frozen=True)
class Step:
    state: State
    status: str  # "done", "current", "todo", or "ended" (where it stopped: rejected, withdrawn, revoked)


def steps(current: str, visited: list[str]) -> list[Step]:
    """The step bar: the main path, done up to where the application stands (or stopped), then off-path stages."""
    if current in MAIN_PATH:
        reached = MAIN_PATH.index(current)
        return [
            Step(s, "done" if i < reached else "current" if i == reached else "todo") for i, s in enumerate(MAIN_PATH)
        ]
    furthest = max((MAIN_PATH.index(s) for s in visited if s in MAIN_PATH), default=0)
    bar = [Step(s, "done") for s in MAIN_PATH[: furthest + 1]]
    if State.RECTIFICATION in visited and current != State.RECTIFICATION:
        bar.append(Step(State.RECTIFICATION, "done"))
    status = "current" if current == State.RECTIFICATION else "ended"
    bar.append(Step(State(current), status))
    return bar


def mermaid(locale: str) -> str:
    """The whole workflow as Mermaid state-diagram text, from the one trigger table."""
    english = locale.startswith("en")
    used = (
        {State.DRAFT} | {t.dest_from(s) for t in TRIGGERS for s in t.sources} | {s for t in TRIGGERS for s in t.sources}
    )
    lines = ["stateDiagram-v2"]
    for state in STATES:
        if state.name in used:
            lines.append(f'    state "{state.label_en if english else state.label_zh}" as {state.name.value}')
    lines.append(f"    [*] --> {State.DRAFT.value}")
    for trigger in TRIGGERS:
        name = trigger.label_en if english else trigger.label_zh
        for source in trigger.sources:
            lines.append(f"    {source.value} --> {trigger.dest_from(source).value}: {name}")
    return "\n".join(lines)


def source_digest(locale: str) -> str:
    """Names the drawing: a rendered SVG carries the digest of the text it was drawn from."""
    return hashlib.sha256(mermaid(locale).encode()).hexdigest()[:16]


def svg_name(locale: str) -> str:
    return f"workflow/workflow-{'en' if locale.startswith('en') else 'zh'}.svg"
