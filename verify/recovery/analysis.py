"""``ptverify check MODEL.json``: every condition of THEORY §5 on a user's own model, with
its numbers, and the recovery verdicts of the witnesses and the LP (THEORY §6).

The JSON is an HMM or MemoryHMM in plain JSON (``HMM.to_json`` layout); it may also carry
``"mu"`` (task), ``"T"`` (input length) and ``"cell"`` (task cell), which the command-line
options override. The input set is all of ``[n]^T`` when ``n**T ≤ 50,000``, else 2,000
sequences sampled with ``--seed``; impossible sequences are dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from verify.core import conditions as C
from verify.core import task
from verify.core.conditions import ConditionResult
from verify.core.inference import mask_probe, posterior_h0, prompted_mask_probe
from verify.core.models import HMM, MemoryHMM, loads_json, model_from_dict
from verify.core.validation import InputError, as_int, require
from verify.recovery import LPResult, max_margin_head
from verify.recovery import witnesses as Wt

N_SAMPLED = 2_000
DEFAULT_T = 3


def input_set(model: HMM | MemoryHMM, T: int, seed: int) -> tuple[np.ndarray, str]:
    """𝒮 of THEORY §3 (``verify.core.task.input_set``) and how it was built."""
    xs = task.input_set(model, T, seed, n_samples=N_SAMPLED)
    if model.n_tokens**T <= task.MAX_EXHAUSTIVE:
        return xs, "exhaustive"
    return xs, f"{N_SAMPLED} sampled with seed {seed}, deduplicated"


class CheckInput(NamedTuple):
    """A validated ``check`` request: the model, μ ((k,) or (m,), or None), T and j*."""

    model: HMM | MemoryHMM
    mu: np.ndarray | None
    T: int
    cell: int


def read_check_input(
    text: str, name: str, mu: list[float] | None = None, T: int | None = None, cell: int = 0
) -> CheckInput:
    """Parse and validate a ``check`` request; every problem is a ValueError naming the
    field and the fix (bad input: exit 2). Options override the file's ``mu``/``T``/``cell``."""
    data = loads_json(text, name)
    model = model_from_dict(data, name)
    if mu is None and data.get("mu") is not None:
        mu = data["mu"]
    if T is None:
        T = data.get("T", DEFAULT_T)
    T = as_int(T, f"{name}: T", 1, 64)
    if "cell" in data:
        cell = data["cell"]
    if isinstance(model, MemoryHMM):
        cell = as_int(cell, f"{name}: cell", 0, model.n_cells - 1)
    mu_arr = None
    if mu is not None:
        try:
            mu_arr = np.asarray(mu, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{name}: mu must be a list of numbers, got {mu!r}") from None
        want, unit = (
            (model.n_states, "hidden state")
            if isinstance(model, HMM)
            else (model.n_values, "memory value")
        )
        if mu_arr.shape != (want,) or not np.isfinite(mu_arr).all():
            raise InputError(
                f"{name}: mu must be {want} finite numbers, one per {unit} "
                f"(the model has {want}), got {mu!r}"
            )
    return CheckInput(model, mu_arr, T, int(cell))


# --------------------------------------------------------------------------- the analysis


@dataclass(frozen=True)
class PromptAnalysis:
    """The C-PROMPT(μ) witness (prompt.exact, after Thm 3.6) on 𝒮: ``u = 1_U`` and its head
    b, ``wrong``: how many labels ``sign(bᵀG(u, x))`` misses, and the §6 LP on ``G(u, x)``
    (B, n)."""

    witness: Wt.PromptWitness
    wrong: int
    lp: LPResult


@dataclass(frozen=True)
class HMMAnalysis:
    """One HMM task (hmm, μ) on 𝒮 (xs (B, T)): C-HEAD, C-HEAD(μ), C-PROMPT(μ) (THEORY §5),
    the task (labels, γ, the ill-posed rule), and, when it is not ill-posed, the §6 LP on
    ``G(x)`` and the prompt witness when C-PROMPT(μ) holds. ``posterior``: p(x) (B, k).
    The one implementation behind ``check`` and every sweep row."""

    c_head: ConditionResult
    c_head_mu: ConditionResult
    c_prompt: ConditionResult
    task: task.Task
    posterior: NDArray[np.float64]
    head_lp: LPResult | None = None  # None when ill-posed
    prompt: PromptAnalysis | None = None  # None when ill-posed or C-PROMPT(μ) fails

    @property
    def conditions(self) -> list[ConditionResult]:
        return [self.c_head, self.c_head_mu, self.c_prompt]


def analyse_hmm(hmm: HMM, mu: NDArray[np.float64], xs: NDArray[np.int64]) -> HMMAnalysis:
    """Conditions and recovery of the task (hmm, μ (k,)) on xs (B, T); see
    :class:`HMMAnalysis`. Labels by ``verify.core.task.decide`` (near-ties decided exactly)."""
    post = np.asarray(posterior_h0(hmm, xs))
    t = task.decide(hmm, xs, mu, score=post @ mu)  # the one task rule (ill-posed: γ ≤ tol)
    ch, chm, cp = C.c_head(hmm), C.c_head_mu(hmm, mu), C.c_prompt(hmm, mu)
    if t.ill_posed:
        return HMMAnalysis(ch, chm, cp, t, post)
    y = t.labels
    head = max_margin_head(np.asarray(mask_probe(hmm, xs)), y)
    prompt = None
    if cp.holds:
        # C-PROMPT covers only the states with π > 0 (p_h(x) = 0 for every x elsewhere, so
        # μ_h is irrelevant there); the witness is built for μ restricted to the states
        # that some input of 𝒮 can have at the mask.
        alive = post.max(axis=0) > 0
        w = Wt.prompt_witness(hmm, np.where(alive, mu, 0.0), cp.witness["U"])
        Gu = np.asarray(prompted_mask_probe(hmm, xs, w.prompt))
        wrong = int((np.sign(Gu @ w.b) != y).sum())
        prompt = PromptAnalysis(w, wrong, max_margin_head(Gu, y))
    return HMMAnalysis(ch, chm, cp, t, post, head, prompt)


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Labels:
    """The task on the input set 𝒮: y = sign(score) with score = μᵀp(x) (THEORY §3),
    margin γ = min |score|; ``decided`` when recovery is asked (γ > 0 and, for a memory
    model, both labels present)."""

    size: int
    T: int
    how: str
    cell: int | None  # the task cell of a memory model
    margin: float
    positive: int
    negative: int
    zero: int
    decided: bool
    tol: float = 0.0  # verify.core.task's float resolution (the ill-posed rule: γ ≤ tol)
    exact: bool = True  # near-ties decided by the exact route (or none to decide)
    ties: tuple[tuple[int, ...], ...] = ()  # up to 5 inputs with label 0
    reason: str = ""  # why the task is ill-posed, if it is


@dataclass(frozen=True)
class LPVerdict:
    """The max-margin LP (THEORY §6) on one feature map."""

    label: str
    result: LPResult


@dataclass(frozen=True)
class WitnessVerdict:
    """A theorem's witness head on 𝒮: how many labels it gets wrong; ``note`` qualifies it."""

    label: str
    wrong: int
    total: int
    note: str | None = None


@dataclass
class CheckReport:
    """What ``check`` found, in print order: the conditions (THEORY §5), then, given μ, the
    input set and labels and, when decided, the recovery verdicts (THEORY §6)."""

    name: str
    model: HMM | MemoryHMM
    conditions: list[ConditionResult]
    mu_given: bool
    labels: Labels | None = None
    recovery: list[LPVerdict | WitnessVerdict] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0, or 3 when an LP could not decide."""
        lps = [v.result for v in self.recovery if isinstance(v, LPVerdict)]
        return 3 if any(r.status == "inconclusive" for r in lps) else 0


def _labels(t: task.Task, xs: NDArray[np.int64], how: str, cell: int | None) -> Labels:
    """The summary of the task's labels (B,) on xs; recovery is decided when the task is not
    ill-posed (and, for a memory model, both labels occur)."""
    y = t.labels
    pos, neg, zero = int((y > 0).sum()), int((y < 0).sum()), int((y == 0).sum())
    decided = not t.ill_posed and (cell is None or (pos > 0 and neg > 0))
    ties = tuple(tuple(int(v) for v in xs[i]) for i in t.ties[:5])
    lab = Labels(len(y), int(xs.shape[1]), how, cell, t.gamma, pos, neg, zero, decided,
                 t.tol, t.exact, ties, t.reason)  # fmt: skip
    return lab


def _lp(label: str, features: np.ndarray, y: np.ndarray) -> LPVerdict:
    return LPVerdict(label, max_margin_head(np.asarray(features), y))


def _witness(
    label: str, outputs: np.ndarray, y: np.ndarray, note: str | None = None
) -> WitnessVerdict:
    return WitnessVerdict(label, int((np.sign(outputs) != y).sum()), len(y), note)


def hmm_report(inp: CheckInput, name: str, seed: int = 0) -> CheckReport:
    """Conditions and recovery for an HMM: C-HEAD; given μ, :func:`analyse_hmm` (C-HEAD(μ),
    C-PROMPT(μ), the LP on G(x), and, when C-PROMPT(μ) holds, the prompt witness and the
    LP on G(u, x)) and the head witness b*."""
    hmm, mu, T = require(inp.model, HMM, "model"), inp.mu, inp.T
    if mu is None:
        return CheckReport(name, hmm, [C.c_head(hmm)], False)
    xs, how = input_set(hmm, T, seed)
    a = analyse_hmm(hmm, mu, xs)
    report = CheckReport(name, hmm, a.conditions, True, _labels(a.task, xs, how, None))
    if a.head_lp is None:  # ill-posed: recovery is not decided
        return report
    y = a.task.labels
    hw = Wt.head_witness(hmm, mu)
    report.recovery += [
        LPVerdict("LP, linear head on G(x)", a.head_lp),
        _witness("witness b* = pinv(W)ᵀμ", hw.decision_values(hmm, xs), y),
    ]
    if a.prompt is not None:
        U = list(a.prompt.witness.U)
        # THEORY §1.1: prompt claims assume H_0 ~ π whatever the prompt length; with
        # another start the prompt also shifts the prior, so the witness may miss.
        note = (
            None
            if hmm.is_stationary
            else "start is not stationary: prompt.exact's witness (THEORY) assumes it is"
        )
        report.recovery += [
            WitnessVerdict(f"prompt witness U={U}", a.prompt.wrong, len(y), note),
            LPVerdict(f"LP, head on G(u,x), U={U}", a.prompt.lp),
        ]
    return report


def memory_report(inp: CheckInput, name: str, seed: int = 0) -> CheckReport:
    """Conditions and recovery for a memory HMM: C-HEAD of the product chain; given μ,
    C-MEM-POOL and C-MEM-PROMPT, the LPs on G(x) and on mean-pooled G_i(x), and the
    witnesses of the conditions that hold."""
    mem, mu, T, cell = require(inp.model, MemoryHMM, "model"), inp.mu, inp.T, inp.cell
    report = CheckReport(name, mem, [C.c_head(mem.as_hmm())], mu is not None)
    if mu is None:
        return report
    pool, mp = C.c_mem_pool(mem, mu, cell), C.c_mem_prompt(mem, mu, cell)
    if mem.n_cells == 1:  # C-MEM-IID (memory.iid_exact) is its own condition (§5)
        report.conditions.append(C.c_mem_iid(mem))
    report.conditions += [pool, mp]
    xs, how = input_set(mem, T, seed)
    t = task.decide(mem, xs, mu, cell)
    y = t.labels
    report.labels = _labels(t, xs, how, cell)
    if not report.labels.decided:
        return report
    report.recovery += [
        _lp("LP, linear head on G(x)", mask_probe(mem.as_hmm(), xs), y),
        _lp("LP, head on mean-pooled G_i(x)", Wt.pooled_features(mem, xs), y),
    ]
    if pool.holds:
        pw = Wt.pooled_witness(mem, mu, cell)
        report.recovery.append(
            _witness("pooled witness (memory.pool)", pw.decision_values(mem, xs), y)
        )
    if mp.holds:
        w = Wt.memory_prompt_witness(mem, mu, mp.witness["s0"], mp.witness["U"], cell)
        report.recovery.append(
            _witness(f"memory prompt witness s0={w.s0}", w.decision_values(mem, xs), y)
        )
    return report


# --------------------------------------------------------------------------- text


def _fmt_q(q: dict) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in q.items())


def _condition_line(c: ConditionResult, product: bool) -> str:
    """One condition, its numbers and witness; ``product``: C-HEAD of a memory model's
    product chain."""
    name = f"{c.name:<20}"
    if product:
        name = name.replace("C-HEAD ", "C-HEAD (product)", 1)
    wit = f"  witness={c.to_dict()['witness']}" if c.witness else ""
    return (
        f"  {name} holds={str(bool(c.holds)):<5}  {_fmt_q(dict(c.quantities))}{wit}  "
        f"[{c.method}, tol {c.tol:g}]"
    )


def _labels_lines(lab: Labels) -> list[str]:
    cell = "" if lab.cell is None else f"; task cell {lab.cell}"
    how = "near-ties decided exactly" if lab.exact else "NOT rational: near-ties undecided"
    lines = [
        f"input set: {lab.size} inputs of length T={lab.T} ({lab.how}){cell}",
        f"  margin γ = {lab.margin:.4g} (ill-posed when ≤ {lab.tol:.2g}; {how}); "
        f"labels +1: {lab.positive}, −1: {lab.negative}, 0 (ill-posed): {lab.zero}",
    ]
    if lab.ties:
        shown = ", ".join(str(t) for t in lab.ties)
        what = "exact tie μᵀp(x) = 0" if lab.exact else "|μᵀp(x)| ≤ tolerance, undecided"
        lines.append(f"  label 0 ({what}): x = {shown}" + (" …" if lab.zero > 5 else ""))
    if lab.decided:
        return lines
    return lines + [f"  {lab.reason or 'single-label task'}: recovery is not decided"]


def _verdict_lines(v: LPVerdict | WitnessVerdict) -> list[str]:
    if isinstance(v, WitnessVerdict):
        verdict = "recovers every label" if v.wrong == 0 else f"misclassifies {v.wrong}/{v.total}"
        note = [f"    ({v.note})"] if v.note else []
        return [f"  {v.label:<34} {verdict}"] + note
    res = v.result
    if res.status == "recoverable":
        extra = f"verified margin {res.verified_margin:.4g}"
    elif res.status == "not_recoverable":
        extra = (
            f"certificate on {res.support().size} inputs, ‖Σλ y F‖₁ = "
            f"{res.certificate_residual:.2e}"
        )
    else:
        extra = res.reason
    return [f"  {v.label:<34} {res.status:<16} {extra}"]


NEED_MU = {
    "hmm": "  (pass --mu to evaluate C-HEAD(μ), C-PROMPT(μ) and recovery)",
    "memory": "  (pass --mu to evaluate C-MEM-IID (N = 1), C-MEM-POOL, C-MEM-PROMPT and recovery)",
}


def report_lines(report: CheckReport) -> list[str]:
    """The report as the lines ``ptverify check`` prints."""
    memory = isinstance(report.model, MemoryHMM)
    lines = [f"{report.name}: {report.model!r}"]
    if isinstance(report.model, HMM):
        lines.append(f"  stationary start: {'yes' if report.model.is_stationary else 'no'}")
    lines.append("conditions:")
    lines += [_condition_line(c, memory and c.name == "C-HEAD") for c in report.conditions]
    if not report.mu_given or report.labels is None:
        return [*lines, NEED_MU["memory" if memory else "hmm"]]
    lines += _labels_lines(report.labels)
    if report.labels.decided:
        lines.append("recovery:")
        for v in report.recovery:
            lines += _verdict_lines(v)
    return lines


def report_json(report: CheckReport) -> dict:
    """The report as plain JSON (``check --json``; schema ``ptverify.check`` v1): model,
    conditions (:meth:`ConditionResult.to_dict`), μ given, labels summary, and per recovery
    verdict its label with the LP's status and margins or the witness's wrong count."""
    recovery = []
    for v in report.recovery:
        if isinstance(v, WitnessVerdict):
            recovery.append({"label": v.label, "kind": "witness", "wrong": v.wrong,
                             "total": v.total, "note": v.note})  # fmt: skip
        else:
            res = v.result
            recovery.append({
                "label": v.label, "kind": "lp", "status": str(res.status),
                "verified_margin": _finite_or_none(res.verified_margin),
                "certificate_residual": _finite_or_none(res.certificate_residual),
                "reason": res.reason,
            })  # fmt: skip
    labels = report.labels
    return {
        "schema": "ptverify.check",
        "schema_version": 1,
        "name": report.name,
        "model": report.model.to_dict(),
        "conditions": [c.to_dict() for c in report.conditions],
        "mu_given": report.mu_given,
        "labels": None
        if labels is None
        else {**asdict(labels), "margin": _finite_or_none(labels.margin)},
        "recovery": recovery,
        "exit_code": report.exit_code,
    }


def _finite_or_none(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def build_report(inp: CheckInput, name: str, seed: int = 0) -> CheckReport:
    """The report of a validated request (HMM or memory HMM)."""
    build = memory_report if isinstance(inp.model, MemoryHMM) else hmm_report
    return build(inp, name, seed)


def check_model(inp: CheckInput, name: str, seed: int = 0) -> int:
    """Print the report for a validated request; return 0, or 3 when an LP could not decide."""
    report = build_report(inp, name, seed)
    print("\n".join(report_lines(report)))
    return report.exit_code
