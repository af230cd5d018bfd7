"""Chinese first, English on request; the catalogues are complete and match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "kxflow" / "translations"


def extracted_ids(tmp_path) -> set[str]:
    pot = tmp_path / "fresh.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_catalogues_cover_every_string_in_the_code(tmp_path):
    ids = extracted_ids(tmp_path)
    assert len(ids) > 50
    for lang in ("zh", "en"):
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            po = read_po(f)
        assert not po.fuzzy, f"{lang}: the catalogue is marked fuzzy and would not be compiled"
        catalogue = {m.id: m.string for m in po if m.id}
        missing = sorted(i for i in ids if not catalogue.get(i))
        assert missing == [], f"{lang}: untranslated {missing}"
        fuzzy_or_stale = sorted(set(catalogue) - ids)
        assert fuzzy_or_stale == [], f"{lang}: strings no longer in the code {fuzzy_or_stale}"


def test_zh_is_the_default_and_en_is_on_request(world):
    anonymous = world.client.get("/api/v1/applications")
    assert anonymous.json["error"] == "请先登录：令牌缺失、已过期或无效。"
    english = world.client.get("/api/v1/applications", headers={"Accept-Language": "en"})
    assert english.json["error"] == "Please log in: the token is missing, expired or not valid."
    chinese_browser = world.client.get("/api/v1/applications", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert chinese_browser.json["error"].startswith("请先登录")
    assert world.client.get("/api/v1/applications?lang=en").json["error"].startswith("Please log in")


def test_json_is_not_ascii_escaped(world):
    raw = world.client.get("/api/v1/applications").data.decode()
    assert "请先登录" in raw and "\\u" not in raw


def test_times_are_beijing_time(world):
    app_id = world.new_application(complete=False)
    created = world.api("get", f"/api/v1/applications/{app_id}", "zj_staff").json["created_at"]
    assert created.endswith("+08:00")
