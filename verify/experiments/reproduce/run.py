"""The entry point :func:`reproduce`: validate the preset and subset, run the panels
(serially or on an engine), write the outputs, warn about missed pretraining targets.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import torch

from verify.core.validation import InputError, as_int
from verify.experiments.authors import CONVENTIONS, check_convention
from verify.experiments.reproduce.outputs import (
    _curve_figure,
    _figure,
    _html,
    _write_csv,
    _write_json,
)
from verify.experiments.reproduce.panels import _log, _Runner
from verify.experiments.reproduce.presets import EXPERIMENTS, N_ORDINARY, PRESETS, Preset
from verify.harness.engines import Engine
from verify.recovery.training import (
    resolve_device,
)

logger = logging.getLogger("verify.experiments.reproduce")


def _parse_subset(
    experiments, ks, seeds
) -> tuple[tuple[str, ...], tuple[int, ...] | None, int | None]:
    if isinstance(experiments, str):
        experiments = (experiments,)
    experiments = tuple(experiments)
    bad = [x for x in experiments if x not in EXPERIMENTS]
    if bad or not experiments:
        raise InputError(f"experiments = {experiments!r}: use a subset of {EXPERIMENTS}")
    if ks is not None:
        ks = tuple(ks)
        if not ks:
            raise InputError("ks = (): give at least one hidden-state count, e.g. 8,20")
        ks = tuple(as_int(k, "ks", 1, note=" (hidden-state counts, e.g. 8,20)") for k in ks)
    if seeds is not None:
        seeds = as_int(seeds, "seeds", 1, note=" (the first N seeds)")
    return experiments, ks, seeds


def reproduce(
    preset: str | Preset,
    device: str = "auto",
    out_dir: Path | str = "reproduce",
    progress: bool = True,
    experiments: str | tuple[str, ...] = EXPERIMENTS,
    ks: tuple[int, ...] | None = None,
    seeds: int | None = None,
    threads: int | None = None,
    engine: str | Engine | None = None,
    workers: int = 1,
    address: str | None = None,
    convention: str = "theory",
) -> Path:
    """Run §8's experiments with the named preset ("smoke", "small", "paper", or a
    :class:`Preset`); write results.csv, pretraining.json, figure.png/svg, pretraining.png
    and index.html into ``out_dir``; return the path of index.html. MLM checkpoints go to
    ``out_dir/checkpoints`` (a rerun resumes them).

    A subset reruns one panel in minutes: ``experiments`` ("vanilla", "memory" or both),
    ``ks`` (only these hidden-state counts; memory k = m·4), ``seeds`` (the first N seeds
    of every panel). ``threads``: torch CPU threads for the run and for each engine task
    (default: torch's here, ``cpu_count // workers`` per task of a local engine); on a
    loaded machine 1 is several times faster than 2 (idle threads spin at every barrier).

    ``engine`` (an :class:`~verify.harness.engines.Engine`, or its name: "local" process
    pool of ``workers``, or "ray", joining ``address`` if given): the MLM pretrainings run
    first as parallel tasks (on Ray, one GPU each when the cluster has GPUs), then the
    panels run as parallel tasks too and resume the finished checkpoints. Results are
    identical to a serial run: each MLM is seeded by its own (kind, k, seed) and each panel
    by its seed.

    ``convention``: "theory" (THEORY's conventions), "authors" (the authors' pipeline,
    :mod:`verify.experiments.authors`) or "both" (theory, then authors; the page sets them
    side by side). results.csv's ``convention`` and ``input_len`` columns tell the rows
    apart."""
    experiments, ks, seeds = _parse_subset(experiments, ks, seeds)
    if convention == "both":
        conventions: tuple[str, ...] = CONVENTIONS
    else:
        conventions = (check_convention(convention),)
    if threads is not None:
        threads = as_int(threads, "threads", 1)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    if isinstance(engine, str):
        engine = Engine(engine, workers, address, threads)
    elif engine is not None and engine.threads is None and threads is not None:
        engine = replace(engine, threads=threads)
    try:
        return _reproduce(
            preset, device, out_dir, progress, experiments, ks, seeds,
            engine, conventions,
        )  # fmt: skip
    finally:
        torch.set_num_threads(before)


def _reproduce(
    preset, device, out_dir, progress, experiments, ks, seeds, engine, conventions=("theory",)
) -> Path:
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise InputError(f"preset = {preset!r} is unknown; use one of {sorted(PRESETS)}")
        preset = PRESETS[preset]
    elif not isinstance(preset, Preset):
        raise InputError(
            f"preset must be a name in {sorted(PRESETS)} or a Preset, got {type(preset).__name__}"
        )
    dev = str(resolve_device(device))
    need = preset.mlm_prompt_len + 1 + preset.length
    if preset.transformer_ks or preset.memory_transformer_seeds:
        if preset.mlm.max_len < max(need, preset.length):
            raise InputError(
                f"preset {preset.name}: mlm.max_len = {preset.mlm.max_len} must be ≥ "
                f"mlm_prompt_len + 1 + length = {need}"
            )
        if preset.memory_mlm and preset.memory_mlm.max_len < preset.length:
            raise InputError(
                f"preset {preset.name}: memory_mlm.max_len = {preset.memory_mlm.max_len} "
                f"must be ≥ length = {preset.length}"
            )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    runners = [
        _Runner(preset.with_convention(c), dev, out_dir, progress, experiments, ks, seeds)
        for c in conventions
    ]
    if not runners[0].jobs():
        raise InputError(
            f"the subset experiments={experiments}, ks={ks}, seeds={seeds} selects no panel "
            f"of preset {preset.name} (vanilla k: {preset.oracle_ks}; memory k: "
            f"{tuple(m * N_ORDINARY for m in preset.memory_ms)})"
        )
    rows, pretraining, robust, labels = [], [], [], []
    for runner in runners:
        _log(f"convention {runner.conv}", progress and len(runners) > 1)
        if engine is not None:
            runner.pretrain_all(engine)
            runner.run_parallel(engine)
        else:
            runner.run()
        rows += runner.rows
        pretraining += runner.pretraining
        robust += runner.robust
        labels += runner.labels
    first = runners[0]
    _write_csv(rows, out_dir / "results.csv")
    _write_json(
        {"pretraining": pretraining, "robust": robust, "labels": labels},
        out_dir / "pretraining.json",
    )
    png, _ = _figure(first.rows, out_dir)
    curve_png = _curve_figure(pretraining, out_dir)
    path = _html(
        first.rows,
        first.p,
        dev,
        time.perf_counter() - t0,
        png,
        out_dir,
        robust,
        pretraining,
        curve_png,
        all_rows=rows,
        labels=labels,
    )
    missed = [r for r in pretraining if not r["met"]]
    for r in missed:
        logger.warning(
            f"[reproduce] WARNING: pretraining MISSED its target: {_mlm_name(r)}: "
            f"TV {r['tv']:.4f} ± {r['tv_se']:.4f} (s.e., {r['tv_n']} inputs) "
            f"> {r['target']} after {r['steps']} steps "
            f"(final loss {r['final_loss']:.3f}): {r['why']}"
        )
    if missed:
        logger.warning(
            f"[reproduce] WARNING: {len(missed)} of {len(pretraining)} MLMs missed "
            "their TV target: " + "; ".join(f"{_mlm_name(r)} TV {r['tv']:.4f}" for r in missed)
        )
    _log(f"done in {time.perf_counter() - t0:.0f}s: {path}", progress)
    return path


def _mlm_name(rec: dict) -> str:
    """``vanilla MLM k=30 seed=1`` (``… (authors)`` for a record of that convention)."""
    conv = rec.get("convention", "theory")
    return f"{rec['mlm']} MLM k={rec['k']} seed={rec['seed']}" + (
        f" ({conv})" if conv != "theory" else ""
    )
