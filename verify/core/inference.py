"""Exact batched inference: the ideal pretrained model's outputs (THEORY.md §2).

Every function is pure, takes a model and a batch of token sequences ``xs`` (B, T), and
runs the same code on numpy arrays and on torch tensors (float64, any device; gradients
flow into the prompt weights and, through :class:`~verify.core.models.HMMParams`, into the
model's parameters).

Positions (THEORY §1.2): prompt slots −L…−1, the masked slot 0, the input 1…T. The chain
runs from the window's first position with law ``start``.

Messages are scaled: every step divides by the message's sum, so nothing underflows for
T = 10⁴ (scaling is the only underflow guard, in :func:`_scaled_scan`). A sequence with
probability zero under the model has no posterior: it raises ``ValueError`` naming the
batch rows; :func:`log_likelihood` returns −inf for such rows so callers can drop them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any, NamedTuple

import array_api_compat
import numpy as np
import threadpoolctl
from numpy.typing import ArrayLike

from verify.core.validation import (
    InputError,
    check_finite,
    check_nonnegative,
    require,
    token_array,
)

from .models import HMM, HMMParams, MemoryHMM

Array = Any  # numpy.ndarray or torch.Tensor, float64


# --------------------------------------------------------------------------- plumbing


def _params(model: HMM | HMMParams | MemoryHMM) -> HMMParams:
    if isinstance(model, HMM):
        return model.params
    if isinstance(model, HMMParams):
        return model
    return product_hmm(require(model, (HMM, MemoryHMM, HMMParams), "model")).params


@lru_cache(maxsize=32)
def _product_cache(model_id: int, model: MemoryHMM) -> HMM:  # noqa: ARG001 - cache key
    return model.as_hmm()


def product_hmm(mem: MemoryHMM) -> HMM:
    """``mem.as_hmm()``, cached per model object (models are immutable)."""
    return _product_cache(id(mem), mem)


def _xp(a: Array):
    return array_api_compat.array_namespace(a)


def _tokens(xs: ArrayLike, n: int, like: Array, name: str = "xs") -> Array:
    """Validate ``xs`` (B, T) integer tokens in [0, n); return it on ``like``'s backend."""
    arr = token_array(xs, n, name)  # a numpy array, or a torch tensor as given
    if array_api_compat.is_torch_array(like):
        import torch

        src = torch.from_numpy(np.ascontiguousarray(arr)) if isinstance(arr, np.ndarray) else arr
        return src.to(device=like.device, dtype=torch.long)
    if isinstance(arr, np.ndarray):
        return arr.astype(np.int64, copy=False)
    return arr.detach().cpu().numpy().astype(np.int64)


class _Ops(NamedTuple):
    """The few array operations the recursions need, for one backend (numpy or torch).

    On numpy each writes into a caller-supplied buffer (``out``/``scratch``; ``out=None``
    allocates): a recursion step then allocates nothing (posterior_h0 at B = 1000, k = 30:
    11.9 ms instead of 13.7 ms with fresh (B, k) arrays per step, whose page faults
    dominated). On torch they are functional (so
    autograd sees every step), and ``matmul`` copies its result into ``out`` when given.
    """

    xp: Any
    is_torch: bool
    emit: Callable[..., Array]  # (table (n, d), idx (B,), v (B, d), scratch) -> table[idx] ⊙ v
    mul: Callable[..., Array]  # (a, b, out) -> a ⊙ b
    matmul: Callable[..., Array]  # (a (B, k), M (k, d), out) -> a @ M
    scale_rows: Callable[..., Array]  # (x (B, d), c (B,)) -> x ⊙ c[:, None]; in place on numpy


def _np_emit(table: np.ndarray, idx: np.ndarray, v: np.ndarray, scratch: np.ndarray):
    # mode="clip" skips numpy's per-index bounds check (2x faster); _tokens already
    # guaranteed 0 <= idx < n, so nothing is ever clipped.
    table.take(idx, axis=0, out=scratch, mode="clip")  # the method skips two wrapper frames
    return np.multiply(scratch, v, out=scratch)


def _np_scale_rows(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.multiply(x, c[:, None], out=x)


def _torch_into(r, out):
    """Copy ``r`` into ``out`` when given (so recorded messages land where numpy's would);
    return ``r`` itself, so autograd follows the functional value."""
    if out is not None:
        out[...] = r
    return r


_NUMPY_OPS = _Ops(
    np,
    False,
    _np_emit,
    lambda a, b, out: np.multiply(a, b, out=out),
    lambda a, M, out: np.matmul(a, M, out=out),
    _np_scale_rows,
)


def _ops(a: Array) -> _Ops:
    if array_api_compat.is_torch_array(a):
        return _Ops(
            _xp(a),
            True,
            lambda table, idx, v, scratch: table.index_select(0, idx) * v,
            lambda a, b, out: _torch_into(a * b, out),
            lambda a, M, out: _torch_into(a @ M, out),
            lambda x, c: x * c[:, None],
        )
    return _NUMPY_OPS


def _time_major(xs: Array) -> Array:
    """Validated tokens (B, T) → (T, B), so each step indexes one contiguous vector."""
    return xs.T if array_api_compat.is_torch_array(xs) else np.ascontiguousarray(xs.T)


def _scratch(ops: _Ops, like: Array) -> Array | None:
    """A (B, d) work buffer shaped like ``like`` on numpy; None on torch (functional)."""
    return None if ops.is_torch else np.empty_like(like)


#: Steps between rescalings of a message. Between rescalings a message's sum can grow by at
#: most max column sum of A ≤ k per step (≤ 4096**8 < 1e29: no overflow).
_CHUNK = 8
#: A chunk whose row sums end below this is recomputed with per-step scaling. Otherwise the
#: sum stays above 1e-100 / k**_CHUNK ≥ 1e-129 inside the chunk, so entries down to 1e-179
#: of the row's total stay normal floats: far below float64's resolution of the total.
_SHRINK_FLOOR = 1e-100


def _normalize(v: Array, ones: Array, ops: _Ops) -> tuple[Array, Array]:
    """``v / Σ v`` row-wise for v (B, d), in place on numpy, and the sums (B,).

    The sum is a matrix-vector product with ``ones`` (d,) — BLAS, several times faster than
    a reduction over a short last axis. A zero sum (an impossible row) yields NaN, which
    propagates and is reported once by :func:`_check_possible`.
    """
    s = v @ ones
    return ops.scale_rows(v, 1.0 / s), s


def _scaled_scan(step, x0: Array, n_steps: int, ones: Array, ops: _Ops) -> tuple[Array, Array]:
    """``x ← step(x, j, buf)`` for j = 0…n_steps−1 with scaling: the one underflow guard.

    Rescales every :data:`_CHUNK` steps (the row-wise rescale is the costliest elementwise
    operation, so doing it rarely roughly halves the recursion's time); a chunk in which
    any row's sum falls below :data:`_SHRINK_FLOOR` (or to 0/NaN) is redone with per-step
    scaling. ``step`` may record its input or output: recorded vectors are exact up to a
    positive factor per (step, row), so consumers use ratios only. ``buf`` is a (B, k)
    buffer the step may write its result into (None on torch). It never aliases the
    chunk's starting vector, which a redo needs, but after a chunk's first step it is
    ``x`` itself: a step reads ``x`` in full before writing ``buf`` (two buffers instead
    of three keep the working set in L2).

    Returns the final x (B, k), normalised to sum 1, and ``log_scale`` (B,) with
    ``x_true = x · exp(log_scale)`` relative to ``x0``; NaN marks impossible rows.
    """
    xp = ops.xp
    bufs = [_scratch(ops, x0) for _ in range(2)]
    with contextlib.nullcontext() if ops.is_torch else _one_blas_thread():
        x, logs = _scan_chunks(step, x0, n_steps, ones, ops, bufs)
    if not logs:
        return x, xp.zeros((x.shape[0],), dtype=x.dtype, device=array_api_compat.device(x))
    return x, xp.sum(xp.stack(logs, axis=0), axis=0)


def _scan_chunks(step, x: Array, n_steps: int, ones: Array, ops: _Ops, bufs: list) -> tuple:
    xp = ops.xp
    logs = []
    for j0 in range(0, n_steps, _CHUNK):
        j1 = min(j0 + _CHUNK, n_steps)
        x_in = x
        buf = bufs[1] if bufs[0] is x_in else bufs[0]
        for j in range(j0, j1):
            x = step(x, j, buf)
        s = x @ ones
        if bool(xp.all(s > _SHRINK_FLOOR)):
            x = ops.scale_rows(x, 1.0 / s)
            logs.append(xp.log(s))
            continue
        x = x_in
        for j in range(j0, j1):
            x, s = _normalize(step(x, j, buf), ones, ops)
            logs.append(xp.log(s))
    return x, logs


_blas_controller = None


def _one_blas_thread():
    """Limit BLAS to one thread for a recursion: its chain of small (B, k) @ (k, k)
    products measured 1.2–1.8x faster on one thread than on two (thread wake-ups cost
    more than such a product). Bulk products outside recursions keep every thread."""
    global _blas_controller
    if _blas_controller is None:
        _blas_controller = threadpoolctl.ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def _check_possible(log_scale: Array, ops: _Ops, what: str) -> None:
    """Raise when a row's probability is zero (its accumulated log-scale is not finite)."""
    xp = ops.xp
    bad = ~xp.isfinite(log_scale)
    if bool(xp.any(bad)):
        rows = [int(i) for i in np.flatnonzero(np.asarray(array_api_compat.to_device(bad, "cpu")))]
        raise InputError(
            f"{what}: input rows {rows[:10]}{'…' if len(rows) > 10 else ''} have probability "
            f"zero under the model, so their posterior is undefined; drop them "
            f"(log_likelihood(model, xs) is -inf exactly for these rows)"
        )


# --------------------------------------------------------------------------- recursions


class Messages(NamedTuple):
    """Backward messages of one batch.

    backward (T+1, B, k) if kept, else (1, B, k): ``β_t(h) ∝ P(x_{t+1:T} | H_t = h)`` for
    t = 0…T (position 0 is the masked slot), each up to a positive factor per (t, row);
    β_0 is normalised to sum 1. Time-major so each step writes one contiguous block
    (batch-major writes, one page per row, measured 1.3x slower for leave-one-out).
    log_scale (B,): ``P(x_{1:T} | H_0=h) = β_0(h) · exp(log_scale)``; NaN for impossible rows.
    """

    backward: Array
    log_scale: Array


def _backward(params: HMMParams, xs_t: Array, keep_all: bool) -> Messages:
    """Backward recursion ``β_{t-1} = A (e_{x_t} ⊙ β_t)`` over positions T…1 → 0.

    xs_t (T, B) are the tokens at positions 1…T, time-major (:func:`_time_major`). Keeps
    β_0 only unless ``keep_all``.
    """
    A, E = params.transition, params.emission
    ops = _ops(A)
    xp = ops.xp
    T, B = xs_t.shape
    k = A.shape[0]
    dev = array_api_compat.device(A)
    At, Et = A.T, E.T  # Et[x] = e_x = E[:, x], the likelihoods of token x
    if not ops.is_torch:
        At, Et = np.ascontiguousarray(At), np.ascontiguousarray(Et)
    ones = xp.ones((k,), dtype=A.dtype, device=dev)
    beta_T = xp.ones((B, k), dtype=A.dtype, device=dev) / k
    out = xp.empty((T + 1, B, k), dtype=A.dtype, device=dev) if keep_all else None
    if out is not None:
        out[T] = beta_T
    scratch = _scratch(ops, beta_T)

    def step(beta: Array, j: int, buf: Array) -> Array:
        t = T - 1 - j
        return ops.matmul(ops.emit(Et, xs_t[t], beta, scratch), At, buf if out is None else out[t])

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beta0, log_scale = _scaled_scan(step, beta_T, T, ones, ops)
        log_scale = log_scale + float(np.log(k))
    if out is not None:
        out[0] = beta0
    return Messages(beta0[None] if out is None else out, log_scale)


def _forward_combine(
    params: HMMParams, xs_t: Array, beta: Array, proj: Array | None, emit: bool
) -> tuple[Array, Array]:
    """Forward pass combined with the stored backward messages ``beta`` (T+1, B, k).

    With predicted laws ``pred_t = P(H_t | x_{<t})`` (``pred_1 = start``) and
    ``r_t = pred_t ⊙ (e_{x_t} if emit) ⊙ β_t``, returns ``o_t / Σ o_t`` with
    ``o_t = r_t @ proj`` (``proj`` (k, d); None: the identity) as (B, T, d), and the
    log-scale (B,) (NaN: impossible row). ``emit`` with the identity gives smoothed
    posteriors; no ``emit`` with ``proj = E`` leave-one-out conditionals (there
    ``Σ o_t = Σ r_t`` up to E's row sums, and dividing by ``Σ o_t`` makes each output an
    exact distribution). On numpy r_t overwrites β_t, which is read only here.
    """
    start, A, E = params
    ops = _ops(A)
    xp = ops.xp
    T, B = xs_t.shape
    k = A.shape[0]
    dev = array_api_compat.device(A)
    Et = E.T if ops.is_torch else np.ascontiguousarray(E.T)
    ones = xp.ones((k,), dtype=A.dtype, device=dev)
    # r_t overwrites β_t on numpy; torch keeps β intact for autograd.
    r = xp.empty_like(beta[1:]) if ops.is_torch else beta[1:]
    pred_1 = xp.broadcast_to(start[None, :], (B, k)) * 1.0
    f_buf = _scratch(ops, pred_1)

    def step(pred: Array, t: int, buf: Array) -> Array:
        f = ops.emit(Et, xs_t[t], pred, f_buf)
        ops.mul(f if emit else pred, beta[t + 1], r[t])
        return ops.matmul(f, A, buf)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        _, log_scale = _scaled_scan(step, pred_1, T, ones, ops)
        # One (T·B, k) @ (k, d) product over all positions runs at ~2x the GFLOP/s of T
        # thin per-step products.
        o = xp.reshape(r, (T * B, k))
        if proj is not None:
            o = o @ proj
        d = o.shape[1]
        o, _ = _normalize(o, xp.ones((d,), dtype=o.dtype, device=dev), ops)
    # A (B, T, d) view of the time-major result: a transposing copy would cost ~10% more.
    return xp.permute_dims(xp.reshape(o, (T, B, d)), (1, 0, 2)), log_scale


def _prompt_prior(params: HMMParams, prompt: Array) -> Array:
    """``P(H_0 = h | z_{1:L})`` (k,): the chain from ``start`` at position −L through the
    prompt tokens' emission weights ``u_l`` (L, k), one step into the masked slot.

    For stationary ``start`` this is ``π ⊙ v / (πᵀv)`` with ``v = prompt_likelihood``.
    """
    start, A, _ = params
    if prompt.shape[0] == 0:
        return start
    ones = _xp(start).ones_like(start)
    a = start * prompt[0]
    for l in range(1, prompt.shape[0] + 1):
        s = a @ ones
        if not bool(s > 0):
            raise InputError(
                f"prompt: weights up to token {l} give every state probability zero; "
                f"raise some u_l[h]"
            )
        a = a / s
        a = a @ A if l == prompt.shape[0] else (a @ A) * prompt[l]
    return a


def _as_prompt(prompt: Any, like: Array, k: int) -> Array:
    """``prompt`` (L, k) on ``like``'s backend, dtype and device; ValueError on a bad shape,
    NaN/inf or negative weights (checked once, on a detached numpy view of the values)."""
    if array_api_compat.is_torch_array(like):
        import torch

        if not isinstance(prompt, torch.Tensor):
            prompt = torch.as_tensor(np.asarray(prompt, dtype=np.float64))
        p = prompt.to(device=like.device, dtype=like.dtype)
        values = p.detach().cpu().numpy()
    else:
        p = np.asarray(
            prompt.detach().cpu() if hasattr(prompt, "detach") else prompt, dtype=np.float64
        )
        values = p
    if values.ndim != 2 or values.shape[1] != k:
        raise InputError(f"prompt must have shape (L, k) = (L, {k}), got {tuple(values.shape)}")
    check_finite(values, "prompt")
    check_nonnegative(values, "prompt")  # u_l[h] = P(z_l | H = h)
    return p


# --------------------------------------------------------------------------- public API


def log_likelihood(model: HMM | HMMParams | MemoryHMM, xs: ArrayLike) -> Array:
    """``log P(X_{1:T} = x)`` (B,) with ``H_0 ~ start`` at the masked slot; −inf where the
    sequence is impossible (equal to the usual likelihood when ``start`` is stationary)."""
    params = _params(model)
    ops = _ops(params.transition)
    xp = ops.xp
    xs = _tokens(xs, params.emission.shape[1], params.transition)
    _, ll = _blockwise(partial(_posterior_block, params, params.start), xs, _row_bytes(params, 0))
    return xp.where(xp.isnan(ll), -xp.inf, ll)


def _posterior_block(params: HMMParams, prior0: Array, xs: Array) -> tuple[Array, Array]:
    """``P[H_0 | x] ∝ prior0 ⊙ β_0`` (B, k) for validated tokens, and the log-scale (B,)."""
    msg = _backward(params, _time_major(xs), keep_all=False)
    ones = _xp(params.start).ones_like(params.start)
    with np.errstate(divide="ignore", invalid="ignore"):
        post, s = _normalize(prior0[None, :] * msg.backward[0], ones, _ops(ones))
        return post, msg.log_scale + _xp(s).log(s)


def _forward_backward_block(params: HMMParams, leave_one_out: bool, xs: Array) -> tuple:
    """Per-position outputs (B, T, ·) and the log-scale (B,) for validated tokens:
    leave-one-out conditionals, or smoothed posteriors when not ``leave_one_out``."""
    xs_t = _time_major(xs)
    beta = _backward(params, xs_t, keep_all=True).backward
    if leave_one_out:
        return _forward_combine(params, xs_t, beta, params.emission, emit=False)
    return _forward_combine(params, xs_t, beta, None, emit=True)


def _per_position(
    model: HMM | HMMParams | MemoryHMM, xs: ArrayLike, leave_one_out: bool, what: str
) -> Array:
    params = _params(model)
    tokens = _tokens(xs, params.emission.shape[1], params.transition)
    fn = partial(_forward_backward_block, params, leave_one_out)
    out, log_scale = _blockwise(fn, tokens, _row_bytes(params, 2 * tokens.shape[1] + 1))
    _check_possible(log_scale, _ops(out), what)
    return out


#: Most bytes one block's stored messages may take on the numpy path. Fewer, larger
#: blocks measured faster (leave-one-out at B = 1000, T = 128, k = 30: 34 ms as one block,
#: 38 ms in 256-row blocks); the cap bounds memory for long sequences and huge batches.
_BLOCK_BYTES = 256 * 2**20


def _blockwise(fn, xs: Array, row_bytes: int) -> tuple[Array, ...]:
    """``fn(xs_block) -> tuple of (b, …) arrays`` over row blocks, concatenated on axis 0.

    A block holds at most ``_BLOCK_BYTES // row_bytes`` rows, ``row_bytes`` being what
    ``fn`` stores per row. Torch tensors run as one block (the device parallelises).
    Rows are independent, so blocking changes no result.
    """
    if array_api_compat.is_torch_array(xs):
        return fn(xs)
    block = max(1, _BLOCK_BYTES // max(1, row_bytes))
    if xs.shape[0] <= block:
        return fn(xs)
    parts = [fn(xs[i : i + block]) for i in range(0, xs.shape[0], block)]
    return tuple(np.concatenate(p, axis=0) for p in zip(*parts, strict=True))


def _row_bytes(params: HMMParams, kept: int) -> int:
    """Bytes per batch row of ``kept`` stored (·, k) float64 vectors plus a recursion's
    (B, k) work arrays (start, two buffers, scratches, result: six at most)."""
    return 8 * params.transition.shape[0] * (kept + 6)


def _posterior_h0(params: HMMParams, xs: Array, prior0: Array, what: str) -> Array:
    post, log_scale = _blockwise(
        partial(_posterior_block, params, prior0), xs, _row_bytes(params, 0)
    )
    _check_possible(log_scale, _ops(post), what)
    return post


def posterior_h0(model: HMM | HMMParams | MemoryHMM, xs: ArrayLike) -> Array:
    """``p(x) = P[H_0 | X_{1:T} = x]`` (B, k); with T = 0 it is ``start``.

    ``p(x) ∝ start ⊙ β_0``, with β from the scaled backward recursion.
    """
    params = _params(model)
    xs = _tokens(xs, params.emission.shape[1], params.transition)
    return _posterior_h0(params, xs, params.start, "posterior_h0")


def mask_probe(model: HMM | HMMParams | MemoryHMM, xs: ArrayLike) -> Array:
    """Head tuning's input ``G(x) = P[X_0 | X_{1:T} = x] = W p(x)`` (B, n)."""
    params = _params(model)
    return posterior_h0(params, xs) @ params.emission


def prompted_mask_probe(model: HMM | HMMParams | MemoryHMM, xs: ArrayLike, prompt: Any) -> Array:
    """Prompted mask probe ``G(u, x) = P[X_0 | z_{1:L}, X_{1:T} = x]`` (B, n).

    ``prompt`` (L, k): fake-token emission weights ``u_l[h] = P(z_l | H = h)``, z_1 at
    position −L. Computed forward from ``start`` at −L through the prompt, so for
    stationary ``start`` it equals THEORY §2's ``W diag(v) p(x) / (vᵀ p(x))``.
    L = 0 gives :func:`mask_probe`.
    """
    params = _params(model)
    A = params.transition
    prompt = _as_prompt(prompt, A, A.shape[0])
    xs = _tokens(xs, params.emission.shape[1], A)
    prior0 = _prompt_prior(params, prompt)
    return _posterior_h0(params, xs, prior0, "prompted_mask_probe") @ params.emission


def reversed_transition(model: HMM | HMMParams | MemoryHMM) -> Array:
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


def prompt_likelihood(model: HMM | HMMParams | MemoryHMM, prompt: Any) -> Array:
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


def smoothed_posteriors(model: HMM | HMMParams | MemoryHMM, xs: ArrayLike) -> Array:
    """``P[H_t | X_{1:T} = x]`` (B, T, k) for t = 1…T, chain starting at x_1 with law
    ``start`` (hmmlearn's ``predict_proba`` with ``startprob_ = start``)."""
    return _per_position(model, xs, False, "smoothed_posteriors")


def loo_conditionals(model: HMM | HMMParams | MemoryHMM, xs: ArrayLike) -> Array:
    """Leave-one-out conditionals ``G_i(x) = P[X_i | X_{-i} = x_{-i}]`` (B, T, n), i = 1…T,
    on the input alone (chain starts at x_1 with law ``start``):
    ``G_i ∝ (P(H_i | x_{<i}) ⊙ P(x_{>i} | H_i)) @ E``."""
    return _per_position(model, xs, True, "loo_conditionals")


def memory_posterior(mem: MemoryHMM, xs: ArrayLike, cell: int) -> np.ndarray:
    """``P[M_cell | X_{1:T} = x]`` (B, m): a marginal of ``P[H_0 | x]`` on the product HMM."""
    mem = require(mem, MemoryHMM, "mem", "for an HMM use posterior_h0")
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
