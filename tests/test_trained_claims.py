"""prompt.trained and memory.attention (verify.claims.trained): listed, held on ci through the
CLI, falsified when a trainer is broken, inconclusive when one crashes, degenerate panels
discarded."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import verify.recovery.training as training
from verify.claims import get, load_builtin
from verify.claims import trained as trained_claims
from verify.cli import main
from verify.harness.runner import exit_code, run_claim

IDS = ("prompt.trained", "memory.attention")


@pytest.fixture(autouse=True, scope="module")
def _claims():
    load_builtin()


def _chance(real):
    """A broken trainer: trains as ``real`` does but reports chance test accuracy."""

    def broken(*args, **kw):
        return replace(real(*args, **kw), test_accuracy=0.5)

    return broken


def test_claims_are_listed_statistical_with_thresholds(capsys):
    assert main(["list"]) == 0
    listed = [ln.split()[0] for ln in capsys.readouterr().out.strip().splitlines()]
    for cid in IDS:
        assert cid in listed
        c = get(cid)
        assert c.kind == "statistical" and c.module == "verify.claims.trained"
        assert {"tolerance", "panel", "n_test"} <= set(c.describe()["thresholds"])
    assert get("memory.attention").thresholds["floor"] > 0.5
    assert get("prompt.trained").thresholds["min_gain"] > 0


def test_cli_ci_run_holds_and_reports_accuracies(tmp_path):
    rep = tmp_path / "rep"
    # two seeds each (the gate runs the full ci budget; here the report fields matter)
    code = main(
        ["run", *IDS, "--profile", "ci", "--examples", "2", "--report-dir", str(rep), "--quiet"]
    )
    doc = json.loads((rep / "results.json").read_text())
    by_id = {c["id"]: c for c in doc["claims"]}
    assert code == 0, {cid: by_id[cid]["message"] for cid in IDS}
    for cid in IDS:
        assert by_id[cid]["status"] == "held"
    text = json.dumps(by_id)
    for name in ("prompt_accuracy", "head_accuracy", "attention_accuracy", "pooled_accuracy",
                 "gap_mean"):  # fmt: skip
        assert name in text


def test_broken_prompt_trainer_falsifies_prompt_trained(monkeypatch):
    monkeypatch.setattr(training, "train_prompt", _chance(training.train_prompt))
    res = run_claim("prompt.trained", "ci", examples=1).to_dict()
    assert res["status"] == "falsified", res["message"]
    assert exit_code([res]) == 1
    assert "trained prompt accuracy" in res["message"]


def test_broken_attention_trainer_falsifies_memory_attention(monkeypatch):
    monkeypatch.setattr(training, "train_attention", _chance(training.train_attention))
    res = run_claim("memory.attention", "ci", examples=1).to_dict()
    assert res["status"] == "falsified", res["message"]
    assert exit_code([res]) == 1


def test_prompt_that_never_beats_the_head_falsifies(monkeypatch):
    """The gap must be real somewhere: a prompt trainer equal to the head is a failure."""

    def head_as_prompt(hmm, splits, cfg, n_prompt=1):
        return training.train_linear_head(hmm, splits, replace(cfg, lr=0.05))

    monkeypatch.setattr(training, "train_prompt", head_as_prompt)
    out = get("prompt.trained").check({"seed": 0})
    assert out.status == "fail" and "never beats" in out.message
    assert out.quantities["gap_max"] < trained_claims.PROMPT_PROTOCOL["min_gain"]


def test_trainer_crash_is_inconclusive_never_a_pass(monkeypatch):
    def crash(*args, **kw):
        raise RuntimeError("loss is NaN")

    monkeypatch.setattr(training, "train_pooling", crash)
    res = run_claim("memory.attention", "ci", examples=1).to_dict()
    assert res["status"] == "inconclusive"
    assert exit_code([res]) == 3


def test_degenerate_panels_are_discarded(monkeypatch):
    """All labels equal (μ ≥ 0 everywhere) → no model is usable → discard, not a pass."""
    from verify.core import task

    real = task.splits

    def one_label(*a, **kw):
        return task.Splits(*(task.Split(s.xs, s.y * 0 + 1.0) for s in real(*a, **kw)))

    monkeypatch.setattr(task, "splits", one_label)
    out = get("prompt.trained").check({"seed": 0})
    assert out.status == "discard"
    assert out.quantities["models_degenerate"] == trained_claims.PROMPT_PROTOCOL["panel"]
    res = run_claim("memory.attention", "ci", examples=1).to_dict()
    assert res["status"] == "inconclusive"
