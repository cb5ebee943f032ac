"""Instances of the head-tuning claims (THEORY §5 head.exact, head.rowspace, head.robust,
head.necessary) and their generators, in two size tiers (:func:`strategies.blocks.tiers`):
small ones (k ≤ 8, n ≤ 8, T ≤ 6, exhaustive input sets up to 50 000 sequences) for three
draws in four, large ones (k ≤ 10 with C-HEAD, k ≤ 30 without; n ≤ 10; T from 8 to 32;
seeded samples of 512 inputs)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from strategies.blocks import input_set, tiers
from strategies.hmm import TaskInstance, balance_task, hmms, task_instances
from strategies.instance import FloatArray, Instance, IntArray
from verify.core import task
from verify.core.inference import posterior_h0
from verify.core.models import HMM


class Tier(TypedDict):
    """A size tier: inclusive ranges of k, n and T, and the exhaustive-input limit."""

    n_states: tuple[int, int]
    n_tokens: tuple[int, int]
    T: tuple[int, int]
    max_exhaustive: int


#: Size tiers (THEORY §3: exhaustive 𝒮 when n**T ≤ 50 000, else a seeded sample of 512).
SMALL: Tier = {"n_states": (2, 8), "n_tokens": (2, 8), "T": (1, 6), "max_exhaustive": 50_000}
LARGE_HEAD: Tier = {
    "n_states": (2, 10),
    "n_tokens": (2, 10),
    "T": (8, 32),
    "max_exhaustive": 50_000,
}
LARGE: Tier = {"n_states": (2, 30), "n_tokens": (2, 10), "T": (8, 32), "max_exhaustive": 50_000}
#: head.necessary's first rung: the smallest instances that can be witnesses. k = 2 cannot:
#: violating C-HEAD(μ) with two states needs identical emission rows, so p(x) never depends
#: on x and the task has one label.
TINY: Tier = {"n_states": (3, 3), "n_tokens": (2, 3), "T": (1, 3), "max_exhaustive": 50_000}
STYLES = ("dense", "sparse", "permutation", "mixed")


@dataclass(frozen=True)
class HeadTask(Instance):
    """A downstream task ``y(x) = sign(μᵀp(x))``: hmm, μ (k,), input set xs (B, T)."""

    hmm: HMM
    mu: FloatArray
    xs: IntArray

    @classmethod
    def of(cls, t: TaskInstance) -> HeadTask:
        return cls(t.hmm, np.asarray(t.mu, float), np.asarray(t.xs))


@dataclass(frozen=True)
class HeadRobustTask(Instance):
    """head.robust's instance: a C-HEAD task plus the perturbation size factor
    ``eps_factor`` (ε = f·γ/((max b* − min b*)/2)) and the random perturbations' seed."""

    hmm: HMM
    mu: FloatArray
    xs: IntArray
    eps_factor: float
    seed: int


@st.composite
def with_tie(draw: st.DrawFn, base: st.SearchStrategy[HeadTask], every: int = 4) -> HeadTask:
    """``base``'s instance, or (one draw in ``every``) the same instance with μ shifted by
    a constant so that one input x0 of 𝒮 is an exact tie, μᵀp(x0) = 0 in rationals (the
    shift is exact: μ and p(x0) are short rationals). The claim must discard it as
    ill-posed with label 0 at x0, decided by verify.core.task's exact route — the regime
    of ``check`` on the textbook HMM, which the balanced strategies never reach."""
    inst = draw(base)
    if draw(st.integers(0, every - 1)) != 0:
        return inst
    i = draw(st.integers(0, len(inst.xs) - 1))
    s = task.exact_scores(inst.hmm, inst.xs[i : i + 1], inst.mu)
    if s is None:
        return inst  # not rational: no exact tie to plant
    mu = [f - s[0] for f in task.rational_mu(inst.mu)]
    if any(f.denominator > 10**6 for f in mu):
        return inst  # the float μ would not read back as these rationals
    return replace(inst, mu=np.array([float(f) for f in mu]))


def head_exact_instances() -> st.SearchStrategy[HeadTask]:
    """strategies.task_instances(satisfying="C-HEAD", transition_style ∈ {dense, sparse,
    permutation, mixed}, any start) in two tiers: k, n ≤ 8, T ≤ 6 (exhaustive up to 50 000
    inputs), or k, n ≤ 10, T ∈ [8, 32] (512 sampled inputs); |supp μ| from 1 to k; one in
    four with a planted exact tie (:func:`with_tie`)."""
    ti = task_instances
    return with_tie(
        tiers(
            ti(satisfying="C-HEAD", transition_style=STYLES, stationary=None, **SMALL),
            ti(satisfying="C-HEAD", transition_style=STYLES, stationary=None, **LARGE_HEAD),
        ).map(HeadTask.of)
    )


@st.composite
def rowspace_instances(draw: st.DrawFn, large: bool = False) -> HeadTask:
    """HMMs violating C-HEAD (strategies.hmms(violating="C-HEAD"), transitions dense,
    sparse or mixed) with μ = Wᵀc + t·1 ∈ range(Wᵀ) (c small integers; t balances the
    labels, keeping μ in the range since Wᵀ1 = 1); input set of length T (exhaustive up
    to 50 000 inputs, else 512 sampled). Draws where no shift gives both labels (μ ∝ 1 on
    𝒮) are rejected: one label is a task any constant head recovers."""
    tier = LARGE if large else SMALL
    hmm = draw(hmms(n_states=tier["n_states"], n_tokens=tier["n_tokens"], violating="C-HEAD",
                    transition_style=("dense", "sparse", "mixed")))  # fmt: skip
    T = draw(st.integers(*tier["T"]))
    seed = draw(st.integers(0, 2**32 - 1)) if hmm.n_tokens**T > tier["max_exhaustive"] else 0
    xs = input_set(hmm, T, seed, max_exhaustive=tier["max_exhaustive"])
    c = np.array([draw(st.integers(-3, 3)) for _ in range(hmm.n_tokens)], dtype=float)
    mu0 = hmm.W.T @ c
    mu = balance_task(posterior_h0(hmm, xs), mu0, np.ones(hmm.n_states), 1, 1e-3)
    assume(mu is not None)
    assert mu is not None
    return HeadTask(hmm, mu, xs)


def rowspace_tiers() -> st.SearchStrategy[HeadTask]:
    """rowspace_instances in two tiers: k ≤ 8, T ≤ 6, or k ≤ 30, n ≤ 10, T ∈ [8, 32]."""
    return tiers(rowspace_instances(), rowspace_instances(large=True))


@st.composite
def robust_instances(draw: st.DrawFn) -> HeadRobustTask:
    """head.exact's instances plus a perturbation size ε = f·γ/((max b* − min b*)/2) (f ∈
    {1/4, 1/2, 9/10, 99/100, 999/1000, 3/2, 3}: f > 1 checks that only inputs meeting the
    premise are required to keep their sign) and a seed for the random perturbations."""
    inst = draw(head_exact_instances())
    eps_factor = draw(st.sampled_from([0.25, 0.5, 0.9, 0.99, 0.999, 1.5, 3.0]))
    seed = draw(st.integers(0, 2**16))
    return HeadRobustTask(inst.hmm, inst.mu, inst.xs, eps_factor, seed)


def necessary_instances() -> st.SearchStrategy[HeadTask]:
    """strategies.task_instances(violating="C-HEAD") on a ladder of sizes searched smallest
    first: 3 in 4 draws k = 3, n ≤ 3, T ≤ 3 (TINY), then k ≤ 8, n ≤ 8, T ≤ 6, or k ≤ 30,
    n ≤ 10, T ∈ [8, 32] (512 sampled inputs). The ladder shrinks toward its first rung,
    so the reported witness is at the smallest size where one was found (a readable
    minimum: THEORY §5 asks the toolkit to find, shrink and report one)."""
    ti = task_instances
    return tiers(
        ti(violating="C-HEAD", transition_style=STYLES, stationary=None, **TINY),
        tiers(
            ti(violating="C-HEAD", transition_style=STYLES, stationary=None, **SMALL),
            ti(violating="C-HEAD", transition_style=STYLES, stationary=None, **LARGE),
        ),
        every=4,
    ).map(HeadTask.of)
