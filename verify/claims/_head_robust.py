"""Claim ``head.robust`` checked pointwise against a trained MLM's mask probe (THEORY §5):
the same heads and threshold as the claim in :mod:`verify.claims.head`, on arrays (the
MLM's outputs Ĝ), so ``reproduce`` checks its transformer panels with it."""

from __future__ import annotations

from typing import Any

import numpy as np

from verify.core.inference import posterior_h0
from verify.core.models import HMM
from verify.recovery.witnesses import robust_head_witnesses


def head_robust_check(hmm: HMM, mu: np.ndarray, g_hat: np.ndarray, xs: Any) -> dict:
    """Claim ``head.robust`` against a trained MLM, pointwise: with ``ε(x) = ‖Ĝ(x) −
    G(x)‖₁`` for that input, every x with ``|μᵀp(x)| > ε(x)‖b‖_∞ + |(Wᵀb − μ)ᵀp(x)|`` must
    have ``sign bᵀĜ(x) = sign μᵀp(x)`` (``HeadWitness.robust_threshold``; for ``b* =
    pinv(W).T μ`` under C-HEAD the second term vanishes: THEORY's form). Checked for every
    head of ``robust_head_witnesses`` (b* and SVD truncations, which qualify far more
    inputs when W is near rank-deficient and ‖b*‖_∞ is huge); a violation by any of them
    falsifies the claim. g_hat (B, n), xs (B, T). Returns ``{"covered", "total",
    "fraction", "violations", "b_inf", "head", "fraction_pinv", "b_inf_pinv", "tv"}``:
    covered, fraction, b_inf and head (its method) of the head qualifying the most inputs;
    violations: inputs misclassified by some head that qualifies them; tv: mean ½ε."""
    p = posterior_h0(hmm, xs)
    eps = np.abs(g_hat - p @ hmm.emission).sum(-1)
    margin = p @ np.asarray(mu, dtype=np.float64)
    violated = np.zeros(len(margin), dtype=bool)
    checks = []
    for w in robust_head_witnesses(hmm, mu):
        covered = np.abs(margin) > w.robust_threshold(eps, p)
        violated |= covered & (np.sign(g_hat @ w.b) != np.sign(margin))
        checks.append((int(covered.sum()), float(np.abs(w.b).max()), w.method))
    best = max(checks, key=lambda c: c[0])  # first (b*) on ties
    total = len(margin)
    return {
        "covered": best[0],
        "total": total,
        "fraction": best[0] / total if total else 0.0,
        "violations": int(violated.sum()),
        "b_inf": best[1],
        "head": best[2],
        "fraction_pinv": checks[0][0] / total if total else 0.0,
        "b_inf_pinv": checks[0][1],
        "tv": float(0.5 * eps.mean()),
    }


__all__ = ["head_robust_check"]
