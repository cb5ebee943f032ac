"""The asymptotic claims' decision rule (memory.pool, memory.prompt_limit; THEORY §5
memory.pool): falsified only on evidence against the limit, inconclusive when the ladder of
input lengths is too short, never a pass on a fixed finite-T accuracy threshold."""

from __future__ import annotations

import numpy as np
import pytest

from verify.claims import _ladder as ladder
from verify.claims import registry
from verify.recovery import witnesses

registry.load_builtin()
MU = np.array([1.0, -0.5])
RUNGS = (64, 256, 1024, 4096)


def synthetic(bias: float, scale: float, seed: int = 0):
    """A score ``f_T = μ_M + bias·μ_M + scale·N(0,1)/√T`` over 300 sequences."""

    def score(T: int):
        rng = np.random.default_rng([seed, T])
        target = MU[rng.integers(0, 2, 300)]
        return target * (1 + bias) + scale * rng.standard_normal(300) / np.sqrt(T), target

    return score


def test_a_converging_score_passes():
    status, message, q = ladder.ladder_decision(synthetic(0.0, 2.0), MU, RUNGS, 2.0)
    assert status == "pass", message
    assert q["rate_ratio"] < 1.5


def test_a_biased_score_is_falsified_although_every_sign_is_right():
    # the head converges to 0.6·μ_M: every label is right (a finite-T accuracy threshold
    # passes it), but the limit the statement names is missed
    status, message, _ = ladder.ladder_decision(synthetic(-0.4, 2.0), MU, RUNGS, 2.0)
    assert status == "fail" and "rate" in message


def test_a_slow_instance_is_inconclusive_at_t_max_not_falsified():
    # noise so large that the accuracy bound needs T* beyond the ladder (seed 80's shape)
    status, message, q = ladder.ladder_decision(synthetic(0.0, 60.0), MU * 0.1, RUNGS, 2.0)
    assert status == "inconclusive", message
    assert "inconclusive at T = 4096" in message and q["T_star"] > 4096


def test_a_ladder_shorter_than_the_mixing_time_is_inconclusive():
    status, message, _ = ladder.ladder_decision(synthetic(0.0, 2.0), MU, RUNGS, 100.0)
    assert status == "inconclusive" and "mixing" in message


def test_accuracy_below_the_predicted_level_at_t_star_is_falsified():
    # the error shrinks, but the sign is wrong on a fixed 30% of sequences at every T:
    # the error scale at the low rung predicts ≥ 0.9 long before T_max
    def score(T: int):
        rng = np.random.default_rng([1, T])
        target = MU[rng.integers(0, 2, 300)]
        f = target + 0.01 * rng.standard_normal(300) / np.sqrt(T)
        flip = np.arange(300) < 90
        return np.where(flip, -np.sign(target) * 1e-9 * np.sqrt(64 / T), f), target

    status, message, _ = ladder.ladder_decision(score, MU, RUNGS, 2.0)
    assert status == "fail", message


def test_seed_80_of_the_thorough_profile_is_not_falsified():
    # reference generator, m = 3, μ = (3.48, 0.73, −0.18): 0.837 at T = 256, 0.977 at 4096
    out = registry.get("memory.pool").check({"seed": 80})
    assert out.status == "inconclusive", out.message
    assert out.message.startswith("inconclusive at T = 4096: T* = ")


@pytest.mark.parametrize("bug", ["half head", "own token pooled"])
def test_planted_wrong_head_or_pooling_is_falsified(bug: str, monkeypatch):
    """The new rule catches bugs a finite-T accuracy threshold passes: a head scaled by ½
    keeps every sign; pooling that also averages the mask probe G(x) stays accurate."""
    real = witnesses.pooled_witness
    if bug == "half head":

        def planted(mem, mu, cell=0):
            w = real(mem, mu, cell)
            return type(w)(0.5 * w.b, w.mu, w.cell, w.matrix, w.residual, w.kind)

        monkeypatch.setattr(witnesses, "pooled_witness", planted)
    else:
        real_feats = witnesses.MemoryHeadWitness.features

        def planted_feats(self, model, xs):
            # the head reads half the pooled G_i and half the mask probe G(x)
            from verify.core.inference import mask_probe, product_hmm

            out = real_feats(self, model, xs)
            if self.kind == "pool":
                out = 0.5 * out + 0.5 * np.asarray(mask_probe(product_hmm(model), xs))
            return out

        monkeypatch.setattr(witnesses.MemoryHeadWitness, "features", planted_feats)
    out = registry.get("memory.pool").check({"seed": 0})
    assert out.status == "fail", out.message
    assert "does not shrink at the limit's rate" in out.message


def test_memory_pool_passes_on_a_correct_tree():
    out = registry.get("memory.pool").check({"seed": 0})
    assert out.status == "pass", out.message


def test_sizes_report_the_longest_t_actually_run():
    # seed 0 is decided at T = 1024 (rate over 64 → 1024, accuracy at T* ≤ 256): its size
    # T is what it ran, not the ladder's upper bound 4096
    out = registry.get("memory.pool").check({"seed": 0})
    assert out.status == "pass" and out.sizes["T"] == 1024 == out.quantities["T_reached"]


def test_a_chain_that_is_not_ergodic_is_outside_the_premise():
    assert ladder.relaxation_time(np.array([[0.0, 1.0], [1.0, 0.0]])) == float("inf")
    out = registry.get("memory.pool").check({"seed": 108})  # |λ₂| = 1 on this seed
    assert out.status == "discard" and "not ergodic" in out.message
