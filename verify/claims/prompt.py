"""Prompt-tuning claims (THEORY §5): prompt.exact, prompt.weaker, prompt.robust."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify.inference import mask_probe, posterior_h0, prompted_mask_probe

from ._support import GAMMA_TOL, IDENTITY_TOL, lp, lp_summary, need, rows, strategy, witness_vs_lp
from .registry import Outcome, claim


def _cond() -> Any:
    return need("verify.conditions")


def _prompt_inst(p: Any) -> dict:
    return {
        "hmm": p.hmm,
        "mu": np.asarray(p.mu, float),
        "xs": np.asarray(p.xs),
        "U": np.asarray(p.U, dtype=np.int64),
        "S": np.asarray(p.S, dtype=np.int64),
    }


def prompt_exact_instances() -> Any:
    """strategies.prompt_instances(T=(1,3)): C-PROMPT(μ) true with a constructed witness
    (U, S), C-HEAD(μ) false, k ∈ [3,5], balanced task with a margin floor."""
    return strategy("prompt_instances")(n_states=(3, 5), n_tokens=(2, 4), T=(1, 3)).map(
        _prompt_inst
    )


def _one_hot(k: int, U: Any) -> np.ndarray:
    u = np.zeros(k)
    u[list(U)] = 1.0
    return u


@claim(
    "prompt.exact",
    theorem="Theorem 3.6",
    kind="universal",
    statement="C-PROMPT(μ) ⇒ u = 1_U, b on S give bᵀG(u,x) = μᵀp(x)/(vᵀp(x)) on 𝒮 (LP agrees)",
    strategy=prompt_exact_instances,
    oracles=("c_prompt search", "prompt witness identity to 1e-9", "margin ≥ γ/max v", "LP"),
    examples={"ci": 800, "dev": 3000, "thorough": 20000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def prompt_exact(inst: dict) -> Outcome:
    cond = _cond()
    hmm, mu, xs = inst["hmm"], np.asarray(inst["mu"], float), np.asarray(inst["xs"])
    post = posterior_h0(hmm, xs)
    score = post @ mu
    c = cond.c_prompt(hmm, mu)
    q = {"sigma_min": c.quantities["sigma_min"], "gamma": float(np.abs(score).min())}
    if not c.holds:
        # the strategy built a witness; a search that misses it is a counterexample
        S = [int(h) for h in inst["S"]]
        built = cond.sigma_min(hmm.W[:, S]) >= cond.SIGMA_TOL and set(np.flatnonzero(mu)) <= set(S)
        if built:
            return Outcome.failed(
                f"c_prompt says C-PROMPT(μ) fails but U={[int(h) for h in inst['U']]}, "
                f"S={S} is a witness",
                quantities=q,
            )
        return Outcome.discard("C-PROMPT(μ) does not hold", quantities=q)
    if q["gamma"] <= GAMMA_TOL:
        return Outcome.discard("ill-posed: γ = 0 on 𝒮", quantities=q)
    U, S = c.witness["U"], c.witness["S"]
    ph = need("verify.recovery.witnesses", "prompt_witness")(hmm, mu, U)
    u = ph.prompt[0]
    if tuple(ph.S) != tuple(S):
        return Outcome.failed(
            f"c_prompt's support S={list(S)} ≠ the witness's supp(R 1_U) = {list(ph.S)}",
            quantities=q,
        )
    G = prompted_mask_probe(hmm, xs, ph.prompt)
    want = score / (post @ ph.v)  # reversed-chain route; G is the forward route
    err = np.abs(G @ ph.b - want) / max(1.0, float(np.abs(want).max()))
    q.update(identity_error=float(err.max()), v_max=float(ph.v.max()), leakage=ph.leakage)
    detail = {
        "task": {"mu": mu.tolist(), "T": int(xs.shape[1])},
        "prompt": {"U": list(U), "S": list(S), "u": u.tolist(), "v": ph.v.tolist()},
    }
    if err.max() > IDENTITY_TOL:
        return Outcome.failed(
            f"bᵀG(u,x) ≠ μᵀp(x)/(vᵀp(x)): error {err.max():.3e}",
            quantities=q,
            detail={**detail, "head": ph.b.tolist(),
                    "inputs": rows(xs, np.argsort(-err)[:5], labels=np.sign(score),
                                   posteriors=post, features=G, outputs=G @ ph.b)},
        )  # fmt: skip
    bound = q["gamma"] / ph.v.max()
    got = float((np.sign(score) * (G @ ph.b)).min())
    if got < bound * (1 - 1e-9) - 1e-12:
        return Outcome.failed(
            f"prompt margin {got:.3e} below the bound γ/max v = {bound:.3e}", quantities=q
        )
    return witness_vs_lp(
        xs=xs, labels=np.sign(score), features=G, head=ph.b, posteriors=post,
        quantities=q, detail=detail, what="prompt witness",
    )  # fmt: skip


@st.composite
def weaker_instances(draw: Any) -> dict:
    """Pairs: a C-HEAD task (strategies.task_instances(satisfying="C-HEAD")) for part (a)
    and a prompt instance (strategies.prompt_instances(T=(1,3))) searched for part (b)."""
    head = draw(strategy("task_instances")(satisfying="C-HEAD", n_states=(2, 4), T=1))
    p = draw(prompt_exact_instances())
    return {"head_hmm": head.hmm, "head_mu": np.asarray(head.mu, float), **p}


@claim(
    "prompt.weaker",
    theorem="Theorem 3.6 vs 3.3",
    kind="existential",
    statement="(a) C-HEAD ⇒ C-PROMPT(μ); (b) some instance is recovered by the prompt "
    "witness and by no linear head (LP-certified)",
    strategy=weaker_instances,
    oracles=("c_head / c_prompt (a, every example)", "prompt witness", "LP certificate (b)"),
    examples={"ci": 150, "dev": 500, "thorough": 2000},
)
def prompt_weaker(inst: dict) -> Outcome:
    cond = _cond()
    ha, ma = inst["head_hmm"], np.asarray(inst["head_mu"], float)
    ca, pa = cond.c_head(ha), cond.c_prompt(ha, ma)
    if ca.holds and not pa.holds:
        return Outcome.failed(
            "implication (a) fails: C-HEAD holds but C-PROMPT(μ) does not",
            quantities={"sigma_min": ca.quantities["sigma_min"]},
        )
    hmm, mu, xs = inst["hmm"], np.asarray(inst["mu"], float), np.asarray(inst["xs"])
    post = posterior_h0(hmm, xs)
    score = post @ mu
    y = np.sign(score)
    c = cond.c_prompt(hmm, mu)
    q = {"sigma_min_prompt": c.quantities["sigma_min"], "gamma": float(np.abs(score).min())}
    if not c.holds:
        return Outcome.miss("C-PROMPT(μ) does not hold", quantities=q)
    if q["gamma"] <= GAMMA_TOL:
        return Outcome.discard("ill-posed: γ = 0 on 𝒮", quantities=q)
    u = _one_hot(hmm.n_states, c.witness["U"])
    ph = cond.prompt_head(hmm, mu, u, c.witness["S"])
    Gu = prompted_mask_probe(hmm, xs, u[None, :])
    if np.any(np.sign(Gu @ ph.b) != y):
        return Outcome.miss("the prompt witness does not recover here", quantities=q)
    G = mask_probe(hmm, xs)
    res = lp(G, y)
    q["head_lp_margin_upper"] = float(res.certificate_residual)
    if res.status == "inconclusive":
        return Outcome.inconclusive(f"LP: {res.reason}", quantities=q)
    if res.status == "recoverable":
        return Outcome.miss("a linear head recovers too", quantities=q)
    supp = res.support()
    return Outcome.witness(
        f"prompt U={list(c.witness['U'])} recovers every label; no linear head does "
        f"(certificate on {supp.size} inputs, residual {res.certificate_residual:.1e})",
        quantities=q,
        detail={
            "task": {"mu": mu.tolist(), "T": int(xs.shape[1])},
            "prompt": {"U": list(c.witness["U"]), "S": list(c.witness["S"]),
                       "v": ph.v.tolist(), "b": ph.b.tolist()},
            "inputs": rows(xs, supp, labels=y, posteriors=post, features=G,
                           outputs=Gu @ ph.b, weights=res.certificate),
            "certificate": lp_summary(res),
        },
    )  # fmt: skip


@st.composite
def robust_prompt_instances(draw: Any) -> dict:
    """Dense transitions (no exact zeros: the ε-support regime) with C-HEAD, so every
    target set S has W[:, S] of full column rank; S = supp(μ) ∪ drawn states; prompt
    weights u ∈ {1/4, …, 1}^k (v > 0 everywhere)."""
    inst = draw(
        strategy("task_instances")(
            satisfying="C-HEAD", transition_style="dense", n_states=(2, 4), n_tokens=(2, 4),
            T=(1, 3), max_support=2,
        )
    )  # fmt: skip
    k = inst.hmm.n_states
    extra = [h for h in range(k) if draw(st.booleans())]
    S = sorted(set(np.flatnonzero(inst.mu).tolist()) | set(extra))
    u = np.array([draw(st.integers(1, 4)) for _ in range(k)], dtype=float) / 4
    return {
        "hmm": inst.hmm,
        "mu": np.asarray(inst.mu, float),
        "xs": np.asarray(inst.xs),
        "S": np.asarray(S, dtype=np.int64),
        "u": u,
    }


@claim(
    "prompt.robust",
    theorem="Theorem 3.6 (ε-support)",
    kind="universal",
    statement="dense A, S ⊇ supp(μ) with W[:,S] full rank: sign bᵀG(u,x) = y(x) "
    "wherever |μᵀp(x)| > ℓ (leakage)",
    strategy=robust_prompt_instances,
    oracles=("leakage identity to 1e-9", "per-input sign where |μᵀp| > ℓ", "LP on those"),
    examples={"ci": 600, "dev": 2400, "thorough": 16000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def prompt_robust(inst: dict) -> Outcome:
    cond = _cond()
    hmm, mu, xs = inst["hmm"], np.asarray(inst["mu"], float), np.asarray(inst["xs"])
    S, u = [int(h) for h in inst["S"]], np.asarray(inst["u"], float)
    post = posterior_h0(hmm, xs)
    score = post @ mu
    c = cond.c_prompt_robust(hmm, mu, u, S, xs)
    q = {k: c.quantities[k] for k in ("leakage", "sigma_min", "gamma")}
    if c.quantities["sigma_min"] < cond.SIGMA_TOL:
        return Outcome.discard("W[:, S] is rank-deficient", quantities=q)
    if q["gamma"] <= GAMMA_TOL:
        return Outcome.discard("ill-posed: γ = 0 on 𝒮", quantities=q)
    ph = need("verify.recovery.witnesses", "robust_prompt_witness")(hmm, mu, u, S)
    G = prompted_mask_probe(hmm, xs, u[None, :])
    off = np.setdiff1d(np.arange(hmm.n_states), S)
    cvec = hmm.W.T @ ph.b
    leak = post[:, off] @ (cvec[off] * ph.v[off])
    lhs = (G @ ph.b) * (post @ ph.v)
    err = np.abs(lhs - (score + leak)) / max(1.0, float(np.abs(mu).max()))
    q["identity_error"] = float(err.max())
    detail = {"task": {"mu": mu.tolist()}, "prompt": {"S": S, "u": u.tolist(),
              "v": ph.v.tolist()}, "head": ph.b.tolist()}  # fmt: skip
    if err.max() > IDENTITY_TOL or np.abs(leak).max() > ph.leakage * (1 + 1e-9) + 1e-15:
        return Outcome.failed(
            f"leakage decomposition fails: error {err.max():.3e}, "
            f"max |leak| {np.abs(leak).max():.3e} vs ℓ = {ph.leakage:.3e}",
            quantities=q,
            detail=detail,
        )
    y = np.sign(score)
    premise = np.abs(score) > ph.leakage
    q["premise_fraction"] = float(premise.mean())
    wrong = np.flatnonzero(premise & (np.sign(G @ ph.b) != y))
    if wrong.size:
        return Outcome.failed(
            f"{wrong.size} inputs with |μᵀp(x)| > ℓ = {ph.leakage:.3e} are misclassified",
            quantities=q,
            detail={**detail, "inputs": rows(xs, wrong, labels=y, posteriors=post,
                                             features=G, outputs=G @ ph.b)},
        )  # fmt: skip
    if not premise.any():
        return Outcome.passed(quantities=q)
    return witness_vs_lp(
        xs=xs[premise], labels=y[premise], features=G[premise], head=ph.b,
        posteriors=post[premise], quantities=q, detail=detail,
        what="leaky prompt head (inputs with |μᵀp| > ℓ)",
    )  # fmt: skip
