"""``reproduce``: the paper's two experiments (THEORY.md §8), oracle and transformer side by side.

- **vanilla**: reference HMMs with k hidden states (n = 10 tokens); head tuning (linear
  probe on the mask probe) vs prompt tuning (soft prompt + probe), across k.
- **memory**: memory HMMs (s = 4 ordinary states × m values, k = m·s) with an attention
  head over positions (and mean pooling, on the oracle) vs a vanilla HMM with the same k
  and a linear head.

Each runs on two backbones: ``oracle`` (exact inference, :mod:`verify.inference`) and
``transformer`` (a :class:`~verify.mlm.MaskedLM` pretrained on text from the same model).
Writes ``results.csv``, ``figure.png``/``figure.svg`` and ``index.html`` into ``out_dir``.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from verify.files import atomic_path, atomic_write
from verify.reports.pages import write_page
from verify.validation import InputError, as_int

from .inference import loo_conditionals, mask_probe, memory_posterior, posterior_h0
from .mlm import (
    MLMConfig,
    head_robust_check,
    mask_distribution,
    mean_tv,
    position_distributions,
    pretrain_mlm,
    train_prompt_mlm,
)
from .models import HMM, MemoryHMM
from .progress import bar as progress_bar
from .reference import (
    reference_hmm,
    reference_memory_hmm,
    reference_memory_task,
    reference_task,
    task_mu,
)
from .training import (
    Split,
    Splits,
    TrainConfig,
    resolve_device,
    train_attention,
    train_attention_on_features,
    train_linear_head,
    train_on_features,
    train_pooling,
    train_prompt,
)

logger = logging.getLogger(__name__)

N_TOKENS = 10
N_ORDINARY = 4
COLUMNS = (
    "experiment",
    "k",
    "seed",
    "method",
    "backbone",
    "accuracy",
    "train_accuracy",
    "val_accuracy",
    "majority",
    "n",
    "m",
    "tv",
    "robust_fraction",
    "robust_violations",
    "epochs",
    "wall_time_s",
)
EXPERIMENTS = ("vanilla", "memory")


@dataclass(frozen=True)
class Preset:
    """Sizes of one ``reproduce`` run (see :data:`PRESETS`).

    ``tv_targets``: ``((k_max, TV), …)`` ascending in k_max, the mean TV of the mask probe
    to the oracle a vanilla MLM must reach for k ≤ k_max (the last entry covers every larger
    k); ``memory_tv_target``: the same for the memory MLM's per-position outputs against
    ``G_i(x)``. A pretraining that misses its target is reported on stderr and on the page.
    ``mlm``: the vanilla MLM, whose job is the mask probe (short windows, mostly probe-only
    masks); ``memory_mlm``: the memory MLM, whose job is every position's conditional
    (long windows so the memory value can be inferred, interior masks; None: ``mlm``).
    ``mlm_steps``: ``((k_max, steps), …)`` ascending, the vanilla MLM's steps for k ≤ k_max
    (the last entry covers every larger k; empty: ``mlm.steps``), since larger k needs more.
    The schedules were calibrated from measured tokens/s (see the comment at each preset)."""

    name: str
    length: int  # downstream input length T
    n_train: int
    n_val: int
    n_test: int
    oracle_ks: tuple[int, ...]
    oracle_seeds: int
    transformer_ks: tuple[int, ...]
    transformer_seeds: int
    memory_ms: tuple[int, ...]
    memory_oracle_seeds: int
    memory_transformer_seeds: int
    oracle_prompt_len: int
    mlm_prompt_len: int
    mlm: MLMConfig
    train: TrainConfig
    prompt_lr: float = 0.1
    memory_mlm: MLMConfig | None = None
    mlm_steps: tuple[tuple[int, int], ...] = ()
    tv_targets: tuple[tuple[int, float], ...] = ((12, 0.02), (30, 0.05))
    memory_tv_target: float = 0.05

    def tv_target(self, k: int) -> float:
        """The TV target for a vanilla MLM with k hidden states."""
        return _by_k(self.tv_targets, k)

    def mlm_config(self, kind: str, k: int, seed: int) -> MLMConfig:
        """The MLMConfig of the run's ``kind`` ("vanilla" or "memory") MLM with k hidden
        states and this seed."""
        if kind == "memory" and self.memory_mlm is not None:
            return replace(self.memory_mlm, seed=seed, eval_len=self.length)
        steps = _by_k(self.mlm_steps, k) if self.mlm_steps else self.mlm.steps
        return replace(self.mlm, seed=seed, eval_len=self.length, steps=steps)


def _by_k(table: tuple[tuple[int, Any], ...], k: int) -> Any:
    """The value of the first ``(k_max, value)`` entry with k ≤ k_max (else the last)."""
    for k_max, value in table:
        if k <= k_max:
            return value
    return table[-1][1]


def _mlm(window: int, **kw: Any) -> MLMConfig:
    """A preset's vanilla MLM: pretraining windows of up to ``window`` tokens, as many
    positions (``max_len = window``); ``kw`` sets the rest."""
    return MLMConfig(max_len=window, seq_len=window, **kw)


def _memory_mlm(mlm: MLMConfig, **kw: Any) -> MLMConfig:
    """A preset's memory MLM: the vanilla MLM's encoder and optimiser on long windows
    (``[seq_len/2, seq_len]``, so the memory value can be inferred) with interior masks
    only (every position's conditional is asked, none is a probe); ``kw`` sets the rest."""
    return replace(mlm, min_len=mlm.seq_len // 2, probe_share=0.0, mask_first=False, **kw)


# small's recipe (short windows + EMA for the vanilla MLM) at CI size: 500 steps × ~770
# tokens (24·32/L windows)
_SMOKE_MLM = _mlm(
    32, d_model=32, n_layers=2, n_heads=2, d_ff=64, min_len=6, probe_share=0.85,
    steps=500, batch_size=24, lr=3e-3, ema=0.99, checkpoint_every=100,
    eval_every=50, eval_size=128, eval_len=24,
)  # fmt: skip
# ~60k tokens/s per MLM with 1 thread, two MLMs at once on an idle 2-core CPU.
# vanilla: 3500 steps × ~1900 tokens (24·80/L windows of L ∈ [6, 80]) ≈ 6.7M tokens,
# ~110 s (6000 steps, ~190 s, for k > 12); memory: 2500 steps of [40, 80]-token
# windows ≈ 4.8M tokens, ~80 s. 20 MLMs + 65 panels: 28 min measured with 2 workers.
_SMALL_MLM = _mlm(
    80, d_model=64, n_layers=2, n_heads=4, d_ff=128, min_len=6, probe_share=0.85,
    steps=3500, batch_size=24, lr=3e-3, ema=0.998, checkpoint_every=500,
    eval_every=250, eval_size=256, eval_len=64,
)  # fmt: skip
# not yet measured on a GPU: 2500 steps × ~41k tokens (256·160/L windows of
# L ∈ [8, 160]) ≈ 100M tokens, ~35 s per MLM if the bf16 encoder sustains ~3M
# tokens/s on one large GPU; 165 MLMs (20 seeds) then take ~1.6 h on one GPU, an
# hour on two. scripts/device-check.sh measures it. The recipe is small's scaled up.
_PAPER_MLM = _mlm(
    160, d_model=128, n_layers=4, n_heads=4, d_ff=512, min_len=8, probe_share=0.85,
    steps=2500, batch_size=256, lr=1e-3, ema=0.999, checkpoint_every=1000,
    eval_every=500, eval_size=512, eval_len=128,
)  # fmt: skip


# One field group per line, so the presets read side by side: downstream data; vanilla
# panels (ks, seeds per k; oracle then transformer); memory panels; prompt lengths; the
# MLMs (above); head training; TV targets.
PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", length=24, n_train=400, n_val=150, n_test=300,
        oracle_ks=(4, 8, 12, 20, 30), oracle_seeds=3, transformer_ks=(8, 20), transformer_seeds=1,
        memory_ms=(2, 5), memory_oracle_seeds=2, memory_transformer_seeds=1,
        oracle_prompt_len=2, mlm_prompt_len=4,
        mlm=_SMOKE_MLM, memory_mlm=_memory_mlm(_SMOKE_MLM, eval_size=64),
        train=TrainConfig(lr=0.05, batch_size=100, max_epochs=40, patience=8),
        tv_targets=((12, 0.05), (30, 0.15)), memory_tv_target=0.06,
    ),
    "small": Preset(
        name="small", length=64, n_train=1500, n_val=300, n_test=600,
        oracle_ks=(4, 8, 10, 12, 15, 25, 30), oracle_seeds=5,
        transformer_ks=(4, 8, 12, 20, 30), transformer_seeds=2,
        memory_ms=(2, 3, 5, 7), memory_oracle_seeds=3, memory_transformer_seeds=2,
        oracle_prompt_len=2, mlm_prompt_len=8,
        mlm=_SMALL_MLM, memory_mlm=_memory_mlm(_SMALL_MLM, steps=2500, eval_size=128),
        train=TrainConfig(lr=0.05, batch_size=200, max_epochs=40, patience=10),
        mlm_steps=((12, 3500), (30, 6000)),
    ),
    "paper": Preset(
        name="paper", length=128, n_train=5000, n_val=500, n_test=1000,
        oracle_ks=(4, 8, 10, 12, 15, 25, 30), oracle_seeds=20,
        transformer_ks=(4, 8, 10, 12, 15, 25, 30), transformer_seeds=20,
        memory_ms=(2, 3, 5, 7), memory_oracle_seeds=5, memory_transformer_seeds=5,
        oracle_prompt_len=2, mlm_prompt_len=20,
        mlm=_PAPER_MLM, memory_mlm=_memory_mlm(_PAPER_MLM, eval_size=256),
        train=TrainConfig(lr=0.05, batch_size=250, max_epochs=200, patience=20),
        tv_targets=((30, 0.01),), memory_tv_target=0.01,
    ),
}  # fmt: skip


def _log(msg: str, on: bool) -> None:
    if on:
        logger.info(f"[reproduce] {msg}")


def _splits(sample, label, preset: Preset, seed: int) -> Splits:
    """Train/val/test inputs of length T from ``sample(B, T, rng)`` with ±1 labels."""
    out = []
    for i, size in enumerate((preset.n_train, preset.n_val, preset.n_test)):
        xs = sample(size, preset.length, np.random.default_rng([seed, 1000 + i]))
        out.append(Split(xs, label(xs)))
    return Splits(*out)


def _row(experiment, k, seed, method, backbone, res, splits, m="", tv="", robust=None) -> dict:
    maj = splits.test.majority
    return {
        "experiment": experiment,
        "k": k,
        "seed": seed,
        "method": method,
        "backbone": backbone,
        "accuracy": round(res.test_accuracy, 6),
        "train_accuracy": round(res.train_accuracy, 6),
        "val_accuracy": round(res.val_accuracy, 6),
        "majority": round(maj, 6),
        "n": N_TOKENS,
        "m": m,
        "tv": "" if tv == "" else round(float(tv), 6),
        "robust_fraction": "" if robust is None else round(robust["fraction"], 6),
        "robust_violations": "" if robust is None else robust["violations"],
        "epochs": res.epochs,
        "wall_time_s": round(res.wall_time_s, 3),
    }


def _checkpoint(out_dir: Path, kind: str, k: int, seed: int) -> Path:
    return out_dir / "checkpoints" / f"{kind}_k{k}_s{seed}"


def _pretraining_model(kind: str, k: int, seed: int) -> HMM | MemoryHMM:
    """The reference model an MLM of the run is pretrained on (k = m·s for memory)."""
    if kind == "memory":
        return reference_memory_hmm(seed, k // N_ORDINARY, N_ORDINARY, N_TOKENS)
    return reference_hmm(seed, k, N_TOKENS)


def why_missed(curve: list[dict], final_loss: float, n_tokens: int = N_TOKENS) -> str:
    """Why a pretraining missed its TV target, from its TV curve and final loss: stuck at
    the unigram (loss > 0.9 log n), still improving (TV fell by more than 10% over the last
    quarter of the steps: more steps would help), or plateaued (more steps alone will not)."""
    if final_loss > 0.9 * np.log(n_tokens):
        return "loss near log n: it predicts the unigram (optimisation failed)"
    if len(curve) < 2:
        return "no TV curve to tell (eval_every = 0)"
    last = curve[-1]
    ref = min(curve, key=lambda c: abs(c["step"] - 0.75 * last["step"]))
    trend = f"TV {ref['tv']:.3f} → {last['tv']:.3f} over steps {ref['step']}–{last['step']}"
    if last["tv"] < 0.9 * ref["tv"]:
        return f"still improving ({trend}): under-trained, more steps would help"
    return f"plateaued ({trend}): more steps alone will not reach the target"


def _task_threads(threads: int | None) -> None:
    """Torch CPU threads of an engine task (spawned workers start with torch's default)."""
    if threads is not None:
        torch.set_num_threads(threads)


def pretrain_task(job: tuple) -> tuple[str, int, int, float]:
    """One MLM pretraining of a run, to its checkpoint (a task for ``verify.engines``):
    ``job = (preset, kind, k, seed, device, out_dir, threads)``; returns ``(kind, k, seed,
    TV)``."""
    preset, kind, k, seed, device, out_dir, threads = job
    _task_threads(threads)
    model = _pretraining_model(kind, k, seed)
    _, res = pretrain_mlm(
        model, preset.mlm_config(kind, k, seed), device, _checkpoint(Path(out_dir), kind, k, seed)
    )
    return kind, k, seed, res.final_tv


def panel_task(job: tuple) -> dict:
    """One panel of a run (a task for ``verify.engines``), its MLMs resumed from their
    checkpoints: ``job = (preset, device, out_dir, threads, (experiment, size, seed,
    transformer))``; returns ``{"rows", "robust", "pretraining"}`` of that panel."""
    preset, device, out_dir, threads, panel = job
    _task_threads(threads)
    runner = _Runner(preset, device, Path(out_dir), progress=False)
    runner.panel(*panel)
    return {"rows": runner.rows, "robust": runner.robust, "pretraining": runner.pretraining}


class _Runner:
    def __init__(
        self,
        preset: Preset,
        device: str,
        out_dir: Path,
        progress: bool,
        experiments: tuple[str, ...] = EXPERIMENTS,
        ks: tuple[int, ...] | None = None,
        seeds: int | None = None,
    ):
        self.p, self.device, self.out, self.progress = preset, device, out_dir, progress
        self.experiments, self.ks, self.seeds = experiments, ks, seeds
        self.train = replace(preset.train, device=device, progress=False)
        self.mlms: dict = {}
        self.rows: list[dict] = []
        self.robust: list[dict] = []  # head.robust checks against the trained MLM
        self.pretraining: list[dict] = []  # one record per pretrained MLM

    def cfg(self, seed: int, **kw) -> TrainConfig:
        return replace(self.train, seed=seed, **kw)

    def mlm(self, kind: str, k: int, seed: int, model):
        """The MLM pretrained on ``model`` (cached; checkpointed under out/checkpoints),
        its pretraining recorded and checked against the preset's TV target."""
        key = (kind, k, seed)
        if key not in self.mlms:
            _log(f"pretraining MLM on {kind} k={k} seed={seed}", self.progress)
            ckpt = _checkpoint(self.out, kind, k, seed)
            net, res = pretrain_mlm(
                model, self.p.mlm_config(kind, k, seed), self.device, ckpt, self.progress
            )
            target = self.p.memory_tv_target if kind == "memory" else self.p.tv_target(k)
            rec = {
                "mlm": kind,
                "k": k,
                "seed": seed,
                "tv": res.final_tv,
                "target": target,
                "met": bool(res.final_tv <= target),
                "final_loss": res.final_loss,
                "steps": res.steps,
                "curve": res.curve,
            }
            if not rec["met"]:  # reported once per MLM by _reproduce, after every panel
                rec["why"] = why_missed(res.curve, res.final_loss)
            self.pretraining.append(rec)
            self.mlms[key] = net
        return self.mlms[key]

    # ---------------------------------------------------------------- vanilla
    def vanilla(self, k: int, seed: int, transformer: bool) -> None:
        hmm = reference_hmm(seed, k, N_TOKENS)
        mu = task_mu(reference_task(seed, k))
        sp = _splits(
            lambda b, t, r: hmm.sample(b, t, r)[0],
            lambda xs: np.where(posterior_h0(hmm, xs) @ mu > 0, 1.0, -1.0),
            self.p,
            seed,
        )
        if not transformer:
            res = train_linear_head(hmm, sp, self.cfg(seed))
            self.rows.append(_row("vanilla", k, seed, "head", "oracle", res, sp))
            res = train_prompt(
                hmm, sp, self.cfg(seed, lr=self.p.prompt_lr), self.p.oracle_prompt_len
            )
            self.rows.append(_row("vanilla", k, seed, "prompt", "oracle", res, sp))
            return
        net = self.mlm("vanilla", k, seed, hmm)
        feats = [mask_distribution(net, s.xs) for s in sp]
        tv = mean_tv(feats[2], mask_probe(hmm, sp.test.xs))
        chk = None
        if k <= N_TOKENS:  # C-HEAD can hold only when k ≤ n
            chk = head_robust_check(hmm, mu, feats[2], sp.test.xs)
            self.robust.append({"k": k, "seed": seed, **chk})
            if chk["violations"]:
                logger.warning(
                    f"[reproduce] FALSIFIED head.robust: vanilla k={k} seed={seed}: "
                    f"{chk['violations']} qualifying inputs misclassified by b* on Ĝ"
                )
        res = train_on_features(feats, [s.y for s in sp], self.cfg(seed), "head")
        self.rows.append(
            _row("vanilla", k, seed, "head", "transformer", res, sp, tv=tv, robust=chk)
        )
        res = train_prompt_mlm(net, sp, self.cfg(seed, lr=0.01), self.p.mlm_prompt_len)
        self.rows.append(_row("vanilla", k, seed, "prompt", "transformer", res, sp, tv=tv))

    # ---------------------------------------------------------------- memory
    def memory(self, m: int, seed: int, transformer: bool) -> None:
        k = m * N_ORDINARY
        mem = reference_memory_hmm(seed, m, N_ORDINARY, N_TOKENS)
        mu = task_mu(reference_memory_task(seed, m))
        sp = _splits(
            lambda b, t, r: mem.sample(b, t, r)[0],
            lambda xs: np.where(memory_posterior(mem, xs, 0) @ mu > 0, 1.0, -1.0),
            self.p,
            seed,
        )
        hmm = reference_hmm(seed, k, N_TOKENS)
        vmu = task_mu(reference_task(seed, k))
        vsp = _splits(
            lambda b, t, r: hmm.sample(b, t, r)[0],
            lambda xs: np.where(posterior_h0(hmm, xs) @ vmu > 0, 1.0, -1.0),
            self.p,
            seed,
        )
        if not transformer:
            res = train_attention(mem, sp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "attention", "oracle", res, sp, m=m))
            res = train_pooling(mem, sp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "pooled", "oracle", res, sp, m=m))
            res = train_linear_head(hmm, vsp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "vanilla_head", "oracle", res, vsp, m=m))
            return
        net = self.mlm("memory", k, seed, mem)
        feats = [position_distributions(net, s.xs) for s in sp]
        mtv = mean_tv(feats[2], loo_conditionals(mem.as_hmm(), sp.test.xs))
        res = train_attention_on_features(feats, [s.y for s in sp], self.cfg(seed))
        self.rows.append(_row("memory", k, seed, "attention", "transformer", res, sp, m=m, tv=mtv))
        vnet = self.mlm("vanilla", k, seed, hmm)
        vfeats = [mask_distribution(vnet, s.xs) for s in vsp]
        tv = mean_tv(vfeats[2], mask_probe(hmm, vsp.test.xs))
        res = train_on_features(vfeats, [s.y for s in vsp], self.cfg(seed), "vanilla_head")
        self.rows.append(
            _row("memory", k, seed, "vanilla_head", "transformer", res, vsp, m=m, tv=tv)
        )

    def jobs(self) -> list[tuple[str, int, int, bool]]:
        """(experiment, k or m, seed, transformer?) for the selected panels."""
        p, want = self.p, (lambda k: self.ks is None or k in self.ks)

        def seeds(n: int) -> range:
            return range(n if self.seeds is None else min(n, self.seeds))

        jobs: list[tuple[str, int, int, bool]] = []
        for tr in (False, True):
            if "vanilla" in self.experiments:
                ks = p.transformer_ks if tr else p.oracle_ks
                n = p.transformer_seeds if tr else p.oracle_seeds
                jobs += [("vanilla", k, s, tr) for k in ks if want(k) for s in seeds(n)]
            if "memory" in self.experiments:
                n = p.memory_transformer_seeds if tr else p.memory_oracle_seeds
                jobs += [
                    ("memory", m, s, tr)
                    for m in p.memory_ms
                    if want(m * N_ORDINARY)
                    for s in seeds(n)
                ]
        return jobs

    def mlm_jobs(self) -> list[tuple[str, int, int]]:
        """(kind, k, seed) of every MLM the selected transformer panels pretrain."""
        out: list[tuple[str, int, int]] = []
        for exp, size, seed, tr in self.jobs():
            if not tr:
                continue
            k = size if exp == "vanilla" else size * N_ORDINARY
            for spec in ([("vanilla", k, seed)] if exp == "vanilla" else
                         [("memory", k, seed), ("vanilla", k, seed)]):  # fmt: skip
                if spec not in out:
                    out.append(spec)
        return out

    def pretrain_all(
        self, engine: str, workers: int, address: str | None, threads: int | None = None
    ) -> None:
        """Pretrain every MLM of the run as one engine task each (Ray: ``num_gpus=1`` per
        task when the cluster has GPUs), so the panels then resume finished checkpoints."""
        from .engines import run_tasks

        specs = self.mlm_jobs()
        out = str(self.out)
        tasks = [(self.p, kind, k, s, self.device, out, threads) for kind, k, s in specs]
        _log(f"pretraining {len(tasks)} MLMs on engine {engine}", self.progress)
        for i, result in run_tasks(
            pretrain_task, tasks, engine=engine, workers=workers, address=address, num_gpus=1
        ):
            kind, k, seed = specs[i]
            if isinstance(result, BaseException):
                raise RuntimeError(
                    f"pretraining {kind} MLM k={k} seed={seed} failed on engine {engine}: "
                    f"{type(result).__name__}: {result}"
                ) from result
            _log(f"pretrained {kind} k={k} seed={seed}: TV {result[3]:.4f}", self.progress)

    def panel(self, exp: str, size: int, seed: int, transformer: bool) -> None:
        """Run one panel: ``vanilla`` (size = k) or ``memory`` (size = m)."""
        (self.vanilla if exp == "vanilla" else self.memory)(size, seed, transformer)

    def run(self) -> None:
        """Every selected panel, one after the other, in this process."""
        jobs = self.jobs()
        t0 = time.perf_counter()
        with progress_bar(len(jobs), "reproduce", "panel", enabled=self.progress) as bar:
            for i, job in enumerate(jobs, 1):
                _log(f"({i}/{len(jobs)}) {_panel_name(job)}  [{time.perf_counter() - t0:.0f}s]",
                     self.progress)  # fmt: skip
                self.panel(*job)
                bar.update(1)

    def run_parallel(
        self, engine: str, workers: int, address: str | None, threads: int | None
    ) -> None:
        """Every selected panel as an engine task (transformer panels first: they take
        longest), after :meth:`pretrain_all`; rows are kept in :meth:`jobs` order and each
        MLM's pretraining record once, so the output equals a serial run's."""
        from .engines import run_tasks

        jobs = self.jobs()
        order = sorted(range(len(jobs)), key=lambda i: not jobs[i][3])
        tasks = [(self.p, self.device, str(self.out), threads, jobs[i]) for i in order]
        done: dict[int, dict] = {}
        t0 = time.perf_counter()
        stream = run_tasks(panel_task, tasks, engine=engine, workers=workers, address=address)
        for j, result in stream:
            job = jobs[order[j]]
            if isinstance(result, BaseException):
                raise RuntimeError(
                    f"panel {_panel_name(job)} failed on engine {engine}: "
                    f"{type(result).__name__}: {result}"
                ) from result
            done[order[j]] = result
            _log(f"({len(done)}/{len(jobs)}) {_panel_name(job)} done "
                 f"[{time.perf_counter() - t0:.0f}s]", self.progress)  # fmt: skip
        seen = set()
        for i in range(len(jobs)):
            self.rows += done[i]["rows"]
            self.robust += done[i]["robust"]
            for rec in done[i]["pretraining"]:
                if (key := (rec["mlm"], rec["k"], rec["seed"])) not in seen:
                    seen.add(key)
                    self.pretraining.append(rec)


def _panel_name(job: tuple) -> str:
    exp, size, seed, tr = job
    return f"{exp} {'k' if exp == 'vanilla' else 'm'}={size} seed={seed} " + (
        "transformer" if tr else "oracle"
    )


# ------------------------------------------------------------------------- summaries


def summarize(rows: list[dict]) -> dict:
    """Mean, std and count of accuracy per (experiment, backbone, method, k)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["experiment"], r["backbone"], r["method"], int(r["k"])), []).append(
            float(r["accuracy"])
        )
    return {key: (float(np.mean(v)), float(np.std(v)), len(v)) for key, v in sorted(groups.items())}


def _vanilla_shape(s: dict, bb: str, n: int, tol: float) -> list[tuple[str, bool, str]]:
    """Backbone ``bb``'s vanilla checks: prompt ≥ head − tol at every k, and the gap
    opens once k > n (see :func:`assess_shape`)."""
    ks = sorted({k for (e, b, m, k) in s if e == "vanilla" and b == bb})
    if not ks:
        return []
    gaps = {k: s[("vanilla", bb, "prompt", k)][0] - s[("vanilla", bb, "head", k)][0] for k in ks}
    lo = [g for k, g in gaps.items() if k <= n]
    hi = [g for k, g in gaps.items() if k > n]
    nums = ", ".join(f"k={k}: {g:+.3f}" for k, g in gaps.items())
    out = [(f"[{bb}] prompt ≥ head at every k (tolerance {tol})",
            all(g >= -tol for g in gaps.values()), f"gap prompt−head: {nums}")]  # fmt: skip
    if lo and hi:
        out.append((f"[{bb}] the gap opens once k > n = {n} (by > {tol / 2})",
                    bool(np.mean(hi) > np.mean(lo) + tol / 2),
                    f"mean gap k≤n {np.mean(lo):+.3f}, k>n {np.mean(hi):+.3f}"))  # fmt: skip
    return out


def _memory_shape(s: dict, bb: str, n: int) -> list[tuple[str, bool, str]]:
    """Backbone ``bb``'s memory checks: attention near 100%, vanilla + linear falls with k,
    attention beats it for k > n (see :func:`assess_shape`)."""
    mks = sorted({k for (e, b, m, k) in s if e == "memory" and b == bb})
    if not mks:
        return []
    att = [s[("memory", bb, "attention", k)][0] for k in mks]
    van = [s[("memory", bb, "vanilla_head", k)][0] for k in mks]

    def listed(vals: list[float]) -> str:
        return ", ".join(f"k={k}: {a:.3f}" for k, a in zip(mks, vals, strict=True))

    out = [
        (f"[{bb}] memory + attention near 100% (mean ≥ 0.9)", bool(np.mean(att) >= 0.9),
         "attention: " + listed(att)),
        (f"[{bb}] vanilla + linear falls as k grows", bool(len(mks) > 1 and van[-1] < van[0]),
         "vanilla+linear: " + listed(van)),
    ]  # fmt: skip
    big = [(a, v) for k, a, v in zip(mks, att, van, strict=True) if k > n]
    if big:
        nums = ", ".join(f"{a:.3f} vs {v:.3f}" for a, v in big)
        out.append((f"[{bb}] memory + attention > vanilla + linear for k > n",
                    all(a > v for a, v in big), nums))  # fmt: skip
    return out


def assess_shape(
    rows: list[dict], n: int = N_TOKENS, tol: float = 0.02
) -> list[tuple[str, bool, str]]:
    """The paper's qualitative shape, per backbone: (statement, holds, numbers).

    vanilla: prompt ≥ head − tol at every k, and the mean gap over k > n exceeds that over
    k ≤ n. memory: attention ≥ 0.9 on average, vanilla+linear lower at the largest k than at
    the smallest, and attention > vanilla+linear for k > n."""
    s = summarize(rows)
    out = []
    for bb in ("oracle", "transformer"):
        out += _vanilla_shape(s, bb, n, tol) + _memory_shape(s, bb, n)
    return out


def backbone_gaps(rows: list[dict]) -> list[dict]:
    """Transformer − oracle test accuracy per (experiment, method, k), on the seeds both
    backbones ran (the transformer's): ``{"experiment", "method", "k", "oracle",
    "transformer", "gap", "seeds"}`` with the means over those seeds."""
    acc: dict = {}
    for r in rows:
        key = (r["experiment"], r["method"], int(r["k"]), int(r["seed"]))
        acc.setdefault(key, {})[r["backbone"]] = float(r["accuracy"])
    groups: dict = {}
    for (exp, method, k, _), by in acc.items():
        if {"oracle", "transformer"} <= set(by):
            groups.setdefault((exp, method, k), []).append((by["oracle"], by["transformer"]))
    out = []
    for (exp, method, k), pairs in sorted(groups.items()):
        o, t = (float(np.mean(v)) for v in zip(*pairs, strict=True))
        out.append({"experiment": exp, "method": method, "k": k, "oracle": o,
                    "transformer": t, "gap": t - o, "seeds": len(pairs)})  # fmt: skip
    return out


def tv_table(pretraining: list[dict]) -> dict[tuple[str, int], float]:
    """Mean TV to the oracle over seeds per (MLM kind, k) from the pretraining records."""
    groups: dict = {}
    for r in pretraining:
        groups.setdefault((r["mlm"], int(r["k"])), []).append(float(r["tv"]))
    return {key: float(np.mean(v)) for key, v in sorted(groups.items())}


# ------------------------------------------------------------------------- outputs


def _write_csv(rows: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)


def _write_json(obj, path: Path) -> None:
    atomic_write(path, json.dumps(obj, indent=1))


def _figure(rows: list[dict], out_dir: Path) -> tuple[Path, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summarize(rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"oracle": "-", "transformer": "--"}
    for ax, exp in zip(axes, ("vanilla", "memory"), strict=True):
        curves = sorted({(b, m) for (e, b, m, k) in s if e == exp})
        for bb, method in curves:
            ks = sorted(k for (e, b, m, k) in s if e == exp and b == bb and m == method)
            mean = np.array([s[(exp, bb, method, k)][0] for k in ks])
            std = np.array([s[(exp, bb, method, k)][1] for k in ks])
            (line,) = ax.plot(ks, mean, styles[bb], marker="o", label=f"{method} ({bb})")
            ax.fill_between(ks, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.axvline(N_TOKENS, color="grey", ls=":", lw=1)
        # mid-height: the legend sits in the lower left, the curves near the top
        ax.text(
            N_TOKENS, 0.45, f" n = {N_TOKENS}", color="grey", transform=ax.get_xaxis_transform()
        )
        ax.set_xlabel("number of hidden states k")
        ax.set_ylabel("test accuracy (mean ± std over seeds)")
        ax.set_title(
            "vanilla HMM: head vs prompt tuning"
            if exp == "vanilla"
            else "memory HMM (attention) vs vanilla (linear head)"
        )
        ax.set_ylim(0.4, 1.02)
        if curves:
            ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    png, svg = out_dir / "figure.png", out_dir / "figure.svg"
    fig.savefig(png, dpi=110)
    fig.savefig(svg)
    plt.close(fig)
    return png, svg


def _curve_figure(pretraining: list[dict], out_dir: Path) -> Path | None:
    """TV to the oracle vs pretraining loop time, one line per MLM (log scale), targets
    dotted; written to pretraining.png (None when no MLM was pretrained)."""
    if not pretraining:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0), sharey=True)
    for ax, kind in zip(axes, EXPERIMENTS, strict=True):
        recs = [r for r in pretraining if r["mlm"] == kind]
        for r in recs:
            pts = [(c["time_s"], c["tv"]) for c in r["curve"]]
            if pts:
                t, tv = zip(*pts, strict=True)
                ax.plot(t, tv, marker=".", label=f"k={r['k']} seed={r['seed']}")
        for target in sorted({r["target"] for r in recs}):
            ax.axhline(target, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("pretraining loop time (s)")
        ax.set_title(
            "vanilla MLM: TV of the mask probe to G(x)"
            if kind == "vanilla"
            else "memory MLM: TV of per-position outputs to G_i(x)"
        )
        if recs:
            ax.legend(fontsize=7, ncol=2)
    axes[0].set_ylabel("mean TV to the oracle (held-out)")
    fig.tight_layout()
    path = out_dir / "pretraining.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _html(
    rows: list[dict],
    preset: Preset,
    device: str,
    wall: float,
    png: Path,
    out_dir: Path,
    robust: list[dict] = (),
    pretraining: list[dict] = (),
    curve_png: Path | None = None,
) -> Path:
    """index.html (``templates/reproduce.html``): the verdict on the paper's shape, the
    figures inlined, mean accuracies, the pretrained MLMs' TV and the head.robust check."""
    shape = assess_shape(rows)
    tv = tv_table(pretraining)
    return write_page(
        out_dir / "index.html",
        "reproduce.html",
        preset=preset,
        device=device,
        wall=wall,
        n_tokens=N_TOKENS,
        shape=shape,
        holds_all=all(h for _, h, _ in shape),
        missed=[r for r in pretraining if not r["met"]],
        falsified=[r for r in robust if r["violations"]],
        figure=base64.b64encode(png.read_bytes()).decode(),
        curve=None if curve_png is None else base64.b64encode(curve_png.read_bytes()).decode(),
        accuracy=summarize(rows),
        gaps=backbone_gaps(rows),
        pretraining=sorted(pretraining, key=lambda r: (r["mlm"], r["k"], r["seed"])),
        experiments=EXPERIMENTS,
        tv=tv,
        tv_ks=sorted({k for _, k in tv}),
        robust=robust,
        mlm_config=repr(asdict(preset.mlm)),
        memory_mlm_config=None if preset.memory_mlm is None else repr(asdict(preset.memory_mlm)),
    )


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
    engine: str | None = None,
    workers: int = 1,
    address: str | None = None,
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

    ``engine`` ("local" process pool of ``workers``, or "ray", joining ``address`` if
    given): the MLM pretrainings run first as parallel tasks (on Ray, one GPU each when the
    cluster has GPUs), then the panels run as parallel tasks too and resume the finished
    checkpoints. Results are identical to a serial run: each MLM is seeded by its own
    (kind, k, seed) and each panel by its seed."""
    experiments, ks, seeds = _parse_subset(experiments, ks, seeds)
    if threads is not None:
        threads = as_int(threads, "threads", 1)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    task_threads = threads
    if task_threads is None and engine == "local":
        task_threads = max(1, (os.cpu_count() or 1) // as_int(workers, "workers", 1))
    try:
        return _reproduce(
            preset, device, out_dir, progress, experiments, ks, seeds,
            (engine, workers, address, task_threads),
        )  # fmt: skip
    finally:
        torch.set_num_threads(before)


def _reproduce(preset, device, out_dir, progress, experiments, ks, seeds, dist) -> Path:
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
    runner = _Runner(preset, dev, out_dir, progress, experiments, ks, seeds)
    if not runner.jobs():
        raise InputError(
            f"the subset experiments={experiments}, ks={ks}, seeds={seeds} selects no panel "
            f"of preset {preset.name} (vanilla k: {preset.oracle_ks}; memory k: "
            f"{tuple(m * N_ORDINARY for m in preset.memory_ms)})"
        )
    engine, workers, address, threads = dist
    if engine is not None:
        runner.pretrain_all(engine, workers, address, threads)
        runner.run_parallel(engine, workers, address, threads)
    else:
        runner.run()
    _write_csv(runner.rows, out_dir / "results.csv")
    _write_json(
        {"pretraining": runner.pretraining, "robust": runner.robust},
        out_dir / "pretraining.json",
    )
    png, _ = _figure(runner.rows, out_dir)
    curve_png = _curve_figure(runner.pretraining, out_dir)
    path = _html(
        runner.rows,
        preset,
        dev,
        time.perf_counter() - t0,
        png,
        out_dir,
        runner.robust,
        runner.pretraining,
        curve_png,
    )
    missed = [r for r in runner.pretraining if not r["met"]]
    for r in missed:
        logger.warning(
            f"[reproduce] WARNING: pretraining MISSED its target: {r['mlm']} MLM k={r['k']} "
            f"seed={r['seed']}: TV {r['tv']:.4f} > {r['target']} after {r['steps']} steps "
            f"(final loss {r['final_loss']:.3f}): {r['why']}"
        )
    if missed:
        logger.warning(
            f"[reproduce] WARNING: {len(missed)} of {len(runner.pretraining)} MLMs missed "
            "their TV target: "
            + "; ".join(f"{r['mlm']} k={r['k']} seed={r['seed']} TV {r['tv']:.4f}" for r in missed)
        )
    _log(f"done in {time.perf_counter() - t0:.0f}s: {path}", progress)
    return path


__all__ = [
    "COLUMNS",
    "EXPERIMENTS",
    "PRESETS",
    "Preset",
    "assess_shape",
    "backbone_gaps",
    "why_missed",
    "reproduce",
    "summarize",
    "tv_table",
]
