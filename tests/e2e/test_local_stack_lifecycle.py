"""``make local`` as a newcomer meets it: the printed curl works, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.e2e.conftest import ROOT, start_local_stack

pytestmark = pytest.mark.e2e


def _printed_curl(log: str) -> str:
    lines = log.split("Try it:\n", 1)[1].splitlines()
    command = []
    for line in lines:
        if not line.strip():
            break
        command.append(line)
    return "\n".join(command)


def test_printed_curl_succeeds_and_ctrl_c_stops_every_process(tmp_path):
    stack = start_local_stack(tmp_path)
    try:
        env_names = set(stack.env)
        assert {"API_URL", "API_KEY", "AWS_ENDPOINT_URL", "AWS_REGION", "COMPANY_ID", "PROJECT_ID"} <= env_names

        deadline = time.monotonic() + 30
        while "Try it:" not in (log := (tmp_path / "stack.log").read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        curl = _printed_curl(log)
        answer = subprocess.run(["bash", "-c", curl], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
        assert json.loads(answer.stdout)["status"] == "success"
    finally:
        stack.process.send_signal(signal.SIGINT)
        exit_code = stack.process.wait(timeout=60)

    assert exit_code == 0
    assert "Stopped." in (tmp_path / "stack.log").read_text()
    # The stack ran in its own session: no process of that group may survive it.
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(stack.process.pid, 0)
