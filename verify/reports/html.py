"""The claims report in HTML: self-contained pages (inline CSS and SVG, no scripts, no
network) rendered from ``templates/`` by :mod:`verify.reports.pages`, written atomically.

Layout of ``report_dir``: ``index.html`` (one row per claim), ``claims/<id>.html`` (the
claim, its counts and histograms of its condition quantities), ``cases/<id>.html`` (the
shrunk counterexample or witness: model matrices as tables and heatmaps, task, inputs with
posteriors / features / labels / head outputs, certificate, replay command) next to
``cases/<id>.json``. Claim IDs are validated (no spaces, no '/'), so they name files.
"""

from __future__ import annotations

import json
from pathlib import Path

from verify.claims.registry import CLAIM_STATUSES
from verify.core import theory
from verify.harness.records import replay_args

from .pages import write_page
from .theory import render_theory
from .values import fmt

#: Parts of a case's outcome detail shown first, under these titles, in this order.
CASE_SECTIONS = (
    ("task", "Task"),
    ("inputs", "Conflicting inputs"),
    ("head", "Head"),
    ("certificate", "LP certificate"),
)


def _run_line(doc: dict) -> dict:
    """The index page's subtitle: profile, seed, date, state, wall time and exit code."""
    seed = doc.get("seed")
    return {
        "profile": doc.get("profile"),
        "seed": f"seed {seed}" if seed is not None else "seed: derandomized / per claim",
        "created": doc.get("created"),
        "state": "complete" if doc.get("complete") else "PARTIAL (interrupted or still running)",
        "wall_time_s": float(doc.get("wall_time_s", 0.0)),
        "exit_code": doc.get("exit_code"),
    }


def _claim_meta(c: dict) -> dict:
    """The claim page's first table (None rows are left out)."""
    ev = c.get("evidence") or {}
    return {
        "provenance": c.get("provenance") or c["theorem"],
        "strength": c.get("strength") or "no verdict",
        "evidence": _evidence_line(ev) if ev else None,
        "kind": c["kind"],
        "statement": c.get("statement"),
        "strategy": c.get("strategy"),
        "oracles": ", ".join(c.get("oracles", [])),
        "routes compared": "; ".join(c.get("routes", [])) or None,
        "profile": c.get("profile"),
        "budget (examples)": c.get("budget"),
        "seed": c.get("seed"),
        "module": c.get("module"),
    }


def _evidence_line(ev: dict) -> str:
    """What a verdict's strength rests on, in words (records.strength_of's ``evidence``)."""
    out = f"{ev.get('decided', 0)} decided of {ev.get('examples', 0)} examples"
    out += f", {ev.get('exact_decided', 0)} also decided in exact rationals"
    if ev.get("certificate"):
        out += "; the saved case carries an exact certificate, re-checked"
    return out


def _coverage(cov: dict) -> dict | None:
    """The claim page's coverage section: size ranges and distributions, the exercised
    fraction, the discard rate and the extremes reached by targeting (None if not recorded)."""
    if not cov:
        return None
    frac = cov.get("exercised")
    summary = {
        "premise exercised": (
            "not reported by this claim"
            if frac is None
            else f"{100 * float(frac):.1f}% ({cov.get('exercised_count')} of "
            f"{cov.get('exercised_known')} decided examples)"
        ),
        "discard rate": f"{100 * float(cov.get('discard_rate', 0.0)):.1f}%",
    }
    for name, rng in cov.items():
        if isinstance(rng, list) and len(rng) == 2:
            summary[f"{name} range"] = f"{fmt(rng[0])} … {fmt(rng[1])}"
    sizes, targets = cov.get("sizes") or {}, cov.get("targets") or {}
    reasons = cov.get("reasons") or {}
    return {"summary": summary, "sizes": sizes, "targets": targets, "reasons": reasons}


def _case_sections(detail: dict) -> list[tuple[str, str, object, bool]]:
    """(title, key, value, as_text) for each part of a case's detail: the
    :data:`CASE_SECTIONS` first, then the rest (strings shown as preformatted text)."""
    rest = dict(detail)
    out = [(title, key, rest.pop(key), False) for key, title in CASE_SECTIONS if key in rest]
    return out + [(key, key, v, isinstance(v, str)) for key, v in rest.items()]


def _replay_path(c: dict, report_dir: str | None) -> str:
    """The case file relative to where ``ptverify run`` was started (``report_dir`` as
    typed), or to the report folder."""
    rel = c.get("case_file") or f"cases/{c['id']}.json"
    return f"{report_dir.rstrip('/')}/{rel}" if report_dir else rel


def write_html(doc: dict, report_dir: str | Path) -> Path:
    """Write the whole HTML report; return the index path."""
    report_dir = Path(report_dir)
    for c in doc["claims"]:
        write_page(
            report_dir / "claims" / f"{c['id']}.html",
            "claim.html",
            c=c,
            meta=_claim_meta(c),
            counts={**c["counts"], "time (s)": c["time_s"]},
            coverage=_coverage(c.get("coverage") or {}),
            quantities=c.get("quantities", {}),
        )
        if c.get("case"):
            case = c["case"]
            write_page(
                report_dir / "cases" / f"{c['id']}.html",
                "case.html",
                c=c,
                case=case,
                outcome=case["outcome"],
                replay_path=replay_args(case, _replay_path(c, doc.get("report_dir"))),
                sections=_case_sections(case["outcome"].get("detail") or {}),
                case_json=json.dumps(case, indent=1)[:20000],
            )
    write_page(report_dir / theory.PAGE, "theory.html", body=render_theory())
    summary = doc.get("summary", {})
    # `ptverify reproduce --out REPORT_DIR/reproduce` (the default) is linked when present
    link = "reproduce/index.html" if (report_dir / "reproduce" / "index.html").exists() else None
    return write_page(
        report_dir / "index.html",
        "claims_index.html",
        run=_run_line(doc),
        cards=[(s, summary[s]) for s in CLAIM_STATUSES if summary.get(s)],
        claims=doc["claims"],
        # `ptverify prove`'s records (strength "proved") are listed apart from sampled ones
        proved=[c for c in doc["claims"] if c.get("strength") == "proved"],
        tested=[c for c in doc["claims"] if c.get("strength") != "proved"],
        scope=doc.get("scope") or {},
        not_expressible=doc.get("not_expressible") or {},
        reproduce_link=link,
    )


__all__ = ["write_html"]
