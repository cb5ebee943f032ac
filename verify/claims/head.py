"""Head-tuning claims (THEORY §5): head.exact, head.rowspace, head.robust, head.necessary.

Budgets (examples per profile) are chosen so that ``ptverify run --profile ci`` on every
built-in claim stays within 5 minutes on 2 cores; the measured time is in the report.
Instances (:mod:`strategies.head_claims`) come in two size tiers: small ones (k ≤ 8,
n ≤ 8, T ≤ 6, exhaustive input sets up to 50 000 sequences) for three draws in four, and
large ones (k ≤ 10 with C-HEAD, k ≤ 30 without; n ≤ 10; T from 8 to 32; seeded samples of
512 inputs). Failures shrink toward the small tier, so they read at a glance.
"""

from __future__ import annotations

import numpy as np

from strategies.head_claims import (
    HeadRobustTask,
    HeadTask,
    head_exact_instances,
    necessary_instances,
    robust_instances,
    rowspace_tiers,
)
from verify.core import conditions
from verify.core.inference import log_likelihood, mask_probe, posterior_h0
from verify.core.models import HMM
from verify.recovery import witnesses

from ._head_robust import head_robust_check
from ._support import (
    IDENTITY_TOL,
    both_labels,
    built_to_violate_c_head,
    certificate_detail,
    decide_routes,
    exact_c_head,
    hmm_sizes,
    ill_posed,
    neglog,
    no_linear_head,
    relative,
    rows,
    witness_vs_lp,
)
from .registry import Outcome, claim

#: The routes each universal head claim compares on every instance.
ROUTES = (
    "c_head ↔ exact rational rank of W",
    "labels and G(x): float (verify.core.inference) ↔ exact rationals (verify.crosscheck) "
    "or log-space",
    "witness head ↔ max-margin LP",
)


def _basics(
    inst: HeadTask | HeadRobustTask,
) -> tuple[HMM, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    hmm, mu, xs = inst.hmm, inst.mu, inst.xs
    post = posterior_h0(hmm, xs)
    score = post @ mu
    return hmm, mu, xs, post, score


@claim(
    "head.exact",
    instance=HeadTask,
    kind="universal",
    statement="C-HEAD ⇒ b* = pinv(W)ᵀμ gives b*ᵀG(x) = μᵀp(x) on 𝒮 (LP agrees)",
    strategy=head_exact_instances,
    oracles=("witness b* = pinv(W)ᵀμ", "identity to 1e-9", "max-margin LP"),
    routes=(ROUTES[0], ROUTES[1].replace("labels and", "labels, log p(x) and"), ROUTES[2]),
    examples={"ci": 300, "dev": 1500, "thorough": 10000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def head_exact(inst: HeadTask) -> Outcome:
    hmm, mu, xs, post, score = _basics(inst)
    c = conditions.c_head(hmm)
    q = {"sigma_min": c.quantities["sigma_min"], "gamma": float(np.abs(score).min())}
    cov = {
        "sizes": hmm_sizes(hmm, xs, supp_mu=int(np.count_nonzero(mu))),
        "exercised": both_labels(score),
        "targets": {
            "small sigma_min": neglog(q["sigma_min"]),
            "small relative margin": neglog(relative(q["gamma"], mu)),
        },
    }
    if not c.holds:
        return Outcome.discard("C-HEAD does not hold on this instance", quantities=q, **cov)
    if (bad := ill_posed(hmm, mu, xs, score, q, cov)) is not None:
        return bad
    G = mask_probe(hmm, xs)
    if (ex_holds := exact_c_head(hmm)) is not None and ex_holds != c.holds:
        return Outcome.failed(
            f"c_head says {c.holds}, exact rational rank says {ex_holds}", quantities=q, **cov
        )
    y = decide_routes(hmm, xs, mu, score, G, cov, q, loglik=log_likelihood(hmm, xs))
    if isinstance(y, Outcome):
        return y
    w = witnesses.head_witness(hmm, mu)
    b = w.b
    # the witness's own route (mask probe) against ours (posterior · μ)
    err = np.abs(w.decision_values(hmm, xs) - score) / max(1.0, float(np.abs(mu).max()))
    q["identity_error"] = float(err.max())
    detail = {"task": {"mu": mu.tolist(), "T": int(xs.shape[1]), "inputs": len(xs)}}
    if err.max() > IDENTITY_TOL:
        worst = np.argsort(-err)[:5]
        return Outcome.failed(
            f"b*ᵀG(x) ≠ μᵀp(x): error {err.max():.3e} > {IDENTITY_TOL:g}",
            quantities=q,
            detail={
                **detail,
                "head": b.tolist(),
                "inputs": rows(xs, worst, labels=np.sign(score), posteriors=post, outputs=G @ b),
            },
            **cov,
        )
    return witness_vs_lp(
        xs=xs, labels=y, features=G, head=b, posteriors=post,
        quantities=q, detail=detail, what="witness b* = pinv(W)ᵀμ", outcome=cov,
    )  # fmt: skip


@claim(
    "head.rowspace",
    instance=HeadTask,
    kind="universal",
    statement="C-HEAD(μ): μ ∈ range(Wᵀ) ⇒ any solution of Wᵀb = μ recovers exactly",
    strategy=rowspace_tiers,
    strategy_name="hmms(violating='C-HEAD') with μ = Wᵀc + t·1 (two size tiers)",
    oracles=("least-squares b", "identity to 1e-9", "max-margin LP"),
    routes=ROUTES,
    examples={"ci": 250, "dev": 1200, "thorough": 8000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def head_rowspace(inst: HeadTask) -> Outcome:
    hmm, mu, xs, post, score = _basics(inst)
    c = conditions.c_head_mu(hmm, mu)
    q = {
        "residual": c.quantities["residual"],
        "sigma_min": c.quantities["sigma_min"],
        "gamma": float(np.abs(score).min()),
    }
    cov = {
        "sizes": hmm_sizes(hmm, xs),
        # premise: C-HEAD fails (else head.exact covers it) and the task has two labels
        "exercised": both_labels(score),
        "targets": {"small relative margin": neglog(relative(q["gamma"], mu))},
    }
    if (bad := built_to_violate_c_head(hmm, q, cov)) is not None:
        return bad
    if not c.holds:
        return Outcome.discard("C-HEAD(μ) does not hold", quantities=q, **cov)
    if (bad := ill_posed(hmm, mu, xs, score, q, cov)) is not None:
        return bad
    G = mask_probe(hmm, xs)
    y = decide_routes(hmm, xs, mu, score, G, cov, q)
    if isinstance(y, Outcome):
        return y
    w = witnesses.rowspace_head_witness(hmm, mu)
    b = w.b
    q["witness_residual"] = float(w.residual)
    err = np.abs(w.decision_values(hmm, xs) - score) / max(1.0, float(np.abs(mu).max()))
    q["identity_error"] = float(err.max())
    detail = {"task": {"mu": mu.tolist(), "T": int(xs.shape[1])}}
    if err.max() > IDENTITY_TOL:
        return Outcome.failed(
            f"bᵀG(x) ≠ μᵀp(x) for a solution of Wᵀb = μ: error {err.max():.3e}",
            quantities=q,
            detail={**detail, "head": b.tolist(),
                    "inputs": rows(xs, np.argsort(-err)[:5], labels=np.sign(score),
                                   posteriors=post, outputs=G @ b)},
            **cov,
        )  # fmt: skip
    return witness_vs_lp(
        xs=xs, labels=y, features=G, head=b, posteriors=post,
        quantities=q, detail=detail, what="row-space head", outcome=cov,
    )  # fmt: skip


@claim(
    "head.robust",
    instance=HeadRobustTask,
    kind="universal",
    statement="‖Ĝ(x) − G(x)‖₁ ≤ ε (L1 = 2·TV) with 1ᵀĜ = 1ᵀG ⇒ sign b*ᵀĜ(x) = y(x) "
    "whenever |μᵀp(x)| > ε(max b* − min b*)/2 (the span constant; and sign bᵀĜ(x) = y(x) "
    "for an SVD-truncated head b whenever |μᵀp(x)| > ε(max b − min b)/2 + |(Wᵀb − μ)ᵀp(x)|)",
    strategy=robust_instances,
    strategy_name="task_instances(satisfying='C-HEAD') + ε factor + seed",
    oracles=(
        "adversarial perturbation (Hölder worst case), per head: b* and SVD truncations",
        "8 random ℓ1 perturbations",
        "LP on the perturbed features of the premise inputs",
    ),
    routes=ROUTES[1:],
    examples={"ci": 250, "dev": 1200, "thorough": 8000},
    thresholds={"random_perturbations": 8},
)
def head_robust(inst: HeadRobustTask) -> Outcome:
    hmm, mu, xs, post, score = _basics(inst)
    c = conditions.c_head(hmm)
    gamma = float(np.abs(score).min())
    q = {"sigma_min": c.quantities["sigma_min"], "gamma": gamma}
    cov: dict = {"sizes": hmm_sizes(hmm, xs)}
    if not c.holds:
        return Outcome.discard("C-HEAD does not hold on this instance", quantities=q, **cov)
    if (bad := ill_posed(hmm, mu, xs, score, q, cov)) is not None:
        return bad
    gamma = q["gamma"]
    G = mask_probe(hmm, xs)
    y = decide_routes(hmm, xs, mu, score, G, cov, q)
    if isinstance(y, Outcome):
        return y
    # b* (THEORY's form) first, then the SVD-truncated heads the check against a trained
    # MLM also uses, whose threshold carries the mismatch |(Wᵀb − μ)ᵀp(x)|
    heads = witnesses.robust_head_witnesses(hmm, mu)
    b = heads[0].b
    span = heads[0].span
    if span <= 0:  # μ ∝ 1: b* is constant, bᵀĜ = bᵀG for every admissible Ĝ
        return Outcome.miss("b* is constant (μ ∝ 1): no perturbation can act", quantities=q, **cov)
    eps = inst.eps_factor * gamma / span
    q.update(epsilon=eps, b_span=span, b_norm_inf=float(np.abs(b).max()))
    rng = np.random.default_rng(inst.seed)
    randoms = []
    for _ in range(8):  # Ĝ − G sums to 0 (both are distributions), ‖·‖₁ = ε
        d = rng.standard_normal(G.shape)
        d -= d.mean(axis=1, keepdims=True)
        randoms.append(eps * d / np.abs(d).sum(axis=1, keepdims=True))
    # each head's premise must survive its own Hölder worst case: ε/2 moved from its
    # smallest entry to its largest (or back), against the label — bᵀd = ∓ε(max b − min b)/2
    q["heads"], q["truncated_premise_inputs"] = len(heads), 0
    for h in heads:
        hi, lo = int(np.argmax(h.b)), int(np.argmin(h.b))
        move = (np.eye(len(h.b))[hi] - np.eye(len(h.b))[lo]) * (eps / 2)
        adversarial = -y[:, None] * move[None, :]
        covered = np.abs(score) > h.robust_threshold(eps, post) * (1 + 1e-12)
        if h is heads[0]:
            premise, perturbs = covered, [adversarial, *randoms]
            q["premise_fraction"] = float(premise.mean())
            # exercised: some input meets the premise, and the perturbation can reach it
            cov["exercised"] = bool(premise.any()) and eps > 0
            if premise.any():
                slack = relative((np.abs(score[premise]) - eps * span).min(), mu)
                q["premise_slack"] = float(slack)
                cov["targets"] = {"margin near ε(max b* − min b*)/2": neglog(slack)}
        elif np.abs(h.mismatch).max() > IDENTITY_TOL:  # a head that pays for its mismatch
            q["truncated_premise_inputs"] += int(covered.sum())
        for d in [adversarial, *randoms]:
            out = (G + d) @ h.b
            wrong = np.flatnonzero(covered & (np.sign(out) != y))
            if wrong.size:
                return Outcome.failed(
                    f"a perturbation with ‖Ĝ − G‖₁ ≤ ε = {eps:.3e}, 1ᵀ(Ĝ − G) = 0, flips "
                    f"{wrong.size} inputs that meet head {h.method}'s premise |μᵀp(x)| > "
                    "ε(max b − min b)/2 + |(Wᵀb − μ)ᵀp(x)|",
                    quantities=q,
                    detail={"task": {"mu": mu.tolist()}, "head": h.b.tolist(),
                            "inputs": rows(xs, wrong, labels=y, posteriors=post,
                                           features=G + d, outputs=out)},
                    **cov,
                )  # fmt: skip
    # reproduce's check against a trained MLM (head_robust_check: ε(x) per input, every
    # head) on the adversarial Ĝ of b*: it must find no violation either
    chk = head_robust_check(hmm, mu, G + perturbs[0], xs)
    q["mlm_check_fraction"] = chk["fraction"]
    if chk["violations"]:
        return Outcome.failed(
            f"head_robust_check finds {chk['violations']} violations on the adversarial Ĝ "
            "that the claim's own heads survive",
            quantities=q, **cov,
        )  # fmt: skip
    if not premise.any():
        return Outcome.passed(quantities=q, **cov)
    # the LP on the adversarially perturbed features of the premise inputs must agree
    return witness_vs_lp(
        xs=xs[premise], labels=y[premise], features=(G + perturbs[0])[premise], head=b,
        posteriors=post[premise], quantities=q, detail={"task": {"mu": mu.tolist()}},
        what="head b* on the perturbed Ĝ", outcome=cov,
    )  # fmt: skip


@claim(
    "head.necessary",
    instance=HeadTask,
    kind="existential",
    statement="some instance violating C-HEAD(μ) has no linear head recovering it (LP-certified)",
    strategy=necessary_instances,
    oracles=("C-HEAD(μ) residual", "max-margin LP dual certificate"),
    routes=(
        "c_head ↔ exact rational rank of W",
        "LP dual certificate ↔ exact rational certificate",
        "LP dual certificate ↔ labels and features on the exact (or log-space) route",
    ),
    examples={"ci": 200, "dev": 500, "thorough": 2000},
)
def head_necessary(inst: HeadTask) -> Outcome:
    hmm, mu, xs, post, score = _basics(inst)
    c = conditions.c_head_mu(hmm, mu)
    q = {"residual": c.quantities["residual"], "gamma": float(np.abs(score).min())}
    cov = {"sizes": hmm_sizes(hmm, xs), "exercised": not c.holds and both_labels(score)}
    if (bad := built_to_violate_c_head(hmm, q, cov)) is not None:
        return bad
    if c.holds:
        return Outcome.miss("C-HEAD(μ) holds", quantities=q, **cov)
    if (bad := ill_posed(hmm, mu, xs, score, q, cov)) is not None:
        return bad
    G = mask_probe(hmm, xs)
    y = np.sign(score)
    res, bad = no_linear_head(hmm, xs, y, G, mu, q, cov, recovers="a linear head still recovers")
    if bad is not None:
        return bad
    return Outcome.witness(
        f"C-HEAD(μ) fails (residual {q['residual']:.3g}) and no linear head recovers: "
        f"certificate on {res.support().size} inputs, ‖Σλ y G‖₁ = "
        f"{res.certificate_residual:.2e}",
        quantities=q,
        detail={
            "task": {"mu": mu.tolist(), "T": int(xs.shape[1])},
            **certificate_detail(res, hmm, xs, y, G, task={"mu": mu}, posteriors=post),
        },
        **cov,
    )
