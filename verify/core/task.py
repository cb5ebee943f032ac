"""The task of THEORY §3: the input set 𝒮 on which a downstream task is decided.

``input_set(model, T)`` is 𝒮: every length-T sequence of positive probability (exhaustive
``[n]^T`` up to :data:`MAX_EXHAUSTIVE` sequences, else a seeded sample). Claims, the
``check`` analysis and the sweep all decide recoverability on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from verify.core.inference import log_likelihood
from verify.core.models import HMM, MemoryHMM
from verify.core.validation import as_int

#: Exhaustive input sets up to this many sequences (THEORY §3).
MAX_EXHAUSTIVE = 50_000


def exhaustive_inputs(n_tokens: int, T: int) -> np.ndarray:
    """All of ``[n]^T`` as (n**T, T) int64, lexicographic."""
    if T == 0:
        return np.zeros((1, 0), dtype=np.int64)
    return np.indices((n_tokens,) * T).reshape(T, -1).T.astype(np.int64)


def input_set(
    model: HMM | MemoryHMM,
    T: int,
    seed: Any = 0,
    *,
    max_exhaustive: int = MAX_EXHAUSTIVE,
    n_samples: int = 512,
) -> np.ndarray:
    """The input set 𝒮 (B, T) of THEORY §3 with every zero-probability sequence dropped.

    Exhaustive ``[n]^T`` when ``n**T ≤ max_exhaustive``; else ``n_samples`` sequences drawn
    from the model with ``np.random.default_rng(seed)``, duplicates removed (sorted).
    """
    T = as_int(T, "T", 0, note=" (input length)")
    n = model.n_tokens
    if n**T <= max_exhaustive:
        xs = exhaustive_inputs(n, T)
        return xs[np.isfinite(log_likelihood(model, xs))]
    xs, _ = model.sample(n_samples, T, np.random.default_rng(seed))
    xs = np.unique(xs, axis=0)
    return xs[np.isfinite(log_likelihood(model, xs))]


__all__ = ["MAX_EXHAUSTIVE", "exhaustive_inputs", "input_set"]
