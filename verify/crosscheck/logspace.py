"""The second float route: plain log-space forward/backward, for instances too large or
not rational enough for exact arithmetic.

Shares no code with the scaled recursion of ``verify.core.inference``: messages are kept as
logarithms, every step is one ``logsumexp`` over the previous state, and there is no
rescaling, chunking or buffer reuse. :func:`logsumexp` is the textbook max-shifted one;
scipy.special.logsumexp gives the same values but measured 8.6x slower per call on
(3, 5, 5) arrays (its generality costs ~200 µs a call, 10⁴ calls per pass).
Cost ``B · T · k²`` per pass with (B, k, k) temporaries; T = 10⁴ is routine. Numerics:
the log of a message is exact to about ``T · eps`` relative, so posteriors agree with
the scaled route to ~1e-12 at T = 10⁴ (the tests use 1e-10).

Models: an HMM, a MemoryHMM (its product HMM is built here from the raw fields), or an
exact model (converted to floats).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from verify.core.models import HMM, MemoryHMM
from verify.core.validation import InputError
from verify.crosscheck.rational import RationalHMM, RationalMemoryHMM, RationalModel


class _Logs(NamedTuple):
    """log start (k,), log A (k, k), log E (k, n), E (k, n); −inf for zero entries."""

    start: np.ndarray
    A: np.ndarray
    E: np.ndarray
    emission: np.ndarray


def logsumexp(a: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``log Σ exp(a)`` along ``axis``, shifted by the max (−inf where every term is −inf)."""
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _log(a: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(a)


def _product_arrays(mem: MemoryHMM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """start, transition, emission of the product HMM, h = c·s + st (THEORY §1.3), from the
    memory model's raw fields."""
    N, m = mem.memory_prior.shape
    s = mem.state_start.shape[0]
    configs = list(np.ndindex(*(m,) * N))
    start, emis = [], []
    for M in configs:
        prior = np.prod([mem.memory_prior[j, M[j]] for j in range(N)])
        for st in range(s):
            start.append(prior * mem.state_start[st])
            emis.append(mem.emission[M[mem.pointer[st]] * s + st])
    trans = np.zeros((len(configs) * s,) * 2)
    for c in range(len(configs)):
        trans[c * s : (c + 1) * s, c * s : (c + 1) * s] = mem.state_transition
    return np.array(start), trans, np.array(emis)


def _arrays(model: HMM | MemoryHMM | RationalModel) -> _Logs:
    if isinstance(model, (RationalHMM, RationalMemoryHMM)):
        model = model.to_float()
    if isinstance(model, MemoryHMM):
        start, A, E = _product_arrays(model)
    elif isinstance(model, HMM):
        start, A, E = model.start, model.transition, model.emission
    else:
        raise TypeError(f"expected an HMM or MemoryHMM, got {type(model).__name__}")
    return _Logs(_log(start), _log(A), _log(E), np.asarray(E))


def _tokens(xs: ArrayLike, n: int) -> np.ndarray:
    arr = np.asarray(xs)
    if arr.ndim != 2 or (arr.size and arr.dtype.kind not in "iu"):
        raise InputError(f"xs must be a (B, T) array of integer token ids, got {arr.shape}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise InputError(f"xs contains a token outside 0..{n - 1} (n={n})")
    return arr


def _backward(lg: _Logs, xs: np.ndarray) -> np.ndarray:
    """``log P(x_{t+1:T} | H_t = h)`` (T+1, B, k) for t = 0…T."""
    B, T = xs.shape
    out = np.zeros((T + 1, B, lg.A.shape[0]))
    for t in range(T, 0, -1):
        nxt = lg.E[:, xs[:, t - 1]].T + out[t]  # (B, k): log e_{x_t}(h') + log β_t(h')
        out[t - 1] = logsumexp(lg.A[None, :, :] + nxt[:, None, :], axis=2)
    return out


def _normalise(log_w: np.ndarray, what: str) -> np.ndarray:
    tot = logsumexp(log_w, axis=-1, keepdims=True)
    bad = ~np.isfinite(tot[..., 0])
    if bad.any():
        rows = np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))
        raise InputError(f"{what}: input rows {rows[:10].tolist()} have probability zero")
    return np.exp(log_w - tot)


def log_likelihood(model: HMM | MemoryHMM | RationalModel, xs: ArrayLike) -> np.ndarray:
    """``log P(X_{1:T} = x)`` (B,), H_0 ~ start at the masked slot; −inf if impossible."""
    lg = _arrays(model)
    xs = _tokens(xs, lg.E.shape[1])
    return logsumexp(lg.start[None, :] + _backward(lg, xs)[0], axis=1)


def _posterior(lg: _Logs, xs: np.ndarray, log_prior: np.ndarray, what: str) -> np.ndarray:
    return _normalise(log_prior[None, :] + _backward(lg, xs)[0], what)


def posterior_h0(model: HMM | MemoryHMM | RationalModel, xs: ArrayLike) -> np.ndarray:
    """``P[H_0 | x]`` (B, k)."""
    lg = _arrays(model)
    return _posterior(lg, _tokens(xs, lg.E.shape[1]), lg.start, "posterior_h0")


def mask_probe(model: HMM | MemoryHMM | RationalModel, xs: ArrayLike) -> np.ndarray:
    """``G(x) = W p(x)`` (B, n)."""
    lg = _arrays(model)
    return _posterior(lg, _tokens(xs, lg.E.shape[1]), lg.start, "mask_probe") @ lg.emission


def prompted_mask_probe(
    model: HMM | MemoryHMM | RationalModel, xs: ArrayLike, prompt: ArrayLike
) -> np.ndarray:
    """``G(u, x)`` (B, n) for prompt weights (L, k): the chain starts at z_1 with law start,
    ``log P(H_0, z) = logsumexp_h (log a_{-1}(h) + log u_L(h) + log A[h, ·])`` and so on."""
    lg = _arrays(model)
    u = np.asarray(prompt, dtype=np.float64)
    if u.ndim == 1:
        u = u[None, :]
    k = lg.A.shape[0]
    if u.ndim != 2 or u.shape[1] != k or u.shape[0] < 1 or (u < 0).any():
        raise InputError(f"prompt must be non-negative weights of shape (L ≥ 1, k={k})")
    la = lg.start
    for row in u:
        la = logsumexp((la + _log(row))[:, None] + lg.A, axis=0)
    if not np.isfinite(logsumexp(la)):
        raise InputError("prompted_mask_probe: the prompt has probability zero")
    xs = _tokens(xs, lg.E.shape[1])
    return _posterior(lg, xs, la, "prompted_mask_probe") @ lg.emission


def loo_conditionals(model: HMM | MemoryHMM | RationalModel, xs: ArrayLike) -> np.ndarray:
    """``G_i(x)`` (B, T, n): ``∝ (P(H_i, x_{<i}) ⊙ P(x_{>i} | H_i)) @ E``, chain from x_1."""
    lg = _arrays(model)
    xs = _tokens(xs, lg.E.shape[1])
    B, T = xs.shape
    lb = _backward(lg, xs)  # lb[i] = log P(x_{i+1:T} | H_i)
    out = np.empty((B, T, lg.E.shape[1]))
    la = np.broadcast_to(lg.start, (B, lg.A.shape[0]))
    for i in range(T):  # position i+1
        out[:, i] = _normalise(la + lb[i + 1], "loo_conditionals") @ lg.emission
        f = la + lg.E[:, xs[:, i]].T
        la = logsumexp(f[:, :, None] + lg.A[None, :, :], axis=1)
    return out


def memory_posterior(
    mem: HMM | MemoryHMM | RationalModel, xs: ArrayLike, cell: int, s0: int | None = None
) -> np.ndarray:
    """``P[M_cell | x]`` (B, m), or ``P[M_cell | S_0 = s0, x]``."""
    if isinstance(mem, RationalMemoryHMM):
        mem = mem.to_float()
    if not isinstance(mem, MemoryHMM):
        raise InputError("memory_posterior needs a memory model")
    lg = _arrays(mem)
    s, (N, m) = mem.state_start.shape[0], mem.memory_prior.shape
    prior = lg.start.copy()
    if s0 is not None:
        prior[np.arange(prior.shape[0]) % s != s0] = -np.inf
    post = _posterior(lg, _tokens(xs, lg.E.shape[1]), prior, "memory_posterior")
    values = np.repeat([M[cell] for M in np.ndindex(*(m,) * N)], s)
    return np.stack([post[:, values == a].sum(axis=1) for a in range(m)], axis=1)


__all__ = [
    "log_likelihood",
    "loo_conditionals",
    "mask_probe",
    "memory_posterior",
    "posterior_h0",
    "prompted_mask_probe",
]
