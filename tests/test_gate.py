"""Proof that the gate can fail: a planted bug registered through ``--claims-from`` (the
same API as the built-in claims) is falsified, shrunk to k ≤ 3 and reported."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from verify.cli import main

PLANTED = str(Path(__file__).with_name("planted_claims.py"))


def test_planted_bug_fails_the_gate_with_a_small_shrunk_counterexample(tmp_path, capsys):
    rep = tmp_path / "rep"
    code = main(["run", "planted", "--claims-from", PLANTED, "--report-dir", str(rep), "--quiet"])
    assert code == 1
    doc = json.loads((rep / "results.json").read_text())
    by_id = {c["id"]: c for c in doc["claims"]}
    assert by_id["planted.head_bug"]["status"] == "falsified"
    assert by_id["planted.head_ok"]["status"] == "held"  # the runner tells them apart
    case = json.loads((rep / "cases" / "planted.head_bug.json").read_text())
    assert case["role"] == "counterexample"
    k = len(case["instance"]["hmm"]["start"])
    assert k <= 3, f"shrunk counterexample has k = {k}"
    assert case["outcome"]["detail"]["inputs"], "the conflicting inputs are reported"
    page = (rep / "cases" / "planted.head_bug.html").read_text()
    # a user claim: the replay command names its module, so it works from any directory
    module = Path(PLANTED).resolve()
    assert f"ptverify replay --claims-from {module} {rep}/cases/planted.head_bug.json" in page
    assert "<svg" in page  # heatmaps of the shrunk model
    suite = ET.parse(rep / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "1"
    # the saved file reproduces the failure
    capsys.readouterr()
    assert main(["replay", str(rep / "cases" / "planted.head_bug.json")]) == 1
    assert "still falsifies" in capsys.readouterr().out


def test_planted_bug_is_caught_by_the_dotted_module_form_in_parallel(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).parent.parent)
    rep = tmp_path / "rep"
    code = main(
        ["run", "planted.head_bug", "planted.head_ok", "--claims-from", "tests.planted_claims",
         "--workers", "2", "--report-dir", str(rep), "--quiet"]
    )  # fmt: skip
    assert code == 1
    doc = json.loads((rep / "results.json").read_text())
    assert [c["id"] for c in doc["claims"]] == ["planted.head_bug", "planted.head_ok"]
    assert [c["status"] for c in doc["claims"]] == ["falsified", "held"]
