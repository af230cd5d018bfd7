"""The indicator-set editor: a definition as form rows (groups, items, computed values, attachment kinds) and
back, with every problem named by its item and field in the user's language. The rules a definition must
keep are still checked whole by ``definition.parse`` when it is published."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext

from kxflow.indicators.definition import SCORE_RULES, TYPES, VETO_RULES

KEY = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
SPARE_ITEMS, SPARE_GROUPS, SPARE_KINDS = 2, 1, 1
MAX_ROWS = 300
LIST_SEP = re.compile(r"[、,，;；]\s*")


def _num_text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def _listed(values: Any) -> str:
    return "、".join(str(v) for v in values or ())


def item_row(raw: dict[str, Any]) -> dict[str, str]:
    """One indicator as the strings its form row shows."""
    score, veto = raw.get("score") or {}, raw.get("veto") or {}
    if veto.get("rule") == "not_in":
        veto_value = _listed(veto.get("values"))
    elif isinstance(veto.get("value"), bool):
        veto_value = "是" if veto["value"] else "否"  # read as Chinese, taken back as true or false
    elif isinstance(veto.get("value"), str):
        veto_value = veto["value"]
    else:
        veto_value = _num_text(veto.get("value"))
    return {
        "key": raw.get("key", ""),
        "group": raw.get("group") or "",
        "label_zh": raw.get("label_zh", ""),
        "label_en": raw.get("label_en", ""),
        "unit": raw.get("unit", ""),
        "type": raw.get("type", "number"),
        "min": _num_text(raw.get("min")),
        "max": _num_text(raw.get("max")),
        "plausible_max": _num_text(raw.get("plausible_max")),
        "required": "y" if raw.get("required") else "",
        "weight": _num_text(raw.get("weight")) if raw.get("weight") else "",
        "score_rule": score.get("rule", ""),
        "score_target": _num_text(score.get("target")),
        "choices": _listed(raw.get("choices")),
        "points": "、".join(f"{k}={_num_text(v)}" for k, v in (score.get("points") or {}).items()),
        "veto_rule": veto.get("rule", ""),
        "veto_value": veto_value,
        "evidence_kind": raw.get("evidence_kind") or "",
        "guidance_zh": raw.get("guidance_zh", ""),
        "guidance_en": raw.get("guidance_en", ""),
        "formula": raw.get("formula") or "",
    }


def rows_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The whole definition as the editor's rows, with a few empty rows to add to."""
    blank_item = item_row({})
    return {
        "version": str(raw.get("version", "")),
        "title_zh": raw.get("title_zh", ""),
        "title_en": raw.get("title_en", ""),
        "total_weight": _num_text(raw.get("total_weight", 100)),
        "groups": [dict(g) for g in raw.get("groups", [])]
        + [{"key": "", "label_zh": "", "label_en": ""}] * SPARE_GROUPS,
        "items": [item_row(i) for i in raw.get("indicators", [])] + [blank_item] * SPARE_ITEMS,
        "computed": [item_row(c) for c in raw.get("computed", [])],
        "kinds": [{**k, "required": "y" if k.get("required") else ""} for k in raw.get("attachment_kinds", [])]
        + [{"kind": "", "label_zh": "", "label_en": "", "required": ""}] * SPARE_KINDS,
    }


def _rows(form: Any, prefix: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for i in range(MAX_ROWS):
        if f"{prefix}-{i}-{fields[0]}" not in form:
            break
        rows.append({f: (form.get(f"{prefix}-{i}-{f}") or "").strip() for f in fields})
    return rows


ITEM_FIELDS = tuple(item_row({}))


def rows_from_form(form: Any) -> dict[str, Any]:
    """What the editor posted, as rows again (to show it back with its problems)."""
    return {
        "version": (form.get("version") or "").strip(),
        "title_zh": (form.get("title_zh") or "").strip(),
        "title_en": (form.get("title_en") or "").strip(),
        "total_weight": (form.get("total_weight") or "").strip(),
        "groups": _rows(form, "group", ("key", "label_zh", "label_en")),
        "items": [
            r | {"delete": form.get(f"item-{i}-delete", "")} for i, r in enumerate(_rows(form, "item", ITEM_FIELDS))
        ],
        "computed": _rows(form, "computed", ITEM_FIELDS),
        "kinds": _rows(form, "kind", ("kind", "label_zh", "label_en", "required")),
    }


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, where: str, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(gettext("%(where)s: %(what)s", where=where, what=message))


def _number(text: str, where: str, name: str, label: str, problems: _Problems) -> float | None:
    if text == "":
        return None
    try:
        value = float(text.replace(",", "").replace("，", ""))
    except ValueError:
        problems.add(where, name, gettext("%(field)s must be a number.", field=label))
        return None
    return int(value) if value.is_integer() else value


def _item(row: dict[str, str], n: int, computed: bool, kinds: set[str], groups: set[str], problems: _Problems):
    label = row["label_zh"] or row["key"] or "—"
    where = gettext("Item %(n)s (%(label)s)", n=n, label=label)
    name = f"{'computed' if computed else 'item'}-{n - 1}"
    out: dict[str, Any] = {
        "key": row["key"],
        "label_zh": row["label_zh"],
        "label_en": row["label_en"] or row["label_zh"],
    }
    if not KEY.match(row["key"]):
        problems.add(where, f"{name}-key", gettext("the key takes small Latin letters, digits and _ (e.g. st_smes)."))
    if not row["label_zh"]:
        problems.add(where, f"{name}-label_zh", gettext("the Chinese name is required."))
    if computed:
        out["formula"] = row["formula"]
    else:
        out["type"] = row["type"] if row["type"] in TYPES else "number"
        if row["group"]:
            if row["group"] not in groups:
                problems.add(where, f"{name}-group", gettext("choose one of the groups above."))
            out["group"] = row["group"]
        out["required"] = bool(row["required"])
        if row["evidence_kind"]:
            if row["evidence_kind"] not in kinds:
                problems.add(where, f"{name}-evidence_kind", gettext("choose one of the attachment kinds below."))
            out["evidence_kind"] = row["evidence_kind"]
        if out["type"] == "choice":
            out["choices"] = [c for c in LIST_SEP.split(row["choices"]) if c]
            if not out["choices"]:
                problems.add(where, f"{name}-choices", gettext("a choice needs its answers, separated by 、."))
        for field, text in (
            ("min", gettext("Minimum")),
            ("max", gettext("Maximum")),
            ("plausible_max", gettext("Usual maximum")),
        ):
            value = _number(row[field], where, f"{name}-{field}", text, problems)
            if value is not None:
                out[field] = value
        if "min" in out and "max" in out and out["min"] > out["max"]:
            problems.add(where, f"{name}-max", gettext("the maximum is below the minimum."))
    out["unit"] = row["unit"]
    for lang in ("zh", "en"):
        if row[f"guidance_{lang}"]:
            out[f"guidance_{lang}"] = row[f"guidance_{lang}"]
    weight = _number(row["weight"], where, f"{name}-weight", gettext("Points"), problems)
    rule = row["score_rule"]
    if rule:
        if rule not in SCORE_RULES:
            problems.add(where, f"{name}-score_rule", gettext("unknown scoring rule."))
        if not weight or weight <= 0:
            problems.add(where, f"{name}-weight", gettext("a scored item needs its points (more than 0)."))
        out["weight"] = weight or 0
        score: dict[str, Any] = {"rule": rule}
        if rule == "linear":
            target = _number(row["score_target"], where, f"{name}-score_target", gettext("Target"), problems)
            if not target or target <= 0:
                problems.add(where, f"{name}-score_target", gettext("full points need a target above 0."))
            score["target"] = target or 0
        elif rule == "choice":
            points: dict[str, float] = {}
            for part in (p for p in LIST_SEP.split(row["points"]) if p):
                answer, _, value = part.partition("=")
                number = _number(value.strip(), where, f"{name}-points", gettext("Points per answer"), problems)
                points[answer.strip()] = number if number is not None else 0
            if set(points) != set(out.get("choices", [])):
                problems.add(
                    where, f"{name}-points", gettext("give points for every answer, as 先进=1、通过=0.8 (a fraction).")
                )
            score["points"] = points
        out["score"] = score
    elif weight:
        problems.add(where, f"{name}-score_rule", gettext("an item with points needs a scoring rule."))
    veto_rule = row["veto_rule"]
    if veto_rule:
        if veto_rule not in VETO_RULES:
            problems.add(where, f"{name}-veto_rule", gettext("unknown veto rule."))
        value_text = row["veto_value"]
        veto: dict[str, Any] = {"rule": veto_rule}
        if veto_rule == "not_in":
            veto["values"] = [v for v in LIST_SEP.split(value_text) if v]
        elif value_text in ("true", "false", "是", "否"):
            veto["value"] = value_text in ("true", "是")
        elif out.get("type") == "choice":
            veto["value"] = value_text
        else:
            veto["value"] = _number(value_text, where, f"{name}-veto_value", gettext("Veto value"), problems)
        if value_text == "":
            problems.add(where, f"{name}-veto_value", gettext("a veto item needs the value it is judged by."))
        out["veto"] = veto
    return out


def raw_from_rows(rows: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A definition from the editor's rows (empty rows and rows marked for deletion left out), and the problems
    found, each naming the item and the field."""
    problems = _Problems()
    head = gettext("The set")
    if not rows["version"]:
        problems.add(head, "version", gettext("the version is required (e.g. 2027.1)."))
    if not rows["title_zh"]:
        problems.add(head, "title_zh", gettext("the Chinese title is required."))
    total = _number(rows["total_weight"], head, "total_weight", gettext("Total points"), problems)
    groups = [g for g in rows["groups"] if g["key"] or g["label_zh"]]
    for n, g in enumerate(groups, 1):
        if not KEY.match(g["key"]) or not g["label_zh"]:
            where = gettext("Group %(n)s (%(label)s)", n=n, label=g["label_zh"] or g["key"] or "—")
            problems.add(where, f"group-{n - 1}-key", gettext("a group needs a key and a Chinese name."))
    kinds = [k for k in rows["kinds"] if k["kind"] or k["label_zh"]]
    for n, k in enumerate(kinds, 1):
        if not KEY.match(k["kind"]) or not k["label_zh"]:
            where = gettext("Attachment kind %(n)s (%(label)s)", n=n, label=k["label_zh"] or k["kind"] or "—")
            problems.add(where, f"kind-{n - 1}-kind", gettext("an attachment kind needs a key and a Chinese name."))
    kind_keys, group_keys = {k["kind"] for k in kinds}, {g["key"] for g in groups}
    placed: list[tuple[str, int, dict[str, Any]]] = []
    for n, row in enumerate(rows["items"], 1):
        if row.get("delete") or not (row["key"] or row["label_zh"]):
            continue
        placed.append(("item", n, _item(row, n, False, kind_keys, group_keys, problems)))
    for n, row in enumerate(rows["computed"], 1):
        placed.append(("computed", n, _item(row, n, True, kind_keys, group_keys, problems)))
    seen: set[str] = set()
    for prefix, n, item in placed:
        if item["key"] in seen:
            problems.add(
                gettext("Item %(n)s (%(label)s)", n=n, label=item["label_zh"]),
                f"{prefix}-{n - 1}-key",
                gettext("the key %(key)s is used twice.", key=item["key"]),
            )
        seen.add(item["key"])
    items = [item for prefix, _, item in placed if prefix == "item"]
    computed = [item for prefix, _, item in placed if prefix == "computed"]
    points = sum(i.get("weight", 0) for i in (*items, *computed) if i.get("score"))
    if total is not None and abs(points - total) > 1e-9:
        problems.add(
            head,
            "total_weight",
            gettext(
                "the items' points add up to %(sum)s, not the total %(total)s.",
                sum=_num_text(points),
                total=_num_text(total),
            ),
        )
    raw = {
        "version": rows["version"],
        "title_zh": rows["title_zh"],
        "title_en": rows["title_en"] or rows["title_zh"],
        "total_weight": total if total is not None else 0,
        "groups": [
            {"key": g["key"], "label_zh": g["label_zh"], "label_en": g["label_en"] or g["label_zh"]} for g in groups
        ],
        "indicators": items,
        "computed": computed,
        "attachment_kinds": [
            {
                "kind": k["kind"],
                "label_zh": k["label_zh"],
                "label_en": k["label_en"] or k["label_zh"],
                "required": bool(k["required"]),
            }
            for k in kinds
        ],
    }
    return raw, problems.fields
