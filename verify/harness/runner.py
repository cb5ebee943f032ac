"""Run claims with Hypothesis: count, shrink, and keep every counterexample and witness.

Profiles (Hypothesis profiles of their own, distinct from the test suite's):

- ``ci`` → ``ptverify-ci``: derandomized — seeded with :func:`ci_seed` (CRC-32 of the
  claim ID), so the same examples every run — and the ``ci`` budget of each claim;
- ``dev`` → ``ptverify-dev``: random seed (drawn and recorded, so ``--seed`` replays it),
  the ``dev`` budget;
- ``thorough`` → ``ptverify-thorough``: random seed, the ``thorough`` budget.

Example database: ``ci`` has none (a run never depends on earlier runs); ``dev`` and
``thorough`` keep Hypothesis's example database in ``.hypothesis/ptverify`` (under the
current directory, one key per claim ID), so a counterexample found once is replayed
first on the next dev/thorough run, as Hypothesis does for tests. All profiles: no deadline
(instances differ in size by design), one bug per claim (``report_multiple_bugs=False``),
and the ``too_slow`` health check off: a claim's budget is its example count, its time is
reported, and slow generation is measured by the strategy benchmarks instead.

How one claim runs:

- universal / implication: the property "``check`` does not return ``fail``" under
  ``@given``; on failure Hypothesis shrinks and replays the minimal example last, so the
  last failing call recorded is the shrunk counterexample.
- existential: the property "this instance is not a witness"; the first witness is shrunk
  the same way. No witness within the budget → ``not_found`` (a failed claim).
- statistical: ``check({"seed": base + i})`` for the claim's fixed seeds, no Hypothesis;
  any failing seed falsifies the claim (each seed's check is a thresholded statement of
  its own), and every verdict states the 95% Wilson interval of the per-seed pass rate
  over the decided seeds (``coverage.pass_rate_wilson95``; :mod:`verify.harness.stats`).

Pinned cases (``ptverify run --cases DIR``, :mod:`verify.harness.pinned`): the saved
instances of a claim are checked first, in file-name order, as explicit examples before
any generation; the first that fails (or, for an existential claim, is a witness) decides
the claim on that example and nothing is generated.

Counts cover the generation phase only (shrinking replays are not examples run).

Coverage (``coverage`` in each result): the ranges and distributions of the instance sizes
the outcomes report (k, n, T, …), the fraction of decided examples that exercised the
claim's premise, the discard rate, and the extremes reached by each ``target`` (the
runner passes an outcome's ``targets`` to ``hypothesis.target``). A universal or
implication claim that would hold but whose passes exercised the premise less often than
its ``min_exercised`` (default 0.8) is ``vacuous``: it showed nothing, so it counts as
inconclusive (exit 3), never as held.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

from verify.claims import registry
from verify.claims.registry import (
    Claim,
    ClaimStatus,
    Outcome,
    from_jsonable,
    instance_sizes,
    to_jsonable,
)
from verify.core.validation import InputError
from verify.harness.engines import Engine
from verify.harness.pinned import load_pinned
from verify.harness.progress import bar as progress_bar
from verify.harness.progress import progress_line
from verify.harness.records import ClaimResult, Counts, case_document
from verify.harness.stats import quantity_summaries, wilson_interval

logger = logging.getLogger(__name__)

#: Runner profile → Hypothesis profile name (never the test suite's "ci"/"dev"/"thorough").
HYPOTHESIS_PROFILES = {p: f"ptverify-{p}" for p in registry.PROFILES}

_COMMON = settings(
    deadline=None,
    report_multiple_bugs=False,
    print_blob=False,
    verbosity=Verbosity.quiet,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
)
#: Where dev/thorough keep failing examples (relative to the current directory).
DATABASE_DIR = ".hypothesis/ptverify"
_KEEP = settings(
    _COMMON,
    derandomize=False,
    database=DirectoryBasedExampleDatabase(DATABASE_DIR),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile("ptverify-ci", _COMMON, derandomize=True, database=None)
settings.register_profile("ptverify-dev", _KEEP)
settings.register_profile("ptverify-thorough", _KEEP)

#: Claim statuses and whether each counts against the gate.
STATUSES = registry.CLAIM_STATUSES
FAILING = registry.FAILING_STATUSES
UNDECIDED = ("inconclusive", "vacuous")


def exit_code(results: Sequence[dict]) -> int:
    """0 all held / found; 1 any falsified, not found or error; 3 otherwise (inconclusive or
    vacuous)."""
    statuses = [r["status"] for r in results]
    if any(s in FAILING for s in statuses):
        return 1
    if any(s in UNDECIDED for s in statuses) or not statuses:
        return 3
    return 0


@dataclass
class _Tally:
    counting: bool = True
    examples: int = 0
    passed: int = 0
    discarded: int = 0
    inconclusive: int = 0
    misses: int = 0
    quantities: dict[str, list[float]] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    decided: int = 0  # outcomes other than discard / inconclusive
    exercised_known: int = 0  # of those, how many said whether they exercised the premise
    exercised: int = 0
    exact_decided: int = 0  # decided examples that ran the exact rational route
    sizes: dict[str, dict[float, int]] = field(default_factory=dict)
    targets: dict[str, list[float]] = field(default_factory=dict)
    last_bad: tuple[dict, Outcome, bool] | None = None

    def record(self, out: Outcome, instance: object = None) -> None:
        """Count one outcome; its sizes are read off ``instance`` when it reports none."""
        if not self.counting:
            return
        self.examples += 1
        if out.status == "pass":
            self.passed += 1
        elif out.status == "discard":
            self.discarded += 1
            self.reasons["discarded: " + (out.message or "ill-posed")[:100]] += 1
        elif out.status == "inconclusive":
            self.inconclusive += 1
            self.reasons["inconclusive: " + (out.message or "no reason given")[:100]] += 1
        elif out.status == "miss":
            self.misses += 1
        if out.status not in ("discard", "inconclusive"):
            self.decided += 1
            if out.exercised is not None:
                self.exercised_known += 1
                self.exercised += bool(out.exercised)
            self.exact_decided += out.sizes.get("exact_route") == 1
        for name, value in out.quantities.items():
            v = _finite(value)
            if v is not None:
                self.quantities.setdefault(name, []).append(v)
        sizes = out.sizes
        if not sizes and registry.is_instance(instance):
            sizes = instance_sizes(instance)
        for name, value in sizes.items():
            v = _finite(value)
            if v is not None:
                counts = self.sizes.setdefault(name, {})
                counts[v] = counts.get(v, 0) + 1
        for name, value in out.targets.items():
            v = _finite(value)
            if v is not None:
                self.targets.setdefault(name, []).append(v)

    def counts(self) -> Counts:
        return Counts(self.examples, self.passed, self.discarded, self.inconclusive, self.misses)

    def exercised_fraction(self) -> float | None:
        return self.exercised / self.exercised_known if self.exercised_known else None

    def coverage(self) -> dict:
        """The ``coverage`` record of a result (see the module docstring)."""
        out: dict = {}
        for name, counts in sorted(self.sizes.items()):
            vals = sorted(counts)
            out[name] = [_num(vals[0]), _num(vals[-1])]
        frac = self.exercised_fraction()
        out.update(
            exercised=None if frac is None else round(frac, 4),
            exercised_count=self.exercised,
            exercised_known=self.exercised_known,
            decided=self.decided,
            exact_decided=self.exact_decided,
            reasons=dict(sorted(self.reasons.items(), key=lambda kv: -kv[1])),
            discard_rate=round(self.discarded / self.examples, 4) if self.examples else 0.0,
            sizes={
                name: {str(_num(v)): c for v, c in sorted(counts.items())}
                for name, counts in sorted(self.sizes.items())
            },
            targets={
                name: {"max": max(vs), "min": min(vs), "count": len(vs)}
                for name, vs in sorted(self.targets.items())
            },
        )
        return out


def _finite(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


class _Stop(Exception):
    """Raised inside the property to make Hypothesis shrink the current instance."""


def _safe_check(c: Claim, instance: dict) -> tuple[Outcome, bool]:
    """``c.check(instance)``; an exception is a failing outcome flagged as an error."""
    if not registry.is_instance(instance):
        return (
            Outcome.failed(
                f"claim {c.id}: its strategy generated a {type(instance).__name__}; claim "
                "instances must be dicts or Instance dataclasses (plain-JSON case files), e.g. "
                "strategy.map(lambda t: {'hmm': t.hmm, 'mu': t.mu, 'xs': t.xs})"
            ),
            True,
        )
    try:
        out = c.check(instance)
    except Exception as exc:  # noqa: BLE001 - a crash on a valid instance is a finding
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        return (
            Outcome.failed(
                f"check raised {type(exc).__name__}: {exc}",
                detail={"traceback": "".join(tb[-6:])},
            ),
            True,
        )
    if not isinstance(out, Outcome):
        return Outcome.failed(f"check returned {type(out).__name__}, not an Outcome"), True
    return out, False


def ci_seed(claim_id: str) -> int:
    """The ci profile's seed of a claim: CRC-32 of its ID (stable across runs, machines and
    Python versions, unlike ``hash``)."""
    return zlib.crc32(claim_id.encode("utf-8"))


def hypothesis_settings(profile: str, budget: int) -> settings:
    return settings(settings.get_profile(HYPOTHESIS_PROFILES[profile]), max_examples=budget)


def _run_search(c: Claim, profile: str, budget: int, seed: int | None, tally: _Tally) -> str:
    """Run the Hypothesis property; return '' or a message on a Hypothesis-level problem."""
    # An existential claim stops at its witness, or at a "fail" (e.g. prompt.weaker's
    # implication part checked along the search); other kinds stop at a "fail".
    bad = ("witness", "fail") if c.kind == "existential" else ("fail",)
    assert c.strategy is not None, "registry.register refuses a searched claim without one"
    strategy = c.strategy()

    def prop(instance: dict) -> None:
        out, crashed = _safe_check(c, instance)
        tally.record(out, instance)
        if tally.counting:
            for label, value in out.targets.items():
                v = _finite(value)
                if v is not None:
                    hypothesis.target(v, label=label)
        if out.status in bad or crashed:
            tally.counting = False
            tally.last_bad = (instance, out, crashed)
            raise _Stop(out.message)

    test = settings(hypothesis_settings(profile, budget))(given(strategy)(prop))
    # One example-database key per claim (every claim runs the same ``prop``).
    test._hypothesis_internal_database_key = f"ptverify:{c.id}".encode()
    if seed is not None:
        kept = test._hypothesis_internal_use_settings
        test = hypothesis.seed(seed)(test)
        # @seed also turns the example database off; dev/thorough keep theirs.
        test._hypothesis_internal_use_settings = kept
    try:
        test()
    except _Stop:
        pass
    except (FailedHealthCheck, Unsatisfiable) as exc:
        return f"Hypothesis could not generate instances: {type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - strategy bugs, flaky replays
        if tally.last_bad is None:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:])
            return f"run failed: {type(exc).__name__}: {exc}\n{tb}"
    return ""


def _run_statistical(c: Claim, budget: int, seed: int | None, tally: _Tally) -> None:
    base = 0 if seed is None else int(seed)
    for i in range(budget):
        instance = {"seed": base + i}
        out, crashed = _safe_check(c, instance)
        tally.record(out, instance)
        if (out.status == "fail" or crashed) and tally.last_bad is None:
            tally.last_bad = (instance, out, crashed)
            tally.counting = True  # statistical claims report every seed


def budget_and_seed(
    c: Claim, profile: str, examples: int | None, seed: int | None
) -> tuple[int, int]:
    """A run's example budget (``examples`` or the claim's for ``profile``) and seed."""
    budget = int(examples) if examples is not None else c.budget(profile)
    if budget < 1:
        raise InputError(f"--examples must be ≥ 1, got {budget}")
    if seed is None:
        # Statistical claims: seeds 0, 1, … (documented fixed seeds). Search claims on ci:
        # a fixed seed per claim ID, so a claim's examples never change when unrelated code
        # (even this runner) changes; dev/thorough: fresh, recorded (--seed replays).
        if c.kind == "statistical":
            seed = 0
        elif profile == "ci":
            seed = ci_seed(c.id)
        else:
            seed = int.from_bytes(os.urandom(4), "little")
    return budget, seed


def _run_pinned(c: Claim, pinned: Sequence[dict], tally: _Tally) -> None:
    """Check the pinned case documents of ``c`` first; stop at the first bad one."""
    bad = ("witness", "fail") if c.kind == "existential" else ("fail",)
    for i, case in enumerate(pinned):
        instance = from_jsonable(case["instance"], f"pinned case {i} of {c.id}: instance")
        out, crashed = _safe_check(c, instance)
        tally.record(out, instance)
        if out.status in bad or crashed:
            tally.last_bad = (instance, out, crashed)
            return


def run_claim(
    claim_id: str,
    profile: str = "ci",
    examples: int | None = None,
    seed: int | None = None,
    pinned: Sequence[dict] = (),
) -> ClaimResult:
    """Run one registered claim and return its result; ``pinned``: case documents of this
    claim checked before any generation (see the module docstring)."""
    c = registry.get(claim_id)
    budget, seed = budget_and_seed(c, profile, examples, seed)
    tally = _Tally()
    t0 = time.perf_counter()
    problem = ""
    _run_pinned(c, pinned, tally)
    if tally.last_bad is not None:
        pass  # a pinned case decided the claim: nothing is generated
    elif c.kind == "statistical":
        _run_statistical(c, budget, seed, tally)
    else:
        problem = _run_search(c, profile, budget, seed, tally)
    elapsed = time.perf_counter() - t0
    status, message, case = _verdict(c, tally, problem)
    coverage = tally.coverage()
    if c.kind == "statistical" and tally.decided:
        lo, hi = wilson_interval(tally.passed, tally.decided)
        coverage["pass_rate_wilson95"] = [round(lo, 4), round(hi, 4)]
        message += (
            f"; per-seed pass rate {tally.passed}/{tally.decided} decided seeds, "
            f"95% Wilson interval {lo:.2f}–{hi:.2f}"
        )
    if tally.reasons:
        top = sorted(tally.reasons.items(), key=lambda kv: -kv[1])[:3]
        message += "; " + "; ".join(f"{n}× {r}" for r, n in top)
    return ClaimResult(
        claim=c.describe(),
        status=status,
        message=message,
        profile=profile,
        budget=budget,
        seed=seed,
        counts=tally.counts(),
        time_s=round(elapsed, 3),
        quantities=quantity_summaries(tally.quantities),
        coverage=coverage,
        case=case,
    )


def _verdict(c: Claim, tally: _Tally, problem: str) -> tuple[ClaimStatus, str, dict | None]:
    """A claim's status, message and case from its tally (see the module docstring)."""
    if tally.last_bad is not None:
        instance, out, crashed = tally.last_bad
        if crashed:
            status = ClaimStatus.ERROR
        elif out.status == "witness":
            status = ClaimStatus.FOUND
        else:
            status = ClaimStatus.FALSIFIED
        role = "witness" if status == ClaimStatus.FOUND else "counterexample"
        claims_file, claims_sha256 = registry.module_fingerprint(c.module)
        case = case_document(
            c, registry.module_source(c.module), role, to_jsonable(instance), out.to_dict(),
            claims_file=claims_file, claims_sha256=claims_sha256,
        )  # fmt: skip
        return status, out.message, case
    if problem:
        return ClaimStatus.ERROR, problem, None
    if c.kind == "existential":
        message = (
            f"no witness among {tally.examples} examples "
            f"({tally.inconclusive} inconclusive, {tally.discarded} discarded)"
        )
        status = ClaimStatus.NOT_FOUND if tally.examples else ClaimStatus.INCONCLUSIVE
        return status, message, None
    return *_count_verdict(c, tally), None


def _count_verdict(c: Claim, tally: _Tally) -> tuple[ClaimStatus, str]:
    """held, vacuous or inconclusive: enough decided passes, and a premise exercised often
    enough (universal / implication claims that report it)."""
    need = max(1, math.ceil(c.min_decided * tally.examples))
    frac = tally.exercised_fraction()
    gated = c.kind in ("universal", "implication") and frac is not None
    if tally.passed >= need and gated and frac is not None and frac < c.min_exercised:
        return ClaimStatus.VACUOUS, (
            f"vacuous: the premise was exercised on {tally.exercised} of "
            f"{tally.exercised_known} passing examples ({frac:.0%} < "
            f"{c.min_exercised:.0%}); held on {tally.passed} of {tally.examples}"
        )
    if tally.passed >= need:
        message = f"held on {tally.passed} of {tally.examples} examples"
        if frac is not None:
            message += f" (premise exercised on {frac:.0%})"
        return ClaimStatus.HELD, message
    return ClaimStatus.INCONCLUSIVE, (
        f"only {tally.passed} of {tally.examples} examples decided "
        f"(need {need}); {tally.discarded} discarded, {tally.inconclusive} inconclusive"
    )


def crash_result(
    claim_id: str, exc: BaseException, profile: str, *, budget: int = 0, seed: int | None = None
) -> ClaimResult:
    """The result of a claim whose worker died (no examples counted)."""
    return ClaimResult(
        claim=registry.get(claim_id).describe(),
        status=ClaimStatus.ERROR,
        message=f"worker crashed: {type(exc).__name__}: {exc}",
        profile=profile,
        budget=budget,
        seed=seed,
        counts=Counts(),
        time_s=0.0,
        quantities={},
        coverage=_Tally().coverage(),
    )


def _init_worker(claims_from: Sequence[str], cases: str | None = None) -> None:
    registry.load_builtin()
    for mod in claims_from:
        registry.load_claims_module(mod)
    global _PINNED
    _PINNED = load_pinned(cases) if cases else {}


#: Pinned case documents by claim ID in this process (``--cases DIR``).
_PINNED: dict[str, list[dict]] = {}


def _worker(claim_id: str, profile: str, examples: int | None, seed: int | None) -> dict:
    return run_claim(claim_id, profile, examples, seed, _PINNED.get(claim_id, ())).to_dict()


def run_claims(
    claim_ids: Sequence[str],
    profile: str = "ci",
    examples: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    claims_from: Sequence[str] = (),
    on_result: Callable[[dict, list[dict]], None] | None = None,
    progress: bool = True,
    cases: str | None = None,
    *,
    engine: Engine | None = None,
    shards: int = 1,
) -> tuple[list[dict], bool]:
    """Run claims (in ``workers`` processes when > 1); return ``(results, interrupted)``.

    ``engine`` (default: ``Engine("local", workers)``) runs them; with ``shards`` > 1 or a
    Ray engine every claim is split into ``shards`` seeded runs that are merged
    (:mod:`verify.harness.shards`), all shards of all claims on the engine at once.

    ``on_result(result, results_so_far)`` is called after every claim, so callers can
    write partial results; on Ctrl-C the claims finished so far are returned. With
    ``progress``, each claim is logged (INFO) and a bar counts them on a terminal.
    ``cases``: a folder of pinned case files, checked first (see the module docstring).
    """
    if profile not in registry.PROFILES:
        raise InputError(f"--profile {profile!r}: choose one of {registry.PROFILES}")
    if workers < 1:
        raise InputError(f"--workers must be ≥ 1, got {workers}")
    ids = list(claim_ids)
    for cid in ids:
        registry.get(cid)  # unknown IDs are a usage error before anything runs
    engine = Engine("local", workers) if engine is None else engine
    if cases and (shards != 1 or engine.name == "ray"):
        raise InputError("--cases runs on the local runner only; drop --shards / --engine")
    global _PINNED
    _PINNED = load_pinned(cases) if cases else {}  # bad case files: usage error first
    order = {cid: i for i, cid in enumerate(ids)}
    done: list[dict] = []
    bar = progress_bar(len(ids), "claims", "claim", enabled=progress)

    def finish(r: dict) -> None:
        done.append(r)
        done.sort(key=lambda x: order[x["id"]])
        bar.update(1)
        if progress:
            logger.info(progress_line(len(done), len(ids), r))
        if on_result is not None:
            on_result(r, list(done))

    interrupted = False
    try:
        if shards != 1 or engine.name == "ray":
            from verify.harness import shards as sharding  # it builds on this module

            sharding.run_sharded(ids, (profile, examples, seed), claims_from, engine, shards,
                                 finish, progress)  # fmt: skip
        elif not engine.parallel or len(ids) <= 1:
            for cid in ids:
                if progress:
                    logger.info(f"running {cid} …")
                finish(_worker(cid, profile, examples, seed))
        else:
            if progress:
                logger.info(
                    f"running {len(ids)} claims on {min(engine.workers, len(ids))} workers "
                    f"(profile {profile}) …"
                )
            interrupted = _run_pool(
                ids, (profile, examples, seed), engine, claims_from, finish, cases
            )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    return done, interrupted


def _claim_task(run: tuple[str, int | None, int | None], claim_id: str) -> dict:
    return _worker(claim_id, *run)


def _run_pool(
    ids: list[str],
    run: tuple[str, int | None, int | None],
    engine: Engine,
    claims_from: Sequence[str],
    finish: Callable[[dict], None],
    cases: str | None = None,
) -> bool:
    """Run ``ids`` on the engine's local pool, ``finish(record)`` as each ends (``run =
    (profile, examples, seed)``); a claim whose worker died is rerun (engines), and one
    that died on every attempt becomes that claim's error record. Returns whether Ctrl-C
    stopped it."""
    stream = engine.run(
        functools.partial(_claim_task, run), ids,
        initializer=_init_worker, initargs=(tuple(claims_from), cases),
    )  # fmt: skip
    try:
        # Slowest-first would need history; registry order keeps the schedule predictable.
        for i, r in stream:
            finish(crash_result(ids[i], r, run[0]).to_dict() if isinstance(r, BaseException) else r)
    except KeyboardInterrupt:
        return True
    finally:
        stream.close()  # terminates busy workers when stopped early
    return False
