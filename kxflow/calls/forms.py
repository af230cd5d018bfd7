"""The web form for a call; the rules themselves are checked by the call operations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from kxflow.core.formats import fmt_input
from kxflow.regions.models import DIVISION_TYPES


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PlainDecimalField(DecimalField):
    """A decimal shown as people write it: 60, not 60.0."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return fmt_input(float(self.data)) if self.data is not None else ""


class CallForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=200)])
    year = IntegerField(_l("Year"), validators=[InputRequired()])
    opens_at = DateTimeLocalField(_l("Opens (Beijing time)"), validators=[InputRequired()])
    county_deadline = DateTimeLocalField(_l("County deadline"), validators=[InputRequired()])
    province_deadline = DateTimeLocalField(_l("Province deadline"), validators=[InputRequired()])
    province_quota = IntegerField(_l("Recommendations per province"), validators=[InputRequired()])
    min_experts = IntegerField(_l("Minimum experts per application"), default=3, validators=[InputRequired()])
    score_threshold = PlainDecimalField(_l("Score threshold"), default=60, places=None, validators=[InputRequired()])
    expert_review_days = IntegerField(_l("Expert review period (days)"), default=14, validators=[Optional()])
    score_gap = PlainDecimalField(
        _l("Spread of expert totals that flags a panel as conflicting (points)"),
        default=20,
        places=None,
        validators=[Optional()],
    )
    publicity_days = IntegerField(_l("Public notice period (days)"), default=7, validators=[Optional()])
    rectification_days = IntegerField(_l("Rectification period (days)"), default=365, validators=[Optional()])
    return_grace_days = IntegerField(
        _l("Grace period after a return past the level's deadline (working days)"), default=5, validators=[Optional()]
    )
    revoked_wait_years = IntegerField(
        _l("Years a county whose title was revoked waits before applying again"), default=3, validators=[Optional()]
    )
    requires_assessment_pass = BooleanField(_l("Only counties that passed the latest national assessment may apply"))
    division_types = CheckboxesField(
        _l("Division types that may apply"), choices=[SelectChoice(t, t) for t in DIVISION_TYPES]
    )
    indicator_set_version = SelectField(_l("Indicator-set version"))
