"""Downstream features of a frozen pretrained MLM (:mod:`verify.experiments.mlm`): the
mask probe Ĝ(x) (head tuning's input), the per-position predictions Ĝ_i(x) (the attention
head's input), their total variation to the exact oracle (THEORY §2), and the held-out
inputs a pretraining's TV curve is measured on (:class:`OracleProbe`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from numpy.typing import ArrayLike

from verify.core.inference import loo_conditionals, mask_probe
from verify.core.models import HMM, MemoryHMM
from verify.recovery.training import device_of

if TYPE_CHECKING:
    from verify.experiments.mlm import MaskedLM, MLMConfig


@torch.no_grad()
def mask_distribution(net: MaskedLM, xs: ArrayLike, batch_size: int = 512) -> np.ndarray:
    """Ĝ(x): the MLM's output distribution at a [MASK] prepended to ``xs`` (B, T) → (B, n)
    float64 — the trained counterpart of ``mask_probe``."""
    xs = np.asarray(xs)
    dev = device_of(net)
    out = []
    for i in range(0, xs.shape[0], batch_size):
        x = torch.as_tensor(xs[i : i + batch_size], device=dev)
        x = torch.cat([torch.full((x.shape[0], 1), net.mask_id, device=dev, dtype=x.dtype), x], 1)
        out.append(torch.softmax(net.forward_at(net.embed(x), 0).double(), -1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, net.n_tokens))


def mean_tv(g_hat: np.ndarray, g: np.ndarray) -> float:
    """Mean total variation ``½‖Ĝ − G‖₁`` over every axis but the last (the tokens)."""
    return float(0.5 * np.abs(np.asarray(g_hat) - np.asarray(g)).sum(-1).mean())


def oracle_outputs(model: HMM | MemoryHMM, xs: ArrayLike) -> np.ndarray:
    """What the MLM is compared with on ``xs`` (B, T): the mask probe G(x) (B, n) for an
    HMM, the leave-one-out conditionals G_i(x) (B, T, n) for a MemoryHMM."""
    if isinstance(model, MemoryHMM):
        return np.asarray(loo_conditionals(model.as_hmm(), xs))
    return np.asarray(mask_probe(model, xs))


def input_tvs(
    net: MaskedLM, model: HMM | MemoryHMM, xs: ArrayLike, exact: np.ndarray | None = None
) -> np.ndarray:
    """Per-input TV (B,) of the MLM to the oracle on ``xs`` (B, T): ``½‖Ĝ(x) − G(x)‖₁`` of
    the mask probe for an HMM; for a MemoryHMM the mean over positions of
    ``½‖Ĝ_i(x) − G_i(x)‖₁``. ``exact``: :func:`oracle_outputs` of ``xs`` if already
    computed."""
    exact = oracle_outputs(model, xs) if exact is None else exact
    memory = isinstance(model, MemoryHMM)
    got = position_distributions(net, xs) if memory else mask_distribution(net, xs)
    return 0.5 * np.abs(got - exact).sum(-1).reshape(len(got), -1).mean(1)


def mask_probe_tv(net: MaskedLM, model: HMM | MemoryHMM, xs: ArrayLike) -> float:
    """Mean ``TV = ½‖Ĝ(x) − G(x)‖₁`` of the MLM's mask probe against the exact one (§2)."""
    hmm = model.as_hmm() if isinstance(model, MemoryHMM) else model
    return float(input_tvs(net, hmm, xs).mean())


@torch.no_grad()
def position_distributions(
    net: MaskedLM, xs: ArrayLike, stride: int | None = None, batch_size: int = 256
) -> np.ndarray:
    """Per-position predictions Ĝ_i(x) (B, T, n) on the input alone (x_1 at position 0):
    in pass j of ``stride`` passes the positions i ≡ j (mod stride) are masked, so Ĝ_i
    conditions on all but a 1/stride fraction of the input (default stride ≈ 1/mask_rate)."""
    xs = np.asarray(xs)
    B, T = xs.shape
    stride = stride or max(1, min(T, round(1.0 / net.config.mask_rate)))
    dev = device_of(net)
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


class OracleProbe:
    """Held-out inputs and their exact outputs, for the TV-to-oracle curve.

    HMM: ``eval_size`` inputs of ``eval_len`` tokens and ``G(x)`` (mask probe);
    MemoryHMM: the same inputs and ``G_i(x)`` (leave-one-out conditionals, (B, T, n)).
    Drawn from ``default_rng([seed, 104729])``, disjoint in stream from training windows."""

    def __init__(self, model: HMM | MemoryHMM, config: MLMConfig):
        self.model = model
        self.xs, _ = model.sample(
            config.eval_size, config.eval_len, np.random.default_rng([config.seed, 104729])
        )
        self.target = oracle_outputs(model, self.xs)

    def tv(self, net: MaskedLM) -> float:
        """Mean ½‖Ĝ − G‖₁ over the held-out inputs (and positions, for a MemoryHMM)."""
        was = net.training
        net.eval()
        tvs = input_tvs(net, self.model, self.xs, self.target)
        net.train(was)
        return float(tvs.mean())


__all__ = [
    "OracleProbe",
    "input_tvs",
    "oracle_outputs",
    "mask_distribution",
    "mask_probe_tv",
    "mean_tv",
    "position_distributions",
]
