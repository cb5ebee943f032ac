"""The ladder rule of the asymptotic claims (THEORY §5 memory.pool, memory.prompt_limit):
decide a limit ``f_T(x) → μ_{M_j*}`` on a ladder of input lengths T (split from
verify.claims.memory); :func:`ladder_outcome` is one seed's outcome on it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from verify.core.models import MemoryHMM

from .registry import Outcome

#: The decision rule of the asymptotic claims (memory.pool, memory.prompt_limit; THEORY §5
#: memory.pool): a fixed finite-T accuracy threshold cannot falsify a limit, so each seed is
#: decided on a ladder of input lengths T (×4 per rung, fresh sequences at every rung).
#: ``e_T = RMS_x |f_T(x) − μ_{M_j*}|`` is the error of the head's score against its limit
#: (M_j* the sampled memory value). The ladder's low rung is the first with
#: ``T ≥ burn_in · t_rel`` (``t_rel = 1/(1 − |λ₂|)`` of the state chain: the ergodic averages
#: converge like ``1/√T`` only once T exceeds the mixing time).
#: - falsified (evidence against the limit): over at least ``min_span``× in T above the low
#:   rung, the error does not shrink at the rate the limit implies within a factor
#:   ``rate_slack``: ``e_top > rate_slack · e_low · √(T_low / T_top)`` (a wrong head or
#:   wrong pooling converges to a nonzero bias: the ratio stays near 1);
#: - or, at the T* the measured error scale predicts (Chebyshev with the CLT variance
#:   ``σ² = T_low · e_low²``: ``P(|f_T − μ_M| ≥ ε) ≤ σ² / (T ε²)``, ``ε = min_a |μ_a|``, so
#:   ``T* = σ² / ((1 − accuracy) ε²)``), the accuracy against ``sign μ_{M_j*}`` on fresh
#:   sequences at the first rung ≥ T* (and above the low rung) is below ``accuracy`` by more
#:   than ``noise_sd`` binomial standard deviations;
#: - inconclusive at T_max when the ladder is too short: T* > T_max, or fewer than
#:   ``min_span``× between the low rung and T_max;
#: - passed when the rate holds and the accuracy is reached at T*.
#: An error already at rounding level (≤ ``converged`` · ‖μ‖∞) counts as converged.
LADDER_RULE = {
    "burn_in": 10,  # × t_rel
    "min_span": 16,  # T_top / T_low for the rate test
    "rate_slack": 2.0,  # e_top may be up to twice the implied e_low·√(T_low/T_top)
    "accuracy": 0.9,
    "noise_sd": 3.0,
    "converged": 1e-9,
}


def relaxation_time(transition: np.ndarray) -> float:
    """``t_rel = 1 / (1 − |λ₂|)`` of a row-stochastic matrix (inf when |λ₂| = 1)."""
    lam = np.sort(np.abs(np.linalg.eigvals(np.asarray(transition, float))))[::-1]
    second = float(lam[1]) if lam.size > 1 else 0.0
    return math.inf if second >= 1 - 1e-12 else 1.0 / (1.0 - second)


def ladder_decision(
    score: Callable[[int], tuple[np.ndarray, np.ndarray]],
    mu: np.ndarray,
    rungs: tuple[int, ...],
    t_rel: float,
    rule: Mapping[str, float] = LADDER_RULE,
) -> tuple[str, str, dict]:
    """Decide an asymptotic claim ``f_T(x) → μ_{M_j*}`` on the ladder ``rungs`` (increasing
    T). ``score(T)`` samples fresh sequences of length T and returns ``(f_T(x) (B,),
    μ_{M_j*} (B,))``. Returns ``(status, message, quantities)``, status one of "pass",
    "fail", "inconclusive" (see :data:`LADDER_RULE`); rungs are run lazily (a seed that is
    decided early stops early)."""
    eps = float(np.abs(mu).min())
    tiny = rule["converged"] * max(1.0, float(np.abs(mu).max()))
    q: dict = {"t_rel": t_rel, "min_abs_mu": eps}
    need = rule["burn_in"] * t_rel
    low = next((i for i, T in enumerate(rungs) if T >= need), None)
    T_max = rungs[-1]
    if low is None or rungs[-1] < rule["min_span"] * rungs[low]:
        return (
            "inconclusive",
            (
                f"inconclusive at T = {T_max}: the ladder is too short for the chain's mixing "
                f"(t_rel = {t_rel:.3g})"
            ),
            q,
        )
    errs: dict[int, float] = {}
    accs: dict[int, float] = {}
    for T in rungs[low:]:
        f, target = score(T)
        errs[T] = float(np.sqrt(np.mean((f - target) ** 2)))
        accs[T] = float(np.mean(np.sign(f) == np.sign(target)))
        q[f"error_T{T}"], q[f"accuracy_T{T}"] = errs[T], accs[T]
        q["T_reached"] = T  # the longest inputs this seed was decided on
        B = len(f)
        T_low = rungs[low]
        e_low = errs[T_low]
        t_star = (T_low * e_low**2) / ((1 - rule["accuracy"]) * eps**2) if eps > 0 else math.inf
        q["T_star"] = t_star
        if T < rule["min_span"] * T_low:
            continue
        implied = e_low * math.sqrt(T_low / T)
        q["rate_ratio"] = errs[T] / implied if implied > 0 else 0.0
        if errs[T] > max(rule["rate_slack"] * implied, tiny):
            return (
                "fail",
                (
                    f"the error |f_T − μ_M| does not shrink at the limit's rate: RMS "
                    f"{e_low:.3g} at T = {T_low}, {errs[T]:.3g} at T = {T} (the limit implies "
                    f"≤ {implied:.3g}, allowed {rule['rate_slack']:g}×)"
                ),
                q,
            )
        checked = [t for t in errs if t > T_low and t >= t_star]
        if not checked:
            continue  # T* not reached yet: climb
        t_acc = checked[0]
        floor = rule["accuracy"] - rule["noise_sd"] * math.sqrt(
            rule["accuracy"] * (1 - rule["accuracy"]) / B
        )
        if accs[t_acc] < floor:
            return (
                "fail",
                (
                    f"accuracy {accs[t_acc]:.3f} at T = {t_acc} ≥ T* = {t_star:.0f} is below "
                    f"{rule['accuracy']} (−{rule['noise_sd']:g} s.d.: {floor:.3f}); the error "
                    f"scale at T = {T_low} predicts at least {rule['accuracy']} there"
                ),
                q,
            )
        how = "is at rounding level" if errs[T] <= tiny else "shrinks at the limit's rate"
        return (
            "pass",
            (
                f"error {how} ({e_low:.3g} at T = {T_low} → {errs[T]:.3g} at T = {T}); "
                f"accuracy {accs[t_acc]:.3f} at T = {t_acc} ≥ T* = {t_star:.0f}"
            ),
            q,
        )
    return (
        "inconclusive",
        (
            f"inconclusive at T = {T_max}: T* = {q['T_star']:.0f} > {T_max} (the error shrinks "
            "at the limit's rate, but the accuracy bound needs longer inputs)"
        ),
        q,
    )


def _ladder_rows(q: Mapping[str, float]) -> dict:
    """The per-rung errors and accuracies of a ladder's quantities (for the case page)."""
    return {k: v for k, v in q.items() if k.startswith(("error_T", "accuracy_T"))}


def _rungs(proto: Mapping[str, float]) -> tuple[int, ...]:
    """The ladder ``T_min, rung_factor·T_min, …, T_max`` of a protocol."""
    out, T = [], int(proto["T_min"])
    while T <= int(proto["T_max"]):
        out.append(T)
        T *= int(proto["rung_factor"])
    return tuple(out)


def _rng(seed: int, T: int) -> np.random.Generator:
    """Fresh sequences per (seed, rung): the accuracy at T* is checked on sequences the
    error scale was not measured on."""
    return np.random.default_rng([seed, T])


def ladder_outcome(
    mem: MemoryHMM,
    decide: Callable[[MemoryHMM, np.ndarray], np.ndarray],
    mu: np.ndarray,
    seed: int,
    protocol: Mapping[str, float],
    quantities: dict[str, float],
    cov: dict,
    detail: dict,
) -> Outcome:
    """An asymptotic claim's outcome for one seed: ``decide(mem, xs)`` (B,) scored against
    μ_{M_j*} (cell 0) on ``protocol["batch"]`` fresh sequences per rung of the protocol's
    ladder (:func:`ladder_decision`). Discarded when the state chain is not ergodic
    (|λ₂| = 1: periodic or reducible, no ergodic average). The ladder's quantities join
    ``quantities``, the longest T decided on joins ``cov["sizes"]`` (sizes as measured: the
    ladder stops where the seed is decided) and the per-rung rows join ``detail``."""

    def score(T: int) -> tuple[np.ndarray, np.ndarray]:
        xs, memory = mem.sample(int(protocol["batch"]), T, _rng(seed, T))
        return decide(mem, xs), mu[memory[:, 0]]

    t_rel = relaxation_time(mem.state_transition)
    if not math.isfinite(t_rel):
        return Outcome.discard(
            "the state chain is not ergodic (|λ₂| = 1): outside the premise",
            quantities=quantities, **cov,
        )  # fmt: skip
    status, message, lq = ladder_decision(score, mu, _rungs(protocol), t_rel, protocol)
    quantities.update(lq)
    if "T_reached" in lq:
        cov["sizes"]["T"] = int(lq["T_reached"])
    detail = {**detail, "ladder": _ladder_rows(lq)}
    return Outcome(status, message, quantities=quantities, detail=detail, **cov)
