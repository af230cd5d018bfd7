"""The architecture, checked: import-linter's contracts hold, and no module imports inside a function to dodge
a cycle (the app factory and the CLI wire everything together and may; any other lazy import is named here)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> why it imports inside functions
LAZY_ALLOWED = {
    "kxflow/__init__.py": "the app factory: importing every feature at module level would make any `import "
    "kxflow.x` import them all",
    "kxflow/cli.py": "each command imports what it runs, so `flask --help` stays fast",
}


def _imports_inside_functions(path: Path, base: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    module = inner.module if isinstance(inner, ast.ImportFrom) else inner.names[0].name
                    found.append(f"{path.relative_to(base)}:{inner.lineno} {node.name}() imports {module}")
    return found


def test_no_import_inside_a_function_outside_the_allowed_places():
    offenders = [
        line
        for folder in ("kxflow", "workers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in LAZY_ALLOWED
        for line in _imports_inside_functions(path)
    ]
    assert offenders == []


def test_the_lint_finds_a_lazy_import(tmp_path):
    """The check above is not vacuous."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from kxflow.core import clock\n    return clock\n", encoding="utf-8")
    assert _imports_inside_functions(sample, tmp_path) == ["sample.py:2 f() imports kxflow.core"]


def test_import_linter_contracts_hold():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 kept, 0 broken" in result.stdout
