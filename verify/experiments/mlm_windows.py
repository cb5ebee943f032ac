"""Pretraining windows of the MLM (:mod:`verify.experiments.mlm`, which re-exports these
names): the log-uniform window shapes and the on-device sampler drawing fresh windows from
the HMM (THEORY §2's pretraining distribution)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from verify.core.models import HMM, MemoryHMM

if TYPE_CHECKING:
    from verify.experiments.mlm import MLMConfig


def window_shape(config: MLMConfig, u: float) -> tuple[int, int]:
    """(L, B) of one step's windows from ``u ~ U[0, 1)``: L log-uniform on
    [min_len, seq_len] (``L = ⌊min_len · ((seq_len + 1)/min_len)^(u^s)⌋`` with
    ``s = window_skew``: s = 1 log-uniform, s > 1 more short steps) and
    ``B = ⌊batch_size · seq_len / L⌋`` windows, so every step holds about
    ``batch_size · seq_len`` tokens and a short step holds more windows: each window gives
    one mask-probe example (position 0), and the probe of these HMMs depends on a few
    following tokens only, so short windows buy most probe examples per token."""
    lo, hi = config.min_len, config.seq_len
    L = min(hi, int(lo * ((hi + 1) / lo) ** (u**config.window_skew)))
    return L, max(1, config.batch_size * hi // L)


class WindowSampler:
    """Fresh pretraining windows drawn on ``device`` straight from the HMM's CDFs.

    ``batch(step)`` → ``(tokens, inputs, mask)``, each (B, L) with (L, B) from
    :func:`window_shape`: ``H_0 ~ start``, ``H_{t+1} ~ A[H_t]``, ``X_t ~ E[H_t]`` by inverse
    CDF; position 0 masked (if ``mask_first``), and in a ``1 − probe_share`` share of the
    windows a ``mask_rate`` fraction of the rest too. Everything comes from a
    ``torch.Generator`` seeded by ``(seed, step)``, so batch t is the same however the run
    was interrupted (bit-identical on one device; CPU and CUDA streams differ).
    """

    def __init__(self, model: HMM | MemoryHMM, config: MLMConfig, device: torch.device):
        hmm = model.as_hmm() if isinstance(model, MemoryHMM) else model
        self.config, self.device = config, device
        self.k = hmm.n_states
        self.mask_id = hmm.n_tokens

        def cdf(p: np.ndarray) -> torch.Tensor:
            c = np.cumsum(np.asarray(p, dtype=np.float64), axis=-1)
            return torch.as_tensor(c / c[..., -1:], dtype=torch.float64, device=device)

        self.start = cdf(hmm.start)  # (k,)
        self.trans = cdf(hmm.transition)  # (k, k)
        self.emit = cdf(hmm.emission)  # (k, n)
        self.gen = torch.Generator(device=device)

    def _seed(self, step: int) -> int:
        return int(np.random.SeedSequence([self.config.seed, step]).generate_state(1)[0])

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c, dev = self.config, self.device
        g = self.gen.manual_seed(self._seed(step))
        L, B = window_shape(c, float(torch.rand((), generator=g, device=dev, dtype=torch.float64)))
        u = torch.rand((2, L, B), generator=g, device=dev, dtype=torch.float64)
        n_t, n_h = self.emit.shape[1] - 1, self.k - 1
        h = torch.searchsorted(self.start, u[0, 0]).clamp_(max=n_h)
        cols = []
        for t in range(L):
            if t:
                h = torch.searchsorted(self.trans[h], u[0, t, :, None])[:, 0].clamp_(max=n_h)
            cols.append(torch.searchsorted(self.emit[h], u[1, t, :, None])[:, 0])
        tokens = torch.stack(cols, 1).clamp_(max=n_t)
        mask = torch.rand((B, L), generator=g, device=dev) < c.mask_rate
        solo = torch.rand((B, 1), generator=g, device=dev) < c.probe_share
        mask &= ~solo
        mask[:, 0] |= c.mask_first
        inputs = tokens.masked_fill(mask, self.mask_id)
        return tokens, inputs, mask
