"""Running a ``reproduce`` run's panels: MLM pretraining (cached, checkpointed), the
vanilla and memory panels on either backbone, serially or as engine tasks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, NamedTuple, overload

import numpy as np
import torch

from verify.claims import head_robust_check
from verify.core import task
from verify.core.generator import (
    reference_hmm,
    reference_memory_hmm,
    reference_memory_task,
    reference_task,
    task_mu,
)
from verify.core.inference import loo_conditionals, mask_probe
from verify.core.models import HMM, MemoryHMM
from verify.core.task import Split
from verify.experiments.authors import (
    authors_hmm,
    authors_labels,
    authors_memory_hmm,
    authors_weights,
    label_disagreement,
)
from verify.experiments.mlm import mask_distribution, position_distributions, pretrain_mlm
from verify.experiments.mlm_features import input_tvs, mean_tv
from verify.experiments.reproduce.presets import EXPERIMENTS, N_ORDINARY, N_TOKENS, Preset
from verify.harness.engines import Engine
from verify.harness.progress import bar as progress_bar
from verify.recovery.training import (
    Splits,
    TrainConfig,
    train_attention,
    train_attention_on_features,
    train_linear_head,
    train_on_features,
    train_pooling,
    train_prompt,
    train_prompt_mlm,
)

logger = logging.getLogger("verify.experiments.reproduce")


def _log(msg: str, on: bool) -> None:
    if on:
        logger.info(f"[reproduce] {msg}")


def _splits(model, mu, preset: Preset, seed: int, cell: int | None = None, label=None) -> Splits:
    """Train/val/test inputs of the preset's length with ±1 labels (``verify.core.task.splits``:
    generator ``[seed, 1000 + split]``, ties dropped; ``label``: the authors' rule)."""
    sizes = (preset.n_train, preset.n_val, preset.n_test)
    return task.splits(model, mu, sizes, preset.length, seed, cell, label=label)


def _truncate(splits: Splits, length: int) -> Splits:
    """The splits with every input cut to its first ``length`` tokens (labels kept: they
    were computed on the whole input)."""
    if length >= splits.train.xs.shape[1]:
        return splits
    return Splits(*(Split(s.xs[:, :length], s.y) for s in splits))


def _row(
    experiment, k, seed, method, backbone, res, splits, m="", tv="", robust=None,
    convention="theory",
) -> dict:  # fmt: skip
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
        "convention": convention,
        "input_len": int(splits.test.xs.shape[1]),
    }


def _checkpoint(out_dir: Path, kind: str, k: int, seed: int, convention: str = "theory") -> Path:
    tag = "" if convention == "theory" else f"_{convention}"
    return out_dir / "checkpoints" / f"{kind}_k{k}_s{seed}{tag}"


@overload
def _pretraining_model(
    kind: Literal["memory"], k: int, seed: int, convention: str = "theory"
) -> MemoryHMM: ...
@overload
def _pretraining_model(
    kind: str, k: int, seed: int, convention: str = "theory"
) -> HMM | MemoryHMM: ...


def _pretraining_model(kind: str, k: int, seed: int, convention: str = "theory") -> HMM | MemoryHMM:
    """The reference model an MLM of the run is pretrained on (k = m·s for memory): the
    stationary chain under both conventions (the authors' chunks start mid-chain), the
    authors' memory block mixing 4m permutations."""
    if kind == "memory":
        make = authors_memory_hmm if convention == "authors" else reference_memory_hmm
        return make(seed, k // N_ORDINARY, N_ORDINARY, N_TOKENS)
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


class Panel(NamedTuple):
    """One panel of a run: ``experiment`` ("vanilla" or "memory"), ``size`` (k, or m for
    memory), ``seed`` and the backbone (``transformer``: the pretrained MLM, else the
    oracle)."""

    experiment: str
    size: int
    seed: int
    transformer: bool


@dataclass(frozen=True)
class PretrainJob:
    """One MLM pretraining of a run (an engine task, :func:`pretrain_task`)."""

    preset: Preset
    kind: str  # "vanilla" or "memory"
    k: int
    seed: int
    device: str
    out_dir: str
    threads: int | None  # torch CPU threads of the task (None: torch's default)


@dataclass(frozen=True)
class PanelJob:
    """One panel of a run (an engine task, :func:`panel_task`)."""

    preset: Preset
    device: str
    out_dir: str
    threads: int | None
    panel: Panel


def pretrain_task(job: PretrainJob) -> tuple[str, int, int, float]:
    """One MLM pretraining of a run, to its checkpoint (a task for ``verify.harness.engines``);
    returns ``(kind, k, seed, TV)``."""
    _task_threads(job.threads)
    kind, k, seed, conv = job.kind, job.k, job.seed, job.preset.convention
    model = _pretraining_model(kind, k, seed, conv)
    ckpt = _checkpoint(Path(job.out_dir), kind, k, seed, conv)
    _, res = pretrain_mlm(model, job.preset.mlm_config(kind, k, seed), job.device, ckpt)
    return kind, k, seed, res.final_tv


def panel_task(job: PanelJob) -> dict:
    """One panel of a run (a task for ``verify.harness.engines``), its MLMs resumed from their
    checkpoints; returns ``{"rows", "robust", "pretraining", "labels"}`` of that panel."""
    _task_threads(job.threads)
    runner = _Runner(job.preset, job.device, Path(job.out_dir), progress=False)
    runner.panel(*job.panel)
    return {
        "rows": runner.rows,
        "robust": runner.robust,
        "pretraining": runner.pretraining,
        "labels": runner.labels,
    }


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
        self.labels: list[dict] = []  # authors: how often the two label rules disagree
        self.conv = preset.convention
        self.head_len, self.prompt_len = preset.input_lens()

    def cfg(self, seed: int, **kw) -> TrainConfig:
        return replace(self.train, seed=seed, **kw)

    def mlm(self, kind: str, k: int, seed: int, model):
        """The MLM pretrained on ``model`` (cached; checkpointed under out/checkpoints),
        its pretraining recorded and checked against the preset's TV target."""
        key = (kind, k, seed)
        if key not in self.mlms:
            _log(f"pretraining MLM on {kind} k={k} seed={seed}", self.progress)
            ckpt = _checkpoint(self.out, kind, k, seed, self.conv)
            net, res = pretrain_mlm(
                model, self.p.mlm_config(kind, k, seed), self.device, ckpt, self.progress
            )
            target = self.p.memory_tv_target if kind == "memory" else self.p.tv_target(k)
            tv, se, n = self._heldout_tv(net, model, kind, k, seed)
            rec = {
                "mlm": kind,
                "k": k,
                "seed": seed,
                "convention": self.conv,
                "tv": tv,
                "tv_se": se,
                "tv_n": n,
                "curve_tv": res.final_tv,
                "target": target,
                "met": bool(tv <= target),
                "final_loss": res.final_loss,
                "steps": res.steps,
                "curve": res.curve,
            }
            if not rec["met"]:  # reported once per MLM by _reproduce, after every panel
                rec["why"] = why_missed(res.curve, res.final_loss)
            self.pretraining.append(rec)
            self.mlms[key] = net
        return self.mlms[key]

    def _heldout_tv(self, net, model, kind: str, k: int, seed: int) -> tuple[float, float, int]:
        """(mean TV, its standard error, n) of the MLM to the oracle on n fresh inputs of
        the run's length (a stream of their own), which decide its TV target."""
        n = self.p.memory_tv_eval_size if kind == "memory" else self.p.tv_eval_size
        xs, _ = model.sample(n, self.p.length, np.random.default_rng([seed, k, 15485863]))
        tvs = input_tvs(net, model, xs)
        return float(tvs.mean()), float(tvs.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0, n

    # ---------------------------------------------------------------- vanilla
    def _vanilla_task(self, k: int, seed: int) -> tuple[HMM, Splits, np.ndarray | None]:
        """(pretraining HMM, splits of full-length inputs with their labels, μ under
        "theory" else None). Under "authors" the inputs come from the near-uniform start
        and are labelled by ``argmax(weights · A·P[H_1 | x])``; how often THEORY's rule
        disagrees on the test inputs is recorded in :attr:`labels`."""
        hmm = reference_hmm(seed, k, N_TOKENS)
        if self.conv == "theory":
            mu = task_mu(reference_task(seed, k))
            return hmm, _splits(hmm, mu, self.p, seed), mu
        src, w = authors_hmm(seed, k, N_TOKENS), authors_weights(seed, k)
        sp = _splits(src, None, self.p, seed, label=lambda xs: authors_labels(src, w, xs))
        self._record_labels("vanilla", k, seed, label_disagreement(src, w, sp.test.xs))
        return hmm, sp, None

    def _record_labels(self, experiment: str, k: int, seed: int, fraction: float) -> None:
        key = {"experiment": experiment, "k": k, "seed": seed}
        if not any(all(r[f] == v for f, v in key.items()) for r in self.labels):
            self.labels.append({**key, "disagreement": fraction})

    def vanilla(self, k: int, seed: int, transformer: bool) -> None:
        hmm, full, mu = self._vanilla_task(k, seed)
        sp, psp = _truncate(full, self.head_len), _truncate(full, self.prompt_len)
        conv = self.conv
        if not transformer:
            res = train_linear_head(hmm, sp, self.cfg(seed))
            self.rows.append(_row("vanilla", k, seed, "head", "oracle", res, sp, convention=conv))
            res = train_prompt(
                hmm, psp, self.cfg(seed, lr=self.p.prompt_lr), self.p.oracle_prompt_len
            )
            self.rows.append(
                _row("vanilla", k, seed, "prompt", "oracle", res, psp, convention=conv)
            )
            return
        net = self.mlm("vanilla", k, seed, hmm)
        feats = [mask_distribution(net, s.xs) for s in sp]
        tv = mean_tv(feats[2], mask_probe(hmm, sp.test.xs))
        chk = None
        if k <= N_TOKENS and mu is not None:  # C-HEAD can hold only when k ≤ n
            chk = head_robust_check(hmm, mu, feats[2], sp.test.xs)
            self.robust.append({"k": k, "seed": seed, **chk})
            if chk["violations"]:
                logger.warning(
                    f"[reproduce] FALSIFIED head.robust: vanilla k={k} seed={seed}: "
                    f"{chk['violations']} qualifying inputs misclassified by b* on Ĝ"
                )
        res = train_on_features(feats, [s.y for s in sp], self.cfg(seed), "head")
        self.rows.append(
            _row("vanilla", k, seed, "head", "transformer", res, sp, tv=tv, robust=chk,
                 convention=conv)
        )  # fmt: skip
        res = train_prompt_mlm(net, psp, self.cfg(seed, lr=0.01), self.p.mlm_prompt_len)
        self.rows.append(
            _row("vanilla", k, seed, "prompt", "transformer", res, psp, tv=tv, convention=conv)
        )

    # ---------------------------------------------------------------- memory
    def memory(self, m: int, seed: int, transformer: bool) -> None:
        k = m * N_ORDINARY
        conv = self.conv
        mem = _pretraining_model("memory", k, seed, conv)
        w = reference_memory_task(seed, m) if conv == "theory" else authors_weights(seed, m)
        full = _splits(mem, task_mu(w), self.p, seed, cell=0)
        sp = _truncate(full, self.head_len)
        hmm, vfull, _ = self._vanilla_task(k, seed)
        vsp = _truncate(vfull, self.head_len)
        if not transformer:
            res = train_attention(mem, sp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "attention", "oracle", res, sp, m=m,
                                  convention=conv))  # fmt: skip
            res = train_pooling(mem, sp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "pooled", "oracle", res, sp, m=m,
                                  convention=conv))  # fmt: skip
            res = train_linear_head(hmm, vsp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "vanilla_head", "oracle", res, vsp, m=m,
                                  convention=conv))  # fmt: skip
            return
        net = self.mlm("memory", k, seed, mem)
        feats = [position_distributions(net, s.xs) for s in sp]
        mtv = mean_tv(feats[2], loo_conditionals(mem.as_hmm(), sp.test.xs))
        res = train_attention_on_features(feats, [s.y for s in sp], self.cfg(seed))
        self.rows.append(_row("memory", k, seed, "attention", "transformer", res, sp, m=m,
                              tv=mtv, convention=conv))  # fmt: skip
        vnet = self.mlm("vanilla", k, seed, hmm)
        vfeats = [mask_distribution(vnet, s.xs) for s in vsp]
        tv = mean_tv(vfeats[2], mask_probe(hmm, vsp.test.xs))
        res = train_on_features(vfeats, [s.y for s in vsp], self.cfg(seed), "vanilla_head")
        self.rows.append(_row("memory", k, seed, "vanilla_head", "transformer", res, vsp, m=m,
                              tv=tv, convention=conv))  # fmt: skip

    def jobs(self) -> list[Panel]:
        """(experiment, k or m, seed, transformer?) for the selected panels."""
        p, want = self.p, (lambda k: self.ks is None or k in self.ks)

        def seeds(n: int) -> range:
            return range(n if self.seeds is None else min(n, self.seeds))

        jobs: list[Panel] = []
        for tr in (False, True):
            if "vanilla" in self.experiments:
                ks = p.transformer_ks if tr else p.oracle_ks
                n = p.transformer_seeds if tr else p.oracle_seeds
                jobs += [Panel("vanilla", k, s, tr) for k in ks if want(k) for s in seeds(n)]
            if "memory" in self.experiments:
                n = p.memory_transformer_seeds if tr else p.memory_oracle_seeds
                jobs += [
                    Panel("memory", m, s, tr)
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

    def _work(self, spec: tuple[str, int, int]) -> int:
        """A pretraining's work in token·width units (steps · batch · seq_len · widths), so
        ``pretrain_all`` hands out the longest first and two workers finish together."""
        c = self.p.mlm_config(spec[0], spec[1], spec[2])
        width = c.n_layers * (4 * c.d_model + c.d_ff) + (c.d_ff_last or c.d_ff) - c.d_ff
        return c.steps * c.batch_size * c.seq_len * width

    def pretrain_all(self, engine: Engine) -> None:
        """Pretrain every MLM of the run as one engine task each (Ray: ``num_gpus=1`` per
        task when the cluster has GPUs), so the panels then resume finished checkpoints."""
        specs = sorted(self.mlm_jobs(), key=self._work, reverse=True)  # longest first
        out, threads = str(self.out), engine.task_threads()
        tasks = [PretrainJob(self.p, kind, k, s, self.device, out, threads) for kind, k, s in specs]
        _log(f"pretraining {len(tasks)} MLMs on engine {engine.name}", self.progress)
        for i, result in engine.run(pretrain_task, tasks, num_gpus=1):
            kind, k, seed = specs[i]
            if isinstance(result, BaseException):
                raise RuntimeError(
                    f"pretraining {kind} MLM k={k} seed={seed} failed on engine {engine.name}: "
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

    def run_parallel(self, engine: Engine) -> None:
        """Every selected panel as an engine task (transformer panels first: they take
        longest), after :meth:`pretrain_all`; rows are kept in :meth:`jobs` order and each
        MLM's pretraining record once, so the output equals a serial run's."""
        jobs = self.jobs()
        order = sorted(range(len(jobs)), key=lambda i: not jobs[i].transformer)
        out, threads = str(self.out), engine.task_threads()
        tasks = [PanelJob(self.p, self.device, out, threads, jobs[i]) for i in order]
        done: dict[int, dict] = {}
        t0 = time.perf_counter()
        stream = engine.run(panel_task, tasks)
        for j, result in stream:
            job = jobs[order[j]]
            if isinstance(result, BaseException):
                raise RuntimeError(
                    f"panel {_panel_name(job)} failed on engine {engine.name}: "
                    f"{type(result).__name__}: {result}"
                ) from result
            done[order[j]] = result
            _log(f"({len(done)}/{len(jobs)}) {_panel_name(job)} done "
                 f"[{time.perf_counter() - t0:.0f}s]", self.progress)  # fmt: skip
        seen = set()
        for i in range(len(jobs)):
            self.rows += done[i]["rows"]
            self.robust += done[i]["robust"]
            for rec in done[i]["labels"]:
                self._record_labels(rec["experiment"], rec["k"], rec["seed"],
                                    rec["disagreement"])  # fmt: skip
            for rec in done[i]["pretraining"]:
                if (key := (rec["mlm"], rec["k"], rec["seed"])) not in seen:
                    seen.add(key)
                    self.pretraining.append(rec)


def _panel_name(job: Panel) -> str:
    exp, size, seed, tr = job
    return f"{exp} {'k' if exp == 'vanilla' else 'm'}={size} seed={seed} " + (
        "transformer" if tr else "oracle"
    )
