"""Prompt search (THEORY prompt.exact / prompt.weaker): find a soft prompt under which a
linear head recovers the task on an input set.

First the exact C-PROMPT witness (Theorem 3.6). Failing that, a gradient search over prompt
weights ``u = sigmoid(θ)`` and a head ``b = tanh(β)`` through the differentiable prompted
probe, maximising a soft minimum of the margins. Whatever the route, the answer is the
§6 LP on the prompted features of the best prompt found, so "recoverable" is always
LP-verified; a search that finds nothing is *not* a proof that no prompt exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from verify.core.conditions import ConditionResult, c_prompt
from verify.core.inference import prompted_mask_probe
from verify.core.models import HMM, HMMParams
from verify.core.task import labels as task_labels
from verify.core.validation import InputError, as_int, require

from .lp import RECOVERABLE, LPResult, Solver, max_margin_head
from .witnesses import PromptWitness, prompt_witness

#: Temperature of the soft minimum ``-τ log Σ exp(-m_i / τ)``, relative to the features'
#: scale (probabilities, so 1): small enough to track the worst input, large enough to give
#: every near-worst input a gradient.
SOFTMIN_TEMPERATURE = 1e-2


@dataclass(frozen=True, eq=False)
class PromptSearchResult:
    """Answer of :func:`find_prompt`.

    method: "exact_witness" (C-PROMPT's U → u = 1_U) or "search" (gradient search);
    prompt (L, k): the best prompt found; lp: the §6 LP on ``prompted_mask_probe(hmm, xs,
    prompt)`` with the task labels (its status is the verdict for *this* prompt);
    witness: the PromptWitness for method "exact_witness", else None;
    condition: C-PROMPT's result; tried: prompts evaluated by the LP; note: how to read it.
    """

    method: str
    prompt: np.ndarray
    lp: LPResult
    witness: PromptWitness | None
    condition: ConditionResult
    tried: int
    note: str

    @property
    def found(self) -> bool:
        """An LP-verified recovering prompt was found (a False is not an impossibility)."""
        return self.lp.status == RECOVERABLE


def _lp_for(hmm: HMM, xs: np.ndarray, y: np.ndarray, prompt: np.ndarray, solvers) -> LPResult:
    return max_margin_head(prompted_mask_probe(hmm, xs, prompt), y, solvers=solvers)


def _gradient_prompt(
    hmm: HMM, xs: np.ndarray, y: np.ndarray, L: int, steps: int, rng: np.random.Generator
) -> np.ndarray:
    """One restart of the joint gradient ascent on (θ, β); returns u = sigmoid(θ) (L, k)."""
    import torch

    params = HMMParams(*(torch.tensor(np.array(a)) for a in hmm.params))
    xs_t = torch.as_tensor(xs)
    y_t = torch.as_tensor(y)
    theta = torch.tensor(rng.normal(0.0, 1.0, (L, hmm.n_states)), requires_grad=True)
    beta = torch.tensor(rng.normal(0.0, 0.1, hmm.n_tokens), requires_grad=True)
    opt = torch.optim.Adam([theta, beta], lr=0.1)
    tau = SOFTMIN_TEMPERATURE
    for _ in range(steps):
        opt.zero_grad()
        G = prompted_mask_probe(params, xs_t, torch.sigmoid(theta))
        margins = y_t * (G @ torch.tanh(beta))
        loss = tau * torch.logsumexp(-margins / tau, dim=0)  # = -softmin
        loss.backward()
        opt.step()
    return torch.sigmoid(theta).detach().numpy().astype(np.float64)


def find_prompt(
    hmm: HMM,
    mu: ArrayLike,
    xs: ArrayLike,
    max_tokens: int = 1,
    *,
    steps: int = 150,
    restarts: int = 2,
    seed: int | np.random.Generator = 0,
    solvers: Sequence[str | Solver] | None = None,
) -> PromptSearchResult:
    """Find a prompt of at most ``max_tokens`` tokens under which a linear head recovers
    ``y(x) = sign(μᵀ p(x))`` on xs (B, T).

    1. C-PROMPT(μ) (``verify.core.conditions.c_prompt``); if it holds, its U gives the exact
       witness, whose prompt is checked by the LP.
    2. Otherwise (or if that LP does not verify): the neutral prompt u = 1 (the plain
       head), the k single-state prompts u = e_h, then for L = 1…max_tokens and
       ``restarts`` seeded starts, ``steps`` Adam steps on a soft-min margin; it stops at
       the first LP-verified prompt, else returns the one with the best LP answer.
    ValueError for inputs with μᵀp(x) = 0 (ill-posed task) or bad arguments.
    """
    require(hmm, HMM, "hmm")
    max_tokens = as_int(max_tokens, "max_tokens", 1)
    steps, restarts = as_int(steps, "steps", 0), as_int(restarts, "restarts", 0)
    xs = np.asarray(xs)
    y = task_labels(hmm, xs, mu)
    if (y == 0).any():
        raise InputError(
            f"inputs {np.flatnonzero(y == 0)[:10].tolist()} have μᵀp(x) = 0, so the task is "
            f"ill-posed there (γ = 0); drop them from xs"
        )
    rng = np.random.default_rng(seed)
    cond = c_prompt(hmm, mu, max_tokens)
    if cond.holds:
        witness = prompt_witness(hmm, mu, cond.witness["U"])
        lp = _lp_for(hmm, xs, y, witness.prompt, solvers)
        if lp.status == RECOVERABLE:
            return PromptSearchResult(
                "exact_witness", witness.prompt, lp, witness, cond, 1,
                "C-PROMPT holds; the exact witness's prompt is LP-verified",
            )  # fmt: skip
    k = hmm.n_states
    best_prompt = np.ones((1, k))  # u = 1: v = 1, G(u, x) = G(x), the plain head
    best = _lp_for(hmm, xs, y, best_prompt, solvers)
    tried = 1
    # Single-state prompts u = e_h: the ε-support witnesses of prompt.robust (margins there
    # can be ~1e-4, too small for the soft-min gradient to find reliably).
    for h in range(k):
        if best.status == RECOVERABLE:
            break
        prompt = np.eye(k)[h : h + 1]
        lp = _lp_for(hmm, xs, y, prompt, solvers)
        tried += 1
        if lp.rank() > best.rank():
            best, best_prompt = lp, prompt
    for L in range(1, max_tokens + 1):
        for _ in range(restarts):
            if best.status == RECOVERABLE:
                break
            prompt = _gradient_prompt(hmm, xs, y, L, steps, rng)
            lp = _lp_for(hmm, xs, y, prompt, solvers)
            tried += 1
            if lp.rank() > best.rank():
                best, best_prompt = lp, prompt
    note = (
        "search found an LP-verified prompt"
        if best.status == RECOVERABLE
        else "search found no recovering prompt; this is not a proof that none exists"
    )
    return PromptSearchResult("search", best_prompt, best, None, cond, tried, note)


__all__ = ["PromptSearchResult", "SOFTMIN_TEMPERATURE", "find_prompt"]
