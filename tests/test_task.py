"""verify.core.task: the one task definition (labels, γ, the ill-posed rule, splits)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies
from strategies import blocks
from verify import crosscheck as ex
from verify.core import task
from verify.core.inference import log_likelihood
from verify.core.models import HMM, MemoryHMM
from verify.recovery import analysis as check

TEXTBOOK = {
    "start": [0.5, 0.5],
    "transition": [[0.9, 0.1], [0.1, 0.9]],
    "emission": [[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]],
}


def _textbook() -> HMM:
    return HMM(**{k: np.array(v) for k, v in TEXTBOOK.items()})


def test_textbook_tie_is_label_zero_and_ill_posed():
    """x = (1, 1, 1) is an exact tie of μ = (1, −1): the float score is ±1e-16 rounding,
    the task says label 0 and ill-posed (the exact route agrees)."""
    hmm = _textbook()
    xs = blocks.input_set(hmm, 3)
    t = task.decide(hmm, xs, [1, -1])
    tie = np.flatnonzero((xs == 1).all(axis=1))
    np.testing.assert_array_equal(t.ties, tie)
    assert t.gamma == 0.0 and t.ill_posed and t.exact
    assert "exact tie" in t.reason
    np.testing.assert_array_equal(t.labels, ex.labels(ex.rational_model(hmm), xs, [1, -1]))


def test_check_reports_the_tie_and_no_misclassification(tmp_path, capsys):
    inp = check.read_check_input(json.dumps(TEXTBOOK), "good.json", mu=[1.0, -1.0], T=3)
    assert check.check_model(inp, "good.json") == 0
    out = capsys.readouterr().out
    assert "misclassif" not in out
    assert "0 (ill-posed): 1" in out
    assert "x = (1, 1, 1)" in out and "exact tie" in out
    assert "margin γ = 0 " in out


def test_near_ties_are_decided_exactly_elsewhere_float():
    """Only scores within the tolerance go to the exact route; the rest keep the float
    sign. A score that is exactly nonzero but tiny is ill-posed (γ ≤ tol) with its exact
    sign kept."""
    calls = []

    def exact(idx):
        calls.append(list(idx))
        return np.array([Fraction(0), Fraction(-1, 10**15)], dtype=object)

    t = task.classify([0.5, 1e-17, -2e-17, -0.25], 1e-13, exact)
    assert calls == [[1, 2]]
    np.testing.assert_array_equal(t.labels, [1, 0, -1, -1])
    assert t.gamma == 0.0 and t.ill_posed
    t2 = task.classify([0.5, -2e-17], 1e-13, lambda idx: np.array([Fraction(-1, 10**15)]))
    assert t2.labels.tolist() == [1, -1] and t2.ill_posed and "below float resolution" in t2.reason
    t3 = task.classify([0.5, -0.1], 1e-13, None)
    assert not t3.ill_posed and t3.gamma == pytest.approx(0.1)


def test_non_rational_near_tie_stays_undecided():
    hmm = _textbook()
    r = 1 / np.sqrt(2)  # not a short rational: the instance is not rational
    odd = HMM(hmm.start, np.array([[r, 1 - r], [1 - r, r]]), hmm.emission)
    xs = blocks.input_set(odd, 3)
    t = task.decide(odd, xs, [1, -1])
    assert not t.exact and t.ill_posed and "no exact route" in t.reason
    assert (t.labels[t.ties] == 0).all() and t.ties.size >= 1


def test_short_decimal_mu_is_read_as_its_rational():
    """μ = (0.3, −0.1, −0.2) on a uniform posterior is an exact tie as rationals, though
    0.3 − 0.1 − 0.2 ≠ 0 in binary floats."""
    assert task.rational_mu([0.3, -0.1, -0.2]) == [Fraction(3, 10), Fraction(-1, 10),
                                                   Fraction(-1, 5)]  # fmt: skip
    assert task.rational_mu([np.pi])[0] == Fraction(np.pi)
    hmm = HMM(np.ones(3) / 3, np.ones((3, 3)) / 3, np.ones((3, 2)) / 2)
    t = task.decide(hmm, np.zeros((1, 2), int), [0.3, -0.1, -0.2])
    assert t.labels.tolist() == [0.0] and t.gamma == 0.0


def test_memory_task_ties_are_exact():
    """A memory task whose μ weighs two symmetric memory values equally and oppositely is
    a tie on every input."""
    from verify.core.models import MemoryHMM

    mem = MemoryHMM(
        memory_prior=np.array([[0.5, 0.5]]), state_start=np.array([1.0]),
        state_transition=np.array([[1.0]]), pointer=np.array([0]),
        emission=np.array([[0.5, 0.5], [0.5, 0.5]]),
    )  # fmt: skip
    xs = np.array([[0, 1], [1, 1]])
    t = task.decide(mem, xs, [1, -1], 0)
    assert t.labels.tolist() == [0.0, 0.0] and t.ill_posed and t.exact


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.data())
def test_float_error_bound_covers_the_float_route(data):
    """The tolerance is a bound: on the strategies' rational instances every float score
    is within tol of the exact score, and labels agree with the exact route everywhere."""
    inst = data.draw(strategies.task_instances(n_states=(2, 6), n_tokens=(2, 5), T=(1, 5)))
    hmm, mu, xs = inst.hmm, inst.mu, inst.xs
    t = task.decide(hmm, xs, mu)
    exact = ex.scores(ex.rational_model(hmm), xs, task.rational_mu(mu))
    err = np.abs(task.scores(hmm, xs, mu) - exact.astype(float)).max()
    assert err <= t.tol
    np.testing.assert_array_equal(t.labels, [float(np.sign(v)) for v in exact])


def test_splits_drop_ties_and_use_the_reproduce_streams():
    hmm = _textbook()
    sizes, dropped = (1000, 50, 80), 0
    sp = task.splits(hmm, [1, -1], sizes, 3, seed=4)
    for s, size, i in zip(sp, sizes, range(3), strict=True):
        xs = hmm.sample(size, 3, np.random.default_rng([4, task.SPLIT_STREAM + i]))[0]
        keep = ~(xs == 1).all(axis=1)  # (1, 1, 1) is the only tie at T = 3
        assert len(s.xs) == keep.sum()
        dropped += size - len(s.xs)
        np.testing.assert_array_equal(s.xs, xs[keep])
        assert set(np.unique(s.y)) <= {-1.0, 1.0}
    assert dropped > 0  # P(1, 1, 1) = 0.008: the train split holds some ties


def test_sampled_input_set_follows_the_window_chain():
    """A non-stationary start: the window [MASK] x_1 … x_T has H_0 ~ start, so x_1 comes
    from start·A. Sampling the input alone (H_1 ~ start) here gives only sequences of
    probability 0 in the window, and 𝒮 came out empty (the thorough profile's head.exact
    crash); 𝒮 is sampled from the window's law instead, and every input is possible."""
    hmm = HMM([1.0, 0.0], [[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])
    xs = task.input_set(hmm, 20, seed=0)  # 2^20 > 50 000: the sampled branch
    assert xs.shape == (1, 20) and xs[0, 0] == 1  # x = (1, 0, 1, 0, …), the only one
    assert np.isfinite(log_likelihood(hmm, xs)).all()
    mem = MemoryHMM([[0.5, 0.5]], [1.0, 0.0], [[0.0, 1.0], [1.0, 0.0]], [0, 0],
                    [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])  # fmt: skip
    ms = task.input_set(mem, 20, seed=0)
    assert len(ms) == 1 and ms[0, 0] == 1
