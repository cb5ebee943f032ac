"""Memory-HMM claims (THEORY §5): memory.iid_exact, memory.pool, memory.prompt,
memory.vs_vanilla."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify.inference import mask_probe, memory_posterior, posterior_h0, product_hmm
from verify.models import HMM

from ._support import GAMMA_TOL, IDENTITY_TOL, lp, lp_summary, need, rows, strategy, witness_vs_lp
from .registry import Outcome, claim


def _cond() -> Any:
    return need("verify.conditions")


def _wit(name: str) -> Any:
    return need("verify.recovery.witnesses", name)


def _mem_inst(m: Any) -> dict:
    return {"mem": m.mem, "mu": np.asarray(m.mu, float), "cell": int(m.cell), "xs": m.xs}


def iid_instances() -> Any:
    """strategies.memory_instances(N=1, state_style="iid", satisfying="C-MEM-POOL"),
    m ∈ [2,3], s ∈ [1,3], n ∈ [2,6], T ∈ [1,3] (exhaustive input sets)."""
    return strategy("memory_instances")(
        n_cells=1, state_style="iid", satisfying="C-MEM-POOL", T=(1, 3)
    ).map(_mem_inst)


@claim(
    "memory.iid_exact",
    theorem="Theorem 4.3 (i.i.d. case)",
    kind="universal",
    statement="N = 1, i.i.d. states, W̄ full rank ⇒ G(x) = W̄ P[M|x] and pinv(W̄)ᵀμ recovers",
    strategy=iid_instances,
    oracles=("G(x) = W̄ P[M|x] to 1e-9", "memory_iid_witness", "max-margin LP"),
    examples={"ci": 600, "dev": 2400, "thorough": 16000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def memory_iid_exact(inst: dict) -> Outcome:
    cond = _cond()
    mem, mu, cell, xs = inst["mem"], np.asarray(inst["mu"], float), inst["cell"], inst["xs"]
    c = cond.c_mem_pool(mem, mu, cell)
    q = {"sigma_min": c.quantities["sigma_min"], "residual": c.quantities["residual"]}
    if not c.holds:
        return Outcome.discard("C-MEM-POOL does not hold", quantities=q)
    pm = memory_posterior(mem, xs, cell)
    score = pm @ mu
    q["gamma"] = float(np.abs(score).min())
    if q["gamma"] <= GAMMA_TOL:
        return Outcome.discard("ill-posed: γ = 0 on 𝒮", quantities=q)
    w = _wit("memory_iid_witness")(mem, mu, cell)
    G = np.asarray(mask_probe(product_hmm(mem), xs))
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
        )
    return witness_vs_lp(
        xs=xs, labels=np.sign(score), features=G, head=w.b, posteriors=pm,
        quantities=q, detail=detail, what="i.i.d. memory head pinv(W̄)ᵀμ",
    )  # fmt: skip


#: memory.pool's statistical protocol (fixed seeds; named thresholds).
POOL_PROTOCOL = {
    "tau_trans": 0.3,  # ergodic chain (THEORY's premise); see the claim's statement
    "T_short": 8,
    "T_long": 256,
    "batch": 300,
    "min_accuracy_long": 0.9,
    "max_drop": 0.05,
}


@claim(
    "memory.pool",
    theorem="Theorem 4.3",
    kind="statistical",
    statement="C-MEM-POOL, ergodic chain: mean-pooled head accuracy at T_long ≥ "
    "min_accuracy_long and not below accuracy at T_short − max_drop (reference generator, "
    "m cycles 2, 3, 5, τ_trans = 0.3)",
    strategy=None,
    strategy_name="verify.reference.reference_memory_hmm(seed, m, tau_trans=0.3) + "
    "reference_memory_task(seed, m); sequences sampled with the same seed",
    oracles=("pooled_witness", "sampled accuracy vs labels sign(μᵀP[M|x])"),
    examples={"ci": 12, "dev": 40, "thorough": 200},
    thresholds=POOL_PROTOCOL,
)
def memory_pool(inst: dict) -> Outcome:
    cond = _cond()
    ref = need("verify.reference")
    seed = int(inst["seed"])
    m = (2, 3, 5)[seed % 3]
    mem = ref.reference_memory_hmm(seed, m, tau_trans=POOL_PROTOCOL["tau_trans"])
    mu = ref.task_mu(ref.reference_memory_task(seed, m))
    q = {"min_abs_mu": float(np.abs(mu).min())}
    if q["min_abs_mu"] == 0:
        return Outcome.discard("min_a |μ_a| = 0: the task has no limit label", quantities=q)
    c = cond.c_mem_pool(mem, mu, 0)
    q["residual"] = c.quantities["residual"]
    if not c.holds:
        return Outcome.discard("C-MEM-POOL does not hold for this seed", quantities=q)
    w = _wit("pooled_witness")(mem, mu, 0)
    acc = {}
    for name in ("T_short", "T_long"):
        xs, _ = mem.sample(POOL_PROTOCOL["batch"], POOL_PROTOCOL[name], seed)
        y = cond.labels(mem, mu, xs, 0)
        acc[name] = float((np.sign(w.decision_values(mem, xs)) == y).mean())
    q.update(accuracy_short=acc["T_short"], accuracy_long=acc["T_long"])
    detail = {"task": {"mu": mu.tolist(), "m": m}, "accuracy": acc, "head": w.b.tolist()}
    if acc["T_long"] < POOL_PROTOCOL["min_accuracy_long"]:
        return Outcome.failed(
            f"pooled accuracy {acc['T_long']:.3f} at T_long < {POOL_PROTOCOL['min_accuracy_long']}",
            quantities=q,
            detail=detail,
        )
    if acc["T_long"] < acc["T_short"] - POOL_PROTOCOL["max_drop"]:
        return Outcome.failed(
            f"accuracy drops from {acc['T_short']:.3f} (T_short) to {acc['T_long']:.3f}",
            quantities=q,
            detail=detail,
        )
    return Outcome.passed(quantities=q, detail=detail)


def prompt_instances() -> Any:
    """strategies.memory_instances(satisfying="C-MEM-PROMPT") (markov chain with a funnel
    state onto s0), N ∈ [1,2], m ∈ [2,3], s ∈ [2,3], T ∈ [1,3]."""
    return strategy("memory_instances")(
        n_cells=(1, 2), n_ordinary=(2, 3), satisfying="C-MEM-PROMPT", T=(1, 3)
    ).map(_mem_inst)


@claim(
    "memory.prompt",
    theorem="Theorem 4.6",
    kind="universal",
    statement="C-MEM-PROMPT ⇒ u = 1[st ∈ U] gives G(u,x) = W_{s0} P[M_j*|S_0=s0,x] and "
    "pinv(W_{s0})ᵀμ outputs μᵀP[M_j*|S_0=s0,x] (the exact step of the asymptotic claim)",
    strategy=prompt_instances,
    oracles=(
        "c_mem_prompt",
        "memory_prompt_witness",
        "conditioned posterior (own route)",
        "LP on G(u,x)",
    ),
    examples={"ci": 600, "dev": 2400, "thorough": 16000},
    thresholds={"identity_tol": IDENTITY_TOL},
)
def memory_prompt(inst: dict) -> Outcome:
    cond = _cond()
    mem, mu, cell, xs = inst["mem"], np.asarray(inst["mu"], float), inst["cell"], inst["xs"]
    c = cond.c_mem_prompt(mem, mu, cell)
    q = {"sigma_min": c.quantities["sigma_min"]}
    if not c.holds:
        return Outcome.discard("C-MEM-PROMPT does not hold", quantities=q)
    s0, U = int(c.witness["s0"]), c.witness["U"]
    w = _wit("memory_prompt_witness")(mem, mu, s0, U, cell)
    prod = product_hmm(mem)
    # own route: condition H_0 on S_0 = s0 directly (prior restricted to states (·, s0))
    s = mem.n_ordinary
    start = prod.start * (np.arange(prod.n_states) % s == s0)
    if start.sum() <= 0:
        return Outcome.discard("S_0 = s0 has probability 0 under the start law", quantities=q)
    cond_hmm = HMM(start / start.sum(), prod.transition, prod.emission)
    qx = np.asarray(posterior_h0(cond_hmm, xs)) @ mem.cell_marginalizer(cell)
    G = w.features(mem, xs)
    err_g = float(np.abs(G - qx @ mem.W_state(s0).T).max())
    err_b = float(np.abs(G @ w.b - qx @ mu).max()) / max(1.0, float(np.abs(mu).max()))
    y = cond.labels(mem, mu, xs, cell)
    q.update(identity_error=max(err_g, err_b),
             label_agreement=float((np.sign(qx @ mu) == y).mean()))  # fmt: skip
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
        )  # fmt: skip
    yq = np.sign(qx @ mu)  # the labels the prompt head recovers exactly
    q["gamma_prompted"] = float(np.abs(qx @ mu).min())
    if q["gamma_prompted"] <= GAMMA_TOL * max(1.0, float(np.abs(mu).max())):
        return Outcome.discard("ill-posed: μᵀP[M|S_0=s0,x] = 0 on 𝒮", quantities=q)
    return witness_vs_lp(
        xs=xs,
        labels=yq,
        features=G,
        head=w.b,
        posteriors=qx,
        quantities=q,
        detail={"task": {"mu": mu.tolist(), "cell": cell}, "prompt": {"s0": s0, "U": list(U)}},
        what="memory prompt head pinv(W_s0)ᵀμ",
    )


@st.composite
def vs_vanilla_instances(draw: Any) -> dict:
    """A memory instance with C-MEM-POOL (N = 1, m ∈ [2,3], s ∈ [2,3], n ∈ [2,3], so often
    k = m·s > n) and a generic vanilla HMM with the same k and n (dense transitions) with a
    balanced task; T = 3 for both (exhaustive input sets)."""
    mi = draw(
        strategy("memory_instances")(
            n_cells=1, n_values=(2, 3), n_ordinary=(2, 3), n_tokens=(2, 3),
            state_style="markov", satisfying="C-MEM-POOL", T=3,
        )
    )  # fmt: skip
    k = mi.mem.n_values * mi.mem.n_ordinary
    n = mi.mem.n_tokens
    van = draw(strategy("task_instances")(n_states=k, n_tokens=n, T=3,
                                          transition_style="dense"))  # fmt: skip
    return {**_mem_inst(mi), "hmm": van.hmm, "hmm_mu": np.asarray(van.mu, float),
            "hmm_xs": np.asarray(van.xs)}  # fmt: skip


@claim(
    "memory.vs_vanilla",
    theorem="Theorems 4.3 vs 3.3",
    kind="existential",
    statement="at equal k = m·s > n, a memory task is recovered by pooling (LP) while a "
    "vanilla HMM task with k states has no linear head (LP-certified)",
    strategy=vs_vanilla_instances,
    oracles=("LP on pooled features (memory)", "LP dual certificate (vanilla)"),
    examples={"ci": 200, "dev": 500, "thorough": 2000},
)
def memory_vs_vanilla(inst: dict) -> Outcome:
    mem, mu, cell, xs = inst["mem"], np.asarray(inst["mu"], float), inst["cell"], inst["xs"]
    hmm, hmu, hxs = inst["hmm"], np.asarray(inst["hmm_mu"], float), inst["hmm_xs"]
    k, n = hmm.n_states, hmm.n_tokens
    q = {"k": float(k), "n": float(n)}
    if k <= n:
        return Outcome.miss("k ≤ n", quantities=q)
    hp = posterior_h0(hmm, hxs)
    hy = np.sign(hp @ hmu)
    pm = memory_posterior(mem, xs, cell)
    my = np.sign(pm @ mu)
    if not (hy != 0).all() or not (my != 0).all():
        return Outcome.discard("ill-posed: γ = 0 on 𝒮", quantities=q)
    if len(set(my)) < 2:
        return Outcome.miss("memory task has one label on 𝒮", quantities=q)
    G = np.asarray(mask_probe(hmm, hxs))
    van = lp(G, hy)
    q["vanilla_lp_upper"] = float(van.certificate_residual)
    if van.status == "inconclusive":
        return Outcome.inconclusive(f"vanilla LP: {van.reason}", quantities=q)
    if van.status == "recoverable":
        return Outcome.miss("a linear head recovers the vanilla task", quantities=q)
    P = _wit("pooled_features")(mem, xs)
    pooled = lp(P, my)
    q["pooled_lp_margin"] = float(pooled.verified_margin)
    if pooled.status == "inconclusive":
        return Outcome.inconclusive(f"pooled LP: {pooled.reason}", quantities=q)
    if pooled.status != "recoverable":
        return Outcome.miss("pooling does not recover the memory task on 𝒮", quantities=q)
    supp = van.support()
    return Outcome.witness(
        f"k = {k} > n = {n}: pooling recovers the memory task (margin "
        f"{pooled.verified_margin:.2e}); no linear head recovers the vanilla task",
        quantities=q,
        detail={
            "task": {"memory_mu": mu.tolist(), "vanilla_mu": hmu.tolist(), "T": 3},
            "inputs": rows(hxs, supp, labels=hy, posteriors=hp, features=G,
                           weights=van.certificate),
            "certificate": lp_summary(van),
            "pooled_lp": lp_summary(pooled),
        },
    )  # fmt: skip
