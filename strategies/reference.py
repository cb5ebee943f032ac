"""Strategies over the paper's generator (THEORY §8): seeds drawn, models built by
:mod:`verify.core.generator`."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from strategies.blocks import IntSpec, draw_int
from verify.core.generator import (
    PAPER_N_ORDINARY,
    PAPER_N_TOKENS,
    PAPER_TAU,
    reference_hmm,
    reference_memory_hmm,
    reference_memory_task,
    reference_task,
    task_mu,
)
from verify.core.models import HMM, MemoryHMM

#: The paper's memory sizes m (THEORY §8).
PAPER_MEMORY_VALUES = st.sampled_from((2, 3, 5, 7))
#: Seeds are drawn from [0, SEED_MAX]; they shrink toward 0.
SEED_MAX = 2**32 - 1


@st.composite
def reference_hmms(
    draw: st.DrawFn,
    n_states: IntSpec = (2, 12),
    n_tokens: IntSpec = PAPER_N_TOKENS,
    tau_trans: float = PAPER_TAU,
    tau_emit: float = PAPER_TAU,
) -> HMM:
    """``reference_hmm(seed, k, n, τ_trans, τ_emit)`` for a drawn seed and k. Guarantee: the
    paper's generator exactly (doubly stochastic transition, uniform stationary start)."""
    k = draw_int(draw, n_states, "n_states")
    n = draw_int(draw, n_tokens, "n_tokens")
    return reference_hmm(draw(st.integers(0, SEED_MAX)), k, n, tau_trans, tau_emit)


def reference_tasks(n_states: int, n_nonzero: int = 6) -> st.SearchStrategy[np.ndarray]:
    """μ = task_mu(reference_task(seed, k)) (k,): the paper's 6-sparse 2×k weights as μ."""
    return st.integers(0, SEED_MAX).map(
        lambda seed: task_mu(reference_task(seed, n_states, n_nonzero))
    )


@st.composite
def reference_memory_hmms(
    draw: st.DrawFn,
    n_values: IntSpec = PAPER_MEMORY_VALUES,
    n_ordinary: IntSpec = PAPER_N_ORDINARY,
    n_tokens: IntSpec = PAPER_N_TOKENS,
    tau_trans: float = PAPER_TAU,
    tau_emit: float = PAPER_TAU,
) -> MemoryHMM:
    """``reference_memory_hmm(seed, m, s, n, …)`` for a drawn seed and m (the paper's m)."""
    m = draw_int(draw, n_values, "n_values")
    s = draw_int(draw, n_ordinary, "n_ordinary")
    n = draw_int(draw, n_tokens, "n_tokens")
    return reference_memory_hmm(draw(st.integers(0, SEED_MAX)), m, s, n, tau_trans, tau_emit)


def reference_memory_tasks(n_values: int, n_nonzero: int = 6) -> st.SearchStrategy[np.ndarray]:
    """μ (m,) = task_mu(reference_memory_task(seed, m))."""
    return st.integers(0, SEED_MAX).map(
        lambda seed: task_mu(reference_memory_task(seed, n_values, n_nonzero))
    )


__all__ = ["reference_hmms", "reference_memory_hmms", "reference_memory_tasks", "reference_tasks"]
