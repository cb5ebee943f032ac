"""A small BERT-style masked LM actually pretrained on HMM text (THEORY.md §2, §8).

The oracle of §2 is an *ideal* pretrained model; this module trains a real one and measures
how far it is from the oracle: ``TV = ½‖Ĝ(x) − G(x)‖₁`` of its mask probe against
:func:`~verify.inference.mask_probe` on held-out inputs (claim ``head.robust``).

- :class:`MaskedLM` — token + learned position embeddings, ``torch.nn.TransformerEncoder``
  (pre-norm, no dropout), a linear decoder over the n tokens; vocabulary ``n + 1`` with
  ``[MASK] = n``. Float32 inside.
- :func:`pretrain_mlm` — masked-token prediction on windows cropped from a corpus sampled
  from the HMM (or memory HMM); checkpoints (``state_dict`` via ``torch.save`` + plain JSON
  metadata, loaded with ``weights_only=True``) so an interrupted run resumes bit-identically
  on CPU: batch ``t`` is drawn from ``default_rng([seed, t])``.
- Downstream (frozen backbone): :func:`mask_distribution` (head tuning's input, the output
  distribution at a [MASK] prepended to the input), :func:`train_prompt_mlm` (trainable
  input vectors prepended + linear probe), :func:`position_distributions` (inputs of the
  attention head over positions for memory runs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .inference import mask_probe, posterior_h0
from .models import HMM, MemoryHMM
from .training import (
    LinearHead,
    Splits,
    TrainConfig,
    TrainResult,
    deterministic,
    fit,
    resolve_device,
)

CHECKPOINT = "mlm.pt"
METADATA = "mlm.json"


@dataclass(frozen=True)
class MLMConfig:
    """Size and pretraining schedule of the masked LM.

    d_model, n_layers, n_heads, d_ff: encoder size; max_len: positions (≥ the longest
    window used downstream, prompt + [MASK] + input); seq_len: pretraining window length;
    mask_rate: fraction of positions masked (at least one per window); steps, batch_size,
    lr: AdamW schedule (linear warm-up over the first 5%); corpus_sequences × corpus_length:
    the sampled corpus windows are cropped from; seed: init, corpus and batches;
    checkpoint_every: steps between checkpoints.
    """

    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 128
    max_len: int = 160
    seq_len: int = 64
    mask_rate: float = 0.15
    steps: int = 1000
    batch_size: int = 64
    lr: float = 2e-3
    corpus_sequences: int = 256
    corpus_length: int = 1024
    seed: int = 0
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        for name in (
            "d_model",
            "n_layers",
            "n_heads",
            "d_ff",
            "max_len",
            "seq_len",
            "steps",
            "batch_size",
            "corpus_sequences",
            "corpus_length",
            "checkpoint_every",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"MLMConfig.{name} = {v!r} must be a positive int")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"MLMConfig.d_model = {self.d_model} must be divisible by n_heads = {self.n_heads}"
            )
        if self.seq_len > self.max_len:
            raise ValueError(f"MLMConfig.seq_len = {self.seq_len} exceeds max_len = {self.max_len}")
        if self.seq_len > self.corpus_length:
            raise ValueError(
                f"MLMConfig.seq_len = {self.seq_len} exceeds corpus_length = {self.corpus_length}"
            )
        if not (0.0 < self.mask_rate < 1.0):
            raise ValueError(f"MLMConfig.mask_rate = {self.mask_rate!r} must be in (0, 1)")
        if not (self.lr > 0):
            raise ValueError(f"MLMConfig.lr = {self.lr!r} must be > 0")


class MaskedLM(torch.nn.Module):
    """BERT-style encoder: ``logits = decoder(encoder(embed(tokens) + pos))`` (B, T, n)."""

    def __init__(self, n_tokens: int, config: MLMConfig):
        super().__init__()
        self.n_tokens = n_tokens
        self.mask_id = n_tokens
        self.config = config
        d = config.d_model
        self.embed = torch.nn.Embedding(n_tokens + 1, d)
        self.pos = torch.nn.Parameter(0.02 * torch.randn(config.max_len, d))
        layer = torch.nn.TransformerEncoderLayer(
            d, config.n_heads, config.d_ff, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(
            layer, config.n_layers, enable_nested_tensor=False
        )
        self.norm = torch.nn.LayerNorm(d)
        self.decoder = torch.nn.Linear(d, n_tokens)

    def forward_embeds(self, emb: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, n) from input embeddings (B, T, d) (prompts enter here)."""
        T = emb.shape[1]
        if T > self.config.max_len:
            raise ValueError(
                f"window of {T} positions exceeds max_len = {self.config.max_len}; "
                f"raise MLMConfig.max_len or shorten the input"
            )
        return self.decoder(self.norm(self.encoder(emb + self.pos[:T])))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.forward_embeds(self.embed(tokens))


@dataclass
class PretrainResult:
    """Pretraining record: steps done, final mean loss (last 10% of steps), wall time of
    this call (s), time of its optimisation loop alone (s), tokens processed by this call,
    and the step it resumed from (0 when it started fresh)."""

    steps: int
    final_loss: float
    wall_time_s: float
    loop_time_s: float
    tokens: int
    resumed_from: int
    losses: list[float]


def _fingerprint(model: HMM | MemoryHMM, config: MLMConfig) -> str:
    h = hashlib.sha256(model.to_json().encode())
    cfg = {
        k: v
        for k, v in dataclasses.asdict(config).items()
        if k not in ("steps", "checkpoint_every")
    }
    h.update(json.dumps(cfg, sort_keys=True).encode())
    return h.hexdigest()[:16]


def sample_corpus(model: HMM | MemoryHMM, config: MLMConfig) -> np.ndarray:
    """The pretraining corpus (corpus_sequences, corpus_length) int64, seeded by config.seed."""
    tokens, _ = model.sample(
        config.corpus_sequences, config.corpus_length, np.random.default_rng([config.seed, 7919])
    )
    return tokens


def _batch(corpus: np.ndarray, config: MLMConfig, step: int, mask_id: int):
    """Batch ``step``: crops (B, seq_len), masked inputs, and the mask — from rng([seed, step])."""
    rng = np.random.default_rng([config.seed, step])
    B, L = config.batch_size, config.seq_len
    rows = rng.integers(0, corpus.shape[0], B)
    offs = rng.integers(0, corpus.shape[1] - L + 1, B)
    crops = corpus[rows[:, None], offs[:, None] + np.arange(L)[None, :]]
    mask = rng.random((B, L)) < config.mask_rate
    mask[np.arange(B), rng.integers(0, L, B)] = True  # at least one target per window
    inputs = np.where(mask, mask_id, crops)
    return crops, inputs, mask


def _new_model(n_tokens: int, config: MLMConfig) -> MaskedLM:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return MaskedLM(n_tokens, config)


def _save_atomic(obj_path: Path, state: dict, meta_path: Path, meta: dict) -> None:
    tmp = obj_path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, obj_path)
    tmpm = meta_path.with_suffix(".json.tmp")
    tmpm.write_text(json.dumps(meta, indent=1))
    os.replace(tmpm, meta_path)


def pretrain_mlm(
    model: HMM | MemoryHMM,
    config: MLMConfig = MLMConfig(),
    device: str = "auto",
    checkpoint_dir: str | Path | None = None,
    progress: bool = False,
    stop_after: int | None = None,
) -> tuple[MaskedLM, PretrainResult]:
    """Pretrain a :class:`MaskedLM` on text sampled from ``model`` (masked-token prediction,
    cross-entropy on masked positions).

    With ``checkpoint_dir``, saves ``mlm.pt`` (model + optimiser state_dicts) and ``mlm.json``
    (step, fingerprint of model+config, losses) every ``checkpoint_every`` steps and at the
    end, and resumes from them when their fingerprint matches. ``stop_after`` ends the call
    after that many total steps (simulates an interruption; the checkpoint is written).
    """
    if not isinstance(model, (HMM, MemoryHMM)):
        raise ValueError(f"model must be an HMM or MemoryHMM, got {type(model).__name__}")
    dev = resolve_device(device)
    t0 = time.perf_counter()
    n = model.n_tokens
    net = _new_model(n, config).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=0.01)
    warm = max(1, config.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    fp = _fingerprint(model, config)
    step0, losses = 0, []
    ckpt = meta_path = None
    if checkpoint_dir is not None:
        cdir = Path(checkpoint_dir)
        cdir.mkdir(parents=True, exist_ok=True)
        ckpt, meta_path = cdir / CHECKPOINT, cdir / METADATA
        if ckpt.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") == fp:
                state = torch.load(ckpt, map_location=dev, weights_only=True)
                net.load_state_dict(state["model"])
                opt.load_state_dict(state["optimizer"])
                sched.load_state_dict(state["scheduler"])
                step0, losses = int(meta["step"]), list(meta["losses"])
    corpus = sample_corpus(model, config)
    end = config.steps if stop_after is None else min(config.steps, int(stop_after))

    def save(step: int) -> None:
        if ckpt is not None:
            state = {
                "model": net.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
            }
            meta = {
                "fingerprint": fp,
                "step": step,
                "losses": losses,
                "config": dataclasses.asdict(config),
                "n_tokens": n,
            }
            _save_atomic(ckpt, state, meta_path, meta)

    net.train()
    t_loop = time.perf_counter()
    with deterministic():
        for step in range(step0, end):
            crops, inputs, mask = _batch(corpus, config, step, net.mask_id)
            x = torch.as_tensor(inputs, device=dev)
            tgt = torch.as_tensor(crops, device=dev)
            m = torch.as_tensor(mask, device=dev)
            logits = net(x)
            loss = torch.nn.functional.cross_entropy(logits[m], tgt[m])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            if progress and (step + 1) % max(1, config.steps // 10) == 0:
                print(
                    f"  [mlm] step {step + 1}/{config.steps} loss {np.mean(losses[-50:]):.4f}",
                    file=sys.stderr,
                    flush=True,
                )
            if (step + 1) % config.checkpoint_every == 0:
                save(step + 1)
    loop_time = time.perf_counter() - t_loop
    save(end)
    net.eval()
    tail = losses[-max(1, len(losses) // 10) :] if losses else [float("nan")]
    return net, PretrainResult(
        steps=end,
        final_loss=float(np.mean(tail)),
        wall_time_s=time.perf_counter() - t0,
        loop_time_s=loop_time,
        tokens=(end - step0) * config.batch_size * config.seq_len,
        resumed_from=step0,
        losses=losses,
    )


def _device_of(net: MaskedLM) -> torch.device:
    return next(net.parameters()).device


@torch.no_grad()
def mask_distribution(net: MaskedLM, xs: Any, batch_size: int = 512) -> np.ndarray:
    """Ĝ(x): the MLM's output distribution at a [MASK] prepended to ``xs`` (B, T) → (B, n)
    float64 — the trained counterpart of ``mask_probe``."""
    xs = np.asarray(xs)
    dev = _device_of(net)
    out = []
    for i in range(0, xs.shape[0], batch_size):
        x = torch.as_tensor(xs[i : i + batch_size], device=dev)
        x = torch.cat([torch.full((x.shape[0], 1), net.mask_id, device=dev, dtype=x.dtype), x], 1)
        out.append(torch.softmax(net(x)[:, 0].double(), -1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, net.n_tokens))


def mask_probe_tv(net: MaskedLM, model: HMM | MemoryHMM, xs: Any) -> float:
    """Mean ``TV = ½‖Ĝ(x) − G(x)‖₁`` of the MLM's mask probe against the exact one (§2)."""
    hmm = model.as_hmm() if isinstance(model, MemoryHMM) else model
    return float(0.5 * np.abs(mask_distribution(net, xs) - mask_probe(hmm, xs)).sum(-1).mean())


def head_robust_check(hmm: HMM, mu: np.ndarray, g_hat: np.ndarray, xs: Any) -> dict:
    """Claim ``head.robust`` against a trained MLM, pointwise: with ``b* = pinv(W).T μ`` and
    ``ε(x) = ‖Ĝ(x) − G(x)‖₁``, every x with ``|μᵀp(x)| > ε(x)‖b*‖_∞`` must have
    ``sign b*ᵀĜ(x) = sign μᵀp(x)``. Returns ``{"covered", "violations", "tv"}`` (covered:
    inputs where the condition applies). Meaningful under C-HEAD (k ≤ n, full rank W)."""
    mu = np.asarray(mu, dtype=np.float64)
    b = np.linalg.pinv(hmm.W).T @ mu
    p = posterior_h0(hmm, xs)
    g = p @ hmm.emission
    eps = np.abs(g_hat - g).sum(-1)
    margin = p @ mu
    covered = np.abs(margin) > eps * np.abs(b).max()
    wrong = np.sign(g_hat @ b) != np.sign(margin)
    return {
        "covered": int(covered.sum()),
        "violations": int((covered & wrong).sum()),
        "tv": float(0.5 * eps.mean()),
    }


@torch.no_grad()
def position_distributions(
    net: MaskedLM, xs: Any, stride: int | None = None, batch_size: int = 256
) -> np.ndarray:
    """Per-position predictions Ĝ_i(x) (B, T, n) on the input alone (x_1 at position 0):
    in pass j of ``stride`` passes the positions i ≡ j (mod stride) are masked, so Ĝ_i
    conditions on all but a 1/stride fraction of the input (default stride ≈ 1/mask_rate)."""
    xs = np.asarray(xs)
    B, T = xs.shape
    stride = stride or max(1, min(T, round(1.0 / net.config.mask_rate)))
    dev = _device_of(net)
    out = np.zeros((B, T, net.n_tokens))
    for i in range(0, B, batch_size):
        x = torch.as_tensor(xs[i : i + batch_size], device=dev)
        for j in range(stride):
            pos = torch.arange(j, T, stride, device=dev)
            xm = x.clone()
            xm[:, pos] = net.mask_id
            probs = torch.softmax(net(xm)[:, pos].double(), -1)
            out[i : i + batch_size, pos.cpu().numpy()] = probs.cpu().numpy()
    return out


class MLMPromptHead(torch.nn.Module):
    """Prompt tuning on the frozen MLM: ``[P_1…P_L, MASK, x]`` → output distribution at the
    MASK → linear probe. P (L, d) trainable, initialised at embeddings of random tokens."""

    def __init__(self, net: MaskedLM, n_prompt: int, train_xs: torch.Tensor, gen: torch.Generator):
        super().__init__()
        object.__setattr__(self, "net", net)  # frozen backbone, not a registered submodule
        ids = torch.randint(0, net.n_tokens, (n_prompt,), generator=gen).to(_device_of(net))
        self.prompt = torch.nn.Parameter(net.embed.weight[ids].detach().clone())
        with torch.no_grad():
            feats0 = torch.cat(
                [self.features(train_xs[i : i + 512]) for i in range(0, len(train_xs), 512)]
            )
        self.head = LinearHead(feats0)

    def features(self, xs: torch.Tensor) -> torch.Tensor:
        emb = self.net.embed(xs)
        mask = self.net.embed.weight[self.net.mask_id].expand(xs.shape[0], 1, -1)
        pre = self.prompt.expand(xs.shape[0], -1, -1)
        logits = self.net.forward_embeds(torch.cat([pre, mask, emb], 1))[:, self.prompt.shape[0]]
        return torch.softmax(logits.double(), -1)

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(xs))


def train_prompt_mlm(
    net: MaskedLM, splits: Splits, config: TrainConfig | None = None, n_prompt: int = 20
) -> TrainResult:
    """Prompt tuning with the pretrained MLM: ``n_prompt`` input vectors + probe, backbone
    frozen (THEORY §8: 20 vectors in the paper)."""
    if isinstance(n_prompt, bool) or not isinstance(n_prompt, (int, np.integer)) or n_prompt < 1:
        raise ValueError(f"n_prompt = {n_prompt!r} must be a positive int")
    config = TrainConfig(device=str(_device_of(net).type)) if config is None else config
    dev = _device_of(net)
    for p in net.parameters():
        p.requires_grad_(False)
    xs = tuple(torch.as_tensor(np.asarray(s.xs), device=dev) for s in splits)
    ys = tuple(torch.as_tensor(np.asarray(s.y), dtype=torch.float64, device=dev) for s in splits)
    gen = torch.Generator(device="cpu").manual_seed(int(config.seed))
    module = MLMPromptHead(net, n_prompt, xs[0], gen)
    res = fit(module, xs, ys, config, "prompt", head_params=("head",))
    for p in net.parameters():
        p.requires_grad_(True)
    return res


__all__ = [
    "MLMConfig",
    "MLMPromptHead",
    "MaskedLM",
    "PretrainResult",
    "head_robust_check",
    "mask_distribution",
    "mask_probe_tv",
    "position_distributions",
    "pretrain_mlm",
    "sample_corpus",
    "train_prompt_mlm",
]
