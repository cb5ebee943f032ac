"""The pretrained transformer MLM: training reduces its TV to the oracle (THEORY §2,
head.robust), checkpoints resume exactly, downstream features are distributions."""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pytest
import torch

from verify.claims import head_robust_check
from verify.core.generator import reference_hmm, reference_memory_hmm, reference_task, task_mu
from verify.core.inference import mask_probe, posterior_h0
from verify.core.models import HMM
from verify.core.validation import InputError
from verify.experiments.mlm import (
    CHECKPOINT,
    METADATA,
    MaskedLM,
    MLMConfig,
    WindowSampler,
    mask_distribution,
    mask_probe_tv,
    position_distributions,
    pretrain_mlm,
    window_shape,
)
from verify.recovery import robust_head_witnesses
from verify.recovery.training import Split, Splits, TrainConfig, train_prompt_mlm

TINY = dict(
    d_model=16,
    n_layers=1,
    n_heads=2,
    d_ff=32,
    max_len=24,
    seq_len=16,
    batch_size=16,
    min_len=8,
    eval_len=8,
    eval_size=32,
    lr=5e-3,
)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: tiny models on a shared CPU run ~10× faster than with two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_tv_to_oracle_decreases_with_training():
    hmm = reference_hmm(0, 4)
    xs, _ = hmm.sample(200, 12, np.random.default_rng(9))  # held-out inputs
    before, _ = pretrain_mlm(hmm, MLMConfig(steps=1, **TINY), device="cpu")
    after, res = pretrain_mlm(hmm, MLMConfig(steps=250, **TINY), device="cpu")
    tv0, tv1 = mask_probe_tv(before, hmm, xs), mask_probe_tv(after, hmm, xs)
    assert tv1 < tv0 - 0.15, (tv0, tv1)
    assert np.mean(res.losses[-20:]) < np.mean(res.losses[:20])
    assert res.tokens == sum(c["tokens"] for c in res.curve[-1:]) and res.tokens >= 250 * 16 * 8


@pytest.mark.parametrize("ema", [0.0, 0.8])
def test_checkpoint_resume_equals_uninterrupted(tmp_path, ema):
    hmm = reference_hmm(1, 3)
    cfg = MLMConfig(steps=12, checkpoint_every=5, eval_every=4, ema=ema, **TINY)
    full, whole = pretrain_mlm(hmm, cfg, device="cpu")
    interrupted = dataclasses.replace(cfg, stop_after=7)
    _, first = pretrain_mlm(hmm, interrupted, device="cpu", checkpoint_dir=tmp_path)
    assert first.steps == 7
    meta = json.loads((tmp_path / METADATA).read_text())
    assert meta["step"] == 7 and len(meta["losses"]) == 7
    assert [c["step"] for c in meta["curve"]] == [0, 4]
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)  # no pickle of objects
    assert set(state) == {"model", "optimizer", "scheduler"} | ({"ema"} if ema else set())
    resumed, second = pretrain_mlm(hmm, cfg, device="cpu", checkpoint_dir=tmp_path)
    assert second.resumed_from == 7 and second.steps == 12
    # the TV curve continues across the interruption and equals the uninterrupted one
    assert [c["step"] for c in second.curve] == [0, 4, 8, 12]
    assert [c["tv"] for c in second.curve] == [c["tv"] for c in whole.curve]
    assert [c["tokens"] for c in second.curve] == [c["tokens"] for c in whole.curve]
    assert second.losses == whole.losses
    for (name, a), (_, b) in zip(
        full.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    if ema:  # what is returned and measured is the weight average, not the last iterate
        last, _ = pretrain_mlm(hmm, MLMConfig(**{**cfg.__dict__, "ema": 0.0}), "cpu")
        assert not torch.equal(last.decoder.weight, full.decoder.weight)
        return
    # a different config (also a different schedule length) does not pick up the checkpoint
    other, third = pretrain_mlm(hmm, MLMConfig(steps=3, **{**TINY, "lr": 1e-3}), "cpu", tmp_path)
    assert third.resumed_from == 0
    _, fourth = pretrain_mlm(hmm, MLMConfig(steps=20, **TINY), "cpu", tmp_path)
    assert fourth.resumed_from == 0


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


@pytest.mark.parametrize("n_layers", [1, 2])
def test_forward_at_one_position_equals_the_full_forward(n_layers):
    """forward_at (last layer for one query) is forward_embeds(...)[:, pos] to float32
    rounding, gradients included (prompt tuning backpropagates through it)."""
    torch.manual_seed(0)
    net = MaskedLM(10, MLMConfig(**{**TINY, "n_layers": n_layers}))
    x = torch.randint(0, 11, (6, 20))
    for pos in (0, 7, 19):
        emb = net.embed(x).detach().requires_grad_(True)
        full = net.forward_embeds(emb)[:, pos]
        (g_full,) = torch.autograd.grad(full.square().sum(), emb)
        emb2 = emb.detach().requires_grad_(True)
        one = net.forward_at(emb2, pos)
        (g_one,) = torch.autograd.grad(one.square().sum(), emb2)
        torch.testing.assert_close(one, full, rtol=0, atol=1e-5)
        torch.testing.assert_close(g_one, g_full, rtol=0, atol=1e-5)
    with pytest.raises(InputError, match="max_len"):
        net.forward_at(net.embed(torch.zeros((1, 30), dtype=torch.long)), 0)


@pytest.mark.parametrize("n_layers, d_ff_last", [(1, 0), (2, 0), (2, 96)])
def test_masked_logits_are_the_full_forwards_masked_rows(n_layers, d_ff_last):
    """Pretraining's step (masked_logits: probe-only windows get the last layer at
    position 0 alone) computes the same masked logits, loss and parameter gradients as
    ``forward(x)[mask]`` — a result-neutral speed-up — on a batch mixing probe-only windows,
    windows with interior masks, and windows with no mask at all."""
    torch.manual_seed(0)
    net = MaskedLM(10, MLMConfig(**{**TINY, "n_layers": n_layers, "d_ff_last": d_ff_last}))
    widths = [layer.linear1.out_features for layer in net.encoder.layers]
    assert widths == [TINY["d_ff"]] * (n_layers - 1) + [d_ff_last or TINY["d_ff"]]
    x = torch.randint(0, 10, (7, 12))
    mask = torch.zeros(7, 12, dtype=torch.bool)
    mask[[0, 1, 2, 3], 0] = True  # 0, 1: probe-only
    mask[2, [3, 8]] = True  # 2, 3: the probe and interior masks
    mask[3, 11] = True
    mask[4, [1, 5]] = True  # 4: interior masks only; 5, 6: none
    tgt = torch.randint(0, 10, (7, 12))
    inputs = x.masked_fill(mask, net.mask_id)
    logits, index = net.masked_logits(inputs, mask)
    assert sorted(index.tolist()) == torch.nonzero(mask.flatten())[:, 0].tolist()
    full = net(inputs).flatten(0, 1)[index]
    torch.testing.assert_close(logits, full, rtol=0, atol=1e-5)
    params = list(net.parameters())
    loss = torch.nn.functional.cross_entropy(logits, tgt.flatten()[index])
    ref = torch.nn.functional.cross_entropy(net(inputs)[mask], tgt[mask])
    torch.testing.assert_close(loss, ref, rtol=0, atol=1e-6)
    for a, b in zip(
        torch.autograd.grad(loss, params), torch.autograd.grad(ref, params), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_bad_config_and_inputs():
    with pytest.raises(ValueError, match="n_heads"):
        MLMConfig(d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="mask_rate"):
        MLMConfig(mask_rate=0.0)
    with pytest.raises(ValueError, match="steps"):
        MLMConfig(steps=0)
    with pytest.raises(ValueError, match="seq_len"):
        MLMConfig(seq_len=500, max_len=100)
    with pytest.raises(ValueError, match="mask_first"):
        MLMConfig(mask_first=False, probe_share=0.5)
    with pytest.raises(ValueError, match="ema"):
        MLMConfig(ema=1.0)
    with pytest.raises(ValueError, match="min_len"):
        MLMConfig(min_len=90, seq_len=80, max_len=80)
    with pytest.raises(ValueError, match="eval_len"):
        MLMConfig(eval_len=80, max_len=80)
    with pytest.raises(ValueError, match="eval_every"):
        MLMConfig(eval_every=-1)
    with pytest.raises(ValueError, match="warmup"):
        MLMConfig(warmup=1.0)
    hmm = reference_hmm(0, 3)
    with pytest.raises(ValueError, match="device"):
        pretrain_mlm(hmm, MLMConfig(steps=1, **TINY), device="gpu")
    net, _ = pretrain_mlm(hmm, MLMConfig(steps=1, **TINY), device="cpu")
    xs, _ = hmm.sample(2, 40, 0)
    with pytest.raises(ValueError, match="max_len"):
        mask_distribution(net, xs)


@pytest.mark.parametrize("floor", [0.1, 0.01])
def test_lr_warms_up_then_decays_by_cosine_to_its_floor(tmp_path, floor):
    """The learning rate the optimiser holds after t steps (read from the checkpoint):
    linear warm-up over warmup·steps, then ``lr·(f + (1 − f)(1 + cos πs)/2)`` with s the
    fraction of the decay done, ending at ``lr_floor·lr``."""
    hmm = reference_hmm(0, 3)
    cfg = MLMConfig(**{**TINY, "steps": 40, "warmup": 0.1, "lr_floor": floor, "eval_size": 4})
    for t in (2, 22, 40):
        pretrain_mlm(hmm, dataclasses.replace(cfg, stop_after=t), "cpu", tmp_path)
        got = torch.load(tmp_path / CHECKPOINT, weights_only=True)["scheduler"]["_last_lr"][0]
        s = (t - 4) / 36
        want = (t + 1) / 4 if t < 4 else floor + (1 - floor) * (1 + np.cos(np.pi * s)) / 2
        assert got == pytest.approx(cfg.lr * want, rel=1e-12), t
    with pytest.raises(ValueError, match="lr_floor"):
        MLMConfig(lr_floor=1.5)


def test_window_shapes_are_log_uniform_with_constant_tokens_per_step():
    cfg = MLMConfig(batch_size=24, seq_len=80, min_len=6, max_len=80)
    shapes = [window_shape(cfg, u) for u in np.linspace(0, 1, 2001, endpoint=False)]
    lengths = np.array([L for L, _ in shapes])
    assert lengths.min() == 6 and lengths.max() == 80
    assert np.all(np.diff(lengths) >= 0)
    for L, B in shapes:  # about batch_size · seq_len tokens in every step
        assert 24 * 80 - L < B * L <= 24 * 80
    # log-uniform: as many steps below the geometric mean √(6·81) ≈ 22 as above it
    assert abs(np.mean(lengths < 22) - 0.5) < 0.02
    one = MLMConfig(batch_size=3, seq_len=8, min_len=8, max_len=8, eval_len=4)
    assert window_shape(one, 0.99) == (8, 3)


def test_window_skew_buys_more_probe_windows_for_the_same_tokens():
    """window_skew = s draws L = ⌊min_len·((seq_len+1)/min_len)^(u^s)⌋: s = 1 is the
    log-uniform law above; s = 2 puts more steps on short windows (P(L < 22) = √½ ≈ 0.71),
    so a step holds more windows (mask-probe examples) for the same tokens, and every
    length stays reachable."""
    us = np.linspace(0, 1, 4001, endpoint=False)
    base = MLMConfig(batch_size=24, seq_len=80, min_len=6, max_len=80)
    skew = MLMConfig(batch_size=24, seq_len=80, min_len=6, max_len=80, window_skew=2.0)
    plain = [window_shape(base, u) for u in us]
    tilted = [window_shape(skew, u) for u in us]
    assert plain == [window_shape(dataclasses.replace(base, window_skew=1.0), u) for u in us]
    lengths = np.array([L for L, _ in tilted])
    assert lengths.min() == 6 and lengths.max() == 80
    assert abs(np.mean(lengths < 22) - np.sqrt(0.5)) < 0.02
    for L, B in tilted:
        assert 24 * 80 - L < B * L <= 24 * 80
    windows = np.mean([B for _, B in tilted]) / np.mean([B for _, B in plain])
    assert 1.3 < windows < 2.0
    for bad in (0.5, 9.0, float("nan")):
        with pytest.raises(InputError, match="window_skew"):
            dataclasses.replace(base, window_skew=bad)
    with pytest.raises(InputError, match="d_ff_last"):
        dataclasses.replace(base, d_ff_last=-1)


def test_fresh_windows_are_deterministic_per_step_and_follow_the_hmm():
    hmm = reference_hmm(3, 6)
    cfg = MLMConfig(
        batch_size=64, seq_len=24, min_len=12, max_len=24, eval_len=8, mask_rate=0.2, seed=5
    )
    a = WindowSampler(hmm, cfg, torch.device("cpu"))
    b = WindowSampler(hmm, cfg, torch.device("cpu"))
    for step in (0, 7, 3):  # any order: batch t depends on (seed, t) only
        for x, y in zip(a.batch(step), b.batch(step), strict=True):
            assert torch.equal(x, y)
    t0, x0, m0 = a.batch(0)
    t1, _, _ = a.batch(1)
    assert not (t0.shape == t1.shape and torch.equal(t0, t1))  # fresh every step
    other = WindowSampler(hmm, MLMConfig(**{**cfg.__dict__, "seed": 6}), torch.device("cpu"))
    assert not torch.equal(other.batch(0)[0][:, :12], t0[:, :12])
    lengths = {a.batch(s)[0].shape[1] for s in range(40)}
    assert min(lengths) >= 12 and max(lengths) <= 24 and len(lengths) > 3
    assert m0[:, 0].all() and torch.equal(x0[m0], torch.full_like(x0[m0], hmm.n_tokens))
    assert torch.equal(x0[~m0], t0[~m0])
    # cross-check against the chain: with identity emissions tokens are the states, so the
    # empirical start law and transition counts estimate start and A
    k = 4
    A = np.random.default_rng(0).dirichlet(np.ones(k), size=k)
    start = np.array([0.1, 0.2, 0.3, 0.4])
    chain = HMM(start, A, np.eye(k))
    s = WindowSampler(
        chain,
        MLMConfig(batch_size=4000, seq_len=8, min_len=8, max_len=8, eval_len=4),
        torch.device("cpu"),
    )
    toks = s.batch(0)[0].numpy()
    np.testing.assert_allclose(np.bincount(toks[:, 0], minlength=k) / 4000, start, atol=0.03)
    counts = np.zeros((k, k))
    np.add.at(counts, (toks[:, :-1].ravel(), toks[:, 1:].ravel()), 1)
    np.testing.assert_allclose(counts / counts.sum(1, keepdims=True), A, atol=0.03)


def test_memory_mlm_curve_measures_loo_conditionals():
    mem = reference_memory_hmm(0, 2, 4, 10)
    cfg = MLMConfig(steps=6, eval_every=3, **TINY)
    net, res = pretrain_mlm(mem, cfg, device="cpu")
    assert [c["step"] for c in res.curve] == [0, 3, 6]
    assert all(0.0 <= c["tv"] <= 1.0 for c in res.curve)
    times = [c["time_s"] for c in res.curve]
    assert times == sorted(times) and res.curve[-1]["tokens"] == res.tokens
    assert res.final_tv == res.curve[-1]["tv"]


def test_head_robust_is_pointwise_and_flags_a_violation(monkeypatch):
    hmm = reference_hmm(0, 4)
    mu = task_mu(reference_task(0, 4))
    xs, _ = hmm.sample(300, 16, np.random.default_rng(1))
    G = mask_probe(hmm, xs)
    exact = head_robust_check(hmm, mu, G, xs)
    assert exact["violations"] == 0 and exact["total"] == 300
    assert exact["fraction"] > 0.99 and exact["tv"] < 1e-12  # ε = 0: every x with μᵀp ≠ 0
    b_star = np.linalg.pinv(hmm.W).T @ mu
    assert exact["b_span_pinv"] == pytest.approx((b_star.max() - b_star.min()) / 2)
    # a noisy Ĝ: fewer inputs qualify, each by its own ε(x); still no violation (Hölder)
    noise = np.random.default_rng(2).dirichlet(np.ones(10), size=300)
    noisy = head_robust_check(hmm, mu, 0.9 * G + 0.1 * noise, xs)
    assert noisy["violations"] == 0 and noisy["covered"] < exact["covered"]
    # the span constant (max b − min b)/2 ≤ ‖b‖_∞ qualifies at least as many inputs
    assert noisy["fraction"] >= noisy["fraction_inf"]
    # pointwise, not by the mean ε: an input whose own error is large is not covered
    G_bad = G.copy()
    G_bad[0] = np.roll(G[0], 1)
    one = head_robust_check(hmm, mu, G_bad, xs)
    assert one["covered"] >= exact["covered"] - 1
    # k > n: W has no left inverse and b*ᵀG ≠ μᵀp; the mismatch term keeps every head's
    # promise (0 violations) ...
    wide = reference_hmm(0, 12, 3)
    wmu = task_mu(reference_task(0, 12))
    wx, _ = wide.sample(400, 16, np.random.default_rng(3))
    wG = mask_probe(wide, wx)
    assert head_robust_check(wide, wmu, wG, wx)["violations"] == 0
    # ... and a head that hides its mismatch (claims Wᵀb = μ) is caught on those inputs
    import verify.claims._head_robust as check_module

    def lying(hmm_, mu_):
        return [dataclasses.replace(w, mismatch=0 * w.mismatch)
                for w in robust_head_witnesses(hmm_, mu_)]  # fmt: skip

    monkeypatch.setattr(check_module, "robust_head_witnesses", lying)
    assert head_robust_check(wide, wmu, wG, wx)["violations"] > 0


def test_head_robust_qualifies_inputs_when_w_is_nearly_rank_deficient():
    """The reference generator's τ = 0.01 emissions are near one-hot, so two of k = 8
    states often share a token and σ_min(W) ~ 1e-8 (seed 0): b* then has ‖b*‖_∞ ~ 5e7 and
    qualifies nothing at TV 0.02, while a truncated head qualifies most inputs."""
    hmm = reference_hmm(0, 8)
    mu = task_mu(reference_task(0, 8))
    xs, _ = hmm.sample(400, 32, np.random.default_rng(1))
    noise = np.random.default_rng(2).dirichlet(np.ones(10), size=400)
    chk = head_robust_check(hmm, mu, 0.98 * mask_probe(hmm, xs) + 0.02 * noise, xs)
    assert chk["b_span_pinv"] > 1e6 and chk["fraction_pinv"] == 0.0
    assert chk["fraction"] > 0.5 and chk["b_span"] < 10 and chk["violations"] == 0


def test_the_cuda_path_runs_on_cpu_with_autocast():
    """amp=True is what CUDA runs by default: the same code (sampler on the device, bf16
    autocast of the encoder's forward) exercised here on the CPU; outputs stay float64."""
    hmm = reference_hmm(0, 4)
    cfg = MLMConfig(steps=4, eval_every=2, **TINY)
    net, res = pretrain_mlm(hmm, dataclasses.replace(cfg, amp=True), device="cpu")
    assert np.isfinite(res.losses).all() and len(res.curve) == 3
    G = mask_distribution(net, hmm.sample(5, 8, 0)[0])
    assert G.dtype == np.float64
    np.testing.assert_allclose(G.sum(1), 1.0, atol=1e-9)
    _, plain = pretrain_mlm(hmm, cfg, device="cpu")
    assert plain.losses != res.losses  # autocast really changed the arithmetic


@pytest.mark.parametrize("damage", ["truncated", "metadata"])
def test_a_damaged_checkpoint_is_named_and_retrained(tmp_path, caplog, damage):
    """A checkpoint cut short (or its metadata not JSON) is reported by name and pretraining
    starts over, giving the same network as a run without it; never an internal error."""
    hmm = reference_hmm(1, 3)
    cfg = MLMConfig(steps=6, checkpoint_every=3, eval_every=0, **TINY)
    fresh, _ = pretrain_mlm(hmm, cfg, device="cpu")
    pretrain_mlm(hmm, dataclasses.replace(cfg, stop_after=3), "cpu", checkpoint_dir=tmp_path)
    if damage == "truncated":
        ckpt = tmp_path / CHECKPOINT
        ckpt.write_bytes(ckpt.read_bytes()[:100])
    else:
        (tmp_path / METADATA).write_text("{not json", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="verify")
    net, res = pretrain_mlm(hmm, cfg, device="cpu", checkpoint_dir=tmp_path)
    assert res.resumed_from == 0 and res.steps == 6
    assert str(tmp_path / CHECKPOINT) in caplog.text and "damaged" in caplog.text
    for (name, a), (_, b) in zip(fresh.state_dict().items(), net.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_prompt_tuning_restores_the_backbone_even_when_it_fails():
    """The backbone is frozen for the call only: trainable again afterwards, also when
    training raises (bad splits), and a frozen parameter stays frozen."""
    hmm = reference_hmm(0, 3)
    net, _ = pretrain_mlm(hmm, MLMConfig(steps=1, **TINY), device="cpu")
    frozen = next(net.parameters())
    frozen.requires_grad_(False)
    xs, _ = hmm.sample(20, 6, np.random.default_rng(0))
    y = np.where(np.arange(20) % 2, 1.0, -1.0)
    bad = Splits(Split(xs, y), Split(xs, y[:3]), Split(xs, y))  # val labels do not match
    with pytest.raises(Exception):  # noqa: B017 - any error; what matters is the cleanup
        train_prompt_mlm(net, bad, TrainConfig(max_epochs=1), n_prompt=1)
    flags = [p.requires_grad for p in net.parameters()]
    assert not flags[0] and all(flags[1:])
