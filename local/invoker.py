"""Invokes a function host (``local.function_host``) over the Lambda invoke API."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from local.function_host import INVOKE_PATH, ROOT
from local.providers import without_credentials


class FunctionError(Exception):
    """The handler raised (Lambda's ``X-Amz-Function-Error: Unhandled``)."""


class FunctionProcess:
    """One Lambda handler running in its own process with its own environment."""

    def __init__(self, folder: str, environment: dict[str, str], *, port: int = 0, log_file: Path | None = None):
        self.folder = folder
        self._ready = Path(tempfile.mkstemp(prefix=f"{folder}-", suffix=".port")[1])
        self._ready.unlink()
        self._log = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
        command = [sys.executable, "-m", "local.function_host", "--folder", folder, "--port", str(port)]
        self.process = subprocess.Popen(
            [*command, "--ready-file", str(self._ready)],
            cwd=ROOT,
            env={**without_credentials(dict(os.environ)), **environment},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.port = 0

    def wait_ready(self, timeout: float = 60.0) -> FunctionProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.folder} exited with {self.process.returncode} while starting")
            if self._ready.exists() and self._ready.read_text():
                self.port = int(self._ready.read_text())
                self._ready.unlink(missing_ok=True)
                return self
            time.sleep(0.05)
        raise TimeoutError(f"{self.folder} did not start within {timeout} s")

    def invoke(self, event: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOKE_PATH}",
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read() or b"null") or {}
            if response.headers.get("X-Amz-Function-Error"):
                raise FunctionError(f"{self.folder}: {payload.get('errorType')}: {payload.get('errorMessage')}")
            return payload

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log is not subprocess.DEVNULL:
            self._log.close()


class FunctionPool:
    """Several processes of one function: invocations go to a free one, like Lambda's scaling."""

    def __init__(self, folder: str, environment: dict[str, str], *, size: int, log_file: Path | None = None):
        self.folder = folder
        self.processes = [FunctionProcess(folder, environment, log_file=log_file) for _ in range(size)]
        self._free: queue.Queue[FunctionProcess] = queue.Queue()

    def wait_ready(self, timeout: float = 60.0) -> FunctionPool:
        for process in self.processes:
            self._free.put(process.wait_ready(timeout))
        return self

    def invoke(self, event: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
        process = self._free.get()
        try:
            return process.invoke(event, timeout)
        finally:
            self._free.put(process)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
