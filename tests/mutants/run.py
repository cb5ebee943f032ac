"""Mutation testing of the gate: apply each catalogued bug to a copy and run the real gate.

Usage (from the repository root)::

    python tests/mutants/run.py                 # every patch in tests/mutants/
    python tests/mutants/run.py 03 07           # a subset, by number or name prefix
    python tests/mutants/run.py --jobs 2 --json reports/mutants.json --unit

For each ``tests/mutants/NN-name.patch``: the repository's tracked files (``git ls-files``,
as they are in the working tree) are copied to a temporary folder, the patch is applied
there with ``git apply``, and the full gate ``python -m verify run --profile ci --workers 2
--report-dir <tmp>/reports`` runs with that folder as cwd and on ``PYTHONPATH`` (checked:
``verify`` and ``strategies`` must import from the copy). Verdicts:

- caught: exit 1 and some claim that held (or found) on the unmutated copy is now
  falsified with a saved case (Hypothesis-shrunk for search claims; a fixed seed for
  statistical ones) or, for an existential claim, not_found;
- crashed-only: exit 1, but only because claims errored (a check or strategy raised):
  weaker evidence than a counterexample, counted separately and not in the score;
- escaped: exit 0 or 3 (the gate passed, or could not decide);
- broken: the patch does not apply, the copy imports the wrong code, the gate exits with
  another code or runs past ``--timeout``.

The score is always the full gate (there is no way to run a subset of claims). Before the
mutants, a control run on the unmutated copy (skip with ``--no-control``) must exit 0;
claims that did not hold there are never credited with a catch. ``--unit`` also runs the
unit tests of the modules a patch touches on the mutated copy (``pytest -x``).

This is a developer tool: nothing in ``verify`` or ``strategies`` imports it.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PATCH_RE = re.compile(r"^(\d\d)-[a-z0-9][a-z0-9-]*\.patch$")
#: Unit-test files run by ``--unit`` for a patch touching each source path (prefix match).
UNIT_TESTS = {
    "verify/core/models.py": ["tests/test_models.py"],
    "verify/core/validation.py": ["tests/test_models.py"],
    "verify/core/inference.py": ["tests/test_inference.py"],
    "verify/core/conditions.py": ["tests/test_conditions.py"],
    "verify/core/task.py": ["tests/test_task.py"],
    "verify/recovery/lp.py": ["tests/test_lp.py"],
    "verify/recovery/": ["tests/test_recovery.py", "tests/test_mlm.py"],
    "verify/recovery/analysis.py": ["tests/test_analysis.py"],  # check + sweep (issue 21)
    "verify/core/generator.py": ["tests/test_reference.py"],
    "verify/experiments/mlm.py": ["tests/test_mlm.py"],
    "verify/experiments/mlm_windows.py": ["tests/test_mlm.py"],
    "verify/recovery/training.py": ["tests/test_training.py"],
    "verify/experiments/reproduce/": ["tests/test_reproduce.py", "tests/test_authors.py"],
    "verify/experiments/authors.py": ["tests/test_authors.py"],
    "verify/crosscheck/": ["tests/test_exact.py"],
    "verify/harness/engines.py": ["tests/test_engines.py"],
    "verify/experiments/sweep/": ["tests/test_sweep.py"],
    "strategies/": ["tests/test_strategies.py"],
    "strategies/instance.py": ["tests/test_instances.py"],  # the case codec (issue 21)
    # issue 23: the pytest plugin, pinned cases, portable replay (mutants 45–49)
    "verify/harness/": ["tests/test_workflow.py"],
    "verify/cli/": ["tests/test_workflow.py"],
    # issue 24: verdict strength, provenance, the spec page, the asymptotic rule (35–39)
    "verify/harness/runner.py": ["tests/test_runner.py", "tests/test_verdicts.py"],
    "verify/harness/records.py": ["tests/test_reports.py", "tests/test_verdicts.py"],
    "verify/core/theory.py": ["tests/test_verdicts.py"],
    "verify/reports/": ["tests/test_reports.py", "tests/test_verdicts.py"],
    "verify/claims/registry.py": [
        "tests/test_registry.py",
        "tests/test_verdicts.py",
        "tests/test_workflow.py",
    ],
    "verify/claims/memory.py": ["tests/test_asymptotic.py"],
    "verify/claims/_ladder.py": ["tests/test_asymptotic.py"],
    "verify/claims/prove.py": ["tests/test_prove.py"],
    "verify/claims/_prove_support.py": ["tests/test_prove.py"],
}
#: Claim statuses that count as the gate noticing a bug (with ``exit 1``).
CATCHING = ("falsified", "not_found")


def catalogue(directory: Path = HERE) -> list[Path]:
    """The catalogue's patches, sorted by number; ValueError on a misnamed .patch file."""
    patches = sorted(directory.glob("*.patch"))
    bad = [p.name for p in patches if not PATCH_RE.match(p.name)]
    if bad:
        raise ValueError(f"mutant patches must be named NN-short-name.patch, got {bad}")
    return patches


def header(patch: Path) -> list[str]:
    """The comment lines before the first ``diff --git`` (what the bug is, what it breaks)."""
    lines = []
    for line in patch.read_text(encoding="utf-8").splitlines():
        if line.startswith("diff --git"):
            break
        if line.strip():
            lines.append(line.lstrip("#").strip())
    return lines


def touched_files(patch: Path) -> list[str]:
    """Source paths the patch modifies (from its ``diff --git a/X b/X`` lines)."""
    found = re.findall(r"^diff --git a/(\S+) b/", patch.read_text(encoding="utf-8"), re.M)
    return sorted(set(found))


def tracked_files(root: Path = ROOT) -> list[str]:
    """``git ls-files`` of the repository (paths relative to root)."""
    if shutil.which("git") is None:
        raise RuntimeError(
            "git is not on PATH; mutation testing needs git (git ls-files, git apply)"
        )
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    return [f for f in out.split("\0") if f]


def copy_tree(dest: Path, files: list[str], root: Path = ROOT) -> None:
    """Copy the working-tree state of ``files`` from root to dest (missing files skipped)."""
    for rel in files:
        src = root / rel
        if not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def apply_patch(patch: Path, tree: Path, check_only: bool = False) -> str:
    """``git apply [--check] patch`` inside tree (not a git repository); '' or git's error."""
    cmd = ["git", "apply", "--check", str(patch)] if check_only else ["git", "apply", str(patch)]
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    if proc.returncode == 0:
        return ""
    return proc.stderr.strip() or f"git apply exit {proc.returncode}"


def _env(tree: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _imports_from(tree: Path) -> str:
    """'' when ``verify`` and ``strategies`` import from tree, else what they import from."""
    code = "import verify, strategies; print(verify.__file__); print(strategies.__file__)"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=_env(tree), capture_output=True, text=True
    )
    if proc.returncode != 0:
        return f"import failed: {proc.stderr.strip()[-500:]}"
    paths = [Path(p).resolve() for p in proc.stdout.split()]
    wrong = [str(p) for p in paths if tree.resolve() not in p.parents]
    return f"imports resolve outside the copy: {wrong}" if wrong else ""


def run_gate(tree: Path, workers: int, timeout: float) -> dict:
    """The full ci gate on tree; returns exit code, wall time, per-claim records, output tail."""
    reports = tree / "reports"
    cmd = [sys.executable, "-m", "verify", "run", "--profile", "ci", "--workers", str(workers),
           "--report-dir", str(reports)]  # fmt: skip
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=tree, env=_env(tree), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"exit": None, "wall_s": time.perf_counter() - t0, "claims": [], "tail": "timeout"}
    wall = time.perf_counter() - t0
    claims = []
    results = reports / "results.json"
    if results.is_file():
        doc = json.loads(results.read_text(encoding="utf-8"))
        for c in doc.get("claims", []):
            case = c.get("case") or None
            claims.append({
                "id": c["id"], "kind": c.get("kind"), "status": c["status"],
                "message": (c.get("message") or "")[:300],
                "case_file": c.get("case_file") if case else None,
                "case_role": case.get("role") if case else None,
                "time_s": c.get("time_s"),
            })  # fmt: skip
    tail = (proc.stdout + proc.stderr)[-2000:]
    return {"exit": proc.returncode, "wall_s": wall, "claims": claims, "tail": tail}


def classify(gate: dict, healthy: set[str] | None) -> tuple[str, list[dict], list[str]]:
    """(verdict, catching claims [{id, status, evidence}], errored claim ids)."""
    if gate["exit"] is None:
        return "broken", [], []
    eligible = [c for c in gate["claims"] if healthy is None or c["id"] in healthy]
    catches = []
    for c in eligible:
        if c["status"] == "falsified" and c["case_file"] and c["case_role"] == "counterexample":
            shrunk = "fixed seed, not shrunk" if c["kind"] == "statistical" else "shrunk"
            catches.append({"id": c["id"], "status": "falsified", "evidence": shrunk})
        elif c["status"] == "not_found":
            catches.append({"id": c["id"], "status": "not_found", "evidence": "no witness"})
    errored = [c["id"] for c in eligible if c["status"] == "error"]
    if gate["exit"] == 1 and catches:
        return "caught", catches, errored
    if gate["exit"] == 1 and errored:
        return "crashed-only", [], errored
    if gate["exit"] in (0, 3):
        return "escaped", [], errored
    return "broken", catches, errored


def run_unit(tree: Path, files: list[str], timeout: float) -> dict:
    """pytest -x on the unit tests of the touched modules, in the mutated copy."""
    tests = sorted({t for f in files for pre, ts in UNIT_TESTS.items() if f.startswith(pre)
                    for t in ts})  # fmt: skip
    if not tests:
        return {"tests": [], "exit": None, "caught": None, "tail": "no unit tests mapped"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    try:
        proc = subprocess.run(
            cmd, cwd=tree, env=_env(tree), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"tests": tests, "exit": None, "caught": None, "tail": "timeout"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED") or " passed" in ln
             or " failed" in ln]  # fmt: skip
    return {"tests": tests, "exit": proc.returncode, "caught": proc.returncode == 1,
            "tail": "\n".join(lines[-6:])}  # fmt: skip


def run_one(patch: Path | None, files: list[str], args, healthy: set[str] | None) -> dict:
    """Copy, patch, import check, gate (and unit tests); the mutant's record."""
    name = patch.stem if patch else "control"
    tmp = Path(tempfile.mkdtemp(prefix=f"ptverify-mutant-{name[:2]}-"))
    rec: dict = {"name": name, "bug": header(patch) if patch else [],
                 "files": touched_files(patch) if patch else []}  # fmt: skip
    t0 = time.perf_counter()
    try:
        copy_tree(tmp, files)
        problem = apply_patch(patch, tmp) if patch else ""
        problem = problem or _imports_from(tmp)
        if problem:
            rec.update(verdict="broken", problem=problem, wall_s=time.perf_counter() - t0)
            return rec
        gate = run_gate(tmp, args.workers, args.timeout)
        verdict, catches, errored = classify(gate, healthy)
        rec.update(verdict=verdict, exit=gate["exit"], caught_by=catches, errored=errored,
                   claims=gate["claims"], gate_wall_s=round(gate["wall_s"], 1))  # fmt: skip
        if verdict == "broken":
            rec["problem"] = gate["tail"][-800:]
        if args.unit and patch:
            rec["unit"] = run_unit(tmp, rec["files"], args.timeout)
        rec["wall_s"] = round(time.perf_counter() - t0, 1)
        return rec
    finally:
        if args.keep:
            rec["tmp"] = str(tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def line(rec: dict) -> str:
    """One line per mutant: ``NN-name  caught by a, b  (94 s)``."""
    name, verdict = rec["name"], rec["verdict"]
    if verdict == "caught":
        parts = [
            c["id"] if c["evidence"] == "shrunk" else f"{c['id']} ({c['status']}: {c['evidence']})"
            for c in rec["caught_by"]
        ]
        what = "caught by " + ", ".join(parts)
        if rec.get("errored"):
            what += f"; errored: {', '.join(rec['errored'])}"
    elif verdict == "crashed-only":
        what = f"CRASHED ONLY (exit 1, errored: {', '.join(rec['errored'])})"
    elif verdict == "escaped":
        what = f"ESCAPED (exit {rec['exit']})"
    else:
        what = f"BROKEN ({(rec.get('problem') or '').splitlines()[-1:] or ['?']})"
    unit = rec.get("unit")
    if unit and unit.get("caught") is not None:
        what += f"  [unit tests: {'caught' if unit['caught'] else 'MISSED'}]"
    return f"{name:<44} {what}  ({rec.get('wall_s', 0):.0f} s)"


def select(patches: list[Path], wanted: list[str]) -> list[Path]:
    if not wanted:
        return patches
    chosen = [p for p in patches if any(p.stem.startswith(w) for w in wanted)]
    missing = [w for w in wanted if not any(p.stem.startswith(w) for p in patches)]
    if missing:
        raise SystemExit(f"no mutant matches {missing}; known: {[p.stem for p in patches]}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mutants", nargs="*", help="numbers or name prefixes (default: all)")
    ap.add_argument("--json", default=str(ROOT / "reports" / "mutants.json"),
                    help="summary JSON path (default reports/mutants.json)")  # fmt: skip
    ap.add_argument("--workers", type=int, default=2, help="gate workers per mutant (default 2)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per gate run")
    ap.add_argument("--no-control", action="store_true", help="skip the unmutated control run")
    ap.add_argument("--unit", action="store_true", help="also run the touched modules' unit tests")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copies")
    ap.add_argument("--strict", action="store_true", help="exit 1 unless every mutant is caught")
    args = ap.parse_args(argv)
    patches = select(catalogue(), args.mutants)
    files = tracked_files()
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    print(f"mutants: {len(patches)} patches, full ci gate each, {args.jobs} at a time", flush=True)
    healthy = None
    control = None
    if not args.no_control:
        control = run_one(None, files, args, None)
        ok = {c["id"] for c in control.get("claims", []) if c["status"] in ("held", "found")}
        print(f"control (unmutated): exit {control.get('exit')}, {len(ok)} claims held/found "
              f"({control.get('wall_s', 0):.0f} s)", flush=True)  # fmt: skip
        if control.get("exit") != 0:
            bad = [f"{c['id']}={c['status']}" for c in control.get("claims", [])
                   if c["status"] not in ("held", "found")]  # fmt: skip
            print(f"control run is not green ({bad or control.get('problem')}); those claims "
                  "cannot be credited with catches", flush=True)  # fmt: skip
        healthy = ok
    records: list[dict] = []
    out = Path(args.json)

    def save(complete: bool) -> dict:
        records.sort(key=lambda r: r["name"])
        counts = {v: sum(r["verdict"] == v for r in records)
                  for v in ("caught", "escaped", "crashed-only", "broken")}  # fmt: skip
        # the strongest evidence: a Hypothesis-shrunk counterexample (not a fixed-seed
        # statistical failure or a failed existential search alone)
        counts["caught_shrunk"] = sum(
            any(c["evidence"] == "shrunk" for c in r.get("caught_by", [])) for r in records
        )
        summary = {
            "schema": "ptverify.mutants", "schema_version": 1, "started": started,
            "complete": complete, "gate": "python -m verify run --profile ci",
            "workers": args.workers, "jobs": args.jobs,
            "score": f"{counts['caught']}/{len(records)}", "counts": counts,
            "wall_time_s": round(time.perf_counter() - t0, 1), "control": control,
            "mutants": records,
        }  # fmt: skip
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, out)  # written after every mutant: a long session keeps its results
        return summary

    with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_one, p, files, args, healthy): p for p in patches}
        for fut in cf.as_completed(futures):
            rec = fut.result()
            records.append(rec)
            print(line(rec), flush=True)
            save(False)
    summary = save(True)
    counts = summary["counts"]
    wall = time.perf_counter() - t0
    print(f"mutation score: {counts['caught']}/{len(records)}"
          f"  ({counts['caught_shrunk']} with a shrunk counterexample; "
          f"escaped {counts['escaped']}, crashed-only {counts['crashed-only']}, "
          f"broken {counts['broken']})")  # fmt: skip
    unit_missed = [r["name"] for r in records if r.get("unit", {}).get("caught") is False]
    if args.unit:
        print(f"unit tests missed: {', '.join(unit_missed) or 'none'}")
    print(f"total wall time: {wall:.0f} s")
    print(f"summary: {out}")
    if counts["broken"]:
        return 2
    if args.strict and counts["caught"] < len(records):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
