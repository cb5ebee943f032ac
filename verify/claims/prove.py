"""Per-claim deciders of ``ptverify prove``: every instance of a bounded scope decided
exactly (rationals, :mod:`verify.crosscheck`) and the float route users run
(:mod:`verify.core.inference`, :mod:`verify.core.conditions`, :mod:`verify.recovery`, and for the
existential claims the registered check itself: LP + certificate) compared against it.

An *instance* is ``(model, T, μ)`` with 𝒮 = every x ∈ [n]^T with ``P(x) > 0`` (inputs of
probability 0 never occur, and their posterior is undefined). Each decider updates a
:class:`Tally` per claim; the harness merges tallies of chunks. Keys order instances as
THEORY's smallest counterexample wants: ``(k, n, T, den, model index, μ index)``.

Float-vs-exact comparisons (any difference is a *disagreement*, and fails ``prove``):
posteriors entrywise within POSTERIOR_TOL; labels ``sign μᵀp(x)`` equal wherever the exact
score is non-zero; the float route's ill-posedness test (γ ≤ the task module's
``float_error_bound``) equal to exact γ = 0; conditions' ``holds`` equal to the exact
rank/solvability; witness heads' decision values within IDENTITY_TOL of the exact target
(relative to ``max(1, ‖μ‖∞)``); the
registered existential checks' witness/miss equal to the exact separability decision.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from fractions import Fraction
from functools import partial

import numpy as np

from verify import crosscheck as exact
from verify.core import conditions
from verify.core.inference import memory_posterior, prompted_mask_probe
from verify.crosscheck.linalg import rank
from verify.crosscheck.scope import Cell, MemCell, inputs, tasks
from verify.recovery import witnesses

from ._prove_support import (
    POSTERIOR_TOL,
    MemModel,
    Model,
    Tally,
    _both,
    _cert,
    _float_identity,
    _identity,
    _ill_posed,
    _scores,
    separable,
)
from .registry import get, to_jsonable

#: Claims ``prove`` cannot express in a finite rational scope, and why.
NOT_EXPRESSIBLE = {
    "head.robust": "quantifies over every Ĝ within ε of G (a continuum); its worst case is "
    "the Hölder bound itself, so its finite content is head.exact's identity",
    "prompt.robust": "quantifies over real prompt weights u ≥ 0 and target sets S; not "
    "enumerated in this version",
    "prompt.multi_token_start": "existential over real two-slot prompts; not enumerated in "
    "this version",
    "prompt.trained": "trains a torch head: not an exact statement",
    "memory.pool": "asymptotic (T → ∞): no finite T decides a limit",
    "memory.prompt": "memory models are not enumerated in this version",
    "memory.prompt_limit": "asymptotic (T → ∞): no finite T decides a limit",
    "memory.vs_vanilla": "statistical comparison on the reference generator",
    "memory.attention": "trains a torch attention head: not an exact statement",
}


# --------------------------------------------------------------------------- deciders


def head_exact(m: Model, Ts: tuple[int, ...], t: Tally) -> None:
    """C-HEAD ⇒ b* = pinv(W)ᵀμ gives b*ᵀG(x) = μᵀp(x) on 𝒮."""
    ex_holds, fl_holds = m.c_head()
    for T in Ts:
        for mi, mu in enumerate(tasks(m.k)):
            t.instances += 1
            key = m.key(T, mi)
            if ex_holds != fl_holds:
                t.disagree(
                    key, f"c_head says {fl_holds}, exact rank says {ex_holds}", m.instance(T, mu)
                )
                continue
            if not ex_holds:
                t.premise_false += 1
                continue
            sig, score, why = _scores(m, T, mu)
            if _ill_posed(t, sig, why, key, partial(m.instance, T, mu)):
                continue
            c = m.at(T)
            b = m.c_head_mu(mu)[0].witness.get("b")
            G = m.G(T)
            if b is None or not _identity(G, b, score):
                t.fail(key, "b*ᵀG(x) ≠ μᵀp(x) exactly (C-HEAD holds)", m.instance(T, mu))
                continue
            t.passed += 1
            t.exercised += _both(sig)
            fv = witnesses.head_witness(m.float, np.asarray(mu, float)).decision_values(
                m.float, c["xs"]
            )
            why = why or _float_identity(fv, score, sig, mu)
            if why:
                t.disagree(key, why, m.instance(T, mu))


def head_rowspace(m: Model, Ts: tuple[int, ...], t: Tally) -> None:
    """C-HEAD(μ) (and not C-HEAD) ⇒ a solution of Wᵀb = μ gives bᵀG(x) = μᵀp(x) on 𝒮."""
    ex_head, _ = m.c_head()
    for mi, mu in enumerate(tasks(m.k)):
        cond, fl = m.c_head_mu(mu)
        for T in Ts:
            t.instances += 1
            key = m.key(T, mi)
            if fl != cond.holds:
                t.disagree(
                    key,
                    f"c_head_mu says {fl}, exact solvability says {cond.holds}",
                    m.instance(T, mu),
                )
                continue
            if ex_head or not cond.holds:
                t.premise_false += 1
                continue
            sig, score, why = _scores(m, T, mu)
            if _ill_posed(t, sig, why, key, partial(m.instance, T, mu)):
                continue
            c = m.at(T)
            G = m.G(T)
            if not _identity(G, cond.witness["b"], score):
                t.fail(key, "bᵀG(x) ≠ μᵀp(x) exactly for Wᵀb = μ", m.instance(T, mu))
                continue
            t.passed += 1
            t.exercised += _both(sig)
            w = witnesses.rowspace_head_witness(m.float, np.asarray(mu, float))
            why = why or _float_identity(w.decision_values(m.float, c["xs"]), score, sig, mu)
            if why:
                t.disagree(key, why, m.instance(T, mu))


def _float_existential(claim_id: str, inst: dict, exact_witness: bool) -> str:
    """Run the registered check (the float route: LP + its certificate) on ``inst``;
    '' when it agrees with the exact decision, else what differs."""
    from .registry import from_jsonable

    out = get(claim_id).check(from_jsonable(inst))
    if out.status == "inconclusive":
        return "inconclusive"
    if (out.status == "witness") != exact_witness:
        return f"the registered check says {out.status}: {out.message}"
    return ""


def _candidate(
    t: Tally, claim_id: str, key: tuple, inst: dict, cert: dict | None, why: str
) -> None:
    """Tally a searched candidate of an existential claim, a witness exactly when it has a
    certificate ``cert``: the float route against that decision (``why`` from
    :func:`_scores`, else the registered check: a disagreement, or inconclusive) and, with
    no certificate, a miss."""
    why = why or _float_existential(claim_id, inst, cert is not None)
    if why == "inconclusive":
        t.inconclusive += 1
    elif why:
        t.disagree(key, why, inst)
    if cert is None:
        t.misses += 1


def head_necessary(m: Model, Ts: tuple[int, ...], t: Tally) -> None:
    """Existential: C-HEAD(μ) fails and no linear head recovers the labels on 𝒮 (exact
    separability). Candidates after the chunk's smallest witness are skipped."""
    for T in Ts:
        for mi, mu in enumerate(tasks(m.k)):
            t.instances += 1
            key = m.key(T, mi)
            if t.first_witness is not None and key > tuple(t.first_witness[0]):
                continue
            if m.c_head_mu(mu)[0].holds:
                t.premise_false += 1
                continue
            sig, _, why = _scores(m, T, mu)
            if _ill_posed(t, sig, why, key, partial(m.instance, T, mu)):
                continue
            if not _both(sig):
                t.premise_false += 1  # one label: a constant head recovers
                continue
            t.searched += 1
            G = m.G(T)
            cert = _cert(m, T, sig, G, mu)
            inst = m.instance(T, mu)
            _candidate(t, "head.necessary", key, inst, cert, why)
            if cert is None:
                continue
            t.record(
                "first_witness",
                key,
                "C-HEAD(μ) fails and no linear head recovers (exact certificate Σλ y G(x) = 0)",
                inst,
                cert,
            )


def _prompt_ok(m: Model) -> bool:
    return m.is_stationary


def prompt_exact(m: Model, Ts: tuple[int, ...], t: Tally) -> None:
    """Stationary start, C-PROMPT(μ) ⇒ u = 1_U and b on S give bᵀG(u,x) = μᵀp(x)/(vᵀp(x))."""
    for mi, mu in enumerate(tasks(m.k)):
        if not _prompt_ok(m):
            t.instances += len(Ts)
            t.premise_false += len(Ts)
            continue
        cond, fl = m.c_prompt(mu)
        for T in Ts:
            t.instances += 1
            key = m.key(T, mi)
            if fl.holds != cond.holds:
                t.disagree(
                    key,
                    f"c_prompt says {fl.holds}, exact search says {cond.holds}",
                    m.instance(T, mu),
                )
                continue
            if not cond.holds:
                t.premise_false += 1
                continue
            sig, score, why = _scores(m, T, mu)
            c = m.at(T)
            U, v, b = cond.witness["U"], cond.witness["v"], cond.witness["b"]
            pv = c["post"].dot(v)
            if any(x == 0 for x in pv):
                t.discard("the prompt has probability 0 on an input of 𝒮")
                continue
            if _ill_posed(t, sig, why, key, partial(m.instance, T, mu)):
                continue
            u = [[1 if h in U else 0 for h in range(m.k)]]
            Gu = exact.prompted_mask_probe(m.exact, c["xs"], u).fractions()
            target = [s / p for s, p in zip(score, pv, strict=True)]
            if not _identity(Gu, b, target):
                t.fail(key, "bᵀG(u,x) ≠ μᵀp(x)/(vᵀp(x)) exactly", m.instance(T, mu))
                continue
            t.passed += 1
            t.exercised += _both(sig) and len(cond.witness["S"]) < m.k
            if not why and tuple(fl.witness.get("U", ())) == tuple(U):
                w = witnesses.prompt_witness(m.float, np.asarray(mu, float), U)
                why = _float_identity(w.decision_values(m.float, c["xs"]), target, sig, mu)
            if why:
                t.disagree(key, why, m.instance(T, mu))


def prompt_weaker(m: Model, Ts: tuple[int, ...], t: Tally, part_a: Tally) -> None:
    """(a) C-HEAD ∧ π > 0 ⇒ C-PROMPT(μ) (universal, tallied in ``part_a``, once per μ);
    (b) existential: C-PROMPT(μ), the prompt witness recovers, no linear head does."""
    if not _prompt_ok(m):
        n = len(tasks(m.k))
        part_a.instances += n
        part_a.premise_false += n
        t.instances += n * len(Ts)
        t.premise_false += n * len(Ts)
        return
    ex_head, _ = m.c_head()
    positive = all(p > 0 for p in m.exact.start)
    for mi, mu in enumerate(tasks(m.k)):
        cond, flc = m.c_prompt(mu)
        fl = flc.holds
        key0 = m.key(Ts[0], mi)
        part_a.instances += 1
        if fl != cond.holds:
            part_a.disagree(
                key0, f"c_prompt says {fl}, exact search says {cond.holds}", m.instance(Ts[0], mu)
            )
        if not (ex_head and positive):
            part_a.premise_false += 1
        elif cond.holds:
            part_a.passed += 1
            part_a.exercised += 1
        else:
            part_a.fail(key0, "C-HEAD holds, π > 0, C-PROMPT(μ) fails", m.instance(Ts[0], mu))
        for T in Ts:
            t.instances += 1
            key = m.key(T, mi)
            if t.first_witness is not None and key > tuple(t.first_witness[0]):
                continue
            if not cond.holds:
                t.premise_false += 1
                continue
            sig, _, why = _scores(m, T, mu)
            c = m.at(T)
            if any(x == 0 for x in c["post"].dot(cond.witness["v"])):
                t.discard("the prompt has probability 0 on an input of 𝒮")
                continue
            if _ill_posed(t, sig, why, key, partial(m.instance, T, mu)):
                continue
            if not _both(sig):
                t.premise_false += 1
                continue
            t.searched += 1
            # prompt.exact's identity gives sign bᵀG(u,x) = sign μᵀp(x): the witness recovers
            G = m.G(T)
            cert = _cert(m, T, sig, G, mu)
            inst = m.instance(T, mu)
            inst = {"head_hmm": inst["hmm"], "head_mu": inst["mu"], **inst}
            _candidate(t, "prompt.weaker", key, inst, cert, why)
            if cert is None:
                continue
            cert["prompt"] = {
                "U": list(cond.witness["U"]),
                "S": list(cond.witness["S"]),
                "b": [str(v) for v in cond.witness["b"]],
            }
            t.record(
                "first_witness",
                key,
                f"prompt U={list(cond.witness['U'])} recovers "
                "every label; no linear head does (exact certificate)",
                inst,
                cert,
            )


def prompt_multi_token(m: Model, Ts: tuple[int, ...], t: Tally) -> None:
    """Stationary start: for L = 2 and u_1, u_2 ∈ {0, 1}^k \\ {0}, the two-slot probe equals
    the one-slot probe of w_2 = u_2 ⊙ (R u_1), exactly, and the float forward route agrees."""
    k = m.k
    prompts = [u for u in itertools.product((0, 1), repeat=k) if any(u)]
    if not _prompt_ok(m):
        t.instances += len(prompts) ** 2 * len(Ts)
        t.premise_false += len(prompts) ** 2 * len(Ts)
        return
    R = exact.reversed_transition(m.exact)
    for T in Ts:
        xs = m.at(T)["xs"]
        for pi, (u1, u2) in enumerate(itertools.product(prompts, prompts)):
            t.instances += 1
            key = m.key(T, pi)
            Ru = [sum((R[h][g] * u1[g] for g in range(k)), Fraction(0)) for h in range(k)]
            w = [u2[h] * Ru[h] for h in range(k)]
            try:
                two = exact.prompted_mask_probe(m.exact, xs, [list(u1), list(u2)])
            except ValueError:  # the prompt has probability 0 (or an input given it)
                t.discard("the prompt has probability 0 on an input of 𝒮")
                continue
            one = exact.prompted_mask_probe(m.exact, xs, [w])
            inst = to_jsonable({"hmm": m.float, "xs": xs, "prompt": np.array([u1, u2], float)})
            if not np.array_equal(two.fractions(), one.fractions()):
                t.fail(key, "G(u_1 u_2, x) ≠ G(w_2, x) exactly", inst)
                continue
            t.passed += 1
            t.exercised += 1
            fl = prompted_mask_probe(m.float, xs, np.array([u1, u2], float))
            err = float(np.abs(fl - two.to_float()).max())
            if err > POSTERIOR_TOL:
                t.disagree(
                    key, f"float two-slot probe differs from the exact one by {err:.3e}", inst
                )


def memory_iid_exact(m: MemModel, Ts: tuple[int, ...], t: Tally) -> None:
    """N = 1, i.i.d. states, W̄ full column rank ⇒ G(x) = W̄ P[M|x] exactly, and
    b = pinv(W̄)ᵀμ gives bᵀG(x) = μᵀP[M|x]; the float posteriors, C-MEM-POOL and
    witnesses.memory_iid_witness agree."""
    mv = m.cell.m
    full = rank(m.wbar, mv) == mv
    for T in Ts:
        xs_all = inputs(m.cell.n, T)
        lik = exact.likelihood(m.exact, xs_all)
        xs = xs_all[np.array([v > 0 for v in lik], dtype=bool)]
        pm = exact.memory_posterior(m.exact, xs, 0)
        pmq = pm.fractions()
        G = None
        try:
            pf = memory_posterior(m.float, xs, 0)
            post_why = (
                ""
                if float(np.abs(pf - pm.to_float()).max()) <= POSTERIOR_TOL
                else "float memory_posterior differs from the exact one"
            )
        except ValueError as exc:
            pf, post_why = None, f"float memory_posterior raised {type(exc).__name__}: {exc}"
        for mi, mu in enumerate(tasks(mv)):
            t.instances += 1
            key = m.key(T, mi)
            if not full:
                t.premise_false += 1
                continue
            num = pm.num @ np.array(mu, dtype=object)
            score = [Fraction(int(a), int(d)) for a, d in zip(num, pm.den, strict=True)]
            sig = np.array([(v > 0) - (v < 0) for v in score], dtype=np.int64)
            if _ill_posed(t, sig):
                continue
            if G is None:
                G = exact.mask_probe(m.exact, xs).fractions()
                g_ok = all(
                    G[i][x] == sum((m.wbar[x][a] * pmq[i][a] for a in range(mv)), Fraction(0))
                    for i in range(len(xs))
                    for x in range(m.cell.n)
                )
            b = exact.memory_iid_witness(m.exact, mu)
            if not g_ok or b is None or not _identity(G, b, score):
                t.fail(
                    key,
                    "G(x) ≠ W̄ P[M|x] or bᵀG(x) ≠ μᵀP[M|x] exactly",
                    m.instance(T, mu, xs),
                )
                continue
            t.passed += 1
            t.exercised += _both(sig)
            why = post_why
            if not why and np.any(np.sign(pf @ np.asarray(mu, float)) != sig):
                why = "float labels sign(μᵀP[M|x]) differ from the exact ones"
            if not why and not conditions.c_mem_pool(m.float, np.asarray(mu, float), 0).holds:
                why = "c_mem_pool says C-MEM-POOL fails; W̄ has full rank exactly"
            if not why:
                w = witnesses.memory_iid_witness(m.float, np.asarray(mu, float), 0)
                why = _float_identity(w.decision_values(m.float, xs), score, sig, mu)
            if why:
                t.disagree(key, why, m.instance(T, mu, xs))


#: Claim ID → (decider, kind as proved here). prompt.weaker's (a) part is its own tally.
DECIDERS: dict[str, tuple[Callable[..., None], str]] = {
    "head.exact": (head_exact, "universal"),
    "head.rowspace": (head_rowspace, "universal"),
    "head.necessary": (head_necessary, "existential"),
    "prompt.exact": (prompt_exact, "universal"),
    "prompt.weaker": (prompt_weaker, "existential"),
    "prompt.multi_token": (prompt_multi_token, "universal"),
    "memory.iid_exact": (memory_iid_exact, "universal"),
}
#: Claims decided on memory cells (the rest on HMM cells).
MEMORY_CLAIMS = ("memory.iid_exact",)
#: prompt.weaker's universal part (a) is tallied under this name.
WEAKER_A = "prompt.weaker(a)"


def decide_chunk(
    cell: Cell | MemCell, lo: int, hi: int, Ts: tuple[int, ...], claim_ids: list[str]
) -> dict:
    """Decide every canonical model of ``cell`` with index in [lo, hi) for ``claim_ids``;
    returns ``{"models", "orbits", "stationary_orbits", "tallies": {id: Tally dict}}``."""
    if isinstance(cell, MemCell):
        return _decide_memory_chunk(cell, lo, hi, Ts, claim_ids)
    every = list(claim_ids)  # memory claims get empty tallies on HMM cells
    claim_ids = [c for c in claim_ids if c not in MEMORY_CLAIMS]
    idx = np.arange(lo, hi, dtype=np.int64)
    can = cell.canonical(idx)
    start, A, E = cell.decode(idx[can])
    tallies = {cid: Tally() for cid in every}
    if "prompt.weaker" in claim_ids:
        tallies[WEAKER_A] = Tally()
    seconds = dict.fromkeys(every, 0.0)
    n_stat = 0
    for i, j in enumerate(idx[can]):
        m = Model(cell, int(j), start[i], A[i], E[i])
        n_stat += m.is_stationary
        for cid in claim_ids:
            fn, _ = DECIDERS[cid]
            t0 = time.perf_counter()
            try:
                if cid == "prompt.weaker":
                    fn(m, Ts, tallies[cid], tallies[WEAKER_A])
                else:
                    fn(m, Ts, tallies[cid])
            except ValueError as exc:  # a route refused a well-formed scope model: a bug
                tallies[cid].disagree(
                    m.key(Ts[0], 0),
                    f"raised {type(exc).__name__}: {str(exc)[:300]}",
                    m.instance(Ts[0], tasks(m.k)[0]),
                )
            seconds[cid] += time.perf_counter() - t0
    return {
        "models": int(hi - lo),
        "orbits": int(can.sum()),
        "stationary_orbits": int(n_stat),
        "seconds": seconds,
        "tallies": {cid: t.to_dict() for cid, t in tallies.items()},
    }


def _decide_memory_chunk(
    cell: MemCell, lo: int, hi: int, Ts: tuple[int, ...], claim_ids: list[str]
) -> dict:
    ids = [c for c in claim_ids if c in MEMORY_CLAIMS]
    tallies = {cid: Tally() for cid in claim_ids}  # HMM claims: empty on memory cells
    if "prompt.weaker" in claim_ids:
        tallies[WEAKER_A] = Tally()
    seconds = dict.fromkeys(claim_ids, 0.0)
    prior, pi, E = cell.decode(np.arange(lo, hi, dtype=np.int64))
    for i in range(hi - lo):
        m = MemModel(cell, lo + i, prior[i], pi[i], E[i])
        for cid in ids:
            t0 = time.perf_counter()
            try:
                DECIDERS[cid][0](m, Ts, tallies[cid])
            except ValueError as exc:
                tallies[cid].disagree(
                    m.key(Ts[0], 0),
                    f"raised {type(exc).__name__}: {str(exc)[:300]}",
                    {"memory model": m.idx},
                )
            seconds[cid] += time.perf_counter() - t0
    return {
        "models": int(hi - lo),
        "orbits": int(hi - lo),
        "stationary_orbits": 0,
        "seconds": seconds,
        "tallies": {cid: t.to_dict() for cid, t in tallies.items()},
    }


__all__ = [
    "DECIDERS",
    "NOT_EXPRESSIBLE",
    "POSTERIOR_TOL",
    "WEAKER_A",
    "Model",
    "Tally",
    "decide_chunk",
    "separable",
]
