"""Instances of the prompt claims (THEORY §5 prompt.exact, prompt.weaker, prompt.robust,
prompt.multi_token, prompt.multi_token_start) and their generators. Size tiers: small
(exhaustive 𝒮 up to 50 000 inputs) and large (512 sampled inputs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from hypothesis import strategies as st

from strategies.blocks import MAX_EXHAUSTIVE, input_set, tiers
from strategies.hmm import (
    PromptInstance,
    hmms,
    prompt_instances,
    stationary_start,
    task_instances,
    tasks,
)
from strategies.instance import FloatArray, Instance, IntArray
from verify.core.models import HMM, stationary_distribution


class Tier(TypedDict):
    """A size tier: inclusive ranges of k, n and T."""

    n_states: tuple[int, int]
    n_tokens: tuple[int, int]
    T: tuple[int, int]


#: Size tiers: small (exhaustive 𝒮 up to 50 000 inputs) and large (512 sampled inputs).
#: prompt_instances needs n ≥ k − 1 (the rows other than a twin have full rank), so the
#: large tier stops at k = 11 with n ≤ 10.
SMALL: Tier = {"n_states": (3, 8), "n_tokens": (2, 8), "T": (1, 6)}
LARGE: Tier = {"n_states": (3, 11), "n_tokens": (2, 10), "T": (8, 32)}

#: prompt.robust's leak weights: the prompt state's transition into the states outside
#: S gets this fraction of the row's mass (ε-support), from tight to loose.
LEAKS = (1 / 16384, 1 / 4096, 1 / 1024, 1 / 256, 1 / 64)


@dataclass(frozen=True)
class PromptTask(Instance):
    """prompt.exact's instance: hmm, μ (k,), input set xs (B, T), the built witness U, S
    (int arrays; both empty when the witness is unknown: a searched instance) and the
    prompt slots before the last, prefix (L − 1, k)."""

    hmm: HMM
    mu: FloatArray
    xs: IntArray
    U: IntArray
    S: IntArray | None = None  # not read by the check (it finds S itself)
    prefix: FloatArray | None = None

    @classmethod
    def of(cls, p: PromptInstance, prefix: FloatArray) -> PromptTask:
        return cls(p.hmm, np.asarray(p.mu, float), np.asarray(p.xs),
                   np.asarray(p.U, dtype=np.int64), np.asarray(p.S, dtype=np.int64),
                   prefix)  # fmt: skip


@dataclass(frozen=True)
class WeakerTask(Instance):
    """prompt.weaker's pair: a C-HEAD task (head_hmm, head_mu) for part (a) and a prompt
    instance (the fields of :class:`PromptTask`) searched for part (b). Fields the check
    does not read are optional, so ``ptverify prove``'s instances (no U, S) decode."""

    head_hmm: HMM
    head_mu: FloatArray
    hmm: HMM
    mu: FloatArray
    xs: IntArray
    U: IntArray | None = None  # the built witness, not read by the check (part (b) searches)
    S: IntArray | None = None
    prefix: FloatArray | None = None


@dataclass(frozen=True)
class RobustPromptTask(Instance):
    """prompt.robust's instance: the leaky model hmm, μ, xs, target set S, the prompt
    (L, k) and the leak fraction ε."""

    hmm: HMM
    mu: FloatArray
    xs: IntArray
    S: IntArray
    prompt: FloatArray
    leak: float | None = None  # recorded for the case page, not read by the check


@dataclass(frozen=True)
class MultiTokenTask(Instance):
    """prompt.multi_token's instance: hmm, input set xs, prompt (L, k)."""

    hmm: HMM
    xs: IntArray
    prompt: FloatArray


@dataclass(frozen=True)
class StartTask(Instance):
    """prompt.multi_token_start's instance: hmm, μ, xs and the window's start state j."""

    hmm: HMM
    mu: FloatArray
    xs: IntArray
    start_state: int


def prefixes(k: int) -> st.SearchStrategy[FloatArray]:
    """Prompt slots before the last: L − 1 ∈ {0, 1, 2} rows of weights in {1/4, …, 1}
    (positive, so the last slot decides which states the prompt selects)."""
    return st.integers(0, 2).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(1, 4), min_size=k, max_size=k), min_size=n, max_size=n
        ).map(lambda rows_: np.asarray(rows_, float).reshape(n, k) / 4)
    )


@st.composite
def built_prompt_instances(draw: st.DrawFn, tier: Tier) -> PromptTask:
    """strategies.prompt_instances: C-PROMPT(μ) true with a constructed witness (U, S),
    C-HEAD(μ) false, balanced task with a margin floor; plus a prompt prefix."""
    p = draw(prompt_instances(max_exhaustive=MAX_EXHAUSTIVE, **tier))
    return PromptTask.of(p, draw(prefixes(p.hmm.n_states)))


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
def searched_prompt_instances(draw: st.DrawFn, tier: Tier) -> PromptTask:
    """HMMs violating C-HEAD (strategies.hmms) with sparse or mixed transitions (several
    rows with exact zeros), μ from strategies.tasks (|supp μ| from 1 to k, balanced):
    whether C-PROMPT(μ) holds, and with which U, is not known to the claim — c_prompt and
    the brute force decide it. U = S = () marks the witness as unknown. One time in four a
    state is made transient (π_h = 0) and μ_h ≠ 0: only the effective support counts."""
    hmm = draw(
        hmms(n_states=tier["n_states"], n_tokens=tier["n_tokens"],
             transition_style=("sparse", "mixed"), violating="C-HEAD")
    )  # fmt: skip
    transient = None
    if hmm.n_states >= 3 and draw(st.integers(0, 3)) == 0:
        transient = draw(st.integers(0, hmm.n_states - 1))
        hmm = with_transient_state(hmm, transient)
    T = draw(st.integers(*tier["T"]))
    seed = draw(st.integers(0, 2**32 - 1)) if hmm.n_tokens**T > MAX_EXHAUSTIVE else 0
    xs = input_set(hmm, T, seed, max_exhaustive=MAX_EXHAUSTIVE)
    mu = draw(tasks(hmm, xs))
    if transient is not None:
        mu = np.array(mu, dtype=float)
        mu[transient] = draw(st.sampled_from((-2.0, -1.0, 1.0, 2.0)))
    empty = np.zeros(0, dtype=np.int64)
    return PromptTask(hmm, mu, xs, empty, empty, draw(prefixes(hmm.n_states)))


def prompt_exact_instances() -> st.SearchStrategy[PromptTask]:
    """Half built (strategies.prompt_instances: witness known, C-HEAD(μ) false), half
    searched (sparse chains, witness unknown); two size tiers (k ≤ 8, T ≤ 6 exhaustive;
    k ≤ 11, n ≤ 10, T ∈ [8, 32] sampled); prompts of L ∈ {1, 2, 3} slots."""

    def both(tier: Tier) -> st.SearchStrategy[PromptTask]:
        return st.one_of(built_prompt_instances(tier), searched_prompt_instances(tier))

    return tiers(both(SMALL), both(LARGE))


@st.composite
def weaker_instances(draw: st.DrawFn) -> WeakerTask:
    """Pairs: a C-HEAD task (strategies.task_instances(satisfying="C-HEAD")) for part (a)
    and a prompt instance (strategies.prompt_instances(T=(1,3))) searched for part (b)."""
    head = draw(task_instances(satisfying="C-HEAD", n_states=(2, 6), T=1))
    p = draw(built_prompt_instances({"n_states": (3, 5), "n_tokens": (2, 4), "T": (1, 3)}))
    return WeakerTask(head.hmm, np.asarray(head.mu, float), p.hmm, p.mu, p.xs, p.U, p.S,
                      p.prefix)  # fmt: skip


@st.composite
def robust_prompt_instances(draw: st.DrawFn, tier: Tier) -> RobustPromptTask:
    """The ε-support regime on models violating C-HEAD: a prompt instance
    (strategies.prompt_instances: twins a, b with identical emissions, prompt state p
    whose successors S exclude b) whose prompt-state row then leaks a drawn fraction ε
    (LEAKS) of its mass onto every state outside S, so every transition is positive.
    Target set S ⊇ supp(μ) with W[:, S] of full column rank; the last prompt slot has
    u_p = 1 and u_h ∈ {0, 1/4096, 1/1024} elsewhere, after a prefix of L − 1 ∈ {0, 1, 2}
    positive slots. μ is the built one (balanced on the exact-support model). Leaks and
    off-p weights are small because the balanced scores are small (≈ 0.05–0.4·‖μ‖∞):
    larger ones make ℓ exceed every |μᵀp(x)|, and the premise would never be met."""
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
    return RobustPromptTask(leaky, np.asarray(p.mu, float), np.asarray(p.xs),
                            np.asarray(S, dtype=np.int64), prompt, leak)  # fmt: skip


def robust_tiers() -> st.SearchStrategy[RobustPromptTask]:
    """robust_prompt_instances in two size tiers (k ≤ 8, T ≤ 6; k ≤ 11, T ∈ [8, 32])."""
    return tiers(robust_prompt_instances(SMALL), robust_prompt_instances(LARGE))


@st.composite
def multi_token_instances(draw: st.DrawFn, tier: Tier) -> MultiTokenTask:
    """Stationary HMMs of any transition style (dense, sparse, permutation, mixed), an
    input set, and a prompt of L ∈ {2, 3, 4} slots with weights in {0, 1/4, …, 1}."""
    hmm = draw(
        hmms(n_states=tier["n_states"], n_tokens=tier["n_tokens"],
             transition_style=("dense", "sparse", "permutation", "mixed"))
    )  # fmt: skip
    T = draw(st.integers(*tier["T"]))
    seed = draw(st.integers(0, 2**32 - 1)) if hmm.n_tokens**T > MAX_EXHAUSTIVE else 0
    xs = input_set(hmm, T, seed, max_exhaustive=MAX_EXHAUSTIVE)
    L = draw(st.integers(2, 4))
    k = hmm.n_states
    w = draw(st.lists(st.integers(0, 4), min_size=L * k, max_size=L * k))
    return MultiTokenTask(hmm, xs, np.asarray(w, float).reshape(L, k) / 4)


def multi_token_tiers() -> st.SearchStrategy[MultiTokenTask]:
    """multi_token_instances: k ≤ 8, n ≤ 8, T ≤ 6 (exhaustive), or k ≤ 30, n ≤ 10,
    T ∈ [8, 32] (512 sampled inputs)."""
    return tiers(
        multi_token_instances({"n_states": (2, 8), "n_tokens": (2, 8), "T": (1, 6)}),
        multi_token_instances({"n_states": (2, 30), "n_tokens": (2, 10), "T": (8, 32)}),
    )


@st.composite
def multi_token_start_instances(draw: st.DrawFn) -> StartTask:
    """A prompt instance (strategies.prompt_instances, k ≤ 5, T ≤ 3: twins a, b and a
    prompt state p whose successors exclude b) whose window starts at a point mass δ_j
    (j ≠ p drawn); the task's labels use the stationary chain."""
    p = draw(prompt_instances(n_states=(3, 5), n_tokens=(2, 4), T=(1, 3)))
    k = p.hmm.n_states
    j = draw(st.sampled_from([h for h in range(k) if h != p.U[0]]))
    return StartTask(p.hmm, np.asarray(p.mu, float), np.asarray(p.xs), j)
