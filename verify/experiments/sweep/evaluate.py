"""One instance's row (conditions, head and prompt LPs) and one cell's rows
(:func:`run_cell`, the engine task).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from verify.experiments.sweep.config import Cell
from verify.experiments.sweep.generate import reference_instances, strategy_instances

if TYPE_CHECKING:  # imported lazily at run time
    from verify.core.models import HMM
    from verify.recovery.analysis import HMMAnalysis
    from verify.recovery.lp import LPResult

#: One row of the results table: column name (:data:`COLUMNS`) → value.
Row = dict[str, Any]

#: Columns of the results table, in order, with their Arrow/numpy kind.
COLUMNS: dict[str, str] = {
    "generator": "str",
    "k": "int",
    "n": "int",
    "T": "int",
    "sparsity": "str",
    "nnz": "int",
    "cell": "str",
    "instance": "int",
    "status": "str",  # ok | discarded (γ = 0, THEORY §3) | error
    "message": "str",
    "inputs": "int",  # |𝒮|
    "positives": "int",  # inputs with y = +1
    "mu_support": "int",
    "gamma": "float",  # min_x |μᵀp(x)|
    "c_head": "bool",
    "c_head_sigma_min": "float",
    "c_head_mu": "bool",
    "c_head_mu_residual": "float",
    "c_prompt": "bool",
    "c_prompt_method": "str",  # exact | heuristic
    "c_prompt_sigma_min": "float",
    "c_prompt_support": "int",  # |S(U)| of the witness, 0 if none
    "c_prompt_U": "str",
    "c_prompt_v_max": "float",
    "head_lp": "str",  # recoverable | not_recoverable | inconclusive
    "head_margin": "float",  # verified margin (lower bound on t*)
    "head_certificate": "float",  # certificate residual (upper bound on t*)
    "prompt_source": "str",  # witness | neutral | state h: the prompt whose LP is recorded
    "prompt_lp": "str",  # recoverable | not_recoverable | inconclusive | no_witness
    "prompt_margin": "float",
    "prompt_certificate": "float",
    "prompt_witness_exact": "bool",  # the witness's own head b gives the task's signs
    "prompt_margin_bound": "float",  # γ / max v (prompt.exact), NaN without witness
    "head_recovers": "bool",
    "prompt_recovers": "bool",
    "prompt_only": "bool",  # prompt recovers and the LP certifies that no head does
    "resolved": "bool",  # not ill-posed: γ > verify.core.task.float_error_bound (status ok)
    "seconds": "float",
}
_EMPTY = {"str": "", "int": 0, "float": math.nan, "bool": False}


def _condition_columns(a: HMMAnalysis) -> Row:
    """C-HEAD, C-HEAD(μ) and C-PROMPT(μ) columns of a row."""
    ch, chm, cp = a.c_head, a.c_head_mu, a.c_prompt
    return {
        "c_head": ch.holds,
        "c_head_sigma_min": ch.quantities["sigma_min"],
        "c_head_mu": chm.holds,
        "c_head_mu_residual": chm.quantities["residual"],
        "c_prompt": cp.holds,
        "c_prompt_method": cp.method,
        "c_prompt_sigma_min": cp.quantities["sigma_min"],
        "c_prompt_support": int(cp.quantities["support_size"]),
        "c_prompt_U": ",".join(str(h) for h in cp.witness.get("U", ())),
        "c_prompt_v_max": cp.quantities["v_max"],
    }


def _best_prompt(
    hmm: HMM, xs: NDArray[np.int64], a: HMMAnalysis, prompts: str
) -> tuple[str, LPResult] | None:
    """(source, LP) of the first recovering prompt, else the best by ``LPResult.rank``; None
    when no prompt is usable. Tried in order: the C-PROMPT(μ) witness (its LP from the
    analysis), then with ``prompts="states"`` the neutral and single-state prompts."""
    from verify.core.inference import prompted_mask_probe
    from verify.recovery import RECOVERABLE, max_margin_head

    best = None if a.prompt is None else ("witness", a.prompt.lp)
    if prompts != "states" or (best is not None and best[1].status == RECOVERABLE):
        return best
    k, y = hmm.n_states, a.task.labels
    # u = 1 gives v = R1 = 1, G(u, x) = G(x): a prompt can always do what the head does.
    candidates = [("neutral", np.ones((1, k)))]
    candidates += [(f"state {h}", np.eye(k)[h : h + 1]) for h in range(k)]
    for source, u in candidates:
        try:
            lp = max_margin_head(prompted_mask_probe(hmm, xs, u), y)
        except ValueError:  # the prompt has probability 0 given some input: not usable
            continue
        if best is None or lp.rank() > best[1].rank():
            best = (source, lp)
        if lp.status == RECOVERABLE:
            break
    return best


def evaluate_instance(
    hmm: HMM, mu: NDArray[np.float64], xs: NDArray[np.int64], prompts: str = "witness"
) -> Row:
    """Conditions, head and prompt recoverability of one task (hmm, μ (k,), xs (B, T)), by
    ``check``'s analysis (:func:`verify.recovery.analysis.analyse_hmm`).

    Prompts tried, in order, until one recovers (LP on ``G(u, x)``): the C-PROMPT(μ)
    witness ``u = 1_U`` when the condition holds; with ``prompts="states"`` also the neutral
    prompt ``u = 1`` (``G(1, x) = G(x)``) and every single-state prompt ``u = e_h``
    (prompt.robust's ε-support witnesses, which the paper's dense but concentrated
    transitions need). The best is recorded; a miss is not a proof that no prompt
    recovers."""
    from verify.recovery import NOT_RECOVERABLE, RECOVERABLE
    from verify.recovery.analysis import analyse_hmm

    a = analyse_hmm(hmm, mu, xs)
    t = a.task
    row: Row = {"inputs": int(len(xs)), "positives": int((t.labels > 0).sum()),
                "mu_support": int(np.count_nonzero(mu)), "gamma": t.gamma}  # fmt: skip
    row.update(_condition_columns(a))
    if a.head_lp is None:  # ill-posed (γ ≤ tol, THEORY §3)
        row.update(status="discarded", message=t.reason)
        return row
    head = a.head_lp
    row.update(
        head_lp=head.status,
        head_margin=head.verified_margin,
        head_certificate=head.certificate_residual,
    )
    if a.prompt is not None:
        row.update(
            prompt_witness_exact=a.prompt.wrong == 0,
            prompt_margin_bound=a.prompt.witness.margin_bound(t.gamma),
        )
    best = _best_prompt(hmm, xs, a, prompts)
    if best is None:
        row.update(prompt_lp="no_witness")
    else:
        row.update(
            prompt_source=best[0],
            prompt_lp=best[1].status,
            prompt_margin=best[1].verified_margin,
            prompt_certificate=best[1].certificate_residual,
        )
    row.update(
        head_recovers=head.status == RECOVERABLE,
        prompt_recovers=row["prompt_lp"] == RECOVERABLE,
        prompt_only=row["prompt_lp"] == RECOVERABLE and head.status == NOT_RECOVERABLE,
        status="ok",
        resolved=True,
    )
    return row


@dataclass(frozen=True)
class CellTask:
    """What a worker needs to compute one cell (plain data, cheap to send)."""

    cell: Cell
    instances: int
    seed: int
    prompts: str = "witness"


@dataclass
class CellResult:
    """A finished cell: its rows (dicts keyed by COLUMNS) and the worker's wall time."""

    cell: Cell
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    worker: str = ""


def run_cell(task: CellTask) -> CellResult:
    """Generate and evaluate every instance of one cell; an instance that raises becomes a
    row with status ``error`` (its message kept), never a lost cell."""
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    cell = task.cell
    base = {
        "generator": cell.generator, "k": cell.k, "n": cell.n, "T": cell.T,
        "sparsity": cell.sparsity, "nnz": cell.nnz, "cell": cell.key,
    }  # fmt: skip
    make = reference_instances if cell.generator == "reference" else strategy_instances
    rows = []
    # One BLAS thread per worker: the engines give each worker one core, and the same
    # thread count everywhere keeps float rounding, hence decisions, identical.
    with threadpool_limits(1):
        for i, (hmm, mu, xs) in enumerate(make(cell, task.instances, task.seed)):
            t1 = time.perf_counter()
            try:
                row = evaluate_instance(hmm, mu, xs, task.prompts)
            except Exception as exc:  # noqa: BLE001 - a crash is a recorded finding
                row = {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:500]}
            rows.append(_complete({**base, "instance": i, **row}, time.perf_counter() - t1))
    return CellResult(cell, rows, time.perf_counter() - t0, f"{os.uname().nodename}:{os.getpid()}")


def _complete(row: dict, seconds: float) -> dict:
    out = {}
    for name, kind in COLUMNS.items():
        value = row.get(name, _EMPTY[kind])
        if kind == "float":
            value = float(value)
        elif kind == "int":
            value = int(value)
        elif kind == "bool":
            value = bool(value)
        else:
            value = str(value)
        out[name] = value
    out["seconds"] = float(seconds)
    return out
