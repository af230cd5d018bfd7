"""``python -m tests.bench.bombs``: what the review's three bombs cost this checkout — CPU seconds and peak memory
of the assessment import (the two XLSX) and of the attachment check (the DOCX), each in a fresh process.

Prints one line per file: its size, what it unpacks to, the outcome (accepted / refused and why), CPU seconds
and the peak memory the call added. Run it in two checkouts to compare before and after.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child(name: str, path: str) -> None:
    os.environ["KXFLOW_ENV"] = "testing"
    from kxflow import create_app
    from kxflow.assessments.operations import import_round
    from kxflow.core.uploads import check_upload

    data = Path(path).read_bytes()
    tmp = tempfile.mkdtemp()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/x.sqlite", "UPLOAD_FOLDER": tmp})
    with app.test_request_context():
        before_rss, before = _rss_kib(), resource.getrusage(resource.RUSAGE_SELF)
        try:
            if name.endswith(".xlsx"):
                import_round(SimpleNamespace(role="ministry_staff", id=1), name, data)
                outcome = "accepted"
            else:
                upload, problems = check_upload(name, io.BytesIO(data))
                outcome = "accepted" if upload else f"refused: {problems[0]}"
        except Exception as exc:  # the import's refusal (Invalid) carries its reason
            fields = getattr(exc, "extra", {}).get("fields") or {}
            outcome = f"refused: {(fields.get('file') or [str(exc)])[0]}"
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"cpu": cpu, "peak_mib": max(0, after.ru_maxrss - before_rss) / 1024, "outcome": outcome}))


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.bombs import review_files

    out = Path(tempfile.mkdtemp(prefix="kxflow-bombs-"))
    print(f"checkout: {ROOT}")
    for name, data in review_files().items():
        path = out / name
        path.write_bytes(data)
        inflated = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
        result = subprocess.run(
            [sys.executable, "-m", "tests.bench.bombs", "--child", name, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if not lines:
            print(f"{name}: the child failed\n{result.stderr[-2000:]}")
            return 1
        r = json.loads(lines[-1])
        print(
            f"{name:<15} {len(data) / 1024:6.0f} KB -> {inflated / 2**20:5.0f} MB  "
            f"CPU {r['cpu']:6.2f} s  peak +{r['peak_mib']:6.1f} MiB  {r['outcome']}"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(main())
