"""Every trigger from every state: allowed where the workflow says, 409 (with what is allowed) elsewhere."""

from __future__ import annotations

import pytest

from kxflow.workflow.states import FROM_MINISTRY, FROM_PROVINCE, STATE_NAMES
from kxflow.workflow.triggers import TRIGGERS

# who fires each trigger in these tests (a user of an allowed role, in scope)
ACTOR = {
    "county_staff": "zj_staff",
    "county_leader": "zj_leader",
    "province_reviewer": "zj_reviewer",
    "ministry_staff": "ministry",
}
CASES = [(t, state) for t in TRIGGERS for state in STATE_NAMES]
# a level above sees an application only once it was sent there (the shortcut leaves no audit trail)
SEES = {"zj_reviewer": FROM_PROVINCE, "ministry": FROM_MINISTRY}


@pytest.mark.parametrize(("spec", "state"), CASES, ids=[f"{t.name}-from-{s}" for t, s in CASES])
def test_trigger_from_state(world, spec, state):
    app_id = world.new_application("zj_staff")
    world.db_state(app_id, state)
    actor = ACTOR[sorted(spec.roles_from(state))[0]]  # the sender, for a recall
    r = world.fire(app_id, spec.name, actor, comment="理由充分")
    if actor in SEES and state not in SEES[actor]:
        # never sent to the actor's level: for them it does not exist (404), whatever the trigger
        assert r.status_code == 404, r.json
        assert world.db_application(app_id).state == state
    elif state in spec.sources and r.status_code != 200 and set(spec.guards) - {"comment_given"}:
        # reached by a shortcut, so guards needing a panel, a report or a re-check refuse; the
        # state is right (422, not 409) and nothing moves — the walks test them passing
        assert r.status_code == 422 and r.json["code"] == "guard_failed", r.json
        assert world.db_application(app_id).state == state
    elif state in spec.sources and spec.name == "recall":
        # 撤回 takes back only what the recalling level sent: a shortcut leaves no sending on record (the
        # walks in test_recall recall real ones)
        assert r.status_code == 409, r.json
        assert world.db_application(app_id).state == state
    elif state in spec.sources:
        assert r.status_code == 200, r.json
        dest = spec.dest_from(state)
        assert r.json["state"] == dest
        history = world.api("get", f"/api/v1/applications/{app_id}/history", "zj_staff").json
        assert [(h["trigger"], h["from_state"], h["to_state"]) for h in history] == [(spec.name, state, dest)]
    else:
        assert r.status_code == 409, r.json
        assert r.json["code"] == "conflict"
        assert isinstance(r.json["allowed_triggers"], list)
        assert spec.name not in r.json["allowed_triggers"]
        assert world.db_application(app_id).state == state  # nothing moved
        assert world.api("get", f"/api/v1/applications/{app_id}/history", "zj_staff").json == []


def test_the_machine_is_built_once_and_matches_the_table():
    from kxflow.workflow import triggers as workflow

    assert set(workflow.MACHINE.events) == {t.name for t in TRIGGERS}
    for spec in TRIGGERS:
        transitions = workflow.MACHINE.events[spec.name].transitions
        assert set(transitions) == set(spec.sources)
        for source, ts in transitions.items():
            assert {t.dest for t in ts} == {spec.dest_from(source)}
    assert workflow.MACHINE.models == []  # no rows attached: nothing accumulates per request
