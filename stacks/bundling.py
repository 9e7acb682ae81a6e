"""Docker-free Lambda assets: handler folder + ``shared/`` + that function's pinned requirements.

The asset hash is computed from the inputs (sources, requirements, pins, target platform), not
from pip's output, so two synths over the same sources always give the same hash and ``cdk diff``
shows only real changes. Built assets are cached under ``.build/assets/<function>-<hash>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aws_cdk import AssetHashType, IgnoreMode, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "shared"
CONSTRAINTS = ROOT / "constraints.txt"
BUILD_ROOT = ROOT / ".build" / "assets"

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_TARGET = ("--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13")
# Bump when the layout of a built asset changes, so cached builds are not reused.
BUNDLE_FORMAT = "1"
_SKIPPED = ("__pycache__", ".pytest_cache")


def _source_files(directory: Path) -> list[Path]:
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and not any(part in _SKIPPED for part in path.parts) and path.suffix != ".pyc"
    )


def asset_hash(function_dir: Path) -> str:
    digest = hashlib.sha256()
    digest.update(f"format={BUNDLE_FORMAT};target={' '.join(PIP_TARGET)}\n".encode())
    for base in (function_dir, SHARED):
        for path in _source_files(base):
            digest.update(f"{base.name}/{path.relative_to(base).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    digest.update(CONSTRAINTS.read_bytes())
    return digest.hexdigest()


def build_asset(function_dir: Path) -> Path:
    """Build (or reuse) the asset folder of one function and return it."""
    out = BUILD_ROOT / f"{function_dir.name}-{asset_hash(function_dir)[:20]}"
    if out.is_dir():
        return out
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{function_dir.name}-", dir=BUILD_ROOT))
    try:
        for path in _source_files(function_dir):
            target = work / path.relative_to(function_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        shutil.copytree(SHARED, work / "shared", ignore=shutil.ignore_patterns(*_SKIPPED, "*.pyc"))
        requirements = function_dir / "requirements.txt"
        if requirements.is_file() and requirements.read_text().strip():
            _pip_install(requirements, work)
        (work / "requirements.txt").unlink(missing_ok=True)
        try:
            os.rename(work, out)
        except OSError:
            if not out.is_dir():  # another process won the race with the same inputs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(function_dir.name, keep=out)
    return out


def _prune(function: str, *, keep: Path, builds: int = 3) -> None:
    """Keep the newest few builds of a function (each is tens of MB); the cache only saves time."""
    older = sorted(
        (path for path in BUILD_ROOT.glob(f"{function}-*") if path.is_dir() and path != keep),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for path in older[builds - 1 :]:
        shutil.rmtree(path, ignore_errors=True)


def _pip_install(requirements: Path, target: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--requirement", str(requirements), "--constraint", str(CONSTRAINTS),
        "--target", str(target), *PIP_TARGET, "--only-binary=:all:", "--no-compile",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pip could not bundle {requirements}:\n{result.stderr[-4000:]}")


def lambda_code(scope: Construct, function_dir: Path) -> lambda_.Code:
    """The function's code asset; a synth that skips bundling (template-only tests) reuses the hash."""
    source_hash = asset_hash(function_dir)
    if not Stack.of(scope).bundling_required:
        return lambda_.Code.from_asset(
            str(function_dir),
            asset_hash=source_hash,
            asset_hash_type=AssetHashType.CUSTOM,
            exclude=list(_SKIPPED),
            ignore_mode=IgnoreMode.GLOB,
        )
    return lambda_.Code.from_asset(
        str(build_asset(function_dir)), asset_hash=source_hash, asset_hash_type=AssetHashType.CUSTOM
    )
