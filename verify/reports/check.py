"""``ptverify check MODEL.json``: every condition of THEORY §5 on a user's own model, with
its numbers, and the recovery verdicts of the witnesses and the LP (THEORY §6).

The JSON is an HMM or MemoryHMM in plain JSON (``HMM.to_json`` layout); it may also carry
``"mu"`` (task), ``"T"`` (input length) and ``"cell"`` (task cell), which the command-line
options override. The input set is all of ``[n]^T`` when ``n**T ≤ 50,000``, else 2,000
sequences sampled with ``--seed``; impossible sequences are dropped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from strategies import blocks
from verify.inference import (
    mask_probe,
    memory_posterior,
    posterior_h0,
    prompted_mask_probe,
)
from verify.models import HMM, MemoryHMM, loads_json, model_from_dict
from verify.validation import InputError

N_SAMPLED = 2_000
DEFAULT_T = 3


def _fmt_q(q: dict) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in q.items())


def _cond_line(c: Any) -> str:
    wit = f"  witness={c.to_dict()['witness']}" if c.witness else ""
    return (
        f"  {c.name:<20} holds={str(bool(c.holds)):<5}  {_fmt_q(dict(c.quantities))}{wit}  "
        f"[{c.method}, tol {c.tol:g}]"
    )


def input_set(model: HMM | MemoryHMM, T: int, seed: int) -> tuple[np.ndarray, str]:
    """𝒮 of THEORY §3 (``strategies.blocks.input_set``) and how it was built."""
    xs = blocks.input_set(model, T, seed, n_samples=N_SAMPLED)
    if model.n_tokens**T <= blocks.MAX_EXHAUSTIVE:
        return xs, "exhaustive"
    return xs, f"{N_SAMPLED} sampled with seed {seed}, deduplicated"


def _lp_line(label: str, res: Any) -> str:
    extra = ""
    if res.status == "recoverable":
        extra = f"verified margin {res.verified_margin:.4g}"
    elif res.status == "not_recoverable":
        extra = (
            f"certificate on {res.support().size} inputs, ‖Σλ y F‖₁ = "
            f"{res.certificate_residual:.2e}"
        )
    else:
        extra = res.reason
    return f"  {label:<34} {res.status:<16} {extra}"


def _witness_line(label: str, outputs: np.ndarray, y: np.ndarray) -> str:
    wrong = int((np.sign(outputs) != y).sum())
    verdict = "recovers every label" if wrong == 0 else f"misclassifies {wrong}/{len(y)}"
    return f"  {label:<34} {verdict}"


class CheckInput(NamedTuple):
    """A validated ``check`` request: the model, μ ((k,) or (m,), or None), T and j*."""

    model: HMM | MemoryHMM
    mu: np.ndarray | None
    T: int
    cell: int


def read_check_input(
    text: str, name: str, mu: list[float] | None = None, T: int | None = None, cell: int = 0
) -> CheckInput:
    """Parse and validate a ``check`` request; every problem is a ValueError naming the
    field and the fix (bad input: exit 2). Options override the file's ``mu``/``T``/``cell``."""
    data = loads_json(text, name)
    model = model_from_dict(data, name)
    if mu is None and data.get("mu") is not None:
        mu = data["mu"]
    if T is None:
        T = data.get("T", DEFAULT_T)
    if isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= 64:
        raise InputError(f"{name}: T must be an int in 1..64, got {T!r}")
    if "cell" in data:
        cell = data["cell"]
    if isinstance(model, MemoryHMM):
        if isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell < model.n_cells:
            raise InputError(f"{name}: cell must be an int in 0..{model.n_cells - 1}, got {cell!r}")
    mu_arr = None
    if mu is not None:
        try:
            mu_arr = np.asarray(mu, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{name}: mu must be a list of numbers, got {mu!r}") from None
        want, unit = (
            (model.n_states, "hidden state")
            if isinstance(model, HMM)
            else (model.n_values, "memory value")
        )
        if mu_arr.shape != (want,) or not np.isfinite(mu_arr).all():
            raise InputError(
                f"{name}: mu must be {want} finite numbers, one per {unit} "
                f"(the model has {want}), got {mu!r}"
            )
    return CheckInput(model, mu_arr, T, int(cell))


def check_model(inp: CheckInput, name: str, seed: int = 0) -> int:
    """Print the report for a validated request; return 0, or 3 when an LP could not decide."""
    from verify import conditions as C
    from verify.recovery import max_margin_head
    from verify.recovery import witnesses as Wt

    model, mu_arr, T, cell = inp
    inconclusive = False
    print(f"{name}: {model!r}")

    if isinstance(model, HMM):
        hmm = model
        print(f"  stationary start: {'yes' if hmm.is_stationary else 'no'}")
        print("conditions:")
        print(_cond_line(C.c_head(hmm)))
        if mu_arr is None:
            print("  (pass --mu to evaluate C-HEAD(μ), C-PROMPT(μ) and recovery)")
            return 0
        print(_cond_line(C.c_head_mu(hmm, mu_arr)))
        cp = C.c_prompt(hmm, mu_arr)
        print(_cond_line(cp))
        xs, how = input_set(hmm, T, seed)
        score = posterior_h0(hmm, xs) @ mu_arr
        y = np.sign(score)
        print(f"input set: {len(xs)} inputs of length T={T} ({how})")
        print(
            f"  margin γ = {np.abs(score).min():.4g}; labels +1: {(y > 0).sum()}, "
            f"−1: {(y < 0).sum()}, 0 (ill-posed): {(y == 0).sum()}"
        )
        if (y == 0).any():
            print("  γ = 0: the task is ill-posed on this input set; recovery is not decided")
            return 0
        print("recovery:")
        G = np.asarray(mask_probe(hmm, xs))
        res = max_margin_head(G, y)
        inconclusive |= res.status == "inconclusive"
        print(_lp_line("LP, linear head on G(x)", res))
        hw = Wt.head_witness(hmm, mu_arr)
        print(_witness_line("witness b* = pinv(W)ᵀμ", hw.decision_values(hmm, xs), y))
        if cp.holds:
            pw = Wt.prompt_witness(hmm, mu_arr, cp.witness["U"])
            Gu = np.asarray(prompted_mask_probe(hmm, xs, pw.prompt))
            print(_witness_line(f"prompt witness U={list(pw.U)}", Gu @ pw.b, y))
            if not hmm.is_stationary:
                # THEORY §1.1: prompt claims assume H_0 ~ π whatever the prompt length; with
                # another start the prompt also shifts the prior, so the witness may miss.
                print("    (start is not stationary: Theorem 3.6's witness assumes it is)")
            res = max_margin_head(Gu, y)
            inconclusive |= res.status == "inconclusive"
            print(_lp_line(f"LP, head on G(u,x), U={list(pw.U)}", res))
        return 3 if inconclusive else 0

    mem = model
    print("conditions:")
    print(_cond_line(C.c_head(mem.as_hmm())).replace("C-HEAD ", "C-HEAD (product)", 1))
    if mu_arr is None:
        print("  (pass --mu to evaluate C-MEM-POOL, C-MEM-PROMPT and recovery)")
        return 0
    pool = C.c_mem_pool(mem, mu_arr, cell)
    mp = C.c_mem_prompt(mem, mu_arr, cell)
    print(_cond_line(pool))
    print(_cond_line(mp))
    xs, how = input_set(mem, T, seed)
    score = memory_posterior(mem, xs, cell) @ mu_arr
    y = np.sign(score)
    print(f"input set: {len(xs)} inputs of length T={T} ({how}); task cell {cell}")
    print(
        f"  margin γ = {np.abs(score).min():.4g}; labels +1: {(y > 0).sum()}, −1: {(y < 0).sum()}"
    )
    if (y == 0).any() or len(set(y)) < 2:
        print("  ill-posed or single-label task on this input set; recovery is not decided")
        return 0
    print("recovery:")
    for label, F in (
        ("LP, linear head on G(x)", np.asarray(mask_probe(mem.as_hmm(), xs))),
        ("LP, head on mean-pooled G_i(x)", Wt.pooled_features(mem, xs)),
    ):
        res = max_margin_head(F, y)
        inconclusive |= res.status == "inconclusive"
        print(_lp_line(label, res))
    if pool.holds:
        pw = Wt.pooled_witness(mem, mu_arr, cell)
        print(_witness_line("pooled witness (Theorem 4.3)", pw.decision_values(mem, xs), y))
    if mp.holds:
        w = Wt.memory_prompt_witness(mem, mu_arr, mp.witness["s0"], mp.witness["U"], cell)
        print(_witness_line(f"memory prompt witness s0={w.s0}", w.decision_values(mem, xs), y))
    return 3 if inconclusive else 0
