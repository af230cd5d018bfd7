"""The county's 联系人 and 联系电话 on its application: typed on the form with the figures, checked, shown to
the levels above, and in the API."""

from __future__ import annotations

from tests.web_support import Browser


def test_the_county_gives_a_contact_on_the_form_and_the_province_sees_it(world, app):
    app_id = world.new_application()
    edit = f"/applications/{app_id}/edit"
    county = Browser(app, "zj_staff")
    page = county.text(edit)
    assert "联系人" in page and "联系电话" in page
    version = str(world.db_application(app_id).version)
    r = county.post_form(
        edit, {"contact_name": "王晓红", "contact_phone": "请打办公室", "incubators": "5", "version": version}
    )
    page = r.data.decode()
    assert r.status_code == 422
    assert "联系电话" in page and "不是有效的电话号码" in page
    row = world.db_application(app_id)
    assert (row.contact_name, row.indicators["incubators"]) == ("", 2)  # nothing written
    r = county.post_form(edit, {"contact_name": " 王晓红 ", "contact_phone": "0572-5123456转8012", "version": version})
    assert r.status_code == 302
    row = world.db_application(app_id)
    assert (row.contact_name, row.contact_phone) == ("王晓红", "0572-5123456转8012")
    world.fire(app_id, "submit", "zj_staff")
    world.fire(app_id, "county_approve", "zj_leader")
    page = Browser(app, "zj_reviewer").text(f"/applications/{app_id}")
    assert "联系人: 王晓红" in page.replace("：", ": ") or "联系人：王晓红" in page
    assert 'href="tel:0572-5123456转8012"' in page


def test_the_api_reads_and_writes_the_contact(world):
    app_id = world.new_application()
    r = world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"contact_phone": "abc"})
    assert r.status_code == 422 and list(r.json["fields"]) == ["contact_phone"]
    body = {"contact_name": "李明", "contact_phone": "13800000000"}
    r = world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json=body)
    assert r.status_code == 200 and (r.json["contact_name"], r.json["contact_phone"]) == ("李明", "13800000000")
    assert r.json["indicators"]["incubators"] == 2  # the figures untouched
