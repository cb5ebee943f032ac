"""Exact inference (THEORY §2) against independent routes: path enumeration, hmmlearn,
a log-space recursion, likelihood ratios; plus invariances and torch agreement."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

import verify.core.inference as inference
from verify import (
    HMM,
    HMMParams,
    MemoryHMM,
    log_likelihood,
    loo_conditionals,
    mask_probe,
    memory_posterior,
    posterior_h0,
    prompt_likelihood,
    prompted_mask_probe,
    reversed_transition,
    smoothed_posteriors,
)
from verify.core.models import stationary_distribution
from verify.crosscheck import bruteforce

EXACT = 1e-12  # agreement of two exact float64 routes on tiny models


def random_stochastic(rng, rows, cols, sparsity=0.0):
    """Row-stochastic matrix; with sparsity, entries are zeroed but one per row survives."""
    m = rng.random((rows, cols))
    if sparsity:
        mask = rng.random((rows, cols)) < sparsity
        mask[np.arange(rows), rng.integers(0, cols, rows)] = False
        m[mask] = 0.0
    return m / m.sum(axis=1, keepdims=True)


def random_hmm(seed, k, n, sparsity=0.0, stationary=True):
    rng = np.random.default_rng(seed)
    A = random_stochastic(rng, k, k, sparsity)
    E = random_stochastic(rng, k, n, sparsity / 2)
    start = stationary_distribution(A) if stationary else random_stochastic(rng, 1, k)[0]
    return HMM(start, A, E)


def all_possible(h, T):
    xs = np.array(list(itertools.product(range(h.n_tokens), repeat=T)), dtype=np.int64)
    return xs[np.isfinite(log_likelihood(h, xs))]


TINY = [
    (seed, k, n, sp, stat)
    for seed, (k, n) in enumerate([(2, 2), (3, 2), (2, 3), (3, 3)])
    for sp in (0.0, 0.5)
    for stat in (True, False)
]


@pytest.mark.parametrize("seed,k,n,sparsity,stationary", TINY)
def test_every_output_matches_path_enumeration(seed, k, n, sparsity, stationary):
    h = random_hmm(seed, k, n, sparsity, stationary)
    rng = np.random.default_rng(100 + seed)
    prompt = rng.random((2, k))
    for T in (1, 2, 3):
        xs = all_possible(h, T)
        p = posterior_h0(h, xs)
        g = mask_probe(h, xs)
        gp1 = prompted_mask_probe(h, xs, prompt[:1])
        gp2 = prompted_mask_probe(h, xs, prompt)
        sm = smoothed_posteriors(h, xs)
        lo = loo_conditionals(h, xs)
        ll = log_likelihood(h, xs)
        for i, x in enumerate(xs):
            args = (h.start, h.transition, h.emission, list(x))
            np.testing.assert_allclose(p[i], bruteforce.posterior_h0(*args), atol=EXACT)
            np.testing.assert_allclose(g[i], bruteforce.mask_probe(*args), atol=EXACT)
            np.testing.assert_allclose(gp1[i], bruteforce.mask_probe(*args, prompt[:1]), atol=EXACT)
            np.testing.assert_allclose(gp2[i], bruteforce.mask_probe(*args, prompt), atol=EXACT)
            np.testing.assert_allclose(sm[i], bruteforce.smoothed(*args), atol=EXACT)
            np.testing.assert_allclose(lo[i], bruteforce.loo(*args), atol=EXACT)
            # log_likelihood puts H_0 ~ start at the mask: P(x) = Σ start A … (window law)
            joint = sum(w for _, w in bruteforce.window_paths(*args))
            assert ll[i] == pytest.approx(np.log(joint), abs=1e-12)


@pytest.mark.parametrize("sparsity", [0.0, 0.5])
def test_prompt_formula_of_theory_matches_forward_route(sparsity):
    """THEORY §2: G(u,x) = W diag(v) p / (vᵀp), v by the reversed chain (stationary π)."""
    h = random_hmm(7, 3, 3, sparsity, stationary=True)
    xs = all_possible(h, 3)
    rng = np.random.default_rng(1)
    for L in (0, 1, 2, 3):
        u = rng.random((L, 3))
        v = prompt_likelihood(h, u)
        p = posterior_h0(h, xs)
        want = (p * v) @ h.emission / (p @ v)[:, None]
        np.testing.assert_allclose(prompted_mask_probe(h, xs, u), want, atol=EXACT)


def test_reversed_chain_is_stochastic_and_nan_free_with_transient_states():
    # state 2 is transient: π[2] = 0
    A = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.25, 0.25, 0.5]])
    h = HMM([0.5, 0.5, 0.0], A, np.full((3, 2), 0.5))
    R = reversed_transition(h)
    assert np.isfinite(R).all()
    np.testing.assert_allclose(R.sum(axis=1), 1.0)
    # the reversal identity on visited states: π[h] R[h, h'] = π[h'] A[h', h]
    pi = h.start
    np.testing.assert_allclose(pi[:, None] * R, (pi[:, None] * A).T, atol=EXACT)


def test_memory_posterior_matches_definition_enumeration():
    rng = np.random.default_rng(3)
    for N, m, s, n in [(1, 2, 2, 2), (2, 2, 2, 3), (1, 3, 2, 2)]:
        mem = MemoryHMM(
            random_stochastic(rng, N, m),
            random_stochastic(rng, 1, s)[0],
            random_stochastic(rng, s, s, 0.3),
            rng.integers(0, N, s),
            random_stochastic(rng, m * s, n),
        )
        xs = np.array(list(itertools.product(range(n), repeat=3)))
        for cell in range(N):
            got = memory_posterior(mem, xs, cell)
            for i, x in enumerate(xs):
                np.testing.assert_allclose(
                    got[i], bruteforce.memory_posterior(mem, list(x), cell), atol=EXACT
                )


def _hmmlearn(h):
    hmm = pytest.importorskip("hmmlearn.hmm")
    model = hmm.CategoricalHMM(n_components=h.n_states)
    model.startprob_ = h.start
    model.transmat_ = h.transition
    model.emissionprob_ = h.emission
    model.n_features = h.n_tokens
    return model


@pytest.mark.parametrize("k,T", [(2, 5), (8, 64), (30, 500)])
def test_agrees_with_hmmlearn(k, T):
    h = random_hmm(k, k, 10)
    xs, _ = h.sample(3, T, rng=k)
    ref = _hmmlearn(h)
    sm = smoothed_posteriors(h, xs)
    for i in range(len(xs)):
        np.testing.assert_allclose(sm[i], ref.predict_proba(xs[i][:, None]), atol=1e-10)
        assert log_likelihood(h, xs[i : i + 1])[0] == pytest.approx(
            ref.score(xs[i][:, None]), rel=1e-10
        )
    # P[H_0 | x] from hmmlearn's P[H_1 | x] under start' = start A, then one reversed step
    shifted = _hmmlearn(HMM(h.start @ h.transition, h.transition, h.emission))
    p = posterior_h0(h, xs)
    for i in range(len(xs)):
        p1 = shifted.predict_proba(xs[i][:, None])[0]
        want = h.start * (h.transition @ (p1 / (h.start @ h.transition)))
        np.testing.assert_allclose(p[i], want / want.sum(), atol=1e-10)


def _log_space_loglik(h, x):
    """Textbook log-space forward pass (independent of the scaled recursions)."""
    logA, logE = np.log(h.transition), np.log(h.emission)
    a = np.log(h.start @ h.transition) + logE[:, x[0]]
    for tok in x[1:]:
        a = logsumexp(a[:, None] + logA, axis=0) + logE[:, tok]
    return logsumexp(a)


def test_stable_for_ten_thousand_steps_with_peaked_emissions():
    """τ = 0.01 emissions make per-chunk shrinkage < 1e-100: exercises the rescue path."""
    rng = np.random.default_rng(0)
    k, n = 6, 5
    A = random_stochastic(rng, k, k)
    logits = (rng.random((k, n)) - 0.5) / 0.01
    E = np.exp(logits - logits.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    h = HMM(stationary_distribution(A), A, E)
    xs = rng.integers(0, n, (3, 10_000))  # uniform tokens: mostly very unlikely ones
    ll = log_likelihood(h, xs)
    assert np.isfinite(ll).all()
    for i in range(len(xs)):
        assert ll[i] == pytest.approx(_log_space_loglik(h, xs[i]), rel=1e-9)
    for out in (posterior_h0(h, xs), loo_conditionals(h, xs), smoothed_posteriors(h, xs)):
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-12)


def test_loo_matches_likelihood_ratios_on_longer_inputs():
    h = random_hmm(5, 6, 4)
    xs, _ = h.sample(2, 40, rng=5)
    lo = loo_conditionals(h, xs)
    for b in range(2):
        for i in (0, 17, 39):
            variants = np.repeat(xs[b : b + 1], h.n_tokens, axis=0)
            variants[:, i] = np.arange(h.n_tokens)
            w = np.exp(log_likelihood(HMM(h.start, h.transition, h.emission), variants))
            # log_likelihood puts H_0 before x_1; the input-alone chain starts at x_1, so
            # use start' with start' A = start: only valid for stationary start
            np.testing.assert_allclose(lo[b, i], w / w.sum(), atol=1e-10)


def test_impossible_sequences_raise_with_row_indices_and_loglik_is_minus_inf():
    E = np.array([[1.0, 0.0], [0.0, 1.0]])
    h = HMM([1.0, 0.0], np.eye(2), E)  # state 0 forever: token 1 never appears
    xs = np.array([[0, 0], [0, 1], [1, 1]])
    ll = log_likelihood(h, xs)
    assert ll[0] == pytest.approx(0.0) and np.isneginf(ll[1]) and np.isneginf(ll[2])
    for fn in (posterior_h0, mask_probe, loo_conditionals, smoothed_posteriors):
        with pytest.raises(ValueError, match=r"rows \[1, 2\]"):
            fn(h, xs)


def test_blocks_give_the_same_rows_as_one_batch(monkeypatch):
    h = random_hmm(11, 4, 3)
    xs, _ = h.sample(40, 6, rng=2)
    fns = (loo_conditionals, smoothed_posteriors, posterior_h0)
    whole = [fn(h, xs) for fn in fns]
    calls = []
    block_fn = inference._forward_backward_block
    monkeypatch.setattr(
        inference, "_forward_backward_block", lambda *a: calls.append(1) or block_fn(*a)
    )
    # LOO stores 2T+1 = 13 messages: 8·k·(13+6) bytes a row, so 7 rows a block
    monkeypatch.setattr(inference, "_BLOCK_BYTES", 8 * 4 * 19 * 7)
    for fn, want in zip(fns, whole, strict=True):
        np.testing.assert_allclose(fn(h, xs), want, atol=1e-15)
    assert len(calls) == 2 * 6  # ceil(40 / 7) blocks for each per-position output


def test_empty_input_gives_the_prior():
    h = random_hmm(2, 3, 2, stationary=False)
    xs = np.zeros((4, 0), dtype=np.int64)
    np.testing.assert_allclose(posterior_h0(h, xs), np.tile(h.start, (4, 1)))
    np.testing.assert_allclose(mask_probe(h, xs), np.tile(h.start @ h.emission, (4, 1)))
    assert loo_conditionals(h, xs).shape == (4, 0, 2)
    assert posterior_h0(h, np.zeros((0, 3), dtype=int)).shape == (0, 3)


# --------------------------------------------------------------------------- torch


def test_torch_matches_numpy_and_is_differentiable():
    h = random_hmm(4, 3, 3, 0.3)
    xs = all_possible(h, 3)
    u = np.random.default_rng(0).random((2, 3))
    tp = HMMParams(*(torch.tensor(a, requires_grad=True) for a in h.params))
    tu = torch.tensor(u, requires_grad=True)
    txs = torch.as_tensor(xs)
    pairs = [
        (prompted_mask_probe(tp, txs, tu), prompted_mask_probe(h, xs, u)),
        (loo_conditionals(tp, txs), loo_conditionals(h, xs)),
        (smoothed_posteriors(tp, txs), smoothed_posteriors(h, xs)),
        (posterior_h0(tp, txs), posterior_h0(h, xs)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got.detach().numpy(), want, atol=EXACT)
    # gradients w.r.t. the prompt and the model's parameters, checked by finite differences
    xs_small = txs[:4]

    def f(start, A, E, prompt):
        return prompted_mask_probe(HMMParams(start, A, E), xs_small, prompt)

    assert torch.autograd.gradcheck(f, (*tp, tu), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(
        lambda A, E: loo_conditionals(HMMParams(tp.start, A, E), xs_small), (tp[1], tp[2])
    )


# --------------------------------------------------------------------------- properties

small_models = st.tuples(
    st.integers(0, 10_000), st.integers(2, 4), st.integers(2, 3), st.sampled_from([0.0, 0.4])
)


@settings(max_examples=60)
@given(small_models, st.integers(0, 4))
def test_outputs_are_distributions(params, T):
    seed, k, n, sp = params
    h = random_hmm(seed, k, n, sp)
    xs = all_possible(h, T)
    for out in (posterior_h0(h, xs), mask_probe(h, xs), loo_conditionals(h, xs)):
        assert (out >= 0).all()
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-12)


@settings(max_examples=60)
@given(small_models, st.randoms(use_true_random=False))
def test_relabelling_states_leaves_probes_unchanged(params, rnd):
    seed, k, n, sp = params
    h = random_hmm(seed, k, n, sp)
    perm = np.array(rnd.sample(range(k), k))
    g = HMM(h.start[perm], h.transition[np.ix_(perm, perm)], h.emission[perm])
    xs = all_possible(h, 3)
    u = np.random.default_rng(seed).random((2, k))
    np.testing.assert_allclose(mask_probe(g, xs), mask_probe(h, xs), atol=EXACT)
    np.testing.assert_allclose(loo_conditionals(g, xs), loo_conditionals(h, xs), atol=EXACT)
    np.testing.assert_allclose(
        prompted_mask_probe(g, xs, u[:, perm]), prompted_mask_probe(h, xs, u), atol=EXACT
    )
    np.testing.assert_allclose(posterior_h0(g, xs), posterior_h0(h, xs)[:, perm], atol=EXACT)


@settings(max_examples=60)
@given(small_models, st.integers(1, 3))
def test_all_ones_prompt_changes_nothing_for_stationary_start(params, L):
    seed, k, n, sp = params
    h = random_hmm(seed, k, n, sp)
    xs = all_possible(h, 3)
    np.testing.assert_allclose(
        prompted_mask_probe(h, xs, np.ones((L, k))), mask_probe(h, xs), atol=EXACT
    )


@settings(max_examples=40)
@given(small_models)
def test_posterior_averages_to_the_prior(params):
    """Law of total probability: Σ_x P(x) P[H_0 | x] = start, over all of [n]^T."""
    seed, k, n, sp = params
    h = random_hmm(seed, k, n, sp, stationary=False)
    xs = all_possible(h, 3)
    w = np.exp(log_likelihood(h, xs))
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(w @ posterior_h0(h, xs), h.start, atol=1e-12)


# --------------------------------------------------------------------------- bad input


def test_bad_tokens_raise_value_errors():
    h = random_hmm(0, 2, 3)
    with pytest.raises(ValueError, match="tokens must be in 0..2"):
        posterior_h0(h, np.array([[0, 3]]))
    with pytest.raises(ValueError, match="tokens must be in"):
        loo_conditionals(h, np.array([[-1, 0]]))
    with pytest.raises(ValueError, match="integer token ids"):
        mask_probe(h, np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"shape \(B, T\).*xs\[None, :\]"):
        posterior_h0(h, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        posterior_h0(h, np.zeros((1, 2, 2), dtype=int))
    with pytest.raises(ValueError, match="ragged"):
        posterior_h0(h, [[0, 1], [0]])
    with pytest.raises(ValueError, match="integer token ids"):
        posterior_h0(HMMParams(*(torch.tensor(a) for a in h.params)), torch.zeros(1, 2))


def test_bad_prompts_raise_value_errors():
    h = random_hmm(0, 2, 3)
    xs = np.array([[0, 1]])
    with pytest.raises(ValueError, match=r"prompt must have shape \(L, k\)"):
        prompted_mask_probe(h, xs, np.ones((1, 3)))
    with pytest.raises(ValueError, match="negative"):
        prompted_mask_probe(h, xs, -np.ones((1, 2)))
    with pytest.raises(ValueError, match="NaN or inf"):
        prompted_mask_probe(h, xs, np.full((1, 2), np.nan))
    with pytest.raises(ValueError, match="probability zero"):
        prompted_mask_probe(h, xs, np.zeros((1, 2)))
