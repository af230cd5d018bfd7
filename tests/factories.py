"""A small world for tests: two provinces, their counties, one user per role, an open call.

Tests talk to it through the HTTP API the way a client would; ``world.db_*`` helpers reach
into the database only to arrange a starting point (a state, a clock) that would take many
steps to reach otherwise.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from kxflow.accounts.models import User
from kxflow.accounts.operations import create_user, issue_token
from kxflow.calls.operations import create_call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.workflow.models import Application
from tests.files import PDF

# name: (role, county, province)
USERS = {
    "ministry": ("ministry_staff", None, None),
    "admin": ("admin", None, None),
    "expert": ("expert", None, "330000"),  # from 浙江: never on a 浙江 county's panel
    "expert_bj": ("expert", None, "110000"),
    "expert_js": ("expert", None, "320000"),
    "expert_hb": ("expert", None, "420000"),
    "expert_sc": ("expert", None, "510000"),
    "zj_reviewer": ("province_reviewer", None, "330000"),
    "zj_staff": ("county_staff", "330523", None),  # 安吉县
    "zj_leader": ("county_leader", "330523", None),
    "zj2_staff": ("county_staff", "330521", None),  # 德清县
    "zj2_leader": ("county_leader", "330521", None),
    "sc_reviewer": ("province_reviewer", None, "510000"),
    "sc_staff": ("county_staff", "510129", None),  # 大邑县
    "sc_leader": ("county_leader", "510129", None),
    "district_staff": ("county_staff", "330102", None),  # 杭州市上城区, a 市辖区
}

FULL_INDICATORS: dict[str, Any] = {
    "fiscal_st_spending_y1": 4200.0,
    "fiscal_st_spending_y2": 5100.0,
    "fiscal_st_spending_y3": 6300.0,
    "general_budget_expenditure_y1": 260000.0,
    "general_budget_expenditure_y2": 275000.0,
    "general_budget_expenditure_y3": 290000.0,
    "leadership_group_top_leader": True,
    "latest_assessment_result": "通过",
    "latest_assessment_year": 2025,
    "productivity_promotion_centres": 1,
    "incubators": 2,
    "agri_st_parks": 1,
    "engineering_research_centres": 1,
    "st_commissioners": 40,
    "high_tech_enterprises": 12,
    "tech_contract_turnover": 3000.0,
    "people_trained": 8000,
    "info_service_12396_coverage": 85.0,
}
REQUIRED_KINDS = ("self_assessment_report", "fiscal_st_spending_evidence", "leadership_group_document")
# what FULL_INDICATORS claims needs its evidence too: it reports platforms
EVIDENCE_KINDS = (*REQUIRED_KINDS, "platform_evidence")
PASSWORD = "correct-horse-9"


@dataclass
class World:
    app: Any
    client: Any
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    call_id: int = 0

    # --- auth -------------------------------------------------------------
    def headers(self, name: str, **extra: str) -> dict[str, str]:
        if name not in self.tokens:
            with self.app.app_context():
                raw, _ = issue_token(db.session.get(User, self.ids[name]))
                db.session.commit()
            self.tokens[name] = raw
        return {"Authorization": f"Bearer {self.tokens[name]}", **extra}

    def api(self, method: str, path: str, user: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers = {**self.headers(user), **headers}
        return self.client.open(path, method=method.upper(), headers=headers, **kwargs)

    def travel(self, to) -> None:
        """Moves the clock; tokens are issued anew since the old ones may have expired by then."""
        clock.freeze(to)
        self.tokens.clear()

    # --- applications through the API --------------------------------------
    def new_application(self, user: str = "zj_staff", *, complete: bool = True, call_id: int | None = None) -> int:
        r = self.api("post", "/api/v1/applications", user, json={"call_id": call_id or self.call_id})
        assert r.status_code == 201, r.json
        app_id = r.json["id"]
        if complete:
            r = self.api("patch", f"/api/v1/applications/{app_id}", user, json={"indicators": FULL_INDICATORS})
            assert r.status_code == 200, r.json
            for kind in EVIDENCE_KINDS:
                self.upload(app_id, kind, user=user)
        return app_id

    def upload(self, app_id: int, kind: str, data: bytes = PDF, name: str = "材料.pdf", user: str = "zj_staff"):
        return self.api(
            "post",
            f"/api/v1/applications/{app_id}/attachments",
            user,
            data={"kind": kind, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    def fire(self, app_id: int, trigger: str, user: str, comment: str | None = None, **extra: Any):
        body = {"trigger": trigger, **extra}
        if comment is not None:
            body["comment"] = comment
        return self.api("post", f"/api/v1/applications/{app_id}/transitions", user, json=body)

    def walk(self, app_id: int, *steps: tuple[str, str]) -> None:
        for trigger, user in steps:
            r = self.fire(app_id, trigger, user, comment="意见")
            assert r.status_code == 200, (trigger, r.json)

    def to_ministry(self, app_id: int, county: str = "zj") -> None:
        self.walk(
            app_id,
            ("submit", f"{county}_staff"),
            ("county_approve", f"{county}_leader"),
            ("province_recommend", f"{county}_reviewer"),
        )

    def seat_panel(self, app_id: int) -> list[dict]:
        """The proposed panel (the call's minimum, lightest load first), as ministry staff would take it."""
        r = self.api("post", f"/api/v1/applications/{app_id}/panel", "ministry", json={"auto": True})
        assert r.status_code == 201, r.json
        return r.json

    def score(self, assignment_id: int, expert: str, fraction: float = 0.9, **extra: Any):
        """Every scoring item at ``fraction`` of its maximum."""
        from kxflow.indicators.models import definition_for

        with self.app.app_context():
            items = definition_for("2026.1").scored
        body = {"scores": {i.key: round(i.weight * fraction, 2) for i in items}, "comment": "材料翔实", **extra}
        return self.api("put", f"/api/v1/assignments/{assignment_id}/score", expert, json=body)

    def to_expert_review(self, app_id: int) -> list[dict]:
        """Formal review passed, then the panel formed (the proposal), as the ministry does it."""
        self.to_ministry(app_id)
        self.walk(app_id, ("ministry_accept", "ministry"))
        return self.seat_panel(app_id)

    def score_panel(self, app_id: int, fractions: tuple[float, ...] = (0.9, 0.85, 0.8)) -> None:
        panel = self.api("get", f"/api/v1/applications/{app_id}/panel", "ministry").json["assignments"]
        seated = [a for a in panel if a["recused_at"] is None]
        for assignment, fraction in zip(seated, fractions, strict=True):
            r = self.score(assignment["id"], self.name_of(assignment["expert_id"]), fraction)
            assert r.status_code == 200, r.json

    def name_of(self, user_id: int) -> str:
        return next(name for name, uid in self.ids.items() if uid == user_id)

    def set_inspection(self, app_id: int, kind: str = "site", team: tuple[str, ...] = ("expert_bj",), days: int = 10):
        from kxflow.core.fields import CHINA

        body = {
            "scheduled_on": (clock.now().astimezone(CHINA).date() + timedelta(days=days)).isoformat(),
            "place": "县科技局",
            "team": [self.ids[name] for name in team],
            "kind": kind,
            "rest_day_confirmed": True,  # the tests run on any day of the year; rest days are tested on their own
        }
        r = self.api("post", f"/api/v1/applications/{app_id}/inspections", "ministry", json=body)
        assert r.status_code == 201, r.json
        return r.json["id"]

    def to_inspection_day(self, inspection_id: int) -> None:
        """A report is recorded from the inspection day on: the clock goes to 10:00 that day if it is not there."""
        from kxflow.core.fields import CHINA
        from kxflow.inspections.models import Inspection

        day = self.db_scalar(select(Inspection.scheduled_on).where(Inspection.id == inspection_id))
        if day is not None and clock.now().astimezone(CHINA).date() < day:
            self.travel(datetime.combine(day, time(10, 0), tzinfo=CHINA))

    def report(self, inspection_id: int, user: str = "expert_bj", *, on_the_day: bool = True, **form: Any):
        """The team's report, on the inspection day."""
        if on_the_day:
            self.to_inspection_day(inspection_id)
        return self.api("post", f"/api/v1/inspections/{inspection_id}/report", user, data={"findings": "属实", **form})

    def to_publicity(self, app_id: int) -> None:
        """Expert review passed, inspected and recommended: the notice window opens."""
        self.to_expert_review(app_id)
        self.score_panel(app_id)
        inspection_id = self.set_inspection(app_id)
        self.walk(app_id, ("schedule_inspection", "ministry"))
        assert self.report(inspection_id, recommendation="pass").status_code == 200
        self.walk(app_id, ("pass_inspection", "ministry"))

    # --- arranging the database directly ------------------------------------
    def db_state(self, app_id: int, state: str) -> None:
        """Puts an application at a stage by a shortcut, with the dates the stage implies (the database
        insists): designated now, the notice already over, rectification due in a year."""
        now = clock.now()
        dates = {
            "publicity": {"publicity_ends_at": now - timedelta(seconds=1)},
            "designated": {"designated_at": now},
            "rectification": {"designated_at": now, "rectification_due": now + timedelta(days=365)},
            "revoked": {"designated_at": now, "revoked_at": now},
        }.get(state, {})
        with self.app.app_context():
            db.session.execute(update(Application).where(Application.id == app_id).values(state=state, **dates))
            db.session.commit()

    def db_application(self, app_id: int) -> Application:
        with self.app.app_context():
            row = db.session.get(Application, app_id)
            db.session.expunge(row)
            return row

    def db_scalar(self, stmt):
        with self.app.app_context():
            return db.session.scalar(stmt)

    def db_count(self, model, *where) -> int:
        from sqlalchemy import func

        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(model).where(*where))


def open_call(world: World, **call_overrides: Any) -> int:
    """A call opened by the ministry user, its county deadline a month away; returns its id (committed)."""
    now = clock.now()
    data = {
        "title": "2026年度国家科技进步示范县（市）申报",
        "year": 2026,
        "opens_at": now - timedelta(days=1),
        "county_deadline": now + timedelta(days=30),
        "province_deadline": now + timedelta(days=45),
        "province_quota": 2,
        "min_experts": 3,
        "score_threshold": 60.0,
        "indicator_set_version": "2026.1",  # the values below (FULL_INDICATORS) are version 1's
    }
    data.update(call_overrides)
    call = create_call(db.session.get(User, world.ids["ministry"]), data)
    db.session.commit()
    return call.id


def build_world(app, client, **call_overrides: Any) -> World:
    world = World(app=app, client=client)
    with app.app_context():
        for name, (role, county, province) in USERS.items():
            user = create_user(
                username=name,
                password=PASSWORD,
                role=role,
                county_code=county,
                province_code=province,
                email=f"{name}@example.gov.cn",
            )
            world.ids[name] = user.id
        world.call_id = open_call(world, **call_overrides)
    return world


@pytest.fixture
def world(app, client) -> World:
    return build_world(app, client)


def bulk_ready_applications(world: World, n: int) -> list[tuple[int, str]]:
    """n counties of the programme, each with a clerk, a leader and a complete application in draft.

    Users go through the account operation; the documents are recorded directly (their content
    does not matter here). Returns (application id, clerk username).
    """
    from kxflow.accounts.operations import create_user
    from kxflow.regions.models import County
    from kxflow.workflow.models import Attachment

    taken = {"330523", "330521", "510129", "330102"}
    out = []
    with world.app.app_context():
        counties = db.session.scalars(
            select(County.code).where(County.division_type == "县", County.code.not_in(taken)).order_by(County.code)
        ).all()[:n]
        for code in counties:
            clerk = create_user(
                username=f"clerk_{code}",
                password=PASSWORD,
                role="county_staff",
                county_code=code,
                email=f"clerk_{code}@example.gov.cn",
            )
            leader = create_user(
                username=f"leader_{code}",
                password=PASSWORD,
                role="county_leader",
                county_code=code,
                email=f"leader_{code}@example.gov.cn",
            )
            world.ids[clerk.username], world.ids[leader.username] = clerk.id, leader.id
        db.session.commit()
    for code in counties:
        app_id = world.new_application(f"clerk_{code}", complete=False)
        r = world.api("patch", f"/api/v1/applications/{app_id}", f"clerk_{code}", json={"indicators": FULL_INDICATORS})
        assert r.status_code == 200
        with world.app.app_context():
            for kind in EVIDENCE_KINDS:
                db.session.add(
                    Attachment(
                        application_id=app_id,
                        kind=kind,
                        original_name="a.pdf",
                        stored_name=f"{app_id}-{kind}.pdf",
                        content_type="application/pdf",
                        size_bytes=1,
                        sha256="0" * 64,
                        uploaded_by_id=world.ids[f"clerk_{code}"],
                    )
                )
            db.session.commit()
        out.append((app_id, f"clerk_{code}"))
    return out


def pending_emails(world: World, n: int) -> list[int]:
    """n notifications waiting in the outbox for e-mail, to n distinct recipients (via real transitions)."""
    ready = bulk_ready_applications(world, n)
    for app_id, clerk in ready:
        assert world.fire(app_id, "submit", clerk).status_code == 200
    with world.app.app_context():
        from kxflow.notifications.models import Notification

        return list(db.session.scalars(select(Notification.id).where(Notification.email_status == "pending")))
