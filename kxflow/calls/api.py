"""API: calls for applications and the indicator set a client needs to fill the form."""

from __future__ import annotations

from flask_babel import get_locale
from marshmallow import Schema, fields, validate

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.calls import operations
from kxflow.core.blueprints import Blueprint
from kxflow.core.errors import Forbidden
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.core.uow import transaction
from kxflow.indicators.models import definition_for
from kxflow.regions.models import DIVISION_TYPES

blp = Blueprint("calls", __name__, url_prefix="/api/v1/calls", description="Calls for applications (申报批次)")
blp.before_request(require_api_user)


class CallIn(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    year = Int(required=True, validate=validate.Range(min=2000, max=2100))
    opens_at = ChinaDateTime(required=True)
    county_deadline = ChinaDateTime(required=True)
    province_deadline = ChinaDateTime(required=True)
    province_quota = Int(required=True, validate=validate.Range(min=0))
    quota_overrides = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^\d{6}$")), values=Int(validate=validate.Range(min=0))
    )
    min_experts = Int(validate=validate.Range(min=1, max=50))
    score_threshold = fields.Float(validate=validate.Range(min=0, max=100))
    division_types = fields.List(
        fields.String(validate=validate.OneOf(DIVISION_TYPES)), validate=validate.Length(min=1)
    )
    indicator_set_version = fields.String(validate=validate.Length(min=1, max=20))
    requires_assessment_pass = fields.Boolean()
    publicity_days = Int(validate=validate.Range(min=1, max=60))
    rectification_days = Int(validate=validate.Range(min=1, max=3 * 365))
    score_gap = fields.Float(validate=validate.Range(min=0.1, max=100))
    expert_review_days = Int(validate=validate.Range(min=1, max=90))
    return_grace_days = Int(validate=validate.Range(min=1, max=60))
    revoked_wait_years = Int(validate=validate.Range(min=0, max=10))


class CallPatch(CallIn):
    """Any subset of a call's fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class CallOut(Schema):
    id = Int()
    title = fields.String()
    year = Int()
    opens_at = ChinaDateTime()
    county_deadline = ChinaDateTime()
    province_deadline = ChinaDateTime()
    province_quota = Int()
    quota_overrides = fields.Method("_overrides")
    min_experts = Int()
    score_threshold = fields.Float()
    division_types = fields.List(fields.String())
    indicator_set_version = fields.String()
    requires_assessment_pass = fields.Boolean()
    publicity_days = Int()
    rectification_days = Int()
    score_gap = fields.Float()
    expert_review_days = Int()
    return_grace_days = Int()
    revoked_wait_years = Int()
    closed_at = ChinaDateTime(allow_none=True)

    def _overrides(self, call) -> dict[str, int]:
        return {o.province_code: o.quota for o in call.quota_overrides}


class IndicatorOut(Schema):
    key = fields.String()
    group = fields.String(allow_none=True)
    label_zh = fields.String()
    label_en = fields.String()
    unit = fields.String()
    type = fields.String()
    min = fields.Float(allow_none=True)
    max = fields.Float(allow_none=True)
    choices = fields.List(fields.String())
    required = fields.Boolean()
    weight = fields.Float()
    veto = fields.Method("_veto")
    evidence_kind = fields.String(allow_none=True)

    def _veto(self, item) -> bool:
        return bool(item.veto)


class IndicatorSetOut(Schema):
    version = fields.String()
    title = fields.String()
    groups = fields.List(fields.Dict())
    indicators = fields.List(fields.Nested(IndicatorOut))
    computed = fields.List(fields.Nested(IndicatorOut))
    attachment_kinds = fields.List(fields.Dict())
    required_attachments = fields.List(fields.String())


@blp.route("", methods=["GET"])
@blp.response(200, CallOut(many=True))
def list_calls():
    api_user()
    return operations.list_calls()


@blp.route("", methods=["POST"])
@blp.arguments(CallIn)
@blp.response(201, CallOut)
def create_call(body):
    with transaction():
        call = operations.create_call(api_user(), body)
    return call


@blp.route("/<int:call_id>", methods=["GET"])
@blp.response(200, CallOut)
def get_call(call_id: int):
    api_user()
    return operations.get_call(call_id)


@blp.route("/<int:call_id>", methods=["PATCH"])
@blp.arguments(CallPatch)
@blp.response(200, CallOut)
def update_call(body, call_id: int):
    with transaction():
        call = operations.update_call(api_user(), call_id, body)
    return call


class CallChangeOut(Schema):
    action = fields.String()
    actor = fields.Function(lambda c: c.actor_id)
    changes = fields.Dict()
    at = ChinaDateTime()


@blp.route("/<int:call_id>/changes", methods=["GET"])
@blp.response(200, CallChangeOut(many=True))
def changes(call_id: int):
    """The call's append-only record: who opened, changed (quotas too) or closed it, and every old and new value."""
    user = api_user()
    if not operations.can_manage_calls(user):
        raise Forbidden()
    operations.get_call(call_id)
    return operations.changes_of(call_id)


@blp.route("/<int:call_id>/close", methods=["POST"])
@blp.response(200, CallOut)
def close(call_id: int):
    """Close a call whose every application is decided (ministry staff): its figures freeze."""
    with transaction():
        call = operations.close_call(api_user(), call_id)
    return call


class QuotaUseOut(Schema):
    province_code = fields.String()
    quota = Int(metadata={"description": "the province's actual quota: the call's figure or its override"})
    used = Int(metadata={"description": "places taken (recommended, and decided after that)"})
    left = Int()


@blp.route("/<int:call_id>/quotas", methods=["GET"])
@blp.response(200, QuotaUseOut(many=True))
def quotas(call_id: int):
    """Each province's quota and use in the call (the ministry: every province; a province reviewer: their own)."""
    return operations.quotas_visible_to(api_user(), operations.get_call(call_id))


@blp.route("/<int:call_id>/indicator-set", methods=["GET"])
@blp.response(200, IndicatorSetOut)
def indicator_set(call_id: int):
    api_user()
    definition = definition_for(operations.get_call(call_id).indicator_set_version)
    locale = str(get_locale())
    return {
        "version": definition.version,
        "title": definition.title_en if locale.startswith("en") else definition.title_zh,
        "groups": list(definition.groups),
        "indicators": list(definition.inputs),
        "computed": list(definition.computed),
        "attachment_kinds": [
            {"kind": k.kind, "label": k.label(locale), "required": k.required} for k in definition.attachment_kinds
        ],
        "required_attachments": definition.required_attachments,
    }
