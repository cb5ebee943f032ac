"""The pretrained transformer MLM: training reduces its TV to the oracle (THEORY §2,
head.robust), checkpoints resume exactly, downstream features are distributions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from verify.inference import posterior_h0
from verify.mlm import (
    CHECKPOINT,
    METADATA,
    MLMConfig,
    mask_distribution,
    mask_probe_tv,
    position_distributions,
    pretrain_mlm,
    train_prompt_mlm,
)
from verify.reference import reference_hmm, reference_task, task_mu
from verify.training import Split, Splits, TrainConfig

TINY = dict(
    d_model=16,
    n_layers=1,
    n_heads=2,
    d_ff=32,
    max_len=24,
    seq_len=16,
    batch_size=16,
    corpus_sequences=16,
    corpus_length=64,
    lr=5e-3,
)


def test_tv_to_oracle_decreases_with_training():
    hmm = reference_hmm(0, 4)
    xs, _ = hmm.sample(200, 12, np.random.default_rng(9))  # held-out inputs
    before, _ = pretrain_mlm(hmm, MLMConfig(steps=1, **TINY), device="cpu")
    after, res = pretrain_mlm(hmm, MLMConfig(steps=250, **TINY), device="cpu")
    tv0, tv1 = mask_probe_tv(before, hmm, xs), mask_probe_tv(after, hmm, xs)
    assert tv1 < tv0 - 0.15, (tv0, tv1)
    assert np.mean(res.losses[-20:]) < np.mean(res.losses[:20])
    assert res.tokens == 250 * 16 * 16


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    hmm = reference_hmm(1, 3)
    cfg = MLMConfig(steps=12, checkpoint_every=5, **TINY)
    full, _ = pretrain_mlm(hmm, cfg, device="cpu")
    _, first = pretrain_mlm(hmm, cfg, device="cpu", checkpoint_dir=tmp_path, stop_after=7)
    assert first.steps == 7
    meta = json.loads((tmp_path / METADATA).read_text())
    assert meta["step"] == 7 and len(meta["losses"]) == 7
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)  # no pickle of objects
    assert set(state) == {"model", "optimizer", "scheduler"}
    resumed, second = pretrain_mlm(hmm, cfg, device="cpu", checkpoint_dir=tmp_path)
    assert second.resumed_from == 7 and second.steps == 12
    for (name, a), (_, b) in zip(
        full.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    # a different config does not pick up the checkpoint
    other, third = pretrain_mlm(hmm, MLMConfig(steps=3, **{**TINY, "lr": 1e-3}), "cpu", tmp_path)
    assert third.resumed_from == 0


def test_downstream_features_are_distributions_and_prompt_tuning_is_deterministic():
    hmm = reference_hmm(2, 4)
    net, _ = pretrain_mlm(hmm, MLMConfig(steps=30, **TINY), device="cpu")
    mu = task_mu(reference_task(2, 4))
    splits = []
    for i, b in enumerate((60, 30, 30)):
        xs, _ = hmm.sample(b, 8, np.random.default_rng([2, i]))
        splits.append(Split(xs, np.where(posterior_h0(hmm, xs) @ mu > 0, 1.0, -1.0)))
    sp = Splits(*splits)
    G = mask_distribution(net, sp.test.xs)
    assert G.shape == (30, 10)
    np.testing.assert_allclose(G.sum(1), 1.0, atol=1e-9)
    Gi = position_distributions(net, sp.test.xs, stride=3)
    assert Gi.shape == (30, 8, 10)
    np.testing.assert_allclose(Gi.sum(-1), 1.0, atol=1e-9)
    cfg = TrainConfig(device="cpu", lr=0.01, max_epochs=4, batch_size=20, seed=3)
    a = train_prompt_mlm(net, sp, cfg, n_prompt=2)
    b = train_prompt_mlm(net, sp, cfg, n_prompt=2)
    assert a.params["prompt"].shape == (2, 16)
    np.testing.assert_array_equal(a.params["prompt"], b.params["prompt"])
    assert a.test_accuracy == b.test_accuracy
    assert all(p.requires_grad for p in net.parameters())  # backbone restored


def test_bad_config_and_inputs():
    with pytest.raises(ValueError, match="n_heads"):
        MLMConfig(d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="mask_rate"):
        MLMConfig(mask_rate=0.0)
    with pytest.raises(ValueError, match="steps"):
        MLMConfig(steps=0)
    with pytest.raises(ValueError, match="seq_len"):
        MLMConfig(seq_len=500, max_len=100)
    hmm = reference_hmm(0, 3)
    with pytest.raises(ValueError, match="device"):
        pretrain_mlm(hmm, MLMConfig(steps=1, **TINY), device="gpu")
    net, _ = pretrain_mlm(hmm, MLMConfig(steps=1, **TINY), device="cpu")
    xs, _ = hmm.sample(2, 40, 0)
    with pytest.raises(ValueError, match="max_len"):
        mask_distribution(net, xs)
