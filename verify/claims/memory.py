"""Memory-HMM claims (THEORY §5): memory.iid_exact, memory.pool, memory.prompt,
memory.vs_vanilla."""

from __future__ import annotations

import numpy as np

from strategies.instance import Seeded
from strategies.memory_claims import (
    MemoryTask,
    VsVanillaTask,
    iid_instances,
    memory_prompt_instances,
    vs_vanilla_instances,
)
from verify.core import conditions, task
from verify.core import generator as reference
from verify.core.inference import (
    log_likelihood,
    mask_probe,
    memory_posterior,
    posterior_h0,
    product_hmm,
)
from verify.core.models import HMM, MemoryHMM, stationary_distribution
from verify.recovery import witnesses

from ._ladder import LADDER_RULE, ladder_outcome
from ._support import (
    IDENTITY_TOL,
    both_labels,
    certificate_detail,
    decide_routes,
    ill_posed,
    lp,
    lp_summary,
    mem_sizes,
    neglog,
    no_linear_head,
    relative,
    rows,
    witness_vs_lp,
)
from .registry import Outcome, claim


@claim(
    "memory.iid_exact",
    instance=MemoryTask,
    kind="universal",
    statement="N = 1, i.i.d. states, W̄ full rank ⇒ G(x) = W̄ P[M|x] and pinv(W̄)ᵀμ recovers",
    strategy=iid_instances,
    oracles=("G(x) = W̄ P[M|x] to 1e-9", "memory_iid_witness", "max-margin LP"),
    routes=(
        "labels P[M|x], G(x) and log p(x): float ↔ exact rationals (or log-space)",
        "witness head ↔ max-margin LP",
    ),
    examples={"ci": 250, "dev": 1200, "thorough": 8000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def memory_iid_exact(inst: MemoryTask) -> Outcome:
    mem, mu, cell, xs = inst.mem, inst.mu, inst.cell, inst.xs
    c = conditions.c_mem_iid(mem)  # C-MEM-IID, not C-MEM-POOL (THEORY §5: two IDs)
    q = {"sigma_min": c.quantities["sigma_min"], "iid": c.quantities["iid"]}
    pm = memory_posterior(mem, xs, cell)
    score = pm @ mu
    q["gamma"] = float(np.abs(score).min())
    cov = {
        "sizes": mem_sizes(mem, xs, cell=cell),
        # premise: W̄ averages several state emissions, and the task has two labels on 𝒮
        "exercised": mem.n_ordinary >= 2 and both_labels(score),
        "targets": {
            "small sigma_min": neglog(q["sigma_min"]),
            "small relative margin": neglog(relative(q["gamma"], mu)),
        },
    }
    if not c.holds:
        return Outcome.discard("C-MEM-IID does not hold", quantities=q, **cov)
    if (bad := ill_posed(mem, mu, xs, score, q, cov, cell)) is not None:
        return bad
    w = witnesses.memory_iid_witness(mem, mu, cell)
    G = np.asarray(mask_probe(product_hmm(mem), xs))
    y = decide_routes(mem, xs, mu, score, G, cov, q, cell=cell,
                           loglik=log_likelihood(mem, xs))  # fmt: skip
    if isinstance(y, Outcome):
        return y
    err_g = float(np.abs(G - pm @ w.matrix.T).max())
    err_b = float(np.abs(G @ w.b - score).max()) / max(1.0, float(np.abs(mu).max()))
    q.update(identity_error=max(err_g, err_b))
    detail = {"task": {"mu": mu.tolist(), "cell": cell, "T": int(xs.shape[1])},
              "W_bar": w.matrix.tolist()}  # fmt: skip
    if max(err_g, err_b) > IDENTITY_TOL:
        return Outcome.failed(
            f"G(x) = W̄ P[M|x] fails (error {err_g:.2e}) or bᵀG ≠ μᵀP[M|x] ({err_b:.2e})",
            quantities=q,
            detail=detail,
            **cov,
        )
    return witness_vs_lp(
        xs=xs, labels=y, features=G, head=w.b, posteriors=pm,
        quantities=q, detail=detail, what="i.i.d. memory head pinv(W̄)ᵀμ", outcome=cov,
    )  # fmt: skip


#: memory.pool's statistical protocol (fixed seeds; named thresholds; the decision rule is
#: :data:`LADDER_RULE`, merged in).
POOL_PROTOCOL = {
    "tau_trans": 0.3,  # ergodic chain (THEORY's premise); see the claim's statement
    "T_min": 64,
    "T_max": 4096,
    "rung_factor": 4,
    "batch": 300,
    "T_route": 256,  # the second route (log-space) decides route_batch sequences at this T
    "route_batch": 16,
    "n_ordinary_multi": 4,  # N = 2 seeds: s = 4 states, two reading each cell
    "n_tokens_multi": 16,
    **LADDER_RULE,
}


def pool_instance(seed: int) -> tuple[MemoryHMM, np.ndarray, int]:
    """memory.pool's model for ``seed``: even seeds the reference generator (N = 1,
    m cycling 2, 3, 5); odd seeds N = 2 cells (m ∈ {2, 3}, s = 4, pointer (0, 0, 1, 1)
    permuted, the reference's permutation-mixture chain with τ_trans = 0.3, emission rows
    half on a distinct home token, half softmax(τ = 1) over n = 16 tokens), so the other
    cell's constraint
    ``W̄⁽¹⁾ᵀb = 0`` enters the head. Returns (mem, μ, m)."""
    tau = POOL_PROTOCOL["tau_trans"]
    if seed % 2 == 0:
        m = (2, 3, 5)[(seed // 2) % 3]
        mem = reference.reference_memory_hmm(seed, m, tau_trans=tau)
        return mem, reference.task_mu(reference.reference_memory_task(seed, m)), m
    m = (2, 3)[(seed // 2) % 2]
    s = int(POOL_PROTOCOL["n_ordinary_multi"])
    rng = np.random.default_rng(seed)
    A = reference.permutation_mixture(s, tau, rng)  # doubly stochastic: uniform is stationary
    # every (value, state) pair gets its own home token (half its mass) plus a random
    # softmax row: near-one-hot rows of the paper's τ_emit collide on tokens, leaving the
    # stacked pooled system so ill-conditioned (‖b‖∞ ≈ 500 measured) that accuracy is
    # 0.72 at T = 1024; with home tokens ‖b‖∞ ≤ 16 and accuracy 1.0 at T = 256 (seeds 1–39)
    n = int(POOL_PROTOCOL["n_tokens_multi"])
    homes = np.eye(n)[rng.permutation(n)[: m * s]]
    emission = 0.5 * homes + 0.5 * reference.softmax_rows(m * s, n, 1.0, rng)
    pointer = rng.permutation(np.array([0, 0, 1, 1], dtype=np.int64))
    mem = MemoryHMM(np.full((2, m), 1.0 / m), np.full(s, 1.0 / s), A, pointer, emission)
    return mem, reference.task_mu(reference.reference_memory_task(seed, m)), m


def _no_limit_label(mu: np.ndarray) -> bool:
    """THEORY's premise ``min_a |μ_a| > 0`` fails (to rounding): some memory value has no
    limit label, so accuracy → 1 is not claimed."""
    return float(np.abs(mu).min()) <= LADDER_RULE["converged"] * max(1.0, float(np.abs(mu).max()))


@claim(
    "memory.pool",
    instance=Seeded,
    kind="statistical",
    statement="C-MEM-POOL, ergodic chain, min_a |μ_a| > 0: the mean-pooled score "
    "bᵀ(1/T)Σ_i G_i(x) → μ_{M_j*}. Decided on a ladder T = 64 … 4096: falsified when its "
    "error does not shrink at the 1/√T rate (within rate_slack) or the accuracy misses "
    "0.9 at the T* its error scale predicts; inconclusive at T_max when the ladder is too "
    "short (even seeds: reference generator, N = 1, m cycles 2, 3, 5; odd seeds: N = 2 "
    "cells, m ∈ {2, 3}; τ_trans = 0.3)",
    strategy=None,
    strategy_name="memory.pool_instance(seed): verify.core.generator models (N = 1) and "
    "two-cell models (N = 2); sequences sampled per (seed, T)",
    oracles=("pooled_witness", "error against the sampled memory value μ_{M_j*} over T"),
    routes=(
        "pooled head score ↔ its limit μ_{M_j*} at the sampled memory",
        "labels, pooled G_i(x) and log p(x): float ↔ log-space (route_batch sequences)",
    ),
    examples={"ci": 12, "dev": 40, "thorough": 200},
    thresholds=POOL_PROTOCOL,
)
def memory_pool(inst: Seeded) -> Outcome:
    seed = inst.seed
    mem, mu, m = pool_instance(seed)
    q = {"min_abs_mu": float(np.abs(mu).min())}
    sizes = {"k": m**mem.n_cells * mem.n_ordinary, "m": m, "s": mem.n_ordinary,
             "N": mem.n_cells, "n": mem.n_tokens}  # fmt: skip
    cov = {"sizes": sizes, "exercised": True}
    if _no_limit_label(mu):
        return Outcome.discard(
            "min_a |μ_a| = 0: a memory value has no limit label (THEORY's premise)",
            quantities=q, **cov,
        )  # fmt: skip
    c = conditions.c_mem_pool(mem, mu, 0)
    q["residual"] = c.quantities["residual"]
    if not c.holds:
        return Outcome.discard("C-MEM-POOL does not hold for this seed", quantities=q, **cov)
    w = witnesses.pooled_witness(mem, mu, 0)
    q["b_span"] = float(w.b.max() - w.b.min()) / 2
    # the pooled features, labels and log p(x) of route_batch sequences against the
    # second route (log-space at T_route)
    xs, _ = mem.sample(int(POOL_PROTOCOL["route_batch"]), int(POOL_PROTOCOL["T_route"]), seed)
    routed = decide_routes(mem, xs, mu, memory_posterior(mem, xs, 0) @ mu,
                           witnesses.pooled_features(mem, xs), cov, q, kind="pooled", cell=0,
                           loglik=log_likelihood(mem, xs))  # fmt: skip
    if isinstance(routed, Outcome):
        return routed
    detail = {"task": {"mu": mu.tolist(), "m": m, "N": mem.n_cells}, "head": w.b.tolist()}
    return ladder_outcome(mem, w.decision_values, mu, seed, POOL_PROTOCOL, q, cov, detail)


#: memory.prompt_limit's statistical protocol (fixed seeds; the decision rule is
#: :data:`LADDER_RULE`, merged in).
PROMPT_LIMIT_PROTOCOL = {
    "tau_trans": 0.3,
    "T_min": 8,
    "T_max": 2048,
    "rung_factor": 4,
    "batch": 300,
    **LADDER_RULE,
}


def prompt_limit_instance(seed: int) -> tuple[MemoryHMM, np.ndarray, int]:
    """The reference memory model for ``seed`` (m cycling 2, 3, 5; τ_trans = 0.3) with
    one change that gives C-MEM-PROMPT: state 1's row becomes δ_0 (a funnel onto s0 = 0,
    which is not absorbing); state_start is the new chain's stationary law."""
    m = (2, 3, 5)[seed % 3]
    base = reference.reference_memory_hmm(seed, m, tau_trans=PROMPT_LIMIT_PROTOCOL["tau_trans"])
    A = base.state_transition.copy()
    A[1] = np.eye(base.n_ordinary)[0]
    stat = stationary_distribution(A)
    mem = MemoryHMM(base.memory_prior, stat, A, base.pointer, base.emission)
    return mem, reference.task_mu(reference.reference_memory_task(seed, m)), m


@claim(
    "memory.prompt_limit",
    instance=Seeded,
    kind="statistical",
    statement="C-MEM-PROMPT, min_a |μ_a| > 0: the prompted head's score "
    "bᵀG(u, x) = μᵀP[M_j*|S_0=s0,x] → μ_{M_j*}. Decided on a ladder T = 8 … 2048 by the "
    "memory.pool rule: falsified when the error does not shrink at least at the 1/√T rate "
    "or the accuracy misses 0.9 at the predicted T*; inconclusive at T_max otherwise "
    "(reference generator with a funnel state, m cycles 2, 3, 5)",
    strategy=None,
    strategy_name="memory.prompt_limit_instance(seed); sequences sampled per (seed, T)",
    oracles=("c_mem_prompt", "memory_prompt_witness", "error against μ_{M_j*} over T"),
    routes=("prompted head score ↔ its limit μ_{M_j*} at the sampled memory",),
    examples={"ci": 6, "dev": 30, "thorough": 150},
    thresholds=PROMPT_LIMIT_PROTOCOL,
)
def memory_prompt_limit(inst: Seeded) -> Outcome:
    seed = inst.seed
    mem, mu, m = prompt_limit_instance(seed)
    q = {"min_abs_mu": float(np.abs(mu).min())}
    cov: dict = {"sizes": {"k": m * mem.n_ordinary, "m": m, "s": mem.n_ordinary, "N": 1,
                           "n": mem.n_tokens}}  # fmt: skip
    if _no_limit_label(mu):
        return Outcome.discard(
            "min_a |μ_a| = 0: a memory value has no limit label (THEORY's premise)",
            quantities=q, **cov,
        )  # fmt: skip
    c = conditions.c_mem_prompt(mem, mu, 0)
    q["sigma_min"] = c.quantities["sigma_min"]
    if not c.holds:
        return Outcome.discard("C-MEM-PROMPT does not hold for this seed", quantities=q, **cov)
    w = witnesses.memory_prompt_witness(mem, mu, int(c.witness["s0"]), c.witness["U"], 0)
    cov["exercised"] = float(conditions.state_stationary(mem)[int(c.witness["s0"])]) < 1
    detail = {"task": {"mu": mu.tolist(), "m": m}, "head": w.b.tolist(),
              "prompt": {"s0": int(c.witness["s0"]), "U": list(c.witness["U"])}}  # fmt: skip
    return ladder_outcome(mem, w.decision_values, mu, seed, PROMPT_LIMIT_PROTOCOL, q, cov, detail)


def conditioned_posterior(mem: MemoryHMM, xs: np.ndarray, cell: int, s0: int) -> np.ndarray | None:
    """``P[M_cell | S_0 = s0, x]`` (B, m) by its own route: the product HMM's prior
    restricted to the states (·, s0), then the float posterior of H_0 marginalised to the
    cell; None when S_0 = s0 has probability 0 under the start law."""
    prod = product_hmm(mem)
    start = prod.start * (np.arange(prod.n_states) % mem.n_ordinary == s0)
    if start.sum() <= 0:
        return None
    cond_hmm = HMM(start / start.sum(), prod.transition, prod.emission)
    return np.asarray(posterior_h0(cond_hmm, xs)) @ mem.cell_marginalizer(cell)


@claim(
    "memory.prompt",
    instance=MemoryTask,
    kind="universal",
    statement="C-MEM-PROMPT ⇒ u = 1[st ∈ U] gives G(u,x) = W_{s0} P[M_j*|S_0=s0,x] and "
    "pinv(W_{s0})ᵀμ outputs μᵀP[M_j*|S_0=s0,x] (the exact step of the asymptotic claim)",
    strategy=memory_prompt_instances,
    oracles=(
        "c_mem_prompt",
        "memory_prompt_witness",
        "conditioned posterior (own route)",
        "LP on G(u,x)",
    ),
    routes=(
        "labels P[M|S_0=s0,x], G(u,x) and log p(x): float ↔ exact rationals (or log-space)",
        "prompted probe ↔ conditioned posterior W_s0 P[M|S_0=s0,x]",
        "witness head ↔ max-margin LP",
    ),
    examples={"ci": 250, "dev": 1200, "thorough": 8000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def memory_prompt(inst: MemoryTask) -> Outcome:
    mem, mu, cell, xs = inst.mem, inst.mu, inst.cell, inst.xs
    c = conditions.c_mem_prompt(mem, mu, cell)
    q = {"sigma_min": c.quantities["sigma_min"]}
    cov: dict = {"sizes": mem_sizes(mem, xs, cell=cell)}
    if not c.holds:
        return Outcome.discard("C-MEM-PROMPT does not hold", quantities=q, **cov)
    s0, U = int(c.witness["s0"]), c.witness["U"]
    pi_s = conditions.state_stationary(mem)
    q["pi_s0"] = float(pi_s[s0])
    # the prompt slot's chain starts with law state_start (§1.1): a non-stationary start
    # that puts no mass on U gives the prompt probability 0 (G(u, x) undefined: discard)
    q["prompt_probability"] = float(np.asarray(mem.state_start)[list(U)].sum())
    if q["prompt_probability"] <= 0:
        return Outcome.discard("the prompt has probability 0 (state_start vanishes on U)",
                               quantities=q, **cov)  # fmt: skip
    w = witnesses.memory_prompt_witness(mem, mu, s0, U, cell)
    qx = conditioned_posterior(mem, xs, cell, s0)
    if qx is None:
        return Outcome.discard(
            "S_0 = s0 has probability 0 under the start law", quantities=q, **cov
        )
    G = w.features(mem, xs)
    err_g = float(np.abs(G - qx @ mem.W_state(s0).T).max())
    err_b = float(np.abs(G @ w.b - qx @ mu).max()) / max(1.0, float(np.abs(mu).max()))
    y = task.labels(mem, xs, mu, cell)
    q.update(identity_error=max(err_g, err_b),
             label_agreement=float((np.sign(qx @ mu) == y).mean()))  # fmt: skip
    # premise: the prompt conditions on something (s0 is not certain without it) and the
    # prompted task has two labels
    cov["exercised"] = q["pi_s0"] < 1 - 1e-12 and both_labels(qx @ mu)
    cov["targets"] = {
        "small sigma_min": neglog(q["sigma_min"]),
        "small prompted margin": neglog(relative(np.abs(qx @ mu).min(), mu)),
    }
    if max(err_g, err_b) > IDENTITY_TOL:
        bad = np.argsort(-np.abs(G @ w.b - qx @ mu))[:5]
        return Outcome.failed(
            f"prompted probe ≠ W_s0 P[M|S_0=s0,x] (error {err_g:.2e}) or head identity "
            f"fails ({err_b:.2e})",
            quantities=q,
            detail={"task": {"mu": mu.tolist(), "cell": cell},
                    "prompt": {"s0": s0, "U": list(U)}, "head": w.b.tolist(),
                    "inputs": rows(xs, bad, labels=y, posteriors=qx, features=G,
                                   outputs=G @ w.b)},
            **cov,
        )  # fmt: skip
    # the labels the prompt head recovers exactly, and G(u, x), on the second route
    yq = decide_routes(mem, xs, mu, qx @ mu, G, cov, q, kind="prompted",
                            prompt=w.prompt, cell=cell, s0=s0,
                            loglik=log_likelihood(mem, xs))  # fmt: skip
    if isinstance(yq, Outcome):
        return yq
    tq = task.decide(mem, xs, mu, cell, score=qx @ mu, s0=s0)
    q["gamma_prompted"] = tq.gamma
    if tq.ill_posed:
        return Outcome.discard(f"prompted task (S_0 = s0) {tq.reason}", quantities=q, **cov)
    return witness_vs_lp(
        xs=xs,
        labels=yq,
        features=G,
        head=w.b,
        posteriors=qx,
        quantities=q,
        detail={"task": {"mu": mu.tolist(), "cell": cell}, "prompt": {"s0": s0, "U": list(U)}},
        what="memory prompt head pinv(W_s0)ᵀμ",
        outcome=cov,
    )


@claim(
    "memory.vs_vanilla",
    instance=VsVanillaTask,
    kind="existential",
    statement="at equal k = m·s > n, a memory task is recovered by pooling (LP) while a "
    "vanilla HMM task with k states has no linear head (LP-certified)",
    strategy=vs_vanilla_instances,
    oracles=("LP on pooled features (memory)", "LP dual certificate (vanilla)"),
    routes=(
        "labels, G(x), pooled G_i(x), log p(x): float ↔ exact rationals (or log-space)",
        "LP dual certificate (vanilla) ↔ exact rational certificate",
        "LP dual certificate ↔ labels and features on the exact (or log-space) route",
    ),
    examples={"ci": 200, "dev": 500, "thorough": 2000},
)
def memory_vs_vanilla(inst: VsVanillaTask) -> Outcome:
    mem, mu, cell, xs = inst.mem, inst.mu, inst.cell, inst.xs
    hmm, hmu, hxs = inst.hmm, inst.hmm_mu, inst.hmm_xs
    k, n = hmm.n_states, hmm.n_tokens
    q = {"k": float(k), "n": float(n)}
    cov = {"sizes": mem_sizes(mem, xs, cell=cell), "exercised": k > n}
    if k <= n:
        return Outcome.miss("k ≤ n", quantities=q, **cov)
    # labels from the second route; features from the float route, compared with it
    hp = posterior_h0(hmm, hxs)
    G = np.asarray(mask_probe(hmm, hxs))
    hy = decide_routes(hmm, hxs, hmu, hp @ hmu, G, cov, q, loglik=log_likelihood(hmm, hxs))
    if isinstance(hy, Outcome):
        return hy
    pm = memory_posterior(mem, xs, cell)
    P = witnesses.pooled_features(mem, xs)
    my = decide_routes(mem, xs, mu, pm @ mu, P, cov, q, kind="pooled", cell=cell)
    if isinstance(my, Outcome):
        return my
    if (bad := ill_posed(hmm, hmu, hxs, hp @ hmu, q, cov)) is not None:
        return bad
    q["gamma_vanilla"] = q["gamma"]
    if (bad := ill_posed(mem, mu, xs, pm @ mu, q, cov, cell)) is not None:
        return bad
    if len(set(my)) < 2:
        return Outcome.miss("memory task has one label on 𝒮", quantities=q, **cov)
    van, bad = no_linear_head(hmm, hxs, hy, G, hmu, q, cov, name="vanilla LP",
                              key="vanilla_lp_upper",
                              recovers="a linear head recovers the vanilla task")  # fmt: skip
    if bad is not None:
        return bad
    pooled = lp(P, my)
    q["pooled_lp_margin"] = float(pooled.verified_margin)
    if pooled.status == "inconclusive":
        return Outcome.inconclusive(f"pooled LP: {pooled.reason}", quantities=q, **cov)
    if pooled.status != "recoverable":
        return Outcome.miss("pooling does not recover the memory task on 𝒮", quantities=q, **cov)
    return Outcome.witness(
        f"k = {k} > n = {n}: pooling recovers the memory task (margin "
        f"{pooled.verified_margin:.2e}); no linear head recovers the vanilla task",
        quantities=q,
        detail={
            "task": {"memory_mu": mu.tolist(), "vanilla_mu": hmu.tolist(), "T": 3},
            **certificate_detail(van, hmm, hxs, hy, G, task={"mu": hmu}, posteriors=hp),
            "pooled_lp": lp_summary(pooled),
        },
        **cov,
    )  # fmt: skip
