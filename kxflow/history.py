"""A realistic, deterministic history for the figures and their benchmark: ``flask kxflow seed-history``.

Assessment rounds every two years; then ``calls`` yearly calls, oldest first, each opened to the counties of the
programme (all of them, or ``counties`` chosen by the seed). Everything goes through the operations the pages
call, at the time it would have happened (``clock.at``), so every rule holds — eligibility, quota, deadlines,
panels, inspection teams, the notice window: counties submit or give up, provinces recommend within their quota
and reject the rest, the ministry reviews, experts score, teams inspect, the notice runs, counties are designated;
designated counties are re-checked in later years, some sent to rectification, some of those revoked.
The same seed gives the same history.

Speed (``load``, the command's path): every step still goes through its operation — scope, role, state, guards,
the ``transitions`` machine, the chained audit row, notifications and reminders — but many in one transaction
(one per call), with the staff looked up once and each county's two accounts once a call, the generated
accounts hashed quickly (``generated_accounts``: upgraded to Argon2id at their first login), PostgreSQL not
waiting for the disk at each of those commits, and the planner's statistics refreshed (``ANALYZE``) at the end.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlalchemy import select, text

from kxflow.accounts.models import User
from kxflow.accounts.operations import create_user
from kxflow.accounts.passwords import generated_accounts
from kxflow.applications.attachments import add_attachment
from kxflow.applications.handling import claim
from kxflow.applications.operations import (
    create_application,
    eligibility_refusal,
    fire_trigger,
    update_indicators,
)
from kxflow.assessments.operations import import_round
from kxflow.calls.operations import create_call
from kxflow.core import clock
from kxflow.core.db import db, is_postgres
from kxflow.core.fields import CHINA
from kxflow.core.uow import transaction
from kxflow.demo import DEMO_DOCUMENTS, DEMO_PASSWORD, MINIMAL_PDF
from kxflow.experts.operations import aggregate, assign, score
from kxflow.indicators.models import definition_for, load_packaged_sets
from kxflow.inspections.operations import record_report, schedule
from kxflow.regions.models import PROGRAMME_DIVISION_TYPES, County, Province
from kxflow.workdays.calendar import is_workday
from kxflow.workflow.models import Application
from kxflow.workflow.states import HOLDS_TITLE, State
from kxflow.workflow.triggers import Trigger

ROUNDS = 6  # national assessments, every two years, the last the year before the latest call
EXPERT_PROVINCES = ("110000", "310000", "320000", "420000", "440000", "510000")  # two experts each
RETURNED_BY_PROVINCE = 0.35  # sent back for 补正 at the province's first reading
TEAM = 12  # inspectors (experts of the pool): nobody on two inspections in one day


def _workday(day):
    while not is_workday(day):
        day += timedelta(days=1)
    return day


class History:
    def __init__(self, calls: int, counties: int | None, seed: int, *, programme_limit: int | None = None) -> None:
        self.random = random.Random(seed)
        self.programme_limit = programme_limit  # only the first counties of the programme (a small test world)
        self.calls = calls
        self.counties = counties
        self.now = clock.now()
        self.first_year = self.now.year - calls
        self.results: dict[tuple[str, int], str] = {}
        self.reviewers: dict[str, User] = {}
        self.inspections = 0
        self.rechecked: set[int] = set()

    # --- people -----------------------------------------------------------------------------
    def _user(self, username: str, role: str, name: str, **scope) -> User:
        user = db.session.scalar(select(User).where(User.username == username))
        return user or self._create(username, role, name, **scope)

    def _create(self, username: str, role: str, name: str, **scope) -> User:
        with generated_accounts():  # thousands of accounts: Argon2id (⅓ s each) waits for their first login
            return create_user(
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                email=f"{username}@history.kxflow.local",
                display_name=name,
                **scope,
            )

    def staff(self) -> None:
        self.ministry = self._user("ministry", "ministry_staff", "科技部 张司长")
        for code, name in db.session.execute(select(Province.code, Province.name).order_by(Province.code)):
            self.reviewers[code] = self._user(f"h_{code}", "province_reviewer", f"{name}科技厅", province_code=code)
        self.experts = [
            self._user(f"h_expert_{code}_{n}", "expert", f"专家{code[:2]}-{n}", province_code=code)
            for code in EXPERT_PROVINCES
            for n in (1, 2)
        ]

    def county_people(self, code: str, name: str) -> tuple[User, User]:
        """The county's clerk and leader, made the first time and read back (one query) in later calls. Never kept
        between counties: every account held in the session is walked by each bulk UPDATE and DELETE an operation
        runs (reminders cancelled, claims cleared), so 3,700 of them would slow every step of a national call."""
        clerk, leader = f"h_{code}", f"h_{code}_leader"
        found = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_((clerk, leader))))}
        return (
            found.get(clerk) or self._create(clerk, "county_staff", f"{name}科技局", county_code=code),
            found.get(leader) or self._create(leader, "county_leader", f"{name}人民政府", county_code=code),
        )

    # --- assessment rounds ------------------------------------------------------------------
    def rounds(self, counties: list[tuple[str, str, str]]) -> None:
        last = self.now.year - 1 if (self.now.year - 1) % 2 == 0 else self.now.year - 2
        for k in range(ROUNDS):
            year = last - 2 * (ROUNDS - 1 - k)
            pass_share = 0.60 + 0.03 * k  # the pass rate climbs toward the plan's 70%
            lines = ["县（市）代码,考核年度,考核结果,得分"]
            for code, _name, _province in counties:
                draw = self.random.random()
                result = "先进" if draw < 0.15 else ("通过" if draw < pass_share else "未通过")
                self.results[(code, year)] = result
                lines.append(f"{code},{year},{result},{round(50 + 50 * (1 - draw) * 0.9, 1)}")
            with clock.at(datetime(year + 1, 3, 1, 10, tzinfo=CHINA)):
                import_round(self.ministry, f"{year}年考核结果.csv", "\n".join(lines).encode("utf-8"))

    def latest_result(self, code: str, year: int) -> tuple[str, int | None]:
        for y in range(year, year - 12, -1):
            if (code, y) in self.results:
                return self.results[(code, y)], y
        return "未参加", None

    # --- one call ---------------------------------------------------------------------------
    def indicators(self, code: str, year: int) -> dict:
        r = self.random
        budget = r.uniform(150000, 600000)
        share1 = r.uniform(0.6, 2.2)
        change = r.gauss(0.25, 0.3)
        share3 = max(0.2, share1 + change)
        result, result_year = self.latest_result(code, year)  # as the guard reads it: rounds up to the call year
        return {
            "fiscal_st_spending_y1": round(budget * share1 / 100, 1),
            "fiscal_st_spending_y2": round(budget * 1.04 * (share1 + share3) / 200, 1),
            "fiscal_st_spending_y3": round(budget * 1.08 * share3 / 100, 1),
            "general_budget_expenditure_y1": round(budget, 1),
            "general_budget_expenditure_y2": round(budget * 1.04, 1),
            "general_budget_expenditure_y3": round(budget * 1.08, 1),
            "leadership_group_top_leader": r.random() < 0.93,
            "latest_assessment_result": result,
            "latest_assessment_year": result_year,
            "productivity_promotion_centres": r.randint(0, 2),
            "incubators": r.randint(0, 4),
            "agri_st_parks": r.randint(0, 3),
            "engineering_research_centres": r.randint(0, 5),
            "st_commissioners": r.randint(10, 150),
            "high_tech_enterprises": r.randint(1, 40),
            "tech_contract_turnover": round(r.uniform(500, 20000), 1),
            "people_trained": r.randint(1000, 30000),
            "info_service_12396_coverage": round(r.uniform(40, 99), 1),
        }

    def fire(self, actor: User, app_id: int, trigger: Trigger, comment: str = "历史数据", **kw) -> None:
        fire_trigger(actor, app_id, trigger, comment=comment, **kw)

    def one_call(self, k: int, counties: list[tuple[str, str, str]]) -> None:
        year = self.first_year + k
        opens = datetime(year, 3, 1, 9, tzinfo=CHINA)
        with clock.at(opens):
            call = create_call(
                self.ministry,
                {
                    "title": f"{year}年度国家科技进步示范县（市）申报",
                    "year": year,
                    "opens_at": opens,
                    "county_deadline": opens + timedelta(days=45),
                    "province_deadline": opens + timedelta(days=75),
                    "province_quota": 3,
                    "min_experts": 3,
                    "score_threshold": 60.0,
                    "indicator_set_version": "2026.1",  # the figures the history fills in are version 1's
                },
            )
        holding = set(db.session.scalars(select(Application.county_code).where(Application.state.in_(HOLDS_TITLE))))
        chosen = [c for c in counties if c[0] not in holding]
        if self.counties is not None:
            chosen = sorted(self.random.sample(chosen, min(self.counties, len(chosen))))
        sent: dict[str, list[tuple[int, float, str, str]]] = {}
        for n, (code, name, province) in enumerate(chosen):
            clerk, leader = self.county_people(code, name)
            with clock.at(opens + timedelta(days=1 + n % 30, minutes=n % 600)):
                if eligibility_refusal(clerk.county, call, clock.now()):
                    continue  # the rule a county's page shows it: e.g. still waiting after its title was revoked
                app = create_application(clerk, call.id)
                update_indicators(clerk, app.id, self.indicators(code, year))
                for kind, title in DEMO_DOCUMENTS:
                    add_attachment(clerk, app.id, kind, f"{name}{title}.pdf", io.BytesIO(MINIMAL_PDF))
                if app.veto_failures or self.random.random() < 0.04:
                    continue  # a veto item failed, or simply never sent: 逾期未提交 once the deadline passes
                if self.random.random() < 0.03:
                    self.fire(clerk, app.id, Trigger.WITHDRAW, comment="县里决定本年度放弃申报。")
                    continue
                self.fire(clerk, app.id, Trigger.SUBMIT)
            with clock.at(opens + timedelta(days=32 + n % 10, minutes=n % 600)):
                if self.random.random() < 0.05:
                    self.fire(leader, app.id, Trigger.COUNTY_RETURN, comment="请补充科技平台证明材料。")
                    with clock.at(clock.now() + timedelta(hours=4)):  # the clerk adds it and sends it again
                        self.fire(clerk, app.id, Trigger.SUBMIT)
                    with clock.at(clock.now() + timedelta(hours=6)):
                        self.fire(leader, app.id, Trigger.COUNTY_APPROVE)
                else:
                    self.fire(leader, app.id, Trigger.COUNTY_APPROVE)
            sent.setdefault(province, []).append((app.id, app.score, code, name))
        recommended = []
        for province, apps in sorted(sent.items()):
            reviewer = self.reviewers[province]
            for n, (app_id, _score, code, name) in enumerate(apps):
                self.first_reading(reviewer, app_id, code, name, opens + timedelta(days=46 + n % 5, minutes=n))
            ranked = sorted(apps, key=lambda a: (-a[1], a[0]))
            for n, (app_id, _score, _code, _name) in enumerate(ranked):
                with clock.at(opens + timedelta(days=55 + n % 15, minutes=n)):
                    if n < 3:
                        self.fire(reviewer, app_id, Trigger.PROVINCE_RECOMMEND)
                        recommended.append(app_id)
                    else:
                        self.fire(reviewer, app_id, Trigger.PROVINCE_REJECT, comment="名额已满，未予推荐。")
        self.ministry_years(call, recommended, opens)

    def first_reading(self, reviewer: User, app_id: int, code: str, name: str, when: datetime) -> None:
        """The province office claims (认领) each application it receives; about a third go back for 补正, are
        completed and sent again the same day, and are claimed again (a claim ends when the stage does)."""
        with clock.at(when):
            claim(reviewer, app_id)
            if self.random.random() >= RETURNED_BY_PROVINCE:
                return
            self.fire(reviewer, app_id, Trigger.PROVINCE_RETURN, comment="请补充财政科技支出凭证和科技特派员名单。")
        clerk, leader = self.county_people(code, name)
        with clock.at(when + timedelta(hours=3)):
            self.fire(clerk, app_id, Trigger.SUBMIT)
        with clock.at(when + timedelta(hours=5)):
            self.fire(leader, app_id, Trigger.COUNTY_APPROVE)
        with clock.at(when + timedelta(days=1)):
            claim(reviewer, app_id)

    def ministry_years(self, call, recommended: list[int], opens: datetime) -> None:
        start = opens + timedelta(days=80)
        items = definition_for(call.indicator_set_version).scored
        for n, app_id in enumerate(recommended):
            with clock.at(start + timedelta(minutes=n)):
                if self.random.random() < 0.04:
                    self.fire(self.ministry, app_id, Trigger.MINISTRY_REJECT, comment="形式审查未通过。")
                    continue
                self.fire(self.ministry, app_id, Trigger.MINISTRY_ACCEPT, comment="形式审查通过。")
                rows = assign(self.ministry, app_id, auto=True)
            quality = self.random.uniform(0.45, 0.95)
            with clock.at(start + timedelta(days=5, minutes=n)):
                for m, row in enumerate(rows):
                    points = {i.key: round(i.weight * max(0.0, quality - 0.03 * m), 1) for i in items}
                    score(db.session.get(User, row.expert_id), row.id, points, "材料翔实。")
            app = db.session.get(Application, app_id)
            with clock.at(start + timedelta(days=8, minutes=n)):
                summary = aggregate(app)
                if summary.veto_failures or (summary.weighted_mean or 0) < call.score_threshold:
                    self.fire(self.ministry, app_id, Trigger.EXPERT_REJECT, comment="专家评审未达到分数线。")
                    continue
                inspection = self.inspect(app, start + timedelta(days=8), "site")
                self.fire(self.ministry, app_id, Trigger.SCHEDULE_INSPECTION)
            with clock.at(datetime.combine(inspection.scheduled_on, time(16), tzinfo=CHINA)):
                passed = self.random.random() > 0.08
                record_report(
                    self.ministry,
                    inspection.id,
                    findings="听取汇报，查看平台与园区，核对财政科技支出凭证。",
                    recommendation="pass" if passed else "fail",
                )
                self.fire(self.ministry, app_id, Trigger.PASS_INSPECTION if passed else Trigger.FAIL_INSPECTION)
            if passed:
                with clock.at(app.publicity_ends_at + timedelta(hours=1)):
                    self.fire(self.ministry, app_id, Trigger.DESIGNATE, comment="经公示无异议，予以命名。")

    def inspect(self, app: Application, after: datetime, kind: str):
        """One inspector of the pool, not from the county's province, on a working day nobody else took."""
        n = self.inspections
        self.inspections += 1
        pool = [e for e in self.experts[:TEAM] if e.province_code != app.province_code]
        member = pool[n % len(pool)]
        day = _workday(after.astimezone(CHINA).date() + timedelta(days=3 + 2 * (n // len(pool)) % 40))
        for _ in range(60):
            try:
                with db.session.begin_nested():
                    return schedule(
                        self.ministry,
                        app.id,
                        scheduled_on=day,
                        place=f"{app.county.name}科技局",
                        team=[member.id],
                        kind=kind,
                    )
            except Exception:  # that inspector is busy that day: the next working day
                day = _workday(day + timedelta(days=1))
        raise RuntimeError(f"no free day for an inspection of application {app.id}")

    def rechecks(self, until: datetime) -> None:
        """Designated counties, re-checked three years on: most keep the title, some rectify, a few lose it.
        Only the re-checks due by ``until`` (the next call's opening): the history stays in time order, so a
        call never sees a revocation dated after it."""
        designated = db.session.scalars(
            select(Application).where(Application.state == State.DESIGNATED.value).order_by(Application.id)
        ).all()
        for app in designated:
            due = app.designated_at + timedelta(days=3 * 365)
            if due > min(until, self.now - timedelta(days=30)) or app.id in self.rechecked:
                continue
            self.rechecked.add(app.id)
            with clock.at(due):
                inspection = self.inspect(app, due, "recheck")
            with clock.at(datetime.combine(inspection.scheduled_on, time(16), tzinfo=CHINA)):
                draw = self.random.random()
                record_report(
                    self.ministry,
                    inspection.id,
                    findings="复查：核对示范县建设任务完成情况。",
                    result="unsatisfactory" if draw < 0.2 else "satisfactory",
                )
                if draw >= 0.2:
                    continue
                self.fire(self.ministry, app.id, Trigger.FAIL_RECHECK, comment="科技投入下降，限期整改。")
            if draw < 0.07:
                with clock.at(app.rectification_due + timedelta(days=1)):
                    self.fire(self.ministry, app.id, Trigger.REVOKE, comment="整改期满仍未达标，撤销命名。")
            elif app.rectification_due < self.now:  # re-checked again before the deadline, and restored
                when = app.rectification_due - timedelta(days=90)
                with clock.at(when):
                    inspection = self.inspect(app, when, "recheck")
                with clock.at(datetime.combine(inspection.scheduled_on, time(16), tzinfo=CHINA)):
                    record_report(
                        self.ministry, inspection.id, findings="整改后复查：整改任务已完成。", result="satisfactory"
                    )
                    self.fire(self.ministry, app.id, Trigger.PASS_RECHECK, comment="整改到位。")

    def begin(self) -> list[tuple[str, str, str]]:
        """The staff, the experts and the assessment rounds; returns the counties of the programme."""
        load_packaged_sets()
        with clock.at(datetime(self.first_year - 12, 1, 5, 9, tzinfo=CHINA)):
            self.staff()
        programme = [
            tuple(row)
            for row in db.session.execute(
                select(County.code, County.name, County.province_code)
                .where(County.division_type.in_(PROGRAMME_DIVISION_TYPES), County.valid_to.is_(None))
                .order_by(County.code)
                .limit(self.programme_limit)
            )
        ]
        self.rounds(programme)
        return programme

    def call_and_rechecks(self, k: int, programme: list[tuple[str, str, str]]) -> None:
        self.one_call(k, programme)
        last = k == self.calls - 1
        self.rechecks(until=self.now if last else datetime(self.first_year + k + 1, 3, 1, 9, tzinfo=CHINA))
        db.session.flush()


def seed_history(
    calls: int, counties: int | None = None, seed: int = 20261129, *, programme_limit: int | None = None
) -> History:
    """The whole history in the caller's transaction (tests); the command commits call by call."""
    history = History(calls, counties, seed, programme_limit=programme_limit)
    programme = history.begin()
    for k in range(calls):
        history.call_and_rechecks(k, programme)
    return history


def _no_wait_for_disk() -> None:
    """PostgreSQL: this transaction's commit does not wait for the WAL to reach the disk (a crash of the server
    may lose the last calls loaded: load a fresh database again); every rule and constraint still holds."""
    if is_postgres():
        db.session.execute(text("SET LOCAL synchronous_commit = off"))


def load(
    calls: int, counties: int | None = None, seed: int = 20261129, *, echo: Callable[[str], None] = print
) -> History:
    """The command's run: one transaction for the staff and the assessment rounds, then one per call with its
    re-checks, then ``ANALYZE`` (the planner sees national-scale tables from the first dashboard on, not the
    empty ones it last sampled)."""
    history = History(calls, counties, seed)
    with transaction():
        _no_wait_for_disk()
        programme = history.begin()
    echo(f"assessment rounds loaded for {len(programme)} counties")
    for k in range(calls):
        with transaction():
            _no_wait_for_disk()
            history.call_and_rechecks(k, programme)
        echo(f"call {k + 1}/{calls} ({history.first_year + k}) loaded; inspections so far: {history.inspections}")
    with transaction():
        db.session.execute(text("ANALYZE"))  # on PostgreSQL, the tables the connecting role may analyze
    return history
