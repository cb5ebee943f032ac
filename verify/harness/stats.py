"""Binomial intervals: one implementation for the sweep's fractions and the verdicts of
statistical claims (:mod:`verify.harness.runner`); summaries of a claim's recorded
quantities."""

from __future__ import annotations

import math

from verify.core.validation import InputError

#: Wilson intervals at 95% (z = Φ⁻¹(0.975)).
WILSON_Z = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion: the p with
    ``|x/n − p| ≤ z √(p(1 − p)/n)``, i.e. ``(p̂ + z²/2n ± z √(p̂(1−p̂)/n + z²/4n²)) /
    (1 + z²/n)``. (NaN, NaN) for n = 0."""
    if trials < 0 or not 0 <= successes <= trials:
        raise InputError(f"need 0 ≤ successes ≤ trials, got {successes} of {trials}")
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    # At x = 0 (x = n) the lower (upper) end is exactly 0 (1); the formula gives it only
    # up to rounding.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


#: Values kept per condition quantity for the histograms (the summary uses all of them).
MAX_KEPT_VALUES = 5000


def quantity_summaries(values: dict[str, list[float]]) -> dict[str, dict]:
    """Per quantity: count, min, max, mean, median and the first values kept."""
    return {name: _summary(vs) for name, vs in sorted(values.items()) if vs}


def _summary(values: list[float]) -> dict:
    vs = sorted(values)
    n = len(vs)
    return {
        "count": n,
        "min": vs[0],
        "max": vs[-1],
        "mean": sum(vs) / n,
        "median": vs[n // 2] if n % 2 else 0.5 * (vs[n // 2 - 1] + vs[n // 2]),
        "values": values[:MAX_KEPT_VALUES],
    }


__all__ = ["MAX_KEPT_VALUES", "WILSON_Z", "quantity_summaries", "wilson_interval"]
