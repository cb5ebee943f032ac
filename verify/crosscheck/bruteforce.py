"""Enumeration of hidden paths: every oracle output straight from its definition.

Exponential in T; only for tiny models (k ≤ 3, n ≤ 3, T ≤ 4, L ≤ 2). Written from the
definitions in THEORY §1–§2, sharing no code with ``verify.core.inference``.

One implementation, two number types: the ``*_weights`` functions return *unnormalised*
weights in whatever arithmetic the model's entries use (indexing ``A[i][j]``), so
:mod:`verify.crosscheck.oracle`'s ``route="enumerate"`` runs them on Fractions (exact),
and the float wrappers (:func:`posterior_h0`, :func:`mask_probe`, :func:`loo`,
:func:`memory_posterior`, :func:`smoothed`) normalise them in float64 for the tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


def window_paths(start, A, E, x, prompt=()) -> Iterator[tuple[tuple[int, ...], Any]]:
    """Yield (path, weight) over hidden paths of the window [z_1..z_L] [MASK] x_1..x_T.

    path[L] is H_0 (the masked slot); weight = P(path, z, x) excluding the mask's token.
    """
    k = len(start)
    L, T = len(prompt), len(x)
    for path in itertools.product(range(k), repeat=L + 1 + T):
        w = start[path[0]]
        for i in range(1, len(path)):
            w *= A[path[i - 1]][path[i]]
        for l, u in enumerate(prompt):
            w *= u[path[l]]
        for t, tok in enumerate(x):
            w *= E[path[L + 1 + t]][tok]
        yield path, w


def window_likelihood(start, A, E, x) -> Any:
    """``P(X_{1:T} = x)`` with ``H_0 ~ start`` at the masked slot (no prompt)."""
    total = start[0] * 0
    for _, w in window_paths(start, A, E, x):
        total += w
    return total


def posterior_weights(start, A, E, x, prompt=()) -> list:
    """Unnormalised ``P(H_0 = h, z, x)`` (k,) over the window."""
    post = [start[0] * 0] * len(start)
    for path, w in window_paths(start, A, E, x, prompt):
        post[path[len(prompt)]] += w
    return post


def likelihood_input_alone(start, A, E, x) -> Any:
    """``P(X_{1:T} = x)`` of the chain started at x_1 (``H_1 ~ start``)."""
    total = start[0] * 0
    for path in itertools.product(range(len(start)), repeat=len(x)):
        w = start[path[0]] * E[path[0]][x[0]]
        for t in range(1, len(x)):
            w *= A[path[t - 1]][path[t]] * E[path[t]][x[t]]
        total += w
    return total


def loo_weights(start, A, E, x) -> list[list]:
    """Unnormalised ``G_i(v) ∝ P(x with x_i = v)`` (T, n), chain from x_1."""
    n = len(E[0])
    out = []
    for i in range(len(x)):
        row = []
        for v in range(n):
            y = list(x)
            y[i] = v
            row.append(likelihood_input_alone(start, A, E, y))
        out.append(row)
    return out


def memory_weights(mem, x, cell: int, s0: int | None = None) -> list:
    """Unnormalised ``P[M_cell = a, (S_0 = s0,) x]`` (m,) from the memory model's own
    definition (THEORY §1.3: memory contents and ordinary-state paths), not as_hmm()."""
    prior_rows: Sequence = mem.memory_prior
    N, m, s = len(prior_rows), len(prior_rows[0]), mem.n_ordinary
    post = [mem.state_start[0] * 0] * m
    for M in itertools.product(range(m), repeat=N):
        prior = prior_rows[0][M[0]]
        for j in range(1, N):
            prior *= prior_rows[j][M[j]]
        for path in itertools.product(range(s), repeat=len(x) + 1):
            if s0 is not None and path[0] != s0:
                continue
            w = prior * mem.state_start[path[0]]
            for t in range(1, len(path)):
                st = path[t]
                w *= mem.state_transition[path[t - 1]][st]
                w *= mem.emission[M[mem.pointer[st]] * s + st][x[t - 1]]
            post[M[cell]] += w
    return post


# ----------------------------------------------------------------- float64 references


def _normalised(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum(axis=-1, keepdims=True)


def posterior_h0(start, A, E, x, prompt=()) -> np.ndarray:
    return _normalised(posterior_weights(start, A, E, x, prompt))


def mask_probe(start, A, E, x, prompt=()) -> np.ndarray:
    return posterior_h0(start, A, E, x, prompt) @ E


def smoothed(start, A, E, x) -> np.ndarray:
    """``P(H_t = h | x)`` (T, k) of the chain started at x_1."""
    k, T = len(start), len(x)
    out = np.zeros((T, k))
    for path in itertools.product(range(k), repeat=T):
        w = start[path[0]] * E[path[0]][x[0]]
        for t in range(1, T):
            w *= A[path[t - 1]][path[t]] * E[path[t]][x[t]]
        for t in range(T):
            out[t, path[t]] += w
    return out / out.sum(axis=1, keepdims=True)


def loo(start, A, E, x) -> np.ndarray:
    return _normalised(loo_weights(start, A, E, x))


def memory_posterior(mem, x, cell) -> np.ndarray:
    """P[M_cell | x] (m,) from the memory model's own definition (THEORY §1.3)."""
    return _normalised(memory_weights(mem, x, cell))


__all__ = [
    "likelihood_input_alone",
    "loo",
    "loo_weights",
    "mask_probe",
    "memory_posterior",
    "memory_weights",
    "posterior_h0",
    "posterior_weights",
    "smoothed",
    "window_likelihood",
    "window_paths",
]
