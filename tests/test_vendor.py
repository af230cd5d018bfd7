"""The vendored front-end files match kxflow/static/vendor/manifest.json, and the check notices when they do not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kxflow.vendoring import MANIFEST_NAME, VENDOR_DIR, check, load_manifest


@pytest.fixture(autouse=True)
def _fresh_state():
    """Overrides the conftest fixture of that name: these tests read files only, no database to reset."""
    yield


@pytest.fixture
def vendor_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR_DIR, copy)
    return copy


def test_every_vendored_file_matches_the_manifest():
    assert check() == []
    packages = load_manifest()["packages"]
    listed = {entry["path"] for package in packages for entry in package["files"]}
    assert {
        "mermaid/mermaid.min.js",
        "swagger-ui/swagger-ui-bundle.js",
        "echarts/echarts.min.js",
        "axe-core/axe.min.js",
    } <= listed
    assert all(package.get("integrity", "").startswith("sha512-") for package in packages)


def test_one_flipped_byte_is_reported_by_file(vendor_copy: Path):
    assert check(vendor_copy) == []
    target = vendor_copy / "swagger-ui" / "swagger-ui.css"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))

    problems = check(vendor_copy)

    assert len(problems) == 1
    assert problems[0].startswith("sha256 mismatch: swagger-ui/swagger-ui.css (swagger-ui-dist@")


def test_missing_and_unlisted_files_are_reported(vendor_copy: Path):
    (vendor_copy / "mermaid" / "LICENSE").unlink()
    (vendor_copy / "mermaid" / "VERSION.txt").write_text("stray\n")

    problems = check(vendor_copy)

    assert any(p.startswith("missing: mermaid/LICENSE") for p in problems), problems
    assert "not in the manifest: mermaid/VERSION.txt" in problems
    assert len(problems) == 2
    assert (vendor_copy / MANIFEST_NAME).is_file()
