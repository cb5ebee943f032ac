"""The two independent routes the prompt claims (THEORY §5) are checked by: the reversed
chain ``R`` and ``v`` from the definition, and the brute-force enumeration of every prompt
set U (C-PROMPT(μ) decided without ``conditions.c_prompt``). Their instances and generators
are in :mod:`strategies.prompt_claims`."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from verify.core.models import HMM


def reversed_chain(hmm: HMM) -> np.ndarray:
    """``R[h, h'] = π[h'] A[h', h] / π[h]`` (k, k) from the definition, π = ``hmm.start``
    (stationary in prompt claims); rows of states with π[h] = 0 are left zero: such a
    state has ``p_h(x) = 0`` for every x, so its v never enters a probe."""
    pi = np.asarray(hmm.start, float)
    joint = (pi[:, None] * hmm.transition).T  # joint[h, h'] = π[h'] A[h', h]
    out = np.zeros_like(joint)
    alive = pi > 0
    out[alive] = joint[alive] / pi[alive, None]
    return out


def prompt_v(hmm: HMM, prompt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(w_L, v)`` for prompt (L, k): ``w_1 = u_1``, ``w_l = u_l ⊙ (R w_{l−1})``,
    ``v = R w_L`` (THEORY §2), by :func:`reversed_chain`."""
    R = reversed_chain(hmm)
    w = np.asarray(prompt[0], float)
    for u in prompt[1:]:
        w = u * (R @ w)
    return w, R @ w


def brute_force_supports(hmm: HMM, mu: np.ndarray) -> list[tuple[int, ...]]:
    """Every support S(U) (U ⊆ [k] non-empty, prompt states with π > 0) that covers the
    effective supp(μ) (π_h > 0) with ``W[:, S]`` of full column rank (numpy
    ``matrix_rank``): C-PROMPT(μ) holds iff the list is non-empty. Enumerates all 2^k − 1
    sets U, sharing no code with ``conditions.c_prompt``'s pruned search."""
    k = hmm.n_states
    pi = np.asarray(hmm.start, float)
    A = hmm.transition
    need_ = {int(h) for h in np.flatnonzero((mu != 0) & (pi > 0))}
    seen: set[tuple[int, ...]] = set()
    out = []
    for r in range(1, k + 1):
        for U in combinations(range(k), r):
            S = tuple(int(h) for h in range(k) if any(pi[g] > 0 and A[g, h] > 0 for g in U))
            if not S or S in seen:
                continue
            seen.add(S)
            if need_ <= set(S) and np.linalg.matrix_rank(hmm.W[:, list(S)]) == len(S):
                out.append(S)
    return out
