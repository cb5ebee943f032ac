"""The theorems' conditions as quantities (THEORY §5, §7).

Each ``c_*`` function returns a :class:`ConditionResult`: whether the condition holds, the
numbers behind the verdict (σ_min of the relevant matrix, least-squares residual, leakage),
the witness (prompt states U and support S, or the memory state s0) and the tolerance
used. ``holds`` is decided above a documented tolerance; strategies that generate
satisfying instances keep a larger floor (``strategies.SIGMA_FLOOR``), violating instances
are built exactly.

The task's labels and margin (THEORY §3) are ``verify.core.task``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from verify.core.inference import prompt_likelihood
from verify.core.models import HMM, MemoryHMM, stationary_law
from verify.core.task import decide
from verify.core.validation import InputError, as_cell, as_int, index_set, require, weight_vector

#: A matrix "has full column rank" when its smallest singular value is ≥ SIGMA_TOL
#: (THEORY §7). Emission columns are probability vectors, so every singular value of W lies
#: in [0, √k]; 1e-8 sits far above float64 rounding of a rank-deficient W (≈ 1e-16) and far
#: below the strategies' satisfying floor (0.05).
SIGMA_TOL = 1e-8
#: ``μ ∈ range(Mᵀ)`` when the least-squares residual ``‖Mᵀb − μ‖₂ / ‖μ‖₂`` is ≤ RESIDUAL_TOL.
#: Solutions are computed by an SVD truncated at SIGMA_TOL, so a residual of an exactly
#: solvable system is rounding (≈ 1e-15), and an unsolvable one is at least the distance of
#: μ from the range, which for the strategies' integer μ is ≥ 1e-3.
RESIDUAL_TOL = 1e-8
#: Transition entries above this are "possible successors" (exact zeros are structural).
SUPPORT_TOL = 0.0
#: C-PROMPT's search over prompt supports is exhaustive up to this many hidden states and a
#: documented greedy heuristic above it (2**12 candidate prompt sets; the pruned search
#: visits each distinct successor union once).
EXACT_MAX_STATES = 12


@dataclass(frozen=True)
class ConditionResult:
    """One condition's verdict and the numbers behind it (THEORY §7).

    name: THEORY's name ("C-HEAD", "C-HEAD(mu)", "C-PROMPT(mu)", "C-PROMPT-ROBUST(mu)",
    "C-MEM-POOL", "C-MEM-PROMPT"); holds: the verdict at ``tol``; quantities: floats such as
    ``sigma_min``, ``residual``, ``leakage``; witness: e.g. ``{"U": (0,), "S": (0, 2)}`` or
    ``{"s0": 1, "U": (3,)}`` (empty when none); method: "exact" | "heuristic" | "closed-form".
    """

    name: str
    holds: bool
    quantities: dict[str, float] = field(default_factory=dict)
    witness: dict = field(default_factory=dict)
    tol: float = SIGMA_TOL
    method: str = "closed-form"

    def to_dict(self) -> dict:
        """JSON-ready plain dict (tuples become lists)."""
        return {
            "name": self.name,
            "holds": bool(self.holds),
            "quantities": {k: float(v) for k, v in self.quantities.items()},
            "witness": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in self.witness.items()
            },
            "tol": float(self.tol),
            "method": self.method,
        }

    def __bool__(self) -> bool:
        return bool(self.holds)


# --------------------------------------------------------------------------- validation


def _check_hmm(hmm: object) -> HMM:
    return require(hmm, HMM, "hmm", "for a MemoryHMM use c_mem_pool / c_mem_prompt or mem.as_hmm()")


def _check_mem(mem: object) -> MemoryHMM:
    return require(mem, MemoryHMM, "mem")


# --------------------------------------------------------------------------- linear algebra


def sigma_min(matrix: np.ndarray) -> float:
    """σ_min of a (rows, cols) matrix as a rank test: 0 when rows < cols (rank ≤ rows)."""
    if matrix.shape[1] == 0:
        return float("inf")
    if matrix.shape[0] < matrix.shape[1]:
        return 0.0
    return float(np.linalg.svd(matrix, compute_uv=False)[-1])


class RangeSolve(NamedTuple):
    """Least-squares solution of ``Mᵀ b = μ`` truncated at SIGMA_TOL.

    b (rows,), residual ``‖Mᵀb − μ‖₂ / ‖μ‖₂`` (0 for μ = 0), sigma_min of M.
    """

    b: np.ndarray
    residual: float
    sigma_min: float


def solve_range(matrix: np.ndarray, mu: np.ndarray, cut: float = SIGMA_TOL) -> RangeSolve:
    """Solve ``matrixᵀ b = mu`` for matrix (n, d), mu (d,), by an SVD truncated at ``cut``.

    Singular directions below ``cut`` (default SIGMA_TOL) are dropped, so a nearly
    rank-deficient matrix is treated as rank-deficient (consistent with :func:`c_head`)
    rather than given a huge b; a larger cut trades residual for a smaller b.
    """
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    keep = s >= cut
    # matrixᵀ = V Σ Uᵀ; b = U Σ⁻¹ Vᵀ μ on the kept directions.
    b = u[:, keep] @ ((vt[keep] @ mu) / s[keep])
    norm = float(np.linalg.norm(mu))
    residual = float(np.linalg.norm(matrix.T @ b - mu)) / norm if norm > 0 else 0.0
    return RangeSolve(b, residual, sigma_min(matrix))


# --------------------------------------------------------------------------- C-HEAD


def c_head(hmm: HMM) -> ConditionResult:
    """C-HEAD (head.exact, Theorem 3.3): W (n, k) has full column rank, σ_k(W) ≥ SIGMA_TOL.

    quantities: sigma_min (0 when n < k), sigma_max, rank (singular values ≥ SIGMA_TOL).
    """
    W = _check_hmm(hmm).W
    s = np.linalg.svd(W, compute_uv=False)
    smin = sigma_min(W)
    return ConditionResult(
        name="C-HEAD",
        holds=smin >= SIGMA_TOL,
        quantities={
            "sigma_min": smin,
            "sigma_max": float(s[0]),
            "rank": float((s >= SIGMA_TOL).sum()),
        },
        tol=SIGMA_TOL,
        method="closed-form",
    )


def c_head_mu(hmm: HMM, mu: ArrayLike) -> ConditionResult:
    """C-HEAD(μ) (head.rowspace): ``μ ∈ range(Wᵀ)``, i.e. ``Wᵀb = μ`` is solvable.

    quantities: residual (relative, vs RESIDUAL_TOL), sigma_min of W, b_norm_inf = ‖b‖_∞
    of the minimum-norm solution (head.robust's ε‖b*‖_∞ bound).
    """
    hmm = _check_hmm(hmm)
    mu = weight_vector(mu, "mu", hmm.n_states, "hidden state (k)")
    sol = solve_range(hmm.W, mu)
    return ConditionResult(
        name="C-HEAD(mu)",
        holds=sol.residual <= RESIDUAL_TOL,
        quantities={
            "residual": sol.residual,
            "sigma_min": sol.sigma_min,
            "b_norm_inf": float(np.abs(sol.b).max()) if sol.b.size else 0.0,
        },
        tol=RESIDUAL_TOL,
        method="closed-form",
    )


# --------------------------------------------------------------------------- C-PROMPT


def successor_sets(hmm: HMM) -> list[int]:
    """Bitmask of ``{h : A[h', h] > SUPPORT_TOL}`` for each h' with ``π[h'] > 0``, else 0.

    A prompt state with stationary probability zero contributes nothing to ``v = R u``
    (``R[h, h'] ∝ π[h']``), so it can never be part of a useful U.
    """
    row: np.ndarray | list[int]  # the successors of h (none for a state with π = 0)
    pi = stationary_law(hmm.start, hmm.transition)
    masks = []
    for h in range(hmm.n_states):
        row = np.flatnonzero(hmm.transition[h] > SUPPORT_TOL) if pi[h] > 0 else []
        masks.append(sum(1 << int(j) for j in row))
    return masks


def _bits(mask: int, k: int) -> tuple[int, ...]:
    return tuple(h for h in range(k) if mask >> h & 1)


class _PromptSearch(NamedTuple):
    best_mask: int  # 0 when no witness
    best_sigma: float
    visited: int


def _prompt_search_exact(W: np.ndarray, succ: list[int], need: int) -> _PromptSearch:
    """Every distinct union of successor sets, depth-first; a union whose columns are
    rank-deficient is pruned (any superset is too). Keeps the witness with the largest σ_min."""
    k = W.shape[1]
    cache: dict[int, float] = {}

    def sig(mask: int) -> float:
        if mask not in cache:
            cache[mask] = sigma_min(W[:, list(_bits(mask, k))])
        return cache[mask]

    best, best_sigma = 0, 0.0
    seen: set[int] = set()
    stack = [m for m in set(succ) if m]
    while stack:
        mask = stack.pop()
        if mask in seen:
            continue
        seen.add(mask)
        s = sig(mask)
        if s < SIGMA_TOL:
            continue
        if mask & need == need and s > best_sigma:
            best, best_sigma = mask, s
        stack.extend(mask | m for m in succ if m and (mask | m) != mask)
    return _PromptSearch(best, best_sigma, len(seen))


def _prompt_search_greedy(W: np.ndarray, succ: list[int], need: int) -> _PromptSearch:
    """Greedy cover of supp(μ): repeatedly add the successor set covering most uncovered
    states of supp(μ) (ties: fewest new states) among those keeping W[:, S] full rank.
    Sound (a returned witness is verified) but incomplete."""
    k = W.shape[1]
    mask, visited = 0, 0
    while mask & need != need:
        best = None
        for m in succ:
            if not m or (mask | m) == mask:
                continue
            visited += 1
            gain = bin((mask | m) & need & ~mask).count("1")
            if gain == 0:
                continue
            cand = mask | m
            if sigma_min(W[:, list(_bits(cand, k))]) < SIGMA_TOL:
                continue
            key = (gain, -bin(cand).count("1"))
            if best is None or key > best[0]:
                best = (key, cand)
        if best is None:
            return _PromptSearch(0, 0.0, visited)
        mask = best[1]
    return _PromptSearch(mask, sigma_min(W[:, list(_bits(mask, k))]), visited)


def c_prompt(hmm: HMM, mu: ArrayLike, max_tokens: int = 1) -> ConditionResult:
    """C-PROMPT(μ) (prompt.exact, Theorem 3.6): some prompt-state set U has
    ``supp(μ) ⊆ S(U)`` and ``W[:, S(U)]`` of full column rank (σ_min ≥ SIGMA_TOL), where
    ``S(U) = {h : A[h', h] > 0 for some h' ∈ U}`` over states h' with ``π[h'] > 0``;
    supp(μ) means its effective support ``{h : μ_h ≠ 0, π_h > 0}`` (p_h(x) = 0 when π_h = 0),
    which keeps prompt.weaker (a), C-HEAD ⇒ C-PROMPT(μ), true for chains with transient states.

    Exact (every distinct S(U), pruned at rank-deficient unions) for k ≤ EXACT_MAX_STATES,
    else a greedy cover of supp(μ) (``method="heuristic"``: a True verdict is certified, a
    False one means no witness was found). The reported witness is the one with the largest
    σ_min; U is the largest prompt set with that support, ``{h' : succ(h') ⊆ S}``.

    ``max_tokens`` L ≥ 1: with L tokens supp(v) is ``succ(U_L ∩ succ(U_{L−1} ∩ …))``, which
    is succ(X) for some X ⊆ [k] — exactly the supports one token reaches — so the verdict does
    not depend on L; it is accepted for the interface and recorded in ``quantities``.
    quantities: sigma_min (0 if none), support_size, v_max (max of ``v = R 1_U``, the
    margin bound is γ / v_max), candidates (supports examined), max_tokens.
    """
    hmm = _check_hmm(hmm)
    k = hmm.n_states
    mu = weight_vector(mu, "mu", k, "hidden state (k)")
    max_tokens = as_int(max_tokens, "max_tokens", 1, note=" (prompt length L)")
    succ = successor_sets(hmm)
    # States with π = 0 have p_h(x) = 0 for every x, so their weights never matter: only the
    # effective support supp(μ) ∩ supp(π) must be covered (THEORY assumes π > 0).
    alive = stationary_law(hmm.start, hmm.transition) > 0
    need = sum(1 << int(h) for h in np.flatnonzero((mu != 0) & alive))
    exact = k <= EXACT_MAX_STATES
    search = (_prompt_search_exact if exact else _prompt_search_greedy)(hmm.W, succ, need)
    quantities = {
        "sigma_min": search.best_sigma,
        "support_size": 0.0,
        "v_max": 0.0,
        "candidates": float(search.visited),
        "max_tokens": float(max_tokens),
    }
    witness: dict = {}
    if search.best_mask:
        S = _bits(search.best_mask, k)
        U = tuple(h for h in range(k) if succ[h] and succ[h] & ~search.best_mask == 0)
        u = np.zeros(k)
        u[list(U)] = 1.0
        v = prompt_likelihood(hmm, u[None, :])
        quantities["support_size"] = float(len(S))
        quantities["v_max"] = float(np.max(v))
        witness = {"U": U, "S": S}
    return ConditionResult(
        name="C-PROMPT(mu)",
        holds=bool(search.best_mask),
        quantities=quantities,
        witness=witness,
        tol=SIGMA_TOL,
        method="exact" if exact else "heuristic",
    )


class PromptHead(NamedTuple):
    """The prompt witness of prompt.exact / prompt.robust.

    v (k,) = P(z_{1:L} | H_0 = h); b (n,) solves ``W[:, S]ᵀ b = μ_S / v_S``;
    leakage ``ℓ = max_{h∉S} |(Wᵀb)_h| v_h`` (0 when S = [k]); sigma_min of W[:, S];
    S: the target set, sorted.
    """

    v: np.ndarray
    b: np.ndarray
    leakage: float
    sigma_min: float
    residual: float
    S: tuple[int, ...]


def prompt_head(hmm: HMM, mu: ArrayLike, u: ArrayLike, S: ArrayLike) -> PromptHead:
    """Build the prompt witness for prompt weights u ((k,) one token or (L, k)) and target
    set S (iterable of states, must contain the effective supp(μ): states with π > 0)."""
    hmm = _check_hmm(hmm)
    k = hmm.n_states
    mu = weight_vector(mu, "mu", k, "hidden state (k)")
    # π_h = 0 ⇒ p_h(x) = 0 for every x and v_h = 0 for every prompt: the weight of such a
    # state never matters and no S(U) can reach it, so it is dropped (as in c_prompt)
    mu = np.where(stationary_law(hmm.start, hmm.transition) > 0, mu, 0.0)
    prompt = np.asarray(u, dtype=np.float64)
    if prompt.ndim == 1:
        prompt = prompt[None, :]
    if prompt.ndim != 2 or prompt.shape[1] != k or not np.isfinite(prompt).all():
        raise InputError(f"u must be finite prompt weights of shape (k,) or (L, k) with k={k}")
    S_idx = list(index_set(S, "S", k, "hidden states"))
    outside = [h for h in np.flatnonzero(mu != 0) if h not in S_idx]
    if outside:
        raise InputError(f"S must contain supp(mu); states {outside} carry weight but are not in S")
    v = np.asarray(prompt_likelihood(hmm, prompt), dtype=np.float64)
    if (v[S_idx] <= 0).any():
        bad = [h for h in S_idx if v[h] <= 0]
        raise InputError(f"v = P(prompt | H_0=h) is 0 on states {bad} of S; drop them from S")
    sol = solve_range(hmm.W[:, S_idx], mu[S_idx] / v[S_idx])
    c = hmm.W.T @ sol.b
    off = np.setdiff1d(np.arange(k), S_idx)
    leakage = float(np.max(np.abs(c[off]) * v[off])) if off.size else 0.0
    return PromptHead(v, sol.b, leakage, sol.sigma_min, sol.residual, tuple(S_idx))


def c_prompt_robust(
    hmm: HMM, mu: ArrayLike, u: ArrayLike, S: ArrayLike, xs: ArrayLike | None = None
) -> ConditionResult:
    """C-PROMPT-ROBUST(μ) (prompt.robust, ε-support form): ``W[:, S]`` has full column rank
    (so the witness b exists); with an input set xs, also ``γ > ℓ`` (recovery certified).

    quantities: leakage ℓ, sigma_min of W[:, S], b_norm_inf, and gamma when xs is given.
    witness: {"S": S, "b": tuple(b)}.
    """
    head = prompt_head(hmm, mu, u, S)
    holds = head.sigma_min >= SIGMA_TOL
    quantities = {
        "leakage": head.leakage,
        "sigma_min": head.sigma_min,
        "b_norm_inf": float(np.abs(head.b).max()),
    }
    if xs is not None:
        gamma = decide(hmm, xs, mu).gamma
        quantities["gamma"] = gamma
        holds = holds and gamma > head.leakage
    return ConditionResult(
        name="C-PROMPT-ROBUST(mu)",
        holds=bool(holds),
        quantities=quantities,
        witness={"S": head.S, "b": tuple(float(x) for x in head.b)},
        tol=SIGMA_TOL,
        method="closed-form",
    )


# --------------------------------------------------------------------------- memory


def state_stationary(mem: MemoryHMM) -> np.ndarray:
    """π_S (s,): ``state_start`` if stationary for ``state_transition``, else a stationary law."""
    return stationary_law(_check_mem(mem).state_start, mem.state_transition)


def pooled_emissions(mem: MemoryHMM) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell averaged emissions ``W̄⁽ʲ⁾`` (N, n, m) and cell frequencies ``f`` (N,).

    ``W̄⁽ʲ⁾ = Σ_{s:J(s)=j} π_S[s] W_s / f_j``, ``f_j = Σ_{s:J(s)=j} π_S[s]``; zero where f_j = 0.
    """
    pi = state_stationary(mem)
    N, n, m = mem.n_cells, mem.n_tokens, mem.n_values
    wbar = np.zeros((N, n, m))
    freq = np.zeros(N)
    for st in range(mem.n_ordinary):
        j = int(mem.pointer[st])
        wbar[j] += pi[st] * mem.W_state(st)
        freq[j] += pi[st]
    nz = freq > 0
    wbar[nz] /= freq[nz, None, None]
    return wbar, freq


class PooledSystem(NamedTuple):
    """The C-MEM-POOL system ``matrixᵀ b = rhs`` for the task cell j* (Theorem 4.3).

    matrix (n, m·c): ``[W̄⁽ʲ*⁾ | W̄⁽ʲ⁾ for j ≠ j* with f_j > 0]``; rhs (m·c,):
    ``[μ / f_{j*}, 0, …]`` (all zero when f_{j*} = 0: no state with π_S > 0 reads j*);
    f_cell = f_{j*}; wbar_cell = W̄⁽ʲ*⁾ (n, m).
    """

    matrix: np.ndarray
    rhs: np.ndarray
    f_cell: float
    wbar_cell: np.ndarray


def pooled_system(mem: MemoryHMM, mu: ArrayLike, cell: int = 0) -> PooledSystem:
    """The stacked pooled system of :func:`c_mem_pool` / ``pooled_witness`` from
    :func:`pooled_emissions`; its σ_min ≥ SIGMA_TOL means it is solvable for every μ."""
    mem = _check_mem(mem)
    j_star = as_cell(cell, mem.n_cells)
    mu = weight_vector(mu, "mu", mem.n_values, "memory value (m)")
    wbar, freq = pooled_emissions(mem)
    cells = [j_star] + [j for j in range(mem.n_cells) if j != j_star and freq[j] > 0]
    matrix = np.concatenate([wbar[j] for j in cells], axis=1)
    head = mu / freq[j_star] if freq[j_star] > 0 else np.zeros(mem.n_values)
    rhs = np.concatenate([head] + [np.zeros(mem.n_values)] * (len(cells) - 1))
    return PooledSystem(matrix, rhs, float(freq[j_star]), wbar[j_star])


def c_mem_pool(mem: MemoryHMM, mu: ArrayLike, cell: int = 0) -> ConditionResult:
    """C-MEM-POOL (memory.pool, after Thm 4.3): the system
    ``W̄⁽ʲ*⁾ᵀ b = μ / f_{j*}``, ``W̄⁽ʲ⁾ᵀ b = 0`` (j ≠ j*, f_j > 0) has a solution.

    For N = 1 this is ``μ ∈ range(W̄ᵀ)``, implied for every μ by σ_min(W̄) ≥ SIGMA_TOL.
    quantities: residual, sigma_min of the stacked matrix ``[W̄⁽ʲ⁾ for f_j > 0]`` (n, ·)
    (≥ SIGMA_TOL means solvable for every μ), sigma_min_cell of W̄⁽ʲ*⁾, f_cell = f_{j*}.
    Needs f_{j*} > 0 (some state with π_S > 0 reads the task cell).
    """
    system = pooled_system(mem, mu, cell)
    quantities = {"f_cell": system.f_cell}
    if system.f_cell <= 0:
        quantities.update(residual=1.0, sigma_min=0.0, sigma_min_cell=0.0)
        return ConditionResult("C-MEM-POOL", False, quantities, {}, RESIDUAL_TOL, "closed-form")
    sol = solve_range(system.matrix, system.rhs)
    quantities.update(
        residual=sol.residual,
        sigma_min=sol.sigma_min,
        sigma_min_cell=sigma_min(system.wbar_cell),
    )
    return ConditionResult(
        name="C-MEM-POOL",
        holds=sol.residual <= RESIDUAL_TOL,
        quantities=quantities,
        tol=RESIDUAL_TOL,
        method="closed-form",
    )


def c_mem_iid(mem: MemoryHMM) -> ConditionResult:
    """C-MEM-IID (memory.iid_exact, after Thm 4.3): N = 1, i.i.d. states (every row of
    the state chain equals π_S) and ``W̄ = Σ_s π_S[s] W_s`` (n, m) of full column rank,
    σ_min(W̄) ≥ SIGMA_TOL. Not C-MEM-POOL (THEORY §5: two IDs): for N = 1 it implies
    C-MEM-POOL for every μ, but C-MEM-POOL may hold for one μ with W̄ rank-deficient.

    quantities: sigma_min of W̄ (0 when n < m), iid (1 when the chain is i.i.d.), cells N.
    ``holds`` needs all three: N = 1, i.i.d., σ_min ≥ SIGMA_TOL.
    """
    mem = _check_mem(mem)
    pi = state_stationary(mem)
    iid = bool(np.abs(mem.state_transition - pi[None, :]).max() <= 1e-12)
    wbar, _ = pooled_emissions(mem)
    smin = sigma_min(wbar[0]) if mem.n_cells == 1 else 0.0
    return ConditionResult(
        name="C-MEM-IID",
        holds=mem.n_cells == 1 and iid and smin >= SIGMA_TOL,
        quantities={"sigma_min": smin, "iid": float(iid), "cells": float(mem.n_cells)},
        tol=SIGMA_TOL,
        method="closed-form",
    )


def c_mem_prompt(mem: MemoryHMM, mu: ArrayLike, cell: int = 0) -> ConditionResult:
    """C-MEM-PROMPT (memory.prompt, Theorem 4.6): a state s0 with ``J(s0) = j*`` and
    σ_min(W_{s0}) ≥ SIGMA_TOL, and a non-empty U ⊆ [s] of states with ``π_S > 0`` whose
    successors in the state chain are exactly {s0}.

    The verdict does not depend on μ beyond its shape (W_{s0} full rank serves every μ).
    witness: {"s0", "U"} with U maximal; among valid s0 the largest σ_min is reported.
    quantities: sigma_min (of W_{s0}, 0 if none), candidates (states s0 with some U).
    """
    mem = _check_mem(mem)
    j_star = as_cell(cell, mem.n_cells)
    weight_vector(mu, "mu", mem.n_values, "memory value (m)")
    pi = state_stationary(mem)
    A = mem.state_transition
    best: tuple[float, int, tuple[int, ...]] | None = None
    candidates = 0
    for s0 in range(mem.n_ordinary):
        if int(mem.pointer[s0]) != j_star:
            continue
        U = tuple(
            st
            for st in range(mem.n_ordinary)
            if pi[st] > 0 and tuple(np.flatnonzero(A[st] > SUPPORT_TOL)) == (s0,)
        )
        if not U:
            continue
        candidates += 1
        s = sigma_min(mem.W_state(s0))
        if s >= SIGMA_TOL and (best is None or s > best[0]):
            best = (s, s0, U)
    return ConditionResult(
        name="C-MEM-PROMPT",
        holds=best is not None,
        quantities={"sigma_min": best[0] if best else 0.0, "candidates": float(candidates)},
        witness={"s0": best[1], "U": best[2]} if best else {},
        tol=SIGMA_TOL,
        method="exact",
    )


__all__ = [
    "EXACT_MAX_STATES",
    "RESIDUAL_TOL",
    "SIGMA_TOL",
    "SUPPORT_TOL",
    "ConditionResult",
    "PooledSystem",
    "PromptHead",
    "RangeSolve",
    "c_head",
    "c_head_mu",
    "c_mem_iid",
    "c_mem_pool",
    "c_mem_prompt",
    "c_prompt",
    "c_prompt_robust",
    "pooled_emissions",
    "pooled_system",
    "prompt_head",
    "sigma_min",
    "solve_range",
    "state_stationary",
    "successor_sets",
]
