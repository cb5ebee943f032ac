"""``reproduce`` end to end on a preset smaller than ``smoke``: files, columns, the shape
verdict, escaping; plus the verdict logic on hand-made rows."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest

from verify.mlm import MLMConfig
from verify.reproduce import COLUMNS, PRESETS, Preset, assess_shape, reproduce
from verify.training import TrainConfig

TINY = Preset(
    name="<tiny & test>",
    length=8,
    n_train=60,
    n_val=30,
    n_test=40,
    oracle_ks=(4, 12),
    oracle_seeds=2,
    transformer_ks=(4,),
    transformer_seeds=1,
    memory_ms=(2,),
    memory_oracle_seeds=1,
    memory_transformer_seeds=1,
    oracle_prompt_len=1,
    mlm_prompt_len=2,
    mlm=MLMConfig(
        d_model=16,
        n_layers=1,
        n_heads=2,
        d_ff=32,
        max_len=16,
        seq_len=12,
        steps=20,
        batch_size=8,
        corpus_sequences=8,
        corpus_length=32,
        checkpoint_every=10,
    ),
    train=TrainConfig(max_epochs=5, patience=3, batch_size=30),
)


def test_tiny_reproduce_writes_csv_figures_and_page(tmp_path):
    page = reproduce(TINY, device="cpu", out_dir=tmp_path, progress=False)
    assert page == tmp_path / "index.html"
    with open(tmp_path / "results.csv") as f:
        reader = csv.DictReader(f)
        assert set(COLUMNS[:6]) <= set(reader.fieldnames)
        rows = list(reader)
    seen = {(r["experiment"], r["method"], r["backbone"]) for r in rows}
    assert {
        ("vanilla", "head", "oracle"),
        ("vanilla", "prompt", "oracle"),
        ("vanilla", "head", "transformer"),
        ("vanilla", "prompt", "transformer"),
        ("memory", "attention", "oracle"),
        ("memory", "pooled", "oracle"),
        ("memory", "vanilla_head", "oracle"),
        ("memory", "attention", "transformer"),
        ("memory", "vanilla_head", "transformer"),
    } == seen
    assert len(rows) == 2 * 2 * 2 + 3 + 2 + 2
    for r in rows:
        assert 0.0 <= float(r["accuracy"]) <= 1.0
        assert r["k"] in ("4", "8", "12")
    for name in ("figure.png", "figure.svg"):
        assert (tmp_path / name).stat().st_size > 1000
    text = page.read_text()
    assert "&lt;tiny &amp; test&gt;" in text and "<tiny" not in text  # escaped
    assert "qualitative shape" in text and ("HOLDS" in text or "does NOT" in text)
    assert "data:image/png;base64," in text
    assert not list(tmp_path.glob(".index.*"))  # atomic write left no temp file
    assert (tmp_path / "checkpoints" / "vanilla_k4_s0" / "mlm.pt").exists()


def _rows(gaps_lo, gaps_hi, att, van):
    rows = []
    for k, g in [(4, gaps_lo), (20, gaps_hi)]:
        rows.append(dict(experiment="vanilla", backbone="oracle", method="head", k=k, accuracy=0.8))
        rows.append(
            dict(experiment="vanilla", backbone="oracle", method="prompt", k=k, accuracy=0.8 + g)
        )
    for k, a, v in [(8, att[0], van[0]), (20, att[1], van[1])]:
        rows.append(
            dict(experiment="memory", backbone="oracle", method="attention", k=k, accuracy=a)
        )
        rows.append(
            dict(experiment="memory", backbone="oracle", method="vanilla_head", k=k, accuracy=v)
        )
    return rows


def test_assess_shape_says_when_the_shape_fails():
    good = assess_shape(_rows(0.0, 0.1, (1.0, 0.99), (0.99, 0.8)))
    assert all(ok for _, ok, _ in good) and len(good) == 5
    bad = dict((s, ok) for s, ok, _ in assess_shape(_rows(0.05, -0.1, (0.7, 0.6), (0.8, 0.9))))
    assert not any(bad.values())


def test_bad_arguments():
    with pytest.raises(ValueError, match="preset"):
        reproduce("huge", device="cpu", out_dir="unused")
    with pytest.raises(ValueError, match="device"):
        reproduce("smoke", device="tpu", out_dir="unused")
    with pytest.raises(ValueError, match="max_len"):
        reproduce(replace(TINY, length=40), device="cpu", out_dir="unused")
    assert set(PRESETS) == {"smoke", "small", "paper"}
