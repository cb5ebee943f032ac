"""The independent cross-checks (layer ``crosscheck``, beside ``recovery``, above ``core``):
an exact route for THEORY §2 and the conditions of §5 (rational arithmetic), the
enumeration of hidden paths (:mod:`.bruteforce`, the exact ``route="enumerate"`` and the
tests' float reference) and a log-space float route (:mod:`.logspace`).

Shares no code with ``verify.core.inference`` / ``verify.core.conditions`` /
``verify.recovery``: it reads the raw fields of a model (``verify.core.models`` is imported
only to read arrays) and recomputes everything from the definitions, so a bug in the fast
float route cannot hide in both sides of a comparison.

Exact arithmetic: Python's ``fractions.Fraction`` and ints for the oracle (messages are
integer vectors over common denominators, so sums never normalise), and python-flint's
``fmpq_mat`` (FLINT: fraction-free rref and rank, C speed) for linear algebra. flint over
sympy, measured (contended machine): exact rank of a 16 × 8 rational matrix 0.08 ms with
flint vs 44 ms with sympy's ``Matrix.rank`` (~500×), and C-PROMPT's exhaustive search
calls rank up to 2**14 times; a full rref including our Fraction conversions was on par
(0.3 ms each), so the gain is in rank.

Models
    ``rational_model(model, max_den=MAX_DEN) -> RationalHMM | RationalMemoryHMM``: the exact
    form of an HMM / MemoryHMM / model dict (floats, ints or ``"p/q"`` strings). A float is
    accepted when it is ``p/q`` (q ≤ max_den) to round-off; a float start that is stationary
    becomes the exact stationary law. ValueError naming the field otherwise (use the float
    route). ``model.to_dict()`` gives the model JSON with fraction strings.
    ``ExactTooLarge(ValueError)``: an instance beyond a documented limit (message names it).

Oracle outputs (``xs`` (B, T) ints; ``route="sum"`` unscaled integer forward/backward sums,
``route="enumerate"`` explicit hidden paths; results are :class:`RationalRows` — integer
numerators over one denominator per row, with ``.fractions()``, ``.to_float()``,
``.signs(w)``, ``.dot(w)``)
    ``likelihood(model, xs) -> (B,) Fractions``: P(X_{1:T} = x), H_0 ~ start at the mask.
    ``posterior_h0(model, xs) -> (B, k)``: p(x) = P[H_0 | x].
    ``mask_probe(model, xs) -> (B, n)``: G(x) = W p(x).
    ``prompted_mask_probe(model, xs, prompt) -> (B, n)``: G(u, x), prompt (L ≥ 1, k) weights,
    the window's chain starting at z_1 with law start; ``prompted_posterior`` gives
    P[H_0 | z, x].
    ``loo_conditionals(model, xs) -> (B, T, n)``: G_i(x), chain from x_1 with law start.
    ``memory_posterior(mem, xs, cell, s0=None) -> (B, m)``: P[M_cell | x], or
    P[M_cell | S_0 = s0, x].
    ``labels(model, xs, mu, cell=None) -> (B,) int`` exact signs; ``scores`` → Fractions.
    ``reversed_transition(model)``, ``prompt_likelihood(model, prompt)``: exact R and v.

Conditions (exact rank / solvability; :class:`ExactCondition` with ``holds``, ``witness``)
    ``c_head(model)``, ``c_head_mu(model, mu)`` (witness b = pinv(W)ᵀμ),
    ``prompt_witness(model, mu, prompt, S=None)`` (solves W_Sᵀ b = μ_S / v_S),
    ``c_prompt(model, mu, U=None)`` (given U, or exhaustive over U),
    ``c_mem_pool(mem, mu, cell)``, ``c_mem_prompt(mem, mu, cell)``,
    ``memory_iid_witness(mem, mu)``, ``head_witness(model, mu)``.

Second float route (``verify.crosscheck.logspace``): plain log-space forward/backward for
instances too large or not rational: ``posterior_h0``, ``mask_probe``,
``prompted_mask_probe``, ``loo_conditionals``, ``memory_posterior``, ``log_likelihood``
(float64 arrays, any T; tested at T = 10⁴).

Certificates (``verify.crosscheck.certificate``)
    ``find_certificate(model, xs, labels, support, features="mask_probe", prompt=None,
    lambda_hint=None, task=None) -> dict | None``: exact λ on an LP's support (JSON-able,
    fields exact/lambda/inputs/labels/features/prompt/model_exact/task).
    ``check_certificate(cert) -> (ok, message)``: re-derives the features from
    ``model_exact`` and checks λ ≥ 0, Σλ = 1, Σ λ_i y_i F(x_i) = 0 exactly. ``replay`` and
    the case-JSON validation call it.

Limits (``ExactTooLarge`` beyond them): MAX_EXACT_STATES = 64 (product) states,
MAX_EXACT_T = 16 window positions, MAX_SUM_WORK = B·(L+1+T)·k² ≤ 4e7 for the sum route,
MAX_ENUM_PATHS = 3e5 hidden paths in all for enumeration, MAX_PROMPT_SEARCH_STATES = 14
for C-PROMPT's exhaustive search. Memory models with N = 2 cells (m = 3, s ≤ 7) and T ≈ 4
fit.
"""

from verify.crosscheck import logspace
from verify.crosscheck.certificate import check_certificate, find_certificate
from verify.crosscheck.conditions import (
    MAX_PROMPT_SEARCH_STATES,
    ExactCondition,
    ExactPromptWitness,
    c_head,
    c_head_mu,
    c_mem_pool,
    c_mem_prompt,
    c_prompt,
    head_witness,
    memory_iid_witness,
    pooled_emissions,
    prompt_support,
    prompt_witness,
)
from verify.crosscheck.oracle import (
    MAX_ENUM_PATHS,
    MAX_EXACT_STATES,
    MAX_EXACT_T,
    MAX_SUM_WORK,
    RationalRows,
    labels,
    likelihood,
    loo_conditionals,
    mask_probe,
    memory_posterior,
    posterior_h0,
    prompt_likelihood,
    prompted_mask_probe,
    prompted_posterior,
    reversed_transition,
    scores,
)
from verify.crosscheck.rational import (
    MAX_DEN,
    ExactTooLarge,
    RationalHMM,
    RationalMemoryHMM,
    fraction_string,
    rational_model,
    to_fraction,
)

__all__ = [
    "MAX_DEN",
    "MAX_ENUM_PATHS",
    "MAX_EXACT_STATES",
    "MAX_EXACT_T",
    "MAX_PROMPT_SEARCH_STATES",
    "MAX_SUM_WORK",
    "ExactCondition",
    "ExactPromptWitness",
    "ExactTooLarge",
    "RationalHMM",
    "RationalMemoryHMM",
    "RationalRows",
    "c_head",
    "c_head_mu",
    "c_mem_pool",
    "c_mem_prompt",
    "c_prompt",
    "check_certificate",
    "find_certificate",
    "fraction_string",
    "head_witness",
    "labels",
    "likelihood",
    "logspace",
    "loo_conditionals",
    "mask_probe",
    "memory_iid_witness",
    "memory_posterior",
    "pooled_emissions",
    "posterior_h0",
    "prompt_likelihood",
    "prompt_support",
    "prompt_witness",
    "prompted_mask_probe",
    "prompted_posterior",
    "rational_model",
    "reversed_transition",
    "scores",
    "to_fraction",
]
