"""An indicator set as typed objects, checked when it is loaded (keys unique, weights add up, rules known)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

SETS_DIR = Path(__file__).parent / "sets"
# 填报说明 and plausible maxima by indicator key, for versions published without their own (version 1):
# help text, not a rule, so an older version gains it without changing what it scores
GUIDANCE_FILE = Path(__file__).parent / "guidance.json"
TYPES = ("number", "integer", "boolean", "choice", "text")
SCORE_RULES = ("linear", "boolean", "choice")
VETO_RULES = ("equals", "min", "not_in")
FORMULAS = ("st_share_y1", "st_share_y3", "st_share_change_pp", "st_spending_growth_3y")


class DefinitionError(ValueError):
    """The definition file itself is wrong (a ministry upload or a packaging mistake)."""


@dataclass(frozen=True)
class Item:
    key: str
    label_zh: str
    label_en: str
    unit: str = ""
    type: str = "number"
    group: str | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    weight: float = 0.0
    score: dict[str, Any] | None = None
    veto: dict[str, Any] | None = None
    evidence_kind: str | None = None
    formula: str | None = None  # only for computed items
    # 填报说明: how to fill the item in, shown beside it on the form
    guidance_zh: str = ""
    guidance_en: str = ""
    # above this a value is allowed but unusual for a county: the form warns (a typo such as 1000 for 10)
    plausible_max: float | None = None

    def guidance(self, locale: str) -> str:
        return self.guidance_en if locale.startswith("en") else self.guidance_zh

    def label(self, locale: str, call_year: int | None = None) -> str:
        """The label; with the call's year, "申报前第三年" reads as the year itself (2023年)."""
        text = self.label_en if locale.startswith("en") else self.label_zh
        if call_year is None:
            return text
        for words, back in YEARS_BEFORE:
            if words in text:
                year = call_year - back
                return text.replace(words, f"{year}" if locale.startswith("en") else f"{year}年")
        return text


# how the packaged sets name the years before the call, and how many years back each is
YEARS_BEFORE = (
    ("申报前第三年", 3),
    ("申报前第二年", 2),
    ("申报前一年", 1),
    ("third year before the call", 3),
    ("second year before the call", 2),
    ("year before the call", 1),
    ("third year before", 3),
    ("year before", 1),
)


@dataclass(frozen=True)
class AttachmentKind:
    kind: str
    label_zh: str
    label_en: str
    required: bool = False

    def label(self, locale: str) -> str:
        return self.label_en if locale.startswith("en") else self.label_zh


@dataclass(frozen=True)
class IndicatorSetDefinition:
    version: str
    title_zh: str
    title_en: str
    total_weight: float
    groups: tuple[dict[str, str], ...]
    inputs: tuple[Item, ...]
    computed: tuple[Item, ...]
    attachment_kinds: tuple[AttachmentKind, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @cached_property
    def inputs_by_key(self) -> dict[str, Item]:
        return {i.key: i for i in self.inputs}

    @cached_property
    def kinds(self) -> dict[str, AttachmentKind]:
        return {k.kind: k for k in self.attachment_kinds}

    @property
    def required_attachments(self) -> list[str]:
        return [k.kind for k in self.attachment_kinds if k.required]

    @property
    def scored(self) -> list[Item]:
        return [i for i in (*self.inputs, *self.computed) if i.score]


def _item(raw: dict[str, Any], computed: bool) -> Item:
    allowed = set(Item.__dataclass_fields__)
    unknown = set(raw) - allowed
    if unknown:
        raise DefinitionError(f"{raw.get('key')}: unknown attributes {sorted(unknown)}")
    data = dict(raw)
    if "choices" in data:
        data["choices"] = tuple(data["choices"])
    try:
        item = Item(**data)
    except TypeError as exc:
        raise DefinitionError(str(exc)) from exc
    if computed and item.formula not in FORMULAS:
        raise DefinitionError(f"{item.key}: unknown formula {item.formula!r}")
    if not computed and item.type not in TYPES:
        raise DefinitionError(f"{item.key}: unknown type {item.type!r}")
    if item.type == "choice" and not item.choices:
        raise DefinitionError(f"{item.key}: a choice needs choices")
    if item.score:
        rule = item.score.get("rule")
        if rule not in SCORE_RULES:
            raise DefinitionError(f"{item.key}: unknown scoring rule {rule!r}")
        if rule == "linear" and not float(item.score.get("target", 0)) > 0:
            raise DefinitionError(f"{item.key}: a linear rule needs a positive target")
        if rule == "choice" and set(item.score.get("points", {})) != set(item.choices):
            raise DefinitionError(f"{item.key}: choice points must cover every choice")
        if item.weight <= 0:
            raise DefinitionError(f"{item.key}: a scored item needs a positive weight")
    if item.plausible_max is not None and item.max is not None and item.plausible_max > item.max:
        raise DefinitionError(f"{item.key}: plausible_max above max")
    if item.veto and item.veto.get("rule") not in VETO_RULES:
        raise DefinitionError(f"{item.key}: unknown veto rule {item.veto.get('rule')!r}")
    return item


@cache
def _guidance() -> dict[str, dict[str, Any]]:
    return json.loads(GUIDANCE_FILE.read_text(encoding="utf-8"))


def _with_guidance(item: Item) -> Item:
    """An item without its own 填报说明 or plausible maximum takes the packaged one for its key."""
    known = _guidance().get(item.key)
    if not known or item.guidance_zh:
        return item
    plausible = item.plausible_max if item.plausible_max is not None else known.get("plausible_max")
    if plausible is not None and item.max is not None and plausible > item.max:
        plausible = None
    return replace(
        item,
        guidance_zh=known.get("guidance_zh", ""),
        guidance_en=known.get("guidance_en", ""),
        plausible_max=plausible,
    )


def parse(raw: dict[str, Any]) -> IndicatorSetDefinition:
    try:
        inputs = tuple(_with_guidance(_item(i, computed=False)) for i in raw["indicators"])
        computed = tuple(_item(i, computed=True) for i in raw.get("computed", []))
        kinds = tuple(AttachmentKind(**k) for k in raw["attachment_kinds"])
        definition = IndicatorSetDefinition(
            version=str(raw["version"]),
            title_zh=raw["title_zh"],
            title_en=raw["title_en"],
            total_weight=float(raw["total_weight"]),
            groups=tuple(raw.get("groups", [])),
            inputs=inputs,
            computed=computed,
            attachment_kinds=kinds,
            raw=raw,
        )
    except (KeyError, TypeError) as exc:
        raise DefinitionError(f"malformed indicator set: {exc}") from exc
    keys = [i.key for i in (*inputs, *computed)]
    if len(keys) != len(set(keys)):
        raise DefinitionError("indicator keys must be unique")
    if len({k.kind for k in kinds}) != len(kinds):
        raise DefinitionError("attachment kinds must be unique")
    for item in inputs:
        if item.evidence_kind and item.evidence_kind not in definition.kinds:
            raise DefinitionError(f"{item.key}: unknown evidence kind {item.evidence_kind!r}")
    weights = sum(i.weight for i in definition.scored)
    if abs(weights - definition.total_weight) > 1e-9:
        raise DefinitionError(f"weights add up to {weights}, not {definition.total_weight}")
    return definition


def packaged_sets() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SETS_DIR.glob("*.json"))]
