"""Sweep throughput per engine: instances/s per core for the local engine at 1 worker (the
baseline, in this process) and 2 workers (spawned pool), and Ray on a two-node cluster on
this machine (one CPU per node); Ray's overhead per task (no-op tasks), the scaling
efficiency, and the results file: Parquet against CSV (size, write and read time).

Every figure is printed as a ratio against the 1-worker local run measured in the same
process; every engine must give identical decisions (checked, not assumed). Printed, never
asserted: speed is not a unit test. Wall times include starting the workers (spawn and
imports) but not starting the Ray cluster, which is reported on its own line.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
import time
from pathlib import Path

from verify.experiments.sweep import CellTask, make_config, rows_to_table, run_cell
from verify.harness.engines import run_tasks

#: The workload: reference generator, T = 2, the states prompt search.
GRID = {"k": "4,8,12,16", "n": "4,8", "T": "2", "prompts": "states"}
INSTANCES = {True: 4, False: 48}
NOOP_TASKS = {True: 40, False: 200}


def _noop(task: int) -> int:
    return task


def _run(tasks: list[CellTask], **engine) -> tuple[float, list[tuple], list[dict]]:
    t0 = time.perf_counter()
    results = dict(run_tasks(run_cell, tasks, **engine))
    wall = time.perf_counter() - t0
    bad = [r for r in results.values() if isinstance(r, BaseException)]
    if bad:
        raise RuntimeError(f"bench sweep: a cell failed: {bad[0]!r}")
    cells = [r for _, r in sorted(results.items()) if not isinstance(r, BaseException)]  # all
    rows = [row for c in cells for row in c.rows]
    keys = ("cell", "instance", "status", "c_head", "c_prompt", "head_lp", "prompt_lp")
    return wall, [tuple(r[k] for k in keys) for r in rows], rows


def _storage(rows: list[dict], copies: int) -> None:
    """Parquet (pyarrow, default compression) vs CSV (float repr, exact) of ``copies`` × rows."""
    import numpy as np
    import pyarrow.parquet as pq

    # Copies with every float perturbed, so the floats are as distinct as in a real sweep
    # (plain copies would flatter Parquet's dictionary encoding).
    rng = np.random.default_rng(0)
    many = [
        {
            k: v * (1 + 1e-3 * rng.standard_normal()) if isinstance(v, float) else v
            for k, v in r.items()
        }
        for _ in range(copies)
        for r in rows
    ]
    table = rows_to_table(many)
    with tempfile.TemporaryDirectory() as tmp:
        pq_path, csv_path = Path(tmp, "r.parquet"), Path(tmp, "r.csv")
        t0 = time.perf_counter()
        pq.write_table(table, pq_path)
        t_pw = time.perf_counter() - t0
        t0 = time.perf_counter()
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(many[0]))
        w.writeheader()
        w.writerows({k: repr(v) if isinstance(v, float) else v for k, v in r.items()} for r in many)
        csv_path.write_text(buf.getvalue(), encoding="utf-8")
        t_cw = time.perf_counter() - t0
        t0 = time.perf_counter()
        pq.read_table(pq_path).to_pylist()
        t_pr = time.perf_counter() - t0
        t0 = time.perf_counter()
        with open(csv_path, encoding="utf-8") as fh:
            list(csv.DictReader(fh))  # strings only: typing them back would cost more
        t_cr = time.perf_counter() - t0
        size_p, size_c = pq_path.stat().st_size, csv_path.stat().st_size
    print(f"bench sweep: results file, {len(many)} rows × {table.num_columns} columns")
    print(f"  Parquet {size_p / 1e6:7.2f} MB  write {t_pw:6.3f} s  read (typed) {t_pr:6.3f} s")
    print(f"  CSV     {size_c / 1e6:7.2f} MB  write {t_cw:6.3f} s  read (strings) {t_cr:6.3f} s")
    print(
        f"  CSV / Parquet: size {size_c / size_p:.1f}×, write {t_cw / t_pw:.1f}×, "
        f"read {t_cr / t_pr:.1f}×"
    )


def run(quick: bool = False) -> None:
    cfg = make_config(
        k=GRID["k"], n=GRID["n"], T=GRID["T"], prompts=GRID["prompts"],
        instances=INSTANCES[quick], seed=0,
    )  # fmt: skip
    tasks = [CellTask(c, cfg.instances, cfg.seed, cfg.prompts) for c in cfg.cells()]
    n_inst = len(tasks) * cfg.instances
    print(
        f"bench sweep: {len(tasks)} cells × {cfg.instances} instances (reference, k "
        f"{GRID['k']}, n {GRID['n']}, T 2, prompts states); {os.cpu_count()} CPUs here"
    )
    run_cell(tasks[0])  # imports and solver set-up, outside every timing
    base, want, rows = _run(tasks, engine="local", workers=1)
    rate1 = n_inst / base
    print(f"  local, 1 worker : {base:7.2f} s  {rate1:7.2f} instances/s/core  (baseline)")
    # Start-up of a 2-process pool (spawn, imports, solver set-up): two one-instance cells.
    tiny = [CellTask(c, 1, cfg.seed, cfg.prompts) for c in cfg.cells()[:2]]
    startup, _, _ = _run(tiny, engine="local", workers=2)
    print(f"  local pool start-up (2 workers, 2 one-instance cells): {startup:.2f} s")
    wall, got, _ = _run(tasks, engine="local", workers=2)
    rate = n_inst / wall / 2
    steady = n_inst / max(wall - startup, 1e-9) / 2
    print(
        f"  local, 2 workers: {wall:7.2f} s  {rate:7.2f} instances/s/core  "
        f"speed-up {base / wall:.2f}×, efficiency {rate / rate1:.2f} "
        f"({steady / rate1:.2f} without start-up)  "
        f"decisions {'identical' if got == want else 'DIFFER'}"
    )
    try:
        import ray
        from ray.cluster_utils import Cluster
    except ImportError:
        print("  ray: not installed (pip install 'ptverify[ray]'); skipped")
        _storage(rows, 100_000 // len(rows))
        return
    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.WARNING)
    cluster.wait_for_nodes()
    print(f"  ray: two-node cluster (1 CPU each) started in {time.perf_counter() - t0:.1f} s")
    try:
        n_noop = NOOP_TASKS[quick]
        dict(run_tasks(_noop, list(range(4)), engine="ray"))  # warm the worker pool
        t0 = time.perf_counter()
        dict(run_tasks(_noop, list(range(n_noop)), engine="ray"))
        per_task = (time.perf_counter() - t0) / n_noop
        wall, got, _ = _run(tasks, engine="ray")
        rate = n_inst / wall / 2
        print(
            f"  ray, 2 nodes    : {wall:7.2f} s  {rate:7.2f} instances/s/core  "
            f"speed-up {base / wall:.2f}×, efficiency {rate / rate1:.2f}  "
            f"decisions {'identical' if got == want else 'DIFFER'}"
        )
        cell_s = base / len(tasks)
        print(
            f"  ray overhead per task (no-op, {n_noop} tasks): {per_task * 1e3:.1f} ms "
            f"= {per_task / cell_s:.4f} of a mean cell ({cell_s:.2f} s at 1 worker)"
        )
    finally:
        ray.shutdown()
        cluster.shutdown()
    _storage(rows, 100_000 // len(rows))


if __name__ == "__main__":
    run()
