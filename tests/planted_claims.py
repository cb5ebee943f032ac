"""User claims for the gate test, registered with the public API (``--claims-from``).

``planted.head_bug``: head tuning with the planted bug ``b = (Wᵀ)ᵀμ = Wμ`` in place of
``b* = pinv(W)ᵀμ`` (THEORY head.exact). The runner must falsify it and shrink it.
``planted.head_ok``: the same property with the correct head; it must hold, so the gate
test shows the runner tells the two apart.

The strategy is self-contained (small integer weights, so counterexamples shrink to
ratios like 1/2): emission rows with a dominant weight on token h for state h make
``W[:k]`` diagonally dominant, hence ``W`` has full column rank (C-HEAD) by construction.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

from verify.claims import Outcome, claim
from verify.inference import log_likelihood, mask_probe, posterior_h0
from verify.models import HMM

_MAX_K = 4
_state = st.fixed_dictionaries(
    {
        "mu": st.integers(-3, 3),
        "trans": st.lists(st.integers(1, 3), min_size=_MAX_K, max_size=_MAX_K),
        "emit": st.lists(st.integers(0, 3), min_size=_MAX_K + 2, max_size=_MAX_K + 2),
    }
)


@st.composite
def head_instances(draw) -> dict:
    """(hmm, mu, xs) with C-HEAD true, k ∈ [2, 4], n = k + extra tokens, xs = the possible
    inputs of [n]^T, T ≤ 2.

    States are drawn as a list of self-contained blocks, so the shrinker deletes a whole
    state and the others keep their numbers (small counterexamples, k ≤ 3).
    """
    extra = draw(st.integers(0, 2))
    states = draw(st.lists(_state, min_size=2, max_size=_MAX_K))
    T = draw(st.integers(1, 2))
    k = len(states)
    n = k + extra
    weights = np.array([b["emit"][:n] for b in states], dtype=float)
    for h in range(k):
        weights[h, h] = weights[h].sum() - weights[h, h] + 1  # dominant: W[:k] invertible
    trans = np.array([b["trans"][:k] for b in states], dtype=float)
    mu = np.array([b["mu"] for b in states], dtype=float)
    hmm = HMM(
        np.full(k, 1.0 / k),
        trans / trans.sum(1, keepdims=True),
        weights / weights.sum(1, keepdims=True),
    )
    xs = np.array(list(itertools.product(range(n), repeat=T)), dtype=np.int64)
    xs = xs[np.isfinite(log_likelihood(hmm, xs))]  # tokens no state emits are impossible
    return {"hmm": hmm, "mu": mu, "xs": xs}


def _check_head(instance: dict, head) -> Outcome:
    hmm, mu, xs = instance["hmm"], np.asarray(instance["mu"]), np.asarray(instance["xs"])
    p = posterior_h0(hmm, xs)
    score = p @ mu
    gamma = float(np.abs(score).min())
    q = {"gamma": gamma, "k": hmm.n_states}
    if gamma <= 1e-9:
        return Outcome.discard("ill-posed: margin γ = 0 on the input set", quantities=q)
    b = head(hmm.W, mu)
    out = mask_probe(hmm, xs) @ b
    wrong = np.flatnonzero(np.sign(out) != np.sign(score))
    if wrong.size:
        rows = [
            {
                "x": xs[i].tolist(),
                "label": int(np.sign(score[i])),
                "posterior": p[i].tolist(),
                "head_output": float(out[i]),
            }
            for i in wrong[:5]
        ]
        return Outcome.failed(
            f"head misclassifies {wrong.size} of {len(xs)} inputs",
            quantities=q,
            detail={"task": {"mu": mu.tolist()}, "inputs": rows, "head": b.tolist()},
        )
    return Outcome.passed(quantities=q)


@claim(
    "planted.head_bug",
    theorem="Theorem 3.3 (planted bug)",
    kind="universal",
    statement="the head b = Wμ (bug: Wᵀ for pinv(W)) recovers every C-HEAD task",
    strategy=head_instances,
    strategy_name="tests.planted_claims.head_instances",
    oracles=("witness",),
    examples={"ci": 200, "dev": 500, "thorough": 5000},
)
def head_bug(instance: dict) -> Outcome:
    return _check_head(instance, lambda W, mu: W @ mu)


@claim(
    "planted.head_ok",
    theorem="Theorem 3.3",
    kind="universal",
    statement="the head b* = pinv(W)ᵀμ recovers every C-HEAD task",
    strategy=head_instances,
    strategy_name="tests.planted_claims.head_instances",
    oracles=("witness",),
    examples={"ci": 40, "dev": 200, "thorough": 2000},
)
def head_ok(instance: dict) -> Outcome:
    return _check_head(instance, lambda W, mu: np.linalg.pinv(W).T @ mu)
