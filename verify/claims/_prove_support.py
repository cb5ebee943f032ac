"""Support of the ``prove`` deciders (split from :mod:`verify.claims.prove`, which re-exports
these names): the per-claim :class:`Tally`, one scope model (:class:`Model`,
:class:`MemModel`) with its exact and float forms, and the exact helpers the deciders share
(scores, identities, separability, certificates). The float-vs-exact tolerance is
POSTERIOR_TOL (see the note beside it)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np

from verify import crosscheck as exact
from verify.core import conditions, task
from verify.core.inference import posterior_h0
from verify.core.models import HMM, MemoryHMM
from verify.crosscheck.conditions import ExactCondition
from verify.crosscheck.linalg import solve
from verify.crosscheck.rational import RationalHMM, RationalMemoryHMM
from verify.crosscheck.scope import Cell, MemCell, inputs, stationary

from ._support import IDENTITY_TOL
from .registry import to_jsonable

#: Float posteriors of a scope model (≤ 3 states, ≤ 3 steps of probabilities in
#: multiples of 1/den) are within a few ulps of the exact ones; 1e-12 is far above that
#: rounding and far below any exact difference (≥ 1/den^(2T+1) / normaliser).
POSTERIOR_TOL = 1e-12


# --------------------------------------------------------------------------- tallies


@dataclass
class Tally:
    """One claim's counts over a chunk (or a merged scope).

    instances: every (model orbit, T, μ) in the claim's range; premise_false: instances
    whose premise fails (an implication holds there; counted, not a pass); discarded:
    ill-posed instances by reason; passed / exercised: decided instances where the claim
    held, and of those the ones with both labels on 𝒮; searched / misses: candidates of an
    existential claim examined and found not to be witnesses; failed; disagreements:
    instances where the float route differs from the exact one; first_*: the smallest
    (by key) counterexample / witness / disagreement, ``[key, message, instance, detail]``.
    """

    instances: int = 0
    premise_false: int = 0
    discarded: dict[str, int] = field(default_factory=dict)
    passed: int = 0
    exercised: int = 0
    searched: int = 0
    misses: int = 0
    failed: int = 0
    inconclusive: int = 0
    disagreements: int = 0
    first_fail: list | None = None
    first_witness: list | None = None
    first_disagreement: list | None = None

    def discard(self, reason: str) -> None:
        self.discarded[reason] = self.discarded.get(reason, 0) + 1

    def record(
        self, slot: str, key: tuple, message: str, instance: dict | None, detail: dict | None = None
    ) -> None:
        cur = getattr(self, slot)
        if cur is None or tuple(key) < tuple(cur[0]):
            setattr(self, slot, [list(key), message, instance, detail])

    def fail(self, key: tuple, message: str, instance: dict) -> None:
        """A counterexample at ``key``."""
        self.failed += 1
        self.record("first_fail", key, message, instance)

    def disagree(self, key: tuple, message: str, instance: dict | None) -> None:
        self.disagreements += 1
        self.record("first_disagreement", key, message, instance)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict) -> Tally:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})

    def merge(self, other: Tally) -> None:
        for name in (
            "instances",
            "premise_false",
            "passed",
            "exercised",
            "searched",
            "misses",
            "failed",
            "inconclusive",
            "disagreements",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for r, c in other.discarded.items():
            self.discarded[r] = self.discarded.get(r, 0) + c
        for slot in ("first_fail", "first_witness", "first_disagreement"):
            o = getattr(other, slot)
            if o is not None:
                self.record(slot, tuple(o[0]), o[1], o[2], o[3])

    @property
    def decided(self) -> int:
        return self.passed + self.failed + self.misses


# --------------------------------------------------------------------------- one model


class Model:
    """One scope model with its exact and float forms and per-T caches.

    start (k,), A (k, k), E (k, n): integer numerators over ``den``.
    """

    def __init__(
        self, cell: Cell, idx: int, start: np.ndarray, A: np.ndarray, E: np.ndarray
    ) -> None:
        self.cell, self.idx, den = cell, int(idx), cell.den
        fr = lambda v: Fraction(int(v), den)  # noqa: E731
        self.exact = RationalHMM(
            tuple(fr(v) for v in start),
            tuple(tuple(fr(v) for v in r) for r in A),
            tuple(tuple(fr(v) for v in r) for r in E),
        )
        self.float = HMM(np.asarray(start) / den, np.asarray(A) / den, np.asarray(E) / den)
        self.is_stationary = bool(stationary(np.asarray(start)[None], np.asarray(A)[None], den)[0])
        self._T: dict[int, dict] = {}
        self._prompt: dict[tuple, tuple] = {}

    @property
    def k(self) -> int:
        return self.cell.k

    def key(self, T: int, mi: int) -> tuple:
        return (self.cell.k, self.cell.n, T, self.cell.den, self.idx, mi)

    def at(self, T: int) -> dict:
        """Per-T cache: xs (𝒮), exact posterior rows, float posterior, agreement."""
        if T not in self._T:
            xs_all = inputs(self.cell.n, T)
            lik = exact.likelihood(self.exact, xs_all)
            xs = xs_all[np.array([v > 0 for v in lik], dtype=bool)]
            post = exact.posterior_h0(self.exact, xs)
            try:
                pf = posterior_h0(self.float, xs)
                err, why = float(np.abs(pf - post.to_float()).max()), ""
            except ValueError as exc:  # the float route refuses an instance exact decides
                pf, err = np.full(post.num.shape, np.nan), float("inf")
                why = f"float posterior_h0 raised {type(exc).__name__}: {exc}"
            self._T[T] = {"xs": xs, "post": post, "post_f": pf, "post_err": err, "post_why": why}
        return self._T[T]

    def c_head(self) -> tuple[bool, bool]:
        """(exact rank W = k, float conditions.c_head)."""
        return _c_head(self.exact.emission)

    def c_head_mu(self, mu: tuple[int, ...]) -> tuple[ExactCondition, bool]:
        """(exact C-HEAD(μ) condition, float c_head_mu holds)."""
        return _c_head_mu(self.exact.emission, mu)

    def c_prompt(self, mu: tuple[int, ...]) -> tuple[ExactCondition, conditions.ConditionResult]:
        """(exact C-PROMPT(μ) condition, float conditions.c_prompt), once per model and μ."""
        if mu not in self._prompt:
            self._prompt[mu] = (
                exact.c_prompt(self.exact, mu),
                conditions.c_prompt(self.float, np.asarray(mu, float)),
            )
        return self._prompt[mu]

    def G(self, T: int) -> np.ndarray:
        """Exact mask probe G(x) on 𝒮 (B, n) as Fractions."""
        c = self.at(T)
        if "G" not in c:
            c["G"] = exact.mask_probe(self.exact, c["xs"]).fractions()
        return c["G"]

    def instance(self, T: int, mu: tuple[int, ...]) -> dict:
        """The case-file instance (the registered claims' format): hmm, mu, xs = 𝒮."""
        return to_jsonable({"hmm": self.float, "mu": np.asarray(mu, float), "xs": self.at(T)["xs"]})


@lru_cache(maxsize=65536)
def _c_head_mu(emission: tuple, mu: tuple[int, ...]) -> tuple[ExactCondition, bool]:
    """(exact C-HEAD(μ), float c_head_mu holds): both depend on W alone, so one emission
    matrix (tuple of Fraction rows) is decided once per worker."""
    k = len(emission)
    ex = RationalHMM(
        tuple([Fraction(1, k)] * k),
        tuple(tuple(Fraction(int(i == j)) for j in range(k)) for i in range(k)),
        emission,
    )
    fl = conditions.c_head_mu(ex.to_float(), np.asarray(mu, float)).holds
    return exact.c_head_mu(ex, mu), fl


@lru_cache(maxsize=4096)
def _c_head(emission: tuple) -> tuple[bool, bool]:
    """(exact rank W = k, float conditions.c_head holds), W alone."""
    k = len(emission)
    ex = RationalHMM(
        tuple([Fraction(1, k)] * k),
        tuple(tuple(Fraction(int(i == j)) for j in range(k)) for i in range(k)),
        emission,
    )
    return exact.c_head(ex).holds, conditions.c_head(ex.to_float()).holds


def _scores(m: Model, T: int, mu: tuple[int, ...]) -> tuple[np.ndarray, list[Fraction], str]:
    """Exact signs of μᵀp(x), the exact scores, and a float-route disagreement ('' if none)."""
    c = m.at(T)
    num = c["post"].num @ np.array(mu, dtype=object)
    ex = [Fraction(int(a), int(d)) for a, d in zip(num, c["post"].den, strict=True)]
    sig = np.array([(v > 0) - (v < 0) for v in ex], dtype=np.int64)
    fs = c["post_f"] @ np.asarray(mu, float)
    # the task module's one tolerance (verify.core.task): below it a float score is a
    # near-tie that the float route cannot sign
    tol = task.float_error_bound(mu, T, len(mu))
    why = ""
    if c["post_why"]:
        why = c["post_why"][:300]
    elif c["post_err"] > POSTERIOR_TOL:
        why = f"float posterior differs from the exact one by {c['post_err']:.3e}"
    elif np.any((sig != 0) & (np.sign(fs) != sig)):
        why = "float labels sign(μᵀp(x)) differ from the exact ones"
    elif (float(np.abs(fs).min()) <= tol) != bool((sig == 0).any()):
        why = f"the task module's float test γ ≤ {tol:.2g} differs from exact γ = 0"
    return sig, ex, why


def _ill_posed(
    t: Tally,
    sig: np.ndarray,
    why: str = "",
    key: tuple = (),
    instance: Callable[[], dict] | None = None,
) -> bool:
    """Whether the instance is ill-posed (margin γ = 0: some exact score μᵀp(x) is 0 on 𝒮);
    if so it is discarded, and a float-route disagreement ``why`` (from :func:`_scores`) on
    it is still recorded at ``key`` with ``instance()`` (built only then)."""
    if not (sig == 0).any():
        return False
    t.discard("ill-posed: γ = 0 on 𝒮")
    if why:
        t.disagree(key, why, instance() if instance is not None else None)
    return True


def _both(sig: np.ndarray) -> bool:
    return bool((sig > 0).any() and (sig < 0).any())


def _identity(Gfr: np.ndarray, b: Sequence[Fraction | int], target: list[Fraction]) -> bool:
    """Exact ``G(x)·b == target(x)`` for every row."""
    bq = [Fraction(v) for v in b]
    for row, t in zip(Gfr, target, strict=True):
        if sum((g * w for g, w in zip(row, bq, strict=True)), Fraction(0)) != t:
            return False
    return True


def _float_identity(
    values: np.ndarray, target: list[Fraction], sig: np.ndarray, mu: tuple[int, ...]
) -> str:
    t = np.array([float(v) for v in target])
    err = float(np.abs(values - t).max()) / max(1.0, float(np.abs(mu).max()))
    if err > IDENTITY_TOL:
        return f"float witness decision values differ from the exact target by {err:.3e}"
    if np.any((sig != 0) & (np.sign(values) != sig)):
        return "float witness signs differ from the exact labels"
    return ""


def separable(Z: list[list[Fraction]]) -> tuple[bool, list[Fraction] | None, list[int]]:
    """Exactly: is there b with ``bᵀz_i > 0`` for every row z_i (d,)? By Gordan's theorem
    not iff 0 ∈ conv{z_i}; by Carathéodory then 0 is a convex combination of at most d + 1
    affinely independent z_i, whose weights are the unique solution of
    ``Σλ_i z_i = 0, Σλ_i = 1``. Returns (separable, λ or None, support)."""
    N, d = len(Z), len(Z[0])
    for size in range(1, min(N, d + 1) + 1):
        for sub in itertools.combinations(range(N), size):
            rows = [[Z[i][j] for i in sub] for j in range(d)] + [[Fraction(1)] * size]
            sol = solve(rows, [Fraction(0)] * d + [Fraction(1)], size)
            if sol.solution is not None and all(v >= 0 for v in sol.solution):  # solvable
                return False, list(sol.solution), list(sub)
    return True, None, []


def _cert(m: Model, T: int, sig: np.ndarray, G: np.ndarray, mu: tuple[int, ...]) -> dict | None:
    """None when a linear head on features G (B, n) recovers the labels, else the exact
    certificate of :func:`verify.crosscheck.find_certificate` (``Σλ y G(x) = 0``, re-checked;
    ``replay`` and case validation check it again)."""
    Z = [[int(y) * g for g in row] for y, row in zip(sig, G, strict=True)]
    sep, lam, sub = separable(Z)
    if sep:
        return None
    assert lam is not None  # not separable: separable() returns its λ
    xs = m.at(T)["xs"]
    hint = np.zeros(len(xs))
    hint[sub] = [float(v) for v in lam]
    cert = exact.find_certificate(
        m.exact, xs, sig, sub, lambda_hint=hint, task={"mu": [int(v) for v in mu]}
    )
    if cert is None:  # pragma: no cover - separable() found λ ≥ 0 on this support
        raise AssertionError("find_certificate found no λ on separable()'s support")
    return cert


class MemModel:
    """One memory.iid_exact scope model: N = 1, prior (m,), i.i.d. states π_S (s,),
    emission (m·s, n), integer numerators over ``den``; exact and float forms."""

    def __init__(
        self, cell: MemCell, idx: int, prior: np.ndarray, pi: np.ndarray, E: np.ndarray
    ) -> None:
        self.cell, self.idx, den = cell, int(idx), cell.den
        fr = lambda v: Fraction(int(v), den)  # noqa: E731
        s = cell.s
        pi_q = tuple(fr(v) for v in pi)
        self.exact = RationalMemoryHMM(
            (tuple(fr(v) for v in prior),),
            pi_q,
            tuple(pi_q for _ in range(s)),
            tuple([0] * s),
            tuple(tuple(fr(v) for v in r) for r in E),
        )
        p = np.asarray(pi) / den
        self.float = MemoryHMM(
            np.asarray(prior)[None] / den,
            p,
            np.tile(p, (s, 1)),
            np.zeros(s, dtype=np.int64),
            np.asarray(E) / den,
        )
        # W̄ (n, m) = Σ_st π_S[st] W_st, W_st = emission[st::s].T
        self.wbar = [
            [
                sum((pi_q[st] * fr(E[a * s + st][x]) for st in range(s)), Fraction(0))
                for a in range(cell.m)
            ]
            for x in range(cell.n)
        ]

    def key(self, T: int, mi: int) -> tuple:
        c = self.cell
        return (c.m, c.s, c.n, T, c.den, self.idx, mi)

    def instance(self, T: int, mu: tuple[int, ...], xs: np.ndarray) -> dict:
        return to_jsonable({"mem": self.float, "mu": np.asarray(mu, float), "cell": 0, "xs": xs})
