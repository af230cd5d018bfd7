"""Web: ministry staff publish a new indicator-set version, uploading the definition file or editing the latest."""

from __future__ import annotations

import json

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kxflow.core.errors import Forbidden, Invalid
from kxflow.core.web import flash_problems, nav_item, perform
from kxflow.indicators import editor, operations

bp = Blueprint("indicators_web", __name__, template_folder="templates")
nav_item("indicators_web.index", _l("Indicator sets"), 80, lambda user: True)


@bp.route("/indicator-sets", methods=["GET", "POST"])
@login_required
def index():
    versions = operations.versions(current_user)
    can_publish = operations.can_publish(current_user)
    text = json.dumps(versions[0].definition, ensure_ascii=False, indent=2) if versions and can_publish else "{}"
    if request.method == "POST":
        if not can_publish:
            raise Forbidden()
        upload = request.files.get("file")
        text = upload.read().decode("utf-8", "replace") if upload and upload.filename else request.form.get("text", "")
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            where = gettext("line %(line)s, column %(column)s", line=exc.lineno, column=exc.colno)
            flash_problems(
                Invalid(fields={"definition": [gettext("The definition is not valid JSON (%(where)s).", where=where)]})
            )
            raw = None
        if raw is not None and not isinstance(raw, dict):
            flash_problems(Invalid(fields={"definition": [gettext("The definition is not a JSON object.")]}))
        elif raw is not None:
            published = gettext("Version %(v)s published.", v=raw.get("version"))
            if perform(lambda: operations.publish(current_user, raw), published):
                return redirect(url_for(".index"))
    return render_template(
        "indicators/index.html",
        versions=versions,
        text=text,
        can_publish=can_publish,
        text_open=request.method == "POST",
    )


TYPES = (
    ("number", _l("Number")),
    ("integer", _l("Whole number")),
    ("boolean", _l("Yes or no")),
    ("choice", _l("Choice")),
    ("text", _l("Text")),
)
SCORE_RULES = (
    ("", _l("Not scored")),
    ("linear", _l("In proportion up to the target")),
    ("boolean", _l("Full points for yes")),
    ("choice", _l("Points per answer")),
)
VETO_RULES = (
    ("", _l("Not a veto item")),
    ("equals", _l("Must equal")),
    ("min", _l("Must be at least")),
    ("not_in", _l("Must not be one of")),
)


def _next_version(version: str) -> str:
    """2026.2 → 2026.3: a suggestion the ministry may change."""
    head, _, tail = version.rpartition(".")
    return f"{head}.{int(tail) + 1}" if head and tail.isdigit() else ""


@bp.route("/indicator-sets/edit", methods=["GET", "POST"])
@login_required
def edit():
    """Ministry staff edit a new version as a form: a row per group, item and attachment kind."""
    if not operations.can_publish(current_user):
        raise Forbidden()
    versions = {v.version: v for v in operations.versions(current_user)}
    base_version = request.args.get("from") if request.args.get("from") in versions else next(iter(versions), None)
    base = versions[base_version].definition if base_version else {}
    problems: dict[str, list[str]] = {}
    if request.method == "POST":
        rows = editor.rows_from_form(request.form)
        raw, problems = editor.raw_from_rows(rows)
        if not problems:
            published = gettext("Version %(v)s published.", v=raw["version"])
            if perform(lambda: operations.publish(current_user, raw), published):
                return redirect(url_for(".index"))
            problems = {"version": []}  # refused whole (shown above the form): stay on it
    else:
        rows = editor.rows_of(base)
        rows["version"] = _next_version(str(base.get("version", "")))
    return render_template(
        "indicators/editor.html",
        rows=rows,
        base=base_version,
        problems={k: v for k, v in problems.items() if v},
        open_rows={name.rsplit("-", 1)[0] for name in problems},
        group_options=[(g["key"], g["label_zh"] or g["key"]) for g in rows["groups"] if g["key"]],
        kind_options=[(k["kind"], k["label_zh"] or k["kind"]) for k in rows["kinds"] if k["kind"]],
        types=TYPES,
        score_rules=SCORE_RULES,
        veto_rules=VETO_RULES,
    ), (422 if problems else 200)
