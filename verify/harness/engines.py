"""The one engine for all parallel work (claims, shards, sweep, reproduce).

An :class:`Engine` value (``name``, ``workers``, ``address``, ``threads``) is built once
(by the CLI, :meth:`Engine.from_args`) and passed down; ``engine.run(fn, tasks)`` (or
``run_tasks``) yields ``(index, result)`` pairs in completion order, where ``result`` is
``fn(tasks[index])`` or the exception that task ended with after its retries. Tasks must be
deterministic functions of their argument: an engine decides only where and when a task
runs, never what it computes.

- ``local``: ``workers`` spawned processes (in-process when ``workers == 1``), each fed one
  task at a time over its own pipe. A worker that dies (killed, out of memory) is replaced
  and *its* task is rerun, at most ``max_retries`` more times (then :class:`WorkerDied` is
  that task's result); the other tasks are not disturbed. Closing the stream early (or
  Ctrl-C) terminates the workers (``Process.terminate``: public APIs only). Workers never
  outlive the process that started them: while the pool runs, SIGTERM to that process
  raises :class:`Terminated` (a KeyboardInterrupt: the pool stops its workers, callers keep
  partial results and exit 130), and each worker dies with its parent however the parent
  ends, SIGKILL included (Linux ``PR_SET_PDEATHSIG``, else a thread polling the parent).
- ``ray`` (optional extra, ``pip install 'ptverify[ray]'``): one Ray task per item with
  ``max_retries`` (a task whose worker dies, or that raises, is rerun), collected with
  ``ray.wait`` as each finishes. Joins the cluster at ``address``, or an already
  initialised Ray, else starts a local runtime with ``workers`` CPUs (shut down after).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from types import ModuleType
from typing import TypeVar

from verify.core.validation import InputError, as_int

ENGINES = ("local", "ray")
T = TypeVar("T")  # a task
R = TypeVar("R")  # its result
#: What a stream yields: (task index, the task's result or the exception it ended with).
Stream = Generator[tuple[int, R | BaseException], None, None]
#: Reruns of a task whose worker died (or, on Ray, that raised) before it counts as failed.
MAX_RETRIES = 3
RAY_HINT = "pip install 'ptverify[ray]'"
#: How often a worker without ``PR_SET_PDEATHSIG`` checks that its parent lives (seconds):
#: the longest an orphaned worker runs on there.
PARENT_POLL_S = 0.5
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class EngineUnavailable(InputError):
    """The chosen engine cannot run here (e.g. Ray is not installed); the message says how
    to fix it. An InputError, so the command line reports it with exit code 2."""


def import_ray() -> ModuleType:
    """``import ray``, or EngineUnavailable naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise EngineUnavailable(
            f"--engine ray needs Ray, an optional extra of ptverify: {RAY_HINT}"
        ) from None
    return ray


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the process while a local pool ran. A KeyboardInterrupt, so it takes
    Ctrl-C's path: the pool terminates its workers, callers keep the results finished so
    far and the command line exits 130 (interrupted), never 0."""


class WorkerDied(RuntimeError):
    """A local worker process died (killed, out of memory) while running a task, on every
    attempt."""


@dataclass(frozen=True)
class Engine:
    """Where parallel work runs: ``name`` ("local" process pool, or "ray"), ``workers``
    (processes, or CPUs of a Ray runtime started here), ``address`` (join this Ray cluster)
    and ``threads`` (torch CPU threads per task; None: see :meth:`task_threads`). Invalid
    values are an InputError naming the flag."""

    name: str = "local"
    workers: int = 1
    address: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise InputError(f"--engine {self.name!r}: choose one of {', '.join(ENGINES)}")
        as_int(self.workers, "--workers", 1)
        if self.address is not None and self.name != "ray":
            raise InputError("--address joins a Ray cluster; it needs --engine ray")
        if self.threads is not None:
            as_int(self.threads, "--threads", 1)

    @classmethod
    def from_args(cls, args: object) -> Engine:
        """The engine of parsed CLI arguments (``--engine``, ``--workers``, ``--address``,
        ``--threads``; absent ones take the defaults)."""
        return cls(
            getattr(args, "engine", None) or "local", getattr(args, "workers", None) or 1,
            getattr(args, "address", None), getattr(args, "threads", None),
        )  # fmt: skip

    @property
    def parallel(self) -> bool:
        """Whether tasks leave this process (Ray, or more than one local worker)."""
        return self.name == "ray" or self.workers > 1

    def task_threads(self) -> int | None:
        """Torch CPU threads for each task: ``threads``, else ``cpu_count // workers`` on the
        local engine (spawned workers would each start with every core), else None (Ray)."""
        if self.threads is not None:
            return self.threads
        if self.name == "local":
            return max(1, (os.cpu_count() or 1) // self.workers)
        return None

    def run(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        max_retries: int = MAX_RETRIES,
        num_gpus: float = 0,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
    ) -> Stream[R]:
        """Yield ``(index, fn(tasks[index]) or its exception)`` as tasks finish.

        ``fn`` must be picklable (a module-level function, or a ``functools.partial`` of
        one) for process and Ray workers. ``initializer(*initargs)`` runs once in each local
        worker process before its first task (not in-process, not on Ray). ``num_gpus``:
        GPUs each Ray task reserves when the cluster has that many (0 on a cluster without
        GPUs, so the same call runs on CPUs); the local engine ignores it."""
        if self.name == "ray":
            return _run_ray(fn, tasks, self.workers, self.address, max_retries, num_gpus)
        if self.workers == 1 or len(tasks) <= 1:
            return _run_inline(fn, tasks)
        return _run_pool(fn, tasks, self.workers, max_retries, initializer, initargs)


def run_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    engine: str | Engine = "local",
    workers: int = 1,
    address: str | None = None,
    max_retries: int = MAX_RETRIES,
    num_gpus: float = 0,
) -> Stream[R]:
    """``Engine(engine, workers, address).run(fn, tasks, …)``; ``engine`` may also be an
    :class:`Engine` (then ``workers`` and ``address`` are ignored)."""
    eng = engine if isinstance(engine, Engine) else Engine(engine, workers, address)
    return eng.run(fn, tasks, max_retries=max_retries, num_gpus=num_gpus)


def _run_inline(fn: Callable[[T], R], tasks: Sequence[T]) -> Stream[R]:
    for i, task in enumerate(tasks):
        result: R | BaseException
        try:
            result = fn(task)
        except Exception as exc:  # noqa: BLE001 - reported per task, the rest still run
            result = exc
        yield i, result


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread, so the
    pool's ``finally`` stops the workers (SIGTERM's default action ends the process at once
    and runs no ``finally``). Only from the main thread (the only one that may set signal
    handlers) and only where SIGTERM has its default action: a handler the program set is
    left alone. The first SIGTERM raises; later ones are ignored until the block ends, so
    the cleanup itself is not cut short (the workers' watchdog covers a SIGKILL)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _die_with_parent(parent: int) -> None:
    """Make this worker process end when ``parent`` (the pid that started it) does, however
    it ends (SIGKILL runs no cleanup there): on Linux the kernel sends this process SIGKILL
    when its parent dies (``prctl(PR_SET_PDEATHSIG)``, needs no GIL, so it also stops a
    worker stuck in C code); elsewhere a daemon thread polls ``os.getppid()`` every
    :data:`PARENT_POLL_S` and exits when the parent changed (the orphan was re-parented)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if os.getppid() != parent:  # the parent died before prctl: no signal will come
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="ptverify-parent-watch", daemon=True).start()


def _worker_main(
    conn: Connection, parent: int, initializer: Callable[..., None] | None, initargs: tuple
) -> None:
    """A local worker: die with ``parent``, run ``initializer``, then ``(fn, task)``
    messages one at a time, answering ``(True, result)`` or ``(False, exception)``; stop on
    None or a closed pipe."""
    _die_with_parent(parent)
    try:
        if initializer is not None:
            initializer(*initargs)
        while (msg := conn.recv()) is not None:
            fn, task = msg
            try:
                answer = (True, fn(task))
            except Exception as exc:  # noqa: BLE001 - the task's own error, sent back
                answer = (False, exc)
            try:
                conn.send(answer)
            except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
                conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    except (EOFError, KeyboardInterrupt):
        pass  # the parent closed the pipe, or Ctrl-C reached the whole process group


class _Worker:
    def __init__(self, ctx: SpawnContext, initializer: Callable[..., None] | None, initargs: tuple):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, args=(child, os.getpid(), initializer, initargs), daemon=True
        )
        self.proc.start()
        child.close()

    def stop(self, force: bool) -> None:
        if force and self.proc.is_alive():
            self.proc.terminate()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.proc.join(timeout=None if not force else 5)
        self.conn.close()


def _run_pool(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    workers: int,
    max_retries: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Stream[R]:
    """The local pool, with SIGTERM turned into :class:`Terminated` while it runs."""
    with _sigterm_interrupts():
        yield from _pool(fn, tasks, workers, max_retries, initializer, initargs)


def _pool(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    workers: int,
    max_retries: int,
    initializer: Callable[..., None] | None,
    initargs: tuple,
) -> Stream[R]:
    ctx = multiprocessing.get_context("spawn")  # no fork after BLAS/torch threads started
    todo = deque(range(len(tasks)))
    attempts = [0] * len(tasks)
    idle: list[_Worker] = []
    busy: dict[_Worker, int] = {}
    finished = 0
    clean = False
    try:
        idle += [_Worker(ctx, initializer, initargs) for _ in range(min(workers, len(tasks)))]
        while finished < len(tasks):
            while idle and todo:
                w, i = idle.pop(), todo.popleft()
                attempts[i] += 1
                busy[w] = i
                try:
                    w.conn.send((fn, tasks[i]))
                except OSError:
                    pass  # the worker is already dead: its sentinel says so below
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
            for w in [w for w in busy if w.conn in ready or w.proc.sentinel in ready]:
                i = busy.pop(w)
                try:
                    ok, result = w.conn.recv()
                except (EOFError, OSError):  # died without answering: rerun its task
                    w.stop(force=True)
                    code = w.proc.exitcode
                    if attempts[i] > max_retries:
                        finished += 1
                        yield (
                            i,
                            WorkerDied(
                                f"task {i}: the worker process died (exit code {code}) on each "
                                f"of {attempts[i]} attempts"
                            ),
                        )
                    else:
                        todo.appendleft(i)
                    if todo:
                        idle.append(_Worker(ctx, initializer, initargs))
                    continue
                idle.append(w)
                finished += 1
                yield i, result
        clean = True
    finally:
        for w in [*idle, *busy]:
            w.stop(force=not clean)


def _call(fn: Callable[[T], R], task: T) -> R:
    return fn(task)


def _run_ray(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    workers: int,
    address: str | None,
    max_retries: int,
    num_gpus: float = 0,
) -> Stream[R]:
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        quiet = {"log_to_driver": False, "logging_level": "WARNING"}
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, **quiet)
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


__all__ = [
    "ENGINES",
    "MAX_RETRIES",
    "Engine",
    "EngineUnavailable",
    "Terminated",
    "WorkerDied",
    "import_ray",
    "run_tasks",
]
