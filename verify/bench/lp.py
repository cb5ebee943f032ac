"""The §6 max-margin LP per solver on the paper's generator (§8): wall time, status, the
re-verified margin bounds and the certificate's support, for 20,000 inputs × 10 features
(mask probe, k = 30 > n = 10) and 50,000 inputs × 30 features (k = n = 30), each with the
task's labels (on seed 0 both are not recoverable: a certificate is found) and with planted
labels ``sign(F w)`` of a random head (recoverable: the head is verified).

Printed, never asserted: speed is not a unit test.
"""

from __future__ import annotations

import time

import numpy as np

from verify.core import task
from verify.core.generator import reference_hmm, reference_task, task_mu
from verify.core.inference import mask_probe
from verify.recovery import DEFAULT_SOLVERS, max_margin_head

#: (inputs B, tokens n = features d); hidden states k = 30 throughout; input length T.
SIZES = ((20_000, 10), (50_000, 30))
K = 30
T = 16


def _instance(B: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features ``G(x)`` (B, n) and labels ``sign(μᵀp(x))`` on B sampled inputs."""
    hmm = reference_hmm(seed, K, n)
    xs, _ = hmm.sample(B, T, rng=seed + 1)
    y = task.labels(hmm, xs, task_mu(reference_task(seed, K)))
    keep = y != 0  # ties (label 0) make the task ill-posed (THEORY §3, verify.core.task)
    return mask_probe(hmm, xs[keep]), y[keep]


def run(quick: bool = False) -> None:
    sizes = tuple((B // 10, n) for B, n in SIZES) if quick else SIZES
    for B, n in sizes:
        F, y_task = _instance(B, n)
        planted = np.sign((F - F.mean(axis=0)) @ np.random.default_rng(2).normal(size=n))
        planted[planted == 0] = 1.0
        for what, y in (("task labels", y_task), ("planted labels", planted)):
            print(f"bench lp: {F.shape[0]} inputs × {n} features (k={K}, T={T}), {what}")
            for solver in DEFAULT_SOLVERS:
                t0 = time.perf_counter()
                r = max_margin_head(F, y, solvers=[solver])
                dt = time.perf_counter() - t0
                print(
                    f"  {solver:9s} {dt:8.2f} s  {r.status:15s} t*={r.margin:.3e}  "
                    f"verified t* ∈ [{r.verified_margin:.3e}, {r.certificate_residual:.3e}]  "
                    f"support={r.support().size}  unique rows={r.n_unique}"
                )


if __name__ == "__main__":
    run()
