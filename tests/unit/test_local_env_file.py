"""``.local/env`` works both ways the README sources it, and reads back what was written."""

import subprocess

import pytest

from local.env_file import read_env_file, write_env_file

VALUES = {"API_URL": "http://127.0.0.1:4750/dev", "API_KEY": "a b'c", "AWS_DEFAULT_REGION": "eu-north-1"}


@pytest.mark.parametrize("source", [". {}", "set -a; . {}; set +a"], ids=["dot", "set -a"])
def test_sourcing_the_file_exports_its_values_to_the_commands_that_follow(tmp_path, source):
    path = write_env_file(tmp_path / "env", VALUES)
    script = f"{source.format(path)}; env"

    shown = subprocess.run(["bash", "-c", script], env={}, capture_output=True, text=True, check=True).stdout

    assert {line for line in shown.splitlines()} >= {f"{name}={value}" for name, value in VALUES.items()}


def test_what_is_written_reads_back_unchanged(tmp_path):
    assert read_env_file(write_env_file(tmp_path / "env", VALUES)) == VALUES
    assert read_env_file(tmp_path / "missing") == {}
