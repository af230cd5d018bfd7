"""Web forms for logging in and managing users (CSRF through Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from kxflow.accounts.roles import ROLE_LABELS


def role_choices() -> list[tuple[str, str]]:
    return [SelectChoice(role.value, str(label)) for role, label in ROLE_LABELS.items()]


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Name"), validators=[Optional(), Length(max=80)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    role = SelectField(_l("Role"), choices=role_choices)
    province_code = SelectField(_l("Province (for province reviewers and experts)"), validate_choice=False)
    password = PasswordField(_l("Initial password"), validators=[Optional(), Length(max=256)])
    active = BooleanField(_l("Active"), default=True)
    is_lead = BooleanField(_l("Lead of the unit (may reassign any of its tasks)"), default=False)


class SettingsForm(FlaskForm):
    locale = SelectField(
        _l("Language of pages and e-mail"),
        choices=[
            SelectChoice("", _l("Follow the browser")),
            SelectChoice("zh", "中文"),
            SelectChoice("en", "English", render_kw={"lang": "en"}),
        ],
    )
    email_all = BooleanField(_l("E-mail me every notification, not only requests for action"))


class OtpForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app (or a recovery code)"), validators=[DataRequired(), Length(max=40)]
    )


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=256)])


class MfaSetupForm(FlaskForm):
    code = StringField(_l("The 6-digit code your app shows now"), validators=[DataRequired(), Length(max=12)])


class MfaRemoveForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])
