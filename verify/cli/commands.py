"""The ``ptverify`` subcommands replay, pin, prove and check (split from :mod:`verify.cli`,
which re-exports them and dispatches to them)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from verify.harness.engines import Engine

if TYPE_CHECKING:
    from verify.crosscheck.scope import Scope

from ._common import (
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    _load,
    _output_paths,
    _select,
    user_input,
    writable_dir,
)


def _replay_modules(case: dict, override: list[str]) -> list[str]:
    """The claims modules to load for a case: ``--claims-from`` when given (it overrides),
    else the module the case names, or its saved absolute file when that name does not
    import from here (a module name is only found next to where the case was made)."""
    if override:
        return list(override)
    spec, saved = case.get("claims_from"), case.get("claims_file")
    if not spec:
        return []
    if not (spec.endswith(".py") or all(part.isidentifier() for part in spec.split("."))):
        raise UsageError(f"case file claims_from: {spec!r} is not a module name or .py path")
    if spec.endswith(".py"):
        found = Path(spec).is_file()
    else:
        import importlib.util

        sys.path.insert(0, str(Path.cwd()))
        try:
            found = importlib.util.find_spec(spec) is not None
        except (ImportError, ValueError):
            found = False
        finally:
            sys.path.pop(0)
    if not found and saved and Path(saved).is_file():
        return [saved]
    if not found:
        raise UsageError(
            f"case file claims_from: cannot find {spec!r} from {Path.cwd()}; pass "
            "--claims-from MODULE_OR_PATH"
        )
    return [spec]


def cmd_replay(args: argparse.Namespace) -> int:
    from verify.claims import from_jsonable, get, load_claims_module
    from verify.claims.registry import module_fingerprint
    from verify.harness.records import certificate_mismatch
    from verify.reports import check_case_certificate, load_case

    with user_input():
        case = load_case(args.case, check_certificate=False)
    _load([])
    with user_input():
        for m in _replay_modules(case, args.claims_from):
            load_claims_module(m)
    c = get(case["claim"])
    # Warnings first: what is replayed may not be what was saved.
    saved_hash = case.get("claims_sha256")
    if saved_hash:
        path, now_hash = module_fingerprint(c.module)
        if now_hash is not None and now_hash != saved_hash:
            print(
                f"warning: the claims module {path} changed since this case was saved "
                f"(sha256 {saved_hash[:12]}… then, {now_hash[:12]}… now); the verdict below "
                "is the current code's"
            )
    mismatch = certificate_mismatch(case)
    if mismatch:
        print(
            f"warning: the instance no longer matches its certificate ({mismatch}); the "
            "certificate below is about its own model, not this instance"
        )
    cert_ok, cert_message = check_case_certificate(case)
    if cert_ok is not None:
        print(f"{case['claim']}: {cert_message}")
        if not cert_ok:
            print("the saved exact certificate does not hold")
            return EXIT_FAIL
    instance = from_jsonable(case["instance"], "instance")
    if not isinstance(instance, dict):
        raise UsageError("case file instance: expected an object")
    try:
        out = c.check(instance)
    except Exception as exc:  # noqa: BLE001 - reproducing a crash is a finding, not usage
        print(f"{c.id}: check raised {type(exc).__name__}: {exc}")
        return EXIT_FAIL
    print(f"THEORY claim {c.id} ({c.provenance}, {c.kind}) — saved {case['role']}")
    print(f"now: {out.status}: {out.message}")
    for k, v in out.quantities.items():
        print(f"  {k} = {v}")
    if out.status == "inconclusive":
        return EXIT_INCONCLUSIVE
    if case["role"] == "witness":
        return EXIT_OK if out.status == "witness" else EXIT_FAIL
    if out.status == "fail":
        print("the counterexample still falsifies the claim")
        return EXIT_FAIL
    print("the saved counterexample no longer falsifies the claim")
    return EXIT_OK


def cmd_pin(args: argparse.Namespace) -> int:
    """Validate a case (schema, exact certificate) and copy it into ``--to``."""
    from verify.harness.pinned import pin

    folder = writable_dir(args.to, "--to")
    with user_input():
        dest = pin(args.case, folder)
    print(f"ptverify: pinned {dest}; `ptverify run --cases {args.to}` replays it first")
    return EXIT_OK


def prove_scope(args: argparse.Namespace) -> Scope:
    """The scope of ``ptverify prove`` from its axes (the sweep's list syntax)."""
    from verify.crosscheck.scope import Scope
    from verify.experiments.sweep import parse_int_list

    with user_input():
        ks = parse_int_list(args.k, "--k", 1, 4)
        ns = parse_int_list(args.n, "--n", 1, 4)
        Ts = parse_int_list(args.T, "--T", 1, 4)
        ms = parse_int_list(args.m, "--m", 2, 3)
        ss = parse_int_list(args.s, "--s", 1, 3)
        if parse_int_list(args.N, "--N", 1, 4) != (1,):
            raise UsageError("--N: memory.iid_exact, the memory claim prove decides, has N = 1")
        if not 1 <= args.den <= 6:
            raise UsageError(f"--den {args.den}: expected 1 ≤ den ≤ 6")
        return Scope(ks, ns, Ts, args.den, ms, ss)


def cmd_prove(args: argparse.Namespace) -> int:
    from verify import reports
    from verify.crosscheck.scope import CHUNK_SIZE
    from verify.harness import runner
    from verify.harness.prove import prove

    if args.workers < 1:
        raise UsageError(f"--workers must be ≥ 1, got {args.workers}")
    chunk_size = CHUNK_SIZE if args.chunk_size is None else args.chunk_size
    if chunk_size < 1:
        raise UsageError(f"--chunk-size must be ≥ 1, got {chunk_size}")
    scope = prove_scope(args)
    report_dir, json_path, junit_path = _output_paths(args)
    _load([])
    ids = _select(args.ids)
    t0 = time.perf_counter()

    def tick(done: int, total: int) -> None:
        if not args.quiet:
            print(f"ptverify prove: chunk {done}/{total}", file=sys.stderr, flush=True)

    run = prove(ids, scope, report_dir, engine=Engine.from_args(args), chunk_size=chunk_size,
                on_chunk=tick)  # fmt: skip
    complete = not run.interrupted
    code = runner.exit_code(run.records) if complete else EXIT_INTERRUPTED
    doc = reports.results_document(
        run.records, profile="prove", seed=None, examples=None, workers=args.workers,
        claims_from=[], complete=complete, interrupted=run.interrupted,
        wall_time_s=time.perf_counter() - t0, exit_code=code, report_dir=args.report_dir,
    )  # fmt: skip
    doc["mode"] = "prove"
    doc["scope"] = scope.to_dict()
    doc["prove"] = run.totals
    doc["not_expressible"] = run.not_expressible
    reports.write_all(doc, report_dir, json_path, junit_path)
    for r in run.records:
        print(f"{r['id']:<20} {r['status']:<10} {r['counts']['instances']:>8} inst  "
              f"{r['message']}"[:220])  # fmt: skip
    for cid, why in run.not_expressible.items():
        print(f"{cid:<20} {'-':<10} {'':>8}       not in this scope: {why}"[:220])
    tot = run.totals
    cpu = tot["chunk_cpu_s"]
    inst = sum(r["counts"]["instances"] for r in run.records)
    rate = f"{inst / cpu:.0f} instances/s per core" if cpu > 0 else "all chunks resumed"
    print(
        f"ptverify prove: {tot['models']} models, {tot['orbits']} orbits "
        f"(reduction {tot['models'] / max(1, tot['orbits']):.1f}×), {inst} instances, "
        f"{tot['chunks']} chunks ({tot['chunks_resumed']} resumed) in {doc['wall_time_s']:.1f}s; "
        f"{rate}; report {report_dir / 'index.html'}; exit {code}"
    )
    for name in tot["chunks_damaged"]:
        print(f"ptverify prove: damaged chunk file {name} was recomputed", file=sys.stderr)
    for name, why in tot["chunks_failed"].items():
        print(f"ptverify prove: chunk {name} failed: {why}", file=sys.stderr)
    return code


def cmd_check(args: argparse.Namespace) -> int:
    from verify.harness.files import atomic_write
    from verify.recovery.analysis import (
        build_report,
        input_set,
        read_check_input,
        report_json,
        report_lines,
    )

    path = Path(args.model)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    mu = None
    if args.mu is not None:
        try:
            mu = [float(v) for v in args.mu.replace(" ", "").split(",") if v]
        except ValueError:
            raise UsageError(f"--mu {args.mu!r}: expected comma-separated numbers") from None
        if not mu or not all(math.isfinite(v) for v in mu):
            raise UsageError(f"--mu {args.mu!r}: expected finite comma-separated numbers")
    if args.T is not None and not 1 <= args.T <= 64:
        raise UsageError(f"--T {args.T}: expected 1 ≤ T ≤ 64")
    with user_input():
        inp = read_check_input(text, path.name, mu=mu, T=args.T, cell=args.cell)
    for flag, out in (("--json", args.json), ("--case", args.case)):
        if out:
            writable_dir(Path(out).parent, flag)
    case_mu = inp.mu
    if args.case and case_mu is None:
        raise UsageError('--case needs a task: pass --mu (or put "mu" in the model file)')
    report = build_report(inp, path.name, seed=args.seed)
    print("\n".join(report_lines(report)))
    if args.json:
        atomic_write(args.json, json.dumps(report_json(report), indent=1))
        print(f"ptverify: wrote {args.json}")
    if args.case and case_mu is not None:
        from verify.harness.pinned import model_case

        xs, _ = input_set(inp.model, inp.T, args.seed)
        case = model_case(inp.model, xs, case_mu, inp.cell)
        atomic_write(args.case, json.dumps(case, indent=1))
        print(
            f"ptverify: wrote {args.case} (claim {case['claim']}: "
            f"{case['outcome']['status']} now); `ptverify replay {args.case}` re-runs it"
        )
    return report.exit_code
