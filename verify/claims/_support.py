"""Helpers shared by the built-in claims: lazy access to the machinery (conditions,
strategies, recovery), the LP oracle with its verdict mapped onto outcomes, and the rows of
conflicting inputs shown on counterexample pages."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .registry import Unavailable

#: Identities of THEORY §5 (e.g. ``b*ᵀG(x) = μᵀp(x)``) hold to this tolerance, relative to
#: ``max(1, ‖μ‖_∞)`` (THEORY: "the identity holds to 1e-9 on 𝒮").
IDENTITY_TOL = 1e-9
#: A task with margin γ ≤ GAMMA_TOL on its input set is ill-posed: discarded, never a pass.
GAMMA_TOL = 1e-12
#: The LP cross-check of a witness runs on at most this many inputs: the LP_TIGHT inputs
#: where the witness's margin is smallest (where a disagreement would show) plus a seeded
#: sample of the rest. Restricting both oracles to one subset keeps the comparison exact
#: (the witness recovers the subset; the LP must agree on it) at a bounded solver cost
#: (HiGHS through cvxpy: ≈ 0.6 s at 256 rows on the loaded 2-core machine).
LP_MAX_ROWS = 96
LP_TIGHT = 48


def hmm_sizes(hmm: Any, xs: np.ndarray, **extra: float) -> dict:
    """Instance sizes of an HMM task: k, n, T, B (|𝒮|) and any ``extra`` (e.g. L)."""
    xs = np.asarray(xs)
    return {"k": hmm.n_states, "n": hmm.n_tokens, "T": int(xs.shape[1]), "B": len(xs), **extra}


def mem_sizes(mem: Any, xs: np.ndarray, **extra: float) -> dict:
    """Instance sizes of a memory task: k = m**N · s (product states), m, s, N, n, T, B."""
    xs = np.asarray(xs)
    return {
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


def neglog(value: float, floor: float = 1e-300) -> float:
    """``-log10(value)`` (a target that grows as ``value`` approaches 0 from above)."""
    return -float(np.log10(max(float(value), floor)))


def need(module: str, *names: str) -> Any:
    """``module`` (or its attributes ``names``), or :class:`Unavailable` when missing."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise Unavailable(f"{module} is not installed yet ({exc})") from None
    if not names:
        return mod
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise Unavailable(f"{module} lacks {missing}")
    vals = tuple(getattr(mod, n) for n in names)
    return vals[0] if len(vals) == 1 else vals


def strategy(name: str) -> Any:
    """A public strategy of the ``strategies`` package (Unavailable when missing); looked
    up in the package first, then in its submodules (while the package is assembled)."""
    for mod in ("strategies", "strategies.hmm", "strategies.memory", "strategies.blocks"):
        try:
            return need(mod, name)
        except Unavailable:
            continue
    raise Unavailable(f"strategies.{name} is not available yet")


def lp(features: np.ndarray, labels: np.ndarray) -> Any:
    """THEORY §6's max-margin LP (``verify.recovery.max_margin_head``)."""
    return need("verify.recovery", "max_margin_head")(features, labels)


def lp_summary(res: Any) -> dict:
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
    idx: Any,
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


def rel_err(a: np.ndarray, b: np.ndarray, scale: float) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) / max(1.0, scale) if len(a) else 0.0


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
) -> Any:
    """The two oracles of a universal claim, which must agree (THEORY §5–§6).

    The constructive witness ``head`` must label every input correctly; the LP on the same
    features must then say "recoverable", and its certified upper bound on t* (the
    certificate residual) cannot be below the witness's normalised margin. Any
    disagreement is a counterexample; an LP that cannot decide makes the instance
    inconclusive (never a pass). ``outcome``: extra Outcome fields (exercised, sizes,
    targets) attached to whatever is returned.
    """
    from .registry import Outcome

    outputs = features @ head
    hnorm = float(np.abs(head).max()) if head.size else 0.0
    wmargin = float((labels * outputs).min()) / hnorm if hnorm > 0 else 0.0
    quantities["witness_margin"] = wmargin
    detail = {**detail, "head": [float(v) for v in head]}
    wrong = np.flatnonzero(np.sign(outputs) != labels)
    if wrong.size:
        return Outcome.failed(
            f"{what} misclassifies {wrong.size} of {len(xs)} inputs",
            quantities=quantities,
            detail={
                **detail,
                "inputs": rows(
                    xs, wrong, labels=labels, posteriors=posteriors, features=features,
                    outputs=outputs,
                ),
            },
            **(outcome or {}),
        )  # fmt: skip
    if len(xs) > LP_MAX_ROWS:
        # every input was checked above; the LP runs on a subset (see LP_MAX_ROWS)
        tight = np.argsort(labels * outputs)[:LP_TIGHT]
        rest = np.setdiff1d(np.arange(len(xs)), tight)
        pick = np.random.default_rng(0).choice(rest, LP_MAX_ROWS - LP_TIGHT, replace=False)
        keep = np.sort(np.concatenate([tight, pick]))
        quantities["lp_rows"] = float(keep.size)
        xs, labels, features = xs[keep], labels[keep], features[keep]
        posteriors, outputs = posteriors[keep], outputs[keep]
    res = lp(features, labels)
    detail["certificate"] = lp_summary(res)
    quantities["lp_margin"] = float(res.verified_margin)
    if res.status == "not_recoverable" and wmargin <= res.certificate_residual:
        # "not_recoverable" proves only t* ≤ residual (≤ 1e-8·scale); a witness margin at or
        # below that bound is consistent with it: the instance is below the LP's resolution.
        return Outcome.inconclusive(
            f"{what} margin {wmargin:.3e} is below the LP's resolution "
            f"(certified t* ≤ {res.certificate_residual:.3e})",
            quantities=quantities,
            detail=detail,
            **(outcome or {}),
        )
    if res.status == "not_recoverable":
        supp = res.support()
        return Outcome.failed(
            f"oracles disagree: the {what} recovers every label, the LP certifies no head does",
            quantities=quantities,
            detail={
                **detail,
                "inputs": rows(
                    xs, supp, labels=labels, posteriors=posteriors, features=features,
                    outputs=outputs, weights=res.certificate,
                ),
            },
            **(outcome or {}),
        )  # fmt: skip
    if res.status != "recoverable":
        return Outcome.inconclusive(
            f"LP: {res.reason}", quantities=quantities, detail=detail, **(outcome or {})
        )
    if res.certificate is not None and res.certificate_residual < wmargin - 1e-7 * max(
        1.0, res.scale
    ):
        return Outcome.failed(
            f"oracles disagree: the LP's certified bound t* ≤ {res.certificate_residual:.3e} "
            f"is below the {what}'s margin {wmargin:.3e}",
            quantities=quantities,
            detail=detail,
            **(outcome or {}),
        )
    return Outcome.passed(quantities=quantities, detail=detail, **(outcome or {}))


# --------------------------------------------------------------------------- second route

#: The exact rational route (verify.exact) decides an instance when its work
#: B · (L + 1 + T) · k² is at most EXACT_WORK (verify.exact's own limit is 4e7; this one
#: bounds the ci run's time); larger or non-rational instances use the log-space route.
EXACT_WORK = 1_000_000
#: Float features must match the second route's to this (THEORY: "to 1e-10"); both are
#: probabilities, so the tolerance is absolute.
ROUTE_TOL = 1e-10
#: A float label may differ from the exact one only where |score| is at rounding level.
SIGN_TOL = 1e-9


class Route:
    """What the second route computed for one instance: ``name`` ("exact" | "log-space"),
    ``labels`` (B,) ints (exact signs on the exact route), ``features`` (B, d) floats or
    None, ``scores`` (B,) floats."""

    def __init__(self, name: str, labels: np.ndarray, scores: np.ndarray, features: Any):
        self.name, self.labels, self.scores, self.features = name, labels, scores, features


def second_route(
    model: Any,
    xs: np.ndarray,
    mu: np.ndarray,
    *,
    kind: str | None = "mask",
    prompt: np.ndarray | None = None,
    cell: int | None = None,
    s0: int | None = None,
) -> Route | str:
    """Labels y(x) = sign(μᵀp(x)) (memory: ``μᵀP[M_cell | x]``, or ``| S_0 = s0, x]``) and
    the features (kind ``"mask"``: G(x); ``"prompted"``: G(u, x) with ``prompt`` (L, k), on the
    product HMM for a memory model) from a route sharing no code with verify.inference:
    exact rationals when the instance is rational and small enough, else plain log-space
    float. Returns a reason string when neither route can decide (the caller makes the
    instance inconclusive, never a pass)."""
    try:
        ex = importlib.import_module("verify.exact")
    except ModuleNotFoundError as exc:
        return f"no second route: {exc}"
    xs = np.asarray(xs)
    is_mem = cell is not None
    L = 0 if prompt is None else len(prompt)
    k = (model.n_values**model.n_cells * model.n_ordinary) if is_mem else model.n_states
    work = len(xs) * (L + 1 + xs.shape[1]) * k * k
    reason = f"work {work} > EXACT_WORK"
    if work <= EXACT_WORK:
        try:
            exact = ex.rational_model(model)
            base = exact.product if is_mem else exact
            post = (ex.memory_posterior(exact, xs, cell, s0) if is_mem
                    else ex.posterior_h0(exact, xs))  # fmt: skip
            labels = np.asarray(post.signs(mu), dtype=np.int64)
            scores = np.asarray(post.to_float() @ mu)
            feats = None
            if kind == "mask":
                feats = ex.mask_probe(base, xs).to_float()
            elif kind == "prompted":
                feats = ex.prompted_mask_probe(base, xs, prompt).to_float()
            return Route("exact", labels, scores, feats)
        except ValueError as exc:  # ExactTooLarge or not rational: the log-space route
            reason = str(exc)[:120]
    try:
        ls = importlib.import_module("verify.exact.logspace")
    except ModuleNotFoundError:
        return f"exact route refuses ({reason}) and no log-space route is installed"
    post = (ls.memory_posterior(model, xs, cell, s0) if is_mem
            else ls.posterior_h0(model, xs))  # fmt: skip
    scores = np.asarray(post) @ mu
    base = need("verify.inference", "product_hmm")(model) if is_mem else model
    feats = None
    if kind == "mask" and not is_mem:
        feats = np.asarray(post) @ np.asarray(model.emission)  # G = W p on this route's p
    elif kind == "mask":
        feats = np.asarray(ls.mask_probe(base, xs))
    elif kind == "prompted":
        feats = np.asarray(ls.prompted_mask_probe(base, xs, prompt))
    return Route("log-space", np.sign(scores).astype(np.int64), scores, feats)


def compare_routes(
    route: Route, scores: np.ndarray, features: np.ndarray | None, what: str = "features"
) -> str | None:
    """A message when the float route disagrees with the second route: a label differs
    where |score| is above rounding (exact route: the sign is decided in rationals), or a
    feature differs by more than ROUTE_TOL. None when they agree."""
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
    return None


def decide_routes(
    model: Any,
    xs: np.ndarray,
    mu: np.ndarray,
    scores: np.ndarray,
    features: np.ndarray | None,
    cov: dict,
    quantities: dict,
    **kw: Any,
) -> tuple[np.ndarray | None, Any]:
    """Run :func:`second_route` and :func:`compare_routes`; return ``(labels, None)`` with
    the second route's labels (exact signs on the exact route), or ``(None, outcome)``:
    inconclusive when no second route could decide, failed when the routes disagree.
    Records the route in ``cov["sizes"]["exact_route"]`` (1 exact, 0 log-space)."""
    from .registry import Outcome

    route = second_route(model, xs, mu, **kw)
    if isinstance(route, str):
        return None, Outcome.inconclusive(route, quantities=quantities, **cov)
    cov.setdefault("sizes", {})["exact_route"] = int(route.name == "exact")
    msg = compare_routes(route, scores, features)
    if msg is not None:
        return None, Outcome.failed(
            msg, quantities=quantities, detail={"routes": ["float (verify.inference)", route.name]},
            **cov,
        )  # fmt: skip
    return route.labels.astype(np.float64), None


def exact_c_head(hmm: Any) -> bool | None:
    """C-HEAD decided by exact rational rank (verify.exact), or None when the model is not
    rational (or the exact route is not installed)."""
    try:
        ex = importlib.import_module("verify.exact")
        return bool(ex.c_head(ex.rational_model(hmm)).holds)
    except (ModuleNotFoundError, ValueError):
        return None


def exact_certificate(
    model: Any,
    xs: np.ndarray,
    labels: np.ndarray,
    res: Any,
    *,
    features: str = "mask_probe",
    prompt: np.ndarray | None = None,
    task: dict | None = None,
) -> dict:
    """The exact rational certificate (verify.exact.find_certificate) behind an LP's
    ``not_recoverable`` verdict, re-checked here with zero error; ``{"exact": false,
    "reason": …}`` when the instance is not rational or no rational λ exists on the LP's
    support (the float certificate stays under ``certificate``)."""
    try:
        ex = importlib.import_module("verify.exact")
        cert = ex.find_certificate(
            model, xs, labels, res.support(), features=features, prompt=prompt,
            lambda_hint=res.certificate, task=task,
        )  # fmt: skip
    except (ModuleNotFoundError, ValueError, AttributeError) as exc:
        return {"exact": False, "reason": f"{type(exc).__name__}: {str(exc)[:160]}"}
    if cert is None:
        return {"exact": False, "reason": "no non-negative rational λ on the LP's support"}
    ok, message = ex.check_certificate(cert)
    if not ok:
        return {"exact": False, "reason": f"exact check failed: {message}"}
    return cert
