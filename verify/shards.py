"""Sharded claim runs: one claim's example budget split into K independently seeded
Hypothesis runs (``runner.run_claim`` each), run on an engine (``verify.engines``: local
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

import numpy as np

from verify import engines, runner
from verify.claims import registry
from verify.progress import bar as progress_bar
from verify.validation import InputError

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


def _run_shard(job: tuple) -> dict:
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


def merge(claim_id: str, base_seed: int, parts: Sequence[dict]) -> dict:
    """One claim's result from its shards' results (in shard order)."""
    c = registry.get(claim_id)
    first = parts[0]
    counts = {k: sum(p["counts"].get(k, 0) for p in parts) for k in first["counts"]}
    values: dict[str, list[float]] = {}
    for p in parts:
        for name, q in p["quantities"].items():
            values.setdefault(name, []).extend(q.get("values", []))
    statuses = [p["status"] for p in parts]
    chosen = None
    for status in DECIDING:
        if status in statuses:
            chosen = parts[statuses.index(status)]
            break
    if chosen is None:
        non_held = [p for p in parts if p["status"] != "held"]
        need = max(1, math.ceil(c.min_decided * counts.get("examples", 0)))
        if not non_held and counts.get("passed", 0) >= need:
            chosen = {**first, "status": "held"}
            chosen["message"] = (
                f"held on {counts['passed']} of {counts['examples']} examples "
                f"in {len(parts)} shards"
            )
        elif c.kind == "existential" and all(s == "not_found" for s in statuses):
            chosen = {**first, "message": f"no witness in {len(parts)} shards"}
        else:
            chosen = non_held[0] if non_held else {**first, "status": "inconclusive"}
    shards = [
        {"seed": p["seed"], "budget": p["budget"], "status": p["status"],
         "examples": p["counts"].get("examples", 0), "time_s": p["time_s"]}
        for p in parts
    ]  # fmt: skip
    message = chosen["message"]
    if chosen is not first or chosen["status"] in DECIDING:
        idx = next((i for i, p in enumerate(parts) if p is chosen), None)
        if idx is not None:
            message = (
                f"shard {idx + 1}/{len(parts)} (replay: --seed {parts[idx]['seed']} "
                f"--examples {parts[idx]['budget']}): {message}"
            )
    return {
        **first,
        "status": chosen["status"],
        "message": message,
        "budget": sum(p["budget"] for p in parts),
        "seed": base_seed,
        "counts": counts,
        "time_s": round(max(p["time_s"] for p in parts), 3),
        "quantities": {k: runner._summary(v) for k, v in sorted(values.items()) if v},
        "case": chosen.get("case"),
        "shards": shards,
    }


def run_claims_sharded(
    claim_ids: Sequence[str],
    profile: str = "ci",
    examples: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    claims_from: Sequence[str] = (),
    on_result: Callable[[dict, list[dict]], None] | None = None,
    progress: bool = True,
    *,
    shards: int = 2,
    engine: str = "ray",
    address: str | None = None,
) -> tuple[list[dict], bool]:
    """``runner.run_claims`` with every claim split into ``shards`` shards, all shards of
    all claims submitted to the engine at once; a claim is merged and reported when its
    last shard finishes. Returns ``(results in claim order, interrupted)``."""
    if profile not in registry.PROFILES:
        raise InputError(f"--profile {profile!r}: choose one of {registry.PROFILES}")
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise InputError(f"--shards must be an integer ≥ 1, got {shards!r}")
    ids = list(claim_ids)
    jobs, owner, seeds = [], [], {}
    for cid in ids:
        parts, base = plan(cid, profile, shards, examples, seed)
        seeds[cid] = base
        for budget, s in parts:
            jobs.append((cid, profile, budget, s, tuple(claims_from)))
            owner.append(cid)
    pending = {cid: owner.count(cid) for cid in ids}
    got: dict[str, dict[int, dict]] = {cid: {} for cid in ids}
    order = {cid: i for i, cid in enumerate(ids)}
    done: list[dict] = []
    t0 = time.perf_counter()
    interrupted = False
    bar = progress_bar(len(jobs), "shards", "shard", enabled=progress)
    try:
        for i, result in engines.run_tasks(
            _run_shard, jobs, engine=engine, workers=workers, address=address
        ):
            bar.update(1)
            cid = owner[i]
            if isinstance(result, BaseException):
                result = runner._crash_record(cid, result, profile)
                result["seed"], result["budget"] = jobs[i][3], jobs[i][2]
            got[cid][i] = result
            pending[cid] -= 1
            if pending[cid] == 0:
                merged = merge(cid, seeds[cid], [got[cid][j] for j in sorted(got[cid])])
                done.append(merged)
                done.sort(key=lambda r: order[r["id"]])
                if progress:
                    logger.info(runner.progress_line(len(done), len(ids), merged))
                if on_result is not None:
                    on_result(merged, list(done))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if progress:
        logger.info(f"{len(jobs)} shards in {time.perf_counter() - t0:.1f}s")
    return done, interrupted


__all__ = ["merge", "plan", "run_claims_sharded", "shard_seed", "split_budget"]
