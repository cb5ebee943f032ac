"""Per-cell summaries: fractions of decided instances with Wilson intervals."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from verify.experiments.sweep.config import QUANTITIES
from verify.harness.stats import wilson_interval


def _decided(row: dict, quantity: str) -> bool:
    """Whether a row counts toward a quantity's fraction: ok instances; for LP-based
    quantities only those whose LPs decided (inconclusive is left out, never a 0 or a 1)."""
    if quantity == "resolved":
        return row["status"] in ("ok", "discarded")
    if row["status"] != "ok":
        return False
    if quantity == "head_recovers":
        return row["head_lp"] != "inconclusive"
    if quantity == "prompt_recovers":
        return row["prompt_lp"] != "inconclusive"
    if quantity == "prompt_only":
        return row["head_lp"] != "inconclusive" and row["prompt_lp"] != "inconclusive"
    return True


def summarize(rows: Iterable[dict]) -> list[dict]:
    """Per cell: counts by status and, per quantity, successes / decided with its Wilson
    interval; sorted by cell."""
    by_cell: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["generator"], r["k"], r["n"], r["T"], r["sparsity"], r["nnz"])
        by_cell.setdefault(key, []).append(r)
    out = []
    for key in sorted(by_cell):
        group = by_cell[key]
        rec: dict[str, Any] = dict(
            zip(("generator", "k", "n", "T", "sparsity", "nnz"), key, strict=True)
        )
        rec.update(
            instances=len(group),
            ok=sum(r["status"] == "ok" for r in group),
            discarded=sum(r["status"] == "discarded" for r in group),
            errors=sum(r["status"] == "error" for r in group),
        )
        for q, _title in QUANTITIES:
            decided = [r for r in group if _decided(r, q)]
            hits = sum(bool(r[q]) for r in decided)
            lo, hi = wilson_interval(hits, len(decided))
            frac = hits / len(decided) if decided else math.nan
            rec[q] = {
                "successes": hits,
                "trials": len(decided),
                "fraction": frac,
                "low": lo,
                "high": hi,
            }
        out.append(rec)
    return out
