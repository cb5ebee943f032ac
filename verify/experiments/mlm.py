"""A small BERT-style masked LM actually pretrained on HMM text (THEORY.md §2, §8).

The oracle of §2 is an *ideal* pretrained model; this module trains a real one and measures
how far it is from the oracle: ``TV = ½‖Ĝ(x) − G(x)‖₁`` of its mask probe against
:func:`~verify.core.inference.mask_probe` on held-out inputs (claim ``head.robust``).

- :class:`MaskedLM` — token + learned position embeddings, ``torch.nn.TransformerEncoder``
  (pre-norm, no dropout), a linear decoder over the n tokens; vocabulary ``n + 1`` with
  ``[MASK] = n``. Float32 inside.
- :func:`pretrain_mlm` — masked-token prediction on windows cropped from a corpus sampled
  from the HMM (or memory HMM); checkpoints (``state_dict`` via ``torch.save`` + plain JSON
  metadata, loaded with ``weights_only=True``) so an interrupted run resumes bit-identically
  on CPU: batch ``t`` is drawn from ``default_rng([seed, t])``.
- Downstream (frozen backbone): :func:`mask_distribution` (head tuning's input, the output
  distribution at a [MASK] prepended to the input),
  :func:`~verify.recovery.training.train_prompt_mlm` (trainable input vectors prepended +
  linear probe), :func:`position_distributions` (inputs of the attention head over
  positions for memory runs).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from verify.core.models import HMM, MemoryHMM
from verify.core.validation import InputError, as_int
from verify.experiments.mlm_features import (
    OracleProbe,
    mask_distribution,
    mask_probe_tv,
    position_distributions,
)
from verify.experiments.mlm_windows import WindowSampler, window_shape
from verify.harness.files import atomic_path, atomic_write
from verify.harness.progress import bar as progress_bar
from verify.recovery.training import (
    deterministic,
    resolve_device,
)

if TYPE_CHECKING:
    from torch.optim.swa_utils import AveragedModel

logger = logging.getLogger(__name__)

CHECKPOINT = "mlm.pt"
METADATA = "mlm.json"


@dataclass(frozen=True)
class MLMConfig:
    """Size and pretraining schedule of the masked LM.

    d_model, n_layers, n_heads, d_ff: encoder size; d_ff_last: the last layer's feed-forward
    width (0: d_ff; it holds the probe's lookup from the next tokens); max_len: positions
    (≥ the longest window used downstream, prompt + [MASK] + input); seq_len: longest
    pretraining window,
    min_len: shortest (step t's windows all have one length, log-uniform on
    [min_len, seq_len]: every position up to seq_len is trained and inputs may sit behind a
    prompt, while most steps are short; see :func:`window_shape`); window_skew: ≥ 1 tilts
    that law toward short windows (more probe examples per token; 1: log-uniform);
    mask_rate: fraction of positions masked besides position 0, which is always masked
    when ``mask_first`` (it is where the mask probe asks); probe_share: fraction of windows
    in which position 0 is the only mask, exactly the mask probe's input (the others teach
    every position, which the memory MLM's per-position outputs need); mask_first: always
    mask position 0 (False for an MLM asked only for per-position outputs, whose inputs
    show a token at position 0; then probe_share must be 0); steps, batch_size: windows are
    sampled afresh from the HMM at every step (no fixed corpus), ``batch_size`` of them in a
    step of ``seq_len``-token windows and ``batch_size·seq_len // L`` in one of L tokens;
    lr, warmup, lr_floor, weight_decay:
    AdamW with linear warm-up over the first ``warmup`` fraction of steps, then cosine
    decay to ``lr_floor·lr``; ema: decay of an exponential moving average of the weights, updated
    after every step, which is what the TV curve measures and what is returned (0: off;
    the averaged weights have far less SGD noise than the last iterate, which matters
    because the mask probe's targets are sampled tokens of ~1 nat entropy);
    seed: init, windows and masks; checkpoint_every: steps between checkpoints;
    eval_every, eval_size, eval_len: the TV-to-oracle curve is measured every
    ``eval_every`` steps on ``eval_size`` held-out inputs of ``eval_len`` tokens
    (0 = only at the end).

    Run switches (not part of the checkpoint fingerprint, :data:`RUN_SWITCHES`): amp:
    bfloat16 autocast of the encoder's forward during pretraining (None: off; on an H200 at
    paper size eager bf16 ran at 0.13M tokens/s against float32's 1.6M, cuDNN's attention
    apparently re-planning for every new window shape; with cuDNN attention off bf16 gave
    1.8M; the oracle and the downstream features stay float32/float64); compile_forward:
    ``torch.compile`` the training forward (off: on that H200, bf16 + compile gave 1.9–2.4M
    tokens/s after a 45 s compile, not worth it for one 2500-step MLM);
    stop_after: end the call after that many total steps (an interruption; the checkpoint
    is written).
    """

    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 256
    d_ff_last: int = 0
    max_len: int = 80
    seq_len: int = 80
    min_len: int = 40
    window_skew: float = 1.0
    mask_rate: float = 0.15
    probe_share: float = 0.5
    mask_first: bool = True
    steps: int = 1000
    batch_size: int = 64
    lr: float = 2e-3
    warmup: float = 0.05
    lr_floor: float = 0.1
    weight_decay: float = 0.01
    ema: float = 0.0
    seed: int = 0
    checkpoint_every: int = 200
    eval_every: int = 0
    eval_size: int = 256
    eval_len: int = 32
    amp: bool | None = None
    compile_forward: bool = False
    stop_after: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "d_model",
            "n_layers",
            "n_heads",
            "d_ff",
            "max_len",
            "seq_len",
            "min_len",
            "steps",
            "batch_size",
            "checkpoint_every",
            "eval_size",
            "eval_len",
        ):
            as_int(getattr(self, name), f"MLMConfig.{name}", 1)
        as_int(self.eval_every, "MLMConfig.eval_every", 0, note=" (0: at the end)")
        as_int(self.d_ff_last, "MLMConfig.d_ff_last", 0, note=" (0: d_ff)")
        if self.stop_after is not None:
            as_int(self.stop_after, "MLMConfig.stop_after", 1)
        if self.d_model % self.n_heads:
            raise InputError(
                f"MLMConfig.d_model = {self.d_model} must be divisible by n_heads = {self.n_heads}"
            )
        if self.seq_len > self.max_len:
            raise InputError(f"MLMConfig.seq_len = {self.seq_len} exceeds max_len = {self.max_len}")
        if not (2 <= self.min_len <= self.seq_len):
            raise InputError(
                f"MLMConfig.min_len = {self.min_len} must be in [2, seq_len = {self.seq_len}]"
            )
        if not (1.0 <= self.window_skew <= 8.0):
            raise InputError(
                f"MLMConfig.window_skew = {self.window_skew!r} must be in [1, 8] "
                "(1: log-uniform window lengths)"
            )
        if self.eval_len + 1 > self.max_len:
            raise InputError(
                f"MLMConfig.eval_len = {self.eval_len} needs eval_len + 1 "
                f"≤ max_len = {self.max_len}"
            )
        if not (0.0 < self.mask_rate < 1.0):
            raise InputError(f"MLMConfig.mask_rate = {self.mask_rate!r} must be in (0, 1)")
        if not (0.0 <= self.probe_share < 1.0):
            raise InputError(f"MLMConfig.probe_share = {self.probe_share!r} must be in [0, 1)")
        if not self.mask_first and self.probe_share:
            raise InputError(
                f"MLMConfig.probe_share = {self.probe_share!r} needs mask_first = True "
                "(a probe-only window masks position 0); set probe_share = 0"
            )
        if not (self.lr > 0):
            raise InputError(f"MLMConfig.lr = {self.lr!r} must be > 0")
        if not (0.0 <= self.warmup < 1.0):
            raise InputError(f"MLMConfig.warmup = {self.warmup!r} must be in [0, 1)")
        if not (0.0 <= self.lr_floor <= 1.0):
            raise InputError(
                f"MLMConfig.lr_floor = {self.lr_floor!r} must be in [0, 1] (the final lr as a "
                "fraction of lr)"
            )
        if not (self.weight_decay >= 0):
            raise InputError(f"MLMConfig.weight_decay = {self.weight_decay!r} must be ≥ 0")
        if not (0.0 <= self.ema < 1.0):
            raise InputError(f"MLMConfig.ema = {self.ema!r} must be in [0, 1) (0: off)")


class MaskedLM(torch.nn.Module):
    """BERT-style encoder: ``logits = decoder(norm(encoder(embed(tokens) + pos)))`` (B, T, n).

    Token and position embeddings start at the same scale (N(0, 0.02²)): when positions
    start 50× smaller than tokens the encoder is a bag of words for a long time and some
    seeds never leave the unigram solution (loss flat at log n)."""

    def __init__(self, n_tokens: int, config: MLMConfig):
        super().__init__()
        self.n_tokens = n_tokens
        self.mask_id = n_tokens
        self.config = config
        d = config.d_model
        self.embed = torch.nn.Embedding(n_tokens + 1, d)
        torch.nn.init.normal_(self.embed.weight, std=0.02)
        self.pos = torch.nn.Parameter(0.02 * torch.randn(config.max_len, d))
        layer = functools.partial(
            torch.nn.TransformerEncoderLayer, d, config.n_heads, dropout=0.0,
            activation="gelu", batch_first=True, norm_first=True,
        )  # fmt: skip
        self.encoder = torch.nn.TransformerEncoder(layer(config.d_ff), config.n_layers,
                                                   enable_nested_tensor=False)  # fmt: skip
        if config.d_ff_last and config.d_ff_last != config.d_ff:
            self.encoder.layers[-1] = layer(config.d_ff_last)
        self.norm = torch.nn.LayerNorm(d)
        self.decoder = torch.nn.Linear(d, n_tokens)

    def _with_positions(self, emb: torch.Tensor) -> torch.Tensor:
        """``emb + pos`` (B, T, d); InputError when T exceeds max_len."""
        T = emb.shape[1]
        if T > self.config.max_len:
            raise InputError(
                f"window of {T} positions exceeds max_len = {self.config.max_len}; "
                f"raise MLMConfig.max_len or shorten the input"
            )
        return emb + self.pos[:T]

    def forward_embeds(self, emb: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, n) from input embeddings (B, T, d) (prompts enter here)."""
        return self.decoder(self.norm(self.encoder(self._with_positions(emb))))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.forward_embeds(self.embed(tokens))

    def _body(self, emb: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, T, d) after every layer but the last."""
        h = self._with_positions(emb)
        for layer in self.encoder.layers[:-1]:
            h = layer(h)
        return h

    def _last_at(self, h: torch.Tensor, pos: int) -> torch.Tensor:
        """Logits (B, n) at position ``pos`` from the last layer's input ``h`` (B, T, d),
        the last layer computed for that one query (keys and values: every position). It is
        the pre-norm block ``h + SA(norm1 h)``, ``+ FF(norm2 ·)`` of
        ``torch.nn.TransformerEncoderLayer(norm_first=True)``, written out."""
        last = self.encoder.layers[-1]
        z = last.norm1(h)
        attn = last.self_attn(z[:, pos : pos + 1], z, z, need_weights=False)[0]
        return self._last_ff(h[:, pos] + last.dropout1(attn[:, 0]))

    def _last_masked(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (N, n) at the N positions of ``mask`` (B, T) from the last layer's input
        ``h`` (B, T, d): the last layer's attention at every position, its feed-forward
        block (most of its work when d_ff_last is wide) and the decoder only at the masked
        ones; rows in ``mask.flatten()`` order."""
        last = self.encoder.layers[-1]
        z = last.norm1(h)
        attn = last.self_attn(z, z, z, need_weights=False)[0]
        return self._last_ff((h + last.dropout1(attn))[mask])

    def _last_ff(self, y: torch.Tensor) -> torch.Tensor:
        """Logits (N, n) from the last layer's states after its attention, y (N, d): the
        block's ``y + FF(norm2 y)``, then the final norm and the decoder."""
        last = self.encoder.layers[-1]
        ff = last.linear2(last.dropout(last.activation(last.linear1(last.norm2(y)))))
        return self.decoder(self.norm(y + last.dropout2(ff)))

    def forward_at(self, emb: torch.Tensor, pos: int) -> torch.Tensor:
        """Logits (B, n) at position ``pos`` only, from input embeddings (B, T, d): the same
        numbers as ``forward_embeds(emb)[:, pos]`` (to float rounding), with the last layer
        computed for that one query, which saves ~1/n_layers of the work where one output
        is all that is read (the mask probe, prompt tuning)."""
        return self._last_at(self._body(emb), pos)

    def masked_logits(
        self, tokens: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (N, n), index (N,))`` at the N masked positions of ``tokens`` (B, T):
        windows whose only masked position is 0 (probe-only windows, most of a vanilla
        MLM's) get the last layer for position 0 alone (:meth:`forward_at`'s saving), the
        others its feed-forward block at their masked positions only (:meth:`_last_masked`;
        15% fewer seconds per step for small's k = 30 MLM, 8% for a memory MLM).
        ``index[j]`` is row j's place in ``mask.flatten()``, so the targets are
        ``targets.flatten()[index]``; the rows are those of ``forward(tokens)[mask]`` (to
        float rounding), in another order."""
        B, T = mask.shape
        solo = mask[:, 0] & ~mask[:, 1:].any(1)
        rest = ~solo
        h = self._body(self.embed(tokens))
        where = torch.arange(B, device=mask.device) * T
        rest_mask = mask[rest]
        rest_logits = self._last_masked(h[rest], rest_mask)
        rest_index = (where[rest, None] + torch.arange(T, device=mask.device))[rest_mask]
        logits = torch.cat([self._last_at(h[solo], 0), rest_logits])
        return logits, torch.cat([where[solo], rest_index])


@dataclass
class PretrainResult:
    """Pretraining record: steps done, final mean loss (last 10% of steps), wall time of
    this call (s), time of its optimisation loop alone (s), tokens processed by this call,
    the step it resumed from (0 when it started fresh), the per-step losses, and the
    TV-to-oracle curve: one dict per evaluation ``{"step", "tokens", "time_s", "tv"}``
    (tokens and loop time cumulative over resumed calls; ``tv`` is the mean TV of the mask
    probe for an HMM, of the per-position outputs to ``G_i(x)`` for a MemoryHMM)."""

    steps: int
    final_loss: float
    wall_time_s: float
    loop_time_s: float
    tokens: int
    resumed_from: int
    losses: list[float]
    curve: list[dict] = dataclasses.field(default_factory=list)

    @property
    def final_tv(self) -> float:
        """TV at the last evaluation (NaN when none was made)."""
        return float(self.curve[-1]["tv"]) if self.curve else float("nan")


#: MLMConfig fields that say how a run goes, not what it trains: a checkpoint resumes
#: across them.
RUN_SWITCHES = ("checkpoint_every", "amp", "compile_forward", "stop_after")


def _fingerprint(model: HMM | MemoryHMM, config: MLMConfig) -> str:
    h = hashlib.sha256(model.to_json().encode())
    cfg = {k: v for k, v in dataclasses.asdict(config).items() if k not in RUN_SWITCHES}
    h.update(json.dumps(cfg, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _weight_average(net: MaskedLM, config: MLMConfig) -> AveragedModel | None:
    """``torch.optim.swa_utils.AveragedModel`` keeping ``w̄ ← ema·w̄ + (1 − ema)·w`` of
    ``net`` (None when ``config.ema == 0``)."""
    if not config.ema:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(config.ema))


def _new_model(n_tokens: int, config: MLMConfig) -> MaskedLM:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return MaskedLM(n_tokens, config)


def _lr_factor(step: int, config: MLMConfig) -> float:
    """Linear warm-up to 1 over ``warmup·steps`` steps, then cosine decay to ``lr_floor``."""
    warm = max(1, int(round(config.warmup * config.steps)))
    if step < warm:
        return (step + 1) / warm
    frac = (step - warm) / max(1, config.steps - warm)
    floor = float(config.lr_floor)  # float: weights_only load
    return floor + (1.0 - floor) / 2 * (1.0 + math.cos(math.pi * min(1.0, frac)))


@dataclass
class _Done:
    """What a pretraining has done so far (cumulative over resumed calls)."""

    step: int = 0
    losses: list[float] = dataclasses.field(default_factory=list)
    curve: list[dict] = dataclasses.field(default_factory=list)
    tokens: int = 0
    loop_time_s: float = 0.0


class _Checkpoint:
    """``mlm.pt`` (model, optimiser and scheduler state_dicts) and ``mlm.json`` (step,
    fingerprint of model+config, losses, TV curve, …) in ``folder``; no-ops for None."""

    def __init__(self, folder: str | Path | None, fingerprint: str, config: MLMConfig, n: int):
        self.fingerprint, self.config, self.n_tokens = fingerprint, config, n
        self.folder = None if folder is None else Path(folder)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def load(
        self,
        net: MaskedLM,
        opt: Optimizer,
        sched: LRScheduler,
        avg: AveragedModel | None,
        dev: torch.device,
    ) -> _Done:
        """Restore the saved state into ``net``, ``opt``, ``sched`` (and the weight average
        ``avg`` unless None) when the saved fingerprint matches; return what it had done
        (nothing when there is no match)."""
        if self.folder is None:
            return _Done()
        ckpt, meta_path = self.folder / CHECKPOINT, self.folder / METADATA
        if not (ckpt.exists() and meta_path.exists()):
            return _Done()
        try:  # a damaged or partial pair of files is reported and retrained, never a crash
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") != self.fingerprint:
                return _Done()
            state = torch.load(ckpt, map_location=dev, weights_only=True)
            missing = {"model", "optimizer", "scheduler", *(("ema",) if avg is not None else ())}
            missing -= set(state)
            if missing:
                raise ValueError(f"no {sorted(missing)} in it")
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint means: start over
            logger.warning(
                f"MLM checkpoint {ckpt} (with {meta_path.name}) is damaged "
                f"({type(exc).__name__}: {exc}); pretraining from scratch"
            )
            return _Done()
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if avg is not None:
            avg.load_state_dict(state["ema"])
        return _Done(
            step=int(meta["step"]),
            losses=list(meta["losses"]),
            curve=list(meta.get("curve", [])),
            tokens=int(meta.get("tokens", 0)),
            loop_time_s=float(meta.get("loop_time_s", 0.0)),
        )

    def save(
        self,
        step: int,
        net: MaskedLM,
        opt: Optimizer,
        sched: LRScheduler,
        avg: AveragedModel | None,
        done: _Done,
    ) -> None:
        if self.folder is None:
            return
        state = {
            "model": net.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
        }
        if avg is not None:
            state["ema"] = avg.state_dict()
        meta = {
            "fingerprint": self.fingerprint,
            "step": step,
            "losses": done.losses,
            "curve": done.curve,
            "tokens": done.tokens,
            "loop_time_s": done.loop_time_s,
            "config": dataclasses.asdict(self.config),
            "n_tokens": self.n_tokens,
        }
        with atomic_path(self.folder / CHECKPOINT) as tmp:
            torch.save(state, tmp)
        atomic_write(self.folder / METADATA, json.dumps(meta, indent=1))


def _evaluate(net: MaskedLM, probe: OracleProbe, step: int, done: _Done, progress: bool) -> None:
    """Append the TV to the oracle at ``step`` to ``done.curve`` (once per step)."""
    if done.curve and done.curve[-1]["step"] == step:
        return
    tv = probe.tv(net)
    done.curve.append(
        {"step": step, "tokens": done.tokens, "time_s": round(done.loop_time_s, 3), "tv": tv}
    )
    if progress:
        loss = np.mean(done.losses[-50:] or [np.nan])
        logger.info(
            f"[mlm] step {step}/{net.config.steps} loss {loss:.4f} TV {tv:.4f} "
            f"({done.loop_time_s:.0f}s)"
        )


def _train_step(
    forward: Callable[..., torch.Tensor],
    net: MaskedLM,
    opt: Optimizer,
    sched: LRScheduler,
    batch: tuple,
    amp: bool,
) -> float:
    """One optimiser step on ``batch = (tokens, inputs, mask)`` (B, L): cross-entropy of
    ``forward(inputs)`` against the tokens at the masked positions (eager:
    :meth:`MaskedLM.masked_logits`, the same loss), gradient norm clipped to 1; returns the
    loss."""
    tgt, x, m = batch
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        if forward is net:  # eager: probe-only windows skip the last layer's other positions
            logits, index = net.masked_logits(x, m)
            tgt = tgt.flatten()[index]
        else:  # compiled: one static-shape graph (masked_logits' split is data-dependent)
            logits, tgt = forward(x)[m], tgt[m]
    loss = torch.nn.functional.cross_entropy(logits.float(), tgt)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    sched.step()
    return loss.item()


def pretrain_mlm(
    model: HMM | MemoryHMM,
    config: MLMConfig = MLMConfig(),
    device: str = "auto",
    checkpoint_dir: str | Path | None = None,
    progress: bool = False,
) -> tuple[MaskedLM, PretrainResult]:
    """Pretrain a :class:`MaskedLM` on windows sampled afresh from ``model`` at every step
    (masked-token prediction, cross-entropy on masked positions; AdamW, warm-up + cosine).

    With ``checkpoint_dir``, saves ``mlm.pt`` (model, optimiser and scheduler state_dicts)
    and ``mlm.json`` (step, fingerprint of model+config, losses, TV curve) every
    ``checkpoint_every`` steps and at the end, and resumes from them when their fingerprint
    matches. ``config.stop_after``, ``config.amp`` and ``config.compile_forward`` are the
    run switches (see :class:`MLMConfig`). ``progress``: log the TV
    evaluations (INFO) and show a bar over the steps on a terminal.
    """
    if not isinstance(model, (HMM, MemoryHMM)):
        raise InputError(f"model must be an HMM or MemoryHMM, got {type(model).__name__}")
    dev = resolve_device(device)
    amp = False if config.amp is None else bool(config.amp)
    t0 = time.perf_counter()
    net = _new_model(model.n_tokens, config).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, config))
    ckpt = _Checkpoint(checkpoint_dir, _fingerprint(model, config), config, model.n_tokens)
    avg = _weight_average(net, config)
    done = ckpt.load(net, opt, sched, avg, dev)
    trained = net if avg is None else avg.module  # what is evaluated and returned
    assert isinstance(trained, MaskedLM)  # the average holds a deep copy of net
    step0, tokens0, time0 = done.step, done.tokens, done.loop_time_s
    sampler = WindowSampler(model, config, dev)
    probe = OracleProbe(model, config)
    end = config.steps if config.stop_after is None else min(config.steps, config.stop_after)
    forward = torch.compile(net) if config.compile_forward else net
    if step0 == 0 and config.eval_every:
        _evaluate(trained, probe, 0, done, progress)
    net.train()
    bar = progress_bar(config.steps, "mlm", "step", initial=step0, enabled=progress, leave=False)
    with deterministic(), bar:
        for step in range(step0, end):
            t_step = time.perf_counter()
            batch = sampler.batch(step)
            done.losses.append(_train_step(forward, net, opt, sched, batch, amp))
            if avg is not None:
                avg.update_parameters(net)
            done.tokens += int(batch[0].numel())
            done.loop_time_s += time.perf_counter() - t_step
            bar.update(1)
            if config.eval_every and (step + 1) % config.eval_every == 0:
                _evaluate(trained, probe, step + 1, done, progress)
            if (step + 1) % config.checkpoint_every == 0:
                ckpt.save(step + 1, net, opt, sched, avg, done)
    if end == config.steps:
        _evaluate(trained, probe, end, done, progress)
    ckpt.save(end, net, opt, sched, avg, done)
    net.eval()
    trained.eval()
    tail = done.losses[-max(1, len(done.losses) // 10) :] if done.losses else [float("nan")]
    return trained, PretrainResult(
        steps=end,
        final_loss=float(np.mean(tail)),
        wall_time_s=time.perf_counter() - t0,
        loop_time_s=done.loop_time_s - time0,
        tokens=done.tokens - tokens0,
        resumed_from=step0,
        losses=done.losses,
        curve=done.curve,
    )


__all__ = [
    "MLMConfig",
    "MaskedLM",
    "OracleProbe",
    "PretrainResult",
    "WindowSampler",
    "mask_distribution",
    "mask_probe_tv",
    "position_distributions",
    "pretrain_mlm",
    "window_shape",
]
