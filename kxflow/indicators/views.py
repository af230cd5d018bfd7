"""Web: ministry staff publish a new indicator-set version, uploading the definition file or editing the latest."""

from __future__ import annotations

import json

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from kxflow.accounts.roles import Role
from kxflow.core.db import db
from kxflow.core.errors import Invalid
from kxflow.core.web import flash_problems, perform
from kxflow.indicators.models import IndicatorSet, publish

bp = Blueprint("indicators_web", __name__, template_folder="templates")


@bp.route("/indicator-sets", methods=["GET", "POST"])
@login_required
def index():
    if current_user.role != Role.MINISTRY_STAFF:
        abort(403)
    versions = db.session.scalars(select(IndicatorSet).order_by(IndicatorSet.published_at.desc())).all()
    text = json.dumps(versions[0].definition, ensure_ascii=False, indent=2) if versions else "{}"
    if request.method == "POST":
        upload = request.files.get("file")
        text = upload.read().decode("utf-8", "replace") if upload and upload.filename else request.form.get("text", "")
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise ValueError
        except ValueError:
            flash_problems(Invalid(fields={"definition": [gettext("The definition is not a JSON object.")]}))
        else:
            if perform(lambda: publish(current_user, raw), gettext("Version %(v)s published.", v=raw.get("version"))):
                return redirect(url_for(".index"))
    return render_template("indicators/index.html", versions=versions, text=text)
