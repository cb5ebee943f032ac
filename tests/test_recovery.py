"""Constructive witnesses of THEORY §5 and prompt search (verify.recovery): the proofs'
identities on generated instances with exhaustive input sets, the twin-column example of
prompt.weaker, and honest labelling of the prompt search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings

from strategies import memory_instances, prompt_instances, task_instances
from verify.core.conditions import c_mem_prompt
from verify.core.inference import mask_probe, posterior_h0, prompted_mask_probe
from verify.core.models import HMM, MemoryHMM, stationary_distribution
from verify.recovery import (
    NOT_RECOVERABLE,
    RECOVERABLE,
    find_prompt,
    head_witness,
    max_margin_head,
    memory_iid_witness,
    memory_prompt_witness,
    pooled_features,
    pooled_witness,
    prompt_witness,
    robust_head_witnesses,
    robust_prompt_witness,
    rowspace_head_witness,
)

#: THEORY §5: identities hold to 1e-9 on 𝒮 (relative to max(1, ‖μ‖_∞)).
IDENTITY_TOL = 1e-9


def assert_identity(lhs, rhs, mu):
    scale = max(1.0, float(np.abs(mu).max()))
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=IDENTITY_TOL * scale)


def twin_hmm() -> HMM:
    """THEORY prompt.weaker's shape: states 0, 1 are twins (identical emission columns),
    state 2's successors are {0, 2} (they exclude twin 1)."""
    A = np.array([[0.1, 0.1, 0.8], [0.1, 0.8, 0.1], [0.5, 0.0, 0.5]])
    E = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9]])
    return HMM(stationary_distribution(A), A, E)


TWIN_MU = np.array([1.0, 0.0, -0.5])
TWIN_XS = np.array(list(itertools.product(range(2), repeat=3)))


# --------------------------------------------------------------------------- head


@settings(max_examples=20, deadline=None)
@given(task_instances(satisfying="C-HEAD", T=(1, 3)))
def test_head_exact_identity(inst):
    """head.exact: b* = pinv(W)ᵀμ gives b*ᵀG(x) = μᵀp(x) on 𝒮, hence exact recovery."""
    w = head_witness(inst.hmm, inst.mu)
    assert w.residual <= 1e-10
    out = w.decision_values(inst.hmm, inst.xs)
    assert_identity(out, w.target_values(inst.hmm, inst.xs), inst.mu)
    y = w.labels(inst.hmm, inst.xs)
    assert np.all(np.sign(out)[y != 0] == y[y != 0])


def test_rowspace_head_needs_mu_in_the_row_space():
    hmm = twin_hmm()  # W has twin columns 0, 1: range(Wᵀ) has equal entries there
    inside = rowspace_head_witness(hmm, [0.5, 0.5, -1.0])
    assert inside.residual <= 1e-12
    assert_identity(
        inside.decision_values(hmm, TWIN_XS), inside.target_values(hmm, TWIN_XS), inside.mu
    )
    outside = rowspace_head_witness(hmm, TWIN_MU)
    assert outside.residual > 0.1
    assert outside.method == "lstsq" and head_witness(hmm, TWIN_MU).method == "pinv"


def test_head_robust_threshold_pays_for_the_mismatch():
    """robust_threshold(ε, p) = ε(max b − min b)/2 + |(Wᵀb − μ)ᵀp(x)| (the span constant,
    THEORY §5): just ε·span for b* when μ is in range(Wᵀ); ``constant="inf"`` gives the
    looser ε‖b‖_∞. For a head that does not solve Wᵀb = μ the second term keeps the
    promise: no input it qualifies is flipped by the worst zero-sum ℓ1 perturbation (ε/2
    moved between the head's smallest and largest entries), which the span makes tight."""
    hmm = twin_hmm()
    post = posterior_h0(hmm, TWIN_XS)
    w = head_witness(hmm, [0.5, 0.5, -1.0])
    span = (w.b.max() - w.b.min()) / 2
    assert w.span == pytest.approx(span) and span <= np.abs(w.b).max()
    assert w.robust_threshold(0.1, post) == pytest.approx(0.1 * span, abs=1e-12)
    inf = w.robust_threshold(0.1, post, constant="inf")
    assert inf == pytest.approx(0.1 * np.abs(w.b).max(), abs=1e-12)
    with pytest.raises(ValueError, match="constant"):
        w.robust_threshold(0.1, post, constant="two")
    off = rowspace_head_witness(hmm, TWIN_MU)  # μ outside range(Wᵀ): twins 0, 1 differ
    G, margin = mask_probe(hmm, TWIN_XS), post @ TWIN_MU
    y = np.sign(margin)
    assert np.any(np.sign(G @ off.b) != y)  # b misclassifies some inputs even with Ĝ = G
    hi, lo = int(np.argmax(off.b)), int(np.argmin(off.b))
    move = (np.eye(2)[hi] - np.eye(2)[lo]) / 2
    for eps in (0.0, 0.01, 0.1):
        covered = np.abs(margin) > off.robust_threshold(eps, post)
        worst = (G - eps * y[:, None] * move[None, :]) @ off.b
        assert np.all(np.sign(worst[covered]) == y[covered])


def test_robust_heads_trade_the_mismatch_for_a_small_sup_norm():
    """robust_head_witnesses: b* first, then truncations of distinct rank; on a nearly
    rank-deficient W (two emission columns 1e-7 apart) b* is huge and a truncated head
    small, with a mismatch no larger than μ's component on the dropped direction."""
    E = np.array([[0.8, 0.2, 0.0], [0.8 + 1e-7, 0.2 - 1e-7, 0.0], [0.0, 0.1, 0.9]])
    A = np.full((3, 3), 1 / 3)
    hmm = HMM(np.full(3, 1 / 3), A, E)
    mu = np.array([1.0, -1.0, 0.3])
    heads = robust_head_witnesses(hmm, mu)
    assert heads[0].method == "pinv" and np.abs(heads[0].b).max() > 1e5
    small = min(heads, key=lambda h: np.abs(h.b).max())
    assert np.abs(small.b).max() < 10 and small.method.startswith("σ ≥")
    assert np.linalg.norm(small.mismatch) <= np.linalg.norm(mu) + 1e-9
    assert len({h.method for h in heads}) == len(heads)


# --------------------------------------------------------------------------- prompt


@settings(max_examples=20, deadline=None)
@given(prompt_instances(T=(1, 3)))
def test_prompt_exact_identity_and_lp(inst):
    """prompt.exact: bᵀG(u, x) = μᵀp(x) / (vᵀp(x)), G by the forward route, the right side
    by the reversed chain; supp(v) = S(U); the LP on G(u, ·) agrees that it recovers."""
    w = prompt_witness(inst.hmm, inst.mu, inst.U)
    assert w.S == inst.S
    assert w.leakage == 0.0 and w.residual <= 1e-10
    assert np.all(w.v[list(w.S)] > 0) and np.all(np.delete(w.v, list(w.S)) == 0)
    out = w.decision_values(inst.hmm, inst.xs)
    assert_identity(out, w.target_values(inst.hmm, inst.xs), inst.mu)
    y = w.labels(inst.hmm, inst.xs)
    assert np.all(np.sign(out) == y)
    lp = max_margin_head(prompted_mask_probe(inst.hmm, inst.xs, w.prompt), y)
    assert lp.status == RECOVERABLE
    witness_margin = np.min(y * out) / np.abs(w.b).max()
    assert lp.certificate_residual >= witness_margin - 1e-9  # t* is at least the witness's


@settings(max_examples=15, deadline=None)
@given(prompt_instances(T=(1, 3)))
def test_prompt_robust_leakage_bound(inst):
    """prompt.robust: with a dense transition (every state leaks into v), the head's error
    times vᵀp is at most ℓ, so the sign is right wherever |μᵀp(x)| > ℓ."""
    hmm = inst.hmm
    k = hmm.n_states
    A = 0.9 * hmm.transition + 0.1 / k  # ε-support: no exact zeros left
    dense = HMM(stationary_distribution(A), A, hmm.emission)
    u = np.zeros(k)
    u[list(inst.U)] = 1.0
    w = robust_prompt_witness(dense, inst.mu, u, inst.S)
    p = posterior_h0(dense, inst.xs)
    score = p @ inst.mu
    out = w.decision_values(dense, inst.xs)
    assert np.all(np.abs(out * (p @ w.v) - score) <= w.leakage + 1e-12)
    clear = np.abs(score) > w.leakage
    assert np.all(np.sign(out[clear]) == np.sign(score[clear]))
    assert w.leakage > 0 or set(inst.S) == set(range(k))


def test_prompt_witness_rejects_a_support_outside_S():
    with pytest.raises(ValueError, match="supp\\(mu\\)"):
        prompt_witness(twin_hmm(), [0.0, 1.0, -1.0], U=(2,))  # twin 1 is not a successor of 2
    with pytest.raises(ValueError, match="U must be"):
        prompt_witness(twin_hmm(), TWIN_MU, U=())


def test_twin_column_example_prompt_recovers_where_no_head_does():
    """prompt.weaker (b): the plain head is LP-certified impossible, the prompt witness
    recovers, and find_prompt returns that witness."""
    hmm, xs = twin_hmm(), TWIN_XS
    y = np.sign(posterior_h0(hmm, xs) @ TWIN_MU)
    assert set(y.tolist()) == {-1.0, 1.0}
    head = max_margin_head(mask_probe(hmm, xs), y)
    assert head.status == NOT_RECOVERABLE
    lam = head.certificate
    assert lam.min() >= 0 and lam.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.abs((lam * y) @ mask_probe(hmm, xs)).sum() <= 1e-12
    assert {-1.0, 1.0} <= set(y[head.support()].tolist())  # both labels in the mixture
    w = prompt_witness(hmm, TWIN_MU, U=(2,))
    assert w.S == (0, 2)
    assert np.all(np.sign(w.decision_values(hmm, xs)) == y)
    found = find_prompt(hmm, TWIN_MU, xs)
    assert found.method == "exact_witness" and found.found
    assert found.witness.U == (2,)
    assert found.lp.verified_margin > 0


def test_find_prompt_without_exact_witness_is_labelled_a_search():
    hmm = twin_hmm()
    A = hmm.transition.copy()
    A[2] = [0.4, 0.2, 0.4]  # every state now reaches both twins: C-PROMPT fails
    dense = HMM(stationary_distribution(A), A, hmm.emission)
    res = find_prompt(dense, TWIN_MU, TWIN_XS, steps=40, restarts=1, seed=1)
    assert not res.condition.holds
    assert res.method == "search" and res.witness is None
    y = np.sign(posterior_h0(dense, TWIN_XS) @ TWIN_MU)
    assert max_margin_head(mask_probe(dense, TWIN_XS), y).status == NOT_RECOVERABLE
    # u = e_2 leaks little mass onto twin 1 (prompt.robust): a tiny but real margin
    assert res.found and res.tried >= 2
    np.testing.assert_array_equal(res.prompt, [[0.0, 0.0, 1.0]])
    G = prompted_mask_probe(dense, TWIN_XS, res.prompt)
    assert np.all(y * (G @ res.lp.head) > 0)
    assert 1e-6 < res.lp.verified_margin < 1e-3


def test_a_failed_search_says_it_is_not_a_proof():
    """With every LP inconclusive (an injected failing solver) nothing may count as found,
    not even the exact witness's prompt."""

    def broken(Z):
        raise RuntimeError("no solver today")

    res = find_prompt(twin_hmm(), TWIN_MU, TWIN_XS, steps=3, restarts=1, solvers=[broken])
    assert res.condition.holds  # C-PROMPT holds, but its prompt could not be LP-verified
    assert not res.found and res.method == "search"
    assert res.lp.status == "inconclusive" and "no solver today" in res.lp.reason
    assert "not a proof" in res.note
    assert res.tried == 1 + 3 + 1  # neutral, three single-state prompts, one restart


def test_find_prompt_stops_at_the_neutral_prompt_when_the_plain_head_recovers():
    hmm = twin_hmm()
    res = find_prompt(hmm, [0.5, 0.5, -1.0], TWIN_XS, steps=3, restarts=1)
    assert res.found and res.method == "search" and res.tried == 1
    np.testing.assert_array_equal(res.prompt, np.ones((1, 3)))


def test_find_prompt_rejects_ill_posed_inputs():
    hmm = twin_hmm()
    with pytest.raises(ValueError, match="ill-posed"):
        find_prompt(hmm, np.zeros(3), TWIN_XS)
    with pytest.raises(ValueError, match="max_tokens"):
        find_prompt(hmm, TWIN_MU, TWIN_XS, max_tokens=0)


# --------------------------------------------------------------------------- memory


@settings(max_examples=15, deadline=None)
@given(memory_instances(state_style="iid", satisfying="C-MEM-POOL", T=(1, 3)))
def test_memory_iid_exact_identity(inst):
    """memory.iid_exact: G(x) = W̄ P[M | x], so bᵀG(x) = μᵀP[M | x] exactly."""
    w = memory_iid_witness(inst.mem, inst.mu, inst.cell)
    assert w.residual <= 1e-10
    assert_identity(
        w.decision_values(inst.mem, inst.xs), w.target_values(inst.mem, inst.xs), inst.mu
    )


@settings(max_examples=15, deadline=None)
@given(memory_instances(satisfying="C-MEM-PROMPT", state_style="markov", T=(1, 3)))
def test_memory_prompt_identity(inst):
    """memory.prompt: the prompt forces S_0 = s0, so bᵀG(u, x) = μᵀP[M_j* | S_0=s0, x]."""
    cond = c_mem_prompt(inst.mem, inst.mu, inst.cell)
    assert cond.holds
    w = memory_prompt_witness(inst.mem, inst.mu, cond.witness["s0"], cond.witness["U"], inst.cell)
    assert w.residual <= 1e-10
    assert_identity(
        w.decision_values(inst.mem, inst.xs), w.target_values(inst.mem, inst.xs), inst.mu
    )


def pooling_memory() -> MemoryHMM:
    """N = 1, m = 2 values, s = 2 states, a Markov (not i.i.d.) state chain."""
    E = np.array(
        [
            [0.7, 0.2, 0.1],  # value 0, state 0
            [0.1, 0.3, 0.6],  # value 0, state 1
            [0.1, 0.7, 0.2],  # value 1, state 0
            [0.5, 0.1, 0.4],  # value 1, state 1
        ]
    )
    A = np.array([[0.7, 0.3], [0.4, 0.6]])
    return MemoryHMM([[0.5, 0.5]], stationary_distribution(A), A, [0, 0], E)


def test_pooled_head_accuracy_goes_to_one():
    """memory.pool: bᵀ(1/T)Σ G_i(x) → μ_{M}; on long sampled sequences the sign is right."""
    mem = pooling_memory()
    mu = np.array([1.0, -2.0])
    w = pooled_witness(mem, mu)
    assert w.residual <= 1e-10 and w.kind == "pool"
    xs, memory = mem.sample(200, 150, np.random.default_rng(0))
    out = w.decision_values(mem, xs)
    np.testing.assert_allclose(out, pooled_features(mem, xs) @ w.b)
    accuracy = np.mean(np.sign(out) == np.sign(w.limit_values(memory)))
    assert accuracy >= 0.97
    short, memory_s = mem.sample(200, 5, np.random.default_rng(1))
    short_err = np.mean(np.abs(w.decision_values(mem, short) - w.limit_values(memory_s)))
    long_err = np.mean(np.abs(out - w.limit_values(memory)))
    assert long_err < short_err  # converging to the limit


def test_memory_witnesses_reject_wrong_structure():
    mem = pooling_memory()
    with pytest.raises(ValueError, match="i.i.d."):
        memory_iid_witness(mem, [1.0, -1.0])
    with pytest.raises(ValueError, match="successors"):
        memory_prompt_witness(mem, [1.0, -1.0], s0=0, U=(1,))
    with pytest.raises(ValueError, match="mu must have shape"):
        pooled_witness(mem, [1.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="cell"):
        pooled_witness(mem, [1.0, -1.0], cell=3)
