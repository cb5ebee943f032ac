"""Recovery oracles (THEORY §4–§6): constructive witnesses, the max-margin LP with dual
certificates (every answer re-verified in float64), and prompt search."""

from .lp import (
    DEFAULT_SOLVERS,
    INCONCLUSIVE,
    NOT_RECOVERABLE,
    RECOVERABLE,
    LPResult,
    LPStatus,
    RawSolution,
    cvxpy_solver,
    max_margin_head,
)
from .prompt_search import PromptSearchResult, find_prompt
from .witnesses import (
    HeadWitness,
    MemoryHeadWitness,
    PromptWitness,
    head_witness,
    memory_iid_witness,
    memory_prompt_witness,
    pooled_features,
    pooled_witness,
    prompt_witness,
    robust_head_witnesses,
    robust_prompt_witness,
    rowspace_head_witness,
)

__all__ = [
    "DEFAULT_SOLVERS",
    "INCONCLUSIVE",
    "NOT_RECOVERABLE",
    "RECOVERABLE",
    "HeadWitness",
    "LPResult",
    "LPStatus",
    "MemoryHeadWitness",
    "PromptSearchResult",
    "PromptWitness",
    "RawSolution",
    "cvxpy_solver",
    "find_prompt",
    "head_witness",
    "max_margin_head",
    "memory_iid_witness",
    "memory_prompt_witness",
    "pooled_features",
    "pooled_witness",
    "prompt_witness",
    "robust_head_witnesses",
    "robust_prompt_witness",
    "rowspace_head_witness",
]
