"""Results JSON and case files on disk: the document of a run, case files written next to
it, and both loaded back (validated by :mod:`verify.harness.records`, which owns their schemas).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections import Counter
from pathlib import Path

from verify.core.models import loads_json
from verify.core.validation import InputError
from verify.harness.files import atomic_write
from verify.harness.records import (
    RESULTS_SCHEMA,
    RESULTS_SCHEMA_VERSION,
    validate_case,
    validate_results,
)


def dumps(doc: object) -> str:
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


def load_results(path: str | os.PathLike) -> dict:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read results file {str(p)!r}: {exc.strerror or exc}") from None
    return validate_results(loads_json(text, f"results file {p.name}"), f"results {p.name}")
