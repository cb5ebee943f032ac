"""Strategies for memory-augmented HMMs (THEORY §1.3) that satisfy or violate C-MEM-POOL
and C-MEM-PROMPT by construction, and their memory tasks."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from strategies.blocks import (
    MAX_WEIGHT,
    SIGMA_FLOOR,
    ConditionSpec,
    IntSpec,
    draw_int,
    input_set,
    normalise,
    rank_repair,
    weight_arrays,
)
from verify.core.conditions import pooled_system, sigma_min
from verify.core.models import MemoryHMM, stationary_distribution
from verify.core.validation import InputError

POOL, PROMPT = "C-MEM-POOL", "C-MEM-PROMPT"
#: C-MEM-IID (memory.iid_exact): N = 1, i.i.d. states, W̄ = Σ_s π_S[s] W_s of full column
#: rank. A different condition from C-MEM-POOL in general (THEORY §5: two IDs); for N = 1
#: the stacked pooled matrix *is* W̄, so it is built by the same repair.
IID = "C-MEM-IID"
#: State-chain styles of :func:`memory_hmms`.
STATE_STYLES = ("iid", "markov")
#: Largest product state count m**N · s generated (keeps exact inference cheap).
MAX_PRODUCT_STATES = 64
#: The ordinary state that reads the task cell (and the prompt's funnel target).
S0 = 0


class MemoryInstance(NamedTuple):
    """A memory task ``y(x) = sign(μᵀ P[M_cell | x])``; xs (B, T) or None."""

    mem: MemoryHMM
    mu: np.ndarray
    cell: int
    xs: np.ndarray | None


class _Built(NamedTuple):
    mem: MemoryHMM
    pair: tuple[int, int]  # the two memory values a violation made indistinguishable
    modes: dict


def _names(spec: ConditionSpec, what: str) -> frozenset[str]:
    if spec is None:
        return frozenset()
    names = frozenset([spec] if isinstance(spec, str) else spec)
    bad = names - {POOL, PROMPT, IID}
    if bad:
        raise InputError(
            f"{what}: unknown condition(s) {sorted(bad)}; use {POOL!r}, {PROMPT!r}, {IID!r}"
        )
    return names


def _modes(
    draw: st.DrawFn,
    sat: frozenset[str],
    vio: frozenset[str],
    N: int,
    s: int,
    state_style: str | None,
) -> tuple[str | None, str | None, str, int]:
    """How the requested violations are built — ``pool`` "twin", "swap" or None, ``prompt``
    "implied", "no-funnel", "rank" or None — the chain's style, and s grown to what the
    modes need (swap: states in pairs; no-funnel: s ≥ 2)."""
    pool_mode = prompt_mode = None
    if POOL in vio:
        swap_ok = N == 1
        if PROMPT in sat:
            if not swap_ok:
                raise InputError("C-MEM-PROMPT with C-MEM-POOL violated is built for n_cells=1")
            pool_mode = "swap"
        else:
            pool_mode = draw(st.sampled_from(("twin", "swap") if swap_ok else ("twin",)))
        if pool_mode == "swap":
            s = max(2, s + s % 2)  # states in pairs with swapped values
    if PROMPT in vio:
        if pool_mode == "twin":
            prompt_mode = "implied"  # every W_s read from the task cell has twin columns
        elif POOL in sat or pool_mode == "swap":
            prompt_mode = "no-funnel"
        else:
            prompt_mode = draw(st.sampled_from(("no-funnel", "rank")))
        if prompt_mode == "no-funnel":
            s = max(s, 2)
    if PROMPT in sat or prompt_mode == "rank":
        style = "markov"
    elif state_style is None:
        style = draw(st.sampled_from(STATE_STYLES))
    else:
        style = state_style
    return pool_mode, prompt_mode, style, s


def _chain(
    draw: st.DrawFn,
    s: int,
    style: str,
    modes: tuple[str | None, str | None],
    funnel: bool,
    max_weight: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The ordinary-state chain ``(A (s, s), start (s,))``, start stationary for A. swap:
    doubly stochastic (a permutation when ``funnel``, uniform for iid or no-funnel), start
    uniform; iid: every row the start law; markov: dense, and with ``funnel`` a state
    u ≠ S0 whose only successor is S0 (when s ≥ 2)."""
    pool_mode, prompt_mode = modes
    if pool_mode == "swap":
        if funnel:
            perm = draw(st.permutations(range(s)))
            A = np.eye(s)[perm]  # every row one-hot: the state mapped to S0 is a funnel
        elif style == "iid" or prompt_mode == "no-funnel":
            A = np.full((s, s), 1.0 / s)
        else:
            w = normalise(draw(weight_arrays((s,), zeros=True, max_weight=max_weight)))
            A = sum(wr * np.eye(s)[draw(st.permutations(range(s)))] for wr in w)
        return A, np.full(s, 1.0 / s)  # doubly stochastic: uniform is stationary
    if style == "iid":
        row = normalise(draw(weight_arrays((s,), zeros=False, max_weight=max_weight)))
        return np.tile(row, (s, 1)), row
    A = normalise(draw(weight_arrays((s, s), zeros=False, max_weight=max_weight)))
    if funnel:
        # the funnel state differs from S0 when s ≥ 2: an absorbing S0 (u = S0) makes
        # π_S = δ_S0, so the prompt would condition on nothing
        u = draw(st.integers(1, s - 1)) if s >= 2 else 0
        A[u] = np.eye(s)[S0]
    return A, stationary_distribution(A)


def _repaired(
    emission: np.ndarray,
    sat: frozenset[str],
    chain: tuple[np.ndarray, np.ndarray],
    pointer: np.ndarray,
    m: int,
    cell: int,
    sigma_floor: float,
) -> np.ndarray:
    """``emission`` (m·s, n), row a·s + st, moved toward one-hot "home" tokens (value a,
    or (cell, a) for C-MEM-POOL) until every satisfied condition's matrix has
    σ_min ≥ sigma_floor: the stacked pooled emissions (conditions.pooled_system), or
    W_{S0} = emission[S0::s]ᵀ. chain: (A, start) of the ordinary states."""
    A, start = chain
    s = start.shape[0]
    homes = np.zeros_like(emission)
    for a in range(m):
        for st_ in range(s):
            token = (int(pointer[st_]) * m + a) if POOL in sat else a
            homes[a * s + st_, token] = 1.0

    def worst(e: np.ndarray) -> float:
        checks = []
        if POOL in sat:  # the prior does not enter the pooled system: any prior will do
            N = max(int(pointer.max()), cell) + 1
            probe = MemoryHMM(np.full((N, m), 1.0 / m), start, A, pointer, e)
            checks.append(sigma_min(pooled_system(probe, np.zeros(m), cell).matrix))
        if PROMPT in sat:
            checks.append(sigma_min(e[S0::s].T))
        return min(checks)

    return rank_repair(emission, homes, sigma_floor, worst)


def _merge_values(
    emission: np.ndarray,
    pair: tuple[int, int],
    modes: tuple[str | None, str | None],
    pointer: np.ndarray,
    cell: int,
) -> None:
    """Make values a0, a1 = ``pair`` indistinguishable in place (emission (m·s, n), row
    a·s + st): "twin" copies a0's rows to a1 in every state reading ``cell``; "swap" makes
    state st + s/2 emit as st with a0, a1 swapped; "rank" twins them in S0 alone."""
    pool_mode, prompt_mode = modes
    s = pointer.shape[0]
    m = emission.shape[0] // s
    a0, a1 = pair
    if pool_mode == "twin":
        for st_ in range(s):
            if pointer[st_] == cell:
                emission[a1 * s + st_] = emission[a0 * s + st_]
    elif pool_mode == "swap":
        swap = np.arange(m)
        swap[[a0, a1]] = [a1, a0]
        half = s // 2
        for st_ in range(half):
            for a in range(m):
                emission[a * s + st_ + half] = emission[swap[a] * s + st_]
    if prompt_mode == "rank":
        emission[a1 * s + S0] = emission[a0 * s + S0]


@st.composite
def _memory_build(
    draw: st.DrawFn,
    sizes: tuple[IntSpec, IntSpec, IntSpec, IntSpec],
    state_style: str | None,
    conditions: tuple[ConditionSpec, ConditionSpec],
    sigma_floor: float,
    cell: int | None,
    max_weight: int,
    stationary: bool | None = True,
) -> _Built:
    """A MemoryHMM for ``sizes = (n_cells, n_values, n_ordinary, n_tokens)`` and
    ``conditions = (satisfying, violating)``, as :func:`memory_hmms` documents."""
    sat, vio = _names(conditions[0], "satisfying"), _names(conditions[1], "violating")
    if sat & vio:
        raise InputError(f"memory_hmms: {sorted(sat & vio)} both satisfied and violated")
    N = draw_int(draw, sizes[0], "n_cells")
    if cell is None:  # every task cell j* of a multi-cell model, not only j* = 0
        cell = draw(st.integers(0, N - 1))
    if IID in sat | vio:
        if N != 1 or state_style != "iid":
            raise InputError(f"{IID} is a condition of N = 1 with state_style='iid'")
        # for N = 1 the stacked pooled matrix is W̄: C-MEM-IID is built as C-MEM-POOL
        sat = (sat - {IID}) | ({POOL} if IID in sat else set())
        vio = (vio - {IID}) | ({POOL} if IID in vio else set())
    m = draw_int(draw, sizes[1], "n_values")
    s = draw_int(draw, sizes[2], "n_ordinary")
    if N < 1 or m < 1 or s < 1 or not 0 <= cell < N:
        raise InputError(
            f"need n_cells ≥ 1, n_values ≥ 1, n_ordinary ≥ 1, 0 ≤ cell < N; got "
            f"N={N}, m={m}, s={s}, cell={cell}"
        )
    if POOL in vio and m < 2:
        raise InputError("violating C-MEM-POOL needs n_values ≥ 2 (two indistinguishable values)")
    pool_mode, prompt_mode, style, s = _modes(draw, sat, vio, N, s, state_style)
    if style not in STATE_STYLES:
        raise InputError(f"state_style {style!r} is unknown; use one of {STATE_STYLES}")
    if m**N * s > MAX_PRODUCT_STATES:
        raise InputError(
            f"m**N · s = {m}**{N} · {s} exceeds {MAX_PRODUCT_STATES} product states; "
            f"pass smaller n_values / n_cells / n_ordinary"
        )
    need_tokens = m * N if POOL in sat else (m if PROMPT in sat else 1)
    n = max(draw_int(draw, sizes[3], "n_tokens"), need_tokens)
    funnel = PROMPT in sat or prompt_mode == "rank"
    A, start = _chain(draw, s, style, (pool_mode, prompt_mode), funnel, max_weight)
    pointer = np.array([draw(st.integers(0, N - 1)) for _ in range(s)], dtype=np.int64)
    pointer[S0] = cell
    if pool_mode == "swap":
        pointer[:] = 0
    emission = normalise(draw(weight_arrays((m * s, n), zeros=True, max_weight=max_weight)))
    if sat:
        emission = _repaired(emission, sat, (A, start), pointer, m, cell, sigma_floor)
    order = draw(st.permutations(range(m)))
    pair = (int(order[0]), int(order[1])) if m >= 2 else (0, 0)
    _merge_values(emission, pair, (pool_mode, prompt_mode), pointer, cell)
    prior = normalise(draw(weight_arrays((N, m), zeros=False, max_weight=max_weight)))
    if stationary is None:
        stationary = draw(st.booleans())
    if not stationary:  # any law of S_1 (the conditions keep using π_S of the chain)
        start = normalise(draw(weight_arrays((s,), zeros=True, max_weight=max_weight)))
    mem = MemoryHMM(prior, start, A, pointer, emission)
    modes = {"pool": pool_mode, "prompt": prompt_mode, "style": style, "cell": cell}
    return _Built(mem, pair, modes)


def memory_hmms(
    n_cells: IntSpec = 1,
    n_values: IntSpec = (2, 3),
    n_ordinary: IntSpec = (1, 3),
    n_tokens: IntSpec = (2, 6),
    state_style: str | None = None,
    satisfying: ConditionSpec = None,
    violating: ConditionSpec = None,
    sigma_floor: float = SIGMA_FLOOR,
    cell: int = 0,
    max_weight: int = MAX_WEIGHT,
) -> st.SearchStrategy[MemoryHMM]:
    """MemoryHMMs with N = n_cells, m = n_values, s = n_ordinary, n = n_tokens (int,
    inclusive (lo, hi) or strategy; m**N · s ≤ MAX_PRODUCT_STATES), task cell ``cell``.

    state_style "iid" (every row of the chain is π_S > 0) or "markov" (dense rows unless a
    condition needs structure); None draws one. ``satisfying`` / ``violating``: a name or
    a collection of "C-MEM-POOL", "C-MEM-PROMPT", "C-MEM-IID" (N = 1, "iid" only: W̄ of
    full column rank, built as C-MEM-POOL). Guarantees (state 0 always reads ``cell``):
    - satisfying C-MEM-POOL: n ≥ m·N and σ_min of the stacked pooled emissions ≥
      sigma_floor, so the C-MEM-POOL system is solvable for every μ;
    - satisfying C-MEM-PROMPT: markov chain with a state whose only successor is s0 = 0,
      σ_min(W_{s0}) ≥ sigma_floor;
    - violating C-MEM-POOL, for every μ with μ_{a0} ≠ μ_{a1} (see :func:`memory_instances`):
      "twin" — values a0, a1 emit identically in every state reading the cell; or "swap"
      (N = 1, s even, π_S uniform) — state st + s/2 emits as st with a0, a1 swapped, so the
      averaged W̄ has equal columns while each W_s keeps its rank (averaging loses rank);
    - violating C-MEM-PROMPT: no state has a single successor ("no-funnel", s ≥ 2), or the
      only funnel target s0 has twin columns in W_{s0} ("rank"), or implied by "twin".
    """
    sizes = (n_cells, n_values, n_ordinary, n_tokens)
    build = _memory_build(
        sizes, state_style, (satisfying, violating), sigma_floor, cell, max_weight
    )
    return build.map(lambda built: built.mem)


@st.composite
def memory_tasks(
    draw: st.DrawFn,
    n_values: int,
    *,
    opposite: tuple[int, int] = (0, 1),
    floor: float = 1.0,
    max_weight: int = 3,
) -> np.ndarray:
    """Memory task vectors μ (m,). Guarantee: ``min_a |μ_a| ≥ floor`` (entries are floor ×
    integers in ±[1, max_weight]) and, for m ≥ 2, ``μ[opposite[0]] > 0 > μ[opposite[1]]``, so
    both labels occur and the two values differ."""
    mags = np.array(
        draw(st.lists(st.integers(1, max_weight), min_size=n_values, max_size=n_values)),
        dtype=np.float64,
    )
    signs = np.array([-1.0 if draw(st.booleans()) else 1.0 for _ in range(n_values)])
    if n_values >= 2:
        signs[opposite[0]], signs[opposite[1]] = 1.0, -1.0
    return floor * mags * signs


@st.composite
def memory_instances(
    draw: st.DrawFn,
    n_cells: IntSpec = 1,
    n_values: IntSpec = (2, 3),
    n_ordinary: IntSpec = (1, 3),
    n_tokens: IntSpec = (2, 6),
    state_style: str | None = None,
    satisfying: ConditionSpec = None,
    violating: ConditionSpec = None,
    sigma_floor: float = SIGMA_FLOOR,
    cell: int | None = 0,
    T: IntSpec | None = None,
    mu_floor: float = 1.0,
    max_exhaustive: int = 4096,
    stationary: bool | None = True,
) -> MemoryInstance:
    """MemoryInstance(mem, mu, cell, xs): ``mem`` as from :func:`memory_hmms` (same
    arguments) and μ from :func:`memory_tasks`, opposite on the pair of values a violation
    merged, so each requested condition holds / fails for this very μ. With ``T`` also the
    input set (exhaustive when n**T ≤ max_exhaustive, else a seeded sample of 512).
    ``cell=None`` draws the task cell j* in [0, N); ``stationary=False`` gives the state
    chain any start law, ``None`` draws which."""
    sizes = (n_cells, n_values, n_ordinary, n_tokens)
    conditions = (satisfying, violating)
    built = draw(
        _memory_build(sizes, state_style, conditions, sigma_floor, cell, MAX_WEIGHT, stationary)
    )
    cell = built.modes["cell"]
    mem = built.mem
    mu = draw(memory_tasks(mem.n_values, opposite=built.pair, floor=mu_floor))
    xs = None
    if T is not None:
        length = draw_int(draw, T, "T")
        seed = draw(st.integers(0, 2**32 - 1)) if mem.n_tokens**length > max_exhaustive else 0
        xs = input_set(mem, length, seed, max_exhaustive=max_exhaustive)
    return MemoryInstance(mem, mu, cell, xs)


__all__ = [
    "MAX_PRODUCT_STATES",
    "STATE_STYLES",
    "MemoryInstance",
    "memory_hmms",
    "memory_instances",
    "memory_tasks",
]
