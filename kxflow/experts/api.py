"""API: the expert pool, panels (assign, propose, 加签), an expert's assignments, scoring and 回避."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.core import limits
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.core.uow import transaction
from kxflow.experts import operations

blp = Blueprint("experts", __name__, url_prefix="/api/v1", description="Expert pool, panels and scores")
blp.before_request(require_api_user)


class ConflictSchema(Schema):
    county_code = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{6}$"))
    province_code = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{6}$"))
    reason = fields.String(load_default="", validate=validate.Length(max=200))


class PoolOut(Schema):
    id = fields.Function(lambda e: e.expert.id)
    username = fields.Function(lambda e: e.expert.username)
    display_name = fields.Function(lambda e: e.expert.display_name)
    province_code = fields.Function(lambda e: e.expert.province_code)
    field = fields.String()
    load = Int()
    conflicts = fields.List(fields.Nested(ConflictSchema))


class ProfileIn(Schema):
    field = fields.String(required=True, validate=validate.Length(max=limits.EXPERT_FIELD))
    conflicts = fields.List(fields.Nested(ConflictSchema), load_default=list, validate=validate.Length(max=100))


class ProfileOut(Schema):
    user_id = Int()
    field = fields.String()


class AssignmentOut(Schema):
    id = Int()
    application_id = Int()
    expert_id = Int()
    expert_name = fields.Function(lambda a: a.expert.display_name or a.expert.username)
    weight = fields.Float()
    assigned_at = ChinaDateTime()
    added_late = fields.Boolean()
    recused_at = ChinaDateTime(allow_none=True)
    recusal_reason = fields.String(allow_none=True)
    scores = fields.Dict(keys=fields.String(), values=fields.Float(), allow_none=True)
    total = fields.Float(allow_none=True)
    veto_failed = fields.List(fields.String())
    comment = fields.String(allow_none=True)
    scored_at = ChinaDateTime(allow_none=True)


class AggregateOut(Schema):
    experts = Int()
    scored = Int()
    weighted_mean = fields.Float(allow_none=True)
    spread = fields.Float(allow_none=True)
    conflicting = fields.Boolean()
    veto_failures = fields.List(fields.String())
    complete = fields.Boolean()


class PanelOut(Schema):
    application_id = Int()
    assignments = fields.List(fields.Nested(AssignmentOut))
    aggregate = fields.Nested(AggregateOut, allow_none=True)


class AssignIn(Schema):
    expert_ids = fields.List(Int(), validate=validate.Length(max=30))
    auto = fields.Boolean(load_default=False)
    weight = fields.Float(load_default=1.0, validate=validate.Range(min=0.1, max=10))


class ProposalArgs(Schema):
    size = Int(validate=validate.Range(min=1, max=30))


class ExpertOut(Schema):
    id = Int()
    username = fields.String()
    display_name = fields.String()
    province_code = fields.String()


class MineOut(Schema):
    assignment = fields.Nested(AssignmentOut)
    county_name = fields.String()
    state = fields.String()


class ScoreIn(Schema):
    scores = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    comment = fields.String(required=True, validate=validate.Length(max=limits.SCORE_COMMENT))
    veto_failed = fields.List(fields.String(), load_default=list)


class RecuseIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(max=limits.RECUSAL_REASON))


@blp.route("/experts", methods=["GET"])
@blp.response(200, PoolOut(many=True))
def pool():
    """The expert pool with each expert's field, declared conflicts and current load (ministry staff)."""
    return operations.pool(api_user(), per_page=100_000).items


@blp.route("/experts/<int:expert_id>/profile", methods=["PUT"])
@blp.arguments(ProfileIn)
@blp.response(200, ProfileOut)
def set_profile(body, expert_id: int):
    """An expert's field and declared conflicts (counties or provinces they must not review)."""
    with transaction():
        row = operations.set_profile(api_user(), expert_id, field_name=body["field"], conflicts=body["conflicts"])
    return row


@blp.route("/applications/<int:application_id>/panel", methods=["GET"])
@blp.response(200, PanelOut)
def panel(application_id: int):
    """Ministry staff: the whole panel and its aggregate. An expert: their own assignment only."""
    app, rows, summary = operations.panel(api_user(), application_id)
    return {"application_id": app.id, "assignments": rows, "aggregate": summary}


@blp.route("/applications/<int:application_id>/panel/proposal", methods=["GET"])
@blp.arguments(ProposalArgs, location="query")
@blp.response(200, ExpertOut(many=True))
def proposal(args, application_id: int):
    """A balanced panel: eligible experts with the lightest load first (nothing is written)."""
    return operations.propose(api_user(), application_id, args.get("size"))


@blp.route("/applications/<int:application_id>/panel", methods=["POST"])
@blp.arguments(AssignIn)
@blp.response(201, AssignmentOut(many=True))
def assign(body, application_id: int):
    """Assign named experts, or ``auto`` for the proposed panel; during the review this is 加签."""
    with transaction():
        rows = operations.assign(
            api_user(), application_id, body.get("expert_ids"), auto=body["auto"], weight=body["weight"]
        )
    return rows


@blp.route("/assignments", methods=["GET"])
@blp.response(200, MineOut(many=True))
def mine():
    """An expert's assignments."""
    return [
        {"assignment": a, "county_name": app.county.name, "state": app.state} for a, app in operations.mine(api_user())
    ]


@blp.route("/assignments/<int:assignment_id>/score", methods=["PUT"])
@blp.arguments(ScoreIn)
@blp.response(200, AssignmentOut)
def score(body, assignment_id: int):
    """Score every scoring item (0 to its maximum) with a comment; changeable until the review closes."""
    with transaction():
        row = operations.score(api_user(), assignment_id, body["scores"], body["comment"], body["veto_failed"])
    return row


@blp.route("/assignments/<int:assignment_id>/recuse", methods=["POST"])
@blp.arguments(RecuseIn)
@blp.response(200, AssignmentOut)
def recuse(body, assignment_id: int):
    """回避: step aside for a conflict of interest; ministry staff are asked for a replacement."""
    with transaction():
        row = operations.recuse(api_user(), assignment_id, body["reason"])
    return row
