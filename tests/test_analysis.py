"""``check``'s analysis (verify.recovery.analysis.analyse_hmm) is the one implementation
behind ``ptverify check`` and every sweep row: both paths are checked here on one task,
against the log-space route (verify.crosscheck.logspace) for the features."""

from __future__ import annotations

import json

import numpy as np

from verify.cli import main
from verify.core.generator import PAPER_TAU, reference_hmm, reference_task, task_mu
from verify.crosscheck import logspace
from verify.experiments.sweep import evaluate_instance
from verify.recovery.analysis import analyse_hmm, input_set


def _prompt_only_task():
    """The paper's generator (k = 4, n = 3, τ_trans = 0.1, 3 task weights): C-HEAD fails,
    no linear head on G(x) recovers the labels on [3]^3, the C-PROMPT(μ) witness does."""
    hmm = reference_hmm(np.random.SeedSequence(0), 4, 3, 0.1, PAPER_TAU)
    mu = task_mu(reference_task(np.random.SeedSequence(100), 4, 3))
    return hmm, mu, input_set(hmm, 3, 0)[0]


def _certificate_residual(lam: np.ndarray, y: np.ndarray, F: np.ndarray) -> float:
    """‖Σ_i λ_i y_i F_i‖₁ with λ checked on the simplex: no head separates the labels."""
    assert lam.min() >= 0 and abs(lam.sum() - 1) < 1e-9
    return float(np.abs((lam * y) @ F).sum())


def test_the_analysis_of_a_prompt_only_task_matches_the_log_space_route():
    hmm, mu, xs = _prompt_only_task()
    a = analyse_hmm(hmm, mu, xs)
    y = a.task.labels
    assert not a.task.ill_posed and set(np.unique(y)) == {-1.0, 1.0}
    assert not a.c_head.holds and a.c_prompt.holds
    # The head LP is on G(x) (B, n): its certificate holds on the log-space route's G(x),
    # so no head b (n,) gets every sign right.
    assert a.head_lp is not None and a.head_lp.status == "not_recoverable"
    G = logspace.mask_probe(hmm, xs)
    assert G.shape == (len(xs), hmm.n_tokens)
    assert _certificate_residual(a.head_lp.certificate, y, G) < 1e-9
    # The prompt witness (prompt.exact) gets every label, and so does the LP on G(u, x).
    assert a.prompt is not None and a.prompt.wrong == 0
    Gu = logspace.prompted_mask_probe(hmm, xs, a.prompt.witness.prompt)
    assert np.array_equal(np.sign(Gu @ a.prompt.witness.b), y)
    assert a.prompt.lp.status == "recoverable"
    assert np.min(y * (Gu @ a.prompt.lp.head)) > 0


def test_check_reports_the_analysis_of_a_prompt_only_task(tmp_path, capsys):
    hmm, mu, xs = _prompt_only_task()
    a = analyse_hmm(hmm, mu, xs)
    y = a.task.labels
    assert a.head_lp is not None and a.prompt is not None
    path = tmp_path / "m.json"
    data = json.loads(hmm.to_json())
    path.write_text(json.dumps({**data, "mu": [float(v) for v in mu], "T": 3}))
    assert main(["check", str(path), "--json", str(tmp_path / "r.json")]) == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    verdicts = {v["label"]: v for v in doc["recovery"]}
    U = list(a.prompt.witness.U)
    assert verdicts["LP, linear head on G(x)"]["status"] == "not_recoverable"
    assert verdicts[f"prompt witness U={U}"]["wrong"] == 0
    assert verdicts[f"LP, head on G(u,x), U={U}"]["status"] == "recoverable"
    assert doc["labels"]["positive"] == int((y > 0).sum())
    assert "not_recoverable" in capsys.readouterr().out


def test_the_sweep_row_of_a_prompt_only_task_is_the_same_analysis():
    hmm, mu, xs = _prompt_only_task()
    a = analyse_hmm(hmm, mu, xs)
    assert a.head_lp is not None
    row = evaluate_instance(hmm, mu, xs)
    assert row["status"] == "ok" and row["inputs"] == len(xs)
    assert row["head_lp"] == "not_recoverable" and not row["head_recovers"]
    assert row["prompt_source"] == "witness" and row["prompt_lp"] == "recoverable"
    assert row["prompt_witness_exact"] and row["prompt_only"]
    assert row["c_head"] is False and row["c_prompt"] is True
    assert row["head_certificate"] == a.head_lp.certificate_residual


def test_an_ill_posed_task_gets_no_recovery_verdict_in_either_path(tmp_path):
    """μ = 0: every score is an exact tie, γ = 0 ≤ tol (THEORY §3)."""
    hmm, _, xs = _prompt_only_task()
    mu = np.zeros(hmm.n_states)
    a = analyse_hmm(hmm, mu, xs)
    assert a.task.ill_posed and a.head_lp is None and a.prompt is None
    row = evaluate_instance(hmm, mu, xs)
    assert row["status"] == "discarded" and "head_lp" not in row
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**json.loads(hmm.to_json()), "mu": [0.0] * 4, "T": 3}))
    assert main(["check", str(path), "--json", str(tmp_path / "r.json")]) == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["labels"]["decided"] is False and doc["recovery"] == []
