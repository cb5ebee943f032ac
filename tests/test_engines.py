"""The one pool implementation (verify.harness.engines): a dead worker's task is rerun
and only that task, a task that kills every worker it runs on fails alone, workers run the
initializer, and stopping early leaves no worker behind."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import subprocess
import sys
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


# --- workers never outlive the run that started them (issue 21) ---------------------------
# A run killed by SIGTERM (pkill) or SIGKILL left its spawned workers computing until their
# claim ended. Two user claims that sleep, on two workers: each writes its pid to a marker
# file when it starts, so the test knows both workers are busy and which pids to look for.
_SLEEPY = """
import os, time
from hypothesis import strategies as st
from verify.claims import Outcome, claim

def _sleep(name):
    with open(os.path.join({marks!r}, name + "." + str(os.getpid())), "w"):
        pass
    time.sleep(300)
    return Outcome.passed()

@claim("sleepy.a", provenance="extension", kind="universal", statement="sleeps",
       strategy=lambda: st.just(dict()), examples=dict(ci=1, dev=1, thorough=1))
def a(instance):
    return _sleep("a")

@claim("sleepy.b", provenance="extension", kind="universal", statement="sleeps",
       strategy=lambda: st.just(dict()), examples=dict(ci=1, dev=1, thorough=1))
def b(instance):
    return _sleep("b")
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) multiprocessing worker (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and b"multiprocessing" in cmdline


def _run_until_both_workers_busy(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    module = tmp_path / "sleepy_claims.py"
    module.write_text(_SLEEPY.format(marks=str(marks)), encoding="utf-8")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    )
    cmd = [sys.executable, "-m", "verify", "run", "--claims-from", str(module), "sleepy.a"]
    cmd += ["sleepy.b", "--workers", "2", "--report-dir", str(tmp_path / "rep"), "--quiet"]
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while len(os.listdir(marks)) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(
                f"the run did not start both workers (exit {proc.returncode}): {err[-2000:]}"
            )
        time.sleep(0.1)
    return proc, [int(name.split(".")[1]) for name in os.listdir(marks)]


def _survivors(pids: list[int], within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for p in left:  # never leave a process behind, even when the test fails
        os.kill(p, signal.SIGKILL)
    return left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_a_run_leaves_no_worker_behind(tmp_path, sig):
    proc, workers = _run_until_both_workers_busy(tmp_path)
    assert all(_alive(p) for p in workers)
    proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    finally:
        left = _survivors(workers, within=5)
    out, err = proc.communicate(timeout=10)  # the pipes close once no worker holds them
    assert left == []
    if sig == signal.SIGTERM:  # taken as an interrupt: exit 130, never a success
        assert proc.returncode == 130, (proc.returncode, err[-2000:])
        assert "interrupted" in err and "exit 130" in out
    else:
        assert proc.returncode == -signal.SIGKILL
