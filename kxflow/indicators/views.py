"""Web: ministry staff publish a new indicator-set version, uploading the definition file or editing the latest."""

from __future__ import annotations

import json

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kxflow.core.errors import Forbidden, Invalid
from kxflow.core.web import flash_problems, nav_item, perform
from kxflow.indicators import operations

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
