"""The theorems' conditions decided exactly: ranks and solvability over the rationals, no
σ threshold (THEORY §5). Each returns an :class:`ExactCondition` with the exact witness.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import SupportsInt

import numpy as np
from numpy.typing import ArrayLike

from verify.core.validation import InputError
from verify.crosscheck.linalg import min_norm_solution, range_residual_sq, rank
from verify.crosscheck.oracle import prompt_likelihood
from verify.crosscheck.rational import (
    ExactTooLarge,
    ModelLike,
    RationalHMM,
    RationalMemoryHMM,
    Weights,
    rational_model,
    to_fraction,
)

#: C-PROMPT's exhaustive search visits every non-empty U ⊆ {h : π_h > 0}: at most
#: 2**MAX_PROMPT_SEARCH_STATES − 1 sets (one exact rank per distinct S(U)).
MAX_PROMPT_SEARCH_STATES = 14


@dataclass(frozen=True)
class ExactCondition:
    """An exactly decided condition.

    name: THEORY's name ("C-HEAD", "C-HEAD(mu)", "C-PROMPT(mu)", "C-MEM-POOL",
    "C-MEM-PROMPT"); holds; witness: exact values (Fractions, ints, tuples), e.g.
    ``{"b": (…)}``, ``{"U": (0,), "S": (0, 2), "v": (…), "b": (…)}``, ``{"s0": 1, "U": (3,)}``;
    quantities: exact integers/Fractions such as ``rank``.
    """

    name: str
    holds: bool
    witness: dict = field(default_factory=dict)
    quantities: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.holds)


def _hmm(model: ModelLike) -> RationalHMM:
    exact = rational_model(model)
    if not isinstance(exact, RationalHMM):
        raise InputError("this condition is about an HMM; for a memory model use c_mem_*")
    return exact


def _mem(model: ModelLike) -> RationalMemoryHMM:
    exact = rational_model(model)
    if not isinstance(exact, RationalMemoryHMM):
        raise InputError("this condition is about a memory model (kind 'memory_hmm')")
    return exact


def _mu(mu: Weights, size: int, what: str) -> tuple[Fraction, ...]:
    vals = list(mu)
    if len(vals) != size:
        raise InputError(f"mu has {len(vals)} entries; it needs one per {what} ({size})")
    return tuple(to_fraction(v, f"mu[{i}]", exact_float=True) for i, v in enumerate(vals))


def _cell(mem: RationalMemoryHMM, cell: object) -> int:
    if (
        isinstance(cell, bool)
        or not isinstance(cell, (int, np.integer))
        or not 0 <= cell < mem.n_cells
    ):
        raise InputError(f"cell = {cell!r} is out of range; cells are 0..{mem.n_cells - 1}")
    return int(cell)


def W(hmm: RationalHMM) -> list[list[Fraction]]:  # noqa: N802 - the paper's name
    """The paper's ``W = Eᵀ`` (n, k)."""
    return [[hmm.emission[h][x] for h in range(hmm.n_states)] for x in range(hmm.n_tokens)]


def _columns(M: list[list[Fraction]], cols: list[int]) -> list[list[Fraction]]:
    return [[r[c] for c in cols] for r in M]


# --------------------------------------------------------------------------- heads


def c_head(model: ModelLike) -> ExactCondition:
    """C-HEAD: ``rank W = k`` exactly. quantities: rank, k, n."""
    hmm = _hmm(model)
    k = hmm.n_states
    r = rank(W(hmm), k)
    return ExactCondition("C-HEAD", r == k, {}, {"rank": r, "k": k, "n": hmm.n_tokens})


def c_head_mu(model: ModelLike, mu: Weights) -> ExactCondition:
    """C-HEAD(μ): ``Wᵀ b = μ`` is solvable. witness b: the minimum-norm solution
    ``pinv(W)ᵀ μ`` (then ``bᵀ G(x) = μᵀ p(x)`` exactly). quantities: rank of W and
    residual_sq = ``min_b ‖Wᵀb − μ‖² / ‖μ‖²`` exactly (0 iff it holds). A μ computed in
    floats (e.g. ``fl(Wᵀc) + t·1``) is taken at its exact value and is usually *not* in
    range(Wᵀ) when W is rank-deficient: residual_sq then shows rounding (~1e-32), not a
    genuine violation (≳ 1e-12); build such μ in Fractions to decide it exactly."""
    hmm = _hmm(model)
    k = hmm.n_states
    m = _mu(mu, k, "hidden state (k)")
    Wm = W(hmm)
    b = min_norm_solution(Wm, list(m), k)
    q = {"rank": rank(Wm, k), "residual_sq": range_residual_sq(Wm, list(m), k)}
    return ExactCondition("C-HEAD(mu)", b is not None, {"b": b} if b is not None else {}, q)


def head_witness(model: ModelLike, mu: Weights) -> tuple[Fraction, ...] | None:
    """``b* = pinv(W)ᵀ μ`` exactly (the minimum-norm solution of ``Wᵀb = μ``); None when
    μ ∉ range(Wᵀ) (then pinv's b* does not reproduce μᵀp)."""
    return c_head_mu(model, mu).witness.get("b")


# --------------------------------------------------------------------------- prompts


def _alive(hmm: RationalHMM) -> list[bool]:
    return [p > 0 for p in hmm.stationary()]


def prompt_support(model: ModelLike, U: Iterable[SupportsInt]) -> tuple[int, ...]:
    """``S(U) = {h : π[h'] A[h', h] > 0 for some h' ∈ U}`` (= supp(R 1_U) on visited states)."""
    hmm = _hmm(model)
    pi = hmm.stationary()
    U_t = _states(U, hmm.n_states, "U")
    return tuple(
        h for h in range(hmm.n_states)
        if any(pi[g] * hmm.transition[g][h] > 0 for g in U_t)
    )  # fmt: skip


def _states(U: Iterable[SupportsInt], k: int, what: str) -> tuple[int, ...]:
    out = tuple(sorted({int(h) for h in U}))
    if not out or out[0] < 0 or out[-1] >= k:
        raise InputError(f"{what} must be a non-empty set of hidden states in 0..{k - 1}")
    return out


@dataclass(frozen=True)
class ExactPromptWitness:
    """prompt.exact's witness: v (k,) = P(z | H_0 = h); S the target set; b (n,) the
    minimum-norm solution of ``W[:, S]ᵀ b = μ_S / v_S`` (None when unsolvable);
    leakage ``max_{h∉S} |(Wᵀb)_h| v_h`` (0 when S ⊇ supp v)."""

    v: tuple[Fraction, ...]
    S: tuple[int, ...]
    b: tuple[Fraction, ...] | None
    leakage: Fraction | None


def prompt_witness(
    model: ModelLike, mu: Weights, prompt: ArrayLike, S: Iterable[SupportsInt] | None = None
) -> ExactPromptWitness:
    """Solve ``W[:, S]ᵀ b = μ_S / v_S`` exactly for prompt weights (L, k) (or one row (k,)).
    S defaults to ``{h : v_h > 0, π_h > 0}``; it must contain the effective supp(μ) and
    have ``v_S > 0``."""
    hmm = _hmm(model)
    k = hmm.n_states
    m = _mu(mu, k, "hidden state (k)")
    v = prompt_likelihood(hmm, prompt)
    alive = _alive(hmm)
    S_t = (tuple(h for h in range(k) if v[h] > 0 and alive[h]) if S is None
           else _states(S, k, "S"))  # fmt: skip
    missing = [h for h in range(k) if m[h] != 0 and alive[h] and h not in S_t]
    if missing:
        raise InputError(f"S must contain supp(mu); states {missing} carry weight but are not in S")
    if any(v[h] == 0 for h in S_t):
        raise InputError(f"v = P(prompt | H_0 = h) is 0 on states of S {S_t}; drop them")
    b = min_norm_solution(_columns(W(hmm), list(S_t)), [m[h] / v[h] for h in S_t], len(S_t))
    leak = None
    if b is not None:
        Wm = W(hmm)
        c = [sum((Wm[x][h] * b[x] for x in range(hmm.n_tokens)), Fraction(0)) for h in range(k)]
        leak = max((abs(c[h]) * v[h] for h in range(k) if h not in S_t), default=Fraction(0))
    return ExactPromptWitness(v, S_t, b, leak)


def c_prompt(
    model: ModelLike, mu: Weights, U: Iterable[SupportsInt] | None = None
) -> ExactCondition:
    """C-PROMPT(μ): some U with ``supp(μ) ⊆ S(U)`` (effective support: states with π > 0)
    and ``rank W[:, S(U)] = |S(U)|``. With ``U`` given, that U only; else every non-empty
    U ⊆ {h : π_h > 0} (ExactTooLarge above MAX_PROMPT_SEARCH_STATES such states).

    witness: U (the first found, in increasing bitmask order), S, and the prompt
    witness v and b for ``u = 1_U``. quantities: candidates (sets U examined).
    """
    hmm = _hmm(model)
    k = hmm.n_states
    m = _mu(mu, k, "hidden state (k)")
    pi = hmm.stationary()
    alive = [h for h in range(k) if pi[h] > 0]
    need = {h for h in alive if m[h] != 0}
    succ = [sum(1 << h for h in range(k) if pi[g] * hmm.transition[g][h] > 0) for g in range(k)]
    Wm = W(hmm)
    candidates: Iterable[tuple[int, ...]]
    if U is not None:
        candidates = [_states(U, k, "U")]
    else:
        if len(alive) > MAX_PROMPT_SEARCH_STATES:
            raise ExactTooLarge(
                f"C-PROMPT exhaustive search: {len(alive)} visited states exceed "
                f"MAX_PROMPT_SEARCH_STATES = {MAX_PROMPT_SEARCH_STATES} (2**k prompt sets)"
            )
        candidates = (
            tuple(alive[i] for i in range(len(alive)) if bits >> i & 1)
            for bits in range(1, 2 ** len(alive))
        )
    full: dict[int, bool] = {}
    examined = 0
    for U_t in candidates:
        examined += 1
        mask = 0
        for g in U_t:
            mask |= succ[g]
        S = [h for h in range(k) if mask >> h & 1]
        if not need <= set(S) or not S:
            continue
        if mask not in full:
            full[mask] = rank(_columns(Wm, S), len(S)) == len(S)
        if full[mask]:
            u = [1 if h in U_t else 0 for h in range(k)]
            w = prompt_witness(hmm, m, [u], S)
            return ExactCondition(
                "C-PROMPT(mu)",
                True,
                {"U": tuple(U_t), "S": tuple(S), "v": w.v, "b": w.b},
                {"candidates": examined},
            )
    return ExactCondition("C-PROMPT(mu)", False, {}, {"candidates": examined})


# --------------------------------------------------------------------------- memory


def pooled_emissions(mem: ModelLike) -> tuple[list[list[list[Fraction]]], list[Fraction]]:
    """``W̄⁽ʲ⁾ = Σ_{s:J(s)=j} π_S[s] W_s / f_j`` (N of (n, m)) and ``f_j`` (N,), exactly."""
    mem = _mem(mem)
    pi = mem.state_stationary()
    N, n, m = mem.n_cells, mem.n_tokens, mem.n_values
    wbar = [[[Fraction(0)] * m for _ in range(n)] for _ in range(N)]
    freq = [Fraction(0)] * N
    for st in range(mem.n_ordinary):
        j = mem.pointer[st]
        Ws = mem.W_state(st)
        freq[j] += pi[st]
        for x in range(n):
            for a in range(m):
                wbar[j][x][a] += pi[st] * Ws[x][a]
    for j in range(N):
        if freq[j]:
            wbar[j] = [[v / freq[j] for v in r] for r in wbar[j]]
    return wbar, freq


def c_mem_pool(mem: ModelLike, mu: Weights, cell: int = 0) -> ExactCondition:
    """C-MEM-POOL: ``W̄⁽ʲ*⁾ᵀ b = μ / f_{j*}``, ``W̄⁽ʲ⁾ᵀ b = 0`` (j ≠ j*, f_j > 0) solvable;
    needs ``f_{j*} > 0``. witness b: the minimum-norm solution. quantities: f_cell,
    rank_cell (rank of W̄⁽ʲ*⁾), rank (of the stacked matrix)."""
    mem = _mem(mem)
    j_star = _cell(mem, cell)
    m = _mu(mu, mem.n_values, "memory value (m)")
    wbar, freq = pooled_emissions(mem)
    q: dict = {"f_cell": freq[j_star]}
    if freq[j_star] == 0:
        return ExactCondition("C-MEM-POOL", False, {}, q)
    cells = [j_star] + [j for j in range(mem.n_cells) if j != j_star and freq[j] > 0]
    stacked = [sum((wbar[j][x] for j in cells), []) for x in range(mem.n_tokens)]
    rhs = [v / freq[j_star] for v in m] + [Fraction(0)] * (mem.n_values * (len(cells) - 1))
    width = mem.n_values * len(cells)
    b = min_norm_solution(stacked, rhs, width)
    q.update(rank_cell=rank(wbar[j_star], mem.n_values), rank=rank(stacked, width))
    return ExactCondition("C-MEM-POOL", b is not None, {"b": b} if b is not None else {}, q)


def memory_iid_witness(mem: ModelLike, mu: Weights) -> tuple[Fraction, ...] | None:
    """memory.iid_exact: ``b = pinv(W̄)ᵀ μ`` with ``W̄ = Σ_s state_start[s] W_s``; None when
    μ ∉ range(W̄ᵀ)."""
    mem = _mem(mem)
    m = _mu(mu, mem.n_values, "memory value (m)")
    n, mv = mem.n_tokens, mem.n_values
    wbar = [[Fraction(0)] * mv for _ in range(n)]
    for st in range(mem.n_ordinary):
        Ws = mem.W_state(st)
        for x in range(n):
            for a in range(mv):
                wbar[x][a] += mem.state_start[st] * Ws[x][a]
    return min_norm_solution(wbar, list(m), mv)


def c_mem_prompt(mem: ModelLike, mu: Weights, cell: int = 0) -> ExactCondition:
    """C-MEM-PROMPT: a state s0 with ``J(s0) = j*``, ``rank W_{s0} = m``, and a non-empty
    ``U = {st : π_S[st] > 0, successors(st) = {s0}}``. witness: s0 (the smallest valid),
    U, and ``b = pinv(W_{s0})ᵀ μ``. quantities: candidates (states s0 with some U)."""
    mem = _mem(mem)
    j_star = _cell(mem, cell)
    m = _mu(mu, mem.n_values, "memory value (m)")
    pi = mem.state_stationary()
    A, s = mem.state_transition, mem.n_ordinary
    candidates = 0
    found = None
    for s0 in range(s):
        if mem.pointer[s0] != j_star:
            continue
        U = tuple(st for st in range(s) if pi[st] > 0
                  and [h for h in range(s) if A[st][h] > 0] == [s0])  # fmt: skip
        if not U:
            continue
        candidates += 1
        Ws = mem.W_state(s0)
        if found is None and rank(Ws, mem.n_values) == mem.n_values:
            found = (s0, U, min_norm_solution(Ws, list(m), mem.n_values))
    q = {"candidates": candidates}
    if found is None:
        return ExactCondition("C-MEM-PROMPT", False, {}, q)
    return ExactCondition("C-MEM-PROMPT", True, {"s0": found[0], "U": found[1], "b": found[2]}, q)


__all__ = [
    "MAX_PROMPT_SEARCH_STATES",
    "ExactCondition",
    "ExactPromptWitness",
    "W",
    "c_head",
    "c_head_mu",
    "c_mem_pool",
    "c_mem_prompt",
    "c_prompt",
    "head_witness",
    "memory_iid_witness",
    "pooled_emissions",
    "prompt_support",
    "prompt_witness",
]
