"""The sizes of a ``reproduce`` run: :class:`Preset` and the named :data:`PRESETS`
(smoke, small, paper), with the constants shared by every part of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from verify.core.validation import InputError
from verify.experiments import authors
from verify.experiments.authors import check_convention
from verify.experiments.mlm import (
    MLMConfig,
)
from verify.recovery.training import SMOKE_TRAIN, TrainConfig

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
    "convention",
    "input_len",
)
EXPERIMENTS = ("vanilla", "memory")


@dataclass(frozen=True)
class Preset:
    """Sizes of one ``reproduce`` run (see :data:`PRESETS`).

    ``tv_targets``: ``((k_max, TV), …)`` ascending in k_max, the mean TV of the mask probe
    to the oracle a vanilla MLM must reach for k ≤ k_max (the last entry covers every larger
    k); ``memory_tv_target``: the same for the memory MLM's per-position outputs against
    ``G_i(x)``. Whether a target is met is decided on ``tv_eval_size`` fresh inputs of
    ``length`` tokens (``memory_tv_eval_size`` for a memory MLM), reported with its
    standard error; the per-input TV is heavy-tailed (a few rare contexts carry half of it),
    so the training curve's ``eval_size`` inputs are too few to decide on. A pretraining
    that misses its target is reported on stderr and on the page.
    ``mlm``: the vanilla MLM, whose job is the mask probe (short windows, mostly probe-only
    masks); ``memory_mlm``: the memory MLM, whose job is every position's conditional
    (long windows so the memory value can be inferred, interior masks; None: ``mlm``).
    ``mlm_by_k``: ``((k_max, {field: value}), …)`` ascending, MLMConfig fields the vanilla
    MLM takes for k ≤ k_max (the last entry covers every larger k; empty: ``mlm`` as is),
    since larger k needs more steps and a wider encoder.
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
    mlm_by_k: tuple[tuple[int, dict[str, float]], ...] = ()
    tv_targets: tuple[tuple[int, float], ...] = ((12, 0.02), (30, 0.05))
    memory_tv_target: float = 0.05
    tv_eval_size: int = 4096
    memory_tv_eval_size: int = 1024
    convention: str = "theory"

    def with_convention(self, convention: str) -> Preset:
        """This preset under ``convention``: "theory" (as defined) or "authors" (the
        authors' pipeline, :mod:`verify.experiments.authors`: their fine-tuning lr, epochs
        and batch for every head and prompt, their pretraining masks and chunks)."""
        if check_convention(convention) == self.convention:
            return self
        if self.convention != "theory":
            raise InputError(f"preset {self.name} is already under {self.convention!r}")
        return replace(
            self,
            convention=convention,
            train=authors.authors_train(self.train),
            prompt_lr=authors.LR,
            mlm=authors.authors_mlm(self.mlm, self.length),
            memory_mlm=authors.authors_mlm(self.memory_mlm or self.mlm, self.length),
        )

    def input_lens(self) -> tuple[int, int]:
        """(head, prompt) input tokens the fine-tuned models see: all T under "theory";
        the authors' window (:func:`verify.experiments.authors.input_lens`) under "authors"."""
        if self.convention == "authors":
            return authors.input_lens(self.length, self.mlm_prompt_len)
        return self.length, self.length

    def tv_target(self, k: int) -> float:
        """The TV target for a vanilla MLM with k hidden states."""
        return _by_k(self.tv_targets, k)

    def mlm_config(self, kind: str, k: int, seed: int) -> MLMConfig:
        """The MLMConfig of the run's ``kind`` ("vanilla" or "memory") MLM with k hidden
        states and this seed."""
        if kind == "memory" and self.memory_mlm is not None:
            return replace(self.memory_mlm, seed=seed, eval_len=self.length)
        fields = _by_k(self.mlm_by_k, k) if self.mlm_by_k else {}
        cfg = replace(self.mlm, seed=seed, eval_len=self.length, **fields)
        # the authors' windows and masks win over a per-k field (authors_mlm is idempotent)
        return authors.authors_mlm(cfg, self.length) if self.convention == "authors" else cfg


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
    return replace(
        mlm, min_len=mlm.seq_len // 2, window_skew=1.0, probe_share=0.0, mask_first=False, **kw
    )


# small's recipe (short windows + EMA for the vanilla MLM) at CI size: 500 steps × ~770
# tokens (24·32/L windows)
_SMOKE_MLM = _mlm(
    32, d_model=32, n_layers=2, n_heads=2, d_ff=64, min_len=6, probe_share=0.85,
    steps=500, batch_size=24, lr=3e-3, ema=0.99, checkpoint_every=100,
    eval_every=50, eval_size=128, eval_len=24,
)  # fmt: skip
# ~60k tokens/s per MLM with 1 thread, two MLMs at once on an idle 2-core CPU.
# vanilla: 3500 steps × ~1900 tokens (24·80/L windows of L ∈ [6, 80]) ≈ 6.7M tokens,
# ~110 s (6000 steps, ~140 s, for k > 12); memory: 2500 steps of [40, 80]-token
# windows ≈ 4.8M tokens, ~75 s; k = 30 (7500 steps, d_ff_last 2048) ~230 s. 20 MLMs in
# ~17 min + 65 panels in ~4 min measured with 2 workers (2026-12-04, idle 2-core VM).
_SMALL_MLM = _mlm(
    80, d_model=64, n_layers=2, n_heads=4, d_ff=128, min_len=6, probe_share=0.85,
    steps=3500, batch_size=24, lr=3e-3, lr_floor=0.01, ema=0.998, checkpoint_every=500,
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
        train=SMOKE_TRAIN,
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
        mlm_by_k=(
            (12, {"steps": 3500}),
            (28, {"steps": 6000, "min_len": 5, "window_skew": 2.0}),
            (30, {"steps": 7500, "min_len": 5, "window_skew": 3.0, "d_ff_last": 2048, "lr": 2e-3}),
        ),
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
