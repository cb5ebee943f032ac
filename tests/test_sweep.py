"""`ptverify sweep` without Ray: grid parsing, Wilson intervals, seeding by coordinates,
the per-instance cross-checks, resume, and the local engines (tests/test_ray.py has Ray)."""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import signal
import sys
import time

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from verify.cli import main
from verify.experiments import sweep
from verify.experiments.sweep.report import write_sweep_report
from verify.harness import engines

DECISIONS = ("status", "c_head", "c_head_mu", "c_prompt", "head_lp", "prompt_lp", "prompt_source")


def decisions(rows: list[dict]) -> list[tuple]:
    return [(r["cell"], r["instance"], *(r[c] for c in DECISIONS)) for r in rows]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2,4,6", (2, 4, 6)),
        ("6, 2,4,2", (2, 4, 6)),
        ("2:5", (2, 3, 4, 5)),
        ("2:30:14", (2, 16, 30)),
    ],
)
def test_integer_lists_and_inclusive_ranges(text, want):
    assert sweep.parse_int_list(text, "--k", 2, 64) == want


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"k": "2,x"}, "--k"),
        ({"k": "1,2"}, "--k"),  # below the range
        ({"n": "5:3"}, "--n"),  # empty range
        ({"n": "2:9:0"}, "--n"),  # zero step
        ({"T": ""}, "--T"),
        ({"instances": 0}, "--instances"),
        ({"seed": "-1"}, "--seed"),
        ({"generator": "paper"}, "--generator"),
        ({"sparsity": "-0.5"}, "--sparsity"),
        ({"sparsity": "dense"}, "--sparsity"),  # applies to strategies only
        ({"sparsity": "wavy"}, "--sparsity"),
        ({"prompts": "all"}, "--prompts"),
    ],
)
def test_bad_grid_values_raise_value_error_naming_the_flag(kwargs, flag):
    with pytest.raises(ValueError, match=flag):
        sweep.make_config(**kwargs)


def test_bad_grid_on_the_command_line_exits_2_naming_the_flag(tmp_path, capsys):
    assert main(["sweep", "--k", "2,x", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--k" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing written for a bad grid


def test_sparsity_values_go_to_the_generators_they_apply_to():
    cfg = sweep.make_config(
        generator="reference,strategies", k="3", n="3", sparsity="0.01,1e-1,dense"
    )
    got = {(c.generator, c.sparsity) for c in cfg.cells()}
    assert got == {("reference", "0.01"), ("reference", "0.1"), ("strategies", "dense")}


def test_toml_grid_with_command_line_overrides(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('instances = 5\nseed = 9\n[grid]\nk = [2, 3]\nn = "2:4"\nT = [1]\n')
    cfg = sweep.load_toml(path, {"k": "4", "seed": None})
    assert (cfg.k, cfg.n, cfg.T, cfg.instances, cfg.seed) == ((4,), (2, 3, 4), (1,), 5, 9)
    path.write_text("[grid]\nkk = [2]\n")
    with pytest.raises(ValueError, match="grid.kk"):
        sweep.load_toml(path)
    path.write_text("[grid]\nk = [2, 100]\n")
    with pytest.raises(ValueError, match=r"grid\.k in grid\.toml"):
        sweep.load_toml(path)


def test_missing_ray_is_a_usage_error_naming_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(engines.EngineUnavailable, match=r"pip install 'ptverify\[ray\]'"):
        engines.import_ray()
    argv = ["sweep", "--k", "2", "--n", "2", "--T", "1", "--instances", "1", "--engine", "ray"]
    assert main([*argv, "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert "ptverify[ray]" in capsys.readouterr().err


# --------------------------------------------------------------------------- Wilson


def test_wilson_interval_known_value_and_independent_route():
    # 8 of 10 at 95%: (0.4902, 0.9433) (Wilson 1927; Newcombe 1998, Table I method 3).
    lo, hi = sweep.wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=5e-5) and hi == pytest.approx(0.9433, abs=5e-5)
    # Independent route: the interval's ends are the roots of (x/n − p)² = z² p(1 − p)/n.
    z = norm.ppf(0.975)
    for x, n in ((0, 12), (3, 7), (12, 12), (50, 100), (1, 1000)):
        lo, hi = sweep.wilson_interval(x, n)
        f = lambda p, x=x, n=n: (x / n - p) ** 2 - z * z * p * (1 - p) / n  # noqa: E731
        want_lo = 0.0 if x == 0 else brentq(f, 0.0, min(x / n, 1 - 1e-9))
        want_hi = 1.0 if x == n else brentq(f, max(x / n, 1e-9), 1.0)
        assert lo == pytest.approx(want_lo, abs=1e-12) and hi == pytest.approx(want_hi, abs=1e-12)
    assert all(math.isnan(v) for v in sweep.wilson_interval(0, 0))
    with pytest.raises(ValueError, match="successes"):
        sweep.wilson_interval(3, 2)


# --------------------------------------------------------------------------- instances


def test_instances_are_seeded_by_cell_coordinates_not_by_grid_or_order():
    small = sweep.make_config(k="3", n="3", T="2", instances=3, seed=5)
    large = sweep.make_config(k="2,3,4", n="2,3", T="2", instances=3, seed=5)
    cell = small.cells()[0]
    assert cell in large.cells()
    a = sweep.reference_instances(cell, 3, 5)
    b = sweep.reference_instances(cell, 3, 5)
    assert all(np.array_equal(x[0].transition, y[0].transition) for x, y in zip(a, b, strict=True))
    # Other seed or other cell: other instances.
    c = sweep.reference_instances(cell, 3, 6)
    assert not np.array_equal(a[0][0].transition, c[0][0].transition)
    # A cell with the same model shape but another task axis: another stream of models.
    other = sweep.Cell("reference", 3, 3, 2, "0.01", 5)
    d = sweep.reference_instances(other, 1, 5)
    assert not np.array_equal(a[0][0].transition, d[0][0].transition)


def test_reference_instance_matches_the_paper_generator_seeded_by_coordinates():
    from verify.core.generator import reference_hmm, reference_task, task_mu

    cell = sweep.Cell("reference", 4, 3, 2, "0.1", 6)
    (hmm, mu, xs), *_ = sweep.reference_instances(cell, 1, 11)
    ss = np.random.SeedSequence(11, spawn_key=(cell.seed_key, 0)).spawn(3)
    assert np.array_equal(hmm.emission, reference_hmm(ss[0], 4, 3, 0.1, 0.01).emission)
    assert np.array_equal(mu, task_mu(reference_task(ss[1], 4, 6)))
    assert xs.shape == (9, 2)  # exhaustive [3]^2


def test_strategy_cells_are_deterministic_and_cross_checked():
    """Strategies instances are exact (small-integer ratios), so the theorems' witnesses must
    agree with the LP: C-HEAD ⇒ the head LP recovers (Thm 3.3); C-PROMPT ⇒ the witness's own
    head gives the labels and the prompt LP recovers (Thm 3.6); prompt_only ⇒ LP-certified."""
    task = sweep.CellTask(sweep.Cell("strategies", 4, 3, 2, "permutation", 3), 8, 1)
    first, second = sweep.run_cell(task), sweep.run_cell(task)
    assert decisions(first.rows) == decisions(second.rows)
    ok = [r for r in first.rows if r["status"] == "ok"]
    assert len(ok) >= 6
    for r in ok:
        if r["c_head"]:
            assert r["c_head_mu"] and r["head_lp"] == "recoverable"
        if r["c_prompt"]:
            assert r["prompt_witness_exact"] and r["prompt_lp"] == "recoverable"
        if r["prompt_only"]:
            assert r["prompt_recovers"] and r["head_lp"] == "not_recoverable"
        assert r["prompt_recovers"] == (r["prompt_lp"] == "recoverable")


def test_ill_posed_instances_are_discarded_not_counted():
    from verify.core.models import HMM

    hmm = HMM([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]])
    row = sweep.evaluate_instance(hmm, np.array([1.0, -1.0]), np.array([[0], [1]]))
    assert row["status"] == "discarded" and "γ" in row["message"]
    full = sweep._complete({**row, "generator": "x", "cell": "c"}, 0.0)
    summary = sweep.summarize([full])[0]
    assert summary["discarded"] == 1 and summary["head_recovers"]["trials"] == 0
    want = {"successes": 0, "trials": 1, "fraction": 0.0, "low": 0.0}
    assert summary["resolved"] == {**want, "high": pytest.approx(0.7935, abs=1e-4)}


# --------------------------------------------------------------------------- resume


def _boom_on_k3(task: sweep.CellTask) -> sweep.CellResult:
    if task.cell.k == 3:
        raise RuntimeError("injected failure")
    return sweep.run_cell(task)


def test_resume_skips_finished_cells_and_retries_failed_ones(tmp_path):
    cfg = sweep.make_config(k="2,3", n="2,3", T="1", instances=2, seed=4)
    out = tmp_path / "sweep"
    first = sweep.run_sweep(cfg, out, progress=False, cell_fn=_boom_on_k3)
    assert {c.k for c, _ in first.failed} == {3} and len(first.computed) == 2
    assert "injected failure" in first.failed[0][1]
    kept = sorted(p.name for p in (out / "cells").iterdir())
    assert len(kept) == 2  # the finished cells are on disk
    second = sweep.run_sweep(cfg, out, progress=False)
    assert {c.k for c in second.computed} == {3} and len(second.skipped) == 2
    third = sweep.run_sweep(cfg, out, progress=False)
    assert third.computed == [] and len(third.skipped) == 4
    fresh = sweep.run_sweep(cfg, tmp_path / "fresh", progress=False)
    assert decisions(third.rows) == decisions(fresh.rows)
    # Another seed in the same folder is refused, not mixed in.
    with pytest.raises(ValueError, match="--out"):
        sweep.run_sweep(sweep.make_config(k="2", n="2", T="1", instances=2, seed=5), out)


def test_report_files_and_escaped_html(tmp_path):
    cfg = sweep.make_config(k="2,3", n="2", T="1", instances=2, seed=4)
    done = sweep.run_sweep(cfg, tmp_path, progress=False)
    summary = sweep.summarize(done.rows)
    page = write_sweep_report(
        tmp_path, cfg, summary, n_rows=len(done.rows), failed=[(done.computed[0], "<script>")]
    )
    html = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert (tmp_path / "heatmaps" / "prompt_only__reference_T1_s0.01_z6.png").stat().st_size > 0
    doc = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert [c["k"] for c in doc["cells"]] == [2, 3]
    header = (tmp_path / "summary.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "prompt_only_low" in header


# --------------------------------------------------------------------------- engines


def test_local_pool_gives_the_same_decisions_as_one_process(tmp_path):
    cfg = sweep.make_config(k="2,4", n="3", T="2", instances=3, seed=8, prompts="states")
    one = sweep.run_sweep(cfg, tmp_path / "one", workers=1, progress=False)
    two = sweep.run_sweep(cfg, tmp_path / "two", workers=2, progress=False)
    assert decisions(one.rows) == decisions(two.rows)
    assert [r["gamma"] for r in one.rows] == [r["gamma"] for r in two.rows]


def test_engine_argument_errors():
    with pytest.raises(ValueError, match="--engine"):
        engines.run_tasks(abs, [1], engine="dask")
    with pytest.raises(ValueError, match="--workers"):
        engines.run_tasks(abs, [1], workers=0)
    with pytest.raises(ValueError, match="--address"):
        engines.run_tasks(abs, [1], address="ray://x:1")
    got = dict(engines.run_tasks(abs, [-1, "x", -3]))
    assert got[0] == 1 and got[2] == 3 and isinstance(got[1], TypeError)


def _die_once(marker: str, task: int) -> int:
    """Kill this worker process (SIGKILL) the first time task 1 runs."""
    import os
    import signal

    if task == 1:
        try:
            with open(marker, "x", encoding="utf-8"):
                pass
        except FileExistsError:
            return task * 10
        os.kill(os.getpid(), signal.SIGKILL)
    return task * 10


def test_local_pool_reruns_the_task_of_a_killed_worker(tmp_path):
    import functools

    marker = tmp_path / "killed"
    got = dict(engines.run_tasks(functools.partial(_die_once, str(marker)), [0, 1, 2], workers=2))
    assert marker.exists()
    assert got == {0: 0, 1: 10, 2: 20}


def test_a_damaged_cell_file_is_named_and_recomputed(tmp_path, caplog):
    """A cell's Parquet file cut to its first 100 bytes (or not Parquet at all) is reported
    by name and recomputed on resume, giving the undamaged rows; never an internal error."""
    cfg = sweep.make_config(k="2,3", n="2", T="1", instances=2, seed=4)
    out = tmp_path / "sweep"
    first = sweep.run_sweep(cfg, out, progress=False)
    cut, junk = (sweep.cell_path(out, c) for c in first.computed)
    cut.write_bytes(cut.read_bytes()[:100])
    junk.write_text("not parquet", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="verify")
    again = sweep.run_sweep(cfg, out, progress=False)
    assert sorted(c.key for c in again.computed) == sorted(c.key for c in first.computed)
    assert again.skipped == []
    assert str(cut) in caplog.text and str(junk) in caplog.text and "damaged" in caplog.text
    assert decisions(again.rows) == decisions(first.rows)
    assert sweep.load_cell(out, first.computed[0]) is not None  # rewritten whole


def _slow_cell(task: sweep.CellTask) -> sweep.CellResult:
    time.sleep(0.4)
    return sweep.run_cell(task)


def _sweep_in_child(cfg: sweep.SweepConfig, out: str) -> None:
    sweep.run_sweep(cfg, out, progress=False, cell_fn=_slow_cell)


def test_kill_9_mid_sweep_then_resume_gives_the_same_rows_once(tmp_path):
    """SIGKILL the sweep process after its first cells landed; the resumed sweep's rows equal
    an uninterrupted sweep's, each (cell, instance) exactly once."""
    cfg = sweep.make_config(k="2,3,4,5,6,7", n="2,3", T="1", instances=2, seed=6)
    out = tmp_path / "killed"
    child = multiprocessing.get_context("spawn").Process(
        target=_sweep_in_child, args=(cfg, str(out))
    )
    child.start()
    cells = out / "cells"
    deadline = time.monotonic() + 120
    while not (cells.is_dir() and list(cells.glob("*.parquet"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    landed = len(list(cells.glob("*.parquet")))
    assert 0 < landed < len(cfg.cells()), landed  # really killed mid-sweep
    resumed = sweep.run_sweep(cfg, out, progress=False)
    assert len(resumed.skipped) == landed and len(resumed.computed) == len(cfg.cells()) - landed
    keys = [(r["cell"], r["instance"]) for r in resumed.rows]
    assert len(keys) == len(set(keys))
    fresh = sweep.run_sweep(cfg, tmp_path / "fresh", progress=False)
    assert decisions(resumed.rows) == decisions(fresh.rows)
