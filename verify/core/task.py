"""The downstream task of THEORY §3, defined once: the input set 𝒮, scores, labels,
margin γ, the ill-posed rule and the train/val/test split builder. Every caller
(conditions, claims, ``check``, the sweep, ``reproduce``, the benches, the trainers) goes
through here.

Input set: ``input_set(model, T)`` is 𝒮: every length-T sequence of positive probability
(exhaustive ``[n]^T`` up to :data:`MAX_EXHAUSTIVE` sequences, else a seeded sample).

Scores: ``s(x) = μᵀp(x)`` (HMM) or ``μᵀP[M_{j*} | x]`` (memory model, task cell j*), (B,),
computed by the float route (``verify.core.inference``).

Labels: ``y(x) = sign s(x)`` in {−1, 0, +1}. A float score is trusted only when
``|s(x)| > tol`` with ``tol = float_error_bound(μ, T, K)`` (below). The near-ties
(``|s(x)| ≤ tol``) are decided by the exact route (``verify.crosscheck``; rational arithmetic,
no shared code with the float route) whenever the instance is *rational* (below), so an
exact tie is label 0, never ±1 by rounding. When it is not rational (or too large for
the exact route) a near-tie stays undecided: label 0.

Margin: ``γ = min_{x∈𝒮} |s(x)|``, with the exact value at every near-tie decided exactly
(0 at a tie).

The ill-posed rule (the one tolerance): the task is **ill-posed on 𝒮 iff γ ≤ tol**. It
covers an exact tie (γ = 0), an undecided near-tie, and a rational instance whose γ is
exactly positive but below the float route's resolution (its labels are right, but no
float head, LP or trained model can be told apart from rounding there). Ill-posed tasks
are discarded by claims and sweeps and reported by ``check``; they never pass or fail.

Rational instances: every probability (start, transition, emission; memory fields) is a
rational p/q with q ≤ ``verify.crosscheck.MAX_DEN`` (10⁶) — ints, Fractions and ``"p/q"``
strings exactly; a float when it is such a p/q to round-off (16 ulp,
``verify.crosscheck.rational.ROUND_ULPS``), so JSON decimals such as 0.9 or 0.35 and the
strategies' integer-weight ratios qualify, and a float that is not (e.g. ``1/√2``) makes
the instance non-rational; a stationary float start becomes the exact stationary law.
μ: Fractions/ints/strings exactly; a float is read as its short rational p/q (q ≤ 10⁶)
when it is one to round-off (``12/13`` typed as 0.923076923076923), else as its exact
binary value.

Layering: this module sits in ``verify.core`` but decides near-ties on the exact route
(``verify.crosscheck``, one layer up) through function-level imports; pyproject's
import-linter contract lists these imports as its only ignored ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from verify.core.inference import log_likelihood, memory_posterior, posterior_h0
from verify.core.models import HMM, MemoryHMM
from verify.core.validation import (
    InputError,
    SeedLike,
    as_cell,
    as_int,
    require,
    weight_vector,
)

#: Exhaustive input sets up to this many sequences (THEORY §3).
MAX_EXHAUSTIVE = 50_000

#: Safety factor of :func:`float_error_bound` over the rounding analysis of the float
#: route: the scaled forward–backward pass does T + 2 normalised steps of k-term sums,
#: each adding a relative error of at most ~(k + 2)·eps to every entry of p(x), and the
#: dot with μ adds k·eps·‖μ‖∞. 64× that estimate is far above the largest error measured
#: against the exact route (tests/test_task.py: ≤ 4·eps·‖μ‖∞·(T + K) on the strategies'
#: instances) and still ~1e-11·‖μ‖∞ at K = 64, T = 256.
TIE_ULPS = 64
_EPS = float(np.finfo(np.float64).eps)


def float_error_bound(mu: ArrayLike, T: int, n_states: int) -> float:
    """``tol = TIE_ULPS · (T + K + 2) · eps · ‖μ‖∞``: a bound on ``|s_float(x) − s(x)|``
    for inputs of length T on a chain of K (product) hidden states."""
    scale = float(np.abs(np.asarray(mu, dtype=np.float64)).max()) if np.size(mu) else 0.0
    return TIE_ULPS * (int(T) + int(n_states) + 2) * _EPS * scale


def _states(model: HMM | MemoryHMM) -> int:
    if isinstance(model, MemoryHMM):
        return model.n_values**model.n_cells * model.n_ordinary
    return model.n_states


def scores(
    model: HMM | MemoryHMM, xs: ArrayLike, mu: ArrayLike, cell: int | None = None
) -> np.ndarray:
    """``μᵀ p(x)`` (B,) (HMM) or ``μᵀ P[M_cell | x]`` (B,) (MemoryHMM), float route."""
    if isinstance(model, MemoryHMM):
        if cell is None:
            raise InputError("cell: a MemoryHMM task needs its task cell j*; pass cell=0 …")
        mu = weight_vector(mu, "mu", model.n_values, "memory value (m)")
        return memory_posterior(model, xs, as_cell(cell, model.n_cells)) @ mu
    hmm = require(model, HMM, "model")
    if cell is not None:
        raise InputError("cell: only memory tasks have a task cell; drop cell for an HMM")
    mu = weight_vector(mu, "mu", hmm.n_states, "hidden state (k)")
    return posterior_h0(hmm, xs) @ mu


def rational_mu(mu: ArrayLike) -> list[Fraction]:
    """μ as Fractions by the module's rule (short rational when a float is one)."""
    from verify.crosscheck.rational import weight_fraction  # exact route: above core (layering)

    return [
        weight_fraction(v, f"mu[{j}]") for j, v in enumerate(np.ravel(np.asarray(mu, dtype=object)))
    ]


def exact_scores(
    model: HMM | MemoryHMM,
    xs: ArrayLike,
    mu: ArrayLike,
    cell: int | None = None,
    s0: int | None = None,
) -> np.ndarray | None:
    """The exact scores (B,) as Fractions, or None when the instance is not rational or is
    beyond the exact route's limits (``verify.crosscheck.ExactTooLarge``). ``s0``: a memory
    model's task conditioned on ``S_0 = s0`` (memory.prompt's ``μᵀP[M_cell | S_0 = s0, x]``).
    """
    from verify import crosscheck as ex  # the exact route sits above core (layering note)

    try:
        exact = ex.rational_model(model)
        if s0 is not None:
            # memory.prompt's conditioned task always names its cell (decide's callers)
            assert cell is not None, "s0 (a conditioned memory task) comes with its cell"
            return ex.memory_posterior(exact, np.asarray(xs), cell, s0).dot(rational_mu(mu))
        return ex.scores(exact, np.asarray(xs), rational_mu(mu), cell)
    except InputError:  # not rational, or ExactTooLarge
        return None


@dataclass(frozen=True)
class Task:
    """The task on an input set 𝒮 of B inputs.

    scores (B,) float (exact value, rounded, at near-ties decided exactly); labels (B,)
    float64 in {−1, 0, 1}; gamma = min |score| (∞ for B = 0); tol: the one tolerance
    (:func:`float_error_bound`); near: indices with ``|s_float| ≤ tol``; exact: True when
    the near-ties were decided exactly (also True when there were none), False when they
    stay undecided (not rational / too large).
    """

    scores: np.ndarray
    labels: np.ndarray
    gamma: float
    tol: float
    near: np.ndarray
    exact: bool

    @property
    def ill_posed(self) -> bool:
        """THEORY §3's ill-posed rule: γ ≤ tol."""
        return bool(self.gamma <= self.tol)

    @property
    def ties(self) -> np.ndarray:
        """Indices of inputs with label 0 (exact ties, or undecided near-ties)."""
        return np.flatnonzero(self.labels == 0)

    @property
    def reason(self) -> str:
        """Why the task is ill-posed ("" when it is not)."""
        if not self.ill_posed:
            return ""
        ties = self.ties.size
        if ties and self.exact:
            return f"ill-posed: γ = 0, {ties} exact tie(s) μᵀp(x) = 0 on 𝒮 (label 0)"
        if ties:
            return (
                f"ill-posed: γ undecided, {ties} input(s) with |μᵀp(x)| ≤ {self.tol:.2g} "
                "(float resolution) and no exact route to decide them (label 0)"
            )
        return f"ill-posed: γ = {self.gamma:.3g} ≤ {self.tol:.2g}, below float resolution"


def classify(
    float_scores: ArrayLike, tol: float, exact: Callable[[np.ndarray], np.ndarray | None] | None
) -> Task:
    """The rule on given float scores (B,): near-ties (``|s| ≤ tol``) go to ``exact(idx)``
    (Fractions for those indices, or None when undecidable). Used by :func:`decide` and by
    tasks with other scores (e.g. memory.prompt's ``μᵀP[M | S_0 = s0, x]``)."""
    s = np.array(float_scores, dtype=np.float64)
    if not np.isfinite(s).all():
        raise InputError("scores must be finite; a posterior of an impossible input is NaN")
    y = np.where(s > tol, 1.0, np.where(s < -tol, -1.0, 0.0))
    near = np.flatnonzero(np.abs(s) <= tol)
    decided = True
    if near.size:
        ex = exact(near) if exact is not None else None
        if ex is None:
            decided = False
            s[near] = 0.0  # undecided: counts as a tie in γ
        else:
            s[near] = [float(v) for v in ex]
            y[near] = [float((v > 0) - (v < 0)) for v in ex]
    gamma = float(np.abs(s).min()) if s.size else float("inf")
    return Task(s, y, gamma, float(tol), near, decided)


def decide(
    model: HMM | MemoryHMM,
    xs: ArrayLike,
    mu: ArrayLike,
    cell: int | None = None,
    *,
    score: ArrayLike | None = None,
    s0: int | None = None,
) -> Task:
    """The task ``(model, μ, cell)`` on xs (B, T) (the argument order of every inference
    call: model, xs, then μ): labels decided exactly at near-ties.
    ``score``: the float scores when the caller already has them (B,); ``s0`` (with
    ``score``): the memory task conditioned on ``S_0 = s0``."""
    if s0 is not None and score is None:
        raise InputError("s0: pass the conditioned float scores as score= with s0")
    xs = np.asarray(xs)
    s = scores(model, xs, mu, cell) if score is None else np.asarray(score, dtype=np.float64)
    T = xs.shape[1] if xs.ndim == 2 else 0
    tol = float_error_bound(mu, T, _states(model))

    def exact(idx: np.ndarray) -> np.ndarray | None:
        return exact_scores(model, xs[idx], mu, cell, s0)

    return classify(s, tol, exact)


def labels(
    model: HMM | MemoryHMM, xs: ArrayLike, mu: ArrayLike, cell: int | None = None
) -> np.ndarray:
    """``y(x) = sign(μᵀ p(x))`` (B,) in {−1, 0, 1} (float64), ties decided exactly."""
    return decide(model, xs, mu, cell).labels


def margin(model: HMM | MemoryHMM, xs: ArrayLike, mu: ArrayLike, cell: int | None = None) -> float:
    """``γ = min_{x∈𝒮} |μᵀ p(x)|`` over xs (B, T) (0 at an exact tie); ∞ for B = 0."""
    return decide(model, xs, mu, cell).gamma


# --------------------------------------------------------------------------- 𝒮


def exhaustive_inputs(n_tokens: int, T: int) -> np.ndarray:
    """All of ``[n]^T`` as (n**T, T) int64, lexicographic."""
    if T == 0:
        return np.zeros((1, 0), dtype=np.int64)
    return np.indices((n_tokens,) * T).reshape(T, -1).T.astype(np.int64)


def window_chain(model: HMM | MemoryHMM) -> HMM | MemoryHMM:
    """The model whose ``sample`` draws ``X_{1:T}`` as the window ``[MASK] x_1 … x_T`` has
    it (THEORY §1.2: ``H_0 ~ start`` at the masked slot, so ``H_1 ~ start·A``), which is
    the law every posterior and ``log_likelihood`` here use. ``model.sample`` draws the
    input alone (``H_1 ~ start``); the two agree when ``start`` is stationary, but with a
    non-stationary start an input drawn the other way can have probability 0 in the
    window (the thorough profile drew a head.exact instance whose sampled 𝒮 was empty)."""
    if isinstance(model, MemoryHMM):
        return MemoryHMM(model.memory_prior, model.state_start @ model.state_transition,
                         model.state_transition, model.pointer, model.emission)  # fmt: skip
    return HMM(model.start @ model.transition, model.transition, model.emission)


def input_set(
    model: HMM | MemoryHMM,
    T: int,
    seed: SeedLike = 0,
    *,
    max_exhaustive: int = MAX_EXHAUSTIVE,
    n_samples: int = 512,
) -> np.ndarray:
    """The input set 𝒮 (B, T) of THEORY §3 with every zero-probability sequence dropped.

    Exhaustive ``[n]^T`` when ``n**T ≤ max_exhaustive``; else ``n_samples`` sequences drawn
    from the window's law of ``X_{1:T}`` (:func:`window_chain`) with
    ``np.random.default_rng(seed)``, duplicates removed (sorted).
    """
    T = as_int(T, "T", 0, note=" (input length)")
    n = model.n_tokens
    if n**T <= max_exhaustive:
        xs = exhaustive_inputs(n, T)
        return xs[np.isfinite(log_likelihood(model, xs))]
    xs, _ = window_chain(model).sample(n_samples, T, np.random.default_rng(seed))
    xs = np.unique(xs, axis=0)
    return xs[np.isfinite(log_likelihood(model, xs))]


# --------------------------------------------------------------------------- splits


class Split(NamedTuple):
    """One data split: inputs ``xs`` (B, T) int tokens and labels ``y`` (B,) in {−1, +1}."""

    xs: np.ndarray
    y: np.ndarray

    @property
    def majority(self) -> float:
        """Accuracy of always answering the more frequent label (the chance baseline)."""
        return float(max(np.mean(self.y > 0), np.mean(self.y < 0)))


class Splits(NamedTuple):
    """train / val / test."""

    train: Split
    val: Split
    test: Split


#: The split generators: split i (0 train, 1 val, 2 test) samples with
#: ``np.random.default_rng([seed, SPLIT_STREAM + i])`` (reproduce's convention).
SPLIT_STREAM = 1000


def splits(
    model: HMM | MemoryHMM,
    mu: ArrayLike,
    sizes: tuple[int, int, int],
    length: int,
    seed: int,
    cell: int | None = None,
    *,
    label: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Splits:
    """Train/val/test inputs (B_i, length) sampled from ``model`` with labels by
    :func:`decide`; an input whose label is 0 (an exact tie, or undecided at float
    resolution) is dropped, since a ±1 trainer cannot be asked to learn it, so a split may
    hold fewer than ``sizes[i]`` inputs. ``cell``: the task cell of a memory model.
    ``label``: another rule's labels (B,) in {−1, 0, +1} of the sampled inputs, in place of
    ``decide(model, xs, mu, cell)`` (the authors' convention, ``verify.experiments.authors``);
    its 0s are dropped the same way."""
    out = []
    for i, size in enumerate(sizes):
        xs = model.sample(int(size), int(length), np.random.default_rng([seed, SPLIT_STREAM + i]))[
            0
        ]
        y = decide(model, xs, mu, cell).labels if label is None else np.asarray(label(xs))
        keep = y != 0
        out.append(Split(xs[keep], y[keep]))
    return Splits(*out)


def signs(values: ArrayLike) -> np.ndarray:
    """±1 predictions of a real-valued head's outputs (B,): ``sign`` with 0 → −1 is *not*
    used — an output of exactly 0 is no prediction, so it counts as wrong against either
    label (0.0 here, never equal to a ±1 label)."""
    return np.sign(np.asarray(values, dtype=np.float64))


__all__ = [
    "MAX_EXHAUSTIVE",
    "SPLIT_STREAM",
    "TIE_ULPS",
    "Split",
    "Splits",
    "Task",
    "classify",
    "decide",
    "exhaustive_inputs",
    "exact_scores",
    "float_error_bound",
    "input_set",
    "window_chain",
    "labels",
    "margin",
    "rational_mu",
    "scores",
    "signs",
    "splits",
]
