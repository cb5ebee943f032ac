"""The instances of the prompt claims (THEORY §5) and the two independent routes they
are checked by: the reversed chain ``R`` and ``v`` from the definition, and the brute-force
enumeration of every prompt set U (C-PROMPT(μ) decided without ``conditions.c_prompt``).
Generators return plain dicts (``hmm``, ``mu``, ``xs``, …) that :mod:`verify.claims.prompt`
checks."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
from hypothesis import strategies as st

import strategies
from strategies import blocks
from strategies.blocks import MAX_EXHAUSTIVE
from strategies.hmm import stationary_start
from verify.core.models import HMM, stationary_distribution

#: Size tiers: small (exhaustive 𝒮 up to 50 000 inputs) and large (512 sampled inputs).
#: prompt_instances needs n ≥ k − 1 (the rows other than a twin have full rank), so the
#: large tier stops at k = 11 with n ≤ 10.
SMALL = {"n_states": (3, 8), "n_tokens": (2, 8), "T": (1, 6)}
LARGE = {"n_states": (3, 11), "n_tokens": (2, 10), "T": (8, 32)}


def reversed_chain(hmm: HMM) -> np.ndarray:
    """``R[h, h'] = π[h'] A[h', h] / π[h]`` (k, k) from the definition, π = ``hmm.start``
    (stationary in prompt claims); rows of states with π[h] = 0 are left zero: such a
    state has ``p_h(x) = 0`` for every x, so its v never enters a probe."""
    pi = np.asarray(hmm.start, float)
    joint = (pi[:, None] * hmm.transition).T  # joint[h, h'] = π[h'] A[h', h]
    out = np.zeros_like(joint)
    alive = pi > 0
    out[alive] = joint[alive] / pi[alive, None]
    return out


def prompt_v(hmm: HMM, prompt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(w_L, v)`` for prompt (L, k): ``w_1 = u_1``, ``w_l = u_l ⊙ (R w_{l−1})``,
    ``v = R w_L`` (THEORY §2), by :func:`reversed_chain`."""
    R = reversed_chain(hmm)
    w = np.asarray(prompt[0], float)
    for u in prompt[1:]:
        w = u * (R @ w)
    return w, R @ w


def brute_force_supports(hmm: HMM, mu: np.ndarray) -> list[tuple[int, ...]]:
    """Every support S(U) (U ⊆ [k] non-empty, prompt states with π > 0) that covers the
    effective supp(μ) (π_h > 0) with ``W[:, S]`` of full column rank (numpy
    ``matrix_rank``): C-PROMPT(μ) holds iff the list is non-empty. Enumerates all 2^k − 1
    sets U, sharing no code with ``conditions.c_prompt``'s pruned search."""
    k = hmm.n_states
    pi = np.asarray(hmm.start, float)
    A = hmm.transition
    need_ = {int(h) for h in np.flatnonzero((mu != 0) & (pi > 0))}
    seen: set[tuple[int, ...]] = set()
    out = []
    for r in range(1, k + 1):
        for U in combinations(range(k), r):
            S = tuple(int(h) for h in range(k) if any(pi[g] > 0 and A[g, h] > 0 for g in U))
            if not S or S in seen:
                continue
            seen.add(S)
            if need_ <= set(S) and np.linalg.matrix_rank(hmm.W[:, list(S)]) == len(S):
                out.append(S)
    return out


def _prompt_inst(p: Any) -> dict:
    return {
        "hmm": p.hmm,
        "mu": np.asarray(p.mu, float),
        "xs": np.asarray(p.xs),
        "U": np.asarray(p.U, dtype=np.int64),
        "S": np.asarray(p.S, dtype=np.int64),
    }


def prefixes(k: int) -> Any:
    """Prompt slots before the last: L − 1 ∈ {0, 1, 2} rows of weights in {1/4, …, 1}
    (positive, so the last slot decides which states the prompt selects)."""
    return st.integers(0, 2).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(1, 4), min_size=k, max_size=k), min_size=n, max_size=n
        ).map(lambda rows_: np.asarray(rows_, float).reshape(n, k) / 4)
    )


@st.composite
def built_prompt_instances(draw: Any, tier: dict) -> dict:
    """strategies.prompt_instances: C-PROMPT(μ) true with a constructed witness (U, S),
    C-HEAD(μ) false, balanced task with a margin floor; plus a prompt prefix."""
    p = draw(strategies.prompt_instances(max_exhaustive=MAX_EXHAUSTIVE, **tier))
    inst = _prompt_inst(p)
    inst["prefix"] = draw(prefixes(p.hmm.n_states))
    return inst


def with_transient_state(hmm: HMM, h: int) -> HMM:
    """``hmm`` with no transition into state h (column h of A zeroed, rows renormalised; a
    row left empty moves uniformly to the other states) and the stationary start, so
    π_h = 0: p_h(x) = 0 for every x and no prompt reaches h (THEORY prompt.weaker (a))."""
    A = hmm.transition.copy()
    A[:, h] = 0.0
    empty = A.sum(axis=1) == 0
    A[empty] = 1.0
    A[empty, h] = 0.0
    A /= A.sum(axis=1, keepdims=True)
    return HMM(stationary_start(A), A, hmm.emission)


@st.composite
def searched_prompt_instances(draw: Any, tier: dict) -> dict:
    """HMMs violating C-HEAD (strategies.hmms) with sparse or mixed transitions (several
    rows with exact zeros), μ from strategies.tasks (|supp μ| from 1 to k, balanced):
    whether C-PROMPT(μ) holds, and with which U, is not known to the claim — c_prompt and
    the brute force decide it. U = S = () marks the witness as unknown. One time in four a
    state is made transient (π_h = 0) and μ_h ≠ 0: only the effective support counts."""
    hmm = draw(
        strategies.hmms(n_states=tier["n_states"], n_tokens=tier["n_tokens"],
                         transition_style=("sparse", "mixed"), violating="C-HEAD")
    )  # fmt: skip
    transient = None
    if hmm.n_states >= 3 and draw(st.integers(0, 3)) == 0:
        transient = draw(st.integers(0, hmm.n_states - 1))
        hmm = with_transient_state(hmm, transient)
    T = draw(st.integers(*tier["T"]))
    input_set = blocks.input_set
    seed = draw(st.integers(0, 2**32 - 1)) if hmm.n_tokens**T > MAX_EXHAUSTIVE else 0
    xs = input_set(hmm, T, seed, max_exhaustive=MAX_EXHAUSTIVE)
    mu = draw(strategies.tasks(hmm, xs))
    if transient is not None:
        mu = np.array(mu, dtype=float)
        mu[transient] = draw(st.sampled_from((-2.0, -1.0, 1.0, 2.0)))
    empty = np.zeros(0, dtype=np.int64)
    return {"hmm": hmm, "mu": mu, "xs": xs, "U": empty, "S": empty,
            "prefix": draw(prefixes(hmm.n_states))}  # fmt: skip


def prompt_exact_instances() -> Any:
    """Half built (strategies.prompt_instances: witness known, C-HEAD(μ) false), half
    searched (sparse chains, witness unknown); two size tiers (k ≤ 8, T ≤ 6 exhaustive;
    k ≤ 11, n ≤ 10, T ∈ [8, 32] sampled); prompts of L ∈ {1, 2, 3} slots."""

    def both(tier: dict) -> Any:
        return st.one_of(built_prompt_instances(tier), searched_prompt_instances(tier))

    return blocks.tiers(both(SMALL), both(LARGE))


@st.composite
def weaker_instances(draw: Any) -> dict:
    """Pairs: a C-HEAD task (strategies.task_instances(satisfying="C-HEAD")) for part (a)
    and a prompt instance (strategies.prompt_instances(T=(1,3))) searched for part (b)."""
    head = draw(strategies.task_instances(satisfying="C-HEAD", n_states=(2, 6), T=1))
    p = draw(built_prompt_instances({"n_states": (3, 5), "n_tokens": (2, 4), "T": (1, 3)}))
    return {"head_hmm": head.hmm, "head_mu": np.asarray(head.mu, float), **p}


#: prompt.robust's leak weights: the prompt state's transition into the states outside
#: S gets this fraction of the row's mass (ε-support), from tight to loose.
LEAKS = (1 / 16384, 1 / 4096, 1 / 1024, 1 / 256, 1 / 64)


@st.composite
def robust_prompt_instances(draw: Any, tier: dict) -> dict:
    """The ε-support regime on models violating C-HEAD: a prompt instance
    (strategies.prompt_instances: twins a, b with identical emissions, prompt state p
    whose successors S exclude b) whose prompt-state row then leaks a drawn fraction ε
    (LEAKS) of its mass onto every state outside S, so every transition is positive.
    Target set S ⊇ supp(μ) with W[:, S] of full column rank; the last prompt slot has
    u_p = 1 and u_h ∈ {0, 1/4096, 1/1024} elsewhere, after a prefix of L − 1 ∈ {0, 1, 2}
    positive slots. μ is the built one (balanced on the exact-support model). Leaks and
    off-p weights are small because the balanced scores are small (≈ 0.05–0.4·‖μ‖∞):
    larger ones make ℓ exceed every |μᵀp(x)|, and the premise would never be met."""
    prompt_instances = strategies.prompt_instances
    p = draw(prompt_instances(max_exhaustive=MAX_EXHAUSTIVE, **tier))
    hmm, S = p.hmm, [int(h) for h in p.S]
    k = hmm.n_states
    leak = draw(st.sampled_from(LEAKS))
    A = hmm.transition.copy()
    off = np.setdiff1d(np.arange(k), S)
    row = A[p.U[0]] * (1 - leak)
    row[off] += leak / off.size
    A[p.U[0]] = row
    stat = stationary_distribution(A)
    leaky = HMM(stat, A, hmm.emission)
    u = np.array([draw(st.sampled_from((0.0, 1 / 4096, 1 / 1024))) for _ in range(k)])
    u[p.U[0]] = 1.0
    prompt = np.vstack([draw(prefixes(k)), u[None, :]])
    return {"hmm": leaky, "mu": np.asarray(p.mu, float), "xs": np.asarray(p.xs),
            "S": np.asarray(S, dtype=np.int64), "prompt": prompt, "leak": leak}  # fmt: skip


def robust_tiers() -> Any:
    """robust_prompt_instances in two size tiers (k ≤ 8, T ≤ 6; k ≤ 11, T ∈ [8, 32])."""
    return blocks.tiers(robust_prompt_instances(SMALL), robust_prompt_instances(LARGE))


@st.composite
def multi_token_instances(draw: Any, tier: dict) -> dict:
    """Stationary HMMs of any transition style (dense, sparse, permutation, mixed), an
    input set, and a prompt of L ∈ {2, 3, 4} slots with weights in {0, 1/4, …, 1}."""
    hmm = draw(
        strategies.hmms(n_states=tier["n_states"], n_tokens=tier["n_tokens"],
                         transition_style=("dense", "sparse", "permutation", "mixed"))
    )  # fmt: skip
    T = draw(st.integers(*tier["T"]))
    input_set = blocks.input_set
    seed = draw(st.integers(0, 2**32 - 1)) if hmm.n_tokens**T > MAX_EXHAUSTIVE else 0
    xs = input_set(hmm, T, seed, max_exhaustive=MAX_EXHAUSTIVE)
    L = draw(st.integers(2, 4))
    k = hmm.n_states
    w = draw(st.lists(st.integers(0, 4), min_size=L * k, max_size=L * k))
    return {"hmm": hmm, "xs": xs, "prompt": np.asarray(w, float).reshape(L, k) / 4}


def multi_token_tiers() -> Any:
    """multi_token_instances: k ≤ 8, n ≤ 8, T ≤ 6 (exhaustive), or k ≤ 30, n ≤ 10,
    T ∈ [8, 32] (512 sampled inputs)."""
    return blocks.tiers(
        multi_token_instances({"n_states": (2, 8), "n_tokens": (2, 8), "T": (1, 6)}),
        multi_token_instances({"n_states": (2, 30), "n_tokens": (2, 10), "T": (8, 32)}),
    )


@st.composite
def multi_token_start_instances(draw: Any) -> dict:
    """A prompt instance (strategies.prompt_instances, k ≤ 5, T ≤ 3: twins a, b and a
    prompt state p whose successors exclude b) whose window starts at a point mass δ_j
    (j ≠ p drawn); the task's labels use the stationary chain."""
    p = draw(strategies.prompt_instances(n_states=(3, 5), n_tokens=(2, 4), T=(1, 3)))
    k = p.hmm.n_states
    j = draw(st.sampled_from([h for h in range(k) if h != p.U[0]]))
    return {"hmm": p.hmm, "mu": np.asarray(p.mu, float), "xs": np.asarray(p.xs),
            "start_state": j}  # fmt: skip
