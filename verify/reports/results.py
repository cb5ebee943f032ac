"""Results JSON (versioned schema), case files, and atomic writes.

Results document (``schema = "ptverify.results"``, ``schema_version = 2``; version 1,
without ``coverage`` and the ``vacuous`` status, is still read)::

    {"schema", "schema_version", "created" (UTC ISO), "tool_version", "profile", "seed",
     "examples" (override or null), "workers", "report_dir" (as typed), "claims_from"
     [modules], "complete" (bool), "interrupted" (bool), "wall_time_s", "exit_code",
     "summary" {status: count}, "claims": [claim record, …]}

Claim record: the registry description (``id, theorem, kind, statement, strategy,
oracles, examples, thresholds, routes, min_exercised, module``) plus ``status`` (held |
found | falsified | not_found | error | inconclusive | vacuous), ``message``, ``profile``,
``budget``, ``seed``, ``counts`` {examples, passed, discarded, inconclusive, searched},
``time_s``, ``quantities`` {name: {count, min, max, mean, median, values}}, ``coverage``
{size name: [min, max] (k, n, T, …), exercised (fraction of decided examples that
exercised the premise, or null), exercised_count, exercised_known, decided,
discard_rate, sizes {name: {value: count}}, targets {label: {max, min, count}}},
``case`` (the case document below, or null) and ``case_file`` (its path relative to the
report dir).

Case document (``schema = "ptverify.case"``, ``schema_version = 1``), plain JSON, written
to ``cases/<claim id>.json`` and loaded back by ``ptverify replay``::

    {"schema", "schema_version", "claim", "claims_from" (module or null),
     "role" ("counterexample" | "witness"), "instance" {…}, "outcome" {status, message,
     quantities, detail}}

A case may carry an exact certificate (``verify.exact.certificate``) at
``outcome.detail.certificate`` or ``outcome.detail.exact_certificate`` (where a claim's
Outcome puts it) or at the top level ``certificate``; one with ``"exact": true`` is
re-checked exactly on validation, and a certificate that fails the check makes the case
invalid.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from verify.claims.registry import CLAIM_STATUSES
from verify.files import atomic_write
from verify.models import loads_json
from verify.validation import InputError

RESULTS_SCHEMA = "ptverify.results"
RESULTS_SCHEMA_VERSION = 2
#: Results versions this ptverify reads (1: before coverage and ``vacuous``).
RESULTS_READABLE = (1, 2)
CASE_SCHEMA = "ptverify.case"
CASE_SCHEMA_VERSION = 1


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def case_relpath(claim_id: str) -> str:
    return f"cases/{claim_id}.json"


def results_document(
    claims: list[dict],
    *,
    profile: str,
    seed: int | None,
    examples: int | None,
    workers: int,
    claims_from: list[str],
    complete: bool,
    interrupted: bool,
    wall_time_s: float,
    exit_code: int,
    report_dir: str | None = None,
) -> dict:
    from verify import __version__

    for c in claims:
        c["case_file"] = case_relpath(c["id"]) if c.get("case") else None
    return {
        "schema": RESULTS_SCHEMA,
        "schema_version": RESULTS_SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tool_version": __version__,
        "profile": profile,
        "seed": seed,
        "examples": examples,
        "workers": workers,
        "report_dir": report_dir,
        "claims_from": list(claims_from),
        "complete": complete,
        "interrupted": interrupted,
        "wall_time_s": round(wall_time_s, 3),
        "exit_code": exit_code,
        "summary": dict(Counter(c["status"] for c in claims)),
        "claims": claims,
    }


def write_cases(doc: dict, report_dir: Path) -> list[Path]:
    out = []
    for c in doc["claims"]:
        if c.get("case"):
            out.append(atomic_write(report_dir / case_relpath(c["id"]), dumps(c["case"])))
    return out


def _field(data: dict, key: str, typ: type | tuple, where: str) -> Any:
    if key not in data:
        raise InputError(f"{where}: missing field {key!r}")
    val = data[key]
    if not isinstance(val, typ) or (typ is int and isinstance(val, bool)):
        tname = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise InputError(f"{where}.{key}: expected {tname}, got {type(val).__name__}")
    return val


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
    ``exact``), else ``verify.exact.check_certificate``'s (ok, message)."""
    cert, _ = case_certificate(case)
    if cert is None or cert.get("exact") is not True:
        return None, ""
    from verify.exact.certificate import check_certificate

    return check_certificate(cert)


def validate_case(data: Any, where: str = "case", *, check_certificate: bool = True) -> dict:
    """Strictly validate a case document; ValueError names the offending field. An exact
    certificate is re-checked (unless ``check_certificate`` is False: replay checks it
    itself and reports the verdict)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    if _field(data, "schema", str, where) != CASE_SCHEMA:
        raise InputError(f"{where}.schema: {data['schema']!r}, expected {CASE_SCHEMA!r}")
    if _field(data, "schema_version", int, where) != CASE_SCHEMA_VERSION:
        raise InputError(
            f"{where}.schema_version: {data['schema_version']!r} unsupported "
            f"(this ptverify reads version {CASE_SCHEMA_VERSION})"
        )
    _field(data, "claim", str, where)
    if data.get("claims_from") is not None:
        _field(data, "claims_from", str, where)
    if _field(data, "role", str, where) not in ("counterexample", "witness"):
        raise InputError(f"{where}.role: {data['role']!r}, expected counterexample|witness")
    _field(data, "instance", dict, where)
    outcome = _field(data, "outcome", dict, where)
    _field(outcome, "status", str, f"{where}.outcome")
    if check_certificate:
        ok, message = check_case_certificate(data)
        if ok is False:
            raise InputError(f"{where}.{case_certificate(data)[1]}: {message}")
    return data


def load_case(path: str | os.PathLike, *, check_certificate: bool = True) -> dict:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read case file {str(p)!r}: {exc.strerror or exc}") from None
    return validate_case(
        loads_json(text, f"case file {p.name}"),
        f"case file {p.name}",
        check_certificate=check_certificate,
    )


def validate_results(data: Any, where: str = "results") -> dict:
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    if _field(data, "schema", str, where) != RESULTS_SCHEMA:
        raise InputError(f"{where}.schema: {data['schema']!r}, expected {RESULTS_SCHEMA!r}")
    if _field(data, "schema_version", int, where) not in RESULTS_READABLE:
        raise InputError(
            f"{where}.schema_version: {data['schema_version']!r} unsupported "
            f"(this ptverify reads versions {list(RESULTS_READABLE)})"
        )
    claims = _field(data, "claims", list, where)
    for i, c in enumerate(claims):
        w = f"{where}.claims[{i}]"
        if not isinstance(c, dict):
            raise InputError(f"{w}: expected an object")
        for key, typ in (
            ("id", str),
            ("theorem", str),
            ("kind", str),
            ("status", str),
            ("message", str),
            ("counts", dict),
            ("time_s", (int, float)),
            ("quantities", dict),
        ):
            _field(c, key, typ, w)
        if c["status"] not in CLAIM_STATUSES:
            raise InputError(f"{w}.status: {c['status']!r} not in {CLAIM_STATUSES}")
        if c.get("coverage") is not None:  # absent in version 1 and in crash records
            _validate_coverage(c["coverage"], f"{w}.coverage")
        if c.get("case") is not None:
            validate_case(c["case"], f"{w}.case")
    return data


def _validate_coverage(cov: Any, where: str) -> None:
    if not isinstance(cov, dict):
        raise InputError(f"{where}: expected an object")
    frac = cov.get("exercised")
    if frac is not None and (
        isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 <= frac <= 1
    ):
        raise InputError(f"{where}.exercised: expected a fraction in [0, 1] or null, got {frac!r}")
    for key in ("sizes", "targets"):
        if key in cov and not isinstance(cov[key], dict):
            raise InputError(f"{where}.{key}: expected an object")
    for name, rng in cov.items():
        if name in ("sizes", "targets") or not isinstance(rng, list):
            continue
        if len(rng) != 2 or not all(isinstance(v, (int, float)) for v in rng) or rng[0] > rng[1]:
            raise InputError(f"{where}.{name}: expected [min, max], got {rng!r}")


def load_results(path: str | os.PathLike) -> dict:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read results file {str(p)!r}: {exc.strerror or exc}") from None
    return validate_results(loads_json(text, f"results file {p.name}"), f"results {p.name}")
