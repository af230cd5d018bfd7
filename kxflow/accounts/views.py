"""Web: log in and out; the administrator's user list and forms."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from wtforms import SelectChoice

from kxflow.accounts import operations
from kxflow.accounts.forms import LoginForm, SettingsForm, UserForm
from kxflow.accounts.models import User
from kxflow.accounts.roles import ROLE_LABELS
from kxflow.core.db import db
from kxflow.core.errors import Invalid
from kxflow.core.extensions import limiter, login_manager
from kxflow.core.paging import page_number
from kxflow.core.uow import transaction
from kxflow.core.web import nav_item
from kxflow.regions import search as regions
from kxflow.regions.models import Province

bp = Blueprint("accounts", __name__, template_folder="templates")
nav_item("accounts.users", _l("Users"), 90, operations.is_admin, landing=True)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


@bp.app_template_global()
def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = operations.authenticate(form.username.data, form.password.data)
        if user is None:
            error = gettext("Wrong username or password, or the account is disabled.")
        else:
            login_user(user)
            target = request.args.get("next")
            if target and target.startswith("/") and not target.startswith("//"):
                return redirect(target)
            return redirect(url_for("applications_web.tasks"))
    elif request.method == "POST" and (form.username.errors or form.password.errors):
        empty = [str(f.label.text) for f in (form.username, form.password) if f.errors]
        error = gettext("Please fill in: %(fields)s.", fields="、".join(empty))
        return render_template("accounts/login.html", form=form, error=error), 422
    return render_template("accounts/login.html", form=form, error=error), 200 if error is None else 401


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(gettext("You have logged out."))
    return redirect(url_for("accounts.login"))


def _province_choices() -> list[tuple[str, str]]:
    provinces = db.session.scalars(select(Province).order_by(Province.code))
    return [SelectChoice("", "—")] + [SelectChoice(p.code, p.name) for p in provinces]


@bp.get("/admin/users")
@login_required
def users():
    operations.require_admin(current_user)
    filters = {k: request.args.get(k, "").strip() for k in ("q", "role", "province", "status")}
    result = operations.search_users(
        q=filters["q"] or None,
        role=filters["role"] or None,
        province=filters["province"] or None,
        active={"active": True, "inactive": False}.get(filters["status"]),
        page=page_number(),
    )
    provinces = db.session.scalars(select(Province).order_by(Province.code)).all()
    return render_template(
        "accounts/users.html", result=result, filters=filters, provinces=provinces, roles=ROLE_LABELS
    )


@bp.route("/admin/users/new", methods=["GET", "POST"])
@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def edit_user(user_id: int | None = None):
    operations.require_admin(current_user)
    user = db.session.get(User, user_id) if user_id else None
    form = UserForm(obj=user)
    form.province_code.choices = _province_choices()
    if user is not None:
        form.password.label.text = gettext("New password")
    errors: dict[str, list[str]] = {}
    county_code = user.county_code if user else None
    if request.method == "POST":
        county_code, problem = regions.picked(request.form, "county_code", regions.COUNTY)
        if problem:
            errors["county"] = [problem]
    if form.validate_on_submit() and not errors:
        data = {**form.data, "county_code": county_code}
        try:
            with transaction():
                if user is None:
                    if not data["password"]:
                        raise Invalid(fields={"password": [gettext("This field is required.")]})
                    operations.admin_create_user(
                        current_user,
                        username=data["username"].strip(),
                        password=data["password"],
                        role=data["role"],
                        county_code=(data["county_code"] or "").strip() or None,
                        province_code=data["province_code"] or None,
                        email=data["email"] or None,
                        display_name=data["display_name"] or "",
                    )
                else:
                    operations.update_user(
                        current_user,
                        user.id,
                        role=data["role"],
                        county_code=(data["county_code"] or "").strip() or None,
                        province_code=data["province_code"] or None,
                        active=bool(data["active"]),
                        display_name=data["display_name"] or "",
                        email=data["email"] or None,
                        password=data["password"] or None,
                    )
        except Invalid as exc:
            errors = exc.extra.get("fields", {})
        else:
            flash(gettext("Saved."))
            return redirect(url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form, user=user, errors=errors, county_code=county_code)


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """My settings: language and e-mail for every notification."""
    if request.method == "POST":
        form = SettingsForm()
        if form.validate_on_submit():
            with transaction():
                operations.update_preferences(
                    current_user, locale=form.locale.data or None, email_all=bool(form.email_all.data)
                )
            flash(gettext("Saved."))
            return redirect(url_for("accounts.settings"))
    else:
        form = SettingsForm(locale=current_user.locale or "", email_all=current_user.email_all)
    return render_template("accounts/settings.html", form=form)
