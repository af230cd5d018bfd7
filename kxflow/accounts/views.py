"""Web: log in (password, then the second factor if any) and out; my password, second factor and sessions;
the administrator's users, their resets, and the security log."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from wtforms import SelectChoice

from kxflow.accounts import login as login_rules
from kxflow.accounts import mfa, operations, sessions
from kxflow.accounts.forms import (
    ChangePasswordForm,
    LoginForm,
    MfaRemoveForm,
    MfaSetupForm,
    OtpForm,
    SettingsForm,
    UserForm,
)
from kxflow.accounts.models import User
from kxflow.accounts.roles import ROLE_LABELS
from kxflow.accounts.security_events import EVENT_LABELS
from kxflow.core.db import db
from kxflow.core.errors import AppError, Invalid, NotFound
from kxflow.core.extensions import limiter, login_manager
from kxflow.core.paging import page_number
from kxflow.core.security_log import record
from kxflow.core.uow import transaction
from kxflow.core.web import nav_item, safe_next
from kxflow.regions import search as regions
from kxflow.regions.models import Province

bp = Blueprint("accounts", __name__, template_folder="templates")
nav_item("accounts.users", _l("Users"), 90, operations.is_admin, landing=True)
nav_item("accounts.security_log", _l("Security log"), 95, operations.is_admin)

PENDING_MFA_SECONDS = 300
# what a user who must first change the password or set up the second factor may still open
_GATE_OPEN = {"accounts.change_password", "accounts.mfa_setup", "accounts.logout", "accounts.login", "static"}


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The session's user while its server-side record holds (not ended, not idle too long, not too old)."""
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    if user is None or not user.active:
        return None
    row, why = sessions.check(session.get("sid"), user.id)
    if row is None:
        if why == "expired":
            record("session_expired", user_id=user.id, username=user.username)
            flash(gettext("Your session has ended (no activity for a while, or logged in too long). Please log in."))
        session.pop("_user_id", None)
        session.pop("sid", None)
        return None
    return user


@bp.before_app_request
def _gate():
    """A reset password is changed, and a required second factor set up, before anything else."""
    if request.endpoint in _GATE_OPEN or not current_user.is_authenticated:
        return None
    if current_user.must_change_password:
        return redirect(url_for("accounts.change_password"))
    if mfa.required_for(current_user) and not current_user.has_mfa:
        return redirect(url_for("accounts.mfa_setup"))
    return None


@bp.app_template_global()
def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def _complete_login(user: User, target: str | None):
    """A new session: the old cookie's contents (and its CSRF token) are dropped, a new id is recorded."""
    session.clear()
    session["sid"] = sessions.start(user)
    login_user(user)
    login_rules.succeeded(user, "web")
    if user.must_change_password:
        return redirect(url_for("accounts.change_password"))
    if mfa.required_for(user) and not user.has_mfa:
        return redirect(url_for("accounts.mfa_setup"))
    return redirect(safe_next(target) or url_for("applications_web.tasks"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            with transaction():
                user = login_rules.check_password(form.username.data, form.password.data)
                if not user.has_mfa:
                    return _complete_login(user, request.args.get("next"))
        except AppError as exc:
            error, status = str(exc.message), exc.status
        else:
            session.clear()
            session["mfa_user"], session["mfa_at"] = user.id, time.time()
            session["mfa_next"] = safe_next(request.args.get("next"))
            return redirect(url_for("accounts.login_otp"))
    elif request.method == "POST" and (form.username.errors or form.password.errors):
        empty = [str(f.label.text) for f in (form.username, form.password) if f.errors]
        error = gettext("Please fill in: %(fields)s.", fields="、".join(empty))
        return render_template("accounts/login.html", form=form, error=error), 422
    return render_template("accounts/login.html", form=form, error=error), status


@bp.route("/login/otp", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login_otp():
    """The second step: the password was right; the code from the authenticator (or a recovery code) now."""
    user_id, started = session.get("mfa_user"), session.get("mfa_at", 0)
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or time.time() - started > PENDING_MFA_SECONDS:
        session.clear()
        flash(gettext("Please log in again."))
        return redirect(url_for("accounts.login"))
    form = OtpForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            with transaction():
                login_rules.check_second_factor(user, form.code.data)
                return _complete_login(user, session.get("mfa_next"))
        except AppError as exc:
            error, status = str(exc.message), exc.status
    return render_template("accounts/login_otp.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    sessions.end(session.get("sid"))
    record("logout", user_id=current_user.id, username=current_user.username)
    logout_user()
    session.clear()
    flash(gettext("You have logged out."))
    response = redirect(url_for("accounts.login"))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'  # nothing of the session stays in this browser
    return response


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    errors: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            with transaction():
                operations.change_own_password(
                    current_user, form.current.data, form.new.data, form.confirm.data, keep_sid=session.get("sid")
                )
        except Invalid as exc:
            errors = exc.extra.get("fields", {})
        else:
            flash(gettext("Your password has been changed. Your other sessions and API tokens have been ended."))
            return redirect(url_for("accounts.settings"))
    return render_template("accounts/password.html", form=form, errors=errors), 422 if errors else 200


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
def mfa_setup():
    """Set up the second factor: scan the QR code, type the first code; the recovery codes are shown once."""
    if current_user.has_mfa:
        return render_template(
            "accounts/mfa.html",
            enrolled=True,
            remaining=mfa.remaining_recovery_codes(current_user),
            remove_form=MfaRemoveForm(),
            required=mfa.required_for(current_user),
        )
    secret = session.get("mfa_setup")
    if not isinstance(secret, str) or request.method == "GET":
        secret = session["mfa_setup"] = mfa.new_secret()
    form = MfaSetupForm()
    error = None
    if form.validate_on_submit():
        step = mfa.code_step(secret, form.code.data)
        if step is None:
            error = gettext("The code does not fit. Check the time on your phone and type the code shown now.")
            record("mfa_failed", user_id=current_user.id, username=current_user.username, detail={"at": "enrolment"})
        else:
            with transaction():
                codes = mfa.enrol(current_user, secret, step)
            session.pop("mfa_setup", None)
            record("mfa_enrolled", user_id=current_user.id, username=current_user.username)
            return render_template("accounts/mfa_codes.html", codes=codes)
    uri = mfa.provisioning_uri(current_user, secret)
    return render_template(
        "accounts/mfa.html",
        enrolled=False,
        form=form,
        error=error,
        qr=mfa.qr_svg(uri),
        secret=secret,
        required=mfa.required_for(current_user),
    ), (422 if error else 200)


@bp.post("/account/2fa/recovery-codes")
@login_required
def mfa_new_codes():
    if not current_user.has_mfa:
        raise NotFound()
    with transaction():
        codes = mfa.new_recovery_codes(current_user)
    return render_template("accounts/mfa_codes.html", codes=codes)


@bp.post("/account/2fa/remove")
@login_required
def mfa_remove():
    form = MfaRemoveForm()
    if mfa.required_for(current_user):
        flash(
            gettext("Your role requires a second factor; an administrator can reset it if the phone is lost."), "error"
        )
    elif not form.validate_on_submit() or not current_user.check_password(form.password.data or ""):
        flash(gettext("The current password is not correct."), "error")
    else:
        with transaction():
            mfa.remove(current_user)
        record("mfa_disabled", user_id=current_user.id, username=current_user.username)
        flash(gettext("The second factor has been removed."))
    return redirect(url_for("accounts.mfa_setup"))


@bp.get("/account/sessions")
@login_required
def my_sessions():
    """我的会话: where I am logged in and which API tokens I hold, each with a button to end it."""
    sid = session.get("sid")
    return render_template(
        "accounts/sessions.html",
        sessions=[(row, sessions.is_current(row, sid)) for row in sessions.live_sessions(current_user.id)],
        tokens=sessions.live_tokens(current_user.id),
    )


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    with transaction():
        ended = sessions.end_one(current_user.id, session_id)
    if not ended:
        raise NotFound()
    record("session_revoked", user_id=current_user.id, username=current_user.username, detail={"session": session_id})
    flash(gettext("The session has been ended."))
    return redirect(url_for("accounts.my_sessions"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    with transaction():
        revoked = sessions.revoke_token_by_id(current_user.id, token_id)
    if not revoked:
        raise NotFound()
    record("token_revoked", user_id=current_user.id, username=current_user.username, detail={"token_id": token_id})
    flash(gettext("The API token has been revoked."))
    return redirect(url_for("accounts.my_sessions"))


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
    if user_id and user is None:
        raise NotFound()
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
                    operations.set_lead(current_user, user.id, bool(data["is_lead"]))
        except Invalid as exc:
            errors = exc.extra.get("fields", {})
        else:
            flash(gettext("Saved."))
            return redirect(url_for("accounts.users"))
    live = len(sessions.live_sessions(user.id)) + len(sessions.live_tokens(user.id)) if user else 0
    return render_template(
        "accounts/user_form.html", form=form, user=user, errors=errors, county_code=county_code, live=live
    )


@bp.post("/admin/users/<int:user_id>/mfa-reset")
@login_required
def reset_user_mfa(user_id: int):
    with transaction():
        user = operations.reset_mfa(current_user, user_id)
    flash(gettext("The second factor of %(name)s has been reset.", name=user.display_name))
    return redirect(url_for("accounts.edit_user", user_id=user_id))


@bp.post("/admin/users/<int:user_id>/end-sessions")
@login_required
def end_user_sessions(user_id: int):
    with transaction():
        count = operations.end_sessions_of(current_user, user_id)
    flash(gettext("Ended %(n)s sessions and API tokens.", n=count))
    return redirect(url_for("accounts.edit_user", user_id=user_id))


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """My settings: language and e-mail for every notification; links to my password, second factor, sessions."""
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
    return render_template("accounts/settings.html", form=form, has_mfa=current_user.has_mfa)


@bp.get("/admin/security-log")
@login_required
def security_log():
    """The security log for administrators: filter by event, user, address and dates."""
    operations.require_admin(current_user)
    filters = operations.SecurityLogFilters.from_args(request.args)
    page = operations.security_events(current_user, filters)
    ids = {e.user_id for e in page.items if e.user_id} | {e.target_user_id for e in page.items if e.target_user_id}
    return render_template(
        "accounts/security_log.html",
        page=page,
        filters=filters,
        events=EVENT_LABELS,
        names=operations.usernames(ids),
    )
