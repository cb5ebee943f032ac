"""The exact route (``verify.crosscheck``) on claim-sized instances: per-instance cost of each
oracle output, as a ratio to the float route (``verify.core.inference``) on the same inputs,
and of the log-space route at T = 10⁴. Exhaustive input sets ``[n]^T``; models with
integer weights ≤ 4 (as the strategies build them).

Printed, never asserted: speed is not a unit test.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np

from verify import crosscheck as exact
from verify.core import inference
from verify.core.models import HMM, MemoryHMM

#: (k, n, T) of vanilla HMMs: typical claims (k ≤ 4, T ≤ 3) up to the largest exhaustive
#: sets a claim may use (k = 8, a few thousand inputs).
HMM_SIZES = ((4, 5, 3), (8, 3, 6), (8, 5, 5))
#: (N, m, s, n, T) of memory models (product states m**N · s).
MEMORY_SIZES = ((1, 3, 3, 6, 3), (2, 3, 3, 6, 3), (2, 3, 4, 4, 4))


def _rows(rng: np.random.Generator, r: int, c: int) -> np.ndarray:
    w = rng.integers(0, 5, (r, c)).astype(float)
    w[np.arange(r), rng.integers(0, c, r)] += 1.0  # no all-zero row
    return w / w.sum(axis=1, keepdims=True)


def _time(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _report(
    label: str, pairs: list[tuple[str, Callable[[], object], Callable[[], object]]], reps: int
) -> None:
    print(label)
    for name, fast, slow in pairs:
        t_float, t_exact = _time(fast, reps), _time(slow, reps)
        print(f"  {name:20s} exact {t_exact * 1e3:9.2f} ms   float {t_float * 1e3:8.2f} ms   "
              f"ratio {t_exact / t_float:7.1f}x")  # fmt: skip


def _hmm_pairs(hmm: HMM, ex: exact.RationalHMM, xs: np.ndarray) -> list:
    u = [[1] * hmm.n_states]
    return [
        # baseline: one float posterior pass, what the conversion adds to
        ("rational_model", lambda: inference.posterior_h0(hmm, xs),
         lambda: exact.rational_model(hmm)),
        ("posterior_h0", lambda: inference.posterior_h0(hmm, xs),
         lambda: exact.posterior_h0(ex, xs).to_float()),
        ("mask_probe", lambda: inference.mask_probe(hmm, xs),
         lambda: exact.mask_probe(ex, xs).to_float()),
        ("prompted_mask_probe", lambda: inference.prompted_mask_probe(hmm, xs, u),
         lambda: exact.prompted_mask_probe(ex, xs, u).to_float()),
        ("loo_conditionals", lambda: inference.loo_conditionals(hmm, xs),
         lambda: exact.loo_conditionals(ex, xs).to_float()),
    ]  # fmt: skip


def _memory_pairs(mem: MemoryHMM, ex: exact.RationalMemoryHMM, xs: np.ndarray) -> list:
    return [
        ("memory_posterior", lambda: inference.memory_posterior(mem, xs, 0),
         lambda: exact.memory_posterior(ex, xs, 0).to_float()),
        ("loo_conditionals", lambda: inference.loo_conditionals(mem, xs),
         lambda: exact.loo_conditionals(ex, xs).to_float()),
    ]  # fmt: skip


def _all_inputs(model: HMM | MemoryHMM, n: int, T: int) -> np.ndarray:
    xs = np.array(list(itertools.product(range(n), repeat=T)))
    return xs[np.isfinite(inference.log_likelihood(model, xs))]


def run(quick: bool = False) -> None:
    rng = np.random.default_rng(0)
    reps = 1 if quick else 3
    for k, n, T in HMM_SIZES[:1] if quick else HMM_SIZES:
        hmm = HMM(_rows(rng, 1, k)[0], _rows(rng, k, k), _rows(rng, k, n))
        xs = _all_inputs(hmm, n, T)
        pairs = _hmm_pairs(hmm, exact.rational_model(hmm), xs)
        _report(f"bench exact: HMM k={k} n={n} T={T}, {len(xs)} inputs", pairs, reps)
    for N, m, s, n, T in MEMORY_SIZES[:1] if quick else MEMORY_SIZES:
        mem = MemoryHMM(_rows(rng, N, m), _rows(rng, 1, s)[0], _rows(rng, s, s),
                        rng.integers(0, N, s), _rows(rng, m * s, n))  # fmt: skip
        xs = _all_inputs(mem, n, T)
        pairs = _memory_pairs(mem, exact.rational_model(mem), xs)
        label = f"memory N={N} m={m} s={s} n={n} T={T} ({m**N * s} product states)"
        _report(f"bench exact: {label}, {len(xs)} inputs", pairs, reps)
    hmm = HMM(_rows(rng, 1, 4)[0], _rows(rng, 4, 4), _rows(rng, 4, 3))
    xs, _ = hmm.sample(2, 1000 if quick else 10_000, rng)
    _report(
        f"bench exact: log-space route (the 'exact' column), k=4, B=2, T={xs.shape[1]}",
        [("posterior_h0", lambda: inference.posterior_h0(hmm, xs),
          lambda: exact.logspace.posterior_h0(hmm, xs)),
         ("loo_conditionals", lambda: inference.loo_conditionals(hmm, xs),
          lambda: exact.logspace.loo_conditionals(hmm, xs))],
        1,
    )  # fmt: skip


if __name__ == "__main__":
    run()
