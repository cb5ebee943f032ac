"""What bad input is, in one place.

Every check on what a caller gave — shapes, NaN/inf, probabilities, token ranges, sizes,
JSON, flags — raises :class:`InputError` with a message naming the field and the fix, a
wrong type included (never ``TypeError``). It subclasses ``ValueError`` (so
``except ValueError`` and library users keep working), and it is how the CLI tells bad
input (exit 2) from a bug in ptverify: any other exception, a ``ValueError`` from deep
inside numpy included, is an internal error (exit 1, traceback saved).

The checks here know nothing of models; the layers above call them with the field's name
(``"start"``, ``"mu"``, ``"xs"``, …) and, where it helps, what one entry means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, overload

import array_api_compat
import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import torch

_T = TypeVar("_T")

#: What ``np.random.default_rng`` takes: every seeded function here accepts one.
SeedLike = int | np.random.SeedSequence | np.random.Generator | np.random.BitGenerator | None

#: Absolute tolerance on ``|sum(row) - 1|`` for every probability vector a model is built
#: from. Loose enough for decimal literals typed by a person in JSON (1/3 → 0.3333333333),
#: tight enough that a forgotten normalisation is caught.
SUM_TOL = 1e-8


class InputError(ValueError):
    """Bad input: the message names the field and the fix."""


# --------------------------------------------------------------------------- scalars


def _int_range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"an int in {lo}..{hi}"
    if lo == 0:
        return "a non-negative int"
    if lo is not None:
        return f"an int ≥ {lo}"
    if hi is not None:
        return f"an int ≤ {hi}"
    return "an int"


def as_int(
    value: object, field: str, lo: int | None = None, hi: int | None = None, note: str = ""
) -> int:
    """``value`` as an ``int`` in ``lo..hi`` (inclusive; None: unbounded).

    Python and numpy integers pass; ``bool``, floats (even whole ones) and strings do not.
    ``note`` (e.g. ``" (prompt length L)"``) is appended to the rule in the message.
    """
    rule = f"{field} must be {_int_range(lo, hi)}{note}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{rule}, got {value!r} ({type(value).__name__}); pass a whole number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InputError(f"{field} = {value} is out of range; {rule}")
    return int(value)


def as_cell(cell: object, n_cells: int) -> int:
    """A memory cell index j in ``0..N-1`` (the task cell j*)."""
    return as_int(cell, "cell", 0, n_cells - 1, f" (memory_prior has N={n_cells} rows)")


def check_size(value: int, field: str, limit: int) -> None:
    """Refuse a size above ``limit`` before anything of that size is allocated."""
    if value > limit:
        raise InputError(f"{field} = {value} exceeds the supported maximum {limit}")


@overload
def require(value: object, kind: type[_T], field: str, fix: str = "") -> _T: ...


@overload
def require(value: object, kind: tuple[type, ...], field: str, fix: str = "") -> Any: ...


def require(value: object, kind: type | tuple[type, ...], field: str, fix: str = "") -> object:
    """``value`` if it is an instance of ``kind``, else InputError naming the types wanted."""
    if isinstance(value, kind):
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    want = " or ".join(f"{k.__module__}.{k.__qualname__}" for k in kinds)
    raise InputError(
        f"{field} must be a {want}, got {type(value).__name__}" + (f"; {fix}" if fix else "")
    )


# --------------------------------------------------------------------------- float arrays

_WANT = {1: "a vector (k,)", 2: "a matrix (rows, cols)"}


def _read(value: ArrayLike, field: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{field}: cannot be read as an array of numbers ({exc}); pass nested lists "
            f"of floats or a numpy array"
        ) from None


def check_finite(arr: np.ndarray, field: str) -> None:
    """InputError naming the first NaN/inf entry of ``arr``."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"{field}{list(idx)} is {float(arr[idx])}; entries must be finite numbers "
            f"(no NaN or inf)"
        )


def finite_array(value: ArrayLike, field: str, ndim: int, want: str | None = None) -> np.ndarray:
    """``value`` as a non-empty finite float64 array of ``ndim`` dimensions (a new array
    when ``value`` is not already float64); ``want`` names the shape, e.g. "a matrix (N, d)"."""
    arr = _read(value, field)
    if arr.ndim != ndim:
        want = want or _WANT.get(ndim, f"{ndim} dimensions")
        raise InputError(f"{field}: expected {want}, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{field}: is empty (shape {arr.shape}); every size must be ≥ 1")
    check_finite(arr, field)
    return arr


def check_nonnegative(arr: np.ndarray, field: str) -> None:
    """InputError naming the first negative entry of ``arr``."""
    neg = arr < 0
    if neg.any():
        idx = tuple(int(i) for i in np.argwhere(neg)[0])
        raise InputError(
            f"{field}{list(idx)} = {float(arr[idx]):.12g} is negative; probabilities must be ≥ 0"
        )


def probability_array(value: ArrayLike, field: str, ndim: int) -> np.ndarray:
    """``value`` as a finite, non-negative float64 array of ``ndim`` dimensions, read-only
    (rows are checked to sum to one by :func:`check_rows_sum_to_one`, after the shapes)."""
    arr = finite_array(value, field, ndim)
    check_nonnegative(arr, field)
    arr.setflags(write=False)
    return arr


def check_rows_sum_to_one(arr: np.ndarray, field: str) -> None:
    """Each row of ``arr`` (last axis) is a distribution: ``|Σ row − 1| ≤ SUM_TOL``."""
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > SUM_TOL
    if off.any():
        if arr.ndim == 1:
            raise InputError(
                f"{field} sums to {float(sums):.12g}, not 1 (tolerance {SUM_TOL:g}); "
                f"divide it by its sum"
            )
        row = int(np.argmax(off))
        raise InputError(
            f"{field} row {row} sums to {float(sums[row]):.12g}, not 1 (tolerance {SUM_TOL:g}); "
            f"rows are distributions: divide each row by its sum"
        )


def weight_vector(value: ArrayLike, field: str, size: int, what: str) -> np.ndarray:
    """``value`` as a finite float64 vector (size,), one weight per ``what`` (e.g. the task
    weights μ, one per "hidden state (k)"); read-only."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{field}: cannot be read as a vector of numbers; pass {size} floats"
        ) from None
    if arr.shape != (size,):
        raise InputError(
            f"{field} has shape {arr.shape}; {field} must have shape ({size},), "
            f"one weight per {what}"
        )
    check_finite(arr, field)
    arr.setflags(write=False)
    return arr


# --------------------------------------------------------------------------- integer arrays


def index_array(
    value: ArrayLike,
    field: str,
    size: int,
    hi: int,
    *,
    of: str = "indices",
    per: str = "",
    note: str = "",
) -> np.ndarray:
    """``value`` as int64 indices (size,) in ``0..hi-1``, read-only; whole-valued floats
    (from JSON) are accepted. ``of`` names the indices ("cells"), ``per`` what each entry
    is for (", one cell per state"), ``note`` where the range comes from."""
    try:
        raw = np.asarray(value)
    except Exception:  # noqa: BLE001 - any unreadable input is the user's field error
        raise InputError(f"{field}: cannot be read as an array of ints") from None
    if raw.shape != (size,):
        raise InputError(f"{field} has shape {raw.shape}; it must be ({size},){per}")
    idx = _whole(raw, field, f"integers ({of})")
    out = (idx < 0) | (idx >= hi)
    if out.any():
        i = int(np.argmax(out))
        raise InputError(f"{field}[{i}] = {idx[i]} is out of range; {of} are 0..{hi - 1}{note}")
    idx.setflags(write=False)
    return idx


def _whole(raw: np.ndarray, field: str, want: str) -> np.ndarray:
    """An int64 copy of ``raw`` if its dtype is integer or its floats are whole numbers."""
    if raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)):
        return raw.astype(np.int64)
    if raw.size and raw.dtype.kind not in "iu":
        raise InputError(f"{field} must hold {want}, got dtype {raw.dtype}")
    return raw.astype(np.int64)


def index_set(value: ArrayLike, field: str, size: int, what: str) -> tuple[int, ...]:
    """A non-empty set of indices in ``0..size-1`` (any iterable or array of ints), sorted.

    ``what`` names the indices ("hidden states", "ordinary states") in the message.
    """
    rule = f"{field} must be a non-empty set of {what} in 0..{size - 1}, got {value!r}"
    try:
        raw = np.asarray(value).reshape(-1)
    except Exception:  # noqa: BLE001 - ragged, generators, …: the user's field error
        raise InputError(rule) from None
    out = tuple(sorted({int(h) for h in _whole(raw, field, f"integers ({what})")}))
    if not out or out[0] < 0 or out[-1] >= size:
        raise InputError(rule)
    return out


def token_array(
    xs: ArrayLike | torch.Tensor, n: int, field: str = "xs"
) -> np.ndarray | torch.Tensor:
    """Token ids ``xs`` (B, T) in ``0..n-1``: an int numpy array, or a torch tensor as given.

    An empty float array (``np.zeros((B, 0))``) is a valid empty batch.
    """
    if array_api_compat.is_torch_array(xs):
        if xs.dtype.is_floating_point or xs.dtype.is_complex or str(xs.dtype) == "torch.bool":
            raise InputError(f"{field} must hold integer token ids, got dtype {xs.dtype}")
        arr: np.ndarray | torch.Tensor = xs
    else:
        try:
            arr = np.asarray(xs)
        except Exception:  # noqa: BLE001 - ragged lists etc.: the user's input error
            raise InputError(
                f"{field}: cannot be read as a (B, T) array of token ids (ragged rows?)"
            ) from None
        if arr.dtype == object:
            raise InputError(f"{field}: ragged or non-numeric; pass a (B, T) array of ints")
        if arr.dtype.kind not in "iu":
            if arr.size == 0 and arr.dtype.kind == "f":
                arr = arr.astype(np.int64)
            else:
                raise InputError(
                    f"{field} must hold integer token ids, got dtype {arr.dtype}; "
                    f"convert with xs.astype(int) if the values are whole numbers"
                )
    shape = tuple(arr.shape)
    if len(shape) != 2:
        raise InputError(
            f"{field} must have shape (B, T), got {shape}; for one sequence pass xs[None, :]"
        )
    if shape[0] * shape[1]:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise InputError(f"{field} contains token {bad}; tokens must be in 0..{n - 1} (n={n})")
    return arr


__all__ = [
    "SUM_TOL",
    "SeedLike",
    "InputError",
    "as_cell",
    "as_int",
    "check_finite",
    "check_nonnegative",
    "check_rows_sum_to_one",
    "check_size",
    "finite_array",
    "index_array",
    "index_set",
    "probability_array",
    "require",
    "token_array",
    "weight_vector",
]
