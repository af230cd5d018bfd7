"""Demo data for ``make run``: an open call and one user per role in two provinces."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.operations import create_user
from kxflow.applications import handling
from kxflow.applications.attachments import add_attachment
from kxflow.applications.deadlines import extend
from kxflow.applications.operations import create_application, fire_trigger, update_indicators
from kxflow.assessments.operations import import_round
from kxflow.calls.models import Call
from kxflow.calls.operations import create_call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.experts.operations import assign, score
from kxflow.indicators.models import definition_for, load_packaged_sets
from kxflow.inspections.operations import record_report, schedule
from kxflow.publicity.operations import lodge
from kxflow.reminders.models import Reminder
from kxflow.reminders.models import pending as pending_reminder
from kxflow.reminders.operations import send_one
from kxflow.workdays.calendar import is_workday
from kxflow.workflow.models import Application
from kxflow.workflow.states import State
from kxflow.workflow.triggers import Trigger

DEMO_PASSWORD = "kxflow-demo-2026"

# username, role, county, province, display name
DEMO_USERS = (
    ("ministry", "ministry_staff", None, None, "科技部 张司长"),
    ("ministry2", "ministry_staff", None, None, "科技部 孙处长"),
    ("admin", "admin", None, None, "系统管理员"),
    ("zj_province", "province_reviewer", None, "330000", "浙江省科技厅 李处长"),
    ("zj_county", "county_staff", "330523", None, "安吉县科技局 王科员"),
    ("zj_leader", "county_leader", "330523", None, "安吉县人民政府 陈县长"),
    ("zj_county2", "county_staff", "330521", None, "德清县科技局 赵科员"),
    ("zj_leader2", "county_leader", "330521", None, "德清县人民政府 钱县长"),
    ("sc_province", "province_reviewer", None, "510000", "四川省科技厅 刘处长"),
    ("sc_county", "county_staff", "510129", None, "大邑县科技局 周科员"),
    ("sc_leader", "county_leader", "510129", None, "大邑县人民政府 吴县长"),
    ("expert_zj", "expert", None, "330000", "专家 孙教授（浙江）"),
    ("expert_sc", "expert", None, "510000", "专家 郑研究员（四川）"),
    ("expert_bj", "expert", None, "110000", "专家 何教授（北京）"),
    ("expert_js", "expert", None, "320000", "专家 吴研究员（江苏）"),
    ("expert_hb", "expert", None, "420000", "专家 冯教授（湖北）"),
)

DEMO_INDICATORS = {
    "fiscal_st_spending_y1": 4200.0,
    "fiscal_st_spending_y2": 5100.0,
    "fiscal_st_spending_y3": 6300.0,
    "general_budget_expenditure_y1": 260000.0,
    "general_budget_expenditure_y2": 275000.0,
    "general_budget_expenditure_y3": 290000.0,
    "leadership_group_top_leader": True,
    "latest_assessment_result": "先进",
    "latest_assessment_year": 2025,
    "productivity_promotion_centres": 1,
    "incubators": 3,
    "agri_st_parks": 2,
    "engineering_research_centres": 4,
    "st_commissioners": 86,
}


# what the demo's calls share unless one says otherwise: three places a province, three experts an
# application, a pass at 70 points, indicator set version 1
DEMO_CALL = {"province_quota": 3, "min_experts": 3, "score_threshold": 70.0, "indicator_set_version": "2026.1"}


def _demo_call(ministry: User, **data: Any) -> Call:
    return create_call(ministry, DEMO_CALL | data)


def seed_demo() -> list[tuple[str, str, str]]:
    """Idempotent. Returns (username, role, display name) of every demo user."""
    load_packaged_sets()
    users = {}
    for username, role, county, province, name in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = create_user(
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                county_code=county,
                province_code=province,
                email=f"{username}@demo.kxflow.local",
                display_name=name,
            )
        users[username] = user
    call = db.session.scalar(select(Call).order_by(Call.id).limit(1))
    if call is None:
        now = clock.now()
        rows = "县（市）代码,考核年度,考核结果,得分\n" + "".join(
            f"{c},2024,{r},{s}\n" for c, r, s in DEMO_ASSESSMENT_2024
        )
        import_round(users["ministry"], "2024年全国县（市）科技进步考核结果.csv", rows.encode("utf-8"))
        call = _demo_call(
            users["ministry"],
            title=f"{now.year}年度国家科技进步示范县（市）申报",
            year=now.year,
            opens_at=now - timedelta(days=45),
            county_deadline=now + timedelta(days=30),
            province_deadline=now + timedelta(days=45),
            quota_overrides={"330000": 6},
        )
        # 安吉县's half-filled draft: it declares its 2024 assessment as 2025, which the import corrects
        app = create_application(users["zj_county"], call.id)
        contact = {"contact_name": "王晓红", "contact_phone": "0572-5123456"}
        update_indicators(users["zj_county"], app.id, DEMO_INDICATORS, contact=contact)
        _applications_at_every_stage(call, users)
        _people_at_work(users)
        _closed_out_call(_Stages(users), users)
        _next_call(call, users)
    db.session.flush()
    return [(u.username, u.role, u.display_name) for u in users.values()]


# (county code, name, where its application in the open call stands)
DEMO_STAGES = (
    ("330521", "德清县", State.COUNTY_REVIEW),
    ("510129", "大邑县", State.PROVINCE_REVIEW),
    ("330522", "长兴县", State.MINISTRY_REVIEW),
    ("510131", "蒲江县", State.EXPERT_REVIEW),
    ("330424", "海盐县", State.SITE_INSPECTION),
    ("330482", "平湖市", State.PUBLICITY),
    ("330421", "嘉善县", State.REJECTED),
    ("330122", "桐庐县", State.WITHDRAWN),
)
# designated under a call three years ago, and what has happened since
DEMO_HISTORY = (
    ("330483", "桐乡市", State.DESIGNATED),
    ("510181", "都江堰市", State.RECTIFICATION),
    ("510182", "彭州市", State.REVOKED),
)
DEMO_ASSESSMENT_2024 = (
    ("330523", "先进", 92),
    ("330521", "通过", 81),
    ("510129", "通过", 76),
    ("330522", "先进", 90),
    ("510131", "未通过", 58),
    ("330424", "通过", 79),
    ("330482", "先进", 88),
    ("330421", "通过", 72),
    ("330122", "通过", 70),
)
DEMO_DOCUMENTS = (
    ("self_assessment_report", "自评报告"),
    ("fiscal_st_spending_evidence", "财政科技支出证明"),
    ("leadership_group_document", "科技领导小组成立文件"),
    ("platform_evidence", "科技平台证明材料"),
)
ASSESSED = {code: result for code, result, _ in DEMO_ASSESSMENT_2024}
# a well-formed PDF (with its cross-reference table: uploads are parsed to look for scripts)
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[]/Count 0>>\nendobj\n"
    b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000054 00000 n \n"
    b"trailer\n<</Size 3/Root 1 0 R>>\nstartxref\n100\n%%EOF\n"
)


class _Stages:
    """Walks demo applications through the same operations the pages and the API call."""

    def __init__(self, users: dict[str, User]) -> None:
        self.users = users
        self.ministry = users["ministry"]

    def county_users(self, code: str, name: str) -> tuple[User, User]:
        found = {u.role: u for u in self.users.values() if u.county_code == code}
        for role, suffix, title in (
            ("county_staff", "", "科技局 经办人"),
            ("county_leader", "_leader", "人民政府 县长"),
        ):
            found[role] = found.get(role) or create_user(
                username=f"demo_{code}{suffix}",
                password=DEMO_PASSWORD,
                role=role,
                county_code=code,
                email=f"demo_{code}{suffix}@demo.kxflow.local",
                display_name=f"{name}{title}",
            )
        return found["county_staff"], found["county_leader"]

    def open(self, call: Call, code: str, name: str) -> tuple[Application, User, User]:
        """A complete application, its assessment result declared as the national import has it."""
        clerk, leader = self.county_users(code, name)
        app = create_application(clerk, call.id)
        values = {**DEMO_INDICATORS, "high_tech_enterprises": 9, "tech_contract_turnover": 4200.0}
        values["latest_assessment_result"] = ASSESSED.get(code, "未参加")
        values["latest_assessment_year"] = 2024 if code in ASSESSED else None
        update_indicators(clerk, app.id, {**values, "people_trained": 12000, "info_service_12396_coverage": 88.0})
        for kind, title in DEMO_DOCUMENTS:
            add_attachment(clerk, app.id, kind, f"{name}{title}.pdf", io.BytesIO(MINIMAL_PDF))
        return app, clerk, leader

    def fire(self, actor: User, app: Application, trigger: Trigger, comment: str = "演示数据", **kw) -> None:
        fire_trigger(actor, app.id, trigger, comment=comment, **kw)

    def to_ministry(self, app: Application, clerk: User, leader: User) -> None:
        province = self.users["zj_province"] if app.province_code == "330000" else self.users["sc_province"]
        self.fire(clerk, app, Trigger.SUBMIT)
        self.fire(leader, app, Trigger.COUNTY_APPROVE)
        self.fire(province, app, Trigger.PROVINCE_RECOMMEND)

    def panel(self, app: Application, scored: int = 3) -> None:
        """The formal review passes on its own; the panel is then formed (the proposal) and scores."""
        self.fire(self.ministry, app, Trigger.MINISTRY_ACCEPT, comment="材料齐全，形式审查通过。")
        rows = assign(self.ministry, app.id, auto=True)
        items = definition_for(app.call.indicator_set_version).scored
        for n, row in enumerate(rows[:scored]):
            points = {i.key: round(i.weight * (0.92 - 0.04 * n), 1) for i in items}
            score(db.session.get(User, row.expert_id), row.id, points, "材料翔实，数据可信。")

    def inspect(self, app: Application, days: int, kind: str = "site", team: tuple[str, ...] = ("expert_bj",)):
        """On the first working day at least ``days`` ahead."""
        day = clock.now().astimezone(CHINA).date() + timedelta(days=days)
        while not is_workday(day):
            day += timedelta(days=1)
        return schedule(
            self.ministry,
            app.id,
            scheduled_on=day,
            place=f"{app.county.name}科技局",
            team=[self.users[name].id for name in team],
            kind=kind,
        )

    def report(self, inspection, *, recommendation: str | None = None, result: str | None = None) -> None:
        record_report(
            self.ministry,
            inspection.id,
            findings="听取汇报，查看平台与园区，核对财政科技支出凭证。",
            recommendation=recommendation,
            result=result,
        )

    def to_publicity(self, app: Application, days: int) -> None:
        """Through expert review and the inspection: the report is written on the inspection day."""
        self.panel(app)
        inspection = self.inspect(app, days)
        self.fire(self.ministry, app, Trigger.SCHEDULE_INSPECTION)
        with clock.at(datetime.combine(inspection.scheduled_on, time(16, 0), tzinfo=CHINA)):
            self.report(inspection, recommendation="pass")
            self.fire(self.ministry, app, Trigger.PASS_INSPECTION)


_STEPS_TO = {State.COUNTY_REVIEW: 1, State.PROVINCE_REVIEW: 2, State.MINISTRY_REVIEW: 3}


def _applications_at_every_stage(call: Call, users: dict[str, User]) -> None:
    """So a newcomer can click through every stage: one application at each in the open call, three
    counties designated three years ago (one rectifying, one revoked), assessment results, objections."""

    stages = _Stages(users)
    for offset, (code, name, stage) in enumerate(DEMO_STAGES):
        if stage == State.PUBLICITY:  # walked a month ago: the notice is over, one objection still open
            with clock.at(clock.now() - timedelta(days=30)):
                app, clerk, leader = stages.open(call, code, name)
                stages.to_ministry(app, clerk, leader)
                stages.to_publicity(app, 3)
                with clock.at(app.publicity_ends_at - timedelta(days=2)):
                    lodge(
                        app.id,
                        kind="person",
                        text="该市2024年技术合同成交额统计口径与省统计年鉴不一致，请核实。",
                        person_name="林某某",
                        contact="13800000000",
                    )
            continue
        app, clerk, leader = stages.open(call, code, name)
        if stage == State.WITHDRAWN:
            stages.fire(clerk, app, Trigger.SUBMIT)
            stages.fire(clerk, app, Trigger.WITHDRAW)
        elif stage == State.REJECTED:
            stages.fire(clerk, app, Trigger.SUBMIT)
            stages.fire(leader, app, Trigger.COUNTY_APPROVE)
            stages.fire(users["zj_province"], app, Trigger.PROVINCE_REJECT, comment="科技投入占比低于全省平均水平。")
        elif stage in _STEPS_TO:
            province = users["zj_province"] if code.startswith("33") else users["sc_province"]
            path = ((Trigger.SUBMIT, clerk), (Trigger.COUNTY_APPROVE, leader), (Trigger.PROVINCE_RECOMMEND, province))
            for trigger, actor in path[: _STEPS_TO[stage]]:
                stages.fire(actor, app, trigger)
        else:
            stages.to_ministry(app, clerk, leader)
            if stage == State.EXPERT_REVIEW:
                stages.panel(app, scored=2)  # one expert still to score
                stages.inspect(app, 14, team=("expert_zj", "expert_hb"))  # nobody from 四川 on a 四川 team
            elif stage == State.SITE_INSPECTION:
                stages.panel(app)
                first = stages.inspect(app, 5 + offset)
                stages.fire(users["ministry"], app, Trigger.SCHEDULE_INSPECTION)
                stages.inspect(app, 12 + offset, team=("expert_bj", "expert_js"))  # moved: the first is called off
                assert first.cancelled_at is not None
    # an extension (延期) granted by the province to 德清县, whose leader has not signed yet
    deqing = db.session.scalar(select(Application).where(Application.county_code == "330521"))
    extend(
        users["zj_province"],
        deqing.id,
        deqing.due_at + timedelta(days=14),
        "县政府常务会议安排在截止日后，同意延期两周。",
    )
    _two_rounds(call, stages, users)
    _designated_three_years_ago(stages, users)


def _people_at_work(users: dict[str, User]) -> None:
    """Work done by people: 李处长 leads 浙江's reviewers; 四川's reviewer has claimed 大邑县, and the ministry's
    催办 of it is copied (抄送) to 大邑县's leader; 张司长 has claimed 长兴县 and asked 孙处长 for an opinion (委派);
    孙处长 is 张司长's deputy for the next two weeks."""
    users["zj_province"].is_lead = True
    dayi = db.session.scalar(select(Application).where(Application.county_code == "510129"))
    changxing = db.session.scalar(select(Application).where(Application.county_code == "330522"))
    handling.claim(users["sc_province"], dayi.id)
    handling.press(users["ministry"], dayi.id, "推荐截止日临近，请本周内完成审核。", cc=[users["sc_leader"].id])
    handling.claim(users["ministry"], changxing.id)
    handling.delegate(users["ministry"], changxing.id, users["ministry2"].id, "请核对科技平台证明材料。")
    today = clock.now().astimezone(CHINA).date()
    handling.name_deputy(users["ministry"], users["ministry2"].id, today, today + timedelta(days=14))


def _two_rounds(call: Call, stages: _Stages, users: dict[str, User]) -> None:
    """新昌县: returned by the province, corrected (a figure changed, a file replaced) and sent again — two rounds
    to open side by side (对比); it waits at province review once more."""
    now = clock.now()
    with clock.at(now - timedelta(days=12)):
        app, clerk, leader = stages.open(call, "330624", "新昌县")
        stages.fire(clerk, app, Trigger.SUBMIT)
        stages.fire(leader, app, Trigger.COUNTY_APPROVE)
    with clock.at(now - timedelta(days=9)):
        stages.fire(
            users["zj_province"],
            app,
            Trigger.PROVINCE_RETURN,
            comment="科技特派员人数与备案名单不符，领导小组文件缺少印章页，请核实后重新提交。",
        )
    with clock.at(now - timedelta(days=6)):
        update_indicators(clerk, app.id, {"st_commissioners": 52})
        add_attachment(
            clerk,
            app.id,
            "leadership_group_document",
            "新昌县科技领导小组成立文件（含印章页）.pdf",
            io.BytesIO(MINIMAL_PDF),
        )
        stages.fire(clerk, app, Trigger.SUBMIT)
        stages.fire(leader, app, Trigger.COUNTY_APPROVE, comment="已核实，同意上报。")


def _next_call(current: Call, users: dict[str, User]) -> None:
    """Next year's call, announced already: it opens after this one's county deadline, on indicator set
    version 2 (every task of the plan); the calls before it stay on version 1."""
    opens = current.county_deadline + timedelta(days=60)
    _demo_call(
        users["ministry"],
        title=f"{opens.year}年度国家科技进步示范县（市）申报（第二版指标）",
        year=opens.year,
        opens_at=opens,
        county_deadline=opens + timedelta(days=75),
        province_deadline=opens + timedelta(days=90),
        indicator_set_version="2026.2",
    )


def _closed_out_call(stages: _Stages, users: dict[str, User]) -> None:
    """An earlier call whose county deadline has passed: 诸暨市's draft was never sent (逾期未提交); 嵊州市's
    application, returned by the province after the deadline, is inside its grace period."""
    now = clock.now()
    start = now - timedelta(days=70)
    with clock.at(start):
        call = _demo_call(
            users["ministry"],
            title=f"{start.year}年度国家科技进步示范县（市）补充申报",
            year=start.year,
            opens_at=start - timedelta(days=1),
            county_deadline=now - timedelta(days=10),
            province_deadline=now + timedelta(days=20),
            province_quota=2,
        )
        late, _, _ = stages.open(call, "330681", "诸暨市")
        returned, clerk, leader = stages.open(call, "330683", "嵊州市")
        stages.fire(clerk, returned, Trigger.SUBMIT)
        stages.fire(leader, returned, Trigger.COUNTY_APPROVE)
    with clock.at(now - timedelta(days=2)):
        stages.fire(users["zj_province"], returned, Trigger.PROVINCE_RETURN, comment="请补充科技平台证明材料。")
    for reminder_id in db.session.scalars(
        select(Reminder.id).where(
            Reminder.kind == "closeout",
            Reminder.due_at <= now,
            pending_reminder(),
        )
    ):
        send_one(reminder_id)  # the close-out that the scan would run: 诸暨市 is flagged 逾期未提交


def _designated_three_years_ago(stages: _Stages, users: dict[str, User]) -> None:
    ministry = users["ministry"]
    now = clock.now()
    start = now - timedelta(days=3 * 365 + 60)
    with clock.at(start):
        call = _demo_call(
            ministry,
            title=f"{start.year}年度国家科技进步示范县（市）申报",
            year=start.year,
            opens_at=start - timedelta(days=1),
            county_deadline=start + timedelta(days=30),
            province_deadline=start + timedelta(days=45),
        )
    for n, (code, name, fate) in enumerate(DEMO_HISTORY):
        with clock.at(start + timedelta(hours=n)):
            app, clerk, leader = stages.open(call, code, name)
            stages.to_ministry(app, clerk, leader)
            stages.to_publicity(app, 20 + 7 * n)  # a week apart: one inspector, never two counties a day
        with clock.at(app.publicity_ends_at + timedelta(hours=1)):
            stages.fire(ministry, app, Trigger.DESIGNATE, comment="经公示无异议，予以命名。")
        if fate == State.DESIGNATED:
            continue
        checked = now - timedelta(days=100 if fate == State.REVOKED else 40)
        with clock.at(checked):
            inspection = stages.inspect(app, 1, kind="recheck", team=("expert_js", "ministry"))
        with clock.at(datetime.combine(inspection.scheduled_on, time(16, 0), tzinfo=CHINA)):
            stages.report(inspection, result="unsatisfactory")
            deadline = clock.now() + timedelta(days=70) if fate == State.REVOKED else None
            stages.fire(
                ministry, app, Trigger.FAIL_RECHECK, comment="科技投入连续两年下降，限期整改。", deadline=deadline
            )
        if fate == State.REVOKED:
            with clock.at(now - timedelta(days=20)):
                stages.fire(ministry, app, Trigger.REVOKE, comment="整改期满仍未达到示范县标准，撤销命名。")
