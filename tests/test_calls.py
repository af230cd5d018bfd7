"""Calls: ministry staff open and change them; everybody reads them and their indicator set."""

from __future__ import annotations

from kxflow.calls.models import Call


def new_call(world, **change):
    body = {
        "title": "2027年度申报",
        "year": 2027,
        "opens_at": "2027-01-10T09:00:00",
        "county_deadline": "2027-03-31T17:00:00+08:00",
        "province_deadline": "2027-04-30T17:00:00+08:00",
        "province_quota": 4,
        "quota_overrides": {"330000": 6, "510000": 2},
        **change,
    }
    return world.api("post", "/api/v1/calls", "ministry", json=body)


def test_create_and_read_a_call(world):
    r = new_call(world)
    assert r.status_code == 201, r.json
    call = r.json
    assert call["opens_at"] == "2027-01-10T09:00:00+08:00"  # no offset given: Beijing time
    assert call["quota_overrides"] == {"330000": 6, "510000": 2}
    assert call["division_types"] == ["县", "县级市", "自治县", "旗", "自治旗", "林区", "特区"]  # default: no districts
    assert call["indicator_set_version"] == "2026.2" and call["min_experts"] == 3  # the newest version
    got = world.api("get", f"/api/v1/calls/{call['id']}", "sc_staff").json
    assert got == call


def test_patch_a_call(world):
    r = world.api(
        "patch",
        f"/api/v1/calls/{world.call_id}",
        "ministry",
        json={"province_quota": 5, "quota_overrides": {"510000": 1}, "division_types": ["县", "市辖区"]},
    )
    assert r.status_code == 200
    assert (r.json["province_quota"], r.json["quota_overrides"], r.json["division_types"]) == (
        5,
        {"510000": 1},
        ["县", "市辖区"],
    )
    # now districts may apply
    assert (
        world.api("post", "/api/v1/applications", "district_staff", json={"call_id": world.call_id}).status_code == 201
    )


def test_patch_that_breaks_the_date_order_is_refused(world):
    r = world.api(
        "patch", f"/api/v1/calls/{world.call_id}", "ministry", json={"province_deadline": "2000-01-01T00:00:00Z"}
    )
    assert r.status_code == 422
    assert r.json["fields"] == {"province_deadline": ["省级截止时间不得早于县级截止时间。"]}
    assert (
        world.api("get", f"/api/v1/calls/{world.call_id}", "ministry").json["province_deadline"]
        != "2000-01-01T08:00:00+08:00"
    )


def test_indicator_set_fixed_once_applications_exist(world):
    world.new_application(complete=False)
    r = world.api("patch", f"/api/v1/calls/{world.call_id}", "ministry", json={"indicator_set_version": "2026.1"})
    assert r.status_code == 200  # unchanged is fine
    assert world.db_count(Call) == 1


def test_districts_are_excluded_unless_the_call_admits_them(world):
    r = world.api("post", "/api/v1/applications", "district_staff", json={"call_id": world.call_id})
    assert r.status_code == 422 and r.json["fields"]["call_id"] == ["类型为“市辖区”的行政区划不能申报该批次。"]


def test_one_live_application_per_county_per_call(world):
    first = world.new_application("zj_staff", complete=False)
    r = world.api("post", "/api/v1/applications", "zj_staff", json={"call_id": world.call_id})
    assert r.status_code == 409 and r.json["application_id"] == first


def test_indicator_set_for_the_form(world):
    r = world.api("get", f"/api/v1/calls/{world.call_id}/indicator-set", "zj_staff")
    body = r.json
    assert body["version"] == "2026.1"
    keys = [i["key"] for i in body["indicators"]]
    assert "fiscal_st_spending_y1" in keys and "st_share_y3" not in keys  # computed values are not typed in
    leader = next(i for i in body["indicators"] if i["key"] == "leadership_group_top_leader")
    assert leader | {"label_en": None} == {
        "key": "leadership_group_top_leader",
        "group": "leadership",
        "label_zh": "成立由党委或政府主要领导任组长的科技领导小组",
        "label_en": None,
        "unit": "",
        "type": "boolean",
        "min": None,
        "max": None,
        "choices": [],
        "required": True,
        "weight": 10.0,
        "veto": True,
        "evidence_kind": "leadership_group_document",
    }
    assert body["required_attachments"] == [
        "self_assessment_report",
        "fiscal_st_spending_evidence",
        "leadership_group_document",
    ]
    assert sum(i["weight"] for i in body["indicators"] + body["computed"]) == 100


def test_score_and_veto_are_computed_on_save(world):
    app_id = world.new_application()
    app = world.api("get", f"/api/v1/applications/{app_id}", "zj_staff").json
    # by hand from FULL_INDICATORS: share 2.17% ≥ 2 → 15; change 0.56 pp ≥ 0.2 → 10; growth 22% ≥ 15 → 5;
    # leadership → 10; 通过 0.8×10 → 8; platforms 5+5+5+2.5; commissioners 40/50×8 → 6.4; high-tech → 8;
    # turnover 3000/5000×6 → 3.6; trained 0.8×4 → 3.2; coverage 0.85×4 → 3.4
    assert app["score"] == 90.1 and app["veto_failures"] == []
    r = world.api(
        "patch",
        f"/api/v1/applications/{app_id}",
        "zj_staff",
        json={"indicators": {"leadership_group_top_leader": False, "fiscal_st_spending_y3": 3000}},
    )
    assert r.json["veto_failures"] == ["leadership_group_top_leader", "st_share_change_pp"]
    assert r.json["computed"]["st_share_change_pp"] < 0
    assert r.json["score"] < app["score"]
