"""The national cycle replayed: counties apply in one call and every level acts through the API while the
clock moves through the call, a real Celery worker (on that moved clock) sends reminders and e-mail to a
real SMTP server, and at the end everything is checked against what the replay itself did.

Who does what is decided by a county's place in the list (deterministic): some stay drafts or give up,
some are returned at county, province or ministry level, province quotas bind, some are rejected, some
experts step aside, some score low, some inspections fail, some notices draw objections (one upheld).
Used by tests/test_replay.py (a small run in ``make test``) and ``make replay`` (all 1,869 counties).
"""

from __future__ import annotations

import math
import re
import resource
import smtplib
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from kxflow.accounts.operations import create_user
from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.notifications import email as mail
from kxflow.notifications.models import Notification
from kxflow.regions.models import County
from kxflow.reminders.models import Reminder, pending
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.triggers import TRIGGERS_BY_NAME
from tests.factories import EVIDENCE_KINDS, FULL_INDICATORS, PASSWORD, World
from tests.workers_support import wait_for

TAKEN = {"330523", "330521", "510129", "330102"}  # the small world's own counties
WORKER_SENDER = "kxflow@kxflow.test"  # tests/workers_support.py's worker_env
FINAL = {"draft", "withdrawn", "rejected", "designated"}
# a dispatcher run in the worker's log: how long the task took and what it sent
DISPATCH_RUN = re.compile(
    r"kxflow\.dispatch_email\[[^\]]+\] succeeded in ([0-9.]+)s: \{'held_lock': True, 'sent': (\d+)"
)


@dataclass
class Figures:
    counties: int = 0
    wall_seconds: float = 0.0
    requests: Counter = field(default_factory=Counter)  # per level
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    transitions: Counter = field(default_factory=Counter)  # application id -> successful workflow transitions
    emails_sent: int = 0
    email_rate: float = 0.0  # kxflow's dispatcher, messages per second of its own runs (the worker's task times)
    dispatch_sent: int = 0  # what those runs sent, and in how many seconds
    dispatch_seconds: float = 0.0
    pipeline_rate: float = 0.0  # worker ready -> outbox empty (beat ticks, broker polling, reminder scans included)
    bare_rate: float = 0.0  # a bare smtplib loop to the same server
    web_peak_mib: float = 0.0
    worker_peak_mib: float = 0.0
    worker_runs: int = 0
    worker_seconds: float = 0.0
    worker_start_seconds: float = 0.0
    end_states: Counter = field(default_factory=Counter)
    phases: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        per_level = ", ".join(f"{level} {n}" for level, n in sorted(self.requests.items()))
        return [
            f"replay: {self.counties} counties in {self.wall_seconds:.0f} s wall time, "
            f"{sum(self.requests.values())} requests ({per_level})",
            f"  answers: {dict(sorted(self.statuses.items()))}; 5xx: {len(self.server_errors)}",
            f"  end states: {dict(sorted(self.end_states.items()))}",
            f"  e-mails: {self.emails_sent} delivered once each over {self.worker_runs} worker runs "
            f"({self.worker_seconds:.0f} s, {self.worker_start_seconds:.0f} s of it starting); "
            f"dispatcher {self.email_rate:.1f}/s ({self.dispatch_sent} in its runs' {self.dispatch_seconds:.2f} s) "
            f"vs bare smtplib {self.bare_rate:.1f}/s = "
            f"ratio {self.email_rate / self.bare_rate if self.bare_rate else 0:.2f} (target >= 0.5); "
            f"end to end (worker ready to outbox empty, best run) {self.pipeline_rate:.1f}/s",
            "  phases (s): " + ", ".join(f"{k} {v:.0f}" for k, v in self.phases.items()),
            f"  peak memory: web (in the test process) {self.web_peak_mib:.0f} MiB, "
            f"worker (all its processes) {self.worker_peak_mib:.0f} MiB",
        ]


class Replay:
    def __init__(self, world: World, start_worker, sink, counties: int, cap_seconds: float | None = None):
        self.world, self.start_worker, self.sink, self.n, self.cap = world, start_worker, sink, counties, cap_seconds
        self.fig = Figures(counties=counties)
        self.expected: dict[int, str] = {}  # application id -> the end state the plan leads to
        self.county_of: dict[int, str] = {}
        self.conflicts: set[tuple[str, str]] = set()  # (expert, county) an expert stepped aside from (回避)
        self.province_of: dict[str, str] = {}
        self.ministry = "ministry"
        self.experts: list[tuple[str, str]] = []  # (username, province)
        self.objections: list[tuple[int, int, int]] = []
        self.phases: dict[str, float] = {}

    # --- requests ----------------------------------------------------------
    def call(self, level: str, method: str, path: str, user: str | None, expect=(200, 201), **kw):
        r = self.world.api(method, path, user, **kw)
        self.fig.requests[level] += 1
        self.fig.statuses[r.status_code] += 1
        if r.status_code >= 500:
            self.fig.server_errors.append(f"{method.upper()} {path} -> {r.status_code}")
        assert r.status_code in expect, (method, path, user, r.status_code, r.get_json(silent=True))
        return r

    def fire(self, level: str, app_id: int, trigger: str, user: str, *, expect=(200,), **extra):
        body = {"trigger": trigger, "comment": f"{trigger} 意见", **extra}
        r = self.call(level, "post", f"/api/v1/applications/{app_id}/transitions", user, expect, json=body)
        if r.status_code == 200:
            self.fig.transitions[app_id] += 1
        return r

    # --- the cast ----------------------------------------------------------
    def counties(self) -> list[str]:
        """Programme counties taken in turn from each province, so a small run still spans provinces."""
        rows = db.session.execute(
            select(County.code, County.province_code).where(County.division_type != "市辖区").order_by(County.code)
        ).all()
        by_province: dict[str, list[str]] = defaultdict(list)
        for code, province in rows:
            if code not in TAKEN:
                by_province[province].append(code)
                self.province_of[code] = province
        picked, queues = [], [list(q) for q in by_province.values()]
        while len(picked) < self.n and any(queues):
            for q in queues:
                if q and len(picked) < self.n:
                    picked.append(q.pop(0))
        return picked

    def cast(self) -> list[str]:
        with self.world.app.app_context():
            codes = self.counties()
            people = [(f"clerk_{c}", "county_staff", c, None) for c in codes]
            people += [(f"leader_{c}", "county_leader", c, None) for c in codes]
            people += [(f"rev_{p}", "province_reviewer", None, p) for p in sorted({self.province_of[c] for c in codes})]
            provinces = sorted(set(self.province_of.values()))[:12]
            per_province = max(2, math.ceil(len(codes) / 300))
            experts = [(f"exp_{p}_{k}", p) for p in provinces for k in range(per_province)]
            people += [(name, "expert", None, p) for name, p in experts]
            for name, role, county, province in people:
                user = create_user(
                    username=name,
                    password=PASSWORD,
                    role=role,
                    county_code=county,
                    province_code=province,
                    email=f"{name}@example.gov.cn",
                )
                self.world.ids[name] = user.id
            db.session.commit()
        self.experts = experts
        return codes

    # --- the clock and the worker --------------------------------------------
    def move_clock(self, to: datetime) -> None:
        """The test process jumps to ``to``; a worker started on that moment runs until every reminder due by
        then is handled and the outbox is empty."""
        self.world.travel(to)
        begun = time.monotonic()
        offset = (to - datetime.now(UTC)).total_seconds()
        worker = self.start_worker(KXFLOW_CLOCK_OFFSET_SECONDS=str(offset))
        self.fig.worker_start_seconds += time.monotonic() - begun
        started, sent_before = time.monotonic(), len(self.sink.messages)
        wait_for(self.drained, 600, f"reminders due by {to:%Y-%m-%d} and the outbox to be handled")
        elapsed = time.monotonic() - started
        sent = len(self.sink.messages) - sent_before
        if sent >= 20 and sent / elapsed > self.fig.pipeline_rate:
            self.fig.pipeline_rate, self._rate_sample = sent / elapsed, sent
        peak = sum(_peak_mib(pid) for pid in _group(worker.proc.pid))
        self.fig.worker_peak_mib = max(self.fig.worker_peak_mib, peak)
        worker.stop()  # (a warm stop: the log has every run's line)
        for seconds, count in DISPATCH_RUN.findall(worker.log.read_text(errors="replace")):
            if int(count):  # the dispatcher's runs that sent something, timed by Celery from start to end
                self.fig.dispatch_sent += int(count)
                self.fig.dispatch_seconds += float(seconds)
        if self.fig.dispatch_seconds:
            self.fig.email_rate = self.fig.dispatch_sent / self.fig.dispatch_seconds
        self.fig.worker_runs += 1
        self.fig.worker_seconds += time.monotonic() - begun

    def drained(self) -> bool:
        with self.world.app.app_context():
            due = db.session.scalar(
                select(func.count()).select_from(Reminder).where(Reminder.due_at <= clock.now(), pending())
            )
            unsent = db.session.scalar(
                select(func.count()).select_from(Notification).where(Notification.email_status == "pending")
            )
            db.session.rollback()
        return due == 0 and unsent == 0

    # --- the call, level by level ---------------------------------------------
    def county_level(self, codes: list[str]) -> list[int]:
        submitted = []
        for i, code in enumerate(codes):
            clerk, leader = f"clerk_{code}", f"leader_{code}"
            r = self.call("county", "post", "/api/v1/applications", clerk, json={"call_id": self.world.call_id})
            app_id = r.json["id"]
            self.county_of[app_id] = code
            self.call("county", "patch", f"/api/v1/applications/{app_id}", clerk, json={"indicators": FULL_INDICATORS})
            if i % 20 == 19:  # never finished: stays a draft
                self.expected[app_id] = "draft"
                continue
            for kind in EVIDENCE_KINDS:
                r = self.world.upload(app_id, kind, user=clerk)
                self.fig.requests["county"] += 1
                self.fig.statuses[r.status_code] += 1
                assert r.status_code == 201, r.json
            if i % 20 == 18:  # the county gives up
                self.fire("county", app_id, "withdraw", clerk)
                self.expected[app_id] = "withdrawn"
                continue
            self.fire("county", app_id, "submit", clerk)
            if i % 10 == 1:
                self.fire("county", app_id, "county_return", leader)
                self.fire("county", app_id, "submit", clerk)
            self.fire("county", app_id, "county_approve", leader)
            submitted.append(app_id)
        return submitted

    def province_level(self, apps: list[int]) -> list[int]:
        recommended = []
        for i, app_id in enumerate(apps):
            code = self.county_of[app_id]
            reviewer = f"rev_{self.province_of[code]}"
            if i % 10 == 2:  # back to the county once, then sent again
                self.fire("province", app_id, "province_return", reviewer)
                self.fire("county", app_id, "submit", f"clerk_{code}")
                self.fire("county", app_id, "county_approve", f"leader_{code}")
            r = self.fire("province", app_id, "province_recommend", reviewer, expect=(200, 422))
            if r.status_code == 200:
                recommended.append(app_id)
            else:  # the quota binds: the province says no to the rest
                self.fire("province", app_id, "province_reject", reviewer)
                self.expected[app_id] = "rejected"
        return recommended

    def ministry_level(self, apps: list[int]) -> list[int]:
        accepted = []
        for i, app_id in enumerate(apps):
            reviewer = f"rev_{self.province_of[self.county_of[app_id]]}"
            if i % 12 == 3:  # formal review returns it to the province, which sends it again
                self.fire("ministry", app_id, "ministry_return", self.ministry)
                self.fire("province", app_id, "province_recommend", reviewer)
            if i % 25 == 7:
                self.fire("ministry", app_id, "ministry_reject", self.ministry)
                self.expected[app_id] = "rejected"
                continue
            self.fire("ministry", app_id, "ministry_accept", self.ministry)
            self.call("ministry", "post", f"/api/v1/applications/{app_id}/panel", self.ministry, json={"auto": True})
            accepted.append(app_id)
        return accepted

    def panel(self, app_id: int) -> list[dict]:
        r = self.call("ministry", "get", f"/api/v1/applications/{app_id}/panel", self.ministry)
        return [a for a in r.json["assignments"] if a["recused_at"] is None]

    def expert_level(self, apps: list[int]) -> list[int]:
        passed = []
        for i, app_id in enumerate(apps):
            seated = self.panel(app_id)
            if i % 20 == 5:  # one expert steps aside; the ministry seats the proposal again
                first = seated[0]
                self.call(
                    "expert",
                    "post",
                    f"/api/v1/assignments/{first['id']}/recuse",
                    self.world.name_of(first["expert_id"]),
                    json={"reason": "曾在该县挂职"},
                )
                self.conflicts.add((self.world.name_of(first["expert_id"]), self.county_of[app_id]))
                self.call(
                    "ministry", "post", f"/api/v1/applications/{app_id}/panel", self.ministry, json={"auto": True}
                )
                seated = self.panel(app_id)
            low = i % 8 == 6
            for assignment in seated:
                r = self.world.score(
                    assignment["id"], self.world.name_of(assignment["expert_id"]), 0.4 if low else 0.85
                )
                self.fig.requests["expert"] += 1
                self.fig.statuses[r.status_code] += 1
                assert r.status_code == 200, r.json
            if low:
                self.fire("ministry", app_id, "expert_reject", self.ministry)
                self.expected[app_id] = "rejected"
            else:
                passed.append(app_id)
        return passed

    def inspection_level(self, apps: list[int], first_day: date) -> list[int]:
        """An expert from another province inspects one county a day, on working days from ``first_day``."""
        days, busy, plan = [], set(), []
        for k, app_id in enumerate(apps):
            county = self.county_of[app_id]
            province = self.province_of[county]
            # from another province, and not one who stepped aside from this county (the team would be refused)
            eligible = [e for e, p in self.experts if p != province and (e, county) not in self.conflicts]
            on, expert = None, None
            for on in (*days, None):
                free = [e for e in eligible if (e, on) not in busy]
                if on is not None and free:
                    expert = free[0]
                    break
            if expert is None:
                on = days[-1] + timedelta(days=1) if days else first_day
                while on.weekday() >= 5:
                    on += timedelta(days=1)
                days.append(on)
                expert = eligible[0]
            busy.add((expert, on))
            body = {
                "scheduled_on": on.isoformat(),
                "place": "县科技局",
                "team": [self.world.ids[expert]],
                "kind": "site",
                "rest_day_confirmed": True,  # a weekday may still be a public holiday
            }
            r = self.call("ministry", "post", f"/api/v1/applications/{app_id}/inspections", self.ministry, json=body)
            self.fire("ministry", app_id, "schedule_inspection", self.ministry)
            plan.append((on, r.json["id"], app_id, expert, k % 15 == 4))
        noticed = []
        for on in days:
            self.move_clock(datetime.combine(on, datetime.min.time(), tzinfo=CHINA) + timedelta(hours=10))
            for _, inspection_id, app_id, expert, fails in (p for p in plan if p[0] == on):
                self.call(
                    "inspection",
                    "post",
                    f"/api/v1/inspections/{inspection_id}/report",
                    expert,
                    data={"findings": "资料属实", "recommendation": "fail" if fails else "pass"},
                )
                if fails:
                    self.fire("ministry", app_id, "fail_inspection", self.ministry)
                    self.expected[app_id] = "rejected"
                else:
                    self.fire("ministry", app_id, "pass_inspection", self.ministry)
                    self.object(len(noticed), app_id)
                    noticed.append(app_id)
        return noticed

    def object(self, k: int, app_id: int) -> None:
        """Every tenth notice draws an objection from the public on its first day."""
        if k % 10 == 3:
            r = self.call("public", "get", f"/api/v1/public/notices/{app_id}/challenge", None)
            form = {
                "challenge": r.json["challenge"],
                "kind": "person",
                "text": "该县科技特派员人数与实际不符。",
                "person_name": "张三",
                "contact": "13800000000",
            }
            r = self.call(
                "public",
                "post",
                f"/api/v1/public/notices/{app_id}/objections",
                None,
                data=form,
                content_type="multipart/form-data",
            )
            self.objections.append((k, app_id, r.json["id"]))

    def notice_level(self, apps: list[int]) -> None:
        for k, app_id, objection_id in self.objections:
            upheld = k % 30 == 13
            body = {"upheld": upheld, "reason": "经核实属实" if upheld else "经核实数据无误"}
            self.call("ministry", "post", f"/api/v1/objections/{objection_id}/resolve", self.ministry, json=body)
            if upheld:
                self.fig.transitions[app_id] += 1  # upholding rejects the application
                self.expected[app_id] = "rejected"
        ends = max(self.world.db_application(a).publicity_ends_at for a in apps)
        self.move_clock(ends + timedelta(minutes=1))
        for app_id in apps:
            if self.expected.get(app_id) != "rejected":
                self.fire("ministry", app_id, "designate", self.ministry)
                self.expected[app_id] = "designated"

    # --- the whole cycle -----------------------------------------------------
    def run(self) -> Figures:
        started = self._started = time.monotonic()
        t0 = clock.now()
        codes = self.cast()
        provinces = Counter(self.province_of[c] for c in codes)
        quota = max(1, math.floor(0.7 * len(codes) / len(provinces)))
        with self.world.app.app_context():
            call = db.session.get(Call, self.world.call_id)
            call.province_quota = quota
            db.session.commit()
        self.phase("cast")
        submitted = self.county_level(codes)
        self.phase("county")
        self.move_clock(t0 + timedelta(days=20))  # county deadline reminders to the drafts
        recommended = self.province_level(submitted)
        self.phase("province")
        self.move_clock(t0 + timedelta(days=44))
        accepted = self.ministry_level(recommended)
        self.phase("ministry")
        self.move_clock(t0 + timedelta(days=55))  # experts who have not scored are reminded
        passed = self.expert_level(accepted)
        self.phase("expert")
        first_day = (clock.now() + timedelta(days=3)).astimezone(CHINA).date()
        noticed = self.inspection_level(passed, first_day)
        self.phase("inspection")
        self.notice_level(noticed)
        self.move_clock(clock.now() + timedelta(days=1))  # the last outcomes' e-mails
        self.phase("notice")
        self.fig.wall_seconds = time.monotonic() - started
        self.fig.phases = self.phases
        self.fig.web_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.fig.bare_rate = bare_smtp_rate(self.sink.port, getattr(self, "_rate_sample", 50))
        return self.fig

    def phase(self, name: str) -> None:
        """Seconds since the previous phase ended (wall time, worker runs included)."""
        now = time.monotonic()
        self.phases[name] = now - getattr(self, "_phase_mark", self._started)
        self._phase_mark = now
        if self.cap is not None and now - self._started > self.cap:
            raise AssertionError(f"the replay ran past its cap of {self.cap:.0f} s (after {name})")

    # --- what must hold at the end ------------------------------------------
    def check(self) -> None:
        assert self.fig.server_errors == []
        with self.world.app.app_context():
            states = dict(db.session.execute(select(Application.id, Application.state)).all())
            wrong = {a: (states[a], want) for a, want in self.expected.items() if states[a] != want}
            assert not wrong, f"{len(wrong)} applications not where the replay led them, e.g. {list(wrong.items())[:5]}"
            assert set(states) == set(self.expected)
            troubled = db.session.scalar(select(func.count()).select_from(Reminder).where(Reminder.attempts > 0))
            assert troubled == 0, f"{troubled} reminders failed at least once"
            self.fig.end_states = Counter(states.values())
            workflow = {name.value if hasattr(name, "value") else name for name in TRIGGERS_BY_NAME}
            audited = Counter(
                dict(
                    db.session.execute(
                        select(AuditRecord.application_id, func.count())
                        .where(AuditRecord.trigger.in_(workflow))
                        .group_by(AuditRecord.application_id)
                    ).all()
                )
            )
            assert audited == +self.fig.transitions, "the audit's workflow rows differ from the transitions made"
            rows = db.session.scalars(select(Notification).where(Notification.email_status != "none")).all()
            assert {n.email_status for n in rows} <= {"sent"}, Counter(n.email_status for n in rows)
            config, sender = self.world.app.config, self.world.app.config["MAIL_SENDER"]
            config["MAIL_SENDER"] = WORKER_SENDER  # the address the worker sent from names the Message-IDs
            try:
                expected_ids = Counter(mail.message_id(n) for n in rows)
            finally:
                config["MAIL_SENDER"] = sender
        delivered = Counter({k: n for k, n in self.sink.ids().items() if not k.startswith("<bare-")})
        missing, extra = expected_ids - delivered, delivered - expected_ids
        assert not missing and not extra, (
            f"e-mails missing {list(missing)[:5]}, unexpected or doubled {list(extra)[:5]}"
        )
        self.fig.emails_sent = len(rows)


def _group(pid: int) -> list[int]:
    """A process and its descendants (the worker, its pool child, beat)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            pids += _group(int(child))
    return pids


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bare_smtp_rate(port: int, count: int) -> float:
    """Messages per second of a bare smtplib loop over one connection, as the dispatcher sends a batch."""
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for k in range(count):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "kxflow@kxflow.test", f"bare{k}@example.gov.cn", "基准"
            msg["Message-ID"] = f"<bare-{k}@kxflow.test>"
            msg.set_content("基准邮件" * 20)
            smtp.send_message(msg)
    return count / (time.monotonic() - started)
