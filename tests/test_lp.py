"""The §6 max-margin LP (verify.recovery.max_margin_head): known answers, agreement with an
independent scipy route, re-verification, and injected solver failures → inconclusive."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from verify.recovery import (
    INCONCLUSIVE,
    NOT_RECOVERABLE,
    RECOVERABLE,
    RawSolution,
    max_margin_head,
)


def linprog_margin(F: np.ndarray, y: np.ndarray) -> float:
    """t* by the *dual* LP through scipy (an independent route to the same number):
    ``min Σ s_j  s.t.  -s ≤ Zᵀλ ≤ s,  Σλ = 1,  λ ≥ 0``, ``Z = y ⊙ F``."""
    Z = y[:, None] * F
    N, d = Z.shape
    c = np.concatenate([np.zeros(N), np.ones(d)])
    A_ub = np.block([[Z.T, -np.eye(d)], [-Z.T, -np.eye(d)]])
    A_eq = np.concatenate([np.ones(N), np.zeros(d)])[None, :]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(2 * d), A_eq=A_eq, b_eq=[1.0], method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def check_certificate(result, F, y) -> None:
    """The certificate is on the simplex and its residual is what the result says."""
    lam = result.certificate
    assert lam.shape == (F.shape[0],)
    assert (lam >= 0).all()
    assert abs(lam.sum() - 1.0) <= 1e-12
    residual = np.abs((lam * y) @ F).sum()
    assert residual == pytest.approx(result.certificate_residual, abs=1e-15)


# --------------------------------------------------------------------------- known answers


def test_separable_identity_features_has_margin_one():
    F = np.eye(2)
    y = np.array([1.0, -1.0])
    r = max_margin_head(F, y)
    assert r.status == RECOVERABLE
    assert r.margin == pytest.approx(1.0, abs=1e-9)
    assert r.verified_margin == pytest.approx(1.0, abs=1e-9)
    assert np.all(y * (F @ r.head) > 0)
    assert np.abs(r.head).max() <= 1 + 1e-9


def test_one_pair_certificate_two_identical_inputs_with_opposite_labels():
    F = np.array([[0.3, 0.7], [0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    r = max_margin_head(F, y)
    assert r.status == NOT_RECOVERABLE
    check_certificate(r, F, y)
    assert set(r.support().tolist()) == {0, 2}
    np.testing.assert_allclose(r.certificate[[0, 2]], [0.5, 0.5], atol=1e-9)
    assert r.certificate_residual <= 1e-12
    assert r.reason == "certificate verified"


def test_margin_of_1e5_is_kept_and_scale_is_relative():
    F = np.array([[1.0, 1e-5], [-1.0, 1e-5]])
    y = np.ones(2)
    r = max_margin_head(F, y)
    assert r.status == RECOVERABLE
    assert r.margin == pytest.approx(1e-5, rel=1e-6)
    assert r.verified_margin == pytest.approx(1e-5, rel=1e-6)
    small = max_margin_head(F * 1e-3, y)  # same geometry, features 1000× smaller
    assert small.status == RECOVERABLE
    assert small.verified_margin == pytest.approx(1e-8, rel=1e-6)


def test_all_zero_features_are_not_recoverable():
    r = max_margin_head(np.zeros((3, 2)), np.array([1, -1, 1]))
    assert r.status == NOT_RECOVERABLE
    assert r.certificate_residual == 0.0


def test_duplicate_rows_are_solved_once_and_certificate_lives_on_original_rows():
    rng = np.random.default_rng(3)
    base = rng.dirichlet(np.ones(3), size=6)
    F = np.concatenate([base, base, base[:2]])
    y = np.concatenate([np.ones(6), -np.ones(6), np.ones(2)])  # each base row both ways
    r = max_margin_head(F, y)
    assert r.n_rows == 14 and r.n_unique == 12
    assert r.status == NOT_RECOVERABLE
    check_certificate(r, F, y)


@pytest.mark.parametrize("solver", ["HIGHS", "CLARABEL"])
def test_each_solver_decides_both_ways(solver):
    F = np.array([[0.2, 0.8], [0.6, 0.4], [0.9, 0.1]])
    sep = max_margin_head(F, np.array([-1, 1, 1]), solvers=[solver])
    assert sep.status == RECOVERABLE and sep.solver == solver
    # the middle input is a mixture of the outer two, which share the opposite label
    non = max_margin_head(F, np.array([1, -1, 1]), solvers=[solver])
    assert non.status == NOT_RECOVERABLE and non.solver == solver
    check_certificate(non, F, np.array([1.0, -1.0, 1.0]))


def test_scs_never_contradicts_the_exact_answer():
    F = np.array([[0.2, 0.8], [0.6, 0.4], [0.9, 0.1]])
    sep = max_margin_head(F, np.array([-1, 1, 1]), solvers=["SCS"])
    non = max_margin_head(F, np.array([1, -1, 1]), solvers=["SCS"])
    assert sep.status in (RECOVERABLE, INCONCLUSIVE)
    assert non.status in (NOT_RECOVERABLE, INCONCLUSIVE)


# --------------------------------------------------------------------------- independent route


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    N=st.integers(2, 40),
    d=st.integers(1, 6),
    rule=st.sampled_from(["linear", "random"]),
)
def test_margin_agrees_with_scipy_dual(seed, N, d, rule):
    rng = np.random.default_rng(seed)
    F = rng.dirichlet(np.ones(d), size=N)
    if rule == "linear":
        y = np.sign(F @ rng.normal(size=d))
        y[y == 0] = 1.0
    else:
        y = rng.choice([-1.0, 1.0], size=N)
    r = max_margin_head(F, y)
    t_ref = linprog_margin(F, y)
    assert r.status != INCONCLUSIVE, r.reason
    # t* is bracketed by the two re-verified bounds; both agree with scipy's t*
    assert r.verified_margin <= t_ref + 1e-9
    assert r.certificate_residual >= t_ref - 1e-9
    assert r.margin == pytest.approx(t_ref, abs=1e-8)
    if t_ref > 1e-7:
        assert r.status == RECOVERABLE
        assert np.all(y * (F @ r.head) > 0)
    elif t_ref < 1e-10:
        assert r.status == NOT_RECOVERABLE
        check_certificate(r, F, y)


# --------------------------------------------------------------------------- injected failures

F_SEP = np.array([[0.2, 0.8], [0.6, 0.4], [0.9, 0.1]])
Y_SEP = np.array([-1.0, 1.0, 1.0])
Y_NON = np.array([1.0, -1.0, 1.0])


def raising(Z):
    raise RuntimeError("solver crashed")


def infeasible(Z):
    return RawSolution("infeasible", None, None, None)


def lying_recoverable(Z):
    """Claims a big margin with a head that misclassifies an input and no dual."""
    return RawSolution("optimal", 1.0, np.array([1.0, 1.0]), None)


def lying_not_recoverable(Z):
    """Claims t* = 0 with a dual whose residual is far from zero."""
    return RawSolution("optimal", 0.0, np.zeros(Z.shape[1]), np.eye(Z.shape[0])[0])


def wrong_shapes(Z):
    return RawSolution("optimal", 0.5, np.ones(Z.shape[1] + 1), np.ones(Z.shape[0] - 1))


def nan_answer(Z):
    return RawSolution("optimal", 0.5, np.full(Z.shape[1], np.nan), np.full(Z.shape[0], np.nan))


@pytest.mark.parametrize(
    "solver",
    [raising, infeasible, lying_recoverable, lying_not_recoverable, wrong_shapes, nan_answer],
)
@pytest.mark.parametrize("y", [Y_SEP, Y_NON], ids=["separable", "non_separable"])
def test_a_failing_or_lying_solver_is_inconclusive_never_a_pass(solver, y):
    r = max_margin_head(F_SEP, y, solvers=[solver])
    assert r.status == INCONCLUSIVE
    assert r.solver == solver.__name__
    assert solver.__name__ in r.reason and r.reason


def test_fallback_reaches_the_next_solver_and_records_attempts():
    r = max_margin_head(F_SEP, Y_NON, solvers=[raising, lying_recoverable, "HIGHS"])
    assert r.status == NOT_RECOVERABLE
    assert r.solver == "HIGHS"
    assert len(r.attempts) == 3
    assert "raised RuntimeError" in r.attempts[0]
    assert r.attempts[1].startswith("lying_recoverable: inconclusive")


def test_every_solver_failing_reports_every_reason():
    r = max_margin_head(F_SEP, Y_SEP, solvers=[raising, infeasible])
    assert r.status == INCONCLUSIVE
    assert "raised RuntimeError" in r.reason and "infeasible" in r.reason


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("features", "labels", "match"),
    [
        (np.ones((3, 2)), np.array([1, -1, 0]), "labels\\[2\\]"),
        (np.ones((3, 2)), np.array([1, -1, 2]), "must be \\+1 or -1"),
        (np.ones((3, 2)), np.array([1, -1]), "one label per feature row"),
        (np.array([[np.nan, 1.0]]), np.array([1]), "NaN or inf"),
        (np.ones(3), np.array([1, 1, 1]), "matrix"),
        (np.ones((0, 2)), np.ones(0), "empty"),
    ],
)
def test_bad_input_names_the_argument(features, labels, match):
    with pytest.raises(ValueError, match=match):
        max_margin_head(features, labels)


def test_empty_solver_list_is_rejected():
    with pytest.raises(ValueError, match="solvers"):
        max_margin_head(F_SEP, Y_SEP, solvers=[])


def test_a_margin_at_rounding_level_is_not_a_verified_head():
    # rows (1, δ) and (-1, δ) with δ = 1e-16: the head (0, 1) has margin δ on these floats,
    # far below the rounding bound tol_eval ≈ 4·d·eps·scale; features that differ from the
    # exact ones by rounding cannot tell t* = δ from t* = 0, so the LP must not say
    # "recoverable" (the exact dual λ = (½, ½) leaves residual 2δ: a certificate).
    F = np.array([[1.0, 1e-16], [-1.0, 1e-16]])

    def tiny_margin(Z):
        return RawSolution("optimal", 1e-16, np.array([0.0, 1.0]), np.array([0.5, 0.5]))

    r = max_margin_head(F, np.array([1, 1]), solvers=[tiny_margin])
    assert r.verified_margin > 0 and r.verified_margin < r.tol_eval
    assert r.status == NOT_RECOVERABLE
