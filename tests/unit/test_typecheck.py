"""`make typecheck` is only a check if it can fail: mypy with the repository's configuration
(pyproject.toml) rejects each kind of mistake it is configured to catch, and accepts the same file
without the mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Its own cache: never the one `make typecheck` may be writing at the same moment.
    return tmp_path_factory.mktemp("mypy-cache")


def typecheck(source: str, directory: Path, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    path = directory / "checked.py"
    path.write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache_dir)]
        + [str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_wrong_argument_type_fails_the_check(tmp_path: Path, cache_dir: Path) -> None:
    result = typecheck('from shared.tables import Key\n\nKEY = Key(name=1)\n', tmp_path, cache_dir)

    assert result.returncode == 1, result.stdout
    assert 'Argument "name" to "Key" has incompatible type "int"; expected "str"  [arg-type]' in result.stdout


def test_the_same_file_without_the_mistake_passes(tmp_path: Path, cache_dir: Path) -> None:
    result = typecheck('from shared.tables import Key\n\nKEY = Key(name="company_id")\n', tmp_path, cache_dir)

    assert result.returncode == 0, result.stdout


def test_a_function_without_annotations_fails_the_check(tmp_path: Path, cache_dir: Path) -> None:
    result = typecheck("def double(value):\n    return value * 2\n", tmp_path, cache_dir)

    assert result.returncode == 1, result.stdout
    assert "[no-untyped-def]" in result.stdout


def test_a_misspelt_function_setting_fails_the_check(tmp_path: Path, cache_dir: Path) -> None:
    # The stacks build each function's environment from its settings model by field name: the
    # pydantic plugin makes a misspelt or missing variable a type error, not a cold-start failure.
    source = (
        "from shared.webhooks.settings import WebhookSettings\n\n"
        'SETTINGS = WebhookSettings(environment="dev", company_table_nam="ai-multi-comms-company-data-dev")\n'
    )
    result = typecheck(source, tmp_path, cache_dir)

    assert result.returncode == 1, result.stdout
    assert 'Unexpected keyword argument "company_table_nam" for "WebhookSettings"' in result.stdout


def test_an_unneeded_type_ignore_fails_the_check(tmp_path: Path, cache_dir: Path) -> None:
    # An ignore outlives the error it silenced: it must go, or it hides the next one.
    result = typecheck('NAME: str = "dev"  # type: ignore[assignment]\n', tmp_path, cache_dir)

    assert result.returncode == 1, result.stdout
    assert "[unused-ignore]" in result.stdout
