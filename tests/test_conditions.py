"""Conditions as quantities (THEORY §5, §7), each cross-checked by an independent route."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
from verify.core import conditions as C
from verify.core import task
from verify.core.generator import reference_hmm
from verify.core.inference import (
    mask_probe,
    memory_posterior,
    posterior_h0,
    prompt_likelihood,
    prompted_mask_probe,
)
from verify.core.models import HMM, MemoryHMM

# --------------------------------------------------------------------------- helpers


def brute_force_prompt(hmm: HMM, mu: np.ndarray, tokens: int = 1) -> tuple[bool, float]:
    """C-PROMPT(μ) by enumerating every 0/1 prompt of ``tokens`` tokens: supp(v) from
    ``prompt_likelihood`` (the reversed chain, not successor sets) on the states with
    π > 0 (the others are never H_0), rank by ``np.linalg.matrix_rank``. Returns (holds,
    best σ_min over witnesses)."""
    k = hmm.n_states
    alive = hmm.stationary() > 0
    need = set(np.flatnonzero((mu != 0) & alive).tolist())
    subsets = [u for u in itertools.product((0.0, 1.0), repeat=k) if any(u)]
    holds, best = False, 0.0
    for prompt in itertools.product(subsets, repeat=tokens):
        try:
            v = prompt_likelihood(hmm, np.array(prompt))
        except ValueError:  # a prompt of probability zero
            continue
        supp = np.flatnonzero((v > 0) & alive)
        if supp.size == 0 or not need <= set(supp.tolist()):
            continue
        sub = hmm.W[:, supp]
        if np.linalg.matrix_rank(sub, tol=C.SIGMA_TOL) == supp.size:
            holds = True
            best = max(best, float(np.linalg.svd(sub, compute_uv=False)[-1]))
    return holds, best


def sparse_mu(k: int) -> st.SearchStrategy[np.ndarray]:
    return st.lists(st.integers(-2, 2), min_size=k, max_size=k).map(
        lambda w: np.asarray(w, dtype=np.float64)
    )


@st.composite
def hmm_and_mu(draw, n_states=(2, 4), **kwargs) -> tuple[HMM, np.ndarray]:
    hmm = draw(S.hmms(n_states=n_states, **kwargs))
    return hmm, draw(sparse_mu(hmm.n_states))


# --------------------------------------------------------------------------- C-HEAD


def test_c_head_hand_examples() -> None:
    eye = HMM([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [[1, 0], [0, 1]])
    res = C.c_head(eye)
    assert res.holds and res.quantities["sigma_min"] == pytest.approx(1.0)
    assert res.name == "C-HEAD" and res.method == "closed-form" and res.tol == C.SIGMA_TOL
    twins = HMM([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]])
    assert not C.c_head(twins).holds
    few = HMM([0.5, 0.5], [[1, 0], [0, 1]], [[1.0], [1.0]])
    res = C.c_head(few)
    assert not res.holds and res.quantities["sigma_min"] == 0.0 and res.quantities["rank"] == 1


@settings(max_examples=100, deadline=None)
@given(S.hmms(n_states=(1, 5), n_tokens=(1, 6)))
def test_c_head_agrees_with_matrix_rank(hmm: HMM) -> None:
    full = np.linalg.matrix_rank(hmm.W, tol=C.SIGMA_TOL) == hmm.n_states
    assert C.c_head(hmm).holds == full


@settings(max_examples=150, deadline=None)
@given(hmm_and_mu(n_tokens=(1, 5)))
def test_c_head_mu_residual_and_implication(case) -> None:
    hmm, mu = case
    res = C.c_head_mu(hmm, mu)
    if C.c_head(hmm).holds:  # head.rowspace: C-HEAD ⇒ C-HEAD(μ) for every μ
        assert res.holds
    # independent route: least squares on Wᵀ with numpy's lstsq
    b, *_ = np.linalg.lstsq(hmm.W.T, mu, rcond=None)
    solvable = np.linalg.norm(hmm.W.T @ b - mu) <= 1e-7 * max(1.0, np.linalg.norm(mu))
    assert res.holds == solvable
    # adding a constant keeps the verdict (Wᵀ1 = 1)
    assert C.c_head_mu(hmm, mu + 3.0).holds == res.holds


def test_c_head_mu_twins_need_equal_weights() -> None:
    hmm = HMM([1 / 3] * 3, np.full((3, 3), 1 / 3), [[1, 0], [1, 0], [0, 1]])
    assert not C.c_head(hmm).holds
    assert C.c_head_mu(hmm, [1.0, 1.0, -1.0]).holds
    res = C.c_head_mu(hmm, [1.0, 0.0, -1.0])
    assert not res.holds and res.quantities["residual"] > 0.1


# --------------------------------------------------------------------------- C-PROMPT


@settings(max_examples=100, deadline=None)
@given(hmm_and_mu(n_states=(2, 4), n_tokens=(1, 4), transition_style=("sparse", "permutation")))
def test_c_prompt_exact_matches_brute_force(case) -> None:
    hmm, mu = case
    res = C.c_prompt(hmm, mu)
    holds, best = brute_force_prompt(hmm, mu)
    assert res.method == "exact"
    assert res.holds == holds
    assert res.quantities["sigma_min"] == pytest.approx(best, abs=1e-12)
    if res.holds:
        U, Sw = res.witness["U"], res.witness["S"]
        u = np.zeros(hmm.n_states)
        u[list(U)] = 1.0
        v = prompt_likelihood(hmm, u[None, :])
        assert tuple(np.flatnonzero((v > 0) & (hmm.stationary() > 0))) == Sw
        assert set(np.flatnonzero(mu * (hmm.stationary() > 0)).tolist()) <= set(Sw)
    if C.c_head(hmm).holds:  # prompt.weaker (a)
        assert res.holds


@settings(max_examples=25, deadline=None)
@given(hmm_and_mu(n_states=(2, 3), n_tokens=(1, 3), transition_style=("sparse",)))
def test_c_prompt_two_token_prompts_reach_no_more_supports(case) -> None:
    hmm, mu = case
    one, _ = brute_force_prompt(hmm, mu, tokens=1)
    two, _ = brute_force_prompt(hmm, mu, tokens=2)
    assert one == two == C.c_prompt(hmm, mu, max_tokens=2).holds


@settings(max_examples=100, deadline=None)
@given(hmm_and_mu(n_states=(2, 5), n_tokens=(1, 5), transition_style=("sparse",)))
def test_c_prompt_greedy_is_sound(case) -> None:
    hmm, mu = case
    need = sum(1 << int(h) for h in np.flatnonzero(mu))
    greedy = C._prompt_search_greedy(hmm.W, C.successor_sets(hmm), need)
    if greedy.best_mask:
        assert C.c_prompt(hmm, mu).holds
        assert greedy.best_mask & need == need and greedy.best_sigma >= C.SIGMA_TOL


def test_c_prompt_heuristic_beyond_exact_limit() -> None:
    k = C.EXACT_MAX_STATES + 1
    A = np.roll(np.eye(k), 1, axis=1)  # state h → h+1: successor sets are singletons
    hmm = HMM(np.full(k, 1 / k), A, np.eye(k))
    mu = np.zeros(k)
    mu[[2, 5]] = [1.0, -1.0]
    res = C.c_prompt(hmm, mu)
    assert res.method == "heuristic" and res.holds
    assert res.witness == {"U": (1, 4), "S": (2, 5)}


@settings(max_examples=60, deadline=None)
@given(S.prompt_instances(T=(1, 2)))
def test_prompt_witness_recovers_mu_exactly(inst) -> None:
    """prompt.exact end to end: bᵀG(u, x) = μᵀp(x) / (vᵀp(x)) through the inference engine."""
    hmm, mu, U, Sw, xs = inst
    res = C.c_prompt(hmm, mu)
    u = np.zeros(hmm.n_states)
    u[list(res.witness["U"])] = 1.0
    head = C.prompt_head(hmm, mu, u, res.witness["S"])
    assert head.leakage == 0.0 and head.residual < 1e-9
    p = posterior_h0(hmm, xs)
    lhs = prompted_mask_probe(hmm, xs, u[None, :]) @ head.b
    np.testing.assert_allclose(lhs, (p @ mu) / (p @ head.v), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(S.task_instances(n_states=(2, 4), n_tokens=(2, 4), satisfying="C-HEAD"), st.data())
def test_prompt_robust_leakage_bounds_the_error(inst, data) -> None:
    hmm, mu, xs = inst
    k = hmm.n_states
    u = np.asarray(data.draw(st.lists(st.integers(1, 4), min_size=k, max_size=k))) / 4.0
    S_set = sorted(set(np.flatnonzero(mu).tolist()) | {0})
    res = C.c_prompt_robust(hmm, mu, u, S_set, xs=xs)
    head = C.prompt_head(hmm, mu, u, S_set)
    p = posterior_h0(hmm, xs)
    err = np.abs(p @ (hmm.W.T @ head.b * head.v) - p @ mu)
    assert err.max() <= res.quantities["leakage"] + 1e-9
    assert res.holds == (res.quantities["gamma"] > res.quantities["leakage"])
    if res.holds:  # recovery certified: signs agree on every input
        assert np.all(np.sign(p @ (hmm.W.T @ head.b * head.v)) == np.sign(p @ mu))


# --------------------------------------------------------------------------- memory


@settings(max_examples=60, deadline=None)
@given(S.memory_hmms(state_style="iid", n_ordinary=(1, 3)))
def test_pooled_emission_is_the_iid_mask_probe(mem: MemoryHMM) -> None:
    """memory.iid_exact: G(x) = W̄ P[M | x] when states are i.i.d.; checks W̄ independently."""
    xs = S.input_set(mem, 2)
    wbar, freq = C.pooled_emissions(mem)
    assert freq[0] == pytest.approx(1.0)
    np.testing.assert_allclose(
        mask_probe(mem.as_hmm(), xs), memory_posterior(mem, xs, 0) @ wbar[0].T, atol=1e-12
    )


@settings(max_examples=80, deadline=None)
@given(S.memory_instances(n_ordinary=(1, 3), state_style="markov"))
def test_c_mem_prompt_witness_forces_s0(inst) -> None:
    """The witness prompt u(a, st) = 1[st ∈ U] on the product HMM gives supp(v) ⊆ {(·, s0)}."""
    mem, mu, cell, _ = inst
    res = C.c_mem_prompt(mem, mu, cell)
    s = mem.n_ordinary
    prod = mem.as_hmm()
    for s0 in range(s):
        funnels = [
            st_ for st_ in range(s) if np.flatnonzero(mem.state_transition[st_]).tolist() == [s0]
        ]
        if not funnels:
            continue
        u = np.zeros(prod.n_states)
        for st_ in funnels:
            u[st_::s] = 1.0
        v = prompt_likelihood(prod, u[None, :])
        assert set((np.flatnonzero(v > 0) % s).tolist()) == {s0}
    if res.holds:
        assert mem.pointer[res.witness["s0"]] == cell
        assert C.sigma_min(mem.W_state(res.witness["s0"])) >= C.SIGMA_TOL


def test_c_mem_pool_averaging_can_lose_rank() -> None:
    # two states, uniform i.i.d.; state 1 emits as state 0 with the values swapped
    w0 = np.array([[1.0, 0.0], [0.0, 1.0]])  # rows: value a in state 0
    emission = np.array([w0[0], w0[1], w0[1], w0[0]])  # rows a*s + st, s = 2
    mem = MemoryHMM([[0.5, 0.5]], [0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [0, 0], emission)
    assert C.sigma_min(mem.W_state(0)) == pytest.approx(1.0)
    assert C.sigma_min(mem.W_state(1)) == pytest.approx(1.0)
    res = C.c_mem_pool(mem, [1.0, -1.0])
    assert not res.holds and res.quantities["sigma_min"] < C.SIGMA_TOL
    assert C.c_mem_pool(mem, [1.0, 1.0]).holds  # μ ∝ 1 stays in range(W̄ᵀ)


def test_c_mem_pool_several_cells() -> None:
    # N = 2: state 0 reads cell 0 (tokens 0, 1), state 1 reads cell 1 (tokens 2, 3)
    emission = np.zeros((4, 4))
    emission[0 * 2 + 0, 0] = emission[1 * 2 + 0, 1] = 1.0
    emission[0 * 2 + 1, 2] = emission[1 * 2 + 1, 3] = 1.0
    mem = MemoryHMM(np.full((2, 2), 0.5), [0.5, 0.5], np.full((2, 2), 0.5), [0, 1], emission)
    res = C.c_mem_pool(mem, [2.0, -1.0], cell=1)
    assert res.holds and res.quantities["f_cell"] == pytest.approx(0.5)
    # the cell nobody reads cannot be recovered by pooling
    lonely = MemoryHMM(np.full((2, 2), 0.5), [0.5, 0.5], np.full((2, 2), 0.5), [0, 0], emission)
    assert not C.c_mem_pool(lonely, [2.0, -1.0], cell=1).holds


# --------------------------------------------------------------------------- tasks and API


def test_labels_and_margin_by_hand() -> None:
    hmm = HMM([0.5, 0.5], [[1, 0], [0, 1]], [[1, 0], [0, 1]])
    xs = np.array([[0], [1]])
    np.testing.assert_array_equal(task.labels(hmm, xs, [1.0, -2.0]), [1.0, -1.0])
    assert task.margin(hmm, xs, [1.0, -2.0]) == pytest.approx(1.0)
    mem = MemoryHMM([[0.5, 0.5]], [1.0], [[1.0]], [0], [[1, 0], [0, 1]])
    assert task.margin(mem, xs, [3.0, -1.0], cell=0) == pytest.approx(1.0)


def test_result_is_frozen_and_json_ready() -> None:
    res = C.c_prompt(reference_hmm(0, 4), np.array([1.0, 0.0, -1.0, 0.0]))
    with pytest.raises(AttributeError):
        res.holds = False  # type: ignore[misc]
    data = json.loads(json.dumps(res.to_dict()))
    assert data["name"] == "C-PROMPT(mu)" and isinstance(data["witness"]["U"], list)
    assert set(data) == {"name", "holds", "quantities", "witness", "tol", "method"}


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda h, m: C.c_head_mu(h, [1.0, 2.0]), "mu has shape"),
        (lambda h, m: C.c_head_mu(h, [1.0, float("nan"), 0.0]), "finite"),
        (lambda h, m: C.c_prompt(h, [1.0, 0.0, 0.0], max_tokens=0), "max_tokens"),
        (lambda h, m: C.c_head(m), "HMM"),
        (lambda h, m: C.c_mem_pool(m, [1.0, -1.0], cell=3), "cell"),
        (lambda h, m: C.c_mem_prompt(m, [1.0], cell=0), "mu has shape"),
        (lambda h, m: C.c_mem_pool(h, [1.0, -1.0]), "MemoryHMM"),
        (lambda h, m: C.c_prompt_robust(h, [1.0, 0.0, 1.0], np.ones(3), [0]), "supp(mu)"),
        (lambda h, m: task.margin(m, np.zeros((1, 1), int), [1.0, -1.0]), "cell"),
    ],
)
def test_bad_input_raises_value_error_naming_the_fix(call, words) -> None:
    hmm = reference_hmm(1, 3)
    mem = MemoryHMM([[0.5, 0.5]], [1.0], [[1.0]], [0], [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        call(hmm, mem)


def test_c_mem_iid_and_c_mem_pool_are_two_conditions():
    """THEORY §5: C-MEM-IID (W̄ full column rank) ≠ C-MEM-POOL (the stacked system for one
    μ). Twin memory values make W̄ rank-deficient: C-MEM-IID fails for every μ, while
    C-MEM-POOL still holds for μ ∝ 1 (Wᵀ1 = 1) and fails for μ = (1, −1)."""
    from verify.core.models import MemoryHMM

    twin = MemoryHMM(
        memory_prior=np.array([[0.5, 0.5]]), state_start=np.array([0.5, 0.5]),
        state_transition=np.full((2, 2), 0.5), pointer=np.array([0, 0]),
        emission=np.array([[0.7, 0.3], [0.2, 0.8], [0.7, 0.3], [0.2, 0.8]]),
    )  # fmt: skip
    iid = C.c_mem_iid(twin)
    assert iid.name == "C-MEM-IID" and not iid.holds and iid.quantities["iid"] == 1.0
    assert C.c_mem_pool(twin, [1.0, 1.0]).holds
    assert not C.c_mem_pool(twin, [1.0, -1.0]).holds
    apart = MemoryHMM(
        memory_prior=np.array([[0.5, 0.5]]), state_start=np.array([0.5, 0.5]),
        state_transition=np.full((2, 2), 0.5), pointer=np.array([0, 0]),
        emission=np.array([[0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4]]),
    )  # fmt: skip
    assert C.c_mem_iid(apart).holds
    markov = MemoryHMM(
        apart.memory_prior,
        apart.state_start,
        np.array([[0.9, 0.1], [0.1, 0.9]]),
        apart.pointer,
        apart.emission,
    )
    assert not C.c_mem_iid(markov).holds  # not i.i.d.: memory.iid_exact's premise fails
