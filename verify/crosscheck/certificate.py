"""Exact certificates of non-recoverability (THEORY §5 head.necessary, §6).

A linear head cannot recover labels y on inputs x_1…x_N when some
``λ ≥ 0, Σλ = 1, Σ_i λ_i y_i F(x_i) = 0`` (F the features the head reads): then
``Σ λ_i y_i bᵀF(x_i) = 0`` for every b, so some ``y_i bᵀF(x_i) ≤ 0``.
:func:`find_certificate` turns an LP's float certificate into such a λ in rationals;
:func:`check_certificate` re-derives everything from the certificate's own exact model and
checks the identities with zero error. The certificate is plain JSON::

    {"exact": true, "lambda": ["1/3", …], "inputs": [[tokens], …], "labels": [±1, …],
     "features": "mask_probe" | "prompted", "prompt": [["p/q", …], …] (prompted only),
     "model_exact": {model JSON: "kind", fields as fraction strings},
     "task": {"mu": ["p/q", …], "cell": j (memory), "s0": s (memory, optional)} (optional)}

With ``task``, the labels are also checked: ``y_i = sign(μᵀ p(x_i))`` (memory models:
``sign(μᵀ P[M_cell | (S_0 = s0,) x_i])``), exactly.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from verify.core.validation import InputError
from verify.crosscheck.linalg import nullspace, solve
from verify.crosscheck.oracle import mask_probe, memory_posterior, posterior_h0, prompted_mask_probe
from verify.crosscheck.rational import (
    ExactTooLarge,
    ModelLike,
    RationalMemoryHMM,
    fraction_string,
    rational_model,
    to_fraction,
    weight_fraction,
)

FEATURES = ("mask_probe", "prompted")
#: Exhaustive search over sub-supports visits at most this many subsets (a float
#: certificate's support is small: a vertex dual has at most n + 1 non-zeros).
MAX_SUBSETS = 20_000
#: Entries of a float λ below this fraction of its largest entry are treated as solver
#: noise when the exact projection of the whole support is not non-negative.
NOISE = 1e-9


def _features(model: ModelLike, xs: np.ndarray, features: str, prompt: Any) -> np.ndarray:
    """Exact features (N, d) as Fractions."""
    if features == "mask_probe":
        return mask_probe(model, xs).fractions()
    if features == "prompted":
        if prompt is None:
            raise InputError('features "prompted" needs the prompt weights (L, k)')
        return prompted_mask_probe(model, xs, prompt).fractions()
    raise InputError(f"features must be one of {FEATURES}, got {features!r}")


def _columns(Z: list[list[Fraction]], idx: list[int]) -> list[list[Fraction]]:
    """Rows of the system ``Σ_i λ_i z_i = 0`` restricted to the columns idx: (d, |idx|)."""
    return [[Z[i][j] for i in idx] for j in range(len(Z[0]))]


def _projection(Z: list[list[Fraction]], idx: list[int], hint: list[Fraction]):
    """The exact orthogonal projection of ``hint`` onto ``{λ : Σ λ_i z_i = 0}`` (on idx)."""
    basis = nullspace(_columns(Z, idx), len(idx))
    if not basis:
        return None
    d = len(basis)
    gram = [[sum((a * b for a, b in zip(basis[r], basis[c], strict=True)), Fraction(0))
             for c in range(d)] for r in range(d)]  # fmt: skip
    rhs = [sum((a * b for a, b in zip(basis[r], hint, strict=True)), Fraction(0)) for r in range(d)]
    c = solve(gram, rhs, d).solution
    assert c is not None  # the Gram matrix of a basis is invertible
    return [sum((c[r] * basis[r][i] for r in range(d)), Fraction(0)) for i in range(len(idx))]


def _reduce(Z: list[list[Fraction]], idx: list[int], lam: list[Fraction]):
    """Carathéodory: move λ along null directions with zero sum until its support has a
    one-dimensional null space (a vertex); λ stays ≥ 0, Σλ and Σλz unchanged."""
    while True:
        keep = [(i, v) for i, v in zip(idx, lam, strict=True) if v != 0]
        idx, lam = [i for i, _ in keep], [v for _, v in keep]
        basis = nullspace(_columns(Z, idx), len(idx))
        if len(basis) <= 1:
            return idx, lam
        # a non-zero null direction with zero sum: basis vectors are independent
        s0, s1 = sum(basis[0], Fraction(0)), sum(basis[1], Fraction(0))
        if s0 == 0:
            z = basis[0]
        elif s1 == 0:
            z = basis[1]
        else:
            z = [a - s0 / s1 * b for a, b in zip(basis[0], basis[1], strict=True)]
        if not any(v < 0 for v in z):
            z = [-v for v in z]
        t = min(lam[i] / -z[i] for i in range(len(z)) if z[i] < 0)
        lam = [a + t * b for a, b in zip(lam, z, strict=True)]


def _solve_lambda(Z: list[list[Fraction]], hint: list[Fraction]) -> tuple[list, list] | None:
    """(indices, λ) with λ > 0, Σλ = 1, Σ λ_i Z_i = 0, or None."""
    N = len(Z)
    order = sorted(range(N), key=lambda i: -hint[i])
    top = max(hint) if hint else 0
    tries = [order, [i for i in order if hint[i] > NOISE * top]]
    for idx in tries:
        if not idx:
            continue
        lam = _projection(Z, idx, [hint[i] for i in idx])
        if lam is not None and all(v >= 0 for v in lam) and sum(lam) > 0:
            idx, lam = _reduce(Z, idx, lam)
            total = sum(lam, Fraction(0))
            return idx, [v / total for v in lam]
    # circuits: minimal supports, smallest first, heaviest float weights first
    visited = 0
    for size in range(2, N + 1):
        for sub in itertools.combinations(order, size):
            visited += 1
            if visited > MAX_SUBSETS:
                return None
            basis = nullspace(_columns(Z, list(sub)), size)
            if len(basis) != 1:
                continue
            z = basis[0]
            if all(v < 0 for v in z):
                z = [-v for v in z]
            if all(v > 0 for v in z):
                total = sum(z, Fraction(0))
                return list(sub), [v / total for v in z]
    return None


def _labels(labels: ArrayLike, N: int) -> list[int]:
    ys = [int(v) for v in np.asarray(labels).reshape(-1)]
    if len(ys) != N or any(v not in (1, -1) for v in ys):
        raise InputError(f"labels must be {N} values in {{1, -1}}")
    return ys


def find_certificate(
    model: ModelLike,
    xs: ArrayLike,
    labels: ArrayLike,
    support: ArrayLike,
    *,
    features: str = "mask_probe",
    prompt: Any = None,
    lambda_hint: ArrayLike | None = None,
    task: dict | None = None,
) -> dict | None:
    """An exact certificate (the JSON dict of this module's docstring) from an LP's
    support, or None when no non-negative rational λ exists on it.

    model: rational (see ``rational_model``; ValueError otherwise); xs (B, T) and labels
    (B,) the whole input set; support: indices into xs (``LPResult.support()``);
    lambda_hint: the LP's float λ over all B rows (``LPResult.certificate``) to pick the
    combination (else the uniform weights); prompt (L, k) for ``features="prompted"``
    (floats are taken at their exact value); task: ``{"mu", "cell", "s0"}`` to embed.
    """
    exact = rational_model(model)
    arr = np.asarray(xs, dtype=np.int64)
    idx = [int(i) for i in np.asarray(support, dtype=np.int64).reshape(-1)]
    if not idx:
        return None
    y_all = np.asarray(labels).reshape(-1)
    ys = _labels(y_all[idx], len(idx))
    X = arr[idx]
    F = _features(exact, X, features, prompt)
    Z = [[ys[i] * F[i, j] for j in range(F.shape[1])] for i in range(len(idx))]
    if lambda_hint is None:
        hint = [Fraction(1)] * len(idx)
    else:
        h = np.asarray(lambda_hint, dtype=np.float64).reshape(-1)
        hint = [Fraction(float(max(h[i], 0.0))) for i in idx]
    found = _solve_lambda(Z, hint)
    if found is None:
        return None
    sub, lam = found
    cert: dict = {
        "exact": True,
        "lambda": [fraction_string(v) for v in lam],
        "inputs": [[int(t) for t in X[i]] for i in sub],
        "labels": [ys[i] for i in sub],
        "features": features,
        "model_exact": exact.to_dict(),
    }
    if features == "prompted":
        rows = np.asarray(prompt, dtype=object)
        rows = rows[None, :] if rows.ndim == 1 else rows
        cert["prompt"] = [
            [fraction_string(to_fraction(v, "prompt", exact_float=True)) for v in r] for r in rows
        ]
    if task is not None:
        cert["task"] = _task_json(task)
    ok, message = check_certificate(cert)
    if not ok:  # pragma: no cover - find and check are two readings of one identity
        raise AssertionError(f"find_certificate built a certificate that fails: {message}")
    return cert


def _task_json(task: dict) -> dict:
    out: dict = {"mu": [fraction_string(weight_fraction(v, "task.mu"))
                        for v in task["mu"]]}  # fmt: skip
    for key in ("cell", "s0"):
        if task.get(key) is not None:
            out[key] = int(task[key])
    return out


def _fractions(values: object, what: str) -> list[Fraction]:
    if not isinstance(values, list):
        raise InputError(f"{what}: expected a list of fraction strings")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, float):
            raise InputError(f'{what}[{i}]: {v!r} is a float; exact entries are strings "p/q"')
        out.append(to_fraction(v, f"{what}[{i}]"))
    return out


def check_certificate(cert: object) -> tuple[bool, str]:
    """Re-derive the certificate's features from its ``model_exact`` and check, in exact
    arithmetic, ``λ ≥ 0``, ``Σλ = 1``, ``Σ λ_i y_i F(x_i) = 0``, labels ±1 (and, with a
    task, ``y_i = sign(μᵀ p(x_i))``). Returns (ok, message); never raises on bad input."""
    try:
        return _check(cert)
    except ExactTooLarge as exc:
        return False, f"certificate too large to re-check: {exc}"
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return False, f"malformed certificate: {exc}"


def _check(cert: object) -> tuple[bool, str]:
    if not isinstance(cert, dict):
        return False, "certificate: expected a JSON object"
    if cert.get("exact") is not True:
        return False, 'certificate: "exact" must be true'
    for key in ("lambda", "inputs", "labels", "features", "model_exact"):
        if key not in cert:
            return False, f"certificate: missing field {key!r}"
    lam = _fractions(cert["lambda"], "lambda")
    inputs = cert["inputs"]
    if not isinstance(inputs, list) or len(inputs) != len(lam) or not lam:
        return False, "certificate: inputs and lambda must be non-empty lists of one length"
    if any(not isinstance(x, list) or any(isinstance(t, bool) or not isinstance(t, int)
                                          for t in x) for x in inputs):  # fmt: skip
        return False, "certificate: inputs must be lists of integer tokens"
    if len({len(x) for x in inputs}) != 1:
        return False, "certificate: inputs must all have the same length T"
    ys = cert["labels"]
    if (
        not isinstance(ys, list)
        or len(ys) != len(lam)
        or any(isinstance(v, bool) or v not in (1, -1) for v in ys)
    ):
        return False, "certificate: labels must be one of 1 / -1 per input"
    features = cert["features"]
    if features not in FEATURES:
        return False, f"certificate: features must be one of {FEATURES}, got {features!r}"
    if not isinstance(cert["model_exact"], dict) or "kind" not in cert["model_exact"]:
        return False, 'certificate: model_exact must be a model JSON object with "kind"'
    model = rational_model(cert["model_exact"])
    prompt = None
    if features == "prompted":
        if "prompt" not in cert or not isinstance(cert["prompt"], list):
            return False, 'certificate: features "prompted" needs "prompt" (L, k) fractions'
        prompt = [_fractions(r, f"prompt[{i}]") for i, r in enumerate(cert["prompt"])]
    if any(v < 0 for v in lam):
        i = next(i for i, v in enumerate(lam) if v < 0)
        return False, f"lambda[{i}] = {lam[i]} is negative"
    total = sum(lam, Fraction(0))
    if total != 1:
        return False, f"sum of lambda is {total}, not 1"
    xs = np.array(inputs, dtype=np.int64).reshape(len(inputs), -1)
    F = _features(model, xs, features, prompt)
    combo = [sum((lam[i] * ys[i] * F[i, j] for i in range(len(lam))), Fraction(0))
             for j in range(F.shape[1])]  # fmt: skip
    if any(v != 0 for v in combo):
        j = next(j for j, v in enumerate(combo) if v != 0)
        return False, f"sum_i lambda_i y_i F(x_i) is {combo[j]} ≠ 0 at coordinate {j}"
    if "task" in cert:
        ok, msg = _check_task(model, xs, ys, cert["task"])
        if not ok:
            return False, msg
    pos = sum(1 for v in ys if v > 0)
    return True, (
        f"exact certificate holds: {len(lam)} inputs ({pos} positive, {len(lam) - pos} "
        f"negative), λ ≥ 0, Σλ = 1, Σ λ_i y_i G(x_i) = 0 with zero error "
        f"({features} features of the certificate's own model)"
    )


def _check_task(model: ModelLike, xs: np.ndarray, ys: list[int], task: Any) -> tuple[bool, str]:
    if not isinstance(task, dict) or "mu" not in task:
        return False, 'certificate: task must be an object with "mu"'
    mu = _fractions(task["mu"], "task.mu")
    if isinstance(model, RationalMemoryHMM):
        post = memory_posterior(model, xs, task.get("cell", 0), task.get("s0"))
    else:
        post = posterior_h0(model, xs)
    signs = post.signs(mu)
    bad = [i for i in range(len(ys)) if signs[i] != ys[i]]
    if bad:
        return False, f"label of input {bad[0]} is {ys[bad[0]]} but sign(μᵀp(x)) = {signs[bad[0]]}"
    return True, "labels match the task"


__all__ = ["FEATURES", "check_certificate", "find_certificate"]
