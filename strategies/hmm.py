"""Strategies for vanilla HMMs, their tasks and prompt instances (THEORY §1.1, §3, §5)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from strategies.blocks import (
    MAX_WEIGHT,
    SIGMA_FLOOR,
    IntSpec,
    StyleSpec,
    draw_int,
    input_set,
    normalise,
    repaired_rows,
    weight_arrays,
)
from verify.core.inference import posterior_h0
from verify.core.models import HMM, stationary_distribution
from verify.core.validation import InputError

#: Transition styles of :func:`hmms` (THEORY §8's permutation mixture included).
TRANSITION_STYLES = ("dense", "sparse", "permutation", "iid", "mixed")
#: How :func:`hmms` breaks C-HEAD exactly.
HEAD_VIOLATIONS = ("few-tokens", "twin-columns", "mixture-column")
#: Default relative margin floor of tasks: ``γ ≥ MARGIN_FLOOR · ‖μ‖_∞`` on the input set.
MARGIN_FLOOR = 1e-3


class TaskInstance(NamedTuple):
    """A downstream task: ``y(x) = sign(μᵀ p(x))`` on the input set xs (B, T)."""

    hmm: HMM
    mu: np.ndarray
    xs: np.ndarray


class PromptInstance(NamedTuple):
    """An HMM and μ with C-PROMPT(μ) true by construction (witness U, S) and C-HEAD(μ) false;
    xs (B, T) is the input set when one was requested, else None."""

    hmm: HMM
    mu: np.ndarray
    U: tuple[int, ...]
    S: tuple[int, ...]
    xs: np.ndarray | None


# --------------------------------------------------------------------------- transitions


@st.composite
def transitions(draw: st.DrawFn, k: int, style: str, *, max_weight: int = MAX_WEIGHT) -> np.ndarray:
    """Row-stochastic (k, k) of a style: "dense" (every entry > 0), "sparse" (exact zeros
    allowed), "permutation" (``Σ_r w_r P_r / Σw``, THEORY §8 with integer weights: doubly
    stochastic), "iid" (every row the same law), "mixed" (each row dense or sparse, drawn)."""
    if style == "dense":
        return normalise(draw(weight_arrays((k, k), zeros=False, max_weight=max_weight)))
    if style == "sparse":
        return normalise(draw(weight_arrays((k, k), zeros=True, max_weight=max_weight)))
    if style == "permutation":
        w = normalise(draw(weight_arrays((k,), zeros=True, max_weight=max_weight)))
        out = np.zeros((k, k))
        for r in range(k):
            perm = draw(st.permutations(range(k)))
            out[np.arange(k), perm] += w[r]
        return out / out.sum(axis=1, keepdims=True)
    if style == "mixed":
        rows = [
            draw(weight_arrays((k,), zeros=draw(st.booleans()), max_weight=max_weight))
            for _ in range(k)
        ]
        return normalise(np.stack(rows))
    if style == "iid":
        row = normalise(draw(weight_arrays((k,), zeros=True, max_weight=max_weight)))
        return np.tile(row, (k, 1))
    raise InputError(f"transition_style {style!r} is unknown; use one of {TRANSITION_STYLES}")


def stationary_start(transition: np.ndarray) -> np.ndarray:
    """A stationary law, exact for i.i.d. chains (every row equal: the row itself)."""
    if np.all(transition == transition[0]):
        return transition[0].copy()
    return stationary_distribution(transition)


def _style(draw: st.DrawFn, spec: StyleSpec) -> str:
    if spec is None:
        return draw(st.sampled_from(TRANSITION_STYLES))
    if isinstance(spec, (tuple, list)):
        return draw(st.sampled_from(tuple(spec)))
    return spec


# --------------------------------------------------------------------------- hmms


@st.composite
def hmms(
    draw: st.DrawFn,
    n_states: IntSpec = (2, 4),
    n_tokens: IntSpec = (1, 5),
    transition_style: StyleSpec = None,
    satisfying: str | None = None,
    violating: str | None = None,
    sigma_floor: float = SIGMA_FLOOR,
    stationary: bool | None = True,
    max_weight: int = MAX_WEIGHT,
) -> HMM:
    """HMMs with k = ``n_states`` and n = ``n_tokens`` (int, inclusive (lo, hi), or strategy).

    transition_style: one of TRANSITION_STYLES, a tuple of them, or None (any).
    Start: stationary (``π A = π``) unless ``stationary=False`` (then any law, drawn from
    integer weights); ``stationary=None`` draws which (the domain of every function that
    accepts a non-stationary start).
    Guarantees:
    - ``satisfying="C-HEAD"``: n ≥ k (n is raised to k when its range is lower) and
      σ_min(W) ≥ ``sigma_floor`` (emission mixed toward one-hot rows just enough);
    - ``violating="C-HEAD"``: C-HEAD fails exactly, by n < k ("few-tokens"), two identical
      emission rows ("twin-columns") or a row that is the average of two others
      ("mixture-column", k ≥ 3), one of HEAD_VIOLATIONS drawn.
    """
    if satisfying not in (None, "C-HEAD") or violating not in (None, "C-HEAD"):
        raise InputError(
            f"hmms: satisfying/violating must be None or 'C-HEAD' (got {satisfying!r}, "
            f"{violating!r}); use prompt_instances or memory_hmms for the other conditions"
        )
    if satisfying and violating:
        raise InputError("hmms: satisfying and violating the same condition is impossible")
    k = draw_int(draw, n_states, "n_states")
    if k < 1 or (violating and k < 2):
        raise InputError(f"n_states must be ≥ {2 if violating else 1} here, got {k}")
    mode = None
    if violating:
        modes = HEAD_VIOLATIONS if k >= 3 else HEAD_VIOLATIONS[:2]
        mode = draw(st.sampled_from(modes))
    if mode == "few-tokens":
        # n = 1 makes every task constant on 𝒮 (G(x) = 1): keep n ≥ 2 when k allows it
        n = draw(st.integers(min(2, k - 1), k - 1))
    else:
        n = draw_int(draw, n_tokens, "n_tokens")
        if satisfying:
            n = max(n, k)
    style = _style(draw, transition_style)
    transition = draw(transitions(k, style, max_weight=max_weight))
    emission = normalise(draw(weight_arrays((k, n), zeros=True, max_weight=max_weight)))
    if satisfying:
        emission = repaired_rows(emission, sigma_floor)
    elif mode in ("twin-columns", "mixture-column"):
        # distinct rows i (overwritten) and j (copied) or j, l (averaged)
        order = draw(st.permutations(range(k)))
        if mode == "twin-columns":
            emission[order[1]] = emission[order[0]]
        else:
            emission[order[2]] = 0.5 * (emission[order[0]] + emission[order[1]])
    if stationary is None:
        stationary = draw(st.booleans())
    if stationary:
        start = stationary_start(transition)
    else:
        start = normalise(draw(weight_arrays((k,), zeros=True, max_weight=max_weight)))
    return HMM(start, transition, emission)


# --------------------------------------------------------------------------- tasks


def simplest_between(lo: Fraction, hi: Fraction) -> Fraction:
    """The rational with the smallest denominator (then smallest |value|) in the open
    interval (lo, hi), lo < hi — the Stern–Brocot / continued-fraction construction."""
    if not lo < hi:
        raise InputError(f"need lo < hi, got {lo} ≥ {hi}")
    if lo < 0 < hi:
        return Fraction(0)
    if hi <= 0:
        return -simplest_between(-hi, -lo)
    n = math.floor(lo) + 1  # the smallest integer > lo
    if n < hi:
        return Fraction(n)
    fl = n - 1  # fl ≤ lo < hi ≤ fl + 1
    if lo == fl:
        return fl + Fraction(1, math.floor(1 / (hi - fl)) + 1)
    return fl + 1 / simplest_between(1 / (hi - fl), 1 / (lo - fl))


def balance_task(
    post: np.ndarray,
    mu0: np.ndarray,
    direction: np.ndarray,
    min_count: int,
    margin_floor: float,
) -> np.ndarray | None:
    """``μ = μ0 + c·direction`` with both labels present (each ≥ min_count inputs) and
    ``γ ≥ margin_floor · ‖μ‖_∞`` on the posteriors post (B, k); None when impossible.

    With ``q = post @ direction > 0`` the score is ``q (r + c)``, ``r = post @ μ0 / q``, so
    c = minus the midpoint of the widest admissible gap of the sorted ratios r.
    """
    q = post @ direction
    if q.min() <= 1e-12:
        return None
    r = np.sort((post @ mu0) / q)
    B = r.size
    best = None
    # A gap at round-off level is no gap: splitting there gives μ ≈ 1e-16 noise whose
    # labels are whatever the rounding says (found by an unseeded run: all labels equal).
    gap_tol = 1e-9 * max(1.0, float(np.abs(r).max()))
    for i in range(max(min_count, 1) - 1, B - max(min_count, 1)):
        gap = r[i + 1] - r[i]
        if gap > gap_tol and (best is None or gap > best[0]):
            best = (gap, i)
    if best is None:
        return None
    # the simplest rational in the middle half of the gap (small denominator: a shrunk μ
    # reads as 12/13, not as a binary fraction), not the float midpoint
    lo, hi = r[best[1]] + best[0] / 4, r[best[1] + 1] - best[0] / 4
    c = -float(simplest_between(Fraction(lo), Fraction(hi)))
    mu = mu0 + c * direction
    gamma = float(np.abs(post @ mu).min())
    scale = float(np.abs(mu).max())
    if scale == 0 or gamma < margin_floor * scale:
        return None
    y = np.sign(post @ mu)
    if min((y > 0).sum(), (y < 0).sum()) < max(min_count, 1):
        return None
    return mu


@st.composite
def tasks(
    draw: st.DrawFn,
    hmm: HMM,
    xs: np.ndarray,
    *,
    max_support: int | None = None,
    max_weight: int = 3,
    offset: str = "support",
    balance: float = 0.25,
    margin_floor: float = MARGIN_FLOOR,
) -> np.ndarray:
    """Task vectors μ (k,) for ``hmm`` on the input set xs (B, T).

    μ starts sparse: a drawn support of size ≤ ``max_support`` (shrinks to {0}) with integer
    weights in ±[1, max_weight], then is shifted by ``c·d`` (``d = 1_supp`` for
    ``offset="support"``, keeping supp(μ) within the drawn support; ``d = 1`` for
    ``offset="constant"``, keeping C-HEAD(μ)'s verdict since Wᵀ1 = 1).
    Guarantee: both labels occur, each on ≥ max(1, ⌊balance·B⌋) inputs, and the margin
    ``γ = min |μᵀp(x)| ≥ margin_floor · ‖μ‖_∞``. Instances where that is impossible (the
    posterior barely depends on x: i.i.d. chains, identical emissions) are rejected with
    ``assume`` — ill-posed tasks (THEORY §3), not a filter on a satisfiable property.
    """
    k = hmm.n_states
    size = draw(st.integers(1, min(k, max_support or k)))
    support = draw(st.permutations(range(k)))[:size]
    mags = draw(st.lists(st.integers(1, max_weight), min_size=size, max_size=size))
    signs = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    mu0 = np.zeros(k)
    mu0[list(support)] = [m * (-1 if s else 1) for m, s in zip(mags, signs, strict=True)]
    if offset == "support":
        direction = np.zeros(k)
        direction[list(support)] = 1.0
    elif offset == "constant":
        direction = np.ones(k)
    else:
        raise InputError(f"offset must be 'support' or 'constant', got {offset!r}")
    post = posterior_h0(hmm, xs)
    mu = balance_task(post, mu0, direction, int(balance * len(xs)), margin_floor)
    assume(mu is not None)
    assert mu is not None  # for the type checker: assume() rejected None
    return mu


@st.composite
def task_instances(
    draw: st.DrawFn,
    n_states: IntSpec = (2, 4),
    n_tokens: IntSpec = (2, 4),
    T: IntSpec = (1, 3),
    transition_style: StyleSpec = ("dense", "sparse", "permutation"),
    satisfying: str | None = None,
    violating: str | None = None,
    sigma_floor: float = SIGMA_FLOOR,
    max_exhaustive: int = 4096,
    stationary: bool | None = True,
    **task_kwargs: Any,
) -> TaskInstance:
    """TaskInstance(hmm, mu, xs): an HMM from :func:`hmms` (same arguments; i.i.d. chains
    excluded by default since their posterior p(x) = π never depends on x), the input set
    of length ``T`` (exhaustive when ``n**T ≤ max_exhaustive``, else a seeded sample of 512)
    and μ from :func:`tasks` (balanced labels, margin floor) on it."""
    hmm = draw(
        hmms(
            n_states=n_states,
            n_tokens=n_tokens,
            transition_style=transition_style,
            satisfying=satisfying,
            violating=violating,
            sigma_floor=sigma_floor,
            stationary=stationary,
        )
    )
    length = draw_int(draw, T, "T")
    seed = draw(st.integers(0, 2**32 - 1)) if hmm.n_tokens**length > max_exhaustive else 0
    xs = input_set(hmm, length, seed, max_exhaustive=max_exhaustive)
    mu = draw(tasks(hmm, xs, **task_kwargs))
    return TaskInstance(hmm, mu, xs)


# --------------------------------------------------------------------------- prompts


@st.composite
def prompt_instances(
    draw: st.DrawFn,
    n_states: IntSpec = (3, 5),
    n_tokens: IntSpec = (2, 5),
    sigma_floor: float = SIGMA_FLOOR,
    T: IntSpec | None = None,
    max_weight: int = 3,
    max_exhaustive: int = 4096,
) -> PromptInstance:
    """(hmm, μ, U, S[, xs]) with C-PROMPT(μ) true and C-HEAD(μ) false, by construction:

    - twins a ≠ b: identical emission rows; the other k − 1 rows have σ_min ≥ sigma_floor
      (n is raised to k − 1 when lower), so any S ∌ b has σ_min(W[:, S]) ≥ sigma_floor;
    - μ_b = 0 ≠ μ_a: every vector Wᵀc has equal entries at the twins, so μ ∉ range(Wᵀ);
    - prompt state p: ``A[p, b] = 0`` and ``A[p, h] > 0`` on supp(μ); the other rows are
      dense, so every state reaches p and π[p] > 0; witness U = (p,), S = succ(p) ⊇ supp(μ).
    With ``T`` (int, range or strategy) the task is also balanced with a margin floor on
    the input set (offset on supp(μ) only, so the witness stays valid; the rare draws where
    the shift would zero μ_a are rejected). k ≥ 3.
    """
    k = draw_int(draw, n_states, "n_states")
    if k < 3:
        raise InputError(f"prompt_instances needs n_states ≥ 3 (twins + another), got {k}")
    n = max(draw_int(draw, n_tokens, "n_tokens"), k - 1)
    order = draw(st.permutations(range(k)))
    a, b = order[0], order[1]
    p = draw(st.integers(0, k - 1))
    rest = [h for h in range(k) if h != b]
    base = normalise(draw(weight_arrays((k - 1, n), zeros=True, max_weight=max_weight)))
    emission = np.zeros((k, n))
    emission[rest] = repaired_rows(base, sigma_floor)
    emission[b] = emission[a]
    # supp(μ): a plus a drawn subset of the other states except b
    extra = [h for h in rest if h != a and draw(st.booleans())]
    supp = [a, *extra]
    mu = np.zeros(k)
    for h in supp:
        mu[h] = draw(st.integers(1, max_weight)) * (-1 if draw(st.booleans()) else 1)
    weights = draw(weight_arrays((k, k), zeros=False, max_weight=max_weight))
    row = draw(weight_arrays((k,), zeros=True, max_weight=max_weight))
    row[supp] = np.maximum(row[supp], 1.0)
    row[b] = 0.0
    weights[p] = row
    transition = normalise(weights)
    hmm = HMM(stationary_distribution(transition), transition, emission)
    S = tuple(int(h) for h in np.flatnonzero(transition[p] > 0))
    xs = None
    if T is not None:
        length = draw_int(draw, T, "T")
        seed = draw(st.integers(0, 2**32 - 1)) if n**length > max_exhaustive else 0
        xs = input_set(hmm, length, seed, max_exhaustive=max_exhaustive)
        direction = np.zeros(k)
        direction[supp] = 1.0
        shifted = balance_task(posterior_h0(hmm, xs), mu, direction, 1, MARGIN_FLOOR)
        assume(shifted is not None and shifted[a] != 0)
        assert shifted is not None  # for the type checker: assume() rejected None
        mu = shifted
    return PromptInstance(hmm, mu, (int(p),), S, xs)


__all__ = [
    "HEAD_VIOLATIONS",
    "MARGIN_FLOOR",
    "TRANSITION_STYLES",
    "PromptInstance",
    "TaskInstance",
    "balance_task",
    "hmms",
    "prompt_instances",
    "stationary_start",
    "task_instances",
    "tasks",
]
