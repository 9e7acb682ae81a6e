"""Starts the local stack (``python -m local``) as a subprocess; tests talk to it over HTTP only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from local.env_file import read_env_file

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120


@dataclass
class RunningStack:
    env: dict[str, str]
    process: subprocess.Popen
    state_dir: Path

    @property
    def api_url(self) -> str:
        return self.env["API_URL"]

    @property
    def api_key(self) -> str:
        return self.env["API_KEY"]

    def post(self, body, *, key: str | None = "valid", **kwargs) -> requests.Response:
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        if key is not None:
            headers["x-api-key"] = self.api_key if key == "valid" else key
        return requests.post(f"{self.api_url}/initiate-conversation", json=body, headers=headers, timeout=30, **kwargs)


def start_local_stack(state_dir: Path, *arguments: str) -> RunningStack:
    env_file = state_dir / "env"
    env_file.unlink(missing_ok=True)  # a restart in the same state dir writes it again
    log = open(state_dir / "stack.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--port-base", "0", "--state-dir", str(state_dir), *arguments],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while not env_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the local stack did not start:\n{(state_dir / 'stack.log').read_text()[-5000:]}")
        time.sleep(0.2)
    return RunningStack(env=read_env_file(env_file), process=process, state_dir=state_dir)


def stop_local_stack(stack: RunningStack) -> int:
    stack.process.send_signal(signal.SIGTERM)
    return stack.process.wait(timeout=60)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_local_stack(tmp_path_factory.mktemp("local-stack"))
    yield stack
    if stack.process.poll() is None:
        stop_local_stack(stack)
