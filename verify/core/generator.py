"""The paper's random generator (THEORY §8) as plain seeded functions.

Every function takes ``seed`` (an int, a ``np.random.SeedSequence`` or a
``np.random.Generator``) and draws only from ``np.random.default_rng(seed)``, so the same
seed always gives the same model or task.

- transition: ``Σ_{r=1..k} w_r P_r`` with ``P_r`` random permutation matrices and
  ``w = softmax((U − ½)/τ_trans)``, ``U ~ Unif[0,1]^k`` (doubly stochastic);
- emission rows: ``softmax((U − ½)/τ_emit)`` over the n tokens;
- start: exactly uniform, which is stationary for a doubly stochastic transition;
- task: a 2×k weight matrix with ``min(n_nonzero, 2k)`` nonzero N(0, 1) entries;
  label ``argmax(weights @ p(x))``, i.e. ``sign(μᵀ p(x))`` with ``μ = weights[1] − weights[0]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from verify.core.models import HMM, MemoryHMM
from verify.core.validation import InputError, SeedLike, as_int

#: τ_trans and τ_emit of the authors' experiments (THEORY §8).
PAPER_TAU = 0.01
#: Vocabulary size of the paper's experiments.
PAPER_N_TOKENS = 10
#: Nonzero entries of the paper's 2×k task weight matrix.
PAPER_N_NONZERO = 6
#: Ordinary states of the paper's memory model.
PAPER_N_ORDINARY = 4


def _check_tau(value: Any, name: str) -> float:
    try:
        tau = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(tau) or tau <= 0:
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return tau


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row max so ``exp`` never overflows."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def permutation_mixture(
    k: int, tau: float, rng: np.random.Generator, n_perms: int | None = None
) -> np.ndarray:
    """``Σ_{r=1..R} w_r P_r`` (k, k), ``w = softmax((U − ½)/τ)``, ``U ~ Unif[0,1]^R``,
    ``P_r`` uniform random permutations; R = ``n_perms`` (default k; the authors' memory
    block uses 4m, see :mod:`verify.experiments.authors`).

    Doubly stochastic (a convex combination of permutation matrices).
    """
    r = k if n_perms is None else as_int(n_perms, "n_perms", 1)
    weights = _softmax((rng.random(r) - 0.5) / tau)
    transition = np.zeros((k, k))
    rows = np.arange(k)
    for w in weights:
        transition[rows, rng.permutation(k)] += w
    # Rows and columns each sum to Σw = 1 up to rounding; renormalise rows exactly.
    return transition / transition.sum(axis=1, keepdims=True)


def softmax_rows(rows: int, cols: int, tau: float, rng: np.random.Generator) -> np.ndarray:
    """(rows, cols) with each row ``softmax((U − ½)/τ)``, ``U ~ Unif[0,1]^cols``."""
    return _softmax((rng.random((rows, cols)) - 0.5) / tau)


def reference_hmm(
    seed: SeedLike,
    n_states: int,
    n_tokens: int = PAPER_N_TOKENS,
    tau_trans: float = PAPER_TAU,
    tau_emit: float = PAPER_TAU,
) -> HMM:
    """The paper's vanilla HMM with k = ``n_states`` and n = ``n_tokens`` (THEORY §8).

    Start is exactly uniform (stationary: the transition is doubly stochastic).
    """
    k = as_int(n_states, "n_states", 1)
    n = as_int(n_tokens, "n_tokens", 1)
    rng = np.random.default_rng(seed)
    transition = permutation_mixture(k, _check_tau(tau_trans, "tau_trans"), rng)
    emission = softmax_rows(k, n, _check_tau(tau_emit, "tau_emit"), rng)
    return HMM(np.full(k, 1.0 / k), transition, emission)


def sparse_task_weights(
    shape: tuple[int, int], n_nonzero: int, rng: np.random.Generator
) -> np.ndarray:
    """Zeros with ``min(n_nonzero, size)`` entries, at uniformly random distinct positions,
    replaced by N(0, 1) draws."""
    size = shape[0] * shape[1]
    count = min(n_nonzero, size)
    weights = np.zeros(size)
    positions = rng.choice(size, size=count, replace=False)
    weights[positions] = rng.standard_normal(count)
    return weights.reshape(shape)


def reference_task(seed: SeedLike, n_states: int, n_nonzero: int = PAPER_N_NONZERO) -> np.ndarray:
    """The paper's task weights (2, k): ``min(n_nonzero, 2k)`` nonzero N(0, 1) entries.

    Label ``argmax(weights @ p(x))``; the equivalent μ is :func:`task_mu` of the result.
    """
    k = as_int(n_states, "n_states", 1)
    nnz = as_int(n_nonzero, "n_nonzero", 1)
    return sparse_task_weights((2, k), nnz, np.random.default_rng(seed))


def task_mu(weights: ArrayLike) -> np.ndarray:
    """μ = ``weights[1] − weights[0]`` (d,) for a 2-class weight matrix (2, d)."""
    arr = np.asarray(weights, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 2:
        raise InputError(f"weights must have shape (2, d), got {arr.shape}")
    return arr[1] - arr[0]


def reference_memory_hmm(
    seed: SeedLike,
    n_values: int,
    n_ordinary: int = PAPER_N_ORDINARY,
    n_tokens: int = PAPER_N_TOKENS,
    tau_trans: float = PAPER_TAU,
    tau_emit: float = PAPER_TAU,
) -> MemoryHMM:
    """The paper's memory model (THEORY §8): one cell with m = ``n_values`` uniform values,
    s = ``n_ordinary`` states with a permutation-mixture chain (one s×s block shared by every
    memory value) from the uniform start, pointer all zeros, and an emission row
    ``softmax((U − ½)/τ_emit)`` for every (value, state) pair (m·s rows)."""
    m = as_int(n_values, "n_values", 1)
    s = as_int(n_ordinary, "n_ordinary", 1)
    n = as_int(n_tokens, "n_tokens", 1)
    rng = np.random.default_rng(seed)
    state_transition = permutation_mixture(s, _check_tau(tau_trans, "tau_trans"), rng)
    emission = softmax_rows(m * s, n, _check_tau(tau_emit, "tau_emit"), rng)
    return MemoryHMM(
        memory_prior=np.full((1, m), 1.0 / m),
        state_start=np.full(s, 1.0 / s),
        state_transition=state_transition,
        pointer=np.zeros(s, dtype=np.int64),
        emission=emission,
    )


def reference_memory_task(
    seed: SeedLike, n_values: int, n_nonzero: int = PAPER_N_NONZERO
) -> np.ndarray:
    """Task weights over memory values (2, m) with ``min(n_nonzero, 2m)`` N(0, 1) nonzeros;
    label ``argmax(weights @ P[M | x])``; μ = :func:`task_mu` of the result (task cell 0)."""
    m = as_int(n_values, "n_values", 1)
    nnz = as_int(n_nonzero, "n_nonzero", 1)
    return sparse_task_weights((2, m), nnz, np.random.default_rng(seed))


__all__ = [
    "PAPER_N_NONZERO",
    "PAPER_N_ORDINARY",
    "PAPER_N_TOKENS",
    "PAPER_TAU",
    "permutation_mixture",
    "reference_hmm",
    "reference_memory_hmm",
    "reference_memory_task",
    "reference_task",
    "softmax_rows",
    "sparse_task_weights",
    "task_mu",
]
