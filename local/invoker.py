"""Invokes a function host (``local.function_host``) over the Lambda invoke API."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.function_host import INVOKE_PATH, ROOT
from local.providers import without_credentials

log = logging.getLogger("local.invoker")


class FunctionError(Exception):
    """The handler raised (Lambda's ``X-Amz-Function-Error: Unhandled``)."""


class WorkerDied(FunctionError):
    """The process running the invocation died under it (killed, out of memory): the handler may
    not have finished, and nothing answered for it."""


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

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self, *, grace: float = 0.0) -> bool:
        """Whether the process has ended, waiting up to ``grace`` seconds for a dying one."""
        try:
            self.process.wait(timeout=grace) if grace else self.process.poll()
        except subprocess.TimeoutExpired:
            return False
        return self.process.returncode is not None

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
    """Several processes of one function: invocations go to a free one, like Lambda's scaling.

    A process that dies (killed, crashed, out of memory) is replaced, as Lambda replaces a failed
    execution environment, and never handed another invocation: an idle one is found by a
    watcher within about a second, a busy one when its invocation breaks. Each death is logged
    with the function and the pid.
    """

    WATCH_INTERVAL_SECONDS = 1.0

    def __init__(
        self,
        folder: str,
        environment: dict[str, str],
        *,
        size: int,
        log_file: Path | None = None,
        on_replaced: Callable[[], None] | None = None,
    ):
        self.folder = folder
        self._environment = environment
        self._log_file = log_file
        self._on_replaced = on_replaced
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self.processes = [self._spawn() for _ in range(size)]
        self._free: list[FunctionProcess] = []
        self._watcher = threading.Thread(target=self._watch, name=f"watch-{folder}", daemon=True)

    def _spawn(self) -> FunctionProcess:
        return FunctionProcess(self.folder, self._environment, log_file=self._log_file)

    def wait_ready(self, timeout: float = 60.0) -> FunctionPool:
        for process in self.processes:
            self._give_back(process.wait_ready(timeout))
        self._watcher.start()
        return self

    def pids(self) -> list[int]:
        with self._changed:
            return [process.pid for process in self.processes]

    def invoke(self, event: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
        process = self._take()
        try:
            if process.exited():
                process = self._replace(process, "had died")
            try:
                return process.invoke(event, timeout)
            except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
                if not process.exited(grace=1.0):
                    raise
                dead_pid = process.pid
                if self._stopping.is_set():  # stopped with the stack: the batch goes back
                    raise WorkerDied(f"{self.folder}: worker pid {dead_pid} stopped") from error
                process = self._replace(process, "died during an invocation", level=logging.ERROR)
                raise WorkerDied(f"{self.folder}: worker pid {dead_pid} died during the invocation") from error
        finally:
            self._give_back(process)

    def _take(self) -> FunctionProcess:
        with self._changed:
            self._changed.wait_for(lambda: self._free)
            return self._free.pop()

    def _give_back(self, process: FunctionProcess) -> None:
        with self._changed:
            self._free.append(process)
            self._changed.notify()

    def _watch(self) -> None:
        """Replace idle workers that died, so that none waits for traffic to be found out."""
        while not self._stopping.wait(self.WATCH_INTERVAL_SECONDS):
            with self._changed:
                dead = [process for process in self._free if process.exited()]
                self._free = [process for process in self._free if process not in dead]
            for process in dead:
                try:
                    process = self._replace(process, "died while idle")
                except Exception:  # keep watching; the next invocation tries to replace it again
                    log.exception("%s: a replacement worker did not start", self.folder)
                self._give_back(process)

    def _replace(self, dead: FunctionProcess, how: str, *, level: int = logging.WARNING) -> FunctionProcess:
        dead.stop()  # reaps it and closes its log handle
        if self._stopping.is_set():
            return dead
        log.log(
            level, "%s worker pid %s %s (exit code %s); starting another",
            self.folder, dead.pid, how, dead.process.returncode,
        )  # fmt: skip
        fresh = self._spawn().wait_ready()
        with self._changed:
            self.processes[self.processes.index(dead)] = fresh
        log.warning("%s worker pid %s replaces pid %s", self.folder, fresh.pid, dead.pid)
        if self._on_replaced is not None:
            self._on_replaced()
        return fresh

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher.is_alive():
            self._watcher.join(timeout=self.WATCH_INTERVAL_SECONDS + 5)
        with self._changed:
            processes = list(self.processes)
        for process in processes:
            process.stop()
