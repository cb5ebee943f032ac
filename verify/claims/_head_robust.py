"""Claim ``head.robust`` checked pointwise against a trained MLM's mask probe (THEORY §5):
the same heads and threshold as the claim in :mod:`verify.claims.head`, on arrays (the
MLM's outputs Ĝ), so ``reproduce`` checks its transformer panels with it."""

from __future__ import annotations

import numpy as np

from verify.core.inference import posterior_h0
from verify.core.models import HMM
from verify.recovery.witnesses import robust_head_witnesses


def head_robust_check(hmm: HMM, mu: np.ndarray, g_hat: np.ndarray, xs: np.ndarray) -> dict:
    """Claim ``head.robust`` against a trained MLM, pointwise: with ``ε(x) = ‖Ĝ(x) −
    G(x)‖₁`` (L1 = 2·TV) for that input, every x with ``|μᵀp(x)| > ε(x)(max b − min b)/2 +
    |(Wᵀb − μ)ᵀp(x)|`` must have ``sign bᵀĜ(x) = sign μᵀp(x)``
    (``HeadWitness.robust_threshold``, the span constant; for ``b* = pinv(W).T μ`` under
    C-HEAD the second term vanishes). Checked for every head of ``robust_head_witnesses``
    (b* and SVD truncations, which qualify far more inputs when W is near rank-deficient
    and b* is huge); a violation by any of them falsifies the claim. g_hat (B, n), xs
    (B, T). Returns ``{"covered", "total", "fraction", "fraction_inf", "violations",
    "b_span", "head", "fraction_pinv", "b_span_pinv", "tv"}``: covered, fraction, b_span
    ((max b − min b)/2) and head (its method) of the head qualifying the most inputs;
    fraction_inf: the best head's fraction with the looser ε‖b‖_∞ constant (for
    comparison); violations: inputs misclassified by some head that qualifies them;
    tv: mean ½ε."""
    p = posterior_h0(hmm, xs)
    eps = np.abs(g_hat - p @ hmm.emission).sum(-1)
    margin = p @ np.asarray(mu, dtype=np.float64)
    violated = np.zeros(len(margin), dtype=bool)
    checks, covered_inf = [], 0
    for w in robust_head_witnesses(hmm, mu):
        covered = np.abs(margin) > w.robust_threshold(eps, p)
        violated |= covered & (np.sign(g_hat @ w.b) != np.sign(margin))
        checks.append((int(covered.sum()), w.span, w.method))
        inf = np.abs(margin) > w.robust_threshold(eps, p, constant="inf")
        covered_inf = max(covered_inf, int(inf.sum()))
    best = max(checks, key=lambda c: c[0])  # first (b*) on ties
    total = len(margin)
    return {
        "fraction_inf": covered_inf / total if total else 0.0,
        "covered": best[0],
        "total": total,
        "fraction": best[0] / total if total else 0.0,
        "violations": int(violated.sum()),
        "b_span": best[1],
        "head": best[2],
        "fraction_pinv": checks[0][0] / total if total else 0.0,
        "b_span_pinv": checks[0][1],
        "tv": float(0.5 * eps.mean()),
    }


__all__ = ["head_robust_check"]
