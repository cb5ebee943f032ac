"""Exact linear algebra over the rationals, on python-flint's ``fmpq_mat`` (FLINT's
fraction-free reduced row echelon form and rank). Matrices are lists of rows of Fractions
(or ints); results come back as Fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import NamedTuple

from flint import fmpq, fmpq_mat

from verify.core.validation import InputError

#: An exact entry, and a matrix as rows of them.
Exact = Fraction | int
Matrix = Sequence[Sequence[Exact]]


def _q(x: Exact) -> fmpq:
    f = x if isinstance(x, Fraction) else Fraction(x)
    return fmpq(f.numerator, f.denominator)


def _frac(x: fmpq) -> Fraction:
    return Fraction(int(x.p), int(x.q))


def to_fmpq_mat(rows: Matrix, ncols: int) -> fmpq_mat:
    """``rows`` (r, ncols) as an fmpq_mat (an empty row list gives a 0 × ncols matrix)."""
    return fmpq_mat(len(rows), ncols, [_q(v) for r in rows for v in r])


def rank(rows: Matrix, ncols: int) -> int:
    """Exact rank of a (r, ncols) rational matrix."""
    if not rows or ncols == 0:
        return 0
    return int(to_fmpq_mat(rows, ncols).rank())


def rref(rows: Matrix, ncols: int) -> tuple[list[list[Fraction]], list[int]]:
    """Reduced row echelon form (its non-zero rows) and the pivot columns."""
    if not rows or ncols == 0:
        return [], []
    R, r = to_fmpq_mat(rows, ncols).rref()
    out = [[_frac(R[i, j]) for j in range(ncols)] for i in range(int(r))]
    pivots = [next(j for j in range(ncols) if row[j] != 0) for row in out]
    return out, pivots


def nullspace(rows: Matrix, ncols: int) -> list[list[Fraction]]:
    """A basis of ``{z : M z = 0}`` (each basis vector has a 1 at one free column)."""
    R, pivots = rref(rows, ncols)
    free = [j for j in range(ncols) if j not in pivots]
    basis = []
    for f in free:
        z = [Fraction(0)] * ncols
        z[f] = Fraction(1)
        for row, p in zip(R, pivots, strict=True):
            z[p] = -row[f]
        basis.append(z)
    return basis


class Solve(NamedTuple):
    """Exact solution of ``M z = rhs``: solvable, one solution (free variables 0; None when
    unsolvable), the rank of M and of ``[M | rhs]``."""

    solvable: bool
    solution: tuple[Fraction, ...] | None
    rank: int
    rank_augmented: int


def solve(rows: Matrix, rhs: Sequence[Exact], ncols: int) -> Solve:
    """Solve ``M z = rhs`` for M (r, ncols) exactly, by the rref of ``[M | rhs]``."""
    if len(rows) != len(rhs):
        raise InputError(f"rhs has {len(rhs)} entries; the system has {len(rows)} equations")
    aug = [list(r) + [v] for r, v in zip(rows, rhs, strict=True)]
    R, pivots = rref(aug, ncols + 1)
    r_aug = len(pivots)
    r_m = sum(1 for p in pivots if p < ncols)
    if r_aug != r_m:
        return Solve(False, None, r_m, r_aug)
    z = [Fraction(0)] * ncols
    for row, p in zip(R, pivots, strict=True):
        z[p] = row[ncols]
    return Solve(True, tuple(z), r_m, r_aug)


def transpose(rows: Matrix, ncols: int) -> Matrix:
    return [[r[j] for r in rows] for j in range(ncols)]


def min_norm_solution(M: Matrix, rhs: Sequence[Exact], ncols: int) -> tuple | None:
    """The minimum-norm solution of ``Mᵀ b = rhs`` for M (n, ncols) — ``pinv(M).T @ rhs``
    when it is solvable — as ``b = M c`` with ``(Mᵀ M) c = rhs``; None when unsolvable."""
    n = len(M)
    Mt = transpose(M, ncols)
    gram = [[sum((Mt[i][x] * Mt[j][x] for x in range(n)), Fraction(0)) for j in range(ncols)]
            for i in range(ncols)]  # fmt: skip
    c = solve(gram, list(rhs), ncols).solution
    if c is None:  # not solvable
        return None
    return tuple(sum((M[x][j] * c[j] for j in range(ncols)), Fraction(0)) for x in range(n))


def range_residual_sq(M: Matrix, rhs: Sequence[Exact], ncols: int) -> Fraction:
    """``min_b ‖Mᵀb − rhs‖² / ‖rhs‖²`` exactly (0 for rhs = 0): the squared relative distance
    of rhs from range(Mᵀ), by projecting onto a basis of M's row space (from its rref)."""
    rhs = [Fraction(v) for v in rhs]
    norm = sum((v * v for v in rhs), Fraction(0))
    if norm == 0:
        return Fraction(0)
    basis, _ = rref(M, ncols)  # independent rows spanning range(Mᵀ)
    if not basis:
        return Fraction(1)
    d = len(basis)
    gram = [[sum((a * b for a, b in zip(basis[i], basis[j], strict=True)), Fraction(0))
             for j in range(d)] for i in range(d)]  # fmt: skip
    proj_rhs = [sum((a * b for a, b in zip(basis[i], rhs, strict=True)), Fraction(0))
                for i in range(d)]  # fmt: skip
    c = solve(gram, proj_rhs, d).solution
    assert c is not None  # the Gram matrix of independent rows is invertible
    res = [rhs[j] - sum((c[i] * basis[i][j] for i in range(d)), Fraction(0)) for j in range(ncols)]
    return sum((v * v for v in res), Fraction(0)) / norm


__all__ = [
    "Solve",
    "min_norm_solution",
    "nullspace",
    "range_residual_sq",
    "rank",
    "rref",
    "solve",
    "transpose",
]
