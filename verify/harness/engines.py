"""Engines that run independent tasks and stream their results back as they finish.

``run_tasks(fn, tasks, engine=…)`` yields ``(index, result)`` pairs in completion order,
where ``result`` is ``fn(tasks[index])`` or the exception that task ended with after its
retries. Tasks must be deterministic functions of their argument: an engine decides only
where and when a task runs, never what it computes.

- ``local``: ``workers`` spawned processes (in-process when ``workers == 1``). A worker
  that dies (killed, out of memory) breaks the pool; the pool is rebuilt and the tasks
  that had not finished are resubmitted, each at most ``max_retries`` more times.
- ``ray`` (optional extra, ``pip install 'ptverify[ray]'``): one Ray task per item with
  ``max_retries`` (a task whose worker dies, or that raises, is rerun), collected with
  ``ray.wait`` as each finishes. Joins the cluster at ``address``, or an already
  initialised Ray, else starts a local runtime with ``workers`` CPUs (shut down after).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from verify.core.validation import InputError, as_int

ENGINES = ("local", "ray")
#: Reruns of a task whose worker died (or, on Ray, that raised) before it counts as failed.
MAX_RETRIES = 3
RAY_HINT = "pip install 'ptverify[ray]'"


class EngineUnavailable(InputError):
    """The chosen engine cannot run here (e.g. Ray is not installed); the message says how
    to fix it. An InputError, so the command line reports it with exit code 2."""


def import_ray() -> Any:
    """``import ray``, or EngineUnavailable naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise EngineUnavailable(
            f"--engine ray needs Ray, an optional extra of ptverify: {RAY_HINT}"
        ) from None
    return ray


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    max_retries: int = MAX_RETRIES,
    num_gpus: float = 0,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, fn(tasks[index]) or its exception)`` as tasks finish.

    ``fn`` must be picklable (a module-level function, or a ``functools.partial`` of one)
    for process and Ray workers. Closing the iterator early (or Ctrl-C) cancels what has
    not started. ``num_gpus``: GPUs each Ray task reserves when the cluster has that many
    (0 on a cluster without GPUs, so the same call runs on CPUs); the local engine ignores it."""
    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    as_int(workers, "--workers", 1)
    if address is not None and engine != "ray":
        raise InputError("--address joins a Ray cluster; it needs --engine ray")
    if engine == "ray":
        return _run_ray(fn, tasks, workers, address, max_retries, num_gpus)
    if workers == 1 or len(tasks) <= 1:
        return _run_inline(fn, tasks)
    return _run_pool(fn, tasks, workers, max_retries)


def _run_inline(fn: Callable, tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
    for i, task in enumerate(tasks):
        try:
            result = fn(task)
        except Exception as exc:  # noqa: BLE001 - reported per task, the rest still run
            result = exc
        yield i, result


def _run_pool(
    fn: Callable, tasks: Sequence[Any], workers: int, max_retries: int
) -> Iterator[tuple[int, Any]]:
    ctx = multiprocessing.get_context("spawn")  # no fork after BLAS/torch threads started
    attempts = [0] * len(tasks)
    remaining = set(range(len(tasks)))
    while remaining:
        pool = cf.ProcessPoolExecutor(max_workers=min(workers, len(remaining)), mp_context=ctx)
        broken = False
        try:
            futures = {}
            for i in sorted(remaining):
                attempts[i] += 1
                futures[pool.submit(fn, tasks[i])] = i
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    result = fut.result()
                except cf.process.BrokenProcessPool as exc:
                    # A worker died; every unfinished future of this pool fails with it.
                    broken = True
                    if attempts[i] > max_retries:
                        remaining.discard(i)
                        yield i, exc
                    continue
                except Exception as exc:  # noqa: BLE001 - the task's own error, not retried
                    result = exc
                remaining.discard(i)
                yield i, result
        finally:
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=not broken and not remaining, cancel_futures=True)
            if remaining and not broken:  # closed early or interrupted
                for proc in procs:
                    proc.terminate()
        if not broken:
            return


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    return fn(task)


def _run_ray(
    fn: Callable,
    tasks: Sequence[Any],
    workers: int,
    address: str | None,
    max_retries: int,
    num_gpus: float = 0,
) -> Iterator[tuple[int, Any]]:
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING"}
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, **kwargs)
        started = True
    try:
        gpus = num_gpus if ray.cluster_resources().get("GPU", 0) >= num_gpus else 0
        remote = ray.remote(
            num_cpus=1, num_gpus=gpus, max_retries=max_retries, retry_exceptions=True
        )(_call)
        fn_ref = ray.put(fn)  # fn travels once (any picklable callable, e.g. a partial)
        index = {remote.remote(fn_ref, task): i for i, task in enumerate(tasks)}
        pending = list(index)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        result = exc  # retries exhausted: reported, retried by a rerun
                    yield index[ref], result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


__all__ = ["ENGINES", "MAX_RETRIES", "EngineUnavailable", "import_ray", "run_tasks"]
