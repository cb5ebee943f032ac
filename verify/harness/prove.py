"""The chunked runner of ``ptverify prove``: a scope's model indices cut into chunks, each an
engine task (:meth:`verify.harness.engines.Engine.run`: local processes or Ray), each finished chunk
written at once (atomically, JSON) so an interrupted run resumes, merged in scope order into
claim records with ``strength: "proved"``.

Chunk files live in ``REPORT_DIR/prove/chunks/<tag>/<cell>-<lo>-<hi>.json``; ``tag`` hashes
what a chunk's result depends on (scope, claims, chunk size, format version), so a run with
another scope never reads them. A chunk file that does not parse or does not match is
reported by name and recomputed. A chunk is a pure function of its task, and the merge
takes sums and minima by key, so results are identical for any engine and worker count.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from verify.claims import registry
from verify.claims.prove import (
    DECIDERS,
    MEMORY_CLAIMS,
    NOT_EXPRESSIBLE,
    WEAKER_A,
    Tally,
    decide_chunk,
)
from verify.claims.registry import ClaimStatus
from verify.core.validation import InputError
from verify.crosscheck.scope import CHUNK_SIZE, Cell, MemCell, Scope
from verify.harness.engines import Engine
from verify.harness.files import atomic_write
from verify.harness.records import case_document

logger = logging.getLogger(__name__)

#: Bumped whenever a chunk file's content changes meaning (old chunks are then ignored).
CHUNK_FORMAT = 1


@dataclass(frozen=True)
class ChunkTask:
    """One engine task: models ``[lo, hi)`` of cell ``(k, n, den)``, input lengths Ts."""

    k: int
    n: int
    den: int
    lo: int
    hi: int
    Ts: tuple[int, ...]
    claims: tuple[str, ...]
    m: int = 0  # memory cells (memory.iid_exact): m values, s states; k = m·s
    s: int = 0

    @property
    def cell(self) -> Cell | MemCell:
        return (
            MemCell(self.m, self.s, self.n, self.den) if self.s else Cell(self.k, self.n, self.den)
        )

    @property
    def name(self) -> str:
        head = f"mem-m{self.m}-s{self.s}" if self.s else f"k{self.k}"
        return f"{head}-n{self.n}-den{self.den}-{self.lo:09d}-{self.hi:09d}.json"


def run_chunk(task: ChunkTask) -> dict:
    """Decide one chunk (in a worker); the result is plain JSON."""
    registry.load_builtin()  # the existential deciders call the registered checks
    t0 = time.perf_counter()
    out = decide_chunk(task.cell, task.lo, task.hi, task.Ts, list(task.claims))
    out["wall_s"] = time.perf_counter() - t0
    return out


def chunk_tag(scope: Scope, claims: Sequence[str], chunk_size: int) -> str:
    ident = {
        "scope": scope.to_dict(),
        "claims": sorted(claims),
        "chunk_size": chunk_size,
        "format": CHUNK_FORMAT,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def _load_chunk(path: Path, task: ChunkTask) -> dict | None:
    """The saved result of ``task`` at ``path``; None when absent; ValueError if damaged."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("task") != _task_dict(task):
            raise ValueError("written for another chunk")
        res = doc["result"]
        for cid in task.claims:
            Tally.from_dict(res["tallies"][cid])
        int(res["models"]), int(res["orbits"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    return res


def _task_dict(task: ChunkTask) -> dict:
    return {
        "k": task.k,
        "n": task.n,
        "den": task.den,
        "lo": task.lo,
        "hi": task.hi,
        "T": list(task.Ts),
        "claims": list(task.claims),
    }


class CellTotals(TypedDict):
    """One cell's share of :class:`ProveTotals`: scope models, their orbits (canonical
    representatives decided), and the orbits with a stationary start."""

    models: int
    orbits: int
    stationary_orbits: int


class ProveTotals(TypedDict):
    """The ``prove`` object of results.json: models, orbits and chunks over the whole
    scope, per cell, resumed / damaged / failed chunk files, and times (seconds)."""

    models: int
    orbits: int
    stationary_orbits: int
    cells: dict[str, CellTotals]
    chunks: int
    chunks_done: int
    chunks_resumed: int
    chunks_damaged: list[str]
    chunks_failed: dict[str, str]
    chunk_dir: str
    wall_s: float
    chunk_cpu_s: float


@dataclass
class ProveRun:
    """What :func:`prove` computed: per-claim records, not-expressible claims, totals."""

    records: list[dict]
    not_expressible: dict[str, str]
    totals: ProveTotals
    interrupted: bool


def prove(
    claim_ids: Sequence[str],
    scope: Scope,
    out_dir: str | Path,
    *,
    engine: Engine | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_chunk: Callable[[int, int], None] | None = None,
) -> ProveRun:
    """Decide every instance of ``scope`` for the claims that prove supports.

    out_dir: the report folder (chunks under ``prove/chunks/<tag>``). ``on_chunk(done,
    total)`` after every chunk. Claims prove cannot express are returned with the reason.
    """
    supported = [c for c in claim_ids if c in DECIDERS]
    skipped = {
        c: NOT_EXPRESSIBLE.get(
            c,
            "no exact decider for this claim (user or new "
            "claim): prove supports " + ", ".join(DECIDERS),
        )
        for c in claim_ids
        if c not in DECIDERS
    }
    memory = any(c in MEMORY_CLAIMS for c in supported)
    hmm_claims = any(c not in MEMORY_CLAIMS for c in supported)
    chunks = [
        (c, lo, hi)
        for c, lo, hi in scope.chunks(chunk_size, memory=memory)
        if hmm_claims or isinstance(c, MemCell)
    ]
    tasks = [
        ChunkTask(
            c.k,
            c.n,
            c.den,
            lo,
            hi,
            scope.Ts,
            tuple(supported),
            getattr(c, "m", 0),
            getattr(c, "s", 0),
        )
        for c, lo, hi in chunks
    ]
    folder = Path(out_dir) / "prove" / "chunks" / chunk_tag(scope, supported, chunk_size)
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict] = {}
    damaged: list[str] = []
    for i, t in enumerate(tasks):
        try:
            res = _load_chunk(folder / t.name, t)
        except ValueError as exc:
            damaged.append(t.name)
            logger.warning("prove: chunk file %s is damaged (%s); recomputing it", t.name, exc)
            res = None
        if res is not None:
            results[i] = res
    resumed = len(results)
    todo = [i for i in range(len(tasks)) if i not in results]
    failed: dict[int, str] = {}
    t0 = time.perf_counter()
    interrupted = False
    if supported and todo:
        stream = (engine or Engine()).run(run_chunk, [tasks[i] for i in todo])
        try:
            for j, got in stream:
                i = todo[j]
                if isinstance(got, BaseException):
                    failed[i] = f"{type(got).__name__}: {got}"
                    continue
                results[i] = got
                doc = {"task": _task_dict(tasks[i]), "result": got}
                atomic_write(folder / tasks[i].name, json.dumps(doc, ensure_ascii=False))
                if on_chunk is not None:
                    on_chunk(len(results), len(tasks))
        except KeyboardInterrupt:
            interrupted = True
            stream.close()
    wall = time.perf_counter() - t0
    totals = _totals(scope, tasks, results, resumed, damaged, failed, wall, folder)
    records = (
        [_record(cid, scope, tasks, results, failed, totals) for cid in supported]
        if supported
        else []
    )
    return ProveRun(records, skipped, totals, interrupted)


def _totals(
    scope: Scope,
    tasks: list[ChunkTask],
    results: dict[int, dict],
    resumed: int,
    damaged: list[str],
    failed: dict[int, str],
    wall: float,
    folder: Path,
) -> ProveTotals:
    cells: dict[str, CellTotals] = {}
    for i, t in enumerate(tasks):
        name = f"memory m={t.m} s={t.s} n={t.n}" if t.s else f"k={t.k} n={t.n}"
        c = cells.setdefault(name, CellTotals(models=0, orbits=0, stationary_orbits=0))
        c["models"] += t.hi - t.lo
        if i in results:
            c["orbits"] += results[i]["orbits"]
            c["stationary_orbits"] += results[i]["stationary_orbits"]
    cpu = sum(r.get("wall_s", 0.0) for r in results.values())
    return ProveTotals(
        models=sum(t.hi - t.lo for t in tasks),
        orbits=sum(r["orbits"] for r in results.values()),
        stationary_orbits=sum(r["stationary_orbits"] for r in results.values()),
        cells=cells,
        chunks=len(tasks),
        chunks_done=len(results),
        chunks_resumed=resumed,
        chunks_damaged=damaged,
        chunks_failed={tasks[i].name: why for i, why in sorted(failed.items())},
        chunk_dir=str(folder),
        wall_s=round(wall, 3),
        chunk_cpu_s=round(cpu, 3),
    )


def _merged(cid: str, results: dict[int, dict]) -> tuple[Tally, float]:
    t = Tally()
    secs = 0.0
    for i in sorted(results):
        t.merge(Tally.from_dict(results[i]["tallies"][cid]))
        secs += results[i].get("seconds", {}).get(cid, 0.0)
    return t, secs


def _key_text(key: list) -> str:
    if len(key) == 7:  # memory cells
        m, s, n, T, den, idx, mi = key
        return f"memory m={m}, s={s}, n={n}, T={T}, den={den}, model #{idx}, task #{mi}"
    k, n, T, den, idx, mi = key
    return f"k={k}, n={n}, T={T}, den={den}, model #{idx}, task #{mi}"


def _counts(t: Tally, models: int, orbits: int, secs: float) -> dict:
    discarded = sum(t.discarded.values())
    return {
        # the fields every results record has (runner's Counts) …
        "examples": t.instances,
        "passed": t.passed,
        "discarded": discarded,
        "inconclusive": t.inconclusive,
        "searched": t.searched,
        # … and prove's
        "models": models,
        "orbits": orbits,
        "instances": t.instances,
        "decided": t.decided,
        "premise_false": t.premise_false,
        "exercised": t.exercised,
        "failed": t.failed,
        "misses": t.misses,
        "discarded_by_reason": dict(sorted(t.discarded.items())),
        "float_vs_exact_disagreements": t.disagreements,
        "seconds": round(secs, 3),
        "instances_per_s": round(t.instances / secs, 1) if secs > 0 else None,
    }


def _case(c: registry.Claim, role: str, slot: list) -> dict:
    key, message, instance, detail = slot
    outcome = {
        "status": "witness" if role == "witness" else "fail",
        "message": message,
        "quantities": {},
        "detail": {"key": _key_text(key), "prove_key": key},
    }
    if detail:
        outcome["detail"]["certificate"] = detail
    return case_document(c, None, role, instance, outcome)


def _falsified(
    head: str, slot: list | None, certificate: bool = True
) -> tuple[str, str, list | None, str]:
    """The falsified status of :func:`_status`: message ``"<head> at <key>: <why>"`` for the
    smallest such instance ``slot = [key, why, instance, certificate]`` (Tally keeps one
    with every failure and disagreement), which is the case (without its certificate when
    ``certificate`` is False)."""
    assert slot is not None, "Tally.record keeps a slot with every failure / disagreement"
    case = slot if certificate else [*slot[:3], None]
    return (
        ClaimStatus.FALSIFIED.value,
        f"{head} at {_key_text(slot[0])}: {slot[1]}",
        case,
        "counterexample",
    )


def _status(
    cid: str, kind: str, t: Tally, a: Tally | None, failed: dict
) -> tuple[str, str, list | None, str]:
    """(status, message, case slot, role)."""
    if failed:
        return (
            ClaimStatus.ERROR.value,
            f"{len(failed)} chunks failed: " + next(iter(failed.values())),
            None,
            "",
        )
    for tally, part in ((t, ""), (a, " (a)")):
        if tally is None:
            continue
        if tally.failed:
            head = f"falsified{part}: {tally.failed} counterexamples; smallest"
            return _falsified(head, tally.first_fail)
        if tally.disagreements:
            head = (
                f"the float route disagrees with the exact one{part} on {tally.disagreements} "
                "instances; first"
            )
            return _falsified(head, tally.first_disagreement, certificate=False)
    if t.inconclusive:
        return (
            ClaimStatus.INCONCLUSIVE.value,
            (f"{t.inconclusive} instances the float route could not decide"),
            None,
            "",
        )
    if kind == "existential":
        extra = ""
        if a is not None:
            # (a) is an implication: in a scope where no model meets C-HEAD with π > 0 it is
            # vacuous there (said so), while (b)'s search still decides the claim
            extra = (
                f"; (a) proved on {a.passed} instances"
                if a.exercised
                else "; (a) vacuous here: no model meets C-HEAD with π > 0"
            )
        if t.first_witness is None:
            return (
                ClaimStatus.NOT_FOUND.value,
                (f"none in scope: {t.searched} candidates decided exactly, none a witness" + extra),
                None,
                "",
            )
        return (
            ClaimStatus.FOUND.value,
            (
                f"smallest witness at {_key_text(t.first_witness[0])} (after {t.misses} "
                f"exactly decided non-witnesses): {t.first_witness[1]}" + extra
            ),
            t.first_witness,
            "witness",
        )
    if t.exercised == 0:
        return (
            ClaimStatus.VACUOUS.value,
            (f"vacuous: no instance with both labels met the premise ({t.passed} passed)"),
            None,
            "",
        )
    return (
        ClaimStatus.HELD.value,
        (
            f"proved on the scope: {t.passed} instances decided exactly ({t.exercised} with both "
            f"labels), {t.premise_false} outside the premise, "
            f"{sum(t.discarded.values())} ill-posed, 0 float/exact disagreements"
        ),
        None,
        "",
    )


def _record(
    cid: str,
    scope: Scope,
    tasks: list[ChunkTask],
    results: dict[int, dict],
    failed: dict[int, str],
    totals: ProveTotals,
) -> dict:
    c = registry.get(cid)
    _, kind = DECIDERS[cid]
    t, secs = _merged(cid, results)
    a = _merged(WEAKER_A, results)[0] if cid == "prompt.weaker" else None
    if len(results) < len(tasks) and not failed:
        status, message, slot, role = (
            ClaimStatus.INCONCLUSIVE.value,
            f"interrupted: {len(results)} of {len(tasks)} chunks decided",
            None,
            "",
        )
    else:
        status, message, slot, role = _status(cid, kind, t, a, failed)
    # models and orbits of the cells this claim ranges over (HMM or memory cells)
    mine = [i for i, task in enumerate(tasks) if bool(task.s) == (cid in MEMORY_CLAIMS)]
    models = sum(tasks[i].hi - tasks[i].lo for i in mine)
    orbits = sum(results[i]["orbits"] for i in mine if i in results)
    counts = _counts(t, models, orbits, secs)
    if a is not None:
        counts["part_a"] = _counts(a, models, orbits, 0.0)
    desc = c.describe()
    return {
        **desc,
        "provenance": desc["provenance"],
        "status": status,
        "message": message,
        "profile": "prove",
        "budget": t.instances,
        "seed": None,
        "strength": "proved",
        "scope": scope.to_dict(),
        "counts": counts,
        "time_s": round(secs, 3),
        "quantities": {},
        "coverage": {
            "exercised": (t.exercised / t.passed) if t.passed else None,
            "exercised_count": t.exercised,
            "decided": t.decided,
            "sizes": {},
            "targets": {},
        },
        "case": _case(c, role, slot) if slot is not None else None,
    }


__all__ = [
    "CHUNK_FORMAT",
    "CellTotals",
    "ChunkTask",
    "ProveRun",
    "ProveTotals",
    "chunk_tag",
    "prove",
    "run_chunk",
]


def check_chunk_size(value: int) -> int:
    if value < 1:
        raise InputError(f"--chunk-size must be ≥ 1, got {value}")
    return value
