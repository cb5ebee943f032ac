"""The Ray engine on a real two-node cluster on this machine (``ray.cluster_utils.Cluster``,
one CPU per node), shared by the module: Ray's start-up costs tens of seconds.

The module takes about 40 s on 2 loaded cores (cluster start-up included), so it is part of
the suite; ``nox -s ray`` runs it alone. Needs the extra, ``pip install -e '.[dev,ray]'``
(CI installs it); without Ray the module is reported skipped, never passed.
"""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path

import pytest

from verify.experiments import sweep

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")
pytestmark = pytest.mark.ray

DECISIONS = ("status", "c_head", "c_head_mu", "c_prompt", "head_lp", "prompt_lp", "prompt_source")


def decisions(rows: list[dict]) -> list[tuple]:
    return [(r["cell"], r["instance"], *(r[c] for c in DECISIONS), r["gamma"]) for r in rows]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    # Workers import this worktree's code: they get the driver's sys.path and cwd.
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    ray.init(address=c.address, log_to_driver=False, logging_level="WARNING")
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


def _kill_worker_once(marker: str, task: sweep.CellTask) -> sweep.CellResult:
    """On the first attempt at cell k = 3, kill this worker process outright (SIGKILL: no
    exception, no cleanup — what an OOM kill or a lost node looks like)."""
    if task.cell.k == 3:
        try:
            with open(marker, "x", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()}\n")
        except FileExistsError:
            pass
        else:
            os.kill(os.getpid(), signal.SIGKILL)
    return sweep.run_cell(task)


def _record_node(folder: str, task: sweep.CellTask) -> sweep.CellResult:
    node = ray.get_runtime_context().get_node_id()
    Path(folder, task.cell.file_id).write_text(node, encoding="utf-8")
    return sweep.run_cell(task)


CONFIG = sweep.make_config(k="2,3,4", n="2,3", T="2", instances=3, seed=13, prompts="states")


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory):
    return sweep.run_sweep(CONFIG, tmp_path_factory.mktemp("local"), progress=False).rows


def test_two_node_cluster_is_up(cluster):
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert len(nodes) == 2 and ray.cluster_resources()["CPU"] == 2


def test_ray_sweep_decides_exactly_as_the_local_engine(cluster, local_rows, tmp_path):
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    fn = functools.partial(_record_node, str(nodes))
    done = sweep.run_sweep(CONFIG, tmp_path / "out", engine="ray", progress=False, cell_fn=fn)
    assert not done.failed and len(done.computed) == len(CONFIG.cells())
    assert decisions(done.rows) == decisions(local_rows)
    # Both nodes took cells (one CPU each, six cells).
    assert len({p.read_text() for p in nodes.iterdir()}) == 2


def test_a_killed_worker_cell_is_retried_not_lost(cluster, local_rows, tmp_path):
    marker = tmp_path / "killed.pid"
    fn = functools.partial(_kill_worker_once, str(marker))
    done = sweep.run_sweep(CONFIG, tmp_path / "out", engine="ray", progress=False, cell_fn=fn)
    assert marker.exists(), "the first attempt did not run (nothing was killed)"
    assert not done.failed and len(done.computed) == len(CONFIG.cells())
    assert decisions(done.rows) == decisions(local_rows)
    assert Path(tmp_path / "out" / "results.parquet").stat().st_size > 0


def test_reproduce_pretrains_its_mlms_as_ray_tasks(cluster, tmp_path):
    """``reproduce --engine ray``: every MLM is a Ray task (no GPU on this cluster, so
    ``num_gpus`` falls back to 0 instead of waiting forever), and the results equal a serial
    run's, since each MLM is seeded by its own (kind, k, seed)."""
    import csv

    import torch

    from tests.test_reproduce import TINY
    from verify.experiments.reproduce import reproduce

    torch.set_num_threads(1)

    def table(folder):
        with open(folder / "results.csv") as f:
            return [(r["method"], r["backbone"], r["accuracy"], r["tv"]) for r in csv.DictReader(f)]

    serial, par = tmp_path / "serial", tmp_path / "ray"
    reproduce(TINY, device="cpu", out_dir=serial, progress=False, ks=(4, 8), seeds=1)
    reproduce(TINY, device="cpu", out_dir=par, progress=False, ks=(4, 8), seeds=1,
              engine="ray", workers=2, address=cluster.address)  # fmt: skip
    assert table(par) == table(serial)


@pytest.mark.slow
def test_prove_on_ray_decides_exactly_as_the_local_engine(cluster, tmp_path):
    """``prove --engine ray``: chunks are Ray tasks on both nodes; every record (status,
    counts, smallest witness/counterexample) equals a one-process run's."""
    from tests.test_prove import HMM_IDS, _decisions
    from verify.crosscheck.scope import Scope
    from verify.harness.engines import Engine
    from verify.harness.prove import prove

    scope = Scope((2,), (2, 3), (1, 2), 2)
    local = prove(HMM_IDS, scope, tmp_path / "local", chunk_size=200)
    remote = prove(HMM_IDS, scope, tmp_path / "ray", engine=Engine("ray", 2, cluster.address),
                   chunk_size=200)  # fmt: skip
    assert not remote.totals["chunks_failed"]
    assert _decisions(remote.records) == _decisions(local.records)
