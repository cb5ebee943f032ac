"""Helpers shared by the built-in claims: the LP oracle with its verdict mapped onto
outcomes, the second route (exact rationals or log-space) each decision is compared with,
exact certificates, and the rows of conflicting inputs shown on counterexample pages."""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

import numpy as np

from verify import crosscheck as ex
from verify.core import task
from verify.core.models import HMM, MemoryHMM
from verify.crosscheck import logspace as ls
from verify.recovery import max_margin_head
from verify.recovery.lp import LPResult

from .registry import Outcome

Model = HMM | MemoryHMM  # a claim's model (a memory task also names its cell)

#: Identities of THEORY §5 (e.g. ``b*ᵀG(x) = μᵀp(x)``) hold to this tolerance, relative to
#: ``max(1, ‖μ‖_∞)`` (THEORY: "the identity holds to 1e-9 on 𝒮").
IDENTITY_TOL = 1e-9
#: The LP cross-check of a witness runs on at most this many inputs: the LP_TIGHT inputs
#: where the witness's margin is smallest (where a disagreement would show) plus a seeded
#: sample of the rest. Restricting both oracles to one subset keeps the comparison exact
#: (the witness recovers the subset; the LP must agree on it) at a bounded solver cost
#: (HiGHS through cvxpy: ≈ 0.6 s at 256 rows on the loaded 2-core machine).
LP_MAX_ROWS = 96
LP_TIGHT = 48


def ill_posed(
    model: Model,
    mu: np.ndarray,
    xs: np.ndarray,
    score: np.ndarray,
    quantities: dict,
    cov: dict,
    cell: int | None = None,
) -> Outcome | None:
    """None, or a discarded Outcome when the task is ill-posed on xs (``verify.core.task``'s
    one rule: γ ≤ float_error_bound, near-ties decided exactly). Records the task's γ
    (exact at near-ties) in ``quantities["gamma"]``."""
    t = task.decide(model, xs, mu, cell, score=score)
    quantities["gamma"] = t.gamma
    if t.near.size and t.exact:
        # the near-ties' labels against the exact route's own signs (crosscheck.labels)
        sub = np.asarray(xs)[t.near]
        want = ex.labels(ex.rational_model(model), sub, task.rational_mu(mu), cell)
        if (want != t.labels[t.near]).any():
            return Outcome.failed(
                f"verify.core.task labels the near-ties {t.labels[t.near].tolist()}, the "
                f"exact route {want.tolist()}",
                quantities=quantities, **cov,
            )  # fmt: skip
    if t.ill_posed:
        return Outcome.discard(t.reason, quantities=quantities, **cov)
    return None


def prompt_probability_zero(
    v: np.ndarray, post: np.ndarray, quantities: dict, cov: dict
) -> Outcome | None:
    """None, or a discarded Outcome when the prompt has probability 0 together with some
    input of 𝒮: ``vᵀp(x) = 0`` (v (k,) = P(z | H_0 = h), post p(x) (B, k)), where G(u, x)
    is undefined — THEORY §5's precondition of every prompt claim (never a pass or a
    counterexample). Records ``prompt_probability_min`` = min_x vᵀp(x)."""
    joint = np.asarray(post, dtype=np.float64) @ np.asarray(v, dtype=np.float64)
    quantities["prompt_probability_min"] = float(joint.min()) if joint.size else 0.0
    zero = int((joint <= 0).sum())
    if zero:
        return Outcome.discard(
            f"the prompt has probability 0 on {zero} input(s) of 𝒮 (vᵀp(x) = 0)",
            quantities=quantities, **cov,
        )  # fmt: skip
    return None


def hmm_sizes(hmm: HMM, xs: np.ndarray, **extra: float) -> dict:
    """Instance sizes of an HMM task: k, n, T, B (|𝒮|), stationary (1 when the start is
    stationary, 0 when not: the coverage range [0, 1] shows both regimes were reached) and
    any ``extra`` (e.g. L)."""
    xs = np.asarray(xs)
    return {"k": hmm.n_states, "n": hmm.n_tokens, "T": int(xs.shape[1]), "B": len(xs),
            "stationary": int(hmm.is_stationary), **extra}  # fmt: skip


def mem_sizes(mem: MemoryHMM, xs: np.ndarray, **extra: float) -> dict:
    """Instance sizes of a memory task: k = m**N · s (product states), m, s, N, n, T, B,
    stationary (1 when the state chain starts stationary) and any ``extra`` (e.g. the task
    cell j* as ``cell``)."""
    xs = np.asarray(xs)
    pi = mem.state_start @ mem.state_transition
    return {
        "stationary": int(np.abs(pi - mem.state_start).max() <= 1e-12),
        "k": mem.n_values**mem.n_cells * mem.n_ordinary,
        "m": mem.n_values,
        "s": mem.n_ordinary,
        "N": mem.n_cells,
        "n": mem.n_tokens,
        "T": int(xs.shape[1]),
        "B": len(xs),
        **extra,
    }


def both_labels(y: np.ndarray) -> bool:
    """Whether both classes occur: a task with one label on 𝒮 is recovered by any constant."""
    y = np.asarray(y)
    return bool((y > 0).any() and (y < 0).any())


def relative(value: float, mu: np.ndarray) -> float:
    """``value / ‖μ‖_∞`` (a margin or slack on the task's own scale)."""
    return float(value) / max(float(np.abs(mu).max()), 1e-300)


def neglog(value: float, floor: float = 1e-300) -> float:
    """``-log10(value)`` (a target that grows as ``value`` approaches 0 from above)."""
    return -float(np.log10(max(float(value), floor)))


def lp(features: np.ndarray, labels: np.ndarray) -> LPResult:
    """THEORY §6's max-margin LP (``verify.recovery.max_margin_head``)."""
    return max_margin_head(features, labels)


def lp_summary(res: LPResult) -> dict:
    """The LP answer for a report (status, margins, certificate support)."""
    out = {
        "status": res.status,
        "margin": float(res.margin),
        "verified_margin": float(res.verified_margin),
        "certificate_residual": float(res.certificate_residual),
        "solver": res.solver,
        "reason": res.reason,
    }
    if res.certificate is not None:
        supp = res.support()
        out["lambda_support"] = [int(i) for i in supp[:8]]
        out["lambda"] = [float(res.certificate[i]) for i in supp[:8]]
    return out


def rows(
    xs: np.ndarray,
    idx: Iterable[int],
    *,
    labels: np.ndarray | None = None,
    posteriors: np.ndarray | None = None,
    features: np.ndarray | None = None,
    outputs: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    limit: int = 8,
) -> list[dict]:
    """Table rows for the inputs ``idx`` (the conflicting inputs of a case page)."""
    out = []
    for i in list(idx)[:limit]:
        r: dict = {"x": np.asarray(xs[i]).tolist()}
        if weights is not None:
            r["lambda"] = float(weights[i])
        if labels is not None:
            r["label"] = int(labels[i])
        if posteriors is not None:
            r["posterior"] = [round(float(v), 6) for v in posteriors[i]]
        if features is not None:
            r["features"] = [round(float(v), 6) for v in features[i]]
        if outputs is not None:
            r["head_output"] = float(outputs[i])
        out.append(r)
    return out


def _lp_subset(labels: np.ndarray, outputs: np.ndarray) -> np.ndarray | None:
    """The inputs the LP cross-check runs on when there are more than LP_MAX_ROWS: the
    LP_TIGHT smallest witness margins plus a seeded sample of the rest; None for all."""
    if len(labels) <= LP_MAX_ROWS:
        return None
    tight = np.argsort(labels * outputs)[:LP_TIGHT]
    rest = np.setdiff1d(np.arange(len(labels)), tight)
    pick = np.random.default_rng(0).choice(rest, LP_MAX_ROWS - LP_TIGHT, replace=False)
    return np.sort(np.concatenate([tight, pick]))


def _lp_disagreement(res: LPResult, wmargin: float, what: str) -> tuple[str, str] | None:
    """(outcome status, message) when the LP's answer does not agree with a witness whose
    normalised margin is ``wmargin`` > 0 on every input; None when they agree."""
    if res.status == "not_recoverable" and wmargin <= res.certificate_residual:
        # "not_recoverable" proves only t* ≤ residual (≤ 1e-8·scale); a witness margin at or
        # below that bound is consistent with it: the instance is below the LP's resolution.
        return "inconclusive", (
            f"{what} margin {wmargin:.3e} is below the LP's resolution "
            f"(certified t* ≤ {res.certificate_residual:.3e})"
        )
    if res.status == "not_recoverable":
        return "fail", (
            f"oracles disagree: the {what} recovers every label, the LP certifies no head does"
        )
    if res.status != "recoverable":
        return "inconclusive", f"LP: {res.reason}"
    if res.certificate is not None and res.certificate_residual < wmargin - 1e-7 * max(
        1.0, res.scale
    ):
        return "fail", (
            f"oracles disagree: the LP's certified bound t* ≤ {res.certificate_residual:.3e} "
            f"is below the {what}'s margin {wmargin:.3e}"
        )
    return None


def witness_vs_lp(
    *,
    xs: np.ndarray,
    labels: np.ndarray,
    features: np.ndarray,
    head: np.ndarray,
    posteriors: np.ndarray,
    quantities: dict,
    detail: dict,
    what: str = "witness",
    outcome: dict | None = None,
) -> Outcome:
    """The two oracles of a universal claim, which must agree (THEORY §5–§6).

    The constructive witness ``head`` must label every input correctly; the LP on the same
    features must then say "recoverable", and its certified upper bound on t* (the
    certificate residual) cannot be below the witness's normalised margin. Every
    disagreement is a counterexample; an LP that cannot decide makes the instance
    inconclusive (never a pass). ``outcome``: extra Outcome fields (exercised, sizes,
    targets) attached to whatever is returned.
    """
    extra = outcome or {}
    outputs = features @ head
    hnorm = float(np.abs(head).max()) if head.size else 0.0
    wmargin = float((labels * outputs).min()) / hnorm if hnorm > 0 else 0.0
    quantities["witness_margin"] = wmargin
    detail = {**detail, "head": [float(v) for v in head]}
    wrong = np.flatnonzero(np.sign(outputs) != labels)
    if wrong.size:
        shown = rows(xs, wrong, labels=labels, posteriors=posteriors, features=features,
                     outputs=outputs)  # fmt: skip
        return Outcome.failed(
            f"{what} misclassifies {wrong.size} of {len(xs)} inputs",
            quantities=quantities, detail={**detail, "inputs": shown}, **extra,
        )  # fmt: skip
    keep = _lp_subset(labels, outputs)  # every input was checked above
    if keep is not None:
        quantities["lp_rows"] = float(keep.size)
        xs, labels, features = xs[keep], labels[keep], features[keep]
        posteriors, outputs = posteriors[keep], outputs[keep]
    res = lp(features, labels)
    detail["certificate"] = lp_summary(res)
    quantities["lp_margin"] = float(res.verified_margin)
    verdict = _lp_disagreement(res, wmargin, what)
    if verdict is None:
        return Outcome.passed(quantities=quantities, detail=detail, **extra)
    status, message = verdict
    if status == "fail" and res.status == "not_recoverable":  # show the certificate's inputs
        detail = {**detail, "inputs": rows(xs, res.support(), labels=labels,
                                           posteriors=posteriors, features=features,
                                           outputs=outputs, weights=res.certificate)}  # fmt: skip
    return Outcome(status, message, quantities=quantities, detail=detail, **extra)


# --------------------------------------------------------------------------- second route

#: The exact rational route (verify.crosscheck) decides an instance when its work
#: B · (L + 1 + T) · k² is at most EXACT_WORK (verify.crosscheck's own limit is 4e7; this one
#: bounds the ci run's time); larger or non-rational instances use the log-space route.
EXACT_WORK = 1_000_000
#: Float features must match the second route's to this (THEORY: "to 1e-10"); both are
#: probabilities, so the tolerance is absolute.
ROUTE_TOL = 1e-10
#: A float label may differ from the exact one only where |score| is at rounding level.
SIGN_TOL = 1e-9
#: log p(x) of the two routes must agree to this (absolute in log space, i.e. relative in
#: p(x)); the scaled recursion accumulates ~T roundings of its log-scales.
LOGLIK_TOL = 1e-9


class Route:
    """What the second route computed for one instance: ``name`` ("exact" | "log-space"),
    ``labels`` (B,) ints (exact signs on the exact route), ``scores`` (B,) floats,
    ``features`` (B, d) floats or None, ``loglik`` (B,) log p(x) or None."""

    def __init__(self, name: str, labels: np.ndarray, scores: np.ndarray,
                 features: np.ndarray | None, loglik: np.ndarray | None = None):  # fmt: skip
        self.name, self.labels, self.scores = name, labels, scores
        self.features, self.loglik = features, loglik


def _log_fraction(p: Fraction) -> float:
    """``log p`` of a non-negative Fraction, exact to float rounding at any size (−inf at 0)."""
    return math.log(p.numerator) - math.log(p.denominator) if p > 0 else -math.inf


def second_route(
    model: Model,
    xs: np.ndarray,
    mu: np.ndarray,
    *,
    kind: str | None = "mask",
    prompt: np.ndarray | None = None,
    cell: int | None = None,
    s0: int | None = None,
    loglik: bool = False,
) -> Route | str:
    """Labels y(x) = sign(μᵀp(x)) (memory: ``μᵀP[M_cell | x]``, or ``| S_0 = s0, x]``) and
    the features — kind ``"mask"``: G(x); ``"prompted"``: G(u, x) with ``prompt`` (L, k);
    ``"pooled"``: (1/T) Σ_i G_i(x); a memory model runs on its product HMM — plus log p(x)
    when ``loglik``, from a route sharing no code with verify.core.inference: exact rationals
    when the instance is rational and small enough, else plain log-space float. Returns a
    reason string when neither route can decide (the caller makes the instance
    inconclusive, never a pass)."""
    xs = np.asarray(xs)
    is_mem = cell is not None
    L = 0 if prompt is None else len(prompt)
    m = model  # k: product states m**N · s of a memory model
    k = m.n_values**m.n_cells * m.n_ordinary if isinstance(m, MemoryHMM) else m.n_states
    work = len(xs) * (L + 1 + xs.shape[1]) * k * k * (2 if kind == "pooled" else 1)
    reason = f"work {work} > EXACT_WORK"
    if work <= EXACT_WORK:
        try:
            exact = ex.rational_model(model)
            post = (ex.memory_posterior(exact, xs, cell, s0) if cell is not None
                    else ex.posterior_h0(exact, xs))  # fmt: skip
            feats = {
                None: lambda: None,
                "mask": lambda: ex.mask_probe(exact, xs).to_float(),
                "prompted": lambda: ex.prompted_mask_probe(exact, xs, prompt).to_float(),
                "pooled": lambda: ex.loo_conditionals(exact, xs).to_float().mean(axis=1),
            }[kind]()
            ll = None
            if loglik:
                ll = np.array([_log_fraction(p) for p in ex.likelihood(exact, xs)])
            return Route("exact", np.asarray(post.signs(mu), dtype=np.int64),
                         np.asarray(post.to_float() @ mu), feats, ll)  # fmt: skip
        except ValueError as exc:  # ExactTooLarge or not rational: the log-space route
            reason = str(exc)[:120]
    try:
        lpost = (ls.memory_posterior(model, xs, cell, s0) if cell is not None
                 else ls.posterior_h0(model, xs))  # fmt: skip
        feats = {
            None: lambda: None,
            # G = W p on this route's own posterior (no second backward pass); a memory
            # model's post is marginalised to a cell, so its probe is computed afresh
            "mask": lambda: (
                np.asarray(ls.mask_probe(model, xs))
                if is_mem
                else np.asarray(lpost) @ np.asarray(model.emission)
            ),
            "prompted": lambda: np.asarray(ls.prompted_mask_probe(model, xs, np.asarray(prompt))),
            "pooled": lambda: np.asarray(ls.loo_conditionals(model, xs)).mean(axis=1),
        }[kind]()
        ll = np.asarray(ls.log_likelihood(model, xs)) if loglik else None
    except ValueError as exc:
        return f"exact route refuses ({reason}); log-space route refuses ({str(exc)[:120]})"
    scores = np.asarray(lpost) @ mu
    return Route("log-space", np.sign(scores).astype(np.int64), scores, feats, ll)


def compare_routes(
    route: Route,
    scores: np.ndarray,
    features: np.ndarray | None,
    what: str = "features",
    loglik: np.ndarray | None = None,
) -> str | None:
    """A message when the float route disagrees with the second route: a label differs
    where |score| is above rounding (exact route: the sign is decided in rationals), a
    feature differs by more than ROUTE_TOL, or log p(x) by more than LOGLIK_TOL. None when
    they agree."""
    scores = np.asarray(scores)
    scale = max(1.0, float(np.abs(scores).max()) if scores.size else 1.0)
    sign = np.sign(scores).astype(np.int64)
    bad = np.flatnonzero((sign != route.labels) & (np.abs(scores) > SIGN_TOL * scale))
    if bad.size:
        i = int(bad[0])
        return (
            f"float route and {route.name} route disagree on the label of {bad.size} inputs "
            f"(first: float score {scores[i]:.3e}, {route.name} sign {route.labels[i]:+d})"
        )
    if features is not None and route.features is not None:
        err = float(np.abs(np.asarray(features) - route.features).max()) if len(scores) else 0.0
        if err > ROUTE_TOL:
            return f"{what}: float route and {route.name} route differ by {err:.3e} > {ROUTE_TOL:g}"
    if loglik is not None and route.loglik is not None and len(scores):
        err = float(np.abs(np.asarray(loglik, dtype=np.float64) - route.loglik).max())
        if not err <= LOGLIK_TOL:  # NaN (one side −inf) counts as a disagreement
            return f"log p(x): float route and {route.name} route differ by {err:.3e}"
    return None


def decide_routes(
    model: Model,
    xs: np.ndarray,
    mu: np.ndarray,
    scores: np.ndarray,
    features: np.ndarray | None,
    cov: dict,
    quantities: dict,
    *,
    loglik: np.ndarray | None = None,
    kind: str | None = "mask",
    prompt: np.ndarray | None = None,
    cell: int | None = None,
    s0: int | None = None,
) -> np.ndarray | Outcome:
    """Run :func:`second_route` (``kind``, ``prompt``, ``cell``, ``s0`` as there) and
    :func:`compare_routes` (log p(x) too when the float route's ``loglik`` (B,) is given);
    return the second route's labels (B,) (exact signs on the exact route), or an outcome:
    inconclusive when no second route could decide, failed when the routes disagree.
    Records the route in ``cov["sizes"]["exact_route"]`` (1 exact, 0 log-space)."""
    route = second_route(model, xs, mu, loglik=loglik is not None, kind=kind, prompt=prompt,
                         cell=cell, s0=s0)  # fmt: skip
    if isinstance(route, str):
        return Outcome.inconclusive(route, quantities=quantities, **cov)
    cov.setdefault("sizes", {})["exact_route"] = int(route.name == "exact")
    msg = compare_routes(route, scores, features, loglik=loglik)
    if msg is not None:
        return Outcome.failed(
            msg, quantities=quantities,
            detail={"routes": ["float (verify.core.inference)", route.name]}, **cov,
        )  # fmt: skip
    return route.labels.astype(np.float64)


def exact_c_head(hmm: HMM) -> bool | None:
    """C-HEAD decided by exact rational rank (verify.crosscheck), or None when the model is not
    rational."""
    try:
        return bool(ex.c_head(ex.rational_model(hmm)).holds)
    except ValueError:
        return None


def built_to_violate_c_head(hmm: HMM, quantities: dict, cov: dict) -> Outcome | None:
    """None, or a failed Outcome for a model drawn as violating C-HEAD (strategies.hmms(
    violating="C-HEAD")) on which c_head and exact rational rank disagree, or on which
    both say C-HEAD holds: a strategy that stops violating its condition leaves the
    claim's premise untested while its examples still pass."""
    from verify.core.conditions import c_head

    holds = c_head(hmm).holds
    ex_holds = exact_c_head(hmm)
    if ex_holds is not None and ex_holds != holds:
        msg = f"c_head says {holds}, exact rational rank says {ex_holds}"
    elif holds:
        msg = "C-HEAD holds (c_head and exact rank agree)"
    else:
        return None
    return Outcome.failed(
        f"on a model built to violate C-HEAD, {msg}", quantities=quantities, **cov
    )


#: An LP certificate λ (Σλ = 1) must give ‖Σ_i λ_i y_i F(x_i)‖₁ ≤ CERT_TOL on the second
#: route's labels and features: the LP itself accepts ZERO_RTOL · max|F| = 1e-8 (F are
#: probabilities) and the routes differ by ≤ ROUTE_TOL per entry.
CERT_TOL = 1e-7


def certificate_on_route(
    res: LPResult,
    xs: np.ndarray,
    labels: np.ndarray,
    model: Model,
    mu: np.ndarray,
    quantities: dict,
    cov: dict,
    *,
    task_model: Model | None = None,
    kind: str = "mask",
    prompt: np.ndarray | None = None,
) -> Outcome | None:
    """None, or an Outcome when the LP's ``not_recoverable`` certificate does not stand on
    the second route: its support's labels (from ``task_model``, default ``model``, and μ)
    must equal ``labels`` there, and ``‖Σ λ_i y_i F(x_i)‖₁ ≤ CERT_TOL`` with the features F
    of ``model`` (second_route's ``kind`` and ``prompt``). Inconclusive when no second
    route decides the support; failed when the certificate is wrong on it (e.g. λ placed
    on other inputs than the ones it certifies)."""
    supp = res.support()
    assert res.certificate is not None, "a not_recoverable LP answer carries its certificate"
    lam, y = res.certificate[supp], np.asarray(labels)[supp]
    route = second_route(model, xs[supp], mu, kind=kind, prompt=prompt)
    task = route if task_model is None or isinstance(route, str) else (
        second_route(task_model, xs[supp], mu, kind=None))  # fmt: skip
    if isinstance(route, str) or isinstance(task, str):
        r = route if isinstance(route, str) else task
        return Outcome.inconclusive(f"certificate's second route: {r}",
                                    quantities=quantities, **cov)  # fmt: skip
    resid = float(np.abs((lam * task.labels) @ np.asarray(route.features)).sum())
    quantities["certificate_residual_route"] = resid
    if (task.labels != y).any() or not resid <= CERT_TOL:
        wrong = int((task.labels != y).sum())
        return Outcome.failed(
            f"the LP's certificate does not stand on the {route.name} route: "
            f"‖Σ λ_i y_i F(x_i)‖₁ = {resid:.3e} (> {CERT_TOL:g}) with {wrong} of "
            f"{supp.size} support labels differing",
            quantities=quantities,
            detail={"inputs": rows(xs, supp, labels=labels, weights=res.certificate),
                    "routes": ["LP (float)", route.name]},
            **cov,
        )  # fmt: skip
    return None


def no_linear_head(
    model: Model,
    xs: np.ndarray,
    labels: np.ndarray,
    features: np.ndarray,
    mu: np.ndarray,
    quantities: dict,
    cov: dict,
    *,
    name: str = "LP",
    key: str = "lp_margin_upper",
    recovers: str = "a linear head recovers",
    task_model: Model | None = None,
    prompt: np.ndarray | None = None,
) -> tuple[LPResult, Outcome | None]:
    """The §6 LP on ``features`` (B, d) with ``labels`` (B,) as the "no head recovers" half
    of an existential claim: ``(res, None)`` when the LP certifies that no linear head does
    and the certificate stands on the second route (:func:`certificate_on_route`; features
    of ``model``, prompted with ``prompt`` when given, labels of ``task_model``), else
    ``(res, outcome)`` — miss when a head recovers, inconclusive when the LP cannot
    decide, failed when its certificate is wrong. Records the LP's certified upper bound on
    the margin t* in ``quantities[key]``."""

    res = lp(features, labels)
    quantities[key] = float(res.certificate_residual)
    if res.status == "inconclusive":
        return res, Outcome.inconclusive(f"{name}: {res.reason}", quantities=quantities, **cov)
    if res.status == "recoverable":
        return res, Outcome.miss(recovers, quantities=quantities, **cov)
    kind = "mask" if prompt is None else "prompted"
    bad = certificate_on_route(res, xs, labels, model, mu, quantities, cov,
                               task_model=task_model, kind=kind, prompt=prompt)  # fmt: skip
    return res, bad


def certificate_detail(
    res: LPResult,
    model: Model,
    xs: np.ndarray,
    labels: np.ndarray,
    features: np.ndarray,
    *,
    task: dict | None = None,
    posteriors: np.ndarray | None = None,
    outputs: np.ndarray | None = None,
    prompt: np.ndarray | None = None,
) -> dict:
    """A witness page's certificate: the support's rows (λ, label, features, and a
    witness's ``outputs`` (B,) when given), the LP summary and the exact rational
    certificate (:func:`exact_certificate`)."""
    supp = res.support()
    kind = "mask_probe" if prompt is None else "prompted"
    return {
        "inputs": rows(xs, supp, labels=labels, posteriors=posteriors, features=features,
                       outputs=outputs, weights=res.certificate),
        "certificate": lp_summary(res),
        "exact_certificate": exact_certificate(model, xs, labels, res, task=task,
                                               features=kind, prompt=prompt),
    }  # fmt: skip


def exact_certificate(
    model: Model,
    xs: np.ndarray,
    labels: np.ndarray,
    res: LPResult,
    *,
    features: str = "mask_probe",
    prompt: np.ndarray | None = None,
    task: dict | None = None,
) -> dict:
    """The exact rational certificate (verify.crosscheck.find_certificate) behind an LP's
    ``not_recoverable`` verdict, re-checked here with zero error; ``{"exact": false,
    "reason": …}`` when the instance is not rational or no rational λ exists on the LP's
    support (the float certificate stays under ``certificate``)."""
    try:
        cert = ex.find_certificate(
            model, xs, labels, res.support(), features=features, prompt=prompt,
            lambda_hint=res.certificate, task=task,
        )  # fmt: skip
    except ValueError as exc:
        return {"exact": False, "reason": f"{type(exc).__name__}: {str(exc)[:160]}"}
    if cert is None:
        return {"exact": False, "reason": "no non-negative rational λ on the LP's support"}
    ok, message = ex.check_certificate(cert)
    if not ok:
        return {"exact": False, "reason": f"exact check failed: {message}"}
    return cert
