"""Generation rate of every strategy (examples per second), for the issue's cost budget.

``python -c "from verify.bench.strategies import run; run()"``; ``quick=True`` draws fewer
examples (used by the test suite).
"""

from __future__ import annotations

import time

from hypothesis import given, settings

import strategies as S

#: name → strategy; the claims engine draws from these (conditions as in their docstrings).
STRATEGIES = {
    "hmms": S.hmms(),
    "hmms[sat C-HEAD]": S.hmms(satisfying="C-HEAD"),
    "hmms[vio C-HEAD]": S.hmms(violating="C-HEAD"),
    "task_instances": S.task_instances(),
    "prompt_instances": S.prompt_instances(),
    "prompt_instances[T]": S.prompt_instances(T=(1, 3)),
    "memory_instances[sat POOL]": S.memory_instances(satisfying="C-MEM-POOL"),
    "memory_instances[vio POOL]": S.memory_instances(violating="C-MEM-POOL"),
    "memory_instances[sat PROMPT]": S.memory_instances(satisfying="C-MEM-PROMPT"),
    "memory_instances[vio PROMPT]": S.memory_instances(violating="C-MEM-PROMPT"),
    "memory_instances[PROMPT, not POOL]": S.memory_instances(
        satisfying="C-MEM-PROMPT", violating="C-MEM-POOL"
    ),
    "reference_hmms": S.reference_hmms(),
    "reference_memory_hmms": S.reference_memory_hmms(),
}


def rate(strategy, n_examples: int) -> float:
    """Examples per second drawing ``n_examples`` through ``@given`` (generation only)."""
    count = 0

    @settings(max_examples=n_examples, deadline=None, database=None)
    @given(strategy)
    def draw(_example) -> None:
        nonlocal count
        count += 1

    t0 = time.perf_counter()
    draw()
    return count / (time.perf_counter() - t0)


def run(quick: bool = False) -> None:
    """Print ``<name>  <rate> ex/s`` for every strategy in :data:`STRATEGIES`."""
    n_examples = 20 if quick else 300
    width = max(len(name) for name in STRATEGIES)
    for name, strategy in STRATEGIES.items():
        print(f"{name:<{width}}  {rate(strategy, n_examples):8.1f} ex/s")


if __name__ == "__main__":
    run()
