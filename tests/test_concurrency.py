"""Two people acting on one application at once: exactly one wins, the other is told it changed."""

from __future__ import annotations

import threading

import pytest

from kxflow.workflow.models import AuditRecord
from tests.conftest import BACKEND
from tests.factories import build_world

N = 8


def at_once(world, requests):
    """POSTs each (path, body, user) at the same moment, each on its own client/connection."""
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)
    headers = [world.headers(user) for _, _, user in requests]

    def run(i, path, body):
        client = world.app.test_client()
        barrier.wait()
        r = client.post(path, json=body, headers=headers[i])
        results[i] = (r.status_code, r.json)

    threads = [threading.Thread(target=run, args=(i, p, b)) for i, (p, b, _) in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def race(world, calls):
    """Fires each (app_id, trigger, user) at the same moment."""
    return at_once(world, [(f"/api/v1/applications/{a}/transitions", {"trigger": t}, user) for a, t, user in calls])


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


def post_at_once(world, path, user, bodies):
    return at_once(world, [(path, body, user) for body in bodies])


def test_one_seat_for_an_expert_however_many_assign_them_at_once(world):
    from kxflow.experts.models import Assignment

    app_id = world.new_application()
    world.to_ministry(app_id)
    world.walk(app_id, ("ministry_accept", "ministry"))  # the panel is formed in expert review
    body = {"expert_ids": [world.ids["expert_bj"]]}
    results = post_at_once(world, f"/api/v1/applications/{app_id}/panel", "ministry", [body] * 6)
    codes = sorted(code for code, _ in results)
    assert codes[0] == 201 and codes.count(201) == 1, results
    assert all(code in (409, 422) for code in codes[1:]), results  # told it is taken, in a clean envelope
    assert world.db_count(Assignment, Assignment.application_id == app_id) == 1


def test_an_objection_is_resolved_once(world):
    from kxflow.publicity.models import Objection

    app_id = world.new_application()
    world.to_publicity(app_id)
    from tests.test_publicity import PERSON, lodge

    r = lodge(world, app_id, {**PERSON, "person_name": "王五"})
    objection_id = r.json["id"]
    bodies = [{"upheld": i % 2 == 0, "reason": f"理由{i}"} for i in range(6)]
    results = post_at_once(world, f"/api/v1/objections/{objection_id}/resolve", "ministry", bodies)
    codes = sorted(code for code, _ in results)
    assert codes == [200] + [409] * 5, results
    winner = next(body for code, body in results if code == 200)
    state = world.db_application(app_id).state
    assert state == ("rejected" if winner["status"] == "upheld" else "publicity")
    assert world.db_count(Objection, Objection.status != "open") == 1
