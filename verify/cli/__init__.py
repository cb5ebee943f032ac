"""``ptverify`` command line (also ``python -m verify``).

Exit codes: 0 every claim held and every existential search found its witness; 1 a claim
was falsified, a search failed or a claim crashed; 2 bad usage or bad input (one message
on stderr, no traceback); 3 nothing failed but some result was inconclusive;
130 interrupted (partial results are kept).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import pkgutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from verify.core.validation import InputError
from verify.harness.engines import Engine
from verify.harness.progress import configure_logging

from ._common import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    _load,
    _output_paths,
    _select,
    user_input,
    writable_dir,
)
from ._common import (
    EXIT_INCONCLUSIVE as EXIT_INCONCLUSIVE,
)
from .commands import (
    _replay_modules as _replay_modules,
)
from .commands import (
    cmd_check,
    cmd_pin,
    cmd_prove,
    cmd_replay,
)
from .commands import (
    prove_scope as prove_scope,
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ptverify",
        description="Property-based verification of Wei, Xie & Ma (NeurIPS 2021).",
        epilog="exit codes: 0 all held/found, 1 falsified or search failed, "
        "2 bad usage/input, 3 only inconclusive",
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list registered claims, one per line")
    s.add_argument("--claims-from", action="append", default=[], metavar="MODULE")

    s = sub.add_parser("run", help="run claims and write reports")
    s.add_argument("ids", nargs="*", metavar="ID", help="claim IDs or families (head, prompt…)")
    s.add_argument("--profile", choices=("ci", "dev", "thorough"), default="ci")
    s.add_argument("--examples", type=int, default=None, help="override every claim's budget")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--report-dir", default="reports")
    s.add_argument("--json", default=None, help="results JSON (default REPORT_DIR/results.json)")
    s.add_argument("--junit", default=None, help="JUnit XML (default REPORT_DIR/junit.xml)")
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--claims-from", action="append", default=[], metavar="MODULE")
    s.add_argument("--quiet", action="store_true", help="no progress on stderr")
    s.add_argument("--engine", choices=("local", "ray"), default="local")
    s.add_argument("--shards", type=int, default=1, help="split each claim's budget in K runs")
    s.add_argument("--address", default=None, help="join this Ray cluster (--engine ray)")
    s.add_argument(
        "--cases",
        default=None,
        metavar="DIR",
        help="replay the case files in DIR first, as pinned regressions (see `ptverify pin`)",
    )

    s = sub.add_parser("pin", help="copy a case file into a folder of pinned regressions")
    s.add_argument("case", metavar="CASE.json")
    s.add_argument("--to", default="ptverify-cases", metavar="DIR", help="(default %(default)s)")

    s = sub.add_parser("check", help="evaluate every condition on your own model JSON")
    s.add_argument("model", metavar="MODEL.json")
    s.add_argument("--mu", default=None, help="task μ, comma-separated (default: from file)")
    s.add_argument("--T", type=int, default=None, help="input length (default 3)")
    s.add_argument("--cell", type=int, default=0, help="task cell j* (memory models)")
    s.add_argument("--seed", type=int, default=0, help="seed for sampled input sets")
    s.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")
    s.add_argument(
        "--case", default=None, metavar="FILE", help="also write a case `ptverify replay` runs"
    )

    s = sub.add_parser("replay", help="re-run a saved counterexample or witness")
    s.add_argument("case", metavar="FILE.json")
    s.add_argument(
        "--claims-from",
        action="append",
        default=[],
        metavar="MODULE",
        help="load the claim from here instead of the module the case names",
    )

    s = sub.add_parser("report", help="rebuild the HTML report from a results JSON")
    s.add_argument("--json", default=None, help="results JSON (default REPORT_DIR/results.json)")
    s.add_argument("--report-dir", default="reports")
    s.add_argument("--junit", default=None)

    s = sub.add_parser("reproduce", help="re-run the paper's experiments (THEORY §8)")
    s.add_argument("--preset", choices=("smoke", "small", "paper"), default="smoke")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    s.add_argument(
        "--out", default="reports/reproduce", help="linked from the claims report when here"
    )
    s.add_argument(
        "--engine",
        choices=("local", "ray"),
        default=None,
        help="pretrain the MLMs as parallel tasks first (default: one by one)",
    )
    s.add_argument("--workers", type=int, default=1, help="processes (local) or CPUs (ray)")
    s.add_argument("--address", default=None, help="join this Ray cluster (--engine ray)")
    s.add_argument(
        "--experiment", choices=("vanilla", "memory"), help="only this experiment (default both)"
    )
    s.add_argument("--k", help="only these hidden-state counts, e.g. 8,20 (memory: k = 4m)")
    s.add_argument("--seeds", type=int, help="only the first N seeds of every panel")
    s.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a busy CPU)")
    s.add_argument(
        "--convention",
        choices=("theory", "authors", "both"),
        default="theory",
        help="THEORY's conventions, the authors' pipeline (THEORY §8), or both side by side",
    )

    s = sub.add_parser(
        "sweep", help="conditions and recovery over a grid of k, n, … (phase diagrams)"
    )
    s.add_argument("--config", default=None, metavar="FILE.toml", help="grid from a TOML file")
    for axis, what in (
        ("k", "hidden states, e.g. 2,4,6 or 2:30:4"), ("n", "tokens, e.g. 3,5 or 2:12"),
        ("T", "input lengths"), ("sparsity", "τ_trans (reference) or dense|sparse|permutation"),
        ("nnz", "task weights (|supp μ| ≤ nnz)"), ("generator", "reference and/or strategies"),
    ):  # fmt: skip
        s.add_argument(f"--{axis}", default=None, help=what)
    s.add_argument("--instances", default=None, help="instances per cell (default 12)")
    s.add_argument("--seed", default=None, help="global seed (default 0)")
    s.add_argument("--prompts", default=None, help="witness (default) or states: prompts tried")
    s.add_argument("--engine", choices=("local", "ray"), default="local")
    s.add_argument("--workers", type=int, default=1, help="processes (local) or CPUs (ray)")
    s.add_argument("--address", default=None, help="join this Ray cluster (--engine ray)")
    s.add_argument("--out", default="reports/sweep")
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser(
        "prove", help="decide every model of a small rational scope exactly (bounded proof)"
    )
    s.add_argument("ids", nargs="*", metavar="ID", help="claim IDs or families (default all)")
    for axis, default, what in (
        ("k", "2:3", "hidden states"), ("n", "2:3", "tokens"), ("T", "1:2", "input lengths"),
        ("m", "2", "memory values (memory claims)"), ("s", "2", "memory states"),
        ("N", "1", "memory cells"),
    ):  # fmt: skip
        s.add_argument(f"--{axis}", default=default, help=f"{what}, e.g. 2:3 (default {default})")
    s.add_argument("--den", type=int, default=2, help="probabilities are multiples of 1/den")
    s.add_argument("--engine", choices=("local", "ray"), default="local")
    s.add_argument("--workers", type=int, default=1, help="processes (local) or CPUs (ray)")
    s.add_argument("--address", default=None, help="join this Ray cluster (--engine ray)")
    s.add_argument("--report-dir", default="reports/prove")
    s.add_argument("--json", default=None, help="results JSON (default REPORT_DIR/results.json)")
    s.add_argument("--junit", default=None, help="JUnit XML (default REPORT_DIR/junit.xml)")
    s.add_argument("--chunk-size", type=int, default=None, help="models per chunk (task)")
    s.add_argument("--quiet", action="store_true", help="no progress on stderr")

    s = sub.add_parser("bench", help="run a benchmark from verify.bench")
    s.add_argument("name")
    s.add_argument("--quick", action="store_true")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), help="(training) where to run")
    s.add_argument("--size", help="(training) encoder sizes, e.g. paper or smoke,small")
    return p


# --------------------------------------------------------------------------- commands


def cmd_list(args: argparse.Namespace) -> int:
    from verify.claims import all_claims
    from verify.core import theory

    _load(args.claims_from)
    print(f"spec: {theory.packaged_path()} (THEORY.md; reports render it as {theory.PAGE})")
    for c in all_claims():
        routes = f"  [routes: {'; '.join(c.routes)}]" if c.routes else ""
        where = f"  [THEORY.md#{theory.anchor(c.section)}]" if c.section else ""
        print(f"{c.id:<20} {c.kind:<12} {c.provenance:<14} {c.statement}{routes}{where}")
    return EXIT_OK


def _worker_specs(modules: list[str]) -> list[str]:
    """How worker processes load the user modules: a ``.py`` file by its absolute path (its
    registered name, ``ptverify_user_<stem>``, does not import in a fresh process)."""
    from verify.claims.registry import module_source

    return [module_source(m) or m for m in modules]


def cmd_run(args: argparse.Namespace) -> int:
    from verify import reports
    from verify.harness import runner

    if args.examples is not None and args.examples < 1:
        raise UsageError(f"--examples must be ≥ 1, got {args.examples}")
    if args.workers < 1:
        raise UsageError(f"--workers must be ≥ 1, got {args.workers}")
    if args.shards < 1:
        raise UsageError(f"--shards must be ≥ 1, got {args.shards}")
    engine = Engine.from_args(args)
    report_dir, json_path, junit_path = _output_paths(args)
    modules = _load(args.claims_from)
    ids = _select(args.ids)
    if args.cases is not None and (args.shards != 1 or engine.name != "local"):
        raise UsageError("--cases runs on the local runner only; drop --shards / --engine")
    t0 = time.perf_counter()

    def document(done: list[dict], complete: bool, interrupted: bool) -> dict:
        code = runner.exit_code(done) if complete else EXIT_INTERRUPTED
        return reports.results_document(
            done, profile=args.profile, seed=args.seed, examples=args.examples,
            workers=args.workers, claims_from=modules, complete=complete,
            interrupted=interrupted, wall_time_s=time.perf_counter() - t0, exit_code=code,
            report_dir=args.report_dir,
        )  # fmt: skip

    def partial(_r: dict, done: list[dict]) -> None:
        doc = document(done, complete=False, interrupted=False)
        reports.write_cases(doc, report_dir)
        reports.atomic_write(json_path, reports.dumps(doc))

    results, interrupted = runner.run_claims(
        ids, profile=args.profile, examples=args.examples, seed=args.seed,
        claims_from=_worker_specs(modules), on_result=partial, progress=not args.quiet,
        cases=args.cases, engine=engine, shards=args.shards,
    )  # fmt: skip
    complete = not interrupted and len(results) == len(ids)
    doc = document(results, complete, interrupted)
    reports.write_all(doc, report_dir, json_path, junit_path)
    for r in results:
        line = (
            f"{r['id']:<20} {r['status']:<12} {r.get('strength') or '–':<26} "
            f"{r.get('provenance', ''):<14} {r['counts']['examples']:>5} ex  {r['message']}"
        )
        print(line[:240])
    print(
        f"ptverify: {len(results)}/{len(ids)} claims in {doc['wall_time_s']:.1f}s; "
        f"report {report_dir / 'index.html'}; exit {doc['exit_code']}"
    )
    if interrupted:
        print("ptverify: interrupted; partial results kept", file=sys.stderr)
    return doc["exit_code"]


def cmd_report(args: argparse.Namespace) -> int:
    from verify import reports

    report_dir = Path(args.report_dir)
    json_path = Path(args.json) if args.json else report_dir / "results.json"
    with user_input():
        doc = reports.load_results(json_path)
    for c in doc["claims"]:
        c.setdefault("case_file", f"cases/{c['id']}.json" if c.get("case") else None)
    reports.write_cases(doc, report_dir)
    if args.junit:
        reports.atomic_write(args.junit, reports.junit_xml(doc))
    index = reports.write_html(doc, report_dir)
    print(f"ptverify: wrote {index}")
    return EXIT_OK


def cmd_reproduce(args: argparse.Namespace) -> int:
    try:
        mod = importlib.import_module("verify.experiments.reproduce")
    except ModuleNotFoundError as exc:
        raise UsageError(f"reproduce is not available in this install ({exc})") from None
    subset: dict = {}
    if args.experiment:
        subset["experiments"] = (args.experiment,)
    if args.k:
        try:
            subset["ks"] = tuple(int(v) for v in args.k.split(","))
        except ValueError:
            raise UsageError(f"--k {args.k!r}: give comma-separated ints, e.g. --k 8,20") from None
    if args.seeds is not None:
        subset["seeds"] = args.seeds
    if args.threads is not None:
        subset["threads"] = args.threads
    if args.convention != "theory":
        subset["convention"] = args.convention
    if args.engine is not None:
        subset["engine"] = Engine.from_args(args)
    out_dir = writable_dir(args.out, "--out")
    out = mod.reproduce(args.preset, args.device, out_dir, progress=True, **subset)
    print(f"ptverify: reproduce wrote {out}")
    return EXIT_OK


def available_benches() -> list[str]:
    try:
        pkg = importlib.import_module("verify.bench")
    except ModuleNotFoundError:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def cmd_bench(args: argparse.Namespace) -> int:
    names = available_benches()
    if args.name not in names:
        raise UsageError(
            f"unknown benchmark {args.name!r}; available: {', '.join(names) or '(none)'}"
        )
    mod = importlib.import_module(f"verify.bench.{args.name}")
    extra: dict = {}
    if args.device is not None:
        extra["device"] = args.device
    if args.size is not None:
        extra["sizes"] = tuple(v.strip() for v in args.size.split(","))
    takes = inspect.signature(mod.run).parameters
    if any(key not in takes for key in extra):
        opts = " ".join(f"--{'size' if key == 'sizes' else key}" for key in extra)
        raise UsageError(f"bench {args.name} takes no {opts}; only --quick")
    mod.run(quick=args.quick, **extra)
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from verify.experiments import sweep
    from verify.experiments.sweep.report import write_sweep_report

    axes = ("generator", "k", "n", "T", "sparsity", "nnz", "instances", "seed", "prompts")
    given = {a: getattr(args, a) for a in axes}
    if args.config:
        config = sweep.load_toml(args.config, given)
    else:
        config = sweep.make_config(**{a: v for a, v in given.items() if v is not None})
    done = sweep.run_sweep(config, args.out, engine=Engine.from_args(args), progress=not args.quiet)
    page = write_sweep_report(
        Path(args.out), config, sweep.summarize(done.rows), n_rows=len(done.rows),
        failed=done.failed, interrupted=done.interrupted,
    )  # fmt: skip
    print(
        f"ptverify: sweep {len(done.computed)} cells computed, {len(done.skipped)} resumed, "
        f"{len(done.failed)} failed, {len(done.rows)} instances in {done.seconds:.1f}s; {page}"
    )
    for cell, why in done.failed:
        print(f"ptverify: cell {cell.key} failed: {why}", file=sys.stderr)
    if done.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAIL if done.failed else EXIT_OK


COMMANDS = {
    "list": cmd_list,
    "run": cmd_run,
    "check": cmd_check,
    "replay": cmd_replay,
    "pin": cmd_pin,
    "report": cmd_report,
    "reproduce": cmd_reproduce,
    "bench": cmd_bench,
    "sweep": cmd_sweep,
    "prove": cmd_prove,
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage + message
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    configure_logging(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("ptverify: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (InputError, OSError) as exc:
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.filename:
            msg = f"{exc.filename}: {msg}"
        print(f"ptverify: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - a bug in ptverify: exit 1, traceback kept
        where = _save_traceback(args)
        print(
            f"ptverify: internal error ({type(exc).__name__}: {exc}); this is a bug in "
            f"ptverify, not in your input. Traceback saved to {where}",
            file=sys.stderr,
        )
        return EXIT_FAIL


def _save_traceback(args: argparse.Namespace) -> Path:
    """Write the current exception's traceback next to the command's output (its report
    or ``--out`` folder when it has one, else a temporary file) and return the path."""
    text = traceback.format_exc()
    folder = getattr(args, "report_dir", None) or getattr(args, "out", None)
    try:
        if folder is None:
            raise OSError("no output folder")
        path = Path(folder) / "crash.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError:
        fd, name = tempfile.mkstemp(prefix="ptverify-crash-", suffix=".txt")
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        path = Path(name)
    return path


if __name__ == "__main__":
    sys.exit(main())
