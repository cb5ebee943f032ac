"""Summaries of a run's rows and the assessment of the paper's qualitative shape."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from verify.experiments.reproduce.presets import N_TOKENS


def summarize(rows: list[dict]) -> dict:
    """Mean, std and count of accuracy per (experiment, backbone, method, k)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["experiment"], r["backbone"], r["method"], int(r["k"])), []).append(
            float(r["accuracy"])
        )
    return {key: (float(np.mean(v)), float(np.std(v)), len(v)) for key, v in sorted(groups.items())}


def _vanilla_shape(s: dict, bb: str, n: int, tol: float) -> list[tuple[str, bool, str]]:
    """Backbone ``bb``'s vanilla checks: prompt ≥ head − tol at every k, and the gap
    opens once k > n (see :func:`assess_shape`)."""
    ks = sorted({k for (e, b, m, k) in s if e == "vanilla" and b == bb})
    if not ks:
        return []
    gaps = {k: s[("vanilla", bb, "prompt", k)][0] - s[("vanilla", bb, "head", k)][0] for k in ks}
    lo = [g for k, g in gaps.items() if k <= n]
    hi = [g for k, g in gaps.items() if k > n]
    nums = ", ".join(f"k={k}: {g:+.3f}" for k, g in gaps.items())
    out = [(f"[{bb}] prompt ≥ head at every k (tolerance {tol})",
            all(g >= -tol for g in gaps.values()), f"gap prompt−head: {nums}")]  # fmt: skip
    if lo and hi:
        out.append((f"[{bb}] the gap opens once k > n = {n} (by > {tol / 2})",
                    bool(np.mean(hi) > np.mean(lo) + tol / 2),
                    f"mean gap k≤n {np.mean(lo):+.3f}, k>n {np.mean(hi):+.3f}"))  # fmt: skip
    return out


def _memory_shape(s: dict, bb: str, n: int) -> list[tuple[str, bool, str]]:
    """Backbone ``bb``'s memory checks: attention near 100%, vanilla + linear falls with k,
    attention beats it for k > n (see :func:`assess_shape`)."""
    mks = sorted({k for (e, b, m, k) in s if e == "memory" and b == bb})
    if not mks:
        return []
    att = [s[("memory", bb, "attention", k)][0] for k in mks]
    van = [s[("memory", bb, "vanilla_head", k)][0] for k in mks]

    def listed(vals: list[float]) -> str:
        return ", ".join(f"k={k}: {a:.3f}" for k, a in zip(mks, vals, strict=True))

    out = [
        (f"[{bb}] memory + attention near 100% (mean ≥ 0.9)", bool(np.mean(att) >= 0.9),
         "attention: " + listed(att)),
        (f"[{bb}] vanilla + linear falls as k grows", bool(len(mks) > 1 and van[-1] < van[0]),
         "vanilla+linear: " + listed(van)),
    ]  # fmt: skip
    big = [(a, v) for k, a, v in zip(mks, att, van, strict=True) if k > n]
    if big:
        nums = ", ".join(f"{a:.3f} vs {v:.3f}" for a, v in big)
        out.append((f"[{bb}] memory + attention > vanilla + linear for k > n",
                    all(a > v for a, v in big), nums))  # fmt: skip
    return out


def assess_shape(
    rows: list[dict], n: int = N_TOKENS, tol: float = 0.02
) -> list[tuple[str, bool, str]]:
    """The paper's qualitative shape, per backbone: (statement, holds, numbers).

    vanilla: prompt ≥ head − tol at every k, and the mean gap over k > n exceeds that over
    k ≤ n. memory: attention ≥ 0.9 on average, vanilla+linear lower at the largest k than at
    the smallest, and attention > vanilla+linear for k > n."""
    s = summarize(rows)
    out = []
    for bb in ("oracle", "transformer"):
        out += _vanilla_shape(s, bb, n, tol) + _memory_shape(s, bb, n)
    return out


def backbone_gaps(rows: list[dict]) -> list[dict]:
    """Transformer − oracle test accuracy per (experiment, method, k), on the seeds both
    backbones ran (the transformer's): ``{"experiment", "method", "k", "oracle",
    "transformer", "gap", "seeds"}`` with the means over those seeds."""
    acc: dict = {}
    for r in rows:
        key = (r["experiment"], r["method"], int(r["k"]), int(r["seed"]))
        acc.setdefault(key, {})[r["backbone"]] = float(r["accuracy"])
    groups: dict = {}
    for (exp, method, k, _), by in acc.items():
        if {"oracle", "transformer"} <= set(by):
            groups.setdefault((exp, method, k), []).append((by["oracle"], by["transformer"]))
    out = []
    for (exp, method, k), pairs in sorted(groups.items()):
        o, t = (float(np.mean(v)) for v in zip(*pairs, strict=True))
        out.append({"experiment": exp, "method": method, "k": k, "oracle": o,
                    "transformer": t, "gap": t - o, "seeds": len(pairs)})  # fmt: skip
    return out


def tv_table(pretraining: Sequence[dict]) -> dict[tuple[str, int], float]:
    """Mean TV to the oracle over seeds per (MLM kind, k) from the pretraining records."""
    groups: dict = {}
    for r in pretraining:
        groups.setdefault((r["mlm"], int(r["k"])), []).append(float(r["tv"]))
    return {key: float(np.mean(v)) for key, v in sorted(groups.items())}


def side_by_side(rows: list[dict]) -> list[dict]:
    """Mean test accuracy per (experiment, backbone, method, k) under each convention:
    ``{"experiment", "backbone", "method", "k", "theory", "authors", "diff",
    "input_theory", "input_authors", "seeds"}`` (None where a convention did not run it;
    diff = authors − theory; input_*: tokens the fine-tuned model saw; seeds: per
    convention)."""
    groups: dict = {}
    for r in rows:
        key = (r["experiment"], r["backbone"], r["method"], int(r["k"]))
        g = groups.setdefault(key, {}).setdefault(r["convention"], ([], set()))
        g[0].append(float(r["accuracy"]))
        g[1].add(int(r["input_len"]))
    out = []
    for (exp, bb, method, k), by in sorted(groups.items()):
        cs = ("theory", "authors")
        mean = {c: float(np.mean(by[c][0])) if c in by else None for c in cs}
        theory, authors = mean["theory"], mean["authors"]
        out.append({
            "experiment": exp, "backbone": bb, "method": method, "k": k, **mean,
            "diff": authors - theory if authors is not None and theory is not None else None,
            **{f"input_{c}": (min(by[c][1]) if c in by else None) for c in cs},
            "seeds": "/".join(str(len(by[c][0])) if c in by else "–" for c in cs),
        })  # fmt: skip
    return out


def disagreement_table(labels: list[dict]) -> list[dict]:
    """Mean (over seeds) fraction of test inputs on which the authors' label rule and
    THEORY's disagree, per (experiment, k): ``{"experiment", "k", "mean", "max", "seeds"}``."""
    groups: dict = {}
    for r in labels:
        groups.setdefault((r["experiment"], int(r["k"])), []).append(float(r["disagreement"]))
    return [
        {"experiment": e, "k": k, "mean": float(np.mean(v)), "max": float(np.max(v)),
         "seeds": len(v)}
        for (e, k), v in sorted(groups.items())
    ]  # fmt: skip
