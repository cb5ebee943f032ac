"""Every strategy's guarantee, checked by verify.core.conditions over ≥ 200 examples; violations
really violate; shrinking lands on readable models."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import strategies as S
from verify.core import conditions as C
from verify.core import task
from verify.core.generator import reference_hmm
from verify.core.inference import log_likelihood, posterior_h0
from verify.core.models import HMM

#: The issue asks for ≥ 200 examples per guarantee.
N = 200
FAST = settings(max_examples=N, deadline=None)


def _simple(x: float, max_den: int = 2) -> bool:
    return abs(float(Fraction(x).limit_denominator(max_den)) - x) < 1e-12


# --------------------------------------------------------------------------- blocks


@FAST
@given(st.integers(1, 6).flatmap(lambda d: S.probability_vectors(d, zeros=False, floor=0.05)))
def test_probability_vectors_floor_and_sum(p: np.ndarray) -> None:
    assert abs(p.sum() - 1.0) < 1e-15 * 8 and p.min() >= 0.05 - 1e-15


@FAST
@given(S.stochastic_matrices(3, 4))
def test_stochastic_matrices_rows_are_small_integer_ratios(E: np.ndarray) -> None:
    np.testing.assert_allclose(E.sum(axis=1), 1.0, atol=1e-15)
    assert all(_simple(float(x), 4 * 4) for x in E.ravel())


def test_normalise_rejects_impossible_floor() -> None:
    with pytest.raises(ValueError, match="floor"):
        S.normalise(np.ones(4), floor=0.25)


# --------------------------------------------------------------------------- hmms


@FAST
@given(S.hmms(n_states=(1, 5), n_tokens=(1, 6), satisfying="C-HEAD"))
def test_hmms_satisfying_c_head_keep_the_floor(hmm: HMM) -> None:
    res = C.c_head(hmm)
    assert res.holds and res.quantities["sigma_min"] >= S.SIGMA_FLOOR
    assert hmm.is_stationary


@FAST
@given(S.hmms(n_states=(2, 5), n_tokens=(1, 6), violating="C-HEAD"))
def test_hmms_violating_c_head_really_violate(hmm: HMM) -> None:
    res = C.c_head(hmm)
    assert not res.holds and res.quantities["sigma_min"] < 1e-12
    assert hmm.is_stationary


@FAST
@given(
    st.sampled_from(S.TRANSITION_STYLES).flatmap(
        lambda s: st.tuples(st.just(s), S.hmms(n_states=(2, 5), transition_style=s))
    )
)
def test_hmm_transition_styles(case) -> None:
    style, hmm = case
    A = hmm.transition
    assert hmm.is_stationary
    if style == "dense":
        assert A.min() > 0
    if style == "permutation":
        np.testing.assert_allclose(A.sum(axis=0), 1.0, atol=1e-12)  # doubly stochastic
    if style == "iid":
        assert np.all(A == A[0])
        np.testing.assert_array_equal(hmm.start, A[0])


@FAST
@given(S.task_instances())
def test_tasks_are_balanced_with_a_margin(inst: S.TaskInstance) -> None:
    hmm, mu, xs = inst
    y = task.labels(hmm, xs, mu)
    floor = max(1, int(0.25 * len(xs)))
    assert (y > 0).sum() >= floor and (y < 0).sum() >= floor
    assert task.margin(hmm, xs, mu) >= S.MARGIN_FLOOR * np.abs(mu).max() * (1 - 1e-12)
    assert np.isfinite(log_likelihood(hmm, xs)).all()


@FAST
@given(S.task_instances(satisfying="C-HEAD", offset="constant"))
def test_constant_offset_tasks_keep_c_head_mu(inst: S.TaskInstance) -> None:
    assert C.c_head_mu(inst.hmm, inst.mu).holds


@FAST
@given(S.prompt_instances())
def test_prompt_instances_satisfy_c_prompt_but_not_c_head_mu(inst: S.PromptInstance) -> None:
    res = C.c_prompt(inst.hmm, inst.mu)
    assert res.holds and res.quantities["sigma_min"] >= S.SIGMA_FLOOR
    assert not C.c_head_mu(inst.hmm, inst.mu).holds
    assert not C.c_head(inst.hmm).holds
    # the constructed witness is valid on its own
    head = C.prompt_head(inst.hmm, inst.mu, np.eye(inst.hmm.n_states)[list(inst.U)].sum(0), inst.S)
    assert head.sigma_min >= S.SIGMA_FLOOR and head.leakage == 0.0


@settings(max_examples=N, deadline=None)
@given(S.prompt_instances(T=(1, 3)))
def test_prompt_instances_with_inputs_are_balanced(inst: S.PromptInstance) -> None:
    y = task.labels(inst.hmm, inst.xs, inst.mu)
    assert (y > 0).any() and (y < 0).any()
    assert C.c_prompt(inst.hmm, inst.mu).holds and not C.c_head_mu(inst.hmm, inst.mu).holds


# --------------------------------------------------------------------------- memory

MEMORY_CASES = [
    ({"satisfying": "C-MEM-POOL"}, {"C-MEM-POOL": True}),
    ({"satisfying": "C-MEM-POOL", "n_cells": 2, "n_values": 2}, {"C-MEM-POOL": True}),
    ({"violating": "C-MEM-POOL"}, {"C-MEM-POOL": False}),
    ({"violating": "C-MEM-POOL", "n_cells": 2, "n_values": 2}, {"C-MEM-POOL": False}),
    ({"satisfying": "C-MEM-PROMPT"}, {"C-MEM-PROMPT": True}),
    ({"violating": "C-MEM-PROMPT"}, {"C-MEM-PROMPT": False}),
    (
        {"satisfying": "C-MEM-PROMPT", "violating": "C-MEM-POOL"},
        {"C-MEM-PROMPT": True, "C-MEM-POOL": False},
    ),
    (
        {"satisfying": "C-MEM-POOL", "violating": "C-MEM-PROMPT", "n_cells": 2, "n_values": 2},
        {"C-MEM-POOL": True, "C-MEM-PROMPT": False},
    ),
    (
        {"satisfying": ("C-MEM-POOL", "C-MEM-PROMPT"), "state_style": "markov"},
        {"C-MEM-POOL": True, "C-MEM-PROMPT": True},
    ),
    (
        {"violating": ("C-MEM-POOL", "C-MEM-PROMPT")},
        {"C-MEM-POOL": False, "C-MEM-PROMPT": False},
    ),
]


@pytest.mark.parametrize("kwargs, expected", MEMORY_CASES, ids=lambda x: str(x))
def test_memory_instances_guarantees(kwargs, expected) -> None:
    checks = {"C-MEM-POOL": C.c_mem_pool, "C-MEM-PROMPT": C.c_mem_prompt}

    @settings(max_examples=N, deadline=None)
    @given(S.memory_instances(**kwargs))
    def run(inst: S.MemoryInstance) -> None:
        assert inst.mem.n_values**inst.mem.n_cells * inst.mem.n_ordinary <= 64
        assert np.abs(inst.mu).min() >= 1.0 and (inst.mu > 0).any() and (inst.mu < 0).any()
        for name, want in expected.items():
            res = checks[name](inst.mem, inst.mu, inst.cell)
            assert res.holds == want, (name, res, inst.mem.to_dict())
            if want:
                assert res.quantities["sigma_min"] >= S.SIGMA_FLOOR

    run()


@settings(max_examples=N, deadline=None)
@given(
    st.sampled_from(S.STATE_STYLES).flatmap(
        lambda s: st.tuples(st.just(s), S.memory_hmms(n_cells=(1, 2), n_values=2, state_style=s))
    )
)
def test_memory_state_styles(case) -> None:
    style, mem = case
    if style == "iid":
        assert np.all(mem.state_transition == mem.state_transition[0])
    assert C.state_stationary(mem) @ mem.state_transition == pytest.approx(C.state_stationary(mem))


@settings(max_examples=40, deadline=None)
@given(S.memory_instances(T=2, n_values=2, n_ordinary=(1, 2)))
def test_memory_instances_with_inputs(inst: S.MemoryInstance) -> None:
    assert inst.xs.shape[1] == 2 and np.isfinite(log_likelihood(inst.mem, inst.xs)).all()


def test_memory_conflicting_requests_are_rejected() -> None:
    with pytest.raises(ValueError, match="both satisfied and violated"):
        find(S.memory_hmms(satisfying="C-MEM-POOL", violating="C-MEM-POOL"), lambda m: True)


# --------------------------------------------------------------------------- input sets


def test_input_set_exhaustive_drops_impossible_sequences() -> None:
    # state 0 emits only token 0 and stays; start on state 0: only 0…0 is possible
    hmm = HMM([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(S.input_set(hmm, 3), [[0, 0, 0]])
    full = HMM([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]])
    xs = S.input_set(full, 3)
    assert xs.shape == (8, 3) and len({tuple(r) for r in xs}) == 8
    assert S.input_set(full, 0).shape == (1, 0)


@settings(max_examples=20, deadline=None)
@given(S.reference_hmms(n_states=(2, 4)).flatmap(lambda h: S.input_sets(h, 6)))
def test_input_sets_sample_when_exhaustive_is_too_big(xs: np.ndarray) -> None:
    # 10**6 > 50 000: a sample of 512 draws, duplicates removed
    assert xs.shape[1] == 6 and 1 <= xs.shape[0] <= 512
    assert len({tuple(r) for r in xs}) == xs.shape[0]


def test_input_set_sample_is_seeded() -> None:
    h = reference_hmm(0, 3)
    np.testing.assert_array_equal(S.input_set(h, 6, seed=4), S.input_set(h, 6, seed=4))
    assert not np.array_equal(S.input_set(h, 6, seed=4), S.input_set(h, 6, seed=5))


# --------------------------------------------------------------------------- reference


@settings(max_examples=N, deadline=None)
@given(S.reference_hmms(n_states=(2, 8)), st.data())
def test_reference_strategies(hmm: HMM, data) -> None:
    np.testing.assert_allclose(hmm.transition.sum(axis=0), 1.0, atol=1e-12)
    assert hmm.is_stationary and hmm.n_tokens == 10
    mu = data.draw(S.reference_tasks(hmm.n_states))
    assert 1 <= np.count_nonzero(mu) <= 6


@settings(max_examples=30, deadline=None)
@given(S.reference_memory_hmms(), st.data())
def test_reference_memory_strategies(mem, data) -> None:
    assert mem.n_values in (2, 3, 5, 7) and mem.n_ordinary == 4
    mu = data.draw(S.reference_memory_tasks(mem.n_values))
    assert mu.shape == (mem.n_values,)


# --------------------------------------------------------------------------- shrinking

SHRINK = settings(max_examples=500, database=None, deadline=None)


def test_false_property_shrinks_to_smallest_readable_model() -> None:
    """'every generated HMM satisfies C-HEAD' is false; the shrunk counterexample has k = 2
    and every probability in {0, 1/2, 1}."""
    hmm = find(S.hmms(), lambda h: not C.c_head(h).holds, settings=SHRINK)
    assert hmm.n_states == 2
    for arr in (hmm.start, hmm.transition, hmm.emission):
        assert all(min(abs(x - t) for t in (0.0, 0.5, 1.0)) < 1e-12 for x in arr.ravel()), arr


@pytest.mark.parametrize("mode", S.HEAD_VIOLATIONS)
def test_each_c_head_violation_shrinks_to_a_readable_model(mode: str) -> None:
    def is_mode(h: HMM) -> bool:
        E = h.emission
        if mode == "few-tokens":
            return h.n_tokens < h.n_states
        twins = any(np.array_equal(E[i], E[j]) for i in range(len(E)) for j in range(i))
        return h.n_tokens >= h.n_states and (twins == (mode == "twin-columns"))

    hmm = find(S.hmms(violating="C-HEAD"), is_mode, settings=SHRINK)
    assert not C.c_head(hmm).holds
    assert hmm.n_states == (3 if mode == "mixture-column" else 2)
    assert all(
        _simple(float(x), 6) for x in np.concatenate([hmm.transition.ravel(), hmm.emission.ravel()])
    )


def test_prompt_instance_shrinks_to_three_states() -> None:
    inst = find(S.prompt_instances(), lambda i: True, settings=SHRINK)
    assert inst.hmm.n_states == 3 and inst.U == (0,)
    assert np.array_equal(inst.hmm.emission[0], inst.hmm.emission[1])


# --------------------------------------------------------------------------- rejection rate


@settings(max_examples=100, deadline=None)
@given(S.task_instances(n_states=2, n_tokens=2, T=1))
def test_task_rejections_stay_rare(inst) -> None:
    # No health check suppressed: Hypothesis fails this test if tasks()' assume rejects
    # too often (filter_too_much), which bounds the rejection rate on tiny models.
    assert posterior_h0(inst.hmm, inst.xs).shape == (len(inst.xs), 2)


def test_bench_reports_a_rate_per_strategy(capsys) -> None:
    from verify.bench.strategies import STRATEGIES, run

    run(quick=True)
    out = capsys.readouterr().out
    for name in STRATEGIES:
        line = next(ln for ln in out.splitlines() if ln.startswith(name))
        assert float(line.split()[-2]) > 0


@settings(max_examples=15, deadline=None, derandomize=True)
@given(S.memory_hmms(n_cells=1, state_style="iid", satisfying="C-MEM-IID"))
def test_memory_hmms_satisfy_c_mem_iid(mem):
    assert C.c_mem_iid(mem).holds


def test_c_mem_iid_needs_one_cell_and_iid_states():
    with pytest.raises(ValueError, match="C-MEM-IID"):
        find(S.memory_hmms(n_cells=1, state_style="markov", satisfying="C-MEM-IID"), bool)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.fractions(-20, 20, max_denominator=500), st.fractions(-20, 20, max_denominator=500))
def test_simplest_between_has_the_smallest_denominator(a, b):
    """balance_task's shift: the rational with the smallest denominator strictly inside
    (lo, hi), so a balanced μ reads as 12/13 rather than as a binary fraction."""
    from strategies.hmm import simplest_between

    lo, hi = min(a, b), max(a, b)
    if lo == hi:
        return
    x = simplest_between(lo, hi)
    assert lo < x < hi
    for q in range(1, x.denominator):
        p = math.floor(lo * q) + 1  # the smallest p/q above lo
        assert not Fraction(p, q) < hi


def test_strategies_reach_every_task_cell_and_non_stationary_starts():
    """The domain of check/find_prompt: memory_instances(cell=None) reaches j* ≠ 0 and
    stationary=None reaches non-stationary state starts; hmms(stationary=None) reaches
    non-stationary HMM starts (find() fails when a regime is never generated)."""
    mi = S.memory_instances(n_cells=2, n_values=2, n_ordinary=(2, 3), cell=None,
                            satisfying="C-MEM-PROMPT", stationary=None, T=2)  # fmt: skip

    def moved(i):
        return not np.allclose(i.mem.state_start @ i.mem.state_transition, i.mem.state_start)

    inst = find(mi, lambda i: i.cell > 0 and moved(i))
    assert inst.mem.pointer[0] == inst.cell  # state 0 reads the drawn task cell
    hmm = find(S.hmms(stationary=None), lambda h: not h.is_stationary)
    assert not hmm.is_stationary
