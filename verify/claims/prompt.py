"""Prompt-tuning claims (THEORY §5): prompt.exact, prompt.weaker, prompt.robust,
prompt.multi_token, prompt.multi_token_start.

Prompts have L ∈ {1, 2, 3} slots (prompt.multi_token: L ∈ {2, 3, 4}); slots before the
last carry drawn positive weights, so the forward route through the window
(``prompted_mask_probe``) and the reversed-chain route (``v = R w_L``, computed here from
the definition ``R[h, h'] = π[h'] A[h', h] / π[h]``, not by ``verify.core.inference``) are two
computations of one quantity. C-PROMPT(μ) is decided twice: by ``conditions.c_prompt``'s
pruned search and by the brute-force enumeration of every prompt set U below.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

import numpy as np

from strategies.prompt_claims import (
    MultiTokenTask,
    PromptTask,
    RobustPromptTask,
    StartTask,
    WeakerTask,
    multi_token_start_instances,
    multi_token_tiers,
    prompt_exact_instances,
    robust_tiers,
    weaker_instances,
)
from verify.core import conditions
from verify.core.conditions import ConditionResult
from verify.core.inference import log_likelihood, mask_probe, posterior_h0, prompted_mask_probe
from verify.core.models import HMM
from verify.recovery import witnesses

from ._prompt_routes import brute_force_supports, prompt_v
from ._support import (
    IDENTITY_TOL,
    both_labels,
    built_to_violate_c_head,
    certificate_detail,
    decide_routes,
    hmm_sizes,
    ill_posed,
    lp,
    lp_summary,
    neglog,
    no_linear_head,
    prompt_probability_zero,
    relative,
    rows,
    witness_vs_lp,
)
from .registry import Outcome, claim

#: prompt.multi_token's identity tolerance (THEORY: "to 1e-10"); probes are probabilities.
MULTI_TOKEN_TOL = 1e-10


def _one_hot(k: int, U: Iterable[int]) -> np.ndarray:
    u = np.zeros(k)
    u[list(U)] = 1.0
    return u


def check_c_prompt(hmm: HMM, mu: np.ndarray, c: ConditionResult) -> Outcome | None:
    """C-PROMPT(μ) by c_prompt and by brute force must agree (and c_prompt's support must
    be one the brute force accepts); a built witness c_prompt misses is a counterexample."""
    brute = brute_force_supports(hmm, mu)
    q = {"supports": float(len(brute)), "candidates": c.quantities.get("candidates", 0.0)}
    if c.holds and tuple(c.witness["S"]) not in brute:
        return Outcome.failed(
            f"c_prompt's support S={list(c.witness['S'])} is not a valid C-PROMPT(μ) support "
            f"(brute force over every U finds {[list(S) for S in brute[:4]]})",
            quantities=q,
        )
    if not c.holds and brute:
        return Outcome.failed(
            f"c_prompt says C-PROMPT(μ) fails, but S={list(brute[0])} is a valid support "
            "(brute force over every prompt set U)",
            quantities=q,
        )
    return None


def _premise(
    hmm: HMM, mu: np.ndarray, c: ConditionResult, inst: PromptTask, q: dict, cov: dict
) -> Outcome | None:
    """prompt.exact's premise: c_prompt agrees with brute force, a searched instance
    violates C-HEAD and C-PROMPT(μ) holds; None when the instance goes on (the prompt's
    probability and the task's well-posedness are checked next)."""
    bad = check_c_prompt(hmm, mu, c)
    if bad is not None:
        return Outcome.failed(bad.message, quantities={**q, **bad.quantities}, **cov)
    if len(inst.U) == 0 and (bad := built_to_violate_c_head(hmm, q, cov)) is not None:
        return bad  # a searched instance (strategies.hmms(violating="C-HEAD"))
    if not c.holds:
        return Outcome.discard("C-PROMPT(μ) does not hold (c_prompt and brute force agree)",
                               quantities=q, **cov)  # fmt: skip
    return None


@claim(
    "prompt.exact",
    instance=PromptTask,
    kind="universal",
    statement="C-PROMPT(μ) ⇒ the prompt (u_1 … u_{L−1}, 1_U) and b on S give "
    "bᵀG(u,x) = μᵀp(x)/(vᵀp(x)) on 𝒮 (LP agrees)",
    strategy=prompt_exact_instances,
    oracles=(
        "c_prompt search vs brute force over every U",
        "prompt witness identity to 1e-9",
        "margin ≥ γ/max v",
        "LP",
    ),
    routes=(
        "c_prompt pruned search ↔ brute-force enumeration of U",
        "labels, G(u,x) and log p(x): float ↔ exact rationals (or log-space)",
        "forward route through L prompt slots ↔ reversed chain v = R w_L",
        "witness head ↔ max-margin LP",
    ),
    examples={"ci": 300, "dev": 1500, "thorough": 10000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def prompt_exact(inst: PromptTask) -> Outcome:
    hmm, mu, xs = inst.hmm, inst.mu, inst.xs
    prefix = np.zeros((0, hmm.n_states)) if inst.prefix is None else inst.prefix
    prefix = prefix.reshape(-1, hmm.n_states)
    post = posterior_h0(hmm, xs)
    score = post @ mu
    c = conditions.c_prompt(hmm, mu)
    q = {"sigma_min": c.quantities["sigma_min"], "gamma": float(np.abs(score).min())}
    cov: dict = {"sizes": hmm_sizes(hmm, xs, L=len(prefix) + 1)}
    if (bad := _premise(hmm, mu, c, inst, q, cov)) is not None:
        return bad
    U, S = tuple(c.witness["U"]), tuple(c.witness["S"])
    prompt = np.vstack([prefix, _one_hot(hmm.n_states, U)[None, :]])
    _, v = prompt_v(hmm, prompt)  # reversed-chain route, from the definition
    alive = np.asarray(hmm.start) > 0
    S_v = tuple(int(h) for h in np.flatnonzero((v > 0) & alive))
    S_alive = tuple(h for h in S if alive[h])
    cov["exercised"] = both_labels(score) and len(S_alive) < int(alive.sum())
    cov["targets"] = {
        "small sigma_min": neglog(q["sigma_min"]),
        "small prompt probability": neglog(float(np.asarray(hmm.start) @ v)),
        "small relative margin": neglog(relative(q["gamma"], mu)),
    }
    if S_v != S_alive:
        return Outcome.failed(
            f"c_prompt's support S={list(S)} ≠ supp(v) = {list(S_v)} of the prompt "
            f"(v = R w_L from the definition)",
            quantities=q,
            **cov,
        )
    if any(not alive[h] for h in U):
        return Outcome.failed(f"c_prompt's U={list(U)} holds a state with π = 0", quantities=q,
                              **cov)  # fmt: skip
    if (bad := prompt_probability_zero(v, post, q, cov)) is not None:
        return bad
    if (bad := ill_posed(hmm, mu, xs, score, q, cov)) is not None:
        return bad
    ph = witnesses.prompt_witness(hmm, mu, U, prefix)  # check's / find_prompt's builder
    if tuple(ph.S) != S_alive:
        return Outcome.failed(f"prompt_witness's S={list(ph.S)} ≠ c_prompt's S={list(S)}",
                              quantities=q, **cov)  # fmt: skip
    G = prompted_mask_probe(hmm, xs, prompt)  # forward route through the L slots
    y = decide_routes(hmm, xs, mu, score, G, cov, q, kind="prompted", prompt=prompt,
                           loglik=log_likelihood(hmm, xs))  # fmt: skip
    if isinstance(y, Outcome):
        return y
    want = score / (post @ v)
    err = np.abs(G @ ph.b - want) / max(1.0, float(np.abs(want).max()))
    q.update(identity_error=float(err.max()), v_max=float(v.max()), leakage=ph.leakage)
    detail = {
        "task": {"mu": mu.tolist(), "T": int(xs.shape[1])},
        "prompt": {"U": list(U), "S": list(S), "prompt": prompt.tolist(), "v": v.tolist()},
    }
    if err.max() > IDENTITY_TOL:
        return Outcome.failed(
            f"bᵀG(u,x) ≠ μᵀp(x)/(vᵀp(x)): error {err.max():.3e}",
            quantities=q,
            detail={**detail, "head": ph.b.tolist(),
                    "inputs": rows(xs, np.argsort(-err)[:5], labels=np.sign(score),
                                   posteriors=post, features=G, outputs=G @ ph.b)},
            **cov,
        )  # fmt: skip
    # §4's normalised margin (÷ ‖b‖_∞, the LP's norm) is at least γ / (max v · ‖b‖_∞)
    bound = ph.margin_bound(q["gamma"])
    bnorm = float(np.abs(ph.b).max())
    got = float((y * (G @ ph.b)).min()) / bnorm
    q.update(normalised_margin=got, normalised_margin_bound=bound)
    if got < bound * (1 - 1e-9) - 1e-12:
        return Outcome.failed(
            f"normalised prompt margin {got:.3e} below the bound γ/(max v·‖b‖_∞) = {bound:.3e}",
            quantities=q, **cov,
        )  # fmt: skip
    return witness_vs_lp(
        xs=xs, labels=y, features=G, head=ph.b, posteriors=post,
        quantities=q, detail=detail, what="prompt witness", outcome=cov,
    )  # fmt: skip


@claim(
    "prompt.weaker",
    instance=WeakerTask,
    kind="existential",
    statement="(a) C-HEAD ⇒ C-PROMPT(μ); (b) some instance is recovered by the prompt "
    "witness and by no linear head (LP-certified)",
    strategy=weaker_instances,
    oracles=("c_head / c_prompt (a, every example)", "prompt witness", "LP certificate (b)"),
    routes=(
        "(a) c_prompt ↔ brute-force enumeration of U",
        "(b) LP dual certificate ↔ exact rational certificate",
        "(b) LP dual certificate ↔ labels and features on the exact (or log-space) route",
    ),
    examples={"ci": 150, "dev": 500, "thorough": 2000},
)
def prompt_weaker(inst: WeakerTask) -> Outcome:
    ha, ma = inst.head_hmm, inst.head_mu
    ca, pa = conditions.c_head(ha), conditions.c_prompt(ha, ma)
    if ca.holds and not pa.holds:
        return Outcome.failed(
            "implication (a) fails: C-HEAD holds but C-PROMPT(μ) does not",
            quantities={"sigma_min": ca.quantities["sigma_min"]},
        )
    # (a) by the second route: the brute force must accept U = all states (π > 0 everywhere)
    if ca.holds and (np.asarray(ha.start) > 0).all() and not brute_force_supports(ha, ma):
        return Outcome.failed(
            "implication (a) fails by brute force: C-HEAD holds, π > 0, no support covers μ",
            quantities={"sigma_min": ca.quantities["sigma_min"]},
        )
    hmm, mu, xs = inst.hmm, inst.mu, inst.xs
    post = posterior_h0(hmm, xs)
    score = post @ mu
    y = np.sign(score)
    c = conditions.c_prompt(hmm, mu)
    q = {"sigma_min_prompt": c.quantities["sigma_min"], "gamma": float(np.abs(score).min())}
    cov = {"sizes": hmm_sizes(hmm, xs), "exercised": bool(c.holds) and both_labels(score)}
    if not c.holds:
        return Outcome.miss("C-PROMPT(μ) does not hold", quantities=q, **cov)
    ph = witnesses.prompt_witness(hmm, mu, c.witness["U"])  # check's / find_prompt's builder
    if (bad := prompt_probability_zero(ph.v, post, q, cov)) is not None:
        return bad
    if (bad := ill_posed(hmm, mu, xs, score, q, cov)) is not None:
        return bad
    Gu = prompted_mask_probe(hmm, xs, ph.prompt)
    if np.any(np.sign(Gu @ ph.b) != y):
        return Outcome.miss("the prompt witness does not recover here", quantities=q, **cov)
    G = mask_probe(hmm, xs)
    res, bad = no_linear_head(hmm, xs, y, G, mu, q, cov, key="head_lp_margin_upper",
                              recovers="a linear head recovers too")  # fmt: skip
    if bad is not None:
        return bad
    return Outcome.witness(
        f"prompt U={list(c.witness['U'])} recovers every label; no linear head does "
        f"(certificate on {res.support().size} inputs, residual "
        f"{res.certificate_residual:.1e})",
        quantities=q,
        detail={
            "task": {"mu": mu.tolist(), "T": int(xs.shape[1])},
            "prompt": {"U": list(c.witness["U"]), "S": list(c.witness["S"]),
                       "v": ph.v.tolist(), "b": ph.b.tolist()},
            **certificate_detail(res, hmm, xs, y, G, task={"mu": mu}, posteriors=post,
                                 outputs=Gu @ ph.b),
        },
        **cov,
    )  # fmt: skip


@claim(
    "prompt.robust",
    instance=RobustPromptTask,
    kind="universal",
    statement="A > 0 everywhere, C-HEAD false, S ⊇ supp(μ) with W[:,S] full rank: "
    "sign bᵀG(u,x) = y(x) wherever |μᵀp(x)| > ℓ (leakage)",
    strategy=robust_tiers,
    strategy_name="prompt_instances with an ε-leaking prompt state (ε ∈ LEAKS), L ∈ {1,2,3}",
    oracles=("leakage identity to 1e-9", "per-input sign where |μᵀp| > ℓ", "LP on those"),
    routes=(
        "labels and G(u,x): float ↔ exact rationals (or log-space)",
        "forward route through L prompt slots ↔ reversed chain v = R w_L",
        "leaky head ↔ max-margin LP on the premise inputs",
    ),
    examples={"ci": 250, "dev": 1200, "thorough": 8000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def prompt_robust(inst: RobustPromptTask) -> Outcome:
    hmm, mu, xs = inst.hmm, inst.mu, inst.xs
    S = [int(h) for h in inst.S]
    prompt = inst.prompt.reshape(-1, hmm.n_states)
    post = posterior_h0(hmm, xs)
    score = post @ mu
    c = conditions.c_prompt_robust(hmm, mu, prompt, S, xs)
    q = {k: c.quantities[k] for k in ("leakage", "sigma_min", "gamma")}
    cov: dict = {"sizes": hmm_sizes(hmm, xs, L=len(prompt))}
    if c.quantities["sigma_min"] < conditions.SIGMA_TOL:
        return Outcome.discard("W[:, S] is rank-deficient", quantities=q, **cov)
    if (bad := ill_posed(hmm, mu, xs, score, q, cov)) is not None:
        return bad
    ph = witnesses.robust_prompt_witness(hmm, mu, prompt, S)
    _, v = prompt_v(hmm, prompt)  # the definition's route; ph.v is verify.core.inference's
    if (bad := prompt_probability_zero(v, post, q, cov)) is not None:
        return bad
    G = prompted_mask_probe(hmm, xs, prompt)
    yr = decide_routes(hmm, xs, mu, score, G, cov, q, kind="prompted", prompt=prompt)
    if isinstance(yr, Outcome):
        return yr
    off = np.setdiff1d(np.arange(hmm.n_states), S)
    cvec = hmm.W.T @ ph.b
    leak = post[:, off] @ (cvec[off] * v[off])
    lhs = (G @ ph.b) * (post @ v)
    err = np.abs(lhs - (score + leak)) / max(1.0, float(np.abs(mu).max()))
    leakage = float(np.max(np.abs(cvec[off]) * v[off])) if off.size else 0.0
    q["identity_error"] = float(err.max())
    detail = {"task": {"mu": mu.tolist()}, "prompt": {"S": S, "prompt": prompt.tolist(),
              "v": v.tolist()}, "head": ph.b.tolist()}  # fmt: skip
    if err.max() > IDENTITY_TOL or abs(leakage - ph.leakage) > 1e-9 * max(1.0, leakage):
        return Outcome.failed(
            f"leakage decomposition fails: error {err.max():.3e}, "
            f"ℓ = {ph.leakage:.3e} (witness) vs {leakage:.3e} (definition)",
            quantities=q,
            detail=detail,
            **cov,
        )
    y = yr
    premise = np.abs(score) > leakage
    q["premise_fraction"] = float(premise.mean())
    mscale = max(float(np.abs(mu).max()), 1e-300)
    cov["exercised"] = bool(premise.any()) and leakage > 0 and not conditions.c_head(hmm).holds
    if premise.any():
        cov["targets"] = {
            "margin near ℓ": neglog(float((np.abs(score[premise]) - leakage).min()) / mscale),
            "leakage near γ": min(leakage / max(q["gamma"], 1e-300), 10.0),
        }
    wrong = np.flatnonzero(premise & (np.sign(G @ ph.b) != y))
    if wrong.size:
        return Outcome.failed(
            f"{wrong.size} inputs with |μᵀp(x)| > ℓ = {leakage:.3e} are misclassified",
            quantities=q,
            detail={**detail, "inputs": rows(xs, wrong, labels=y, posteriors=post,
                                             features=G, outputs=G @ ph.b)},
            **cov,
        )  # fmt: skip
    if not premise.any():
        return Outcome.passed(quantities=q, **cov)
    return witness_vs_lp(
        xs=xs[premise], labels=y[premise], features=G[premise], head=ph.b,
        posteriors=post[premise], quantities=q, detail=detail,
        what="leaky prompt head (inputs with |μᵀp| > ℓ)", outcome=cov,
    )  # fmt: skip


# --------------------------------------------------------------------------- multi-token


@claim(
    "prompt.multi_token",
    instance=MultiTokenTask,
    kind="universal",
    statement="stationary start: the L-slot prompted probe equals the one-slot probe of "
    "u′ = w_L, and a one-slot prompt padded with ones is the same prompt (to 1e-10)",
    strategy=multi_token_tiers,
    oracles=(
        "forward route through L slots",
        "forward route through one slot u′ = w_L",
        "THEORY §2 formula W diag(v) p / vᵀp",
    ),
    routes=(
        "forward L-slot window ↔ exact rationals (or log-space)",
        "forward L-slot window ↔ forward one-slot window (u′ = w_L)",
        "forward window ↔ reversed chain W diag(v) p(x) / (vᵀp(x))",
    ),
    examples={"ci": 200, "dev": 1000, "thorough": 6000},
    thresholds={"identity_tol": MULTI_TOKEN_TOL},
)
def prompt_multi_token(inst: MultiTokenTask) -> Outcome:
    hmm, xs = inst.hmm, inst.xs
    prompt = inst.prompt.reshape(-1, hmm.n_states)
    L = len(prompt)
    wL, v = prompt_v(hmm, prompt)
    prob = float(np.asarray(hmm.start) @ v)  # P(z_{1:L}) under the stationary window
    post = posterior_h0(hmm, xs)
    joint = post @ v  # ∝ P(z_{1:L} | x): the prompt must be possible together with x
    q = {"prompt_probability": prob}
    cov: dict = {"sizes": hmm_sizes(hmm, xs, L=L)}
    if prob <= 0 or prompt_probability_zero(v, post, q, cov) is not None:
        return Outcome.discard("the prompt has probability 0", quantities=q, **cov)
    GL = np.asarray(prompted_mask_probe(hmm, xs, prompt))
    zero = np.zeros(hmm.n_states)  # no task here: only the probes are compared
    routed = decide_routes(hmm, xs, zero, np.zeros(len(xs)), GL, cov, q, kind="prompted",
                           prompt=prompt)  # fmt: skip
    if isinstance(routed, Outcome):
        return routed
    G1 = np.asarray(prompted_mask_probe(hmm, xs, wL[None, :]))
    formula = (post * v) @ hmm.emission / joint[:, None]
    padded = np.vstack([np.ones((L - 1, hmm.n_states)), prompt[-1:]])
    _, v_pad = prompt_v(hmm, prompt[-1:])
    keep_pad = post @ v_pad > 1e-300
    Gpad = np.asarray(prompted_mask_probe(hmm, xs[keep_pad], padded))
    Gone = np.asarray(prompted_mask_probe(hmm, xs[keep_pad], prompt[-1:]))
    errs = {
        "L slots vs one slot w_L": float(np.abs(GL - G1).max()),
        "L slots vs formula": float(np.abs(GL - formula).max()),
        "padded vs one slot": float(np.abs(Gpad - Gone).max()) if keep_pad.any() else 0.0,
    }
    q.update({f"error {k}": v_ for k, v_ in errs.items()})
    effect = float(np.abs(GL - np.asarray(mask_probe(hmm, xs))).max())
    q["prompt_effect"] = effect
    cov["exercised"] = effect > 1e-6  # the prompt changed the probe somewhere
    cov["targets"] = {"small prompt probability": neglog(prob), "L": float(L)}
    worst = max(errs, key=lambda name: errs[name])
    if errs[worst] > MULTI_TOKEN_TOL:
        i = int(np.argmax(np.abs(GL - G1).max(axis=1)))
        return Outcome.failed(
            f"{worst}: probes differ by {errs[worst]:.3e} > {MULTI_TOKEN_TOL:g}",
            quantities=q,
            detail={"prompt": {"prompt": prompt.tolist(), "w_L": wL.tolist(), "v": v.tolist()},
                    "inputs": [{"x": xs[i].tolist(), "L_slots": GL[i].tolist(),
                                "one_slot": G1[i].tolist(), "formula": formula[i].tolist()}]},
            **cov,
        )  # fmt: skip
    return Outcome.passed(quantities=q, **cov)


@claim(
    "prompt.multi_token_start",
    instance=StartTask,
    kind="existential",
    statement="start = δ_j not stationary: some two-slot prompt with a linear head "
    "recovers the task on 𝒮 (LP) while no one-slot prompt does (LP certificate on G_1)",
    strategy=multi_token_start_instances,
    oracles=(
        "one-slot probes equal for every u_1 with u_1[j] > 0",
        "LP certificate on G_1",
        "LP on two-slot probes (u_2 = 1_U searched)",
    ),
    routes=(
        "LP dual certificate (one slot) ↔ exact rational certificate",
        "LP dual certificate ↔ labels and features on the exact (or log-space) route",
        "LP dual certificate (one slot) ↔ LP primal head (two slots)",
    ),
    examples={"ci": 100, "dev": 400, "thorough": 2000},
)
def prompt_multi_token_start(inst: StartTask) -> Outcome:
    hmm, mu, xs = inst.hmm, inst.mu, inst.xs
    k, j = hmm.n_states, inst.start_state
    start = np.zeros(k)
    start[j] = 1.0
    window = HMM(start, hmm.transition, hmm.emission)
    score = posterior_h0(hmm, xs) @ mu  # the task: the stationary chain's posterior
    y = np.sign(score)
    q = {"gamma": float(np.abs(score).min())}
    stationary = bool(np.abs(start @ hmm.transition - start).max() <= 1e-12)
    cov = {"sizes": hmm_sizes(hmm, xs, L=2), "exercised": not stationary and both_labels(y)}
    if stationary:
        return Outcome.miss("δ_j is stationary here", quantities=q, **cov)
    if (bad := ill_posed(hmm, mu, xs, score, q, cov)) is not None:
        return bad
    ones = np.ones((1, k))
    other = np.full((1, k), 0.25)
    other[0, j] = 0.5
    G1 = np.asarray(prompted_mask_probe(window, xs, ones))
    G1b = np.asarray(prompted_mask_probe(window, xs, other))
    q["one_slot_spread"] = float(np.abs(G1 - G1b).max())
    if q["one_slot_spread"] > MULTI_TOKEN_TOL:
        return Outcome.failed(
            f"two one-slot prompts with u_1[j] > 0 give probes differing by "
            f"{q['one_slot_spread']:.3e} (with start δ_j they must coincide)",
            quantities=q,
            **cov,
        )
    res1, bad = no_linear_head(window, xs, y, G1, mu, q, cov, name="one-slot LP",
                               key="one_slot_lp_upper", recovers="a one-slot prompt recovers",
                               task_model=hmm, prompt=ones)  # fmt: skip
    if bad is not None:
        return bad
    succ = [int(h) for h in np.flatnonzero(hmm.transition[j] > 0)]
    cands = [c for r in (1, 2) for c in combinations(succ, r)][:12]
    for U in cands:
        prompt = np.vstack([ones, _one_hot(k, U)[None, :]])
        G2 = np.asarray(prompted_mask_probe(window, xs, prompt))
        res2 = lp(G2, y)
        if res2.status != "recoverable":
            continue
        q["two_slot_lp_margin"] = float(res2.verified_margin)
        return Outcome.witness(
            f"start δ_{j}: the two-slot prompt (1, 1_{list(U)}) recovers the task "
            f"(margin {res2.verified_margin:.2e}); no one-slot prompt does (certificate on "
            f"{res1.support().size} inputs, residual {res1.certificate_residual:.1e})",
            quantities=q,
            detail={
                "task": {"mu": mu.tolist(), "T": int(xs.shape[1]), "start_state": j},
                "prompt": {"two_slot": prompt.tolist(), "U": list(U)},
                "head": [float(b) for b in res2.head] if res2.head is not None else None,
                **certificate_detail(res1, window, xs, y, G1, prompt=ones),
                "two_slot_lp": lp_summary(res2),
            },
            **cov,
        )
    return Outcome.miss("no two-slot prompt 1_U (|U| ≤ 2) recovers either", quantities=q, **cov)
