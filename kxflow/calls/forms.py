"""The web form for a call; the rules themselves are checked by the call operations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from kxflow.regions.models import DIVISION_TYPES


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CallForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=200)])
    year = IntegerField(_l("Year"), validators=[InputRequired()])
    opens_at = DateTimeLocalField(_l("Opens (Beijing time)"), validators=[InputRequired()])
    county_deadline = DateTimeLocalField(_l("County deadline"), validators=[InputRequired()])
    province_deadline = DateTimeLocalField(_l("Province deadline"), validators=[InputRequired()])
    province_quota = IntegerField(_l("Recommendations per province"), validators=[InputRequired()])
    min_experts = IntegerField(_l("Minimum experts per application"), default=3, validators=[InputRequired()])
    score_threshold = DecimalField(_l("Score threshold"), default=60, places=1, validators=[InputRequired()])
    division_types = CheckboxesField(
        _l("Division types that may apply"), choices=[SelectChoice(t, t) for t in DIVISION_TYPES]
    )
    indicator_set_version = SelectField(_l("Indicator-set version"))
