"""Building blocks: probability vectors and stochastic matrices from small integer weights,
the rank repair that gives satisfying instances a σ_min floor, and input sets (strategies over
:func:`verify.core.task.input_set`, re-exported here with ``MAX_EXHAUSTIVE``).

Shrinking: every probability is ``w / Σw`` for integer weights ``w ∈ [lo, max_weight]``;
an all-zero weight row becomes uniform. So a shrunk example reads ``[1/2, 1/2]`` or
``[1, 0]``, never ``0.4999…``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from hypothesis import strategies as st

from verify.core.conditions import sigma_min
from verify.core.models import HMM, MemoryHMM
from verify.core.task import MAX_EXHAUSTIVE, exhaustive_inputs, input_set
from verify.core.validation import InputError

#: Largest integer weight; probabilities are ratios of such weights (1/2, 1/3, 2/7, …).
MAX_WEIGHT = 4
#: σ_min floor of satisfying instances (THEORY §7): claims are tested away from the knife
#: edge SIGMA_TOL = 1e-8 at which conditions.py decides "holds".
SIGMA_FLOOR = 0.05
#: Mixing weights tried, in order, by :func:`rank_repair`. The last is 1 (the pure "home
#: token" matrix, σ_min = 1), so the repair always succeeds for a floor ≤ 1.
REPAIR_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)

#: An integer size argument: an int, an inclusive ``(lo, hi)`` pair, or a strategy.
IntSpec = int | tuple[int, int] | st.SearchStrategy[int]
#: A style argument: one style, a sequence to draw from, or None (any).
StyleSpec = str | tuple[str, ...] | list[str] | None
#: A condition argument (``satisfying``/``violating``): one name, several, or None.
ConditionSpec = str | Iterable[str] | None


def draw_int(draw: st.DrawFn, spec: IntSpec, name: str) -> int:
    """An int from ``spec``: an int, an inclusive ``(lo, hi)`` pair, or a strategy."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return int(spec)
    if isinstance(spec, tuple) and len(spec) == 2:
        lo, hi = int(spec[0]), int(spec[1])
        if lo > hi:
            raise InputError(f"{name}: range {spec} is empty; pass (lo, hi) with lo ≤ hi")
        return draw(st.integers(lo, hi))
    if isinstance(spec, st.SearchStrategy):
        return int(draw(spec))
    raise InputError(
        f"{name} must be an int, an inclusive (lo, hi) pair or a strategy, got {spec!r}"
    )


def normalise(weights: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Rows of non-negative weights (…, d) → probability rows; an all-zero row is uniform;
    with ``floor`` every entry is at least ``floor`` (``floor + (1 − d·floor) · w/Σw``)."""
    w = np.asarray(weights, dtype=np.float64)
    d = w.shape[-1]
    if not 0.0 <= floor < 1.0 / d:
        raise InputError(f"floor must be in [0, 1/{d}) for rows of length {d}, got {floor}")
    sums = w.sum(axis=-1, keepdims=True)
    p = np.where(sums > 0, w / np.where(sums > 0, sums, 1.0), 1.0 / d)
    return floor + (1.0 - d * floor) * p if floor else p


@st.composite
def weight_arrays(
    draw: st.DrawFn, shape: tuple[int, ...], *, zeros: bool = True, max_weight: int = MAX_WEIGHT
) -> np.ndarray:
    """Integer weights of ``shape`` in ``[0 if zeros else 1, max_weight]``; shrink to lo."""
    lo = 0 if zeros else 1
    size = int(np.prod(shape))
    flat = draw(st.lists(st.integers(lo, max_weight), min_size=size, max_size=size))
    return np.asarray(flat, dtype=np.float64).reshape(shape)


def probability_vectors(
    size: int, *, zeros: bool = True, floor: float = 0.0, max_weight: int = MAX_WEIGHT
) -> st.SearchStrategy[np.ndarray]:
    """Probability vectors (size,) from integer weights. Guarantee: entries ≥ 0 (> 0 when
    ``zeros=False``, ≥ ``floor``) summing to 1 within 1e-15; ratios of small ints when
    floor = 0. Exact zeros appear when ``zeros=True`` (all-zero weights give uniform)."""
    return weight_arrays((size,), zeros=zeros, max_weight=max_weight).map(
        lambda w: normalise(w, floor)
    )


def stochastic_matrices(
    rows: int, cols: int, *, zeros: bool = True, floor: float = 0.0, max_weight: int = MAX_WEIGHT
) -> st.SearchStrategy[np.ndarray]:
    """Row-stochastic (rows, cols) matrices; each row as in :func:`probability_vectors`."""
    return weight_arrays((rows, cols), zeros=zeros, max_weight=max_weight).map(
        lambda w: normalise(w, floor)
    )


def home_tokens(rows: int, n_tokens: int, offset: int = 0) -> np.ndarray:
    """(rows, n_tokens) one-hot rows: row r emits token ``offset + r`` (needs ≤ n tokens)."""
    if offset + rows > n_tokens:
        raise InputError(f"{rows} home tokens from {offset} need ≥ {offset + rows} tokens")
    out = np.zeros((rows, n_tokens))
    out[np.arange(rows), offset + np.arange(rows)] = 1.0
    return out


def rank_repair(emission: np.ndarray, homes: np.ndarray, floor: float, check) -> np.ndarray:
    """``(1 − α) emission + α homes`` for the first α in REPAIR_ALPHAS with ``check(mixed)``
    ≥ floor. ``check`` maps the mixed emission to a σ_min; with α = 1 the caller guarantees
    σ_min = 1 (orthonormal home columns), so a floor ≤ 1 is always met."""
    if not 0 < floor <= 1:
        raise InputError(f"sigma_floor must be in (0, 1], got {floor}")
    for alpha in REPAIR_ALPHAS:
        mixed = (1.0 - alpha) * emission + alpha * homes
        if check(mixed) >= floor:
            return mixed
    raise AssertionError("rank_repair: α = 1 must satisfy the floor")  # pragma: no cover


def repaired_rows(emission: np.ndarray, floor: float) -> np.ndarray:
    """Emission (r, n), r ≤ n, mixed toward one-hot rows so that σ_min(emission) ≥ floor."""
    homes = home_tokens(emission.shape[0], emission.shape[1])
    return rank_repair(emission, homes, floor, lambda e: sigma_min(e.T))


def tiers(small: st.SearchStrategy, large: st.SearchStrategy, every: int = 4) -> st.SearchStrategy:
    """``small`` for (every − 1) draws in ``every``, ``large`` for the rest (size tiers of the
    claims: small instances decided exhaustively, large ones on sampled input sets).
    Shrinks toward ``small``, so a counterexample found on a large instance is retried on
    small ones first."""
    if every < 2:
        raise InputError(f"every must be ≥ 2 (one large tier in `every` draws), got {every}")
    return st.integers(0, every - 1).flatmap(lambda i: large if i == every - 1 else small)


def input_sets(
    model: HMM | MemoryHMM,
    T: int,
    *,
    max_exhaustive: int = MAX_EXHAUSTIVE,
    n_samples: int = 512,
) -> st.SearchStrategy[np.ndarray]:
    """Input sets (B, T) for ``model``: ``st.just`` the exhaustive set when ``n**T ≤
    max_exhaustive``, else a seeded sample (the seed is drawn). Guarantee: B ≥ 1 and every
    row has positive probability (``log_likelihood > −inf``)."""
    if model.n_tokens**T <= max_exhaustive:
        return st.just(input_set(model, T, max_exhaustive=max_exhaustive))
    return st.integers(0, 2**32 - 1).map(
        lambda seed: input_set(model, T, seed, max_exhaustive=max_exhaustive, n_samples=n_samples)
    )


__all__ = [
    "ConditionSpec",
    "IntSpec",
    "MAX_EXHAUSTIVE",
    "MAX_WEIGHT",
    "REPAIR_ALPHAS",
    "SIGMA_FLOOR",
    "StyleSpec",
    "draw_int",
    "exhaustive_inputs",
    "home_tokens",
    "input_set",
    "input_sets",
    "normalise",
    "probability_vectors",
    "rank_repair",
    "repaired_rows",
    "stochastic_matrices",
    "tiers",
    "weight_arrays",
]
