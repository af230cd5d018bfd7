"""Two people acting on one application at once: exactly one wins, the other is told it changed."""

from __future__ import annotations

import threading

import pytest

from kxflow.applications.models import AuditRecord
from tests.conftest import BACKEND
from tests.factories import build_world

N = 8


def race(world, calls):
    """Runs each (app_id, trigger, user) at the same moment, each on its own client/connection."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    headers = [world.headers(user) for _, _, user in calls]

    def run(i, app_id, trigger):
        client = world.app.test_client()
        barrier.wait()
        r = client.post(f"/api/v1/applications/{app_id}/transitions", json={"trigger": trigger}, headers=headers[i])
        results[i] = (r.status_code, r.json)

    threads = [threading.Thread(target=run, args=(i, a, t)) for i, (a, t, _) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_one_winner_among_concurrent_recommendations(world):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    results = race(world, [(app_id, "province_recommend", "zj_reviewer")] * N)
    codes = sorted(code for code, _ in results)
    assert codes == [200] + [409] * (N - 1), results
    assert all(body["code"] == "conflict" for code, body in results if code == 409)
    assert world.db_count(AuditRecord, AuditRecord.trigger == "province_recommend") == 1
    assert world.db_application(app_id).state == "ministry_review"


@pytest.mark.pg_only
def test_two_recommendations_cannot_both_take_the_last_place(app, client):
    assert BACKEND == "postgresql"
    world = build_world(app, client, province_quota=1)
    a = world.new_application("zj_staff")
    b = world.new_application("zj2_staff")
    world.walk(a, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    world.walk(b, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"))
    for _ in range(3):  # the window is small; try it a few times
        results = race(world, [(a, "province_recommend", "zj_reviewer"), (b, "province_recommend", "zj_reviewer")])
        assert sorted(code for code, _ in results) == [200, 422], results
        winner = a if results[0][0] == 200 else b
        world.walk(winner, ("ministry_return", "ministry"))
        world.walk(winner, ("province_return", "zj_reviewer"))
        world.walk(winner, ("submit", "zj_staff" if winner == a else "zj2_staff"))
        world.walk(winner, ("county_approve", "zj_leader" if winner == a else "zj2_leader"))
