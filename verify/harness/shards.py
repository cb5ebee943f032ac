"""Sharded claim runs: one claim's example budget split into K independently seeded
Hypothesis runs (``runner.run_claim`` each), run on an engine (``verify.harness.engines``: local
processes or Ray) and merged into one result.

Shard ``i`` of a claim with base seed ``s`` gets ``seed_i = SeedSequence(s, spawn_key=
(crc32(claim ID), i))`` (its first 32-bit word) and ``budget_i`` (the budget split as
evenly as possible), both recorded in the merged result's ``shards`` list, so
``ptverify run ID --profile P --seed seed_i --examples budget_i`` replays that shard
alone, and rerunning with ``--shards K --seed s`` replays them all. Statistical claims are
split by seed range instead (shard i checks seeds ``s + offset_i …``), so their merged
result equals the unsharded run's.

Merge: counts add up; a falsified (or crashed) shard's shrunk counterexample is the
claim's, an existential claim is found when any shard found its witness; otherwise a
claim holds only when every shard held and the merged counts meet its ``min_decided``,
else it takes the first shard's non-held status (never a pass by averaging).
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import astuple, replace

import numpy as np

from verify.claims import registry
from verify.claims.registry import Claim, ClaimStatus
from verify.core.validation import as_int
from verify.harness import engines, runner
from verify.harness.records import ClaimResult, Counts

logger = logging.getLogger(__name__)

#: Statuses that decide the merged result, strongest first.
DECIDING = ("error", "falsified", "found")


def split_budget(budget: int, shards: int) -> list[int]:
    """``budget`` as ``shards`` near-equal positive parts (fewer shards if budget < shards)."""
    shards = min(shards, budget)
    base, extra = divmod(budget, shards)
    return [base + (i < extra) for i in range(shards)]


def shard_seed(claim_id: str, base: int, index: int) -> int:
    """Seed of shard ``index``: a function of (base seed, claim ID, index) only."""
    ss = np.random.SeedSequence(int(base), spawn_key=(zlib.crc32(claim_id.encode()), index))
    return int(ss.generate_state(1)[0])


def _run_shard(job: tuple) -> ClaimResult:
    claim_id, profile, budget, seed, claims_from = job
    runner._init_worker(claims_from)
    return runner.run_claim(claim_id, profile, budget, seed)


def plan(claim_id: str, profile: str, shards: int, examples: int | None, seed: int | None):
    """The shards of one claim: [(budget_i, seed_i)] and the base seed."""
    c = registry.get(claim_id)
    budget, seed = runner.budget_and_seed(c, profile, examples, seed)
    parts = split_budget(budget, shards)
    if c.kind == "statistical":
        offsets = np.concatenate([[0], np.cumsum(parts)[:-1]])
        return [(b, int(seed) + int(o)) for b, o in zip(parts, offsets, strict=True)], seed
    return [(b, shard_seed(c.id, seed, i)) for i, b in enumerate(parts)], seed


def merge(claim_id: str, base_seed: int, parts: Sequence[ClaimResult]) -> ClaimResult:
    """One claim's result from its shards' results (in shard order)."""
    first = parts[0]
    counts = Counts(*(sum(col) for col in zip(*(astuple(p.counts) for p in parts), strict=True)))
    values: dict[str, list[float]] = {}
    for p in parts:
        for name, q in p.quantities.items():
            values.setdefault(name, []).extend(q.get("values", []))
    chosen = _deciding_part(registry.get(claim_id), parts, counts)
    message = chosen.message
    if chosen is not first or chosen.status in DECIDING:
        idx = next((i for i, p in enumerate(parts) if p is chosen), None)
        if idx is not None:
            message = (
                f"shard {idx + 1}/{len(parts)} (replay: --seed {parts[idx].seed} "
                f"--examples {parts[idx].budget}): {message}"
            )
    shards = [
        {"seed": p.seed, "budget": p.budget, "status": p.status.value,
         "examples": p.counts.examples, "time_s": p.time_s}
        for p in parts
    ]  # fmt: skip
    return replace(
        first,
        status=chosen.status,
        message=message,
        budget=sum(p.budget for p in parts),
        seed=base_seed,
        counts=counts,
        time_s=round(max(p.time_s for p in parts), 3),
        quantities=runner.quantity_summaries(values),
        coverage=_merged_counts(first.coverage, [p.coverage for p in parts]),
        case=chosen.case,
        shards=shards,
    )


def _merged_counts(first: dict, covs: Sequence[dict]) -> dict:
    """The first shard's coverage with the decided-example counts that a verdict's strength
    rests on (``decided``, ``exact_decided``) summed over every shard."""
    out = dict(first or {})
    for key in ("decided", "exact_decided"):
        if key in out:
            out[key] = sum(int((c or {}).get(key) or 0) for c in covs)
    return out


def _deciding_part(c: Claim, parts: Sequence[ClaimResult], counts: Counts) -> ClaimResult:
    """The part whose status the merged result takes (see the module docstring); a new
    record when no single shard's status is the claim's (held over all shards)."""
    first = parts[0]
    statuses: list[str] = [p.status for p in parts]
    for status in DECIDING:
        if status in statuses:
            return parts[statuses.index(status)]
    non_held = [p for p in parts if p.status != ClaimStatus.HELD]
    need = max(1, math.ceil(c.min_decided * counts.examples))
    if not non_held and counts.passed >= need:
        message = f"held on {counts.passed} of {counts.examples} examples in {len(parts)} shards"
        return replace(first, status=ClaimStatus.HELD, message=message)
    if c.kind == "existential" and all(s == ClaimStatus.NOT_FOUND for s in statuses):
        return replace(first, message=f"no witness in {len(parts)} shards")
    return non_held[0] if non_held else replace(first, status=ClaimStatus.INCONCLUSIVE)


def run_sharded(
    ids: Sequence[str],
    run: tuple[str, int | None, int | None],
    claims_from: Sequence[str],
    engine: engines.Engine,
    shards: int,
    finish: Callable[[dict], None],
    progress: bool = True,
) -> None:
    """The sharded path of ``runner.run_claims`` (which validates and collects): every claim
    of ``ids`` split into ``shards`` shards (``run = (profile, examples, seed)``), all shards
    of all claims submitted to ``engine`` at once; ``finish(merged record)`` when a claim's
    last shard lands. A shard that crashed (or whose worker died on every retry) is an
    error part of its claim."""
    shards = as_int(shards, "--shards", 1)
    profile, examples, seed = run
    jobs, owner, seeds = [], [], {}
    for cid in ids:
        parts, base = plan(cid, profile, shards, examples, seed)
        seeds[cid] = base
        for budget, s in parts:
            jobs.append((cid, profile, budget, s, tuple(claims_from)))
            owner.append(cid)
    pending = {cid: owner.count(cid) for cid in ids}
    got: dict[str, dict[int, ClaimResult]] = {cid: {} for cid in ids}
    t0 = time.perf_counter()
    stream = engine.run(_run_shard, jobs)
    try:
        for i, result in stream:
            cid = owner[i]
            if isinstance(result, BaseException):
                result = runner.crash_result(
                    cid, result, profile, budget=jobs[i][2], seed=jobs[i][3]
                )
            got[cid][i] = result
            pending[cid] -= 1
            if pending[cid] == 0:
                finish(merge(cid, seeds[cid], [got[cid][j] for j in sorted(got[cid])]).to_dict())
    finally:
        stream.close()
    if progress:
        logger.info(f"{len(jobs)} shards in {time.perf_counter() - t0:.1f}s")


__all__ = ["merge", "plan", "run_sharded", "shard_seed", "split_budget"]
