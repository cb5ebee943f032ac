"""User claims for the gate test, registered with the public API (``--claims-from``).

``planted.head_bug``: head tuning with the planted bug ``b = (Wᵀ)ᵀμ = Wμ`` in place of
``b* = pinv(W)ᵀμ`` (THEORY head.exact). The runner must falsify it and shrink it.
``planted.head_ok``: the same property with the correct head; it must hold, so the gate
test shows the runner tells the two apart.

The strategy is self-contained (small integer weights, so counterexamples shrink to
ratios like 1/2) and built for shrinking: see :func:`head_instances`.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

from verify.claims import Outcome, claim
from verify.core.inference import log_likelihood, mask_probe, posterior_h0
from verify.core.models import HMM

_MAX_K = 4
_MAX_N = 5


def _state(n: int):
    return st.fixed_dictionaries(
        {
            "home": st.integers(0, n - 1),  # this state's dominant token (distinct per state)
            "mu": st.integers(-3, 3),
            "pop": st.integers(1, 3),  # A[h, j] ∝ pop_j + stay_j·[h = j]
            "stay": st.integers(0, 3),
            "emit": st.lists(st.integers(0, 3), min_size=n, max_size=n),
        }
    )


@st.composite
def head_instances(draw) -> dict:
    """(hmm, mu, xs) with C-HEAD by construction: n ∈ [2, 5] tokens, k ∈ [2, min(n, 4)]
    states with distinct home tokens whose emission weight exceeds the rest of the row
    (``E[:, homes]`` is strictly diagonally dominant, so W has full column rank);
    xs = the possible inputs of [n]^T, T ≤ 2.

    Every state is one self-contained block (home token, μ entry, emission row, its column
    of the transition ``A[h, j] ∝ pop_j + stay_j·[h = j]``), so deleting a block deletes
    exactly that state and the others keep their numbers: the shrinker removes states one
    by one and counterexamples come out with k ≤ 3.
    """
    n = draw(st.integers(2, _MAX_N))
    states = draw(
        st.lists(_state(n), min_size=2, max_size=min(_MAX_K, n), unique_by=lambda b: b["home"])
    )
    T = draw(st.integers(1, 2))
    k = len(states)
    emission = np.array([b["emit"] for b in states], dtype=float)
    for h, b in enumerate(states):
        emission[h, b["home"]] = emission[h].sum() - emission[h, b["home"]] + 1
    pop = np.array([b["pop"] for b in states], dtype=float)
    trans = pop[None, :] + np.diag([float(b["stay"]) for b in states])
    mu = np.array([b["mu"] for b in states], dtype=float)
    hmm = HMM(
        np.full(k, 1.0 / k),
        trans / trans.sum(1, keepdims=True),
        emission / emission.sum(1, keepdims=True),
    )
    xs = np.array(list(itertools.product(range(n), repeat=T)), dtype=np.int64)
    xs = xs[np.isfinite(log_likelihood(hmm, xs))]  # tokens no state emits are impossible
    return {"hmm": hmm, "mu": mu, "xs": xs}


def _check_head(instance: dict, head) -> Outcome:
    hmm, mu, xs = instance["hmm"], np.asarray(instance["mu"]), np.asarray(instance["xs"])
    p = posterior_h0(hmm, xs)
    score = p @ mu
    gamma = float(np.abs(score).min())
    sigma = float(np.linalg.svd(hmm.W, compute_uv=False)[-1])
    q = {"gamma": gamma, "k": hmm.n_states, "sigma_min": sigma}
    if sigma < 1e-8:  # cannot happen by construction; never counted as a pass
        return Outcome.discard("C-HEAD fails", quantities=q)
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
    examples={"ci": 60, "dev": 400, "thorough": 4000},
)
def head_ok(instance: dict) -> Outcome:
    return _check_head(instance, lambda W, mu: np.linalg.pinv(W).T @ mu)
