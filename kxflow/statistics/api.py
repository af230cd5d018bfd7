"""API: the dashboard's figures in JSON, scoped like the dashboard (the nation, a province's counties, a county)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from kxflow.accounts.auth import api_user, require_api_user
from kxflow.core.blueprints import Blueprint
from kxflow.core.fields import ChinaDateTime, Int
from kxflow.statistics import operations
from kxflow.statistics.operations import EVENTS, FUNNEL, STATE_GROUPS, Filters
from kxflow.workflow.states import STATE_NAMES

blp = Blueprint(
    "statistics",
    __name__,
    url_prefix="/api/v1/statistics",
    description="Figures against the plan, a call's pipeline, overdue applications, inspections, provinces",
)
blp.before_request(require_api_user)

Rate = fields.Float(allow_none=True, metadata={"description": "a fraction, 0.7 = 70%"})


class CallArgs(Schema):
    call_id = Int(metadata={"description": "the call; the latest when left out"})


class OverdueArgs(Schema):
    call_id = Int(metadata={"description": "only this call; every call when left out"})


class ProvinceRate(Schema):
    province_code = fields.String()
    province_name = fields.String()
    counties = Int()
    passed = Int()
    pass_rate = fields.Float(allow_none=True)
    meets_target = fields.Boolean()


class PassRates(Schema):
    round_year = Int(allow_none=True, metadata={"description": "the latest assessment round"})
    target = fields.Float()
    counties = Int()
    passed = Int()
    pass_rate = fields.Float(allow_none=True)
    meets_target = fields.Boolean()
    provinces = fields.List(fields.Nested(ProvinceRate))


class ProvinceShare(Schema):
    province_code = fields.String()
    province_name = fields.String()
    applications = Int()
    share_first = fields.Float(allow_none=True, metadata={"description": "percent, first of the three years"})
    share_last = fields.Float(allow_none=True, metadata={"description": "percent, last of the three years"})
    change_pp = fields.Float(allow_none=True, metadata={"description": "percentage points"})
    meeting = Int(metadata={"description": "applications whose change reaches the target"})
    meets_target = fields.Boolean()


class FiscalShare(Schema):
    call_id = Int(allow_none=True)
    target_pp = fields.Float()
    applications = Int()
    share_first = fields.Float(allow_none=True)
    share_last = fields.Float(allow_none=True)
    change_pp = fields.Float(allow_none=True)
    meeting = Int()
    meets_target = fields.Boolean()
    provinces = fields.List(fields.Nested(ProvinceShare))


class PlanOut(Schema):
    pass_rates = fields.Nested(PassRates)
    fiscal_share = fields.Nested(FiscalShare)


class DesignationYear(Schema):
    year = Int()
    designated = Int()
    rectification = Int()
    revoked = Int()


class DesignationNow(Schema):
    designated = Int()
    rectification = Int()
    revoked = Int()


class DesignationsOut(Schema):
    years = fields.List(fields.Nested(DesignationYear))
    now = fields.Nested(DesignationNow)


class StateCount(Schema):
    state = fields.String()
    count = Int()
    listed = Int(metadata={"description": "of which the asker may open (the rest are drafts never sent to them)"})


class ProvinceStates(Schema):
    province_code = fields.String()
    province_name = fields.String()
    states = fields.Dict(keys=fields.String(), values=Int())
    total = Int()


class FunnelStage(Schema):
    stage = fields.String()
    count = Int()
    listed = Int()


class QuotaRow(Schema):
    province_code = fields.String()
    province_name = fields.String()
    quota = Int()
    used = Int()
    left = Int()


class StageDays(Schema):
    stage = fields.String()
    average_days = fields.Float(allow_none=True)
    stays = Int()


class PipelineOut(Schema):
    call_id = Int(allow_none=True)
    call_title = fields.String(allow_none=True)
    states = fields.List(fields.Nested(StateCount))
    by_province = fields.List(fields.Nested(ProvinceStates))
    funnel = fields.List(fields.Nested(FunnelStage))
    quota = fields.List(fields.Nested(QuotaRow))
    days = fields.List(fields.Nested(StageDays))


class OverdueItem(Schema):
    application_id = Int()
    state = fields.String()
    county_name = fields.String()
    province_name = fields.String()
    call_title = fields.String()
    overdue_since = ChinaDateTime(allow_none=True)
    days_overdue = Int(allow_none=True)


class ProvinceCount(Schema):
    province_code = fields.String()
    province_name = fields.String()
    count = Int()


class StateOnly(Schema):
    state = fields.String()
    count = Int()


class OverdueOut(Schema):
    total = Int()
    by_state = fields.List(fields.Nested(StateOnly))
    by_province = fields.List(fields.Nested(ProvinceCount))
    items = fields.List(fields.Nested(OverdueItem))


class Week(Schema):
    week = fields.Date(metadata={"description": "its Monday"})
    site = Int()
    recheck = Int()
    reports_overdue = Int()


class InspectionItem(Schema):
    inspection_id = Int()
    kind = fields.String()
    scheduled_on = fields.Date()
    application_id = Int()
    county_name = fields.String()
    province_name = fields.String()
    team = fields.List(fields.String())
    report_overdue = fields.Boolean()


class CalendarOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    weeks = fields.List(fields.Nested(Week))
    items = fields.List(fields.Nested(InspectionItem))
    reports_overdue = fields.List(fields.Nested(InspectionItem))


class ProvinceRow(Schema):
    province_code = fields.String()
    province_name = fields.String()
    applications = Int()
    recommended = Int()
    designated = Int()
    quota = Int(allow_none=True)
    quota_left = Int(allow_none=True)
    pass_rate = fields.Float(allow_none=True)
    share_last = fields.Float(allow_none=True)
    change_pp = fields.Float(allow_none=True)
    overdue = Int()


class BehindArgs(Schema):
    call_id = Int()
    province = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    state = fields.String(validate=validate.OneOf([*STATE_NAMES, *STATE_GROUPS]))
    stage = fields.String(validate=validate.OneOf([s.value for s in FUNNEL]))
    event = fields.String(validate=validate.OneOf(list(EVENTS)))
    year = Int(validate=validate.Range(min=2000, max=2100))
    overdue = fields.Boolean(load_default=False)
    page = Int(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = Int(load_default=50, validate=validate.Range(min=1, max=100))


class BehindItem(Schema):
    id = Int()
    call_id = Int()
    county_code = fields.String()
    county_name = fields.Function(lambda a: a.county.name)
    province_code = fields.String()
    state = fields.String()
    score = fields.Float()


class BehindPage(Schema):
    items = fields.List(fields.Nested(BehindItem))
    page = Int()
    per_page = Int()
    total = Int()


def _call(args: dict):
    return operations.pick_call(api_user(), args.get("call_id"))


@blp.route("/plan", methods=["GET"])
@blp.arguments(CallArgs, location="query")
@blp.response(200, PlanOut)
def plan(args):
    """Against the plan: the latest assessment pass rate (≥ 70%) and the fiscal S&T share's change (+0.2 pp)."""
    user = api_user()
    call = _call(args)
    return {"pass_rates": operations.pass_rates(user), "fiscal_share": operations.fiscal_share(user, call)}


@blp.route("/designations", methods=["GET"])
@blp.response(200, DesignationsOut)
def designations():
    """Demonstration counties over the years: designated, sent to rectification, revoked."""
    return operations.designations(api_user())


@blp.route("/pipeline", methods=["GET"])
@blp.arguments(CallArgs, location="query")
@blp.response(200, PipelineOut)
def pipeline(args):
    """A call's applications per stage and province, the funnel, quota used and left, average days per stage."""
    return operations.pipeline(api_user(), _call(args))


@blp.route("/overdue", methods=["GET"])
@blp.arguments(OverdueArgs, location="query")
@blp.response(200, OverdueOut)
def overdue(args):
    """Applications past their due date or time limit: by stage and province, and the oldest first."""
    return operations.overdue(api_user(), _call(args) if args.get("call_id") else None)


@blp.route("/inspections", methods=["GET"])
@blp.response(200, CalendarOut)
def inspections():
    """Site inspections and re-checks by week, with county and team; reports overdue."""
    return operations.inspection_calendar(api_user())


@blp.route("/provinces", methods=["GET"])
@blp.arguments(CallArgs, location="query")
@blp.response(200, ProvinceRow(many=True))
def provinces(args):
    """The provinces side by side (a province sees its own row, a county its own figures)."""
    user = api_user()
    return operations.provinces(user, _call(args))


@blp.route("/applications", methods=["GET"])
@blp.arguments(BehindArgs, location="query")
@blp.response(200, BehindPage)
def applications(args):
    """The applications behind a figure, as far as the asker may open them."""
    page, per_page = args.pop("page"), args.pop("per_page")
    result = operations.behind(api_user(), Filters(**args), page=page, per_page=per_page)
    return {"items": result.items, "page": result.page, "per_page": result.per_page, "total": result.total}


class CallRef(Schema):
    id = Int()
    title = fields.String()
    year = Int()


class DashboardOut(Schema):
    computed_at = ChinaDateTime(metadata={"description": "the figures are kept up to a minute per scope and call"})
    call = fields.Nested(CallRef, allow_none=True)
    pass_rates = fields.Nested(PassRates)
    fiscal_share = fields.Nested(FiscalShare)
    designations = fields.Nested(DesignationsOut)
    pipeline = fields.Nested(PipelineOut)
    overdue = fields.Nested(OverdueOut)
    inspections = fields.Nested(CalendarOut)
    provinces = fields.List(fields.Nested(ProvinceRow))


@blp.route("/dashboard", methods=["GET"])
@blp.arguments(CallArgs, location="query")
@blp.response(200, DashboardOut)
def dashboard(args):
    """Every figure of the dashboard in one answer, each computed once (a bounded number of queries)."""
    return operations.dashboard(api_user(), args.get("call_id"))
