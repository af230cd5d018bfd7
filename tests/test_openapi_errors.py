"""The published OpenAPI describes the error envelope kxflow actually sends (not flask-smorest's default)."""

from __future__ import annotations

import io

from tests.test_assessments import xlsx

JSON_TYPES = {"string": str, "integer": int, "array": list, "object": dict}


def _conforms(body: dict, schema: dict, spec: dict) -> list[str]:
    problems = [f"missing {key}" for key in schema.get("required", []) if key not in body]
    for key, value in body.items():
        prop = schema["properties"].get(key)
        if prop is None:
            problems.append(f"undocumented key {key}")
            continue
        if "$ref" in prop.get("items", {}):
            row_schema = spec["components"]["schemas"][prop["items"]["$ref"].rsplit("/", 1)[1]]
            for item in value:
                problems += _conforms(item, row_schema, spec)
        expected = JSON_TYPES[prop["type"]]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append(f"{key} is {type(value).__name__}, documented {prop['type']}")
    return problems


def test_every_kind_of_error_answer_matches_the_documented_envelope(world, app):
    spec = world.api("get", "/api/v1/openapi.json").json
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    default = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]["schema"]
    assert default == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert envelope["properties"]["code"]["type"] == "string" and envelope["properties"]["status"]["type"] == "integer"

    app_id = world.new_application()
    other = world.new_application("zj2_staff", complete=False)
    bad_file = xlsx([["县（市）代码", "考核年度", "考核结果"], ["999999", 2024, "通过"]])
    answers = {
        401: world.api("get", "/api/v1/applications"),
        403: world.api("get", "/api/v1/experts", "zj_staff"),
        404: world.api("get", "/api/v1/applications/999999", "ministry"),
        405: world.api("delete", "/api/v1/calls", "ministry"),
        414: world.api("get", "/api/v1/applications?q=" + "安" * 2000, "ministry"),
        "409 state": world.fire(
            app_id, "county_approve", "zj_leader", comment="x"
        ),  # a draft: the ministry would not see it
        "409 exists": world.api("post", "/api/v1/applications", "zj_staff", json={"call_id": world.call_id}),
        "422 fields": world.api("post", "/api/v1/applications", "zj_staff", json={"call_id": "x"}),
        "422 reasons": world.fire(other, "submit", "zj2_staff"),
        "422 rows": world.api(
            "post",
            "/api/v1/assessments",
            "ministry",
            data={"file": (io.BytesIO(bad_file), "r.xlsx")},
            content_type="multipart/form-data",
        ),
    }
    for label, response in answers.items():
        body = response.json
        assert response.status_code == (label if isinstance(label, int) else int(label.split()[0])), (label, body)
        assert body["status"] == response.status_code and isinstance(body["error"], str) and body["error"]
        assert _conforms(body, envelope, spec) == [], (label, body)
    assert answers[414].json["error"] == "地址过长，请缩短搜索词或减少筛选条件。"
    conflict = answers["409 state"].json
    assert conflict["state"] == "draft" and "county_approve" not in conflict["allowed_triggers"]
    assert answers["422 rows"].json["rows"][0]["field"] == "county_code"
