"""Pinned cases: saved case files replayed as explicit examples before any generation.

``ptverify run --cases DIR`` (and ``pytest --ptverify --ptverify-cases DIR``) reads every
``*.json`` in DIR (not recursive, file-name order). Each must be a valid case document
(:func:`verify.harness.records.validate_case`, exact certificates re-checked) of a registered
claim; the runner checks a claim's pinned instances first (:func:`verify.harness.runner.run_claim`)
and a pinned case that fails again decides the claim on that first example, the way
Hypothesis's ``@example`` does. ``ptverify pin CASE --to DIR`` adds a case (:func:`pin`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from verify.claims import registry
from verify.claims.registry import to_jsonable
from verify.core.validation import InputError
from verify.harness.records import case_document, validate_case

if TYPE_CHECKING:
    import numpy as np

    from verify.core.models import HMM, MemoryHMM


def read_case(path: str | os.PathLike, *, check_certificate: bool = True) -> dict:
    """A validated case document from ``path``; InputError naming the file and field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read case file {str(p)!r}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"case file {p.name}: not JSON ({exc})") from None
    return validate_case(data, f"case file {p.name}", check_certificate=check_certificate)


def load_pinned(folder: str | os.PathLike) -> dict[str, list[dict]]:
    """Claim ID → its pinned case documents (file-name order) from ``folder``."""
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"--cases {str(d)!r}: not a folder; pass a folder of case files")
    out: dict[str, list[dict]] = {}
    for path in sorted(d.glob("*.json")):
        case = read_case(path)
        try:
            registry.get(case["claim"])
        except InputError:
            module = case.get("claims_file") or case.get("claims_from") or "MODULE"
            raise InputError(
                f"pinned case {path}: claim {case['claim']!r} is not registered; load its "
                f"module with --claims-from {module}"
            ) from None
        out.setdefault(case["claim"], []).append(case)
    return out


#: The claim a case of a user's model is for (``check --case``): the head theorem for an
#: HMM, the memory prompt theorem for a memory HMM (instances in that claim's format).
MODEL_CASE_CLAIMS = {"hmm": "head.exact", "memory": "memory.prompt"}


def model_case(model: HMM | MemoryHMM, xs: np.ndarray, mu: np.ndarray, cell: int = 0) -> dict:
    """A case document ``ptverify replay`` accepts for a user's model, task μ and input
    set xs (B, T): the instance of :data:`MODEL_CASE_CLAIMS`' claim, with that claim's
    outcome on it now; role ``counterexample`` (replay says whether it falsifies)."""
    from verify.core.models import MemoryHMM

    registry.load_builtin()
    if isinstance(model, MemoryHMM):
        c = registry.get(MODEL_CASE_CLAIMS["memory"])
        instance = {"mem": model, "mu": mu, "cell": cell, "xs": xs}
    else:
        c = registry.get(MODEL_CASE_CLAIMS["hmm"])
        instance = {"hmm": model, "mu": mu, "xs": xs}
    out = c.check(instance)
    return case_document(c, None, "counterexample", to_jsonable(instance), out.to_dict())


def pin(case_path: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Validate the case at ``case_path`` and copy it into ``folder`` as
    ``<claim>-<first 10 hex of sha256(instance)>.json`` (the same instance pinned twice is
    one file); return the new path."""
    case = read_case(case_path)
    digest = hashlib.sha256(
        json.dumps(case["instance"], sort_keys=True).encode("utf-8")
    ).hexdigest()[:10]
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    dest = d / f"{case['claim']}-{digest}.json"
    if dest.resolve() != Path(case_path).resolve():
        shutil.copyfile(case_path, dest)
    return dest


__all__ = ["MODEL_CASE_CLAIMS", "load_pinned", "model_case", "pin", "read_case"]
