"""Vendored front-end files: one manifest, fetched with `npm pack` by package and version, checked by SHA-256.

`kxflow/static/vendor/manifest.json` lists each npm package (name, version, licence, the tarball's
integrity as npm reports it) and each file taken from it (where it goes under `static/vendor/`, where
it lies in the package, its SHA-256 as vendored).

    python -m kxflow.vendoring fetch            # npm pack each package, write its files, record missing hashes
    python -m kxflow.vendoring fetch --update   # the same, and rewrite recorded hashes that changed (new versions)
    python -m kxflow.vendoring check            # every file matches the manifest, and nothing unlisted lies there

To add a package or move to a new version, edit the manifest (name, version, licence, files with
`path` and `source`) and run `fetch` (`fetch --update` for a new version). Plain `fetch` writes
nothing when a tarball or a file differs from what the manifest records.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
MANIFEST_NAME = "manifest.json"


class VendoringError(Exception):
    """The manifest is malformed, npm failed, or fetched content differs from what the manifest records."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sri_of(data: bytes, algorithm: str = "sha512") -> str:
    """The Subresource Integrity string of `data`, the form npm reports (`sha512-<base64>`)."""
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode('ascii')}"


def load_manifest(vendor_dir: Path = VENDOR_DIR) -> dict[str, Any]:
    with (vendor_dir / MANIFEST_NAME).open(encoding="utf-8") as handle:
        return json.load(handle)


_PACKAGE_KEYS = ("name", "version", "licence", "integrity", "purpose", "files")
_FILE_KEYS = ("path", "source", "sha256")


def _ordered(mapping: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """`mapping` with `keys` first, in that order, then any others as they were."""
    return {**{key: mapping[key] for key in keys if key in mapping}, **mapping}


def write_manifest(manifest: dict[str, Any], vendor_dir: Path = VENDOR_DIR) -> None:
    packages = [
        {**_ordered(package, _PACKAGE_KEYS), "files": [_ordered(entry, _FILE_KEYS) for entry in package["files"]]}
        for package in manifest["packages"]
    ]
    text = json.dumps({**manifest, "packages": packages}, indent=2, ensure_ascii=False) + "\n"
    (vendor_dir / MANIFEST_NAME).write_text(text, encoding="utf-8")


def _relative_path(value: object, what: str) -> PurePosixPath:
    """A relative POSIX path that stays below its root, or VendoringError."""
    if not isinstance(value, str) or not value:
        raise VendoringError(f"{what}: a non-empty path is required, not {value!r}")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value or str(path) != value:
        raise VendoringError(f"{what}: {value!r} must be a plain relative path (no '..', no leading '/')")
    return path


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """What makes the manifest unusable: missing fields, unsafe or repeated destination paths."""
    problems: list[str] = []
    packages = manifest.get("packages")
    if not isinstance(packages, list) or not packages:
        return [f"{MANIFEST_NAME}: 'packages' must be a non-empty list"]
    seen: dict[str, str] = {}
    for index, package in enumerate(packages):
        label = f"packages[{index}]"
        if not isinstance(package, dict):
            problems.append(f"{label}: must be an object")
            continue
        for key in ("name", "version", "licence"):
            if not isinstance(package.get(key), str) or not package[key]:
                problems.append(f"{label}: '{key}' is required")
        label = f"{package.get('name')}@{package.get('version')}"
        files = package.get("files")
        if not isinstance(files, list) or not files:
            problems.append(f"{label}: 'files' must be a non-empty list")
            continue
        for entry in files:
            if not isinstance(entry, dict):
                problems.append(f"{label}: every file must be an object")
                continue
            try:
                destination = str(_relative_path(entry.get("path"), f"{label} path"))
                _relative_path(entry.get("source"), f"{label} source of {destination}")
            except VendoringError as error:
                problems.append(str(error))
                continue
            if destination == MANIFEST_NAME:
                problems.append(f"{label}: {destination} would overwrite the manifest")
            if destination in seen:
                problems.append(f"{destination}: listed by both {seen[destination]} and {label}")
            seen[destination] = label
    return problems


def check(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Every problem with the vendored files, one line each; an empty list when all is well.

    Reports files whose SHA-256 differs from the manifest (or has none recorded), files the manifest
    lists but that are missing, and files under `vendor_dir` that the manifest does not list.
    """
    try:
        manifest = load_manifest(vendor_dir)
    except (OSError, ValueError) as error:
        return [f"{MANIFEST_NAME}: cannot be read: {error}"]
    problems = manifest_problems(manifest)
    if problems:
        return problems
    listed: set[str] = {MANIFEST_NAME}
    for package in manifest["packages"]:
        label = f"{package['name']}@{package['version']}"
        for entry in package["files"]:
            destination = entry["path"]
            listed.add(destination)
            target = vendor_dir / destination
            expected = entry.get("sha256")
            if not target.is_file():
                problems.append(f"missing: {destination} ({label})")
            elif not expected:
                problems.append(f"no sha256 recorded: {destination} ({label}); run fetch")
            else:
                actual = sha256_file(target)
                if actual != expected:
                    problems.append(f"sha256 mismatch: {destination} ({label}): manifest {expected}, file {actual}")
    for path in sorted(vendor_dir.rglob("*")):
        relative = path.relative_to(vendor_dir).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        if relative not in listed:
            problems.append(f"not in the manifest: {relative}")
    return problems


@dataclass
class _Fetched:
    """One package as npm delivered it: the tarball's integrity and the listed files' content."""

    integrity: str
    licence: str
    contents: dict[str, bytes] = field(default_factory=dict)


def npm_pack(name: str, version: str, workdir: Path, npm: str = "npm") -> tuple[Path, str]:
    """Download `name@version` with `npm pack` into `workdir`: the tarball and the integrity npm reports."""
    command = [npm, "pack", f"{name}@{version}", "--json", "--ignore-scripts", "--pack-destination", str(workdir)]
    try:
        result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    except OSError as error:
        raise VendoringError(f"{name}@{version}: cannot run {npm}: {error}") from error
    if result.returncode != 0:
        raise VendoringError(f"{name}@{version}: npm pack failed ({result.returncode}): {result.stderr.strip()}")
    try:
        reports = json.loads(result.stdout)
        report = reports[0]
        tarball = workdir / report["filename"]
        integrity = report["integrity"]
    except (ValueError, LookupError, TypeError) as error:
        raise VendoringError(f"{name}@{version}: unexpected npm pack output: {result.stdout[:500]!r}") from error
    if report.get("name") != name or report.get("version") != version:
        raise VendoringError(f"{name}@{version}: npm packed {report.get('name')}@{report.get('version')} instead")
    if not tarball.is_file():
        raise VendoringError(f"{name}@{version}: npm reported {tarball.name} but did not write it")
    return tarball, integrity


def _read_package(tarball: Path, name: str, version: str, sources: Sequence[str]) -> tuple[str, dict[str, bytes]]:
    """The package.json licence and the bytes of each listed source file, read from the tarball."""
    wanted = {*sources, "package.json"}
    found: dict[str, bytes] = {}
    with tarfile.open(tarball, mode="r:gz") as archive:
        for member in archive:
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2:
                continue
            inner = PurePosixPath(*parts[1:]).as_posix()  # npm tarballs keep everything under one top folder
            if inner not in wanted:
                continue
            if not member.isfile():
                raise VendoringError(f"{name}@{version}: {inner} is not a regular file in the tarball")
            handle = archive.extractfile(member)
            if handle is None:
                raise VendoringError(f"{name}@{version}: cannot read {inner} from the tarball")
            found[inner] = handle.read()
    missing = sorted(wanted - found.keys())
    if missing:
        raise VendoringError(f"{name}@{version}: not in the package: {', '.join(missing)}")
    metadata = json.loads(found.pop("package.json"))
    if metadata.get("name") != name or metadata.get("version") != version:
        raise VendoringError(f"{name}@{version}: package.json says {metadata.get('name')}@{metadata.get('version')}")
    licence = metadata.get("license")
    return (licence if isinstance(licence, str) else json.dumps(licence)), found


def fetch(vendor_dir: Path = VENDOR_DIR, *, update: bool = False, npm: str = "npm") -> list[str]:
    """Fetch every package in the manifest and write its files; return what changed in the manifest.

    Nothing is written unless every package fetched agrees with the manifest: its tarball integrity,
    its licence and each file's SHA-256, where recorded. With `update`, differences are recorded
    instead of refused. Hashes not yet recorded are always recorded.
    """
    manifest = load_manifest(vendor_dir)
    problems = manifest_problems(manifest)
    if problems:
        raise VendoringError("; ".join(problems))
    fetched: list[_Fetched] = []
    mismatches: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kxflow-vendor-") as tmp:
        for index, package in enumerate(manifest["packages"]):
            name, version = package["name"], package["version"]
            label = f"{name}@{version}"
            workdir = Path(tmp) / str(index)
            workdir.mkdir()
            tarball, reported = npm_pack(name, version, workdir, npm=npm)
            computed = sri_of(tarball.read_bytes(), reported.split("-", 1)[0])
            if computed != reported:
                raise VendoringError(f"{label}: the tarball's integrity is {computed}, npm reported {reported}")
            recorded = package.get("integrity")
            if recorded and recorded != reported:
                mismatches.append(f"{label}: tarball integrity {reported}, manifest {recorded}")
            licence, contents = _read_package(tarball, name, version, [entry["source"] for entry in package["files"]])
            if licence != package["licence"]:
                mismatches.append(f"{label}: package.json licence {licence!r}, manifest {package['licence']!r}")
            for entry in package["files"]:
                actual = sha256_of(contents[entry["source"]])
                if entry.get("sha256") and entry["sha256"] != actual:
                    mismatches.append(f"{entry['path']} ({label}): sha256 {actual}, manifest {entry['sha256']}")
            fetched.append(_Fetched(integrity=reported, licence=licence, contents=contents))
    if mismatches and not update:
        listing = "\n  ".join(mismatches)
        raise VendoringError(f"differs from the manifest (nothing written; fetch --update records it):\n  {listing}")
    changes: list[str] = []
    for package, result in zip(manifest["packages"], fetched, strict=True):
        label = f"{package['name']}@{package['version']}"
        if package.get("integrity") != result.integrity:
            changes.append(f"{label}: integrity {result.integrity}")
            package["integrity"] = result.integrity
        if package["licence"] != result.licence:
            changes.append(f"{label}: licence {result.licence}")
            package["licence"] = result.licence
        for entry in package["files"]:
            data = result.contents[entry["source"]]
            target = vendor_dir / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_file() or target.read_bytes() != data:
                temporary = target.with_name(target.name + ".part")
                temporary.write_bytes(data)
                temporary.replace(target)
            digest = sha256_of(data)
            if entry.get("sha256") != digest:
                changes.append(f"{entry['path']}: sha256 {digest}")
                entry["sha256"] = digest
    if changes:
        write_manifest(manifest, vendor_dir)
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kxflow.vendoring", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=VENDOR_DIR, help="the vendor folder (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="npm pack every package and write the listed files")
    fetch_parser.add_argument("--update", action="store_true", help="record changed hashes instead of refusing")
    fetch_parser.add_argument("--npm", default=shutil.which("npm") or "npm", help="the npm executable")
    commands.add_parser("check", help="compare every vendored file with the manifest")
    args = parser.parse_args(argv)
    vendor_dir: Path = args.dir.resolve()
    if args.command == "fetch":
        try:
            changes = fetch(vendor_dir, update=args.update, npm=args.npm)
        except VendoringError as error:
            print(f"fetch refused: {error}", file=sys.stderr)
            return 1
        for change in changes:
            print(f"recorded {change}")
        print(f"fetched; manifest {'updated' if changes else 'unchanged'}")
    problems = check(vendor_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    manifest = load_manifest(vendor_dir)
    count = sum(len(package["files"]) for package in manifest["packages"])
    print(f"{count} files of {len(manifest['packages'])} packages match {MANIFEST_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
