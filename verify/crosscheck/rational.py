"""Exact (rational) models: conversion from float models, JSON with fraction strings.

A :class:`RationalHMM` / :class:`RationalMemoryHMM` holds every probability as a
``fractions.Fraction``; rows sum to exactly 1. :func:`rational_model` builds one from a
float :class:`~verify.core.models.HMM` / :class:`~verify.core.models.MemoryHMM` (reading only their
array fields), from a model dict (floats, ints or fraction strings such as ``"1/3"``), or
returns an exact model unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any, NamedTuple, overload

import numpy as np

from verify.core.models import HMM, MemoryHMM
from verify.core.validation import InputError
from verify.crosscheck.linalg import nullspace

#: Default largest denominator a float probability may be recognised as (``p/q``, q ≤ this).
#: Strategies build probabilities as ratios of integer weights ≤ 4 over at most 64 states,
#: so their denominators stay far below it.
MAX_DEN = 10**6
#: A float x is the rational p/q when ``|x − p/q| ≤ ROUND_ULPS · eps · |x|``: within a few
#: units in the last place, i.e. x is p/q up to the round-off of the few operations that
#: built it (normalise: one division; rank repair: one mix). With q ≤ MAX_DEN the chance
#: that an arbitrary float is within that window of some such p/q is about 1e-3.
ROUND_ULPS = 16
#: A float start that is not itself a small rational is replaced by the exact stationary
#: law of the (rational) transition when ``max |start·A − start| ≤ STATIONARY_TOL`` and the
#: exact law is within STATIONARY_TOL of it entrywise (float stationary laws come from a
#: least-squares solve and are not correctly rounded).
STATIONARY_TOL = 1e-9

_EPS = float(np.finfo(np.float64).eps)


class ExactTooLarge(InputError):
    """An instance exceeds a documented limit of the exact route (the message names it)."""


# --------------------------------------------------------------------------- scalars


def to_fraction(
    value: Any, field: str, max_den: int = MAX_DEN, *, exact_float: bool = False
) -> Fraction:
    """One number as a Fraction: ints, Fractions and ``"p/q"`` strings exactly; floats
    when they are (to round-off, see ROUND_ULPS) ``p/q`` with ``q ≤ max_den`` — or, with
    ``exact_float``, at their exact binary value (task weights μ, prompt weights: nothing
    needs them to sum to 1, so the float itself is the number meant).

    ValueError naming ``field`` otherwise (the caller then uses a float route).
    """
    if isinstance(value, bool):
        raise InputError(f"{field}: {value!r} is a bool, not a probability")
    if isinstance(value, (Fraction, int, np.integer)):
        return Fraction(int(value)) if isinstance(value, np.integer) else Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise InputError(
                f'{field}: {value!r} is not a fraction string; write e.g. "1/3" or "0.25"'
            ) from None
    if hasattr(value, "p") and hasattr(value, "q"):  # flint.fmpq
        return Fraction(int(value.p), int(value.q))
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{field}: {value!r} is not a number") from None
    if not math.isfinite(x):
        raise InputError(f"{field}: {x} is not finite")
    if exact_float:
        return Fraction(x)
    f = Fraction(x).limit_denominator(max_den)
    if abs(float(x) - f) > ROUND_ULPS * _EPS * abs(x):
        raise InputError(
            f"{field}: {x!r} is not a rational with denominator ≤ {max_den} (to round-off); "
            f"the exact route needs rational probabilities — build them from integer weights, "
            f"pass fraction strings, or use the float route"
        )
    return f


def weight_fraction(value: Any, field: str, max_den: int = MAX_DEN) -> Fraction:
    """A task weight (an entry of μ, or of a prompt) as a Fraction: ints, Fractions and
    strings exactly; a float as the short rational p/q (q ≤ max_den) it is to round-off
    (``12/13`` stored as 0.923076923076923 reads back as 12/13), else at its exact binary
    value. The rule of ``verify.core.task`` (its exact route) and of certificates' ``task.mu``."""
    try:
        return to_fraction(value, field, max_den)
    except InputError:
        return to_fraction(value, field, max_den, exact_float=True)


def fraction_string(f: Fraction) -> str:
    """``"p/q"`` (``"p"`` when q = 1): the JSON form of an exact probability."""
    return str(f)


def _vector(values: Iterable[object], field: str, max_den: int) -> tuple[Fraction, ...]:
    arr = list(values)
    return tuple(to_fraction(v, f"{field}[{i}]", max_den) for i, v in enumerate(arr))


def _matrix(
    values: Iterable[Iterable[object]], field: str, max_den: int
) -> tuple[tuple[Fraction, ...], ...]:
    rows = [list(r) for r in values]
    if not rows or len({len(r) for r in rows}) != 1 or not rows[0]:
        raise InputError(f"{field}: expected a non-empty rectangular matrix")
    return tuple(
        tuple(to_fraction(v, f"{field}[{i}][{j}]", max_den) for j, v in enumerate(r))
        for i, r in enumerate(rows)
    )


def _check_distribution(row: tuple[Fraction, ...], field: str) -> None:
    neg = [i for i, v in enumerate(row) if v < 0]
    if neg:
        raise InputError(f"{field}[{neg[0]}] = {row[neg[0]]} is negative; probabilities are ≥ 0")
    total = sum(row, Fraction(0))
    if total != 1:
        raise InputError(
            f"{field} sums to {total} after exact conversion, not exactly 1; pass exact "
            f"fractions (or float weights normalised by one division) or use the float route"
        )


def _check_stochastic(mat: tuple[tuple[Fraction, ...], ...], field: str) -> None:
    for i, row in enumerate(mat):
        _check_distribution(row, f"{field} row {i}")


def _matvec_left(p: tuple[Fraction, ...], A: tuple[tuple[Fraction, ...], ...]) -> list[Fraction]:
    """``p A`` for a row vector p (k,) and A (k, k)."""
    k = len(A)
    return [sum((p[i] * A[i][j] for i in range(k)), Fraction(0)) for j in range(k)]


def exact_stationary_laws(A: tuple[tuple[Fraction, ...], ...]) -> list[list[Fraction]]:
    """A basis (rational vectors) of ``{π : π A = π}``, from the null space of ``Aᵀ − I``."""
    k = len(A)
    rows = [[A[j][i] - (1 if i == j else 0) for j in range(k)] for i in range(k)]
    return nullspace(rows, k)


def stationary_law(A: tuple[tuple[Fraction, ...], ...]) -> tuple[Fraction, ...] | None:
    """The unique stationary law of A (exact), or None when it is not unique."""
    basis = exact_stationary_laws(A)
    if len(basis) != 1:
        return None
    v = basis[0]
    total = sum(v, Fraction(0))
    law = tuple(x / total for x in v)
    return law if all(x >= 0 for x in law) else None


def _start_vector(
    values: Iterable[object], A: tuple[tuple[Fraction, ...], ...], field: str, max_den: int
) -> tuple[tuple[Fraction, ...], bool]:
    """The start law exactly: entrywise when possible, else the exact stationary law of A
    that the float start approximates. Returns (law, replaced_by_stationary)."""
    try:
        return _vector(values, field, max_den), False
    except ValueError as first:
        try:
            x = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise first from None
        Af = np.array([[float(v) for v in r] for r in A])
        if x.shape != (len(A),) or np.abs(x @ Af - x).max() > STATIONARY_TOL:
            raise first from None
        basis = exact_stationary_laws(A)
        if not basis:
            raise first from None
        if len(basis) == 1:  # the unique stationary law, whatever its denominators
            total = sum(basis[0], Fraction(0))
            cand = [v / total for v in basis[0]] if total else basis[0]
        else:  # several closed classes: the mixture the float start approximates
            B = np.array([[float(v) for v in b] for b in basis])  # (d, k)
            coef, *_ = np.linalg.lstsq(B.T, x, rcond=None)
            cand = [sum((Fraction(c).limit_denominator(max_den) * b[i]
                         for c, b in zip(coef, basis, strict=True)), Fraction(0))
                    for i in range(len(A))]  # fmt: skip
        if (
            any(c < 0 for c in cand)
            or sum(cand, Fraction(0)) != 1
            or max(abs(float(c) - xi) for c, xi in zip(cand, x, strict=True)) > STATIONARY_TOL
        ):
            raise InputError(
                f"{first}; it is stationary for the transition but no exact stationary law "
                f"with denominators ≤ {max_den} matches it"
            ) from None
        return tuple(cand), True


# --------------------------------------------------------------------------- models


def _common(values: list[Fraction]) -> int:
    return math.lcm(*(v.denominator for v in values)) if values else 1


class IntegerForm(NamedTuple):
    """An exact HMM over common denominators: ``start = s / ds``, ``A = a / dA``,
    ``E = e / dE`` with integer numpy object arrays s (k,), a (k, k), e (k, n).

    ``step[v] = a · diag(e[:, v])`` (k, k): one backward step through token v, so
    ``P(x_{1:T} | H_0) = step[x_1] ⋯ step[x_T] 1 / (dA · dE)**T``; ``fstep[v] =
    diag(e[:, v]) · a``: one forward step (row vectors).
    """

    s: np.ndarray
    ds: int
    a: np.ndarray
    dA: int
    e: np.ndarray
    dE: int
    step: tuple[np.ndarray, ...]
    fstep: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, hmm: RationalHMM) -> IntegerForm:
        def ints(rows: list[list[Fraction]], d: int) -> np.ndarray:
            return np.array([[int(v * d) for v in r] for r in rows], dtype=object)

        ds = _common(list(hmm.start))
        dA = _common([v for r in hmm.transition for v in r])
        dE = _common([v for r in hmm.emission for v in r])
        s = ints([list(hmm.start)], ds)[0]
        a = ints([list(r) for r in hmm.transition], dA)
        e = ints([list(r) for r in hmm.emission], dE)
        step = tuple(a * e[:, v][None, :] for v in range(e.shape[1]))
        fstep = tuple(e[:, v][:, None] * a for v in range(e.shape[1]))
        return cls(s, ds, a, dA, e, dE, step, fstep)


@dataclass(frozen=True, eq=False)
class RationalHMM:
    """An HMM (THEORY §1.1) with exact probabilities.

    start (k,), transition (k, k), emission (k, n): tuples of Fractions, rows summing to
    exactly 1. ``start_from_stationary``: the float start was recognised as the exact
    stationary law of ``transition`` (not entrywise).
    """

    start: tuple[Fraction, ...]
    transition: tuple[tuple[Fraction, ...], ...]
    emission: tuple[tuple[Fraction, ...], ...]
    start_from_stationary: bool = False
    kind = "hmm"

    def __post_init__(self) -> None:
        k = len(self.start)
        if len(self.transition) != k or any(len(r) != k for r in self.transition):
            raise InputError(f"transition must be ({k}, {k}) for start of length k={k}")
        if len(self.emission) != k:
            raise InputError(f"emission must have one row per hidden state (k={k})")
        _check_distribution(self.start, "start")
        _check_stochastic(self.transition, "transition")
        _check_stochastic(self.emission, "emission")

    @property
    def n_states(self) -> int:
        return len(self.start)

    @property
    def n_tokens(self) -> int:
        return len(self.emission[0])

    @cached_property
    def integers(self) -> IntegerForm:
        """The model over a common denominator per array (what the exact sums run on)."""
        return IntegerForm.of(self)

    @cached_property
    def is_stationary(self) -> bool:
        """``start · A == start`` exactly."""
        return tuple(_matvec_left(self.start, self.transition)) == tuple(self.start)

    def stationary(self) -> tuple[Fraction, ...]:
        """π: ``start`` when exactly stationary, else the unique exact stationary law;
        ValueError when the chain has several and start is not one of them."""
        if self.is_stationary:
            return self.start
        law = stationary_law(self.transition)
        if law is None:
            raise InputError(
                "start is not stationary and the transition has several stationary laws; "
                "pass a stationary start"
            )
        return law

    def to_dict(self) -> dict:
        """Model JSON (``verify.core.models`` field names) with fraction strings."""
        return {
            "kind": "hmm",
            "start": [fraction_string(v) for v in self.start],
            "transition": [[fraction_string(v) for v in r] for r in self.transition],
            "emission": [[fraction_string(v) for v in r] for r in self.emission],
        }

    def to_float(self) -> HMM:
        """The float64 model (each entry correctly rounded)."""
        return HMM(
            np.array([float(v) for v in self.start]),
            np.array([[float(v) for v in r] for r in self.transition]),
            np.array([[float(v) for v in r] for r in self.emission]),
        )

    def __repr__(self) -> str:
        return f"RationalHMM(k={self.n_states}, n={self.n_tokens})"


@dataclass(frozen=True, eq=False)
class RationalMemoryHMM:
    """A memory-augmented HMM (THEORY §1.3) with exact probabilities.

    memory_prior (N, m), state_start (s,), state_transition (s, s), pointer (s,) ints in
    [0, N), emission (m·s, n) with row ``a*s + st`` the law of value a read in state st.
    """

    memory_prior: tuple[tuple[Fraction, ...], ...]
    state_start: tuple[Fraction, ...]
    state_transition: tuple[tuple[Fraction, ...], ...]
    pointer: tuple[int, ...]
    emission: tuple[tuple[Fraction, ...], ...]
    start_from_stationary: bool = False
    kind = "memory_hmm"

    def __post_init__(self) -> None:
        s = len(self.state_start)
        N, m = len(self.memory_prior), len(self.memory_prior[0])
        if len(self.state_transition) != s or any(len(r) != s for r in self.state_transition):
            raise InputError(f"state_transition must be ({s}, {s})")
        if len(self.pointer) != s or any(not 0 <= j < N for j in self.pointer):
            raise InputError(f"pointer must hold one cell index in 0..{N - 1} per state (s={s})")
        if len(self.emission) != m * s:
            raise InputError(f"emission must have m·s = {m * s} rows")
        _check_stochastic(self.memory_prior, "memory_prior")
        _check_distribution(self.state_start, "state_start")
        _check_stochastic(self.state_transition, "state_transition")
        _check_stochastic(self.emission, "emission")

    @property
    def n_cells(self) -> int:
        return len(self.memory_prior)

    @property
    def n_values(self) -> int:
        return len(self.memory_prior[0])

    @property
    def n_ordinary(self) -> int:
        return len(self.state_start)

    @property
    def n_tokens(self) -> int:
        return len(self.emission[0])

    @property
    def n_product_states(self) -> int:
        return self.n_values**self.n_cells * self.n_ordinary

    def W_state(self, st: int) -> list[list[Fraction]]:  # noqa: N802 - the paper's name
        """``W_st`` (n, m): column a is the law of cell value a read in state st."""
        s, m = self.n_ordinary, self.n_values
        return [[self.emission[a * s + st][x] for a in range(m)] for x in range(self.n_tokens)]

    def configurations(self) -> list[tuple[int, ...]]:
        """Every memory content M (m**N of them), row-major (cell 0 most significant)."""
        return [
            tuple((c // self.n_values ** (self.n_cells - 1 - j)) % self.n_values
                  for j in range(self.n_cells))
            for c in range(self.n_values**self.n_cells)
        ]  # fmt: skip

    @cached_property
    def product(self) -> RationalHMM:
        """The HMM on product states ``h = c·s + st`` (THEORY §1.3), built from the
        definition: ``start[(c, st)] = Π_j prior[j, M_j] · state_start[st]``, transitions
        keep c, row ``(c, st)`` of emission is ``emission[M_{J(st)}·s + st]``."""
        s, k = self.n_ordinary, self.n_product_states
        start, trans, emis = [], [], []
        zero = Fraction(0)
        for c, M in enumerate(self.configurations()):
            prior = Fraction(1)
            for j, a in enumerate(M):
                prior *= self.memory_prior[j][a]
            for st in range(s):
                start.append(prior * self.state_start[st])
                row = [zero] * k
                row[c * s : (c + 1) * s] = self.state_transition[st]
                trans.append(tuple(row))
                emis.append(self.emission[M[self.pointer[st]] * s + st])
        return RationalHMM(tuple(start), tuple(trans), tuple(emis))

    def state_stationary(self) -> tuple[Fraction, ...]:
        """π_S: ``state_start`` when exactly stationary, else the unique exact stationary law."""
        if tuple(_matvec_left(self.state_start, self.state_transition)) == self.state_start:
            return self.state_start
        law = stationary_law(self.state_transition)
        if law is None:
            raise InputError(
                "state_start is not stationary and the state chain has several stationary "
                "laws; pass a stationary state_start"
            )
        return law

    def to_dict(self) -> dict:
        return {
            "kind": "memory_hmm",
            "memory_prior": [[fraction_string(v) for v in r] for r in self.memory_prior],
            "state_start": [fraction_string(v) for v in self.state_start],
            "state_transition": [[fraction_string(v) for v in r] for r in self.state_transition],
            "pointer": list(self.pointer),
            "emission": [[fraction_string(v) for v in r] for r in self.emission],
        }

    def to_float(self) -> MemoryHMM:
        return MemoryHMM(
            np.array([[float(v) for v in r] for r in self.memory_prior]),
            np.array([float(v) for v in self.state_start]),
            np.array([[float(v) for v in r] for r in self.state_transition]),
            np.array(list(self.pointer)),
            np.array([[float(v) for v in r] for r in self.emission]),
        )

    def __repr__(self) -> str:
        return (
            f"RationalMemoryHMM(N={self.n_cells}, m={self.n_values}, s={self.n_ordinary}, "
            f"n={self.n_tokens})"
        )


RationalModel = RationalHMM | RationalMemoryHMM
#: What :func:`rational_model` accepts: a float model, an exact one or a model dict.
ModelLike = HMM | MemoryHMM | RationalHMM | RationalMemoryHMM | dict
#: Weights (μ, w) as given: ints, floats, Fractions or fraction strings, read exactly.
Weights = Iterable[object]


def _pointer(values: Iterable[object]) -> tuple[int, ...]:
    out = []
    for i, v in enumerate(list(values)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)):
            raise InputError(f"pointer[{i}]: {v!r} is not a cell index")
        if isinstance(v, float) and v != int(v):
            raise InputError(f"pointer[{i}]: {v!r} is not an integer cell index")
        out.append(int(v))
    return tuple(out)


@overload
def rational_model(model: HMM | RationalHMM, max_den: int = MAX_DEN) -> RationalHMM: ...
@overload
def rational_model(
    model: MemoryHMM | RationalMemoryHMM, max_den: int = MAX_DEN
) -> RationalMemoryHMM: ...
@overload
def rational_model(model: dict, max_den: int = MAX_DEN) -> RationalModel: ...


def rational_model(model: object, max_den: int = MAX_DEN) -> RationalModel:
    """The exact form of ``model``: an HMM, a MemoryHMM, a model dict (the model JSON's
    field names, entries as floats, ints or fraction strings) or an exact model (returned
    as is).

    Floats become ``p/q`` with ``q ≤ max_den`` when they equal it to round-off
    (ROUND_ULPS); a start (or state_start) that is not entrywise such a rational but is
    stationary is replaced by the exact stationary law it approximates. Every row must then
    sum to exactly 1. ValueError naming the field otherwise: use the float route.
    """
    if isinstance(model, (RationalHMM, RationalMemoryHMM)):
        return model
    if isinstance(model, HMM):
        data = {"kind": "hmm", "start": model.start, "transition": model.transition,
                "emission": model.emission}  # fmt: skip
    elif isinstance(model, MemoryHMM):
        data = {
            "kind": "memory_hmm",
            "memory_prior": model.memory_prior,
            "state_start": model.state_start,
            "state_transition": model.state_transition,
            "pointer": model.pointer,
            "emission": model.emission,
        }
    elif isinstance(model, dict):
        data = model
    else:
        raise TypeError(
            f"rational_model needs an HMM, MemoryHMM, model dict or exact model, got "
            f"{type(model).__name__}"
        )
    kind = data.get("kind")
    if kind == "memory_hmm" or (kind is None and "memory_prior" in data):
        missing = [f for f in ("memory_prior", "state_start", "state_transition", "pointer",
                               "emission") if f not in data]  # fmt: skip
        if missing:
            raise InputError(f"model_exact: missing field(s) {missing}")
        trans = _matrix(data["state_transition"], "state_transition", max_den)
        start, repl = _start_vector(data["state_start"], trans, "state_start", max_den)
        return RationalMemoryHMM(
            _matrix(data["memory_prior"], "memory_prior", max_den),
            start,
            trans,
            _pointer(data["pointer"]),
            _matrix(data["emission"], "emission", max_den),
            repl,
        )
    if kind not in (None, "hmm"):
        raise InputError(f"model kind {kind!r} is unknown; expected 'hmm' or 'memory_hmm'")
    missing = [f for f in ("start", "transition", "emission") if f not in data]
    if missing:
        raise InputError(f"model_exact: missing field(s) {missing}")
    trans = _matrix(data["transition"], "transition", max_den)
    start, repl = _start_vector(data["start"], trans, "start", max_den)
    return RationalHMM(start, trans, _matrix(data["emission"], "emission", max_den), repl)


def as_hmm(model: RationalModel) -> RationalHMM:
    """The exact HMM the oracle runs on (the product HMM of a memory model)."""
    return model.product if isinstance(model, RationalMemoryHMM) else model


__all__ = [
    "ExactTooLarge",
    "IntegerForm",
    "MAX_DEN",
    "RationalHMM",
    "RationalMemoryHMM",
    "ModelLike",
    "RationalModel",
    "Weights",
    "as_hmm",
    "exact_stationary_laws",
    "fraction_string",
    "rational_model",
    "stationary_law",
    "to_fraction",
]
