"""Constructive witnesses of THEORY §5: the heads (and prompts) each proof builds.

Every witness is a small frozen value holding the numbers a claim checks (b, u, v, S, …)
and evaluates itself on inputs: ``decision_values(model, xs)`` (B,) is the head's output
``f(x)`` through the pretrained model's exact outputs (§2), computed by the inference
routes of :mod:`verify.core.inference`; ``target_values(model, xs)`` (B,) is what the proof
says ``f(x)`` equals (head.exact, prompt.exact, memory.iid_exact, memory.prompt), computed
by a different route so that the identity is a real check; ``labels(model, xs)`` (B,) is
the task's ``sign(μᵀ p(x))``. The witnesses never decide anything: claims compare.

The linear algebra (truncated least squares, the prompt head, pooled emissions) is the
conditions layer's (:mod:`verify.core.conditions`); witnesses package it with an evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from verify.core.conditions import (
    SIGMA_TOL,
    pooled_system,
    prompt_head,
    solve_range,
    state_stationary,
)
from verify.core.inference import (
    loo_conditionals,
    mask_probe,
    memory_posterior,
    posterior_h0,
    product_hmm,
    prompt_likelihood,
    prompted_mask_probe,
)
from verify.core.models import HMM, MemoryHMM, stationary_law
from verify.core.task import labels as task_labels
from verify.core.validation import InputError, as_cell, as_int, index_set, require, weight_vector


def _hmm(model: object) -> HMM:
    return require(model, HMM, "model")


def _mem(model: object) -> MemoryHMM:
    return require(model, MemoryHMM, "model")


def _relative(residual: np.ndarray, mu: np.ndarray) -> float:
    """``‖residual‖₂ / ‖μ‖₂`` (0 for μ = 0), the convention of ``conditions.solve_range``."""
    norm = float(np.linalg.norm(mu))
    return float(np.linalg.norm(residual)) / norm if norm > 0 else float(np.linalg.norm(residual))


def pooled_features(model: HMM | MemoryHMM, xs: ArrayLike) -> np.ndarray:
    """Mean-pooled leave-one-out conditionals ``(1/T) Σ_i G_i(x)`` (B, n) (THEORY §4): the
    features on which the §6 LP decides pooled recovery and the pooled head acts."""
    hmm = product_hmm(model) if isinstance(model, MemoryHMM) else _hmm(model)
    G = np.asarray(loo_conditionals(hmm, xs))
    if G.shape[1] == 0:
        raise InputError("xs has length T = 0; pooling needs at least one input position")
    return G.mean(axis=1)


# --------------------------------------------------------------------------- vanilla HMM


#: σ cut-offs of the truncated heads that head.robust also tries against a trained MLM
#: (singular values of W lie in [0, √k]; see :func:`robust_head_witnesses`).
ROBUST_CUTS = (1e-6, 1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3)


@dataclass(frozen=True, eq=False)
class HeadWitness:
    """Linear head on the mask probe (head.exact / head.rowspace / head.robust).

    b (n,): the head; mu (k,); mismatch (k,): ``Wᵀb − μ`` (0 when C-HEAD(μ) holds and b
    solves it); residual: ``‖Wᵀb − μ‖₂ / ‖μ‖₂``; method: "pinv" (``b* = pinv(W).T μ``) or
    "lstsq" (least squares truncated at σ ≥ cut, see ``conditions.solve_range``).
    :meth:`robust_threshold` is head.robust's sufficient margin.
    """

    b: np.ndarray
    mu: np.ndarray
    mismatch: np.ndarray
    method: str

    @property
    def residual(self) -> float:
        return _relative(self.mismatch, self.mu)

    def decision_values(self, model: HMM, xs: ArrayLike) -> np.ndarray:
        """``bᵀ G(x)`` (B,)."""
        return np.asarray(mask_probe(_hmm(model), xs)) @ self.b

    def target_values(self, model: HMM, xs: ArrayLike) -> np.ndarray:
        """``μᵀ p(x)`` (B,): equal to decision_values when the residual is 0."""
        return np.asarray(posterior_h0(_hmm(model), xs)) @ self.mu

    def labels(self, model: HMM, xs: ArrayLike) -> np.ndarray:
        return task_labels(_hmm(model), xs, self.mu)

    @property
    def span(self) -> float:
        """head.robust's span constant ``(max b − min b)/2 = min_c ‖b − c1‖_∞``."""
        return float(self.b.max() - self.b.min()) / 2 if self.b.size else 0.0

    def robust_threshold(
        self, eps: ArrayLike, post: ArrayLike, constant: str = "span"
    ) -> np.ndarray:
        """head.robust: ``sign bᵀĜ(x) = y(x)`` wherever ``‖Ĝ(x) − G(x)‖₁ ≤ ε(x)`` (L1,
        = 2·TV) and ``|μᵀp(x)| > ε(x)·(max b − min b)/2 + |(Wᵀb − μ)ᵀp(x)|``, since
        ``bᵀĜ = μᵀp + (Wᵀb − μ)ᵀp + bᵀ(Ĝ − G)`` and, as ``1ᵀ(Ĝ − G) = 0``, the last term
        is ``(b − c1)ᵀ(Ĝ − G)`` for every c: Hölder with c = (max b + min b)/2 (THEORY §5).
        ``constant="inf"`` gives the looser ``ε‖b‖_∞`` form (reports compare the two).
        eps: scalar or (B,); post: p(x) (B, k); returns (B,). The mismatch term is rounding
        for b* under C-HEAD and what a truncated head pays for its smaller span."""
        if constant not in ("span", "inf"):
            raise InputError(f"constant must be 'span' or 'inf', got {constant!r}")
        c = self.span if constant == "span" else float(np.abs(self.b).max())
        post = np.asarray(post, dtype=np.float64)
        return np.asarray(eps, dtype=np.float64) * c + np.abs(post @ self.mismatch)


def head_witness(hmm: HMM, mu: ArrayLike) -> HeadWitness:
    """head.exact (Theorem 3.3): ``b* = pinv(W).T @ μ``; exact when W has full column rank."""
    hmm = _hmm(hmm)
    mu = weight_vector(mu, "mu", hmm.n_states, "hidden state (k)")
    b = np.linalg.pinv(hmm.W).T @ mu
    return HeadWitness(b, mu, hmm.W.T @ b - mu, "pinv")


def rowspace_head_witness(hmm: HMM, mu: ArrayLike, cut: float = SIGMA_TOL) -> HeadWitness:
    """head.rowspace: a least-squares solution of ``Wᵀ b = μ`` with its residual
    (0 ⇔ C-HEAD(μ), μ ∈ range(Wᵀ)), from W's singular directions with σ ≥ ``cut``."""
    hmm = _hmm(hmm)
    mu = weight_vector(mu, "mu", hmm.n_states, "hidden state (k)")
    b = solve_range(hmm.W, mu, cut).b
    return HeadWitness(b, mu, hmm.W.T @ b - mu, "lstsq" if cut == SIGMA_TOL else f"σ ≥ {cut:g}")


def robust_head_witnesses(hmm: HMM, mu: ArrayLike) -> list[HeadWitness]:
    """The heads head.robust checks against a trained MLM: ``b*`` and the least-squares
    heads truncated at each σ in :data:`ROBUST_CUTS` that keeps a different rank. When W is
    nearly rank-deficient ``‖b*‖_∞`` is huge and b* qualifies almost no input; a truncated
    head has a small ‖b‖_∞ and pays ``|(Wᵀb − μ)ᵀp(x)|`` instead (each head's bound holds
    on its own, so a violation by any of them falsifies the claim)."""
    hmm = _hmm(hmm)
    out = [head_witness(hmm, mu)]
    s = np.linalg.svd(hmm.W, compute_uv=False)
    ranks = {int((s >= SIGMA_TOL).sum())}
    for cut in ROBUST_CUTS:
        rank = int((s >= cut).sum())
        if rank and rank not in ranks:
            ranks.add(rank)
            out.append(rowspace_head_witness(hmm, mu, cut))
    return out


@dataclass(frozen=True, eq=False)
class PromptWitness:
    """Prompt + linear head (prompt.exact / prompt.robust / multi-token prompts).

    prompt (L, k): the soft prompt's emission weights ``u_l``; U: the prompt states of
    ``u = 1_U`` (empty for a general prompt); S: target states; v (k,) =
    ``P(z_{1:L} | H_0 = h)``; b (n,) solves ``W[:, S]ᵀ b = μ_S / v_S``; residual of that
    solve; leakage ``ℓ = max_{h∉S} |(Wᵀb)_h| v_h`` (0 for the exact witness).
    Identity (prompt.exact): ``bᵀ G(u, x) = μᵀ p(x) / (vᵀ p(x))``; with leakage,
    ``|bᵀG(u,x)·vᵀp(x) − μᵀp(x)| ≤ ℓ`` so the sign is right wherever ``|μᵀp(x)| > ℓ``.
    """

    prompt: np.ndarray
    U: tuple[int, ...]
    S: tuple[int, ...]
    v: np.ndarray
    b: np.ndarray
    mu: np.ndarray
    residual: float
    leakage: float

    def decision_values(self, model: HMM, xs: ArrayLike) -> np.ndarray:
        """``bᵀ G(u, x)`` (B,), G by the forward route through the prompt."""
        return np.asarray(prompted_mask_probe(_hmm(model), xs, self.prompt)) @ self.b

    def target_values(self, model: HMM, xs: ArrayLike) -> np.ndarray:
        """``μᵀ p(x) / (vᵀ p(x))`` (B,), by the reversed-chain route (THEORY §2)."""
        p = np.asarray(posterior_h0(_hmm(model), xs))
        return (p @ self.mu) / (p @ self.v)

    def labels(self, model: HMM, xs: ArrayLike) -> np.ndarray:
        return task_labels(_hmm(model), xs, self.mu)

    def margin_bound(self, gamma: float) -> float:
        """prompt.exact's normalised-margin bound ``γ / (max v · ‖b‖_∞)`` (THEORY §5; §4's
        normalised margin divides by ‖b‖, here ‖b‖_∞ as in the §6 LP, so the LP's optimal
        margin is at least this)."""
        return float(gamma) / (float(self.v.max()) * max(float(np.abs(self.b).max()), 1e-300))


def robust_prompt_witness(
    hmm: HMM, mu: ArrayLike, prompt: ArrayLike, S: ArrayLike
) -> PromptWitness:
    """prompt.robust: any prompt ``u ≥ 0`` ((k,) or (L, k)) and target set S ⊇ supp(μ) with
    ``W[:, S]`` of full column rank; b as in prompt.exact, leakage ℓ reported."""
    hmm = _hmm(hmm)
    mu = weight_vector(mu, "mu", hmm.n_states, "hidden state (k)")
    u = np.asarray(prompt, dtype=np.float64)
    u = u[None, :] if u.ndim == 1 else u
    head = prompt_head(hmm, mu, u, S)
    return PromptWitness(u, (), head.S, head.v, head.b, mu, head.residual, head.leakage)


def prompt_witness(
    hmm: HMM, mu: ArrayLike, U: ArrayLike, prefix: ArrayLike | None = None
) -> PromptWitness:
    """prompt.exact (after Thm 3.6): the prompt token ``u = 1_U`` (after the slots of
    ``prefix`` (L−1, k), default none), ``v = R u``, ``S = supp(v) = S(U)``, b solves
    ``W[:, S]ᵀ b = μ_S / v_S``. U must lie in supp(π) (C-PROMPT's witness does).

    ValueError when supp(μ) ⊄ S(U) (the witness does not exist for this U) or U holds a
    state with π = 0 (it carries no prompt weight).
    """
    hmm = _hmm(hmm)
    k = hmm.n_states
    U_t = index_set(U, "U", k, "hidden states")
    pi = stationary_law(hmm.start, hmm.transition)
    dead = [h for h in U_t if pi[h] <= 0]
    if dead:
        raise InputError(f"U must lie in supp(π); states {dead} have π = 0 (C-PROMPT, §5)")
    pre = np.zeros((0, k)) if prefix is None else np.asarray(prefix, dtype=np.float64)
    u = np.vstack([pre.reshape(-1, k), np.zeros((1, k))])
    u[-1, list(U_t)] = 1.0
    v = np.asarray(prompt_likelihood(hmm, u))
    # S = S(U) ∩ supp(π): v_h = Σ_{h'∈U} π[h'] A[h', h] / π[h] vanishes exactly off S(U);
    # a transient state (π_h = 0) has p_h(x) = 0 on every input, so its column of W is
    # left out (keeping it could make W[:, S] rank-deficient for nothing)
    S = np.flatnonzero((v > 0) & (pi > 0))
    w = robust_prompt_witness(hmm, mu, u, S)
    return PromptWitness(u, U_t, w.S, w.v, w.b, w.mu, w.residual, w.leakage)


# --------------------------------------------------------------------------- memory HMM


@dataclass(frozen=True, eq=False)
class MemoryHeadWitness:
    """Head for a memory task (memory.iid_exact, memory.pool, memory.prompt).

    b (n,); mu (m,); cell j*; matrix: the averaged/selected emission (n, m) (W̄, W_{s0}) or
    the stacked pooled system; residual of the defining solve; kind:
    "iid" (mask probe), "pool" (mean-pooled LOO conditionals), "prompt" (prompted probe);
    prompt (1, m**N·s) for kind "prompt" (else None); s0 / U for kind "prompt".
    """

    b: np.ndarray
    mu: np.ndarray
    cell: int
    matrix: np.ndarray
    residual: float
    kind: str
    prompt: np.ndarray | None = None
    s0: int | None = None
    U: tuple[int, ...] = ()

    def features(self, model: MemoryHMM, xs: ArrayLike) -> np.ndarray:
        """The features the head reads (B, n): G(x), mean_i G_i(x) or G(u, x)."""
        hmm = product_hmm(_mem(model))
        if self.kind == "pool":
            return pooled_features(model, xs)
        if self.kind == "prompt":
            return np.asarray(prompted_mask_probe(hmm, xs, self._u()))
        return np.asarray(mask_probe(hmm, xs))

    def _u(self) -> np.ndarray:
        """The prompt of a kind-"prompt" witness."""
        if self.prompt is None:
            raise ValueError(f"a {self.kind!r} memory witness has no prompt")
        return self.prompt

    def decision_values(self, model: MemoryHMM, xs: ArrayLike) -> np.ndarray:
        """``bᵀ features(x)`` (B,)."""
        return self.features(model, xs) @ self.b

    def target_values(self, model: MemoryHMM, xs: ArrayLike) -> np.ndarray:
        """What the proof says the head outputs (B,):
        iid: ``μᵀ P[M | x]`` (exact); prompt: ``μᵀ P[M_{j*} | S_0 = s0, x]`` (exact, from
        ``P[H_0 | z, x] ∝ v ⊙ p(x)``, valid for a stationary state chain); pool: the same
        ``μᵀ P[M_{j*} | x]`` it approaches as T → ∞ (a limit, not an identity)."""
        mem = _mem(model)
        if self.kind != "prompt":
            return memory_posterior(mem, xs, self.cell) @ self.mu
        hmm = product_hmm(mem)
        v = np.asarray(prompt_likelihood(hmm, self._u()))
        q = np.asarray(posterior_h0(hmm, xs)) * v[None, :]
        q /= q.sum(axis=1, keepdims=True)
        return q @ mem.cell_marginalizer(self.cell) @ self.mu

    def limit_values(self, memory: ArrayLike) -> np.ndarray:
        """``μ_{M_{j*}}`` (B,) for sampled memory contents (B, N): the T → ∞ limit."""
        memory = np.asarray(memory)
        return self.mu[memory[:, self.cell]]

    def labels(self, model: MemoryHMM, xs: ArrayLike) -> np.ndarray:
        return task_labels(_mem(model), xs, self.mu, self.cell)


def memory_iid_witness(mem: MemoryHMM, mu: ArrayLike, cell: int = 0) -> MemoryHeadWitness:
    """memory.iid_exact: N = 1, i.i.d. states (all rows of ``state_transition`` equal).

    ``W̄ = Σ_s P(S_0 = s) W_s`` with ``P(S_0) = state_start`` (π_S when the chain starts
    stationary, as THEORY assumes); ``b = pinv(W̄).T μ``; then ``G(x) = W̄ P[M | x]``.
    ValueError when N ≠ 1 or the rows differ (S_0 is then not independent of x).
    """
    mem = _mem(mem)
    cell = as_cell(cell, mem.n_cells)
    mu = weight_vector(mu, "mu", mem.n_values, "memory value (m)")
    if mem.n_cells != 1:
        raise InputError(f"memory.iid_exact needs N = 1 cell, got N = {mem.n_cells}")
    A = mem.state_transition
    if np.abs(A - A[0]).max() > 0:
        raise InputError(
            "state_transition rows differ, so states are not i.i.d.; use pooled_witness"
        )
    wbar = sum(mem.state_start[st] * mem.W_state(st) for st in range(mem.n_ordinary))
    b = np.linalg.pinv(wbar).T @ mu
    return MemoryHeadWitness(b, mu, cell, wbar, _relative(wbar.T @ b - mu, mu), "iid")


def pooled_witness(mem: MemoryHMM, mu: ArrayLike, cell: int = 0) -> MemoryHeadWitness:
    """memory.pool (Theorem 4.3): b solving ``W̄⁽ʲ*⁾ᵀ b = μ / f_{j*}``, ``W̄⁽ʲ⁾ᵀ b = 0``
    (j ≠ j*, f_j > 0), applied to mean-pooled LOO conditionals; matrix is the stacked
    ``[W̄⁽ʲ*⁾ | W̄⁽ʲ⁾ …]`` (n, m·cells). ValueError when no state reads cell j* (f_{j*} = 0)."""
    mem = _mem(mem)
    cell = as_cell(cell, mem.n_cells)
    mu = weight_vector(mu, "mu", mem.n_values, "memory value (m)")
    system = pooled_system(mem, mu, cell)
    if system.f_cell <= 0:
        raise InputError(
            f"no state with stationary probability > 0 reads cell {cell} (f_j* = 0); "
            f"pooling cannot see it — point some state at it"
        )
    sol = solve_range(system.matrix, system.rhs)
    return MemoryHeadWitness(sol.b, mu, cell, system.matrix, sol.residual, "pool")


def memory_prompt_witness(
    mem: MemoryHMM, mu: ArrayLike, s0: int, U: ArrayLike, cell: int = 0
) -> MemoryHeadWitness:
    """memory.prompt (Theorem 4.6): prompt ``u(a, st) = 1[st ∈ U]`` on product states
    (constant in memory), which forces ``S_0 = s0``; ``b = pinv(W_{s0}).T μ``.

    ValueError unless ``J(s0) = cell`` and the successors of U are exactly {s0}.
    """
    mem = _mem(mem)
    cell = as_cell(cell, mem.n_cells)
    mu = weight_vector(mu, "mu", mem.n_values, "memory value (m)")
    s = mem.n_ordinary
    s0 = as_int(s0, "s0", 0, s - 1, " (an ordinary state)")
    if int(mem.pointer[s0]) != cell:
        raise InputError(f"state s0 = {s0} reads cell {mem.pointer[s0]}, not the task cell {cell}")
    U_t = index_set(U, "U", s, "ordinary states")
    pi = state_stationary(mem)
    for st in U_t:
        succ = tuple(np.flatnonzero(mem.state_transition[st] > 0))
        if succ != (int(s0),) or pi[st] <= 0:
            raise InputError(
                f"prompt state {st} has successors {succ} (stationary mass {pi[st]:.3g}); "
                f"every state of U must lead only to s0 = {s0} and be visited"
            )
    ind = np.zeros(s)
    ind[list(U_t)] = 1.0
    k = product_hmm(mem).n_states
    prompt = np.tile(ind, k // s)[None, :]  # product index c·s + st
    W0 = mem.W_state(int(s0))
    b = np.linalg.pinv(W0).T @ mu
    return MemoryHeadWitness(
        b, mu, cell, W0, _relative(W0.T @ b - mu, mu), "prompt", prompt, int(s0), U_t
    )


__all__ = [
    "ROBUST_CUTS",
    "HeadWitness",
    "MemoryHeadWitness",
    "PromptWitness",
    "head_witness",
    "memory_iid_witness",
    "memory_prompt_witness",
    "pooled_features",
    "pooled_witness",
    "prompt_witness",
    "robust_prompt_witness",
    "robust_head_witnesses",
    "rowspace_head_witness",
]
