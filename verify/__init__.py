"""ptverify: property-based verification of the recovery theorems of Wei, Xie & Ma (2021).

Layers, imported downward only (import-linter contracts in pyproject.toml):
``cli`` > ``bench`` > ``experiments`` > ``reports`` > ``harness`` > ``claims`` >
``strategies`` > ``recovery`` | ``crosscheck`` > ``core``. Claim IDs and notation follow
``shared/THEORY.md``.
"""

from verify.core.inference import (
    log_likelihood,
    loo_conditionals,
    mask_probe,
    memory_posterior,
    posterior_h0,
    prompt_likelihood,
    prompted_mask_probe,
    reversed_transition,
    smoothed_posteriors,
)
from verify.core.models import HMM, HMMParams, MemoryHMM

__version__ = "0.1.0"

__all__ = [
    "HMM",
    "HMMParams",
    "MemoryHMM",
    "log_likelihood",
    "loo_conditionals",
    "mask_probe",
    "memory_posterior",
    "posterior_h0",
    "prompt_likelihood",
    "prompted_mask_probe",
    "reversed_transition",
    "smoothed_posteriors",
]
