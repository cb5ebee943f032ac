"""Exact oracle outputs of THEORY §2 in rational arithmetic, on two routes.

``route="sum"`` (default): unscaled forward/backward sums over common denominators
(:class:`~verify.crosscheck.rational.IntegerForm`), so every message is a vector of Python ints
and nothing is rounded. The backward message of a suffix is computed once and shared by
every input ending in it (a suffix trie, built level by level with ``np.unique``), so an
exhaustive input set ``[n]^T`` costs about ``n^T · k²`` integer multiply-adds, not
``T · n^T · k²``.

``route="enumerate"``: explicit enumeration of hidden paths, straight from the definition
of the window (THEORY §1.2), in Fractions — exponential, for tiny instances and as the
cross-check of the sum route. The enumeration is :mod:`verify.crosscheck.bruteforce`'s (the
tests' float reference runs the same code in float64).

Outputs come back as :class:`RationalRows` (integer numerators over one positive integer
denominator per row), which convert to Fractions or correctly rounded floats.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from verify.core.validation import InputError
from verify.crosscheck import bruteforce
from verify.crosscheck.rational import (
    ExactTooLarge,
    ModelLike,
    RationalHMM,
    RationalMemoryHMM,
    RationalModel,
    Weights,
    as_hmm,
    rational_model,
    to_fraction,
)

#: Largest hidden-state count (of the product HMM for a memory model) the exact route
#: accepts: a (k, k) step is k² Python-int multiply-adds per message; at k = 64 and T = 4
#: one input costs ~16k of them (~5 ms).
MAX_EXACT_STATES = 64
#: Longest input (prompt slots included) of the sum route. Integers grow by about
#: log2(dA · dE · k) bits per position, so cost per operation grows with T; 16 keeps
#: numbers below ~1000 bits for the strategies' denominators.
MAX_EXACT_T = 16
#: Work budget of the sum route: ``B · (T + L + 1) · k²`` multiply-adds (the trie usually
#: does far fewer). ~4e7 is ~20 s of CPython integer arithmetic.
MAX_SUM_WORK = 40_000_000
#: Budget of the enumeration route: ``B · (number of hidden paths per input)`` with
#: ``k**(L + 1 + T)`` paths (memory models: ``m**N · s**(T + 1)``) — ~1 µs each.
MAX_ENUM_PATHS = 300_000

ROUTES = ("sum", "enumerate")


# --------------------------------------------------------------------------- results


def _div(a: int, b: int) -> float:
    return a / b  # Python int / int true division is correctly rounded


_to_float = np.frompyfunc(_div, 2, 1)
_to_frac = np.frompyfunc(Fraction, 2, 1)


class RationalRows(NamedTuple):
    """Exact vectors: ``value[..., j] = num[..., j] / den[...]``.

    num: object array (..., d) of Python ints; den: object array (...) of positive ints.
    """

    num: np.ndarray
    den: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.num.shape

    def to_float(self) -> np.ndarray:
        """float64 array (..., d), each entry the correctly rounded value."""
        if self.num.size == 0:
            return np.zeros(self.num.shape)
        return _to_float(self.num, self.den[..., None]).astype(np.float64)

    def fractions(self) -> np.ndarray:
        """object array (..., d) of Fractions."""
        if self.num.size == 0:
            return np.empty(self.num.shape, dtype=object)
        return _to_frac(self.num, self.den[..., None])

    def row(self, i: int) -> list[Fraction]:
        """One vector (d,) as Fractions (first axis index i)."""
        return [Fraction(int(v), int(self.den[i])) for v in self.num[i]]

    def dot(self, w: Weights) -> np.ndarray:
        """``value · w`` (...) as Fractions for a rational weight vector w (d,)."""
        wf = [to_fraction(v, f"w[{j}]", exact_float=True) for j, v in enumerate(w)]
        if len(wf) != self.num.shape[-1]:
            raise InputError(f"w has {len(wf)} entries; the vectors have {self.num.shape[-1]}")
        d = _lcm_den(wf)
        wi = np.array([int(v * d) for v in wf], dtype=object)
        return _to_frac(self.num @ wi, self.den * d)

    def signs(self, w: Weights) -> np.ndarray:
        """``sign(value · w)`` (...) in {−1, 0, 1} as int64, decided exactly."""
        wf = [to_fraction(v, f"w[{j}]", exact_float=True) for j, v in enumerate(w)]
        if len(wf) != self.num.shape[-1]:
            raise InputError(f"w has {len(wf)} entries; the vectors have {self.num.shape[-1]}")
        d = _lcm_den(wf)
        wi = np.array([int(v * d) for v in wf], dtype=object)
        s = self.num @ wi
        return np.array([(v > 0) - (v < 0) for v in np.ravel(s)], dtype=np.int64).reshape(
            np.shape(s)
        )


def _lcm_den(values: list[Fraction]) -> int:
    import math

    return math.lcm(*(v.denominator for v in values)) if values else 1


# --------------------------------------------------------------------------- validation


def _model(model: ModelLike) -> RationalModel:
    return rational_model(model)


def _tokens(xs: ArrayLike, n: int) -> np.ndarray:
    try:
        arr = np.asarray(xs)
    except Exception:  # noqa: BLE001 - ragged input: the user's error
        raise InputError("xs: cannot be read as a (B, T) array of token ids") from None
    if arr.dtype == object or (arr.dtype.kind not in "iu" and arr.size):
        raise InputError(f"xs must hold integer token ids, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InputError(f"xs must have shape (B, T), got {arr.shape}; for one input pass [x]")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise InputError(f"xs contains token {bad}; tokens must be in 0..{n - 1} (n={n})")
    return arr


def _prompt(prompt: Any, k: int) -> list[list[Fraction]]:
    rows = [list(r) for r in (prompt if len(np.shape(prompt)) != 1 else [prompt])]
    if not rows:
        raise InputError("prompt: needs L ≥ 1 slots, shape (L, k); L = 0 is mask_probe")
    out = []
    for l, r in enumerate(rows):
        if len(r) != k:
            raise InputError(f"prompt row {l} has {len(r)} weights; it needs k = {k}")
        row = [to_fraction(v, f"prompt[{l}][{h}]", exact_float=True) for h, v in enumerate(r)]
        if any(v < 0 for v in row):
            raise InputError(f"prompt row {l} has a negative weight; u_l[h] must be ≥ 0")
        out.append(row)
    return out


def _check_size(hmm: RationalHMM, B: int, length: int, route: str) -> None:
    k = hmm.n_states
    if route not in ROUTES:
        raise InputError(f"route must be one of {ROUTES}, got {route!r}")
    if k > MAX_EXACT_STATES:
        raise ExactTooLarge(
            f"exact route: k = {k} hidden states (product states for a memory model) exceeds "
            f"MAX_EXACT_STATES = {MAX_EXACT_STATES}; use the log-space float route"
        )
    if length > MAX_EXACT_T:
        raise ExactTooLarge(
            f"exact route: window length {length} (prompt + mask + input) exceeds "
            f"MAX_EXACT_T = {MAX_EXACT_T}; use the log-space float route"
        )
    if route == "sum" and B * length * k * k > MAX_SUM_WORK:
        raise ExactTooLarge(
            f"exact route: B·(L+1+T)·k² = {B}·{length}·{k}² = {B * length * k * k} exceeds "
            f"MAX_SUM_WORK = {MAX_SUM_WORK}; use fewer inputs or the log-space float route"
        )
    if route == "enumerate" and B * k**length > MAX_ENUM_PATHS:
        raise ExactTooLarge(
            f"enumeration: B·k**(L+1+T) = {B}·{k}**{length} = {B * k**length} hidden paths "
            f"exceed MAX_ENUM_PATHS = {MAX_ENUM_PATHS}; use route='sum'"
        )


# --------------------------------------------------------------------------- sum route


class _Trie(NamedTuple):
    """Backward messages of every suffix: ``levels[j]`` (u_j, k) object ints for the
    distinct suffixes of length j, ``rows[j]`` (B,) the row of each input's suffix."""

    levels: list[np.ndarray]
    rows: list[np.ndarray]  # not `index`: it would shadow tuple.index


def _suffix_trie(hmm: RationalHMM, xs: np.ndarray, keep: bool) -> _Trie:
    """``β(x_{t+1:T}) = step[x_{t+1}] ⋯ step[x_T] 1`` (integers; the true message divided by
    ``(dA·dE)**(T−t)``) for every suffix, each distinct suffix once."""
    ints = hmm.integers
    B, T = xs.shape
    k = hmm.n_states
    msgs = np.array([[1] * k], dtype=object)
    idx = np.zeros(B, dtype=np.int64)
    levels, index = [msgs], [idx]
    for j in range(1, T + 1):
        key = xs[:, T - j] * len(msgs) + idx
        uniq, inv = np.unique(key, return_inverse=True)
        toks, parents = uniq // len(msgs), uniq % len(msgs)
        new = np.empty((len(uniq), k), dtype=object)
        for v in np.unique(toks):
            sel = toks == v
            new[sel] = msgs[parents[sel]] @ ints.step[int(v)].T
        msgs, idx = new, inv.reshape(-1)
        if keep:
            levels.append(msgs)
            index.append(idx)
        else:
            levels, index = [msgs], [idx]
    return _Trie(levels, index)


def _beta0(hmm: RationalHMM, xs: np.ndarray) -> np.ndarray:
    """``P(x_{1:T} | H_0 = h) · (dA·dE)**T`` (B, k) as Python ints."""
    trie = _suffix_trie(hmm, xs, keep=False)
    return trie.levels[-1][trie.rows[-1]]


def _int_vector(values: list[Fraction]) -> tuple[np.ndarray, int]:
    d = _lcm_den(values)
    return np.array([int(v * d) for v in values], dtype=object), d


def _normalised(q: np.ndarray, what: str) -> RationalRows:
    """Rows of non-negative ints (…, d) → the distributions ``q / Σq``; zero rows raise."""
    den = q.sum(axis=-1)
    zero = np.flatnonzero(np.ravel(den) == 0)
    if zero.size:
        raise InputError(
            f"{what}: input rows {zero[:10].tolist()} have probability zero under the model, "
            f"so their posterior is undefined; drop them"
        )
    return RationalRows(q, den)


def _window_prior(hmm: RationalHMM, prompt: list[list[Fraction]]) -> list[Fraction]:
    """``P(H_0 = h, z_{1:L})`` (k,): the chain from ``start`` at position −L through the
    prompt weights, one step into the masked slot (not normalised)."""
    k = hmm.n_states
    A = hmm.transition
    a = list(hmm.start)
    for u in prompt:
        a = [a[h] * u[h] for h in range(k)]
        a = [sum((a[g] * A[g][h] for g in range(k)), Fraction(0)) for h in range(k)]
    return a


def _posterior_sum(hmm: RationalHMM, xs: np.ndarray, prior0: list[Fraction], what: str):
    if not any(prior0):
        raise InputError(f"{what}: the prompt has probability zero; raise some weight u_l[h]")
    p_int, _ = _int_vector(prior0)
    return _normalised(p_int[None, :] * _beta0(hmm, xs), what)


def _prefix_trie(hmm: RationalHMM, xs: np.ndarray) -> _Trie:
    """``α(x_{1:i}) = s · fstep[x_1] ⋯ fstep[x_i]`` (row vectors; ``P(H_{i+1}, x_{1:i})``
    times ``ds · (dE·dA)**i``) for every prefix, each distinct prefix once; levels[i] and
    rows[i] for prefixes of length i = 0…T−1."""
    ints = hmm.integers
    B, T = xs.shape
    msgs = ints.s[None, :].copy()
    idx = np.zeros(B, dtype=np.int64)
    levels, index = [msgs], [idx]
    for i in range(T - 1):
        key = xs[:, i] * len(msgs) + idx
        uniq, inv = np.unique(key, return_inverse=True)
        toks, parents = uniq // len(msgs), uniq % len(msgs)
        new = np.empty((len(uniq), hmm.n_states), dtype=object)
        for v in np.unique(toks):
            sel = toks == v
            new[sel] = msgs[parents[sel]] @ ints.fstep[int(v)]
        msgs, idx = new, inv.reshape(-1)
        levels.append(msgs)
        index.append(idx)
    return _Trie(levels, index)


def _loo_sum(hmm: RationalHMM, xs: np.ndarray) -> RationalRows:
    """``G_i ∝ (α_i ⊙ β_i) @ E`` with ``α_i = P(H_i, x_{<i})`` (chain from x_1, law start)
    and ``β_i = P(x_{>i} | H_i)``, both as scaled integers (the scale depends on i only).
    G_i depends on x only through (x_{<i}, x_{>i}): each distinct pair is combined once."""
    ints = hmm.integers
    B, T = xs.shape
    suffix = _suffix_trie(hmm, xs, keep=True)
    prefix = _prefix_trie(hmm, xs)
    out = np.empty((B, T, hmm.n_tokens), dtype=object)
    for i in range(T):  # position i+1: prefix of length i, suffix of length T−1−i
        alpha, a_idx = prefix.levels[i], prefix.rows[i]
        beta, b_idx = suffix.levels[T - 1 - i], suffix.rows[T - 1 - i]
        pairs, inv = np.unique(a_idx * len(beta) + b_idx, return_inverse=True)
        comb = (alpha[pairs // len(beta)] * beta[pairs % len(beta)]) @ ints.e
        out[:, i, :] = comb[inv.reshape(-1)]
    return _normalised(out, "loo_conditionals")


# --------------------------------------------------------------------------- enumeration


def _rows_from_fractions(rows: list[list[Fraction]], what: str) -> RationalRows:
    """Unnormalised Fraction rows → RationalRows of the normalised distributions."""
    nums, dens = [], []
    for i, r in enumerate(rows):
        total = sum(r, Fraction(0))
        if total == 0:
            raise InputError(f"{what}: input rows [{i}] have probability zero under the model")
        d = _lcm_den([v / total for v in r])
        nums.append([int(v / total * d) for v in r])
        dens.append(d)
    return RationalRows(np.array(nums, dtype=object).reshape(len(rows), -1),
                        np.array(dens, dtype=object))  # fmt: skip


def _posterior_enum(hmm: RationalHMM, xs: np.ndarray, prompt: list[list[Fraction]], what: str):
    A, E = hmm.transition, hmm.emission
    rows = [bruteforce.posterior_weights(hmm.start, A, E, tuple(int(t) for t in x), prompt)
            for x in xs]  # fmt: skip
    return _rows_from_fractions(rows, what)


def _loo_enum(hmm: RationalHMM, xs: np.ndarray) -> RationalRows:
    """``G_i(v) ∝ P(x with x_i = v)`` (chain from x_1), per input, by enumeration."""
    B, T = xs.shape
    out = np.empty((B, T, hmm.n_tokens), dtype=object)
    den = np.empty((B, T), dtype=object)
    for b, x in enumerate(xs):
        acc = bruteforce.loo_weights(hmm.start, hmm.transition, hmm.emission, [int(t) for t in x])
        r = _rows_from_fractions(acc, "loo_conditionals")
        out[b], den[b] = r.num, r.den
    return RationalRows(out, den)


def _memory_enum(mem: RationalMemoryHMM, xs: np.ndarray, cell: int, s0: int | None):
    """``P[M_cell | (S_0 = s0,) x]`` by enumerating memory contents and state paths from the
    memory model's own definition (not its product HMM)."""
    rows = [bruteforce.memory_weights(mem, [int(t) for t in x], cell, s0) for x in xs]
    return _rows_from_fractions(rows, "memory_posterior")


# --------------------------------------------------------------------------- public API


def _setup(
    model: ModelLike, xs: ArrayLike, L: int, route: str
) -> tuple[RationalModel, RationalHMM, np.ndarray]:
    exact = _model(model)
    hmm = as_hmm(exact)
    arr = _tokens(xs, hmm.n_tokens)
    _check_size(hmm, arr.shape[0], L + 1 + arr.shape[1], route)
    return exact, hmm, arr


def likelihood(model: ModelLike, xs: ArrayLike, *, route: str = "sum") -> np.ndarray:
    """``P(X_{1:T} = x)`` (B,) as Fractions, with ``H_0 ~ start`` at the masked slot (the
    likelihood of THEORY §1.2's window without prompt; the usual one for stationary start)."""
    _, hmm, xs = _setup(model, xs, 0, route)
    B, T = xs.shape
    if route == "enumerate":
        return np.array(
            [bruteforce.window_likelihood(hmm.start, hmm.transition, hmm.emission,
                                          tuple(int(t) for t in x))
             for x in xs] + [None], dtype=object)[:-1]  # fmt: skip
    ints = hmm.integers
    num = _beta0(hmm, xs) @ ints.s
    den = ints.ds * (ints.dA * ints.dE) ** T
    return np.array([Fraction(int(v), den) for v in num] + [None], dtype=object)[:-1]


def posterior_h0(model: ModelLike, xs: ArrayLike, *, route: str = "sum") -> RationalRows:
    """``p(x) = P[H_0 | X_{1:T} = x]`` (B, k), ``H_0 ~ start`` at the masked slot:
    ``p(x) ∝ start ⊙ P(x | H_0)``. A memory model runs on its product HMM."""
    _, hmm, xs = _setup(model, xs, 0, route)
    if route == "enumerate":
        return _posterior_enum(hmm, xs, [], "posterior_h0")
    return _posterior_sum(hmm, xs, list(hmm.start), "posterior_h0")


def _times_emission(hmm: RationalHMM, post: RationalRows) -> RationalRows:
    """``W p`` (B, n) from a posterior p (B, k): numerators ``q @ e``, denominator × dE."""
    ints = hmm.integers
    return RationalRows(post.num @ ints.e, post.den * ints.dE)


def mask_probe(model: ModelLike, xs: ArrayLike, *, route: str = "sum") -> RationalRows:
    """``G(x) = P[X_0 | X_{1:T} = x] = W p(x)`` (B, n)."""
    _, hmm, xs = _setup(model, xs, 0, route)
    post = (_posterior_enum(hmm, xs, [], "mask_probe") if route == "enumerate"
            else _posterior_sum(hmm, xs, list(hmm.start), "mask_probe"))  # fmt: skip
    return _times_emission(hmm, post)


def prompted_posterior(
    model: ModelLike, xs: ArrayLike, prompt: Any, *, route: str = "sum"
) -> RationalRows:
    """``P[H_0 | z_{1:L}, X_{1:T} = x]`` (B, k) for L ≥ 1 prompt slots (L, k) of weights
    ``u_l[h] = P(z_l | H = h)``: the window's chain starts at z_1 (position −L) with law
    ``start``, so ``P[H_0 | z, x] ∝ ((start ⊙ u_1) A ⊙ u_2 ⋯ ⊙ u_L) A ⊙ P(x | H_0)``."""
    exact = _model(model)
    u = _prompt(prompt, as_hmm(exact).n_states)
    _, hmm, xs = _setup(exact, xs, len(u), route)
    if route == "enumerate":
        return _posterior_enum(hmm, xs, u, "prompted_mask_probe")
    return _posterior_sum(hmm, xs, _window_prior(hmm, u), "prompted_mask_probe")


def prompted_mask_probe(
    model: ModelLike, xs: ArrayLike, prompt: Any, *, route: str = "sum"
) -> RationalRows:
    """``G(u, x) = P[X_0 | z_{1:L}, X_{1:T} = x] = W P[H_0 | z, x]`` (B, n); for a
    stationary start this equals THEORY §2's ``W diag(v) p(x) / (vᵀ p(x))``."""
    post = prompted_posterior(model, xs, prompt, route=route)
    return _times_emission(as_hmm(_model(model)), post)


def loo_conditionals(model: ModelLike, xs: ArrayLike, *, route: str = "sum") -> RationalRows:
    """``G_i(x) = P[X_i | X_{-i} = x_{-i}]`` (B, T, n), i = 1…T, on the input alone (the
    chain starts at x_1 with law ``start``)."""
    _, hmm, xs = _setup(model, xs, -1, route)
    if xs.shape[1] == 0:
        return RationalRows(np.empty((xs.shape[0], 0, hmm.n_tokens), dtype=object),
                            np.empty((xs.shape[0], 0), dtype=object))  # fmt: skip
    return _loo_enum(hmm, xs) if route == "enumerate" else _loo_sum(hmm, xs)


def _cell_values(mem: RationalMemoryHMM, cell: int) -> np.ndarray:
    """Value of ``cell`` in each product state (k,), product index ``c·s + st``."""
    return np.repeat([M[cell] for M in mem.configurations()], mem.n_ordinary)


def memory_posterior(
    mem: ModelLike, xs: ArrayLike, cell: int, s0: int | None = None, *, route: str = "sum"
) -> RationalRows:
    """``P[M_cell | X_{1:T} = x]`` (B, m); with ``s0``, ``P[M_cell | S_0 = s0, x]`` (the
    masked slot's ordinary state fixed, memory.prompt's target)."""
    exact = _model(mem)
    if not isinstance(exact, RationalMemoryHMM):
        raise InputError(f"memory_posterior needs a memory model, got kind {exact.kind!r}")
    if (
        isinstance(cell, bool)
        or not isinstance(cell, (int, np.integer))
        or not (0 <= cell < exact.n_cells)
    ):
        raise InputError(f"cell = {cell!r} is out of range; cells are 0..{exact.n_cells - 1}")
    s = exact.n_ordinary
    if s0 is not None and (isinstance(s0, bool) or not isinstance(s0, (int, np.integer))
                           or not 0 <= s0 < s):  # fmt: skip
        raise InputError(f"s0 = {s0!r} is out of range; ordinary states are 0..{s - 1}")
    _, hmm, arr = _setup(exact, xs, 0, "sum" if route == "enumerate" else route)
    if route == "enumerate":
        paths = exact.n_values**exact.n_cells * s ** (arr.shape[1] + 1)
        if arr.shape[0] * paths > MAX_ENUM_PATHS:
            raise ExactTooLarge(
                f"enumeration: B·m**N·s**(T+1) = {arr.shape[0] * paths} exceeds "
                f"MAX_ENUM_PATHS = {MAX_ENUM_PATHS}; use route='sum'"
            )
        return _memory_enum(exact, arr, int(cell), None if s0 is None else int(s0))
    prior = list(hmm.start)
    if s0 is not None:
        prior = [p if h % s == s0 else Fraction(0) for h, p in enumerate(prior)]
        if not any(prior):
            raise InputError(f"memory_posterior: P(S_0 = {s0}) = 0 under state_start")
    p_int, _ = _int_vector(prior)
    q = p_int[None, :] * _beta0(hmm, arr)
    vals = _cell_values(exact, int(cell))
    marg = np.stack([q[:, vals == a].sum(axis=1) for a in range(exact.n_values)], axis=1)
    return _normalised(marg.astype(object), "memory_posterior")


def reversed_transition(model: ModelLike) -> list[list[Fraction]]:
    """``R[h, h'] = π[h'] A[h', h] / π[h]`` (k, k) with π the exact stationary law; a row
    with ``π[h] = 0`` is ``A[h', h] / Σ_h'' A[h'', h]`` (uniform when that column is 0)."""
    hmm = as_hmm(_model(model))
    pi = hmm.stationary()
    A, k = hmm.transition, hmm.n_states
    R = []
    for h in range(k):
        num = [pi[g] * A[g][h] for g in range(k)]
        tot = sum(num, Fraction(0))
        if tot == 0:
            num = [A[g][h] for g in range(k)]
            tot = sum(num, Fraction(0))
        R.append([v / tot for v in num] if tot else [Fraction(1, k)] * k)
    return R


def prompt_likelihood(model: ModelLike, prompt: Any) -> tuple[Fraction, ...]:
    """THEORY §2's ``v[h] = P(z_{1:L} | H_0 = h)`` (k,): ``w_1 = u_1``,
    ``w_l = u_l ⊙ (R w_{l−1})``, ``v = R w_L``."""
    hmm = as_hmm(_model(model))
    u = _prompt(prompt, hmm.n_states)
    R = reversed_transition(hmm)
    k = hmm.n_states

    def Rw(w: list[Fraction]) -> list[Fraction]:  # noqa: N802
        return [sum((R[h][g] * w[g] for g in range(k)), Fraction(0)) for h in range(k)]

    w = u[0]
    for ul in u[1:]:
        w = [a * b for a, b in zip(ul, Rw(w), strict=True)]
    return tuple(Rw(w))


def scores(model: ModelLike, xs: ArrayLike, mu: Weights, cell: int | None = None) -> np.ndarray:
    """``μᵀ p(x)`` (HMM) or ``μᵀ P[M_cell | x]`` (memory model), (B,) as Fractions."""
    exact = _model(model)
    if isinstance(exact, RationalMemoryHMM):
        if cell is None:
            raise InputError("cell: a memory task needs its task cell j*")
        return memory_posterior(exact, xs, cell).dot(mu)
    if cell is not None:
        raise InputError("cell: only memory tasks have a task cell")
    return posterior_h0(exact, xs).dot(mu)


def labels(model: ModelLike, xs: ArrayLike, mu: Weights, cell: int | None = None) -> np.ndarray:
    """``y(x) = sign(μᵀ p(x))`` (B,) int64 in {−1, 0, 1}, decided exactly (THEORY §3)."""
    exact = _model(model)
    if isinstance(exact, RationalMemoryHMM):
        if cell is None:
            raise InputError("cell: a memory task needs its task cell j*")
        return memory_posterior(exact, xs, cell).signs(mu)
    if cell is not None:
        raise InputError("cell: only memory tasks have a task cell")
    return posterior_h0(exact, xs).signs(mu)


__all__ = [
    "MAX_ENUM_PATHS",
    "MAX_EXACT_STATES",
    "MAX_EXACT_T",
    "MAX_SUM_WORK",
    "ROUTES",
    "RationalRows",
    "labels",
    "likelihood",
    "loo_conditionals",
    "mask_probe",
    "memory_posterior",
    "posterior_h0",
    "prompt_likelihood",
    "prompted_mask_probe",
    "prompted_posterior",
    "reversed_transition",
    "scores",
]
