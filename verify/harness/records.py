"""What a claims run records: a claim's result, its case document, and the JSON Schemas of
the results and case files (the one place that says what a valid file is).

Results document (``schema = "ptverify.results"``, ``schema_version = 2``; version 1,
without ``coverage`` and the ``vacuous`` status, is still read)::

    {"schema", "schema_version", "created" (UTC ISO), "tool_version", "profile", "seed",
     "examples" (override or null), "workers", "report_dir" (as typed), "claims_from"
     [modules], "complete" (bool), "interrupted" (bool), "wall_time_s", "exit_code",
     "summary" {status: count}, "claims": [claim record, …]}

Claim record (:meth:`ClaimResult.to_dict`): the registry description (``id, theorem,
provenance, section, kind, statement, strategy, oracles, examples, thresholds, routes,
min_exercised, module``) plus ``strength`` and ``evidence`` (:func:`strength_of`; a
``proved`` record also carries ``scope``), ``status``
(:class:`~verify.claims.registry.ClaimStatus`), ``message``,
``profile``, ``budget``, ``seed``, ``counts`` {examples, passed, discarded, inconclusive,
searched}, ``time_s``, ``quantities`` {name: {count, min, max, mean, median, values}},
``coverage`` {size name: [min, max] (k, n, T, …), exercised (fraction of decided examples
that exercised the premise, or null), exercised_count, exercised_known, decided,
discard_rate, exact_decided, sizes {name: {value: count}}, targets {label: {max, min,
count}}}, ``case``
(the case document below, or null), ``shards`` (sharded runs only) and ``case_file`` (its
path relative to the report dir, added when the document is written).

Case document (``schema = "ptverify.case"``, ``schema_version = 1``), plain JSON, written
to ``cases/<claim id>.json`` and loaded back by ``ptverify replay``::

    {"schema", "schema_version", "claim", "claims_from" (module or .py path as the user
     gave it, or null), "claims_file" and "claims_sha256" (the module's absolute file and
     the sha256 of its bytes; user claims only, optional), "role" ("counterexample" |
     "witness"), "instance" {…}, "outcome" {status, message,
     quantities, detail}}

A case may carry an exact certificate (``verify.crosscheck.certificate``) at
``outcome.detail.certificate`` or ``outcome.detail.exact_certificate`` (where a claim's
Outcome puts it) or at the top level ``certificate``; one with ``"exact": true`` is
re-checked exactly on validation, and a certificate that fails the check makes the case
invalid.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import validators
from jsonschema.protocols import Validator

from verify.claims.registry import CLAIM_STATUSES, Claim, ClaimStatus
from verify.core.validation import InputError

RESULTS_SCHEMA = "ptverify.results"
RESULTS_SCHEMA_VERSION = 2
#: Results versions this ptverify reads (1: before coverage and ``vacuous``).
RESULTS_READABLE = (1, 2)
#: How strong a verdict is (the shared results vocabulary), strongest first.
STRENGTHS = ("proved", "certified", "tested", "tested (float route only)")
CASE_SCHEMA = "ptverify.case"
CASE_SCHEMA_VERSION = 1
ROLES = ("counterexample", "witness")


# --------------------------------------------------------------------------- records


@dataclass
class Counts:
    """Examples of one run by outcome (generation phase only; shrinking is not counted)."""

    examples: int = 0
    passed: int = 0
    discarded: int = 0
    inconclusive: int = 0
    searched: int = 0


@dataclass
class ClaimResult:
    """One claim's run. ``claim`` is the registry description (``Claim.describe()``);
    ``shards`` is set on a sharded run's merged result only."""

    claim: dict[str, Any]
    status: ClaimStatus
    message: str
    profile: str
    budget: int
    seed: int | None
    counts: Counts
    time_s: float
    quantities: dict[str, dict] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)
    case: dict | None = None
    shards: list[dict] | None = None
    #: set by the ``prove`` mode only (strength "proved" with the scope it covered)
    strength: str | None = None
    scope: dict | None = None

    def __post_init__(self) -> None:
        self.status = ClaimStatus(self.status)
        if self.strength is not None and self.strength not in STRENGTHS:
            raise InputError(f"strength {self.strength!r} not in {STRENGTHS}")
        if self.strength == "proved" and not isinstance(self.scope, dict):
            raise InputError("strength 'proved' needs the scope it covered (a dict)")

    def to_dict(self) -> dict:
        """The claim record of results.json (plain JSON types)."""
        out = {
            **self.claim,
            "status": self.status.value,
            "message": self.message,
            "profile": self.profile,
            "budget": self.budget,
            "seed": self.seed,
            "counts": asdict(self.counts),
            "time_s": self.time_s,
            "quantities": self.quantities,
            "coverage": self.coverage,
            "case": self.case,
        }
        strength, evidence = strength_of(out)
        out["strength"] = self.strength or strength
        out["evidence"] = evidence
        if self.scope is not None:
            out["scope"] = self.scope
        if self.shards is not None:
            out["shards"] = self.shards
        return out


def strength_of(record: dict) -> tuple[str | None, dict]:
    """How strong a claim record's verdict is, and the evidence behind it.

    - ``certified``: an existential claim's witness (or a counterexample) carries an exact
      rational certificate that re-checks (:func:`check_case_certificate`); a universal,
      implication or statistical claim whose every decided example was also decided on the
      exact rational route (``verify.exact``: labels as exact signs, float features equal
      to the exact ones within ``claims._support.ROUTE_TOL``, log p(x) alike) — the
      examples report it as ``sizes["exact_route"] = 1``, counted in
      ``coverage.exact_decided``;
    - ``tested``: N sampled examples, some of them decided on the exact route;
    - ``tested (float route only)``: no decided example (or no witness) ran the exact
      route — float arithmetic, cross-checked at most by the log-space float route;
    - ``proved`` is never inferred here: the ``prove`` mode sets it with its scope.
    None when nothing was decided (a crashed claim). ``evidence``: ``examples``,
    ``decided``, ``exact_decided``, ``exercised`` (fraction or null) and the measured
    ``sizes`` ({name: [min, max]}) the verdict rests on, plus ``certificate`` ("exact" or
    null) for a saved case.
    """
    cov = record.get("coverage") or {}
    decided = int(cov.get("decided") or 0)
    exact = int(cov.get("exact_decided") or 0)
    case = record.get("case")
    cert_ok = check_case_certificate(case)[0] if case else None
    evidence = {
        "examples": int((record.get("counts") or {}).get("examples", 0)),
        "decided": decided,
        "exact_decided": exact,
        "exercised": cov.get("exercised"),
        "sizes": {k: v for k, v in cov.items() if isinstance(v, list)},
        "certificate": "exact" if cert_ok else None,
    }
    if cert_ok:
        return "certified", evidence
    if record.get("kind") == "existential" and case and case.get("role") == "witness":
        sizes = (case.get("outcome") or {}).get("sizes") or {}
        return ("tested" if sizes.get("exact_route") == 1 else STRENGTHS[3]), evidence
    if decided == 0:
        return None, evidence
    if exact == decided and record.get("kind") != "existential":
        return "certified", evidence
    return ("tested" if exact else STRENGTHS[3]), evidence


def case_document(
    c: Claim,
    claims_from: str | None,
    role: str,
    instance: object,
    outcome: dict,
    *,
    claims_file: str | None = None,
    claims_sha256: str | None = None,
) -> dict:
    """A case document (see the module docstring); ``instance`` already plain JSON.
    ``claims_file`` / ``claims_sha256``: the user claims module's absolute file and hash
    (:func:`verify.claims.registry.module_fingerprint`), omitted for built-in claims."""
    doc = {
        "schema": CASE_SCHEMA,
        "schema_version": CASE_SCHEMA_VERSION,
        "claim": c.id,
        "claims_from": claims_from,
        "role": role,
        "instance": instance,
        "outcome": outcome,
    }
    if claims_file is not None:
        doc["claims_file"] = claims_file
        doc["claims_sha256"] = claims_sha256
    return doc


def replay_args(case: dict, path: str | Path) -> str:
    """What follows ``ptverify replay`` for a case file: ``--claims-from`` the user
    module's absolute file (or the name the case gives) when the claim is not built in,
    so the command works from any directory; then the case path (shell-quoted)."""
    module = case.get("claims_file") or case.get("claims_from")
    return shlex.join(["--claims-from", module, str(path)] if module else [str(path)])


# --------------------------------------------------------------------------- schemas


def _versioned(name: str, versions: tuple[int, ...]) -> dict:
    """The ``schema`` and ``schema_version`` properties of a document named ``name``."""
    return {
        "schema": {"type": "string", "const": name},
        "schema_version": {
            "type": "integer",
            "enum": list(versions),
            "x-expected": f"a version this ptverify reads {list(versions)}",
        },
    }


#: The case document. ``x-expected`` (ignored by validation) words an error message.
CASE_JSON_SCHEMA: dict = {
    "type": "object",
    "properties": {
        **_versioned(CASE_SCHEMA, (CASE_SCHEMA_VERSION,)),
        "claim": {"type": "string"},
        "claims_from": {"type": ["string", "null"]},
        "claims_file": {"type": ["string", "null"]},
        "claims_sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
        "role": {"type": "string", "enum": list(ROLES)},
        "instance": {"type": "object"},
        "outcome": {
            "type": "object",
            "properties": {"status": {"type": "string"}},
            "required": ["status"],
        },
    },
    "required": ["schema", "schema_version", "claim", "role", "instance", "outcome"],
}

_RANGE = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 2,
    "x-ordered": True,
    "x-expected": "[min, max]",
}

_COVERAGE = {
    "type": ["object", "null"],  # absent in version 1 and in crash records
    "properties": {
        "exercised": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 1,
            "x-expected": "a fraction in [0, 1] or null",
        },
        "sizes": {"type": "object"},
        "targets": {"type": "object"},
    },
    "additionalProperties": {"if": {"type": "array"}, "then": _RANGE},
}

_CLAIM_RECORD = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "theorem": {"type": "string"},
        "kind": {"type": "string"},
        "status": {"type": "string", "enum": list(CLAIM_STATUSES)},
        "message": {"type": "string"},
        "counts": {"type": "object"},
        "time_s": {"type": "number"},
        "quantities": {"type": "object"},
        "coverage": _COVERAGE,
        "case": {**CASE_JSON_SCHEMA, "type": ["object", "null"]},
        "provenance": {"type": "string"},
        "strength": {
            "type": ["string", "null"],
            "enum": [*STRENGTHS, None],
            "x-expected": f"one of {' | '.join(STRENGTHS)} or null",
        },
        "evidence": {"type": "object"},
        "scope": {"type": "object"},
    },
    "required": ["id", "theorem", "kind", "status", "message", "counts", "time_s", "quantities"],
    # a "proved" verdict says what it covered: the stated scope and the counts over it
    "if": {"properties": {"strength": {"const": "proved"}}, "required": ["strength"]},
    "then": {"required": ["scope", "counts"]},
}

#: The results document (claim records checked as far as reports rely on them).
RESULTS_JSON_SCHEMA: dict = {
    "type": "object",
    "properties": {
        **_versioned(RESULTS_SCHEMA, RESULTS_READABLE),
        "claims": {"type": "array", "items": _CLAIM_RECORD},
    },
    "required": ["schema", "schema_version", "claims"],
}


def _ordered(
    validator: Validator, flag: bool, instance: object, schema: dict
) -> Iterator[jsonschema.ValidationError]:
    """``x-ordered``: a list of numbers is non-decreasing."""
    if not (flag and isinstance(instance, list)):
        return
    nums = all(validator.is_type(v, "number") for v in instance)
    if nums and any(a > b for a, b in zip(instance, instance[1:], strict=False)):
        yield jsonschema.ValidationError(f"{instance!r} is not ordered")


_Draft = validators.Draft202012Validator
#: Draft 2020-12 with ``x-ordered``, and integers that are ints (1.0 is not a version).
_Validator = validators.extend(
    _Draft,
    validators={"x-ordered": _ordered},
    type_checker=_Draft.TYPE_CHECKER.redefine(
        "integer", lambda _, v: isinstance(v, int) and not isinstance(v, bool)
    ),
)
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "integer", float: "number",
               bool: "boolean", type(None): "null"}  # fmt: skip


def _error_message(err: jsonschema.ValidationError, where: str) -> str:
    """``where.field[i]…: what was expected`` for a schema violation."""
    path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    got = err.instance
    if err.validator == "required":
        missing = next(k for k in err.validator_value if k not in got)
        return f"{path}: missing field {missing!r}"
    if err.validator == "type":
        want = err.validator_value
        want = "/".join(want) if isinstance(want, list) else want
        return f"{path}: expected {want}, got {_JSON_TYPES.get(type(got), type(got).__name__)}"
    if "x-expected" in err.schema:
        return f"{path}: expected {err.schema['x-expected']}, got {got!r}"
    if err.validator == "const":
        return f"{path}: {got!r}, expected {err.validator_value!r}"
    if err.validator == "enum":
        return f"{path}: {got!r}, expected one of {'|'.join(map(str, err.validator_value))}"
    return f"{path}: {err.message}"


def _check(schema: dict, data: object, where: str) -> dict:
    """``data``, or InputError naming the first field (in schema order) that violates
    ``schema`` (a JSON object's schema)."""
    err = next(_Validator(schema).iter_errors(data), None)
    if err is not None:
        raise InputError(_error_message(err, where))
    if not isinstance(data, dict):  # the schemas here are all of type "object"
        raise InputError(f"{where}: expected object, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------- validation


def case_certificate(case: dict) -> tuple[dict | None, str]:
    """The case's exact certificate (a dict with an ``exact`` key) and where it sits:
    ``certificate``, ``outcome.detail.certificate`` or ``outcome.detail.exact_certificate``
    (None, "" when it has none)."""
    outcome = case.get("outcome")
    detail = outcome.get("detail") if isinstance(outcome, dict) else None
    detail = detail if isinstance(detail, dict) else {}
    for where, cert in (
        ("certificate", case.get("certificate")),
        ("outcome.detail.certificate", detail.get("certificate")),
        ("outcome.detail.exact_certificate", detail.get("exact_certificate")),
    ):
        if isinstance(cert, dict) and "exact" in cert:
            return cert, where
    return None, ""


def check_case_certificate(case: dict) -> tuple[bool | None, str]:
    """Re-check an exact certificate of a case: (None, "") without one (or one that is not
    ``exact``), else ``verify.crosscheck.check_certificate``'s (ok, message)."""
    cert, _ = case_certificate(case)
    if cert is None or cert.get("exact") is not True:
        return None, ""
    from verify.crosscheck.certificate import check_certificate

    return check_certificate(cert)


#: |float entry − exact entry| above which an instance's model is not its certificate's
#: (the exact model is the float one read as p/q to round-off, see verify.crosscheck.rational).
CERTIFICATE_MATCH_TOL = 1e-9


def certificate_mismatch(case: dict) -> str:
    """'' when the case's instance is the one its exact certificate was made of, else what
    differs: the instance's first model (JSON, ``kind`` hmm / memory_hmm) against the
    certificate's ``model_exact``, field by field (within :data:`CERTIFICATE_MATCH_TOL`).
    A case edited by hand would otherwise replay against a certificate of another model."""
    from fractions import Fraction

    import numpy as np

    cert, where = case_certificate(case)
    exact = cert.get("model_exact") if cert else None
    if not isinstance(exact, dict):
        return ""
    inst = case.get("instance") or {}
    model = next(
        (
            (k, v)
            for k, v in inst.items()
            if isinstance(v, dict) and v.get("kind") in ("hmm", "memory_hmm")
        ),
        None,
    )
    if model is None:
        return f"the instance has no model to compare with {where}.model_exact"
    key, m = model
    if m.get("kind") != exact.get("kind"):
        return f"instance.{key} is a {m.get('kind')}, {where}.model_exact a {exact.get('kind')}"
    for field_name, value in exact.items():
        if field_name in ("kind", "version"):
            continue
        try:
            want = np.vectorize(lambda v: float(Fraction(v)), otypes=[float])(value)
            got = np.asarray(m.get(field_name), dtype=float)
        except (TypeError, ValueError, ZeroDivisionError):
            return f"instance.{key}.{field_name}: not comparable with the certificate's"
        if got.shape != want.shape:
            return (
                f"instance.{key}.{field_name} has shape {got.shape}, the certificate's "
                f"model {want.shape}"
            )
        diff = float(np.max(np.abs(got - want))) if got.size else 0.0
        if not diff <= CERTIFICATE_MATCH_TOL:
            return (
                f"instance.{key}.{field_name} differs from {where}.model_exact by up to {diff:.3g}"
            )
    return ""


def _recheck_certificate(case: dict, where: str) -> None:
    ok, message = check_case_certificate(case)
    if ok is False:
        raise InputError(f"{where}.{case_certificate(case)[1]}: {message}")


def validate_case(data: object, where: str = "case", *, check_certificate: bool = True) -> dict:
    """Validate a case document against :data:`CASE_JSON_SCHEMA`; InputError names the
    offending field. An exact certificate is re-checked (unless ``check_certificate`` is
    False: replay checks it itself and reports the verdict)."""
    doc = _check(CASE_JSON_SCHEMA, data, where)
    if check_certificate:
        _recheck_certificate(doc, where)
    return doc


def validate_results(data: object, where: str = "results") -> dict:
    """Validate a results document against :data:`RESULTS_JSON_SCHEMA` and re-check the
    exact certificate of every case it holds."""
    doc = _check(RESULTS_JSON_SCHEMA, data, where)
    for i, c in enumerate(doc["claims"]):
        if c.get("case") is not None:
            _recheck_certificate(c["case"], f"{where}.claims[{i}].case")
    return doc


__all__ = [
    "STRENGTHS",
    "CASE_JSON_SCHEMA",
    "CASE_SCHEMA",
    "CASE_SCHEMA_VERSION",
    "RESULTS_JSON_SCHEMA",
    "RESULTS_READABLE",
    "RESULTS_SCHEMA",
    "RESULTS_SCHEMA_VERSION",
    "ClaimResult",
    "Counts",
    "strength_of",
    "case_certificate",
    "case_document",
    "certificate_mismatch",
    "replay_args",
    "check_case_certificate",
    "validate_case",
    "validate_results",
]
