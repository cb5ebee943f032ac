"""``ptverify prove``'s throughput: instances decided per second on one core, per claim, on
the first canonical models of the k = n = 3, den = 2 cell (the bulk of the default scope),
as a ratio to the float route alone (one ``inference.posterior_h0`` per model and T, the
baseline in this process); and the orbit reduction (models / canonical models) of every
cell of the default scope ``--k 2:3 --n 2:3 --den 2``.

Printed, never asserted: speed is not a unit test.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..claims import load_builtin
from ..claims.prove import DECIDERS, decide_chunk
from ..core.inference import log_likelihood, posterior_h0
from ..core.models import HMM
from ..crosscheck.scope import Cell, inputs


def run(quick: bool = False) -> None:
    load_builtin()
    hi = 400 if quick else 2000
    cell, Ts = Cell(3, 3, 2), (1, 2)
    print(f"prove: models 0..{hi} of k=3, n=3, den=2 (T = 1, 2), one core")
    t0 = time.perf_counter()
    res = decide_chunk(cell, 0, hi, Ts, list(DECIDERS))
    wall = time.perf_counter() - t0
    idx = np.arange(hi)[cell.canonical(np.arange(hi))]
    s, A, E = cell.decode(idx)
    t1 = time.perf_counter()
    for i in range(len(idx)):
        hmm = HMM(s[i] / 2, A[i] / 2, E[i] / 2)
        for T in Ts:
            xs = inputs(3, T)
            posterior_h0(hmm, xs[np.isfinite(log_likelihood(hmm, xs))])  # 𝒮: P(x) > 0
    base = (time.perf_counter() - t1) / len(idx)
    orbits = res["orbits"]
    print(
        f"  {orbits} orbits in {wall:.1f}s: {wall / orbits * 1e3:.1f} ms per orbit, "
        f"{wall / orbits / base:.0f}x the float posteriors alone ({base * 1e3:.2f} ms)"
    )
    total = 0
    for cid, secs in res["seconds"].items():
        n = res["tallies"][cid]["instances"]
        total += n
        print(f"  {cid:20s} {n:7d} instances  {n / secs:9.0f} instances/s per core")
    print(f"  {'all claims':20s} {total:7d} instances  {total / wall:9.0f} instances/s per core")
    print("orbit reduction of the default scope (models / canonical forms):")
    for k in (2, 3):
        for n in (2, 3):
            c = Cell(k, n, 2)
            orb = int(c.canonical(np.arange(c.models)).sum())
            print(
                f"  k={k} n={n}: {c.models:7d} models, {orb:5d} orbits, "
                f"reduction {c.models / orb:5.1f}x (|S_k × S_n| = "
                f"{math.factorial(k) * math.factorial(n)})"
            )
