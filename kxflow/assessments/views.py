"""Web: import a round of assessment results and see each round's pass rate against the plan's target."""

from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from openpyxl import Workbook

from kxflow.assessments import operations
from kxflow.core.errors import Forbidden, Invalid
from kxflow.core.uow import transaction
from kxflow.core.web import nav_item

bp = Blueprint("assessments_web", __name__, template_folder="templates")
nav_item("assessments_web.index", _l("Assessment"), 60, operations.can_read_rounds)


@bp.route("/assessments", methods=["GET", "POST"])
@login_required
def index():
    if not operations.can_read_rounds(current_user):
        raise Forbidden()
    rejected, problem = [], None
    if request.method == "POST":
        if not operations.can_import(current_user):
            raise Forbidden()
        upload = request.files.get("file")
        try:
            with transaction():
                record = operations.import_round(
                    current_user, upload.filename if upload else "", upload.read() if upload else b""
                )
        except Invalid as exc:
            rejected = exc.extra.get("rows") or []
            problem = (
                exc.message if rejected else "；".join(m for ms in (exc.extra.get("fields") or {}).values() for m in ms)
            )
        else:
            flash(gettext("Imported %(n)s results of the %(year)s round.", n=record.row_count, year=record.round_year))
            return redirect(url_for("assessments_web.index"))
    return render_template(
        "assessments/index.html",
        rounds=operations.rounds(current_user),
        can_import=operations.can_import(current_user),
        rejected=rejected,
        problem=problem,
        column_names={key: names[1] for key, names in operations.HEADERS.items()},
    ), (422 if problem else 200)


@bp.get("/assessments/template.xlsx")
@login_required
def template():
    """导入模板: the columns the import reads, with one example row, as an Excel file."""
    if not operations.can_import(current_user):
        raise Forbidden()
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = gettext("Assessment results")
    sheet.append([names[1] for names in operations.HEADERS.values()])
    sheet.append(["330523", 2024, "通过", 85])
    for column in "ABCD":
        sheet.column_dimensions[column].width = 16
    buffer = io.BytesIO()
    workbook.save(buffer)
    return send_file(
        io.BytesIO(buffer.getvalue()),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=gettext("assessment-import-template.xlsx"),
    )
