"""API: applications, their attachments, transitions and history. Thin: each handler calls one operation."""

from __future__ import annotations

from flask_babel import get_locale
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.applications import attachments, deadlines, handling, operations, queries
from kxflow.core import limits
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.core.uow import transaction
from kxflow.core.uploads import FILE_RESPONSES
from kxflow.core.uploads import download as download_file
from kxflow.workdays.calendar import provisional
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_application
from kxflow.workflow.states import STATE_NAMES, state_label

blp = Blueprint("applications", __name__, url_prefix="/api/v1/applications", description="Applications")
blp.before_request(require_api_user)


class ApplicationOut(Schema):
    id = Int()
    call_id = Int()
    county_code = fields.String()
    county_name = fields.Function(lambda a: a.county.name)
    province_code = fields.String()
    state = fields.String()
    state_label = fields.Function(lambda a: state_label(a.state, str(get_locale())))
    indicators = fields.Dict()
    computed = fields.Dict()
    score = fields.Float()
    veto_failures = fields.List(fields.String())
    revision_round = Int()
    allowed_triggers = fields.Method("_allowed")
    version = Int()
    created_at = ChinaDateTime()
    updated_at = ChinaDateTime()
    state_changed_at = ChinaDateTime()
    publicity_ends_at = ChinaDateTime(allow_none=True)
    designated_at = ChinaDateTime(allow_none=True)
    rectification_due = ChinaDateTime(allow_none=True)
    revoked_at = ChinaDateTime(allow_none=True)
    due_at = ChinaDateTime(allow_none=True, metadata={"description": "when the present stage is due"})
    due_provisional = fields.Function(
        lambda a: provisional(a.due_at), metadata={"description": "computed before the year's holidays were announced"}
    )
    time_limit_at = ChinaDateTime(allow_none=True, metadata={"description": "the level's working-day time limit"})
    overdue_since = ChinaDateTime(allow_none=True, metadata={"description": "逾期未提交: not sent by its due date"})
    handler = fields.Function(
        lambda a: handling.listed_handler(a).label,
        metadata={"description": "当前办理人: the person holding it at its stage, or its unit while unclaimed"},
    )
    contact_name = fields.String(metadata={"description": "联系人"})
    contact_phone = fields.String(metadata={"description": "联系电话"})

    def _allowed(self, app: Application) -> list[str]:
        return operations.allowed_triggers(app, api_user())


class ApplicationPage(Schema):
    items = fields.List(fields.Nested(ApplicationOut))
    page = Int()
    per_page = Int()
    total = Int()


class ListArgs(Schema):
    state = fields.String(validate=validate.OneOf(STATE_NAMES))
    call_id = Int()
    province = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    county = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    q = fields.String(validate=validate.Length(max=40))
    sort = fields.String(load_default="updated", validate=validate.OneOf(queries.SORTS))
    page = Int(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = Int(load_default=20, validate=validate.Range(min=1, max=100))


class CreateIn(Schema):
    call_id = Int(required=True)


class PatchIn(Schema):
    """Indicator values, the contact, or both; a body with neither is refused (indicators are asked for)."""

    indicators = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
    version = Int()
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=50), metadata={"description": "联系人"})
    contact_phone = fields.String(
        allow_none=True, validate=validate.Length(max=40), metadata={"description": "联系电话"}
    )

    @validates_schema
    def _something(self, data, **kwargs):
        if not {"indicators", "contact_name", "contact_phone"} & set(data):
            raise ValidationError({"indicators": ["Missing data for required field."]})


class TransitionIn(Schema):
    trigger = fields.String(required=True, validate=validate.Length(min=1, max=40))
    comment = fields.String(allow_none=True, validate=validate.Length(max=limits.COMMENT))
    version = Int()
    deadline = ChinaDateTime(allow_none=True, metadata={"description": "fail_recheck: the rectification deadline"})
    cc = fields.List(Int(), load_default=list, metadata={"description": "抄送: ids of users who may read it"})


class TransitionOut(Schema):
    state = fields.String()
    state_label = fields.Function(lambda a: state_label(a.state, str(get_locale())))
    allowed_triggers = fields.Method("_allowed")
    version = Int()

    def _allowed(self, app: Application) -> list[str]:
        return operations.allowed_triggers(app, api_user())


class HistoryOut(Schema):
    trigger = fields.String()
    from_state = fields.String()
    to_state = fields.String()
    actor = fields.Function(lambda r: r.actor.username)
    actor_role = fields.String()
    comment = fields.String(allow_none=True)
    revision_round = Int()
    at = ChinaDateTime()


class UploadIn(Schema):
    file = Upload(required=True)


class KindIn(Schema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=40))


class AttachmentOut(Schema):
    id = Int()
    kind = fields.String()
    original_name = fields.String()
    content_type = fields.String()
    size_bytes = Int()
    sha256 = fields.String()
    uploaded_at = ChinaDateTime()


@blp.route("", methods=["GET"])
@blp.arguments(ListArgs, location="query")
@blp.response(200, ApplicationPage)
def list_applications(args):
    result = queries.search(
        api_user(),
        state=args.get("state"),
        call_id=args.get("call_id"),
        province=args.get("province"),
        county=args.get("county"),
        q=args.get("q"),
        sort=args["sort"],
        page=args["page"],
        per_page=args["per_page"],
    )
    handling.read_for_listing(result.items)  # the page's 当前办理人 in one query, not one per row
    operations.read_recall_for_listing(result.items, api_user())  # whether each may be recalled: one query
    return {"items": result.items, "page": result.page, "per_page": result.per_page, "total": result.total}


@blp.route("", methods=["POST"])
@blp.arguments(CreateIn)
@blp.response(201, ApplicationOut)
def create_application(body):
    with transaction():
        app = operations.create_application(api_user(), body["call_id"])
    return app


@blp.route("/<int:application_id>", methods=["GET"])
@blp.response(200, ApplicationOut)
def get_one(application_id: int):
    return get_application(api_user(), application_id)


@blp.route("/<int:application_id>", methods=["PATCH"])
@blp.arguments(PatchIn)
@blp.response(200, ApplicationOut)
def patch(body, application_id: int):
    with transaction():
        contact = {k: body[k] for k in ("contact_name", "contact_phone") if k in body}
        app = operations.update_indicators(
            api_user(), application_id, body.get("indicators") or {}, body.get("version"), contact=contact
        )
    return app


@blp.route("/<int:application_id>/transitions", methods=["POST"])
@blp.arguments(TransitionIn)
@blp.response(200, TransitionOut)
def transition(body, application_id: int):
    with transaction():
        app = handling.fire(
            api_user(),
            application_id,
            body["trigger"],
            body.get("comment"),
            body.get("version"),
            deadline=body.get("deadline"),
            cc=body["cc"],
        )
    return app


class ExtendIn(Schema):
    due_at = ChinaDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(max=500))


class ReopenIn(Schema):
    call_id = Int(required=True)
    county = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    province = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    due_at = ChinaDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(max=500))


class DueOut(Schema):
    id = Int()
    state = fields.String()
    due_at = ChinaDateTime(allow_none=True)
    overdue_since = ChinaDateTime(allow_none=True)


class FollowUpOut(Schema):
    call_id = Int()
    county_code = fields.String()
    county_name = fields.String()
    unsent = Int()
    flagged = Int()
    earliest_due = ChinaDateTime(allow_none=True)


@blp.route("/<int:application_id>/extensions", methods=["POST"])
@blp.arguments(ExtendIn)
@blp.response(201, DueOut)
def extend(body, application_id: int):
    """延期: a new due date for the present stage, granted by the level above with a reason (audited)."""
    with transaction():
        app = deadlines.extend(api_user(), application_id, body["due_at"], body["reason"])
    return app


@blp.route("/reopen", methods=["POST"])
@blp.arguments(ReopenIn)
@blp.response(200, DueOut(many=True))
def reopen(body):
    """Ministry staff reopen the drafts flagged 逾期未提交 of one county or province in a call, with a new date."""
    with transaction():
        apps = deadlines.reopen(
            api_user(),
            body["call_id"],
            new_due=body["due_at"],
            reason=body["reason"],
            county=body.get("county"),
            province=body.get("province"),
        )
    return apps


@blp.route("/follow-up", methods=["GET"])
@blp.response(200, FollowUpOut(many=True))
def follow_up():
    """Unsent applications below my level, counted per county (no content): province reviewers and ministry."""
    return queries.follow_up(api_user())


class PressIn(Schema):
    comment = fields.String(allow_none=True, validate=validate.Length(max=limits.PRESS_COMMENT))
    cc = fields.List(Int(), load_default=list, metadata={"description": "抄送: ids of users who may read it"})


class PressOut(Schema):
    pressed_at = ChinaDateTime(attribute="created_at")
    state = fields.String()


@blp.route("/<int:application_id>/press", methods=["POST"])
@blp.arguments(PressIn)
@blp.response(201, PressOut)
def press(body, application_id: int):
    """催办: remind the current holder now (a level above only; once a day per application)."""
    with transaction():
        reminder = handling.press(api_user(), application_id, body.get("comment"), body["cc"])
    return reminder


@blp.route("/<int:application_id>/history", methods=["GET"])
@blp.response(200, HistoryOut(many=True))
def history(application_id: int):
    return operations.history(api_user(), application_id)


@blp.route("/<int:application_id>/attachments", methods=["GET"])
@blp.response(200, AttachmentOut(many=True))
def list_attachments(application_id: int):
    return attachments.list_attachments(api_user(), application_id)


@blp.route("/<int:application_id>/attachments", methods=["POST"])
@blp.arguments(KindIn, location="form")
@blp.arguments(UploadIn, location="files")
@blp.response(201, AttachmentOut)
def upload(form, files, application_id: int):
    upload_file = files["file"]
    with transaction():
        row = attachments.add_attachment(
            api_user(), application_id, form["kind"], upload_file.filename or "", upload_file.stream
        )
    return row


@blp.route("/<int:application_id>/attachments/<int:attachment_id>", methods=["GET"])
@blp.doc(responses=FILE_RESPONSES)
def download(application_id: int, attachment_id: int):
    row, path = attachments.attachment_for_download(api_user(), application_id, attachment_id)
    return download_file(path, row.content_type, row.original_name)
