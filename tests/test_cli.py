"""The administration commands: load reference data, seed the demo, create users."""

from __future__ import annotations

from sqlalchemy import func, select

from kxflow.accounts.models import User
from kxflow.core.db import db
from kxflow.workflow.models import Application


def test_create_user_reads_the_password_from_stdin(app):
    runner = app.test_cli_runner()
    r = runner.invoke(
        args=[
            "kxflow",
            "create-user",
            "--username",
            "hz_reviewer",
            "--role",
            "province_reviewer",
            "--province",
            "330000",
        ],
        input="a-long-password\n",
    )
    assert r.exit_code == 0, r.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "hz_reviewer"))
        assert user.province_code == "330000" and user.check_password("a-long-password")


def test_create_user_refuses_a_county_role_without_county(app):
    r = app.test_cli_runner().invoke(
        args=["kxflow", "create-user", "--username", "x", "--role", "county_staff"], input="a-long-password\n"
    )
    assert r.exit_code == 2 and "county" in r.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0


def test_seed_demo_is_idempotent_and_prints_logins(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["kxflow", "seed-demo"])
    assert first.exit_code == 0, first.output
    assert "kxflow-demo-2026" in first.output and "zj_county" in first.output and "ministry_staff" in first.output
    with app.app_context():
        users = db.session.scalar(select(func.count(User.id)))
    assert runner.invoke(args=["kxflow", "seed-demo"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == users  # a second run adds nothing
        states = set(db.session.scalars(select(Application.state)))
        from kxflow.workflow.states import STATE_NAMES

        assert states == set(STATE_NAMES)  # a newcomer can click through every stage
        from kxflow.assessments.models import AssessmentResult
        from kxflow.inspections.models import Inspection

        assert db.session.scalar(select(func.count(AssessmentResult.id))) == 9
        # 蒲江, 海盐 and 平湖 now; three site inspections and two re-checks of the earlier call
        assert (
            db.session.scalar(select(func.count(Inspection.id))) == 9
        )  # one of them moved (called off, kept on record)
        from kxflow.publicity.models import Objection

        assert db.session.scalar(select(func.count(Objection.id))) == 1


def test_load_regions_reports_what_it_loaded(app):
    r = app.test_cli_runner().invoke(args=["kxflow", "load-regions"])
    assert r.exit_code == 0
    assert "provinces: 31, counties: 2845 (as of 2025-12-31)" in r.output
