"""The paper's generator (THEORY §8) reproduces the paper's statistics."""

from __future__ import annotations

import numpy as np
import pytest

from verify.core.generator import (
    reference_hmm,
    reference_memory_hmm,
    reference_memory_task,
    reference_task,
    task_mu,
)

PAPER_KS = (4, 8, 10, 12, 15, 25, 30)


@pytest.mark.parametrize("k", PAPER_KS)
def test_reference_hmm_rows_and_columns_sum_to_one(k: int) -> None:
    for seed in range(5):
        hmm = reference_hmm(seed, k)
        assert hmm.transition.shape == (k, k) and hmm.emission.shape == (k, 10)
        np.testing.assert_allclose(hmm.transition.sum(axis=1), 1.0, atol=1e-12)
        # doubly stochastic, hence the uniform start is stationary
        np.testing.assert_allclose(hmm.transition.sum(axis=0), 1.0, atol=1e-12)
        np.testing.assert_allclose(hmm.start, 1.0 / k)
        assert hmm.is_stationary
        np.testing.assert_allclose(hmm.emission.sum(axis=1), 1.0, atol=1e-12)


def test_reference_transitions_are_near_permutations_at_paper_tau() -> None:
    # At τ = 0.01 the softmax weight of the top permutation is exp(Δ/τ) times the next one's,
    # Δ the gap between the two largest of k uniforms: for k = 8 the top weight exceeds 0.9
    # in most seeds, so each row has one dominant entry.
    tops = []
    for seed in range(40):
        hmm = reference_hmm(seed, 8)
        tops.append(hmm.transition.max(axis=1).mean())
    assert np.median(tops) > 0.9
    # At a large temperature the mixture is spread: no row is near one-hot.
    flat = reference_hmm(0, 8, tau_trans=100.0)
    assert flat.transition.max() < 0.5


def test_reference_emissions_are_peaked_at_paper_tau() -> None:
    hmm = reference_hmm(3, 12)
    assert np.median(hmm.emission.max(axis=1)) > 0.9
    soft = reference_hmm(3, 12, tau_emit=100.0)
    assert soft.emission.max() < 0.2


@pytest.mark.parametrize("k", PAPER_KS)
def test_reference_task_is_six_sparse(k: int) -> None:
    for seed in range(10):
        weights = reference_task(seed, k)
        assert weights.shape == (2, k)
        assert np.count_nonzero(weights) == min(6, 2 * k)
        mu = task_mu(weights)
        np.testing.assert_array_equal(mu, weights[1] - weights[0])


def test_reference_task_small_k_fills_every_entry() -> None:
    weights = reference_task(0, 2)
    assert np.count_nonzero(weights) == 4


def test_reference_task_nonzeros_look_standard_normal() -> None:
    draws = np.concatenate([reference_task(s, 30)[reference_task(s, 30) != 0] for s in range(300)])
    assert draws.size == 1800
    assert abs(draws.mean()) < 0.1 and abs(draws.std() - 1.0) < 0.1


def test_reference_is_deterministic_per_seed_and_varies_across_seeds() -> None:
    a, b, c = reference_hmm(7, 10), reference_hmm(7, 10), reference_hmm(8, 10)
    np.testing.assert_array_equal(a.transition, b.transition)
    np.testing.assert_array_equal(a.emission, b.emission)
    assert not np.array_equal(a.emission, c.emission)
    np.testing.assert_array_equal(reference_task(7, 10), reference_task(7, 10))
    gen = np.random.default_rng(5)
    assert reference_hmm(gen, 4).n_states == 4


@pytest.mark.parametrize("m", (2, 3, 5, 7))
def test_reference_memory_hmm_shape_and_block_structure(m: int) -> None:
    mem = reference_memory_hmm(m, m)
    assert (mem.n_cells, mem.n_values, mem.n_ordinary, mem.n_tokens) == (1, m, 4, 10)
    np.testing.assert_allclose(mem.memory_prior, 1.0 / m)
    np.testing.assert_array_equal(mem.pointer, 0)
    np.testing.assert_allclose(mem.state_transition.sum(axis=0), 1.0, atol=1e-12)
    hmm = mem.as_hmm()
    assert hmm.n_states == 4 * m and hmm.is_stationary
    # block diagonal: the same s×s block for every memory value, zero across values
    for a in range(m):
        for b in range(m):
            block = hmm.transition[a * 4 : (a + 1) * 4, b * 4 : (b + 1) * 4]
            expected = mem.state_transition if a == b else np.zeros((4, 4))
            np.testing.assert_array_equal(block, expected)
    # emission random over all (value, state) pairs: no two rows equal
    assert len({tuple(r) for r in mem.emission.round(12)}) == 4 * m
    weights = reference_memory_task(m, m)
    assert weights.shape == (2, m) and np.count_nonzero(weights) == min(6, 2 * m)


@pytest.mark.parametrize(
    "call",
    [
        lambda: reference_hmm(0, 0),
        lambda: reference_hmm(0, 3, n_tokens=2.5),
        lambda: reference_hmm(0, 3, tau_trans=0.0),
        lambda: reference_hmm(0, 3, tau_emit=float("nan")),
        lambda: reference_task(0, 3, n_nonzero=0),
        lambda: reference_memory_hmm(0, 0),
        lambda: task_mu(np.zeros(3)),
    ],
)
def test_reference_rejects_bad_arguments(call) -> None:
    with pytest.raises(ValueError):
        call()
