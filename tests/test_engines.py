"""The one pool implementation (verify.harness.engines): a dead worker's task is rerun
and only that task, a task that kills every worker it runs on fails alone, workers run the
initializer, and stopping early leaves no worker behind."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import time
from types import SimpleNamespace

import pytest

from verify.harness import engines
from verify.harness.engines import Engine, WorkerDied

_STATE: dict = {}


def _init(value: str) -> None:
    _STATE["init"] = value


def _read_init(task: int) -> tuple[int, str | None]:
    return task, _STATE.get("init")


def _die_on(bad: int, task: int) -> int:
    if task == bad:
        os.kill(os.getpid(), signal.SIGKILL)
    return task * 10


def _slow(task: int) -> int:
    if task:
        time.sleep(60)
    return task


def _count_attempts(marker_dir: str, task: int) -> int:
    """Kill the worker on the first two attempts of task 2, then succeed."""
    if task == 2:
        n = len(os.listdir(marker_dir))
        if n < 2:
            open(os.path.join(marker_dir, str(n)), "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    return task


def test_engine_value_is_validated_and_built_from_cli_args():
    with pytest.raises(ValueError, match="--engine"):
        Engine("dask")
    with pytest.raises(ValueError, match="--workers"):
        Engine("local", 0)
    with pytest.raises(ValueError, match="--address"):
        Engine("local", 2, "ray://x:1")
    with pytest.raises(ValueError, match="--threads"):
        Engine("local", 2, None, 0)
    args = SimpleNamespace(engine=None, workers=3, address=None, threads=2)
    assert Engine.from_args(args) == Engine("local", 3, None, 2)
    assert Engine("local", 2).parallel and not Engine("local", 1).parallel
    assert Engine("local", 2, threads=5).task_threads() == 5
    assert Engine("local", 2).task_threads() == max(1, (os.cpu_count() or 1) // 2)
    assert Engine("ray").task_threads() is None


def test_the_task_of_a_dead_worker_is_rerun_and_only_that_task(tmp_path):
    fn = functools.partial(_count_attempts, str(tmp_path))
    got = dict(Engine("local", 2).run(fn, list(range(5))))
    assert got == {i: i for i in range(5)}
    assert len(os.listdir(tmp_path)) == 2  # task 2 ran three times, the others once


def test_a_task_that_kills_every_worker_fails_alone_after_its_retries():
    got = dict(Engine("local", 2).run(functools.partial(_die_on, 1), [0, 1, 2, 3], max_retries=1))
    assert isinstance(got[1], WorkerDied) and "2 attempts" in str(got[1])
    assert {i: got[i] for i in (0, 2, 3)} == {0: 0, 2: 20, 3: 30}


def test_workers_run_the_initializer_before_their_tasks():
    got = dict(Engine("local", 2).run(_read_init, [0, 1, 2], initializer=_init, initargs=("x",)))
    assert got == {0: (0, "x"), 1: (1, "x"), 2: (2, "x")}


def test_stopping_early_terminates_busy_workers():
    t0 = time.perf_counter()
    stream = engines.run_tasks(_slow, [0, 1, 1], workers=3)
    assert next(stream) == (0, 0)
    stream.close()
    assert time.perf_counter() - t0 < 30
    assert multiprocessing.active_children() == []
