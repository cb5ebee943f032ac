"""Hypothesis strategies for ptverify (THEORY §3, §5, §7, §8).

Every strategy returns plain values (``HMM``/``MemoryHMM`` objects, numpy arrays, small
NamedTuples) and states its guarantee in its docstring; satisfying instances keep a
σ_min floor (SIGMA_FLOOR), violating instances are built exactly. Probabilities are ratios
of small integers, so shrunk counterexamples read like ``[[1/2, 1/2], [1, 0]]``.
The built-in claims' instance families (frozen dataclasses, :mod:`strategies.instance`) and
their generators are in :mod:`strategies.head_claims`, :mod:`strategies.prompt_claims` and
:mod:`strategies.memory_claims`.
"""

from strategies.blocks import (
    MAX_EXHAUSTIVE,
    MAX_WEIGHT,
    SIGMA_FLOOR,
    exhaustive_inputs,
    input_set,
    input_sets,
    normalise,
    probability_vectors,
    stochastic_matrices,
    weight_arrays,
)
from strategies.hmm import (
    HEAD_VIOLATIONS,
    MARGIN_FLOOR,
    TRANSITION_STYLES,
    PromptInstance,
    TaskInstance,
    balance_task,
    hmms,
    prompt_instances,
    task_instances,
    tasks,
    transitions,
)
from strategies.memory import (
    STATE_STYLES,
    MemoryInstance,
    memory_hmms,
    memory_instances,
    memory_tasks,
)
from strategies.reference import (
    reference_hmms,
    reference_memory_hmms,
    reference_memory_tasks,
    reference_tasks,
)

__all__ = [
    "HEAD_VIOLATIONS",
    "MARGIN_FLOOR",
    "MAX_EXHAUSTIVE",
    "MAX_WEIGHT",
    "SIGMA_FLOOR",
    "STATE_STYLES",
    "TRANSITION_STYLES",
    "MemoryInstance",
    "PromptInstance",
    "TaskInstance",
    "balance_task",
    "exhaustive_inputs",
    "hmms",
    "input_set",
    "input_sets",
    "memory_hmms",
    "memory_instances",
    "memory_tasks",
    "normalise",
    "probability_vectors",
    "prompt_instances",
    "reference_hmms",
    "reference_memory_hmms",
    "reference_memory_tasks",
    "reference_tasks",
    "stochastic_matrices",
    "task_instances",
    "tasks",
    "transitions",
    "weight_arrays",
]
