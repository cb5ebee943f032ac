"""Independent reference: every oracle output by explicit enumeration of hidden paths.

Exponential in T; only for tiny models (k ≤ 3, n ≤ 3, T ≤ 4, L ≤ 2). Written from the
definitions in THEORY §1–§2, sharing no code with ``verify.inference``.
"""

import itertools

import numpy as np


def window_paths(start, A, E, x, prompt=()):
    """Yield (path, weight) over hidden paths of the window [z_1..z_L] [MASK] x_1..x_T.

    path[L] is H_0 (the masked slot); weight = P(path, z, x) excluding the mask's token.
    """
    k = len(start)
    L, T = len(prompt), len(x)
    for path in itertools.product(range(k), repeat=L + 1 + T):
        w = start[path[0]]
        for i in range(1, len(path)):
            w *= A[path[i - 1], path[i]]
        for l, u in enumerate(prompt):
            w *= u[path[l]]
        for t, tok in enumerate(x):
            w *= E[path[L + 1 + t], tok]
        yield path, w


def posterior_h0(start, A, E, x, prompt=()):
    k = len(start)
    post = np.zeros(k)
    for path, w in window_paths(start, A, E, x, prompt):
        post[path[len(prompt)]] += w
    return post / post.sum()


def mask_probe(start, A, E, x, prompt=()):
    return posterior_h0(start, A, E, x, prompt) @ E


def likelihood_input_alone(start, A, E, x):
    total = 0.0
    for path in itertools.product(range(len(start)), repeat=len(x)):
        w = start[path[0]] * E[path[0], x[0]]
        for t in range(1, len(x)):
            w *= A[path[t - 1], path[t]] * E[path[t], x[t]]
        total += w
    return total


def smoothed(start, A, E, x):
    k, T = len(start), len(x)
    out = np.zeros((T, k))
    for path in itertools.product(range(k), repeat=T):
        w = start[path[0]] * E[path[0], x[0]]
        for t in range(1, T):
            w *= A[path[t - 1], path[t]] * E[path[t], x[t]]
        for t in range(T):
            out[t, path[t]] += w
    return out / out.sum(axis=1, keepdims=True)


def loo(start, A, E, x):
    n = E.shape[1]
    out = np.zeros((len(x), n))
    for i in range(len(x)):
        for v in range(n):
            y = list(x)
            y[i] = v
            out[i, v] = likelihood_input_alone(start, A, E, y)
    return out / out.sum(axis=1, keepdims=True)


def memory_posterior(mem, x, cell):
    """P[M_cell | x] from the memory model's own definition (THEORY §1.3), not as_hmm()."""
    N, m = mem.memory_prior.shape
    s = mem.n_ordinary
    post = np.zeros(m)
    for M in itertools.product(range(m), repeat=N):
        prior = np.prod([mem.memory_prior[j, M[j]] for j in range(N)])
        for path in itertools.product(range(s), repeat=len(x) + 1):
            w = prior * mem.state_start[path[0]]
            for t in range(1, len(path)):
                st = path[t]
                w *= mem.state_transition[path[t - 1], st]
                w *= mem.emission[M[mem.pointer[st]] * s + st, x[t - 1]]
            post[M[cell]] += w
    return post / post.sum()
