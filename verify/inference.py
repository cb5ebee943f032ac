"""Exact batched inference: the ideal pretrained model's outputs (THEORY.md §2).

Every function is pure, takes a model and a batch of token sequences ``xs`` (B, T), and
runs the same code on numpy arrays and on torch tensors (float64, any device; gradients
flow into the prompt weights and, through :class:`~verify.models.HMMParams`, into the
model's parameters).

Positions (THEORY §1.2): prompt slots −L…−1, the masked slot 0, the input 1…T. The chain
runs from the window's first position with law ``start``.

Messages are scaled: every step divides by the message's sum, so nothing underflows for
T = 10⁴ (scaling is the only underflow guard, in :func:`_normalize`). A sequence with
probability zero under the model has no posterior: it raises ``ValueError`` naming the
batch rows; :func:`log_likelihood` returns −inf for such rows so callers can drop them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from .models import HMM, HMMParams, MemoryHMM

Array = Any  # numpy.ndarray or torch.Tensor, float64


# --------------------------------------------------------------------------- plumbing


def _params(model: HMM | HMMParams) -> HMMParams:
    if isinstance(model, HMM):
        return model.params
    if isinstance(model, HMMParams):
        return model
    if isinstance(model, MemoryHMM):
        return product_hmm(model).params
    raise TypeError(
        f"expected an HMM, MemoryHMM or HMMParams, got {type(model).__name__}"
    )


@lru_cache(maxsize=32)
def _product_cache(model_id: int, model: MemoryHMM) -> HMM:  # noqa: ARG001 - cache key
    return model.as_hmm()


def product_hmm(mem: MemoryHMM) -> HMM:
    """``mem.as_hmm()``, cached per model object (models are immutable)."""
    return _product_cache(id(mem), mem)


def _xp(a: Array):
    return array_api_compat.array_namespace(a)


def _tokens(xs: Any, n: int, like: Array, name: str = "xs") -> Array:
    """Validate ``xs`` (B, T) integer tokens in [0, n); return it on ``like``'s backend."""
    if array_api_compat.is_torch_array(xs):
        if xs.dtype.is_floating_point or xs.dtype.is_complex or str(xs.dtype) == "torch.bool":
            raise ValueError(f"{name} must hold integer token ids, got dtype {xs.dtype}")
        arr_np = None
    else:
        try:
            arr_np = np.asarray(xs)
        except Exception:  # noqa: BLE001 - ragged lists etc.: the user's input error
            raise ValueError(f"{name}: cannot be read as a (B, T) array of token ids") from None
        if arr_np.dtype == object:
            raise ValueError(f"{name}: ragged or non-numeric; pass a (B, T) array of ints")
        if arr_np.dtype.kind not in "iu":
            if arr_np.size == 0 and arr_np.dtype.kind == "f":
                arr_np = arr_np.astype(np.int64)  # np.zeros((B, 0)) is a valid empty batch
            else:
                raise ValueError(
                    f"{name} must hold integer token ids, got dtype {arr_np.dtype}; "
                    f"convert with xs.astype(int) if the values are whole numbers"
                )
    shape = tuple(xs.shape) if arr_np is None else arr_np.shape
    if len(shape) != 2:
        raise ValueError(
            f"{name} must have shape (B, T), got {shape}; "
            f"for one sequence pass xs[None, :]"
        )
    if shape[0] * shape[1]:
        lo = int(xs.min()) if arr_np is None else int(arr_np.min())
        hi = int(xs.max()) if arr_np is None else int(arr_np.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} contains token {bad}; tokens must be in 0..{n - 1} (n={n})")
    if array_api_compat.is_torch_array(like):
        import torch

        src = xs if arr_np is None else torch.from_numpy(np.ascontiguousarray(arr_np))
        return src.to(device=like.device, dtype=torch.long)
    if arr_np is None:
        return xs.detach().cpu().numpy().astype(np.int64)
    return arr_np.astype(np.int64, copy=False)


def _normalize(v: Array, xp) -> tuple[Array, Array]:
    """``v / Σ v`` along the last axis, and the sums (…, 1). The single underflow guard."""
    s = xp.sum(v, axis=-1, keepdims=True)
    return v / s, s


def _raise_if_impossible(sums: Array, xp, what: str) -> None:
    """Raise when a scale factor is 0 (or NaN): that batch row has probability zero."""
    bad = ~(sums > 0)
    while bad.ndim > 1:
        bad = xp.any(bad, axis=-1)
    if bool(xp.any(bad)):
        rows = [int(i) for i in np.flatnonzero(np.asarray(array_api_compat.to_device(bad, "cpu")))]
        raise ValueError(
            f"{what}: input rows {rows[:10]}{'…' if len(rows) > 10 else ''} have probability "
            f"zero under the model, so their posterior is undefined; drop them "
            f"(log_likelihood(model, xs) is -inf exactly for these rows)"
        )


# --------------------------------------------------------------------------- recursions


class Messages(NamedTuple):
    """Scaled messages of one batch; every vector sums to 1 over its last axis.

    backward (B, T+1, k): ``β_t(h) ∝ P(x_{t+1:T} | H_t = h)`` for t = 0…T (position 0 is
    the masked slot, ``β_T = 1/k``).
    log_scale (B,): ``log P(x_{1:T} | H_0 = ·)`` scale, so that
    ``P(x_{1:T} | H_0=h) = β_0(h) · exp(log_scale)``.
    """

    backward: Array
    log_scale: Array


def _backward(params: HMMParams, xs: Array, keep_all: bool, strict: bool = True) -> Messages:
    """Backward recursion ``β_{t-1} = A (e_{x_t} ⊙ β_t)`` over positions T…1 → 0.

    xs (B, T) are the tokens at positions 1…T. Returns β_0 only unless ``keep_all``.
    ``strict`` raises on impossible rows; otherwise their ``log_scale`` is −inf.
    """
    A, E = params.transition, params.emission
    xp = _xp(A)
    B, T = xs.shape
    k = A.shape[0]
    At, Et = A.T, E.T  # Et[x] = e_x = E[:, x], the emission likelihoods of token x
    dev = array_api_compat.device(A)
    beta = xp.ones((B, k), dtype=A.dtype, device=dev) / k
    log_scale = xp.full((B,), float(np.log(k)), dtype=A.dtype, device=dev)
    out = [beta] if keep_all else None
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(T - 1, -1, -1):
            beta, s = _normalize((Et[xs[:, t]] * beta) @ At, xp)
            if strict:
                _raise_if_impossible(s, xp, "backward recursion")
            else:
                beta = xp.where(s > 0, beta, xp.zeros_like(beta))
            log_scale = log_scale + xp.log(s[:, 0])
            if keep_all:
                out.append(beta)
    backward = xp.stack(out[::-1], axis=1) if keep_all else beta[:, None, :]
    return Messages(backward, log_scale)


def _forward_predicted(params: HMMParams, xs: Array) -> Array:
    """Predicted laws ``P(H_t | x_{1:t-1})`` (B, T, k) with ``H_1 ~ start`` (input alone)."""
    start, A, E = params
    xp = _xp(A)
    B, T = xs.shape
    Et = E.T
    pred = xp.broadcast_to(start[None, :], (B, start.shape[0]))
    out = []
    for t in range(T):
        out.append(pred)
        filt, s = _normalize(pred * Et[xs[:, t]], xp)
        _raise_if_impossible(s, xp, "forward recursion")
        pred = filt @ A
    if not out:
        return xp.zeros((B, 0, start.shape[0]), dtype=A.dtype, device=array_api_compat.device(A))
    return xp.stack(out, axis=1)


def _prompt_prior(params: HMMParams, prompt: Array | None) -> Array:
    """Unnormalised ``P(z_{1:L}, H_0 = h)`` (k,): the chain from ``start`` at −L through
    the prompt tokens' emission weights ``u_l`` (L, k), one step into the masked slot.

    For stationary ``start`` this is ``π ⊙ v`` with ``v = prompt_likelihood`` (THEORY §2).
    """
    start, A, _ = params
    xp = _xp(A)
    if prompt is None or prompt.shape[0] == 0:
        return start
    a = start * prompt[0]
    for l in range(1, prompt.shape[0]):
        a, _ = _normalize(a, xp)
        a = (a @ A) * prompt[l]
    a, s = _normalize(a, xp)
    if not bool(s[0] > 0):
        raise ValueError("prompt: its weights give every state probability zero; raise some u_l[h]")
    return a @ A


def _as_prompt(prompt: Any, like: Array, k: int) -> Array:
    xp = _xp(like)
    if array_api_compat.is_torch_array(like):
        import torch

        p = prompt if isinstance(prompt, torch.Tensor) else torch.as_tensor(np.asarray(prompt, dtype=np.float64))
        p = p.to(device=like.device, dtype=like.dtype)
        bad_dims = p.ndim != 2 or p.shape[1] != k
        finite = bool(torch.isfinite(p.detach()).all()) if not bad_dims else True
        neg = bool((p.detach() < 0).any()) if not bad_dims else False
    else:
        p = np.asarray(prompt.detach().cpu() if hasattr(prompt, "detach") else prompt, dtype=np.float64)
        bad_dims = p.ndim != 2 or p.shape[1] != k
        finite = bool(np.isfinite(p).all()) if not bad_dims else True
        neg = bool((p < 0).any()) if not bad_dims else False
    if bad_dims:
        raise ValueError(f"prompt must have shape (L, k) = (L, {k}), got {tuple(p.shape)}")
    if not finite:
        raise ValueError("prompt contains NaN or inf; weights must be finite numbers in [0, 1]")
    if neg:
        raise ValueError("prompt has negative weights; u_l[h] = P(z_l | H = h) must be ≥ 0")
    del xp
    return p


# --------------------------------------------------------------------------- public API


def log_likelihood(model: HMM | HMMParams | MemoryHMM, xs: Any) -> Array:
    """``log P(X_{1:T} = x)`` (B,) with ``H_0 ~ start`` at the masked slot; −inf where the
    sequence is impossible (equal to the usual likelihood when ``start`` is stationary)."""
    params = _params(model)
    xp = _xp(params.transition)
    xs = _tokens(xs, params.emission.shape[1], params.transition)
    msg = _backward(params, xs, keep_all=False, strict=False)
    with np.errstate(divide="ignore"):
        return msg.log_scale + xp.log(xp.sum(params.start[None, :] * msg.backward[:, 0, :], axis=-1))


def posterior_h0(model: HMM | HMMParams | MemoryHMM, xs: Any) -> Array:
    """``p(x) = P[H_0 | X_{1:T} = x]`` (B, k); with T = 0 it is ``start``.

    ``p(x) ∝ start ⊙ β_0``, with β from the scaled backward recursion.
    """
    params = _params(model)
    xs = _tokens(xs, params.emission.shape[1], params.transition)
    xp = _xp(params.transition)
    beta0 = _backward(params, xs, keep_all=False).backward[:, 0, :]
    post, s = _normalize(params.start[None, :] * beta0, xp)
    _raise_if_impossible(s, xp, "posterior_h0")
    return post


def mask_probe(model: HMM | HMMParams, xs: Any) -> Array:
    """Head tuning's input ``G(x) = P[X_0 | X_{1:T} = x] = W p(x)`` (B, n)."""
    params = _params(model)
    return posterior_h0(params, xs) @ params.emission


def prompted_mask_probe(model: HMM | HMMParams, xs: Any, prompt: Any) -> Array:
    """Prompted mask probe ``G(u, x) = P[X_0 | z_{1:L}, X_{1:T} = x]`` (B, n).

    ``prompt`` (L, k): fake-token emission weights ``u_l[h] = P(z_l | H = h)``. Computed
    forward from ``start`` at position −L through the prompt, so for stationary ``start``
    it equals THEORY §2's ``W diag(v) p(x) / (vᵀ p(x))``. L = 0 gives :func:`mask_probe`.
    """
    params = _params(model)
    A = params.transition
    xp = _xp(A)
    k = A.shape[0]
    prompt = _as_prompt(prompt, A, k)
    xs = _tokens(xs, params.emission.shape[1], A)
    prior0 = _prompt_prior(params, prompt)
    beta0 = _backward(params, xs, keep_all=False).backward[:, 0, :]
    post, s = _normalize(prior0[None, :] * beta0, xp)
    _raise_if_impossible(s, xp, "prompted_mask_probe")
    return post @ params.emission


def reversed_transition(model: HMM | HMMParams) -> Array:
    """Reversed chain ``R[h, h'] = P(H_{-1}=h' | H_0=h) = π[h'] A[h', h] / π[h]`` (k, k).

    π is ``start`` (for an :class:`HMM` whose start is not stationary, its stationary law).
    A state with ``π[h] = 0`` is never visited; its row is defined as the reversal under a
    uniform prior, ``A[h', h] / Σ_h'' A[h'', h]`` (uniform if column h of A is zero), so R
    stays row-stochastic and NaN-free.
    """
    params = _params(model)
    pi = model.stationary() if isinstance(model, HMM) else params.start
    A = params.transition
    xp = _xp(A)
    k = A.shape[0]
    joint = pi[:, None] * A  # joint[h', h] = π[h'] A[h', h]
    num = joint.T  # num[h, h']
    fallback = A.T
    fb_sum = xp.sum(fallback, axis=-1, keepdims=True)
    uniform = xp.ones_like(fallback) / k
    fallback = xp.where(fb_sum > 0, fallback / xp.where(fb_sum > 0, fb_sum, 1.0), uniform)
    den = xp.sum(num, axis=-1, keepdims=True)
    return xp.where(den > 0, num / xp.where(den > 0, den, 1.0), fallback)


def prompt_likelihood(model: HMM | HMMParams, prompt: Any) -> Array:
    """``v[h] = P(z_{1:L} | H_0 = h)`` (k,) by the reversed chain (THEORY §2):
    ``w_1 = u_1``, ``w_l = u_l ⊙ (R w_{l-1})``, ``v = R w_L``. Prompt tokens are ordered
    z_1 (position −L) … z_L (position −1). L = 0 gives ``v = 1``."""
    params = _params(model)
    A = params.transition
    xp = _xp(A)
    k = A.shape[0]
    prompt = _as_prompt(prompt, A, k)
    R = reversed_transition(model)
    if prompt.shape[0] == 0:
        return xp.ones((k,), dtype=A.dtype, device=array_api_compat.device(A))
    w = prompt[0]  # z_1, the slot farthest from the mask
    for l in range(1, prompt.shape[0]):
        w = prompt[l] * (R @ w)
    return R @ w


def smoothed_posteriors(model: HMM | HMMParams, xs: Any) -> Array:
    """``P[H_t | X_{1:T} = x]`` (B, T, k) for t = 1…T, chain starting at x_1 with law
    ``start`` (hmmlearn's ``predict_proba`` with ``startprob_ = start``)."""
    params = _params(model)
    A = params.transition
    xp = _xp(A)
    xs = _tokens(xs, params.emission.shape[1], A)
    beta = _backward(params, xs, keep_all=True).backward[:, 1:, :]  # (B, T, k)
    pred = _forward_predicted(params, xs)
    Et = params.emission.T
    post, s = _normalize(pred * Et[xs] * beta, xp)
    _raise_if_impossible(s, xp, "smoothed_posteriors")
    return post


def loo_conditionals(model: HMM | HMMParams, xs: Any) -> Array:
    """Leave-one-out conditionals ``G_i(x) = P[X_i | X_{-i} = x_{-i}]`` (B, T, n), i = 1…T,
    on the input alone (chain starts at x_1 with law ``start``):
    ``G_i ∝ (P(H_i | x_{<i}) ⊙ P(x_{>i} | H_i)) @ E``."""
    params = _params(model)
    A = params.transition
    xp = _xp(A)
    xs = _tokens(xs, params.emission.shape[1], A)
    beta = _backward(params, xs, keep_all=True).backward[:, 1:, :]
    pred = _forward_predicted(params, xs)
    q, s = _normalize(pred * beta, xp)
    _raise_if_impossible(s, xp, "loo_conditionals")
    return q @ params.emission


def memory_posterior(mem: MemoryHMM, xs: Any, cell: int) -> np.ndarray:
    """``P[M_cell | X_{1:T} = x]`` (B, m): a marginal of ``P[H_0 | x]`` on the product HMM."""
    if not isinstance(mem, MemoryHMM):
        raise TypeError(f"memory_posterior needs a MemoryHMM, got {type(mem).__name__}")
    marg = mem.cell_marginalizer(cell)
    return posterior_h0(product_hmm(mem), xs) @ marg


__all__ = [
    "Messages",
    "log_likelihood",
    "loo_conditionals",
    "mask_probe",
    "memory_posterior",
    "posterior_h0",
    "product_hmm",
    "prompt_likelihood",
    "prompted_mask_probe",
    "reversed_transition",
    "smoothed_posteriors",
]
