"""Claim instances as typed values (THEORY §5): each family of a built-in claim is a frozen
dataclass of models, arrays and numbers, drawn by its generator in ``strategies/``.

At the harness boundary an instance is a plain dict (``as_dict``: field → value, in field
order, the same keys the case files have always held); ``from_dict`` reads one back (a
replayed or pinned case, a hand-written ``{"seed": 0}``), converting each field to its
declared type and naming the field when it cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from verify.core.models import HMM, MemoryHMM
from verify.core.validation import InputError

#: A float64 array (μ, prompts, probabilities).
FloatArray = npt.NDArray[np.float64]
#: An int64 array (input sets xs (B, T), state sets U, S).
IntArray = npt.NDArray[np.int64]

_I = TypeVar("_I", bound="Instance")


def _model(kind: type[HMM] | type[MemoryHMM]) -> Callable[[object], object]:
    def check(value: object) -> object:
        if not isinstance(value, kind):
            raise TypeError(f"expected a {kind.__name__}, got {type(value).__name__}")
        return value

    return check


def _number(v: object) -> int | float | str | np.number:
    if not isinstance(v, (int, float, str, np.number)):
        raise TypeError(f"expected a number, got {type(v).__name__}")
    return v


#: Field annotation (as written: ``from __future__ import annotations``) → converter.
_CONVERT: dict[str, Callable[[object], object]] = {
    "HMM": _model(HMM),
    "MemoryHMM": _model(MemoryHMM),
    "FloatArray": lambda v: np.asarray(v, dtype=np.float64),
    "IntArray": lambda v: np.asarray(v, dtype=np.int64),
    "int": lambda v: int(_number(v)),
    "float": lambda v: float(_number(v)),
}


@dataclass(frozen=True)
class Instance:
    """Base of the claim-instance dataclasses: the dict codec shared by every family."""

    def as_dict(self) -> dict[str, object]:
        """Field → value in field order (None-valued optional fields left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls: type[_I], value: _I | Mapping[str, object]) -> _I:
        """``value`` as a ``cls``: an instance is returned as is; a mapping's fields are
        converted to their declared types (unknown keys ignored); a missing or ill-typed
        field raises :class:`InputError` naming it."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise InputError(
                f"{cls.__name__}: expected a dict of fields, got {type(value).__name__}"
            )
        kw: dict[str, object] = {}
        for f in fields(cls):
            ann = str(f.type)
            optional = ann.endswith(" | None")
            if f.name not in value:
                if optional:
                    continue
                raise InputError(f"{cls.__name__}.{f.name}: missing from the instance")
            v = value[f.name]
            if v is None and optional:
                kw[f.name] = None
                continue
            try:
                kw[f.name] = _CONVERT[ann.removesuffix(" | None")](v)
            except (TypeError, ValueError) as exc:
                raise InputError(f"{cls.__name__}.{f.name}: {exc}") from None
        return cls(**kw)


@dataclass(frozen=True)
class Seeded(Instance):
    """A statistical claim's instance: one fixed seed (the runner makes ``{"seed": s}``)."""

    seed: int
