"""Web: what the division picker asks while someone types or browses (name, pinyin initials, or level by level)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import login_required

from kxflow.regions import search as regions

bp = Blueprint("regions_web", __name__)


@bp.get("/regions/search")
@login_required
def search():
    level = request.args.get("level") if request.args.get("level") in (regions.PROVINCE, regions.COUNTY) else None
    found = regions.search(request.args.get("q", ""), level, limit=20)
    response = jsonify([d.as_dict() for d in found])
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/regions/children")
@login_required
def children():
    response = jsonify(regions.children(request.args.get("of") or None))
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.app_template_global()
def division_label(code: str | None) -> str:
    """浙江省 湖州市 安吉县 for 330523: what a picker shows for a code already chosen."""
    return regions.label_of(code)
