"""``flask kxflow seed-history``: a history made through the operations — the same seed gives the same history,
every audit trail is intact, and the dashboard has something to show in every part of it."""

from __future__ import annotations

from sqlalchemy import func, select

from kxflow.accounts.models import User
from kxflow.core.db import db
from kxflow.history import seed_history
from kxflow.statistics.operations import dashboard
from kxflow.workflow.audit import verify
from kxflow.workflow.models import Application, AuditRecord
from tests.conftest import reset_database


def _story(app) -> list[tuple]:
    with app.app_context():
        seed_history(4, 12, seed=7, programme_limit=120)
        db.session.commit()
        return list(
            db.session.execute(
                select(Application.county_code, Application.state, Application.score).order_by(Application.id)
            )
        )


def test_the_same_seed_gives_the_same_history_and_every_rule_held(app, database):
    first = _story(app)
    with app.app_context():
        assert list(verify()) == []  # every trail written by the operations, chained
        states = {state for _, state, _ in first}
        assert {"designated", "rejected"} <= states, states
        assert db.session.scalar(select(func.count(AuditRecord.id))) > 4 * len(first)
        figures = dashboard(db.session.scalar(select(User).where(User.username == "ministry")))
        assert figures["pass_rates"]["round_year"] is not None and figures["pass_rates"]["counties"] == 120
        assert figures["designations"]["years"]
        assert figures["pipeline"]["days"]
    reset_database(app, database)
    assert _story(app) == first
