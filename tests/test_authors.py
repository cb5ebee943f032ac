"""``--convention authors``: the authors' pipeline pieces (verify.experiments.authors), each
against an independent route or a property that tells it from THEORY's convention, and a
tiny ``reproduce`` under both conventions (columns, truncation, labels, page)."""

from __future__ import annotations

import csv
import itertools
import json
import logging
from dataclasses import replace

import numpy as np
import pytest
import torch

from verify.core.generator import (
    PAPER_TAU,
    permutation_mixture,
    reference_hmm,
    reference_memory_hmm,
)
from verify.core.inference import posterior_h0
from verify.core.models import HMM
from verify.core.task import SPLIT_STREAM
from verify.core.validation import InputError
from verify.experiments import authors as A
from verify.experiments.mlm import MLMConfig
from verify.experiments.reproduce import PRESETS, Preset, _Runner, assess_shape, reproduce
from verify.recovery.training import TrainConfig


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_near_uniform_start_is_the_authors_softmax_at_temperature_10():
    for seed, k in ((0, 4), (3, 30)):
        pi = A.near_uniform_start(seed, k)
        np.testing.assert_array_equal(pi, A.near_uniform_start(seed, k))  # seeded
        assert pi.shape == (k,) and abs(pi.sum() - 1) < 1e-12
        # logits (U − ½)/10 ∈ [−0.05, 0.05]: ratios within e^0.1, but not uniform
        assert pi.max() / pi.min() <= np.exp(0.1) + 1e-12
        assert np.ptp(pi) > 1e-4
    hmm, ref = A.authors_hmm(2, 12), reference_hmm(2, 12)
    np.testing.assert_array_equal(hmm.transition, ref.transition)  # same chain …
    np.testing.assert_array_equal(hmm.emission, ref.emission)
    assert not np.allclose(hmm.start, ref.start)  # … other start


def test_task_weights_are_drawn_with_replacement():
    nnz30 = [np.count_nonzero(A.authors_weights(s, 30)) for s in range(200)]
    assert max(nnz30) == 6 and min(nnz30) < 6  # repeats happen (≈ 23% of seeds at 2k = 60)
    nnz2 = [np.count_nonzero(A.authors_weights(s, 2)) for s in range(50)]
    assert max(nnz2) == 4 and min(nnz2) < 4  # memory m = 2: at most the 4 entries
    w = A.authors_weights(7, 5)
    rng = np.random.default_rng(7)  # the draws, replayed: later ones overwrite
    pos, val = rng.integers(0, 10, size=6), rng.standard_normal(6)
    expect = np.zeros(10)
    for p, v in zip(pos, val, strict=True):
        expect[p] = v
    np.testing.assert_array_equal(w.ravel(), expect)


def _brute_p1(hmm: HMM, x: np.ndarray) -> np.ndarray:
    """P[H_1 | x] by enumerating every hidden path (independent of the recursions)."""
    k = hmm.n_states
    p = np.zeros(k)
    for path in itertools.product(range(k), repeat=len(x)):
        w = hmm.start[path[0]] * hmm.emission[path[0], x[0]]
        for t in range(1, len(x)):
            w *= hmm.transition[path[t - 1], path[t]] * hmm.emission[path[t], x[t]]
        p[path[0]] += w
    return p / p.sum()


def test_authors_scores_are_A_times_the_first_posterior_under_their_start():
    hmm = A.authors_hmm(1, 3, n_tokens=3)
    xs, _ = hmm.sample(6, 4, np.random.default_rng(0))
    got = A.authors_scores(hmm, xs)
    want = np.stack([hmm.transition @ _brute_p1(hmm, x) for x in xs])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # under the uniform (stationary) start the rule is THEORY's: A·P[H_1|x] = P[H_0|x]
    uni = HMM(np.full(3, 1 / 3), hmm.transition, hmm.emission)
    np.testing.assert_allclose(
        A.authors_scores(uni, xs), np.asarray(posterior_h0(uni, xs)), rtol=0, atol=1e-12
    )


def test_the_two_label_rules_disagree_on_some_inputs():
    """k = 12 > n, seed 3: at T = 2 the near-uniform start flips THEORY's label on ~9% of
    the inputs; at T = 64 the start is forgotten and the rules agree. The inputs whose
    score is below float resolution (μ vanishes on the states the posterior sits on) are
    label 0 under both rules — under argmax order they used to be class 0 or 1 by
    rounding, which read as a ~8% "disagreement" at T = 64. With a uniform start the rules
    agree on every input."""
    src, w = A.authors_hmm(3, 12), A.authors_weights(3, 12)
    short, _ = src.sample(2000, 2, np.random.default_rng(3))
    assert 0.02 < A.label_disagreement(src, w, short) < 0.2
    long, _ = src.sample(1000, 64, np.random.default_rng(3))
    a, t = A.authors_labels(src, w, long), A.theory_labels(src, w, long)
    assert (a == 0).mean() > 0.1  # near-ties exist here …
    np.testing.assert_array_equal(a == 0, t == 0)  # … and both rules leave them undecided
    assert A.label_disagreement(src, w, long) == 0.0
    uni = HMM(np.full(12, 1 / 12), src.transition, src.emission)
    assert A.label_disagreement(uni, w, short) == 0.0


def test_input_lens_are_the_authors_window_scaled_with_T():
    assert A.input_lens(128, 20) == (79, 59)  # [MASK] x_1…x_79; 20 slots, [MASK], x_1…x_59
    assert A.input_lens(64, 8) == (39, 31)  # small: a 40-position window
    assert A.input_lens(24, 4) == (14, 10)  # smoke: 15
    assert PRESETS["paper"].with_convention("authors").input_lens() == (79, 59)
    assert PRESETS["paper"].input_lens() == (128, 128)  # theory: the whole input
    with pytest.raises(InputError, match="prompt_len"):
        A.input_lens(24, 14)


def test_memory_block_mixes_4m_permutations():
    m, seed = 3, 5
    block = A.authors_memory_hmm(seed, m).state_transition
    want = permutation_mixture(4, PAPER_TAU, np.random.default_rng(seed), n_perms=4 * m)
    np.testing.assert_array_equal(block, want)
    assert not np.allclose(block, reference_memory_hmm(seed, m).state_transition)
    # n_perms permutations with equal weights (τ huge): every entry is a multiple of 1/R
    mix = permutation_mixture(4, 1e9, np.random.default_rng(0), n_perms=12)
    np.testing.assert_allclose(mix * 12, np.round(mix * 12), atol=1e-6)
    assert not np.allclose(mix * 4, np.round(mix * 4), atol=1e-6)  # not only 4 of them


def test_fine_tuning_and_pretraining_settings():
    p = PRESETS["paper"].with_convention("authors")
    assert (p.train.lr, p.train.max_epochs, p.train.batch_size) == (0.01, 100, 128)
    assert p.train.patience == 100 and p.prompt_lr == 0.01
    for mlm in (p.mlm, p.memory_mlm):
        assert (mlm.seq_len, mlm.min_len, mlm.mask_rate) == (512, 512, 0.05)
        assert mlm.probe_share == 0 and not mlm.mask_first and mlm.max_len >= 512
    theory = PRESETS["paper"].mlm
    assert p.mlm.batch_size * 512 == theory.batch_size * theory.seq_len  # tokens per step
    assert PRESETS["small"].with_convention("authors").mlm.seq_len == 256
    # small's per-k fields (window_skew, min_len for k > 12) never reach the authors' MLMs
    small = PRESETS["small"].with_convention("authors")
    for k in (4, 20, 28, 30):
        mlm = small.mlm_config("vanilla", k, 1)
        assert (mlm.seq_len, mlm.min_len, mlm.mask_rate, mlm.probe_share) == (256, 256, 0.05, 0)
        assert mlm.steps == PRESETS["small"].mlm_config("vanilla", k, 1).steps
    with pytest.raises(InputError, match="convention"):
        PRESETS["small"].with_convention("bert")


TINY = Preset(
    name="tiny-authors",
    length=16,
    n_train=60,
    n_val=30,
    n_test=40,
    oracle_ks=(12,),
    oracle_seeds=1,
    transformer_ks=(12,),
    transformer_seeds=1,
    memory_ms=(2,),
    memory_oracle_seeds=1,
    memory_transformer_seeds=0,
    oracle_prompt_len=1,
    mlm_prompt_len=2,
    mlm=MLMConfig(
        d_model=16,
        n_layers=1,
        n_heads=2,
        d_ff=32,
        max_len=24,
        seq_len=12,
        min_len=6,
        steps=4,
        batch_size=8,
        checkpoint_every=10,
        eval_every=0,
        eval_size=8,
        eval_len=8,
    ),  # fmt: skip
    train=TrainConfig(max_epochs=3, patience=2, batch_size=30),
)


def test_runner_labels_full_inputs_and_truncates_what_the_model_sees(tmp_path):
    runner = _Runner(TINY.with_convention("authors"), "cpu", tmp_path, False)
    assert (runner.head_len, runner.prompt_len) == (9, 7)
    hmm, full, mu = runner._vanilla_task(12, 3)
    assert mu is None and full.test.xs.shape[1] == 16
    src, w = A.authors_hmm(3, 12), A.authors_weights(3, 12)
    np.testing.assert_array_equal(full.test.y, A.authors_labels(src, w, full.test.xs))
    # the inputs are drawn from the authors' near-uniform start (task.splits' stream), not
    # from the stationary pretraining HMM; near-ties (label 0) are dropped
    xs, _ = src.sample(TINY.n_test, TINY.length, np.random.default_rng([3, SPLIT_STREAM + 2]))
    np.testing.assert_array_equal(full.test.xs, xs[A.authors_labels(src, w, xs) != 0])
    np.testing.assert_array_equal(hmm.start, np.full(12, 1 / 12))  # pretraining: stationary
    runner.vanilla(12, 0, transformer=False)
    runner.vanilla(12, 0, transformer=True)
    lens = {(r["backbone"], r["method"]): r["input_len"] for r in runner.rows}
    assert lens == {(b, m): (9 if m == "head" else 7) for b in ("oracle", "transformer")
                    for m in ("head", "prompt")}  # fmt: skip
    assert {r["convention"] for r in runner.rows} == {"authors"}
    assert runner.labels and runner.labels[0]["k"] == 12
    rec = runner.pretraining[0]
    assert (
        rec["convention"] == "authors"
        and (tmp_path / "checkpoints" / "vanilla_k12_s0_authors").exists()
    )


def test_both_conventions_side_by_side(tmp_path, caplog):
    out = tmp_path / "both"
    page = reproduce(
        replace(TINY, transformer_ks=()), "cpu", out, progress=False, convention="both"
    )
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["convention"] for r in rows} == {"theory", "authors"}
    theory = {r["input_len"] for r in rows if r["convention"] == "theory"}
    assert theory == {"16"}
    authors_lens = {(r["method"], r["input_len"]) for r in rows if r["convention"] == "authors"}
    assert ("head", "9") in authors_lens and ("prompt", "7") in authors_lens
    text = page.read_text()
    assert "Both conventions side by side" in text
    authors_shape = assess_shape([r for r in rows if r["convention"] == "authors"])
    held = sum(ok for _, ok, _ in authors_shape)
    assert f"shape under the authors convention: {held} of {len(authors_shape)} checks" in text
    assert "Remaining deviations from the authors" in text
    assert "The two label rules on the test inputs" in text
    labels = json.loads((out / "pretraining.json").read_text())["labels"]
    assert {(r["experiment"], r["k"]) for r in labels} >= {("vanilla", 12), ("vanilla", 8)}
    # under both conventions each missed MLM is named with its convention, once
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        page = reproduce(TINY, "cpu", tmp_path / "mlm", progress=False, convention="both")
    err = caplog.text
    assert err.count("MISSED its target: vanilla MLM k=12 seed=0 (authors): TV") == 1
    assert err.count("MISSED its target: vanilla MLM k=12 seed=0: TV") == 1
    assert "<td>vanilla</td><td>authors</td><td>12</td>" in page.read_text()
    theory_only = reproduce(replace(TINY, transformer_ks=()), "cpu", tmp_path / "t",
                            progress=False)  # fmt: skip
    assert "side by side" not in theory_only.read_text()
    with pytest.raises(InputError, match="convention"):
        reproduce(TINY, "cpu", tmp_path / "x", progress=False, convention="bert")
