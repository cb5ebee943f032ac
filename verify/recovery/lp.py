"""Deciding recovery on a finite input set by linear programming (THEORY §6).

Max-margin linear head on features ``F`` (N, d) with labels ``y ∈ {±1}^N``::

    maximize t   s.t.   y_i F_i b ≥ t  (i = 1…N),   ‖b‖_∞ ≤ 1.

By LP duality ``t* = min_{λ∈Δ} ‖Σ_i λ_i y_i F_i‖₁ ≥ 0``: ``t* > 0`` ⇔ some linear head
recovers every label; ``t* = 0`` ⇔ none does, and the optimal dual λ (the multipliers of
the margin constraints) is the certificate of ``head.necessary``.

Every solver answer is re-verified in float64 outside the solver, by weak duality: for any
head b and any λ ∈ Δ,

    min_i y_i F_i b / max(1, ‖b‖_∞)  ≤  t*  ≤  ‖Σ_i λ_i y_i F_i‖₁.

The left side (``verified_margin``) is recomputed by evaluating the returned head on every
input; the right side (``certificate_residual``) from the returned λ after clipping it to
the simplex. A decision is taken only from these recomputed numbers, never from the solver's
objective; a solver error, a non-optimal status or numbers that decide nothing make that
attempt inconclusive, and the next solver is tried (:func:`_solve_with_fallbacks`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from verify.core.validation import InputError, finite_array


class LPStatus(str, Enum):
    """The LP's answer; compares, formats and serialises as its string value."""

    RECOVERABLE = "recoverable"
    NOT_RECOVERABLE = "not_recoverable"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


RECOVERABLE = LPStatus.RECOVERABLE
NOT_RECOVERABLE = LPStatus.NOT_RECOVERABLE
INCONCLUSIVE = LPStatus.INCONCLUSIVE

#: Solvers tried in order. HiGHS (simplex/IPM with crossover) returns vertex solutions whose
#: duals are exact to rounding; Clarabel (interior point) is accurate to ~1e-8; SCS (first
#: order) is the last resort and often only good enough to *prove* separability.
DEFAULT_SOLVERS: tuple[str, ...] = ("HIGHS", "CLARABEL", "SCS")

#: "Not recoverable" is decided when the certificate residual ‖Σ λ_i y_i F_i‖₁ is at most
#: ``ZERO_RTOL · scale`` with ``scale = max_i ‖F_i‖_∞``: then no head with ‖b‖_∞ ≤ 1 has a
#: margin above ``ZERO_RTOL · scale`` (weak duality) — an ε-certificate with ε = 1e-8
#: relative. That is 1000× below the margins that matter (the paper's regime produces
#: t* ≈ 1e-5 · scale, which must not be rounded away) and above the residuals of HiGHS's
#: vertex duals (≲ 1e-11 · scale at 50,000 × 30) and Clarabel's interior duals (≲ 1e-9).
#: A true margin in (0, 1e-8·scale] whose head cannot be verified is reported as not
#: recoverable at this resolution; ``certificate_residual`` states the exact bound.
ZERO_RTOL = 1e-8

#: "Recoverable" is decided when the head, re-evaluated in float64, has
#: ``min_i y_i F_i b / max(1, ‖b‖_∞) > EVAL_FACTOR · d · eps · scale``: that bound exceeds
#: the rounding error of a length-d dot product, so the sign of every evaluated margin is
#: exact and a positive verified margin is a proof, however small (1e-5 is not rounded away).
EVAL_FACTOR = 4.0


class RawSolution(NamedTuple):
    """What a solver returns for the scaled problem on signed features ``Z = y ⊙ F / scale``.

    status: the solver's status string ("optimal" is the only one trusted);
    margin: its objective t; head: b (d,); dual: multipliers of ``Z b ≥ t`` (N,).
    """

    status: str
    margin: float | None
    head: np.ndarray | None
    dual: np.ndarray | None


#: A solver is any callable ``signed_features (N, d) -> RawSolution`` (inject one in tests).
Solver = Callable[[np.ndarray], RawSolution]


@dataclass(frozen=True, eq=False)
class LPResult:
    """Answer of :func:`max_margin_head`.

    status: :class:`LPStatus` (recoverable | not_recoverable | inconclusive).
    margin: the solver's t* in the features' units (NaN when no solver answered).
    head: b (d,) with ‖b‖_∞ ≤ 1 (None when no solver answered).
    certificate: λ (N,) on the simplex (λ ≥ 0, Σλ = 1) over the *original* rows; inputs with
        λ > 0 are the counterexample (None when no solver answered).
    verified_margin: ``min_i y_i F_i b / max(1, ‖b‖_∞)`` recomputed in float64 (lower bound).
    certificate_residual: ``‖Σ_i λ_i y_i F_i‖₁`` recomputed in float64 (upper bound on t*).
    scale: ``max |F|``; tol_zero / tol_eval: the absolute thresholds used for the decision.
    reason: why this status (for inconclusive: every attempt's failure).
    solver: the solver whose answer decided (or the last tried).
    attempts: one line per solver tried.
    n_rows / n_unique: rows given / distinct signed rows actually sent to the solver.
    """

    status: LPStatus
    margin: float
    head: np.ndarray | None
    certificate: np.ndarray | None
    verified_margin: float
    certificate_residual: float
    scale: float
    tol_zero: float
    tol_eval: float
    reason: str
    solver: str | None
    attempts: tuple[str, ...] = field(default_factory=tuple)
    n_rows: int = 0
    n_unique: int = 0

    @property
    def recoverable(self) -> bool:
        return self.status == LPStatus.RECOVERABLE

    def rank(self) -> tuple[int, float]:
        """Sort key of LP answers (larger is better): recoverable first, then by verified
        margin (NaN last)."""
        m = self.verified_margin
        return (int(self.recoverable), m if np.isfinite(m) else -np.inf)

    def support(self) -> np.ndarray:
        """Indices of the inputs with λ > 0 (the counterexample), sorted by weight."""
        if self.certificate is None:
            return np.empty(0, dtype=np.int64)
        idx = np.flatnonzero(self.certificate > 0)
        return idx[np.argsort(-self.certificate[idx], kind="stable")]


# --------------------------------------------------------------------------- validation


def _validate(features: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    F = finite_array(features, "features", 2, "a matrix (N, d), one row per input")
    try:
        y = np.asarray(labels, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("labels: cannot be read as a vector of ±1") from None
    if y.shape != (F.shape[0],):
        raise InputError(
            f"labels has shape {y.shape}; it needs one label per feature row, i.e. ({F.shape[0]},)"
        )
    bad = ~((y == 1.0) | (y == -1.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"labels[{i}] = {y[i]!r}; labels must be +1 or -1 (use np.sign of the task's "
            f"scores and drop inputs with score 0 — they make the instance ill-posed)"
        )
    return F, y


# --------------------------------------------------------------------------- solvers


_highs_banner_absorbed = False


def _absorb_highs_banner() -> None:
    """HiGHS prints a copyright banner on C stdout when a process creates its first solver
    instance, which would land in the middle of ``ptverify run``/``check`` output. Create
    that first instance once with file descriptor 1 pointed at /dev/null."""
    global _highs_banner_absorbed
    if _highs_banner_absorbed:
        return
    _highs_banner_absorbed = True
    try:
        import highspy
    except ImportError:
        return
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def cvxpy_solver(name: str, **options: Any) -> Solver:
    """The §6 LP through cvxpy with solver ``name``; reads like the math."""

    def solve(Z: np.ndarray) -> RawSolution:
        import cvxpy as cp

        if name.upper() == "HIGHS":
            _absorb_highs_banner()

        d = Z.shape[1]
        b = cp.Variable(d)
        t = cp.Variable()
        margins = Z @ b >= t
        problem = cp.Problem(cp.Maximize(t), [margins, b <= 1, b >= -1])
        problem.solve(solver=name, **options)
        if problem.status != cp.OPTIMAL:
            return RawSolution(str(problem.status), None, None, None)
        dual = None if margins.dual_value is None else np.asarray(margins.dual_value, float)
        t_value = t.value
        assert t_value is not None  # set when the problem is optimal
        return RawSolution("optimal", float(t_value), np.asarray(b.value, float), dual)

    solve.__name__ = name
    return solve


_SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    # HiGHS's default feasibility tolerances (1e-7) let a t* ≈ 4e-9 appear on a problem
    # whose true t* is 0 (50,000 × 30 bench); 1e-10 gives vertex answers that verify.
    "HIGHS": {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    # SCS's defaults (1e-4) leave duals too rough to certify; ask for more, bounded in time.
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 5_000},
}


def _as_solver(spec: str | Solver) -> Solver:
    if callable(spec):
        return spec
    if isinstance(spec, str):
        return cvxpy_solver(spec, **_SOLVER_OPTIONS.get(spec.upper(), {}))
    raise InputError(f"solvers: each entry must be a cvxpy solver name or a callable, got {spec!r}")


def _name(solver: Solver) -> str:
    return getattr(solver, "__name__", None) or repr(solver)


class _Verdict(NamedTuple):
    status: LPStatus
    reason: str
    head: np.ndarray | None
    lam: np.ndarray | None  # over unique rows
    margin: float
    lower: float
    upper: float


def _no_answer(reason: str) -> _Verdict:
    """An inconclusive attempt that produced nothing to verify."""
    nan = float("nan")
    return _Verdict(LPStatus.INCONCLUSIVE, reason, None, None, nan, nan, nan)


def _verify(raw: RawSolution, Z: np.ndarray, scale: float, tol_zero: float, tol_eval: float):
    """Turn a raw solver answer into a decision using only float64 recomputation."""
    nan = float("nan")
    if raw.status != "optimal":
        return _no_answer(f"solver status {raw.status!r}")
    N, d = Z.shape
    head = None if raw.head is None else np.asarray(raw.head, dtype=np.float64).reshape(-1)
    lower = upper = nan
    if head is not None and head.shape == (d,) and np.isfinite(head).all():
        lower = float((Z @ head).min() * scale / max(1.0, np.abs(head).max()))
    else:
        head = None
    lam = None if raw.dual is None else np.asarray(raw.dual, dtype=np.float64).reshape(-1)
    if lam is not None and lam.shape == (N,) and np.isfinite(lam).all():
        # Dual feasibility is λ ≥ 0, Σλ = 1; solvers return it up to their tolerance, so
        # project (clip, renormalise) and let the recomputed residual judge the result.
        lam = np.clip(lam, 0.0, None)
        total = lam.sum()
        lam = lam / total if total > 0 else None
    else:
        lam = None
    if lam is not None:
        upper = float(np.abs(lam @ Z).sum() * scale)
    margin = nan if raw.margin is None else float(raw.margin) * scale
    if lower > tol_eval:
        return _Verdict(LPStatus.RECOVERABLE, "head verified", head, lam, margin, lower, upper)
    if upper <= tol_zero:
        return _Verdict(
            LPStatus.NOT_RECOVERABLE, "certificate verified", head, lam, margin, lower, upper
        )
    why = []
    why.append(
        "no head returned"
        if head is None
        else f"head's verified margin {lower:.3g} ≤ {tol_eval:.3g}"
    )
    why.append(
        "no usable dual" if lam is None else f"certificate residual {upper:.3g} > {tol_zero:.3g}"
    )
    return _Verdict(LPStatus.INCONCLUSIVE, "; ".join(why), head, lam, margin, lower, upper)


def _solve_with_fallbacks(
    Z: np.ndarray, solvers: Sequence[str | Solver], scale: float, tol_zero: float, tol_eval: float
) -> tuple[_Verdict, str | None, tuple[str, ...]]:
    """The one place where solvers are chosen: try each until one answer verifies."""
    attempts: list[str] = []
    last: _Verdict | None = None
    last_name: str | None = None
    for spec in solvers:
        solver = _as_solver(spec)
        last_name = _name(solver)
        try:
            raw = solver(Z)
            verdict = _verify(raw, Z, scale, tol_zero, tol_eval)
        except Exception as exc:  # noqa: BLE001 - any solver failure is an inconclusive try
            verdict = _no_answer(f"raised {type(exc).__name__}: {exc}")
        attempts.append(f"{last_name}: {verdict.status} ({verdict.reason})")
        if verdict.status != LPStatus.INCONCLUSIVE:
            return verdict, last_name, tuple(attempts)
        last = verdict
    assert last is not None
    return last._replace(reason="; ".join(attempts)), last_name, tuple(attempts)


# --------------------------------------------------------------------------- public


def max_margin_head(
    features: ArrayLike, labels: ArrayLike, *, solvers: Sequence[str | Solver] | None = None
) -> LPResult:
    """Decide whether a linear head recovers ``labels`` from ``features`` (THEORY §6).

    features (N, d): e.g. ``mask_probe(hmm, xs)`` (head), ``prompted_mask_probe(hmm, xs, u)``
    (prompt), ``pooled_features(model, xs)`` (pooling). labels (N,): ±1.
    solvers: cvxpy solver names and/or callables ``Z -> RawSolution``, tried in order
    (default :data:`DEFAULT_SOLVERS`).

    Identical signed rows ``y_i F_i`` are one constraint, so they are solved once; the
    certificate gives each distinct row's weight to its first occurrence.
    """
    F, y = _validate(features, labels)
    solvers = DEFAULT_SOLVERS if solvers is None else tuple(solvers)
    if not solvers:
        raise InputError("solvers is empty; pass at least one solver name or callable")
    N, d = F.shape
    Z_all = y[:, None] * F
    scale = float(np.abs(Z_all).max())
    tol_zero = ZERO_RTOL * scale
    tol_eval = EVAL_FACTOR * d * np.finfo(np.float64).eps * scale
    if scale == 0.0:
        # Every feature is 0: every head scores 0, and any λ ∈ Δ has residual 0.
        lam = np.full(N, 1.0 / N)
        return LPResult(
            LPStatus.NOT_RECOVERABLE, 0.0, np.zeros(d), lam, 0.0, 0.0, 0.0, 0.0, 0.0,
            "all features are zero", None, (), N, 1,
        )  # fmt: skip
    Z_unique, first, inverse = np.unique(Z_all, axis=0, return_index=True, return_inverse=True)
    del inverse
    verdict, solver, attempts = _solve_with_fallbacks(
        Z_unique / scale, solvers, scale, tol_zero, tol_eval
    )
    certificate = None
    upper = verdict.upper
    if verdict.lam is not None:
        certificate = np.zeros(N)
        certificate[first] = verdict.lam
        upper = float(np.abs(certificate @ Z_all).sum())  # recomputed on the original rows
    lower = verdict.lower
    if verdict.head is not None:
        lower = float((Z_all @ verdict.head).min() / max(1.0, np.abs(verdict.head).max()))
    return LPResult(
        status=verdict.status,
        margin=verdict.margin,
        head=verdict.head,
        certificate=certificate,
        verified_margin=lower,
        certificate_residual=upper,
        scale=scale,
        tol_zero=tol_zero,
        tol_eval=tol_eval,
        reason=verdict.reason,
        solver=solver,
        attempts=attempts,
        n_rows=N,
        n_unique=Z_unique.shape[0],
    )


__all__ = [
    "DEFAULT_SOLVERS",
    "EVAL_FACTOR",
    "INCONCLUSIVE",
    "LPResult",
    "LPStatus",
    "NOT_RECOVERABLE",
    "RECOVERABLE",
    "RawSolution",
    "Solver",
    "ZERO_RTOL",
    "cvxpy_solver",
    "max_margin_head",
]
