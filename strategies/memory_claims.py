"""Instances of the memory-HMM claims (THEORY §5 memory.iid_exact, memory.prompt,
memory.vs_vanilla) and their generators; the statistical claims (memory.pool,
memory.prompt_limit) take a :class:`strategies.instance.Seeded` instead."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from strategies.blocks import MAX_EXHAUSTIVE, tiers
from strategies.hmm import balance_task, task_instances
from strategies.instance import FloatArray, Instance, IntArray
from strategies.memory import MemoryInstance, memory_instances
from verify.core.inference import memory_posterior
from verify.core.models import HMM, MemoryHMM


@dataclass(frozen=True)
class MemoryTask(Instance):
    """A memory task ``y(x) = sign(μᵀ P[M_cell | x])``: mem, μ (m,), the task cell and the
    input set xs (B, T)."""

    mem: MemoryHMM
    mu: FloatArray
    cell: int
    xs: IntArray

    @classmethod
    def of(cls, m: MemoryInstance) -> MemoryTask:
        assert m.xs is not None, "memory claim instances are drawn with an input set (T)"
        return cls(m.mem, np.asarray(m.mu, float), int(m.cell), m.xs)


@dataclass(frozen=True)
class VsVanillaTask(Instance):
    """memory.vs_vanilla's pair: a memory task (mem, μ, cell, xs) and a vanilla HMM task
    (hmm, hmm_mu, hmm_xs) with the same k = m·s and n."""

    mem: MemoryHMM
    mu: FloatArray
    cell: int
    xs: IntArray
    hmm: HMM
    hmm_mu: FloatArray
    hmm_xs: IntArray


@st.composite
def balanced(draw: st.DrawFn, instances: st.SearchStrategy[MemoryInstance]) -> MemoryTask:
    """A memory instance whose μ is shifted by a constant (μ + c·1: C-MEM-POOL's verdict is
    unchanged, since every W̄ column sums to 1) so that both labels occur on 𝒮 with a
    margin floor; draws where no shift does are rejected (one label is no task)."""
    inst = MemoryTask.of(draw(instances))
    pm = memory_posterior(inst.mem, inst.xs, inst.cell)
    mu = balance_task(pm, inst.mu, np.ones(len(inst.mu)), 1, 1e-3)
    assume(mu is not None)
    assert mu is not None
    return replace(inst, mu=mu)


def iid_instances() -> st.SearchStrategy[MemoryTask]:
    """strategies.memory_instances(N=1, state_style="iid", satisfying="C-MEM-IID") in two
    tiers: m ∈ [2,3], s ∈ [2,3], n ∈ [2,6], T ∈ [1,5] (exhaustive up to 50 000 inputs), or
    m ∈ [2,5], s ∈ [2,4], n ∈ [5,10], T ∈ [8,32] (512 sampled inputs). s ≥ 2, so W̄ is a
    true average of several W_s; μ balanced by a constant shift (both labels on 𝒮)."""
    mi = memory_instances
    return tiers(
        balanced(mi(n_cells=1, state_style="iid", satisfying="C-MEM-IID", n_ordinary=(2, 3),
                    T=(1, 5), max_exhaustive=MAX_EXHAUSTIVE)),
        balanced(mi(n_cells=1, n_values=(2, 5), n_ordinary=(2, 4), n_tokens=(5, 10),
                    state_style="iid", satisfying="C-MEM-IID", T=(8, 32),
                    max_exhaustive=MAX_EXHAUSTIVE)),
    )  # fmt: skip


def memory_prompt_instances() -> st.SearchStrategy[MemoryTask]:
    """strategies.memory_instances(satisfying="C-MEM-PROMPT") (markov chain with a funnel
    state u ≠ s0 onto s0, so s0 is not absorbing) in two tiers: N ∈ [1,3], m ∈ [2,3],
    s ∈ [2,3], T ∈ [1,4] (exhaustive), or N ∈ [1,2], m ∈ [2,4], s ∈ [2,4], n ∈ [4,10],
    T ∈ [8,32] (512 sampled inputs); product states m**N · s ≤ 64. μ is balanced by a
    constant shift on P[M | x] (C-MEM-PROMPT does not depend on μ), so the task has two
    labels on 𝒮."""
    mi = memory_instances

    def small(N: int) -> st.SearchStrategy[MemoryInstance]:
        return mi(n_cells=N, n_values=(2, 3) if N < 3 else 2, n_ordinary=(2, 3),
                  satisfying="C-MEM-PROMPT", T=(1, 4), max_exhaustive=MAX_EXHAUSTIVE,
                  cell=None, stationary=None)  # fmt: skip

    def large(N: int) -> st.SearchStrategy[MemoryInstance]:
        return mi(n_cells=N, n_values=(2, 4) if N == 1 else (2, 3), n_ordinary=(2, 4),
                  n_tokens=(4, 10), satisfying="C-MEM-PROMPT", T=(8, 32),
                  max_exhaustive=MAX_EXHAUSTIVE, cell=None, stationary=None)  # fmt: skip

    return tiers(
        balanced(st.sampled_from((1, 2, 3)).flatmap(small)),
        balanced(st.sampled_from((1, 2)).flatmap(large)),
    )


@st.composite
def vs_vanilla_instances(draw: st.DrawFn) -> VsVanillaTask:
    """A memory instance with C-MEM-POOL (N = 1, m ∈ [2,3], s ∈ [2,3], n ∈ [2,3], so often
    k = m·s > n) and a generic vanilla HMM with the same k and n (dense transitions) with a
    balanced task; T = 3 for both (exhaustive input sets)."""
    mi = draw(
        memory_instances(
            n_cells=1, n_values=(2, 3), n_ordinary=(2, 3), n_tokens=(2, 3),
            state_style="markov", satisfying="C-MEM-POOL", T=3,
        )
    )  # fmt: skip
    k = mi.mem.n_values * mi.mem.n_ordinary
    n = mi.mem.n_tokens
    van = draw(task_instances(n_states=k, n_tokens=n, T=3, transition_style="dense"))
    m = MemoryTask.of(mi)
    return VsVanillaTask(m.mem, m.mu, m.cell, m.xs, van.hmm, np.asarray(van.mu, float),
                         np.asarray(van.xs))  # fmt: skip
