"""API: bulk transitions (one trigger on a list, one result per item), versions and their comparison,
saved review phrases. Thin: each handler calls one operation."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.applications import bulk, phrases, versions
from kxflow.core import limits
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.core.uow import transaction
from kxflow.workflow.scope import get_application

blp = Blueprint(
    "review",
    __name__,
    url_prefix="/api/v1",
    description="Bulk actions, versions side by side, saved review phrases (常用意见)",
)
blp.before_request(require_api_user)


class BulkIn(Schema):
    trigger = fields.String(
        required=True,
        validate=validate.OneOf([t.value for t in bulk.BULK_TRIGGERS]),
        metadata={"description": "one of the bulk actions of the caller's role"},
    )
    application_ids = fields.List(
        Int(),
        required=True,
        validate=validate.Length(min=1, max=bulk.MAX_ITEMS),
        metadata={"description": "taken in this order (a quota goes to the first ones)"},
    )
    comment = fields.String(allow_none=True, validate=validate.Length(max=limits.COMMENT))


class BulkItemOut(Schema):
    application_id = Int()
    county_name = fields.String(allow_none=True, metadata={"description": "null: no such application in scope"})
    ok = fields.Boolean(metadata={"description": "true: done; false: refused, nothing changed for this one"})
    state = fields.String(allow_none=True)
    reasons = fields.List(fields.String(), metadata={"description": "why it was refused, each reason"})
    next_step = fields.String(allow_none=True, metadata={"description": "who receives it next (when done)"})


class BulkOut(Schema):
    trigger = fields.String()
    done = Int()
    refused = Int()
    results = fields.List(fields.Nested(BulkItemOut))


@blp.route("/applications/bulk-transitions", methods=["POST"])
@blp.arguments(BulkIn)
@blp.response(200, BulkOut)
def bulk_transitions(body):
    """One trigger with one comment on each application listed: each in its own savepoint with its own
    guards, so one refusal never undoes the others; one result per application, in the order given."""
    results = bulk.fire_many(api_user(), body["trigger"], body["application_ids"], body.get("comment"))
    done = sum(r.ok for r in results)
    return {"trigger": body["trigger"], "done": done, "refused": len(results) - done, "results": results}


class VersionOut(Schema):
    audit_id = Int()
    trigger = fields.String(metadata={"description": "submit, or the return/recall that kept it"})
    revision_round = Int()
    at = ChinaDateTime()
    actor_name = fields.String()
    indicators = fields.Dict()
    computed = fields.Dict()
    score = fields.Float()
    veto_failures = fields.List(fields.String())
    attachment_ids = fields.List(Int())


class CompareArgs(Schema):
    from_ = Int(data_key="from", metadata={"description": "audit id of the earlier version"})
    to = Int(metadata={"description": "audit id of the later version"})


class FieldChangeOut(Schema):
    key = fields.String()
    label = fields.String()
    computed = fields.Boolean()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    changed = fields.Boolean()


class VersionFileOut(Schema):
    id = Int()
    original_name = fields.String()
    sha256 = fields.String()


class FileChangeOut(Schema):
    kind = fields.String()
    label = fields.String()
    status = fields.String(metadata={"description": "unchanged, replaced, added or removed"})
    before = fields.List(fields.Nested(VersionFileOut))
    after = fields.List(fields.Nested(VersionFileOut))


class CompareOut(Schema):
    before = fields.Nested(VersionOut)
    after = fields.Nested(VersionOut)
    score_changed = fields.Boolean()
    fields_ = fields.List(fields.Nested(FieldChangeOut), data_key="fields", attribute="fields")
    files = fields.List(fields.Nested(FileChangeOut))


@blp.route("/applications/<int:application_id>/versions", methods=["GET"])
@blp.response(200, VersionOut(many=True))
def list_versions(application_id: int):
    """Every version submitted or returned, oldest first, as it was then."""
    return versions.versions(api_user(), application_id)


@blp.route("/applications/<int:application_id>/versions/compare", methods=["GET"])
@blp.arguments(CompareArgs, location="query")
@blp.response(200, CompareOut)
def compare_versions(args, application_id: int):
    """What changed between two versions, field by field and file by file (default: the last two submitted)."""
    get_application(api_user(), application_id)
    return versions.compare(api_user(), application_id, args.get("from_"), args.get("to"))


class PhraseIn(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=phrases.PHRASE_MAX))


class PhraseOut(Schema):
    id = Int()
    text = fields.String()


@blp.route("/phrases", methods=["GET"])
@blp.response(200, PhraseOut(many=True))
def list_phrases():
    """My saved review phrases (常用意见)."""
    return phrases.mine(api_user())


@blp.route("/phrases", methods=["POST"])
@blp.arguments(PhraseIn)
@blp.response(201, PhraseOut)
def save_phrase(body):
    with transaction():
        phrase = phrases.save(api_user(), body["text"])
    return phrase


@blp.route("/phrases/<int:phrase_id>", methods=["DELETE"])
@blp.response(204)
def delete_phrase(phrase_id: int):
    with transaction():
        phrases.delete(api_user(), phrase_id)
