"""The gate covers the public API: every function that ``check``, the sweep, ``reproduce``
and ``find_prompt`` use to reach a verdict lies on some claim's route (issue 24). The
claims are run on a few examples each with a profiler that records every function of
``verify`` they call; the test lists what each claim exercises and fails naming any
verdict function no claim reaches."""

from __future__ import annotations

import sys
from collections import defaultdict

from verify.claims import registry
from verify.harness.runner import run_claim

#: The functions the user-facing commands decide with (module, qualified name):
#: check (verify.recovery.analysis), the sweep (verify.experiments.sweep.evaluate),
#: find_prompt (verify.recovery.prompt_search) and reproduce's head.robust check.
VERDICT_FUNCTIONS = {
    ("verify.core.task", "decide"),
    ("verify.core.task", "classify"),
    ("verify.core.task", "exact_scores"),
    ("verify.core.task", "labels"),
    ("verify.core.conditions", "c_head"),
    ("verify.core.conditions", "c_head_mu"),
    ("verify.core.conditions", "c_prompt"),
    ("verify.core.conditions", "c_mem_iid"),
    ("verify.core.conditions", "c_mem_pool"),
    ("verify.core.conditions", "c_mem_prompt"),
    ("verify.core.inference", "mask_probe"),
    ("verify.core.inference", "prompted_mask_probe"),
    ("verify.core.inference", "posterior_h0"),
    ("verify.core.inference", "memory_posterior"),
    ("verify.recovery.lp", "max_margin_head"),
    ("verify.recovery.witnesses", "head_witness"),
    ("verify.recovery.witnesses", "HeadWitness.decision_values"),
    ("verify.recovery.witnesses", "HeadWitness.robust_threshold"),
    ("verify.recovery.witnesses", "robust_head_witnesses"),
    ("verify.recovery.witnesses", "prompt_witness"),
    ("verify.recovery.witnesses", "PromptWitness.margin_bound"),
    ("verify.recovery.witnesses", "pooled_features"),
    ("verify.recovery.witnesses", "pooled_witness"),
    ("verify.recovery.witnesses", "memory_prompt_witness"),
    ("verify.recovery.witnesses", "MemoryHeadWitness.decision_values"),
    ("verify.claims._head_robust", "head_robust_check"),
}
#: Claims left out of the trace (torch training; their routes are the trainers, not
#: verdict functions of the commands above) — run by the gate itself.
SKIP = {"prompt.trained", "memory.attention"}
EXAMPLES = 4


def _trace(claim_id: str) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()

    def prof(frame, event, arg):  # noqa: ARG001 - sys.setprofile's signature
        if event == "call":
            mod = frame.f_globals.get("__name__", "")
            if mod.startswith("verify."):
                seen.add((mod, frame.f_code.co_qualname))

    sys.setprofile(prof)
    try:
        run_claim(claim_id, "ci", examples=EXAMPLES)
    finally:
        sys.setprofile(None)
    return seen


def test_every_verdict_function_is_on_some_claims_route():
    registry.load_builtin()
    exercised: dict[tuple[str, str], list[str]] = defaultdict(list)
    ids = [c.id for c in registry.all_claims() if c.id not in SKIP]
    assert ids, "no claims registered"
    for cid in ids:
        for fn in _trace(cid) & VERDICT_FUNCTIONS:
            exercised[fn].append(cid)
    missing = sorted(VERDICT_FUNCTIONS - set(exercised))
    table = "\n".join(f"{m}.{f}: {', '.join(sorted(c))}" for (m, f), c in sorted(exercised.items()))
    assert not missing, f"verdict functions on no claim's route: {missing}\nexercised:\n{table}"
