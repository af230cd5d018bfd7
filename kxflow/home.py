"""The landing page: what this server is and where its API lives (the full web UI builds on it)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("home.html")
