"""Local function hosts behave like Lambda execution environments: one invocation at a time per
process, more processes for concurrency, and a raised error reported as a function error."""

from __future__ import annotations

import logging
import os
import signal
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.invoker import FunctionError, FunctionPool, WorkerDied

HANDLER = textwrap.dedent(
    """
    import os, time

    def handler(event, context):
        if event.get("fail"):
            raise ValueError("asked to fail")
        started = time.monotonic()
        if event.get("mark"):
            open(event["mark"], "w").close()
        time.sleep(event.get("sleep", 0.3))
        return {"pid": os.getpid(), "started": started, "ended": time.monotonic()}
    """
)


@pytest.fixture
def function_dir(tmp_path: Path) -> Path:
    (tmp_path / "handler.py").write_text(HANDLER)
    return tmp_path  # an absolute folder: function_host joins it onto lambdas/ unchanged


def _invoke_twice_at_once(pool: FunctionPool) -> list[dict]:
    with ThreadPoolExecutor(2) as threads:
        return list(threads.map(pool.invoke, [{}, {}]))


def test_one_process_runs_one_invocation_at_a_time(function_dir):
    pool = FunctionPool(str(function_dir), {}, size=1).wait_ready()
    try:
        first, second = sorted(_invoke_twice_at_once(pool), key=lambda r: r["started"])
    finally:
        pool.stop()
    assert first["pid"] == second["pid"]
    assert second["started"] >= first["ended"]


def test_a_pool_runs_invocations_side_by_side_in_separate_processes(function_dir):
    pool = FunctionPool(str(function_dir), {}, size=2).wait_ready()
    try:
        results = _invoke_twice_at_once(pool)
    finally:
        pool.stop()
    assert len({r["pid"] for r in results}) == 2


def test_a_handler_that_raises_is_a_function_error_and_the_process_lives_on(function_dir):
    pool = FunctionPool(str(function_dir), {}, size=1).wait_ready()
    try:
        with pytest.raises(FunctionError, match="ValueError: asked to fail"):
            pool.invoke({"fail": True})
        assert "pid" in pool.invoke({})
    finally:
        pool.stop()
    assert all(process.process.poll() is not None for process in pool.processes)


def test_a_worker_killed_while_idle_is_replaced_and_its_death_logged(function_dir, caplog):
    pool = FunctionPool(str(function_dir), {}, size=2).wait_ready()
    try:
        dead = pool.pids()
        for process in pool.processes:
            os.kill(process.pid, signal.SIGKILL)
            assert process.exited(grace=10)
        with caplog.at_level(logging.WARNING, logger="local.invoker"):
            answers = [pool.invoke({}) for _ in range(4)]
        assert {answer["pid"] for answer in answers}.isdisjoint(dead)
        assert len(pool.pids()) == 2 and set(pool.pids()).isdisjoint(dead)
        assert {answer["pid"] for answer in answers} <= set(pool.pids())
    finally:
        pool.stop()
    for pid in dead:
        assert any(str(pid) in r.getMessage() and function_dir.name in r.getMessage() for r in caplog.records)


def test_a_worker_killed_during_an_invocation_fails_it_as_a_death_and_is_replaced(function_dir, tmp_path, caplog):
    pool = FunctionPool(str(function_dir), {}, size=1).wait_ready()
    started = tmp_path / "started"
    try:
        [victim] = pool.pids()
        with ThreadPoolExecutor(1) as threads:
            pending = threads.submit(pool.invoke, {"sleep": 30, "mark": str(started)})
            while not started.exists() and not pending.done():
                time.sleep(0.05)
            os.kill(victim, signal.SIGKILL)
            with caplog.at_level(logging.ERROR, logger="local.invoker"), pytest.raises(WorkerDied):
                pending.result()
        assert pool.invoke({})["pid"] != victim
    finally:
        pool.stop()
    assert any(str(victim) in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
