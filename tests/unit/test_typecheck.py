"""`make typecheck` is only a check if it can fail: mypy with the repository's configuration
(pyproject.toml) rejects each kind of mistake it is configured to catch, and accepts the same file
without the mistake."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED_FOLDERS = ("shared", "lambdas", "stacks", "tools")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Its own cache: never the one `make typecheck` may be writing at the same moment.
    return tmp_path_factory.mktemp("mypy-cache")


def typecheck(source: str, directory: Path, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    path = directory / "checked.py"
    path.write_text(source)
    config = ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache_dir)]
    return subprocess.run(
        [sys.executable, "-m", "mypy", *config, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_wrong_argument_type_fails_the_check(tmp_path: Path, cache_dir: Path) -> None:
    result = typecheck("from shared.tables import Key\n\nKEY = Key(name=1)\n", tmp_path, cache_dir)

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


def _imported_cdk_modules() -> set[str]:
    modules: set[str] = set()
    sources = [ROOT / "app.py", *(path for folder in CHECKED_FOLDERS for path in (ROOT / folder).rglob("*.py"))]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names if alias.name.split(".")[0] == "aws_cdk"}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "aws_cdk":
                modules.add(node.module)
                # `from aws_cdk import aws_sqs as sqs` imports the module aws_cdk.aws_sqs.
                modules |= {f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("aws_")}
    return modules


def test_every_cdk_module_the_code_imports_is_read_by_the_type_checker() -> None:
    # The rest of aws_cdk is skipped for speed (pyproject.toml): a module missing from the list
    # would make everything the stacks take from it Any, silently.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    followed = {
        module
        for override in config["overrides"]
        if override.get("follow_imports") == "normal"
        for module in override["module"]
    }

    missing = _imported_cdk_modules() - followed

    assert not missing, f"add to the follow_imports = 'normal' list in pyproject.toml: {sorted(missing)}"
