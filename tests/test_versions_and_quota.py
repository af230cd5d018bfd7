"""Two facts other features reuse: an application as the county submitted it, and a province's quota in use."""

from __future__ import annotations

from kxflow.accounts.models import User
from kxflow.applications.operations import as_submitted, submitted_versions
from kxflow.calls.models import Call
from kxflow.calls.operations import quota_by_province, quota_use
from kxflow.core.db import db
from tests.factories import FULL_INDICATORS


def test_the_version_as_submitted_survives_later_edits(world, app):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"), ("province_return", "zj_reviewer"))
    changed = {**FULL_INDICATORS, "st_commissioners": 55}
    r = world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": changed})
    assert r.status_code == 200
    world.walk(app_id, ("submit", "zj_staff"))
    with app.app_context():
        reviewer = db.session.get(User, world.ids["zj_reviewer"])
        versions = submitted_versions(reviewer, app_id)
        assert [v.indicators["st_commissioners"] for v in versions] == [40, 55]
        assert [v.revision_round for v in versions] == [0, 1]
        assert as_submitted(reviewer, app_id) == versions[-1]
        assert len(versions[0].attachment_ids) == 4  # the required three and the platforms' evidence
        draft = world.new_application("zj2_staff")
        assert as_submitted(db.session.get(User, world.ids["zj2_leader"]), draft) is None  # never submitted


def test_quota_use_counts_the_places_taken(world, app):
    first, second = world.new_application(), world.new_application("zj2_staff")
    world.to_ministry(first)
    world.walk(second, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"))
    with app.app_context():
        call = db.session.get(Call, world.call_id)
        use = quota_use(call, "330000")
        assert (use.quota, use.used, use.left) == (2, 1, 1)
        assert quota_use(call, "330000", excluding=first).used == 0
        by_code = {q.province_code: q for q in quota_by_province(call)}
        assert len(by_code) == 31 and (by_code["330000"].used, by_code["510000"].used) == (1, 0)
