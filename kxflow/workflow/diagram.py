"""The workflow as Mermaid text, from the one trigger table, with the current state and the path taken marked."""

from __future__ import annotations

from kxflow.workflow.states import STATES, State
from kxflow.workflow.triggers import TRIGGERS


def mermaid(current: str, visited: list[str], locale: str) -> str:
    english = locale.startswith("en")
    used = {State.DRAFT, current} | {t.dest for t in TRIGGERS} | {s for t in TRIGGERS for s in t.sources}
    lines = ["stateDiagram-v2"]
    for state in STATES:
        if state.name in used:
            lines.append(f'    state "{state.label_en if english else state.label_zh}" as {state.name.value}')
    lines.append(f"    [*] --> {State.DRAFT.value}")
    for trigger in TRIGGERS:
        name = trigger.label_en if english else trigger.label_zh
        for source in trigger.sources:
            lines.append(f"    {source.value} --> {trigger.dest.value}: {name}")
    lines.append("    classDef visited fill:#f7e3e3,stroke:#9b1b1b,color:#1d1d1f")
    lines.append("    classDef current fill:#9b1b1b,stroke:#5a0c0c,stroke-width:3px,color:#ffffff")
    path = [s for s in dict.fromkeys(visited) if s != current and s in used]
    if path:
        lines.append(f"    class {','.join(path)} visited")
    lines.append(f"    class {current} current")
    return "\n".join(lines)
