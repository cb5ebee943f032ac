"""Bounded scopes for ``ptverify prove``: every HMM whose probabilities are multiples of
``1/den``, enumerated by index, with canonical forms up to state and token permutations.

A *cell* ``(k, n)`` holds every model ``(start, A, E)`` whose entries are multiples of
``1/den``: each row is a composition of ``den`` into k (start, rows of A) or n (rows of E)
non-negative parts. Rows are listed in increasing lexicographic order of their numerators,
and a model's index is the mixed-radix number of its row indices (start most significant,
then the rows of A, then the rows of E), so index order is the lexicographic order of the
flattened numerators ``(start, A, E)``.

Symmetry: relabelling states by σ and tokens by τ maps ``(start, A, E)`` to
``(start[σ], A[σ][:, σ], E[σ][:, τ])`` and every THEORY §5 claim to itself (with μ
permuted by σ, and the input set [n]^T mapped onto itself by τ). A model is *canonical*
when its index is the smallest of its orbit; ``prove`` decides canonical models only and
counts both models (the cell's size) and orbits (canonical models).

Tasks: μ ∈ {−1, 0, 1}^k, μ ≠ 0, up to sign (the first non-zero entry is +1; −μ flips every
label). Inputs: every x ∈ [n]^T, lexicographic.

Chunks: a cell's index range cut into pieces of at most ``chunk_size`` models; a chunk is a
pure function of ``(scope, cell, lo, hi)``, so any engine computes the same thing.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from verify.core.validation import InputError

#: Models per chunk by default: a chunk of a k = n = 3, den = 2 cell takes seconds.
CHUNK_SIZE = 4096
#: Largest cell ``prove`` enumerates (models); beyond it the index space is a cluster job
#: (see the README's design note) and the command says so.
MAX_CELL_MODELS = 10**12


@cache
def compositions(total: int, parts: int) -> tuple[tuple[int, ...], ...]:
    """Every tuple of ``parts`` non-negative ints summing to ``total``, lexicographic
    ascending. ``len == C(total + parts − 1, parts − 1)``."""
    out = [c for c in itertools.product(range(total + 1), repeat=parts) if sum(c) == total]
    return tuple(out)


@cache
def row_table(total: int, parts: int) -> tuple[np.ndarray, dict[tuple[int, ...], int]]:
    """(R, parts) int64 array of compositions and the inverse map row → index."""
    rows = compositions(total, parts)
    return np.array(rows, dtype=np.int64), {r: i for i, r in enumerate(rows)}


@dataclass(frozen=True)
class Cell:
    """Every HMM with k states, n tokens and probabilities in multiples of 1/den."""

    k: int
    n: int
    den: int

    @property
    def radices(self) -> tuple[int, int]:
        """(rows of length k, rows of length n) that are distributions."""
        return len(compositions(self.den, self.k)), len(compositions(self.den, self.n))

    @property
    def models(self) -> int:
        rk, rn = self.radices
        return rk ** (self.k + 1) * rn**self.k

    @property
    def key(self) -> str:
        return f"k{self.k}-n{self.n}-den{self.den}"

    def decode(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Model indices (C,) → numerators start (C, k), A (C, k, k), E (C, k, n)."""
        k, n = self.k, self.n
        rk, rn = self.radices
        tk, _ = row_table(self.den, k)
        tn, _ = row_table(self.den, n)
        idx = np.asarray(idx, dtype=np.int64)
        e_digits = np.empty((idx.size, k), dtype=np.int64)
        rest = idx.copy()
        for j in range(k - 1, -1, -1):
            e_digits[:, j] = rest % rn
            rest //= rn
        a_digits = np.empty((idx.size, k), dtype=np.int64)
        for j in range(k - 1, -1, -1):
            a_digits[:, j] = rest % rk
            rest //= rk
        s_digit = rest
        return tk[s_digit], tk[a_digits], tn[e_digits]

    def encode(self, start: np.ndarray, A: np.ndarray, E: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`decode` (numerator arrays with a leading batch axis)."""
        rk, rn = self.radices
        base = self.den + 1
        pk = base ** np.arange(self.k - 1, -1, -1, dtype=np.int64)
        pn = base ** np.arange(self.n - 1, -1, -1, dtype=np.int64)
        lk, ln = _lookup(self.den, self.k), _lookup(self.den, self.n)
        idx = lk[start @ pk]
        for j in range(self.k):
            idx = idx * rk + lk[A[:, j, :] @ pk]
        for j in range(self.k):
            idx = idx * rn + ln[E[:, j, :] @ pn]
        return idx

    def canonical(self, idx: np.ndarray) -> np.ndarray:
        """(C,) bool: the model is the smallest index of its orbit under S_k × S_n."""
        s, A, E = self.decode(idx)
        idx = np.asarray(idx, dtype=np.int64)
        keep = np.ones(idx.size, dtype=bool)
        for sig in itertools.permutations(range(self.k)):
            sg = list(sig)
            s2, A2 = s[:, sg], A[:, sg][:, :, sg]
            Es = E[:, sg]
            for tau in itertools.permutations(range(self.n)):
                other = self.encode(s2, A2, Es[:, :, list(tau)])
                keep &= other >= idx
        return keep


@dataclass(frozen=True)
class MemCell:
    """Every memory model of memory.iid_exact's premise with m values, s ordinary states,
    n tokens, probabilities in multiples of 1/den: N = 1 cell with prior (m,), i.i.d.
    states (every row of ``state_transition`` equals ``state_start`` π_S (s,)), pointer 0,
    emission (m·s, n). Index: mixed radix of (prior, π_S, emission rows), prior most
    significant. No symmetry reduction here: every model is its own orbit."""

    m: int
    s: int
    n: int
    den: int

    @property
    def k(self) -> int:
        return self.m * self.s

    @property
    def radices(self) -> tuple[int, ...]:
        return tuple(len(compositions(self.den, p)) for p in (self.m, self.s, self.n))

    @property
    def models(self) -> int:
        rm, rs, rn = self.radices
        return rm * rs * rn ** (self.m * self.s)

    def decode(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices (C,) → numerators prior (C, m), π_S (C, s), emission (C, m·s, n)."""
        rm, rs, rn = self.radices
        rest = np.asarray(idx, dtype=np.int64).copy()
        rows = self.m * self.s
        e = np.empty((rest.size, rows), dtype=np.int64)
        for j in range(rows - 1, -1, -1):
            e[:, j] = rest % rn
            rest //= rn
        pi = rest % rs
        rest //= rs
        return (
            row_table(self.den, self.m)[0][rest],
            row_table(self.den, self.s)[0][pi],
            row_table(self.den, self.n)[0][e],
        )

    def canonical(self, idx: np.ndarray) -> np.ndarray:
        return np.ones(np.asarray(idx).size, dtype=bool)


@cache
def _lookup(den: int, parts: int) -> np.ndarray:
    """Base-(den+1) code of a composition → its row index (−1 elsewhere)."""
    rows, _ = row_table(den, parts)
    base = den + 1
    table = np.full(base**parts, -1, dtype=np.int64)
    codes = rows @ (base ** np.arange(parts - 1, -1, -1, dtype=np.int64))
    table[codes] = np.arange(len(rows))
    return table


@cache
def tasks(k: int) -> tuple[tuple[int, ...], ...]:
    """μ ∈ {−1, 0, 1}^k, μ ≠ 0, first non-zero entry +1 (one per ±μ pair), in the
    lexicographic order of ``itertools.product((0, 1, -1), repeat=k)``."""
    out = []
    for mu in itertools.product((0, 1, -1), repeat=k):
        nz = [v for v in mu if v]
        if nz and nz[0] == 1:
            out.append(mu)
    return tuple(out)


@cache
def inputs(n: int, T: int) -> np.ndarray:
    """Every x ∈ [n]^T, (n**T, T) int64, lexicographic."""
    return np.array(list(itertools.product(range(n), repeat=T)), dtype=np.int64).reshape(-1, T)


def stationary(start: np.ndarray, A: np.ndarray, den: int) -> np.ndarray:
    """(C,) bool: ``start · A == start`` exactly (numerators over den and den²)."""
    return np.all(np.einsum("ci,cij->cj", start, A) == den * start, axis=1)


@dataclass(frozen=True)
class Scope:
    """The finite scope of a prove run: cells (k, n) in ``ks × ns`` (k-major), input
    lengths ``Ts``, denominator ``den``."""

    ks: tuple[int, ...]
    ns: tuple[int, ...]
    Ts: tuple[int, ...]
    den: int
    ms: tuple[int, ...] = (2,)
    ss: tuple[int, ...] = (2,)

    def __post_init__(self) -> None:
        if self.den < 1:
            raise InputError(f"--den must be ≥ 1, got {self.den}")
        for c in self.cells():
            if c.models > MAX_CELL_MODELS:
                raise InputError(
                    f"scope cell k={c.k}, n={c.n}, den={c.den} has {c.models:.3g} models, over "
                    f"{MAX_CELL_MODELS:.0g}; lower --k/--n/--den (or split the scope)"
                )

    def cells(self) -> list[Cell]:
        return [Cell(k, n, self.den) for k in self.ks for n in self.ns]

    @property
    def models(self) -> int:
        return sum(c.models for c in self.cells())

    def memory_cells(self) -> list[MemCell]:
        """memory.iid_exact's cells (m, s) × n, in that order."""
        return [MemCell(m, s, n, self.den) for m in self.ms for s in self.ss for n in self.ns]

    def chunks(
        self, chunk_size: int = CHUNK_SIZE, memory: bool = False
    ) -> list[tuple[Cell | MemCell, int, int]]:
        """(cell, lo, hi) index ranges in scope order; their union is every model once
        (HMM cells, then memory cells when ``memory``)."""
        if chunk_size < 1:
            raise InputError(f"chunk size must be ≥ 1, got {chunk_size}")
        out: list[tuple[Cell | MemCell, int, int]] = []
        cells: list[Cell | MemCell] = [*self.cells(), *(self.memory_cells() if memory else [])]
        for c in cells:
            for lo in range(0, c.models, chunk_size):
                out.append((c, lo, min(c.models, lo + chunk_size)))
        return out

    def to_dict(self) -> dict:
        return {
            "k": list(self.ks),
            "n": list(self.ns),
            "T": list(self.Ts),
            "den": self.den,
            "memory": {
                "N": 1,
                "m": list(self.ms),
                "s": list(self.ss),
                "states": "i.i.d. (every state_transition row = state_start)",
            },
            "tasks": "μ ∈ {−1,0,1}^k, μ ≠ 0, up to sign",
            "inputs": "every x ∈ [n]^T with P(x) > 0",
            "symmetry": "states and tokens up to permutation (canonical = smallest index)",
            "order": "k, n, T, den, then model index (lexicographic numerators), then μ",
            "models": self.models,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Scope:
        mem = d.get("memory") or {}
        return cls(
            tuple(d["k"]),
            tuple(d["n"]),
            tuple(d["T"]),
            int(d["den"]),
            tuple(mem.get("m", (2,))),
            tuple(mem.get("s", (2,))),
        )


def orbit_size_bound(k: int, n: int) -> int:
    """|S_k × S_n|: the most models an orbit can hold."""
    return math.factorial(k) * math.factorial(n)


__all__ = [
    "CHUNK_SIZE",
    "Cell",
    "MemCell",
    "Scope",
    "compositions",
    "inputs",
    "orbit_size_bound",
    "row_table",
    "stationary",
    "tasks",
]
