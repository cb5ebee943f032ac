"""ptverify in a researcher's own workflow (issue 23): the pytest plugin, pinned cases,
the example database, portable replay and coverage of user claims."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from verify.claims import Outcome, claim, load_builtin, registry
from verify.cli import main
from verify.harness import runner
from verify.harness.records import certificate_mismatch

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
#: Load the plugin by module name unless an install registered its entry point (pytest
#: refuses one module under two names).
PLUGIN = (
    ()
    if any(ep.name == "ptverify" for ep in entry_points(group="pytest11"))
    else ("-p", "verify.harness.pytest_plugin")
)

#: A user claims module: one false claim, one true one, one that cannot decide.
USER_CLAIMS = textwrap.dedent(
    """
    from hypothesis import strategies as st
    from verify.claims import Outcome, claim

    def _ints():
        return st.fixed_dictionaries({"x": st.integers(0, 99)})

    @claim("mine.small", theorem="none", kind="universal",
           statement="every integer below 100 is below 10", strategy=_ints)
    def small(instance):
        x = instance["x"]
        return Outcome.passed() if x < 10 else Outcome.failed(f"x = {x} is not below 10")

    @claim("mine.true", theorem="none", kind="universal",
           statement="every integer below 100 is below 100", strategy=_ints)
    def true(instance):
        return Outcome.passed()

    @claim("mine.not_seven", theorem="none", kind="universal",
           statement="x is never 7 (the strategy never draws it)",
           strategy=lambda: st.fixed_dictionaries({"x": st.integers(0, 5)}))
    def not_seven(instance):
        return Outcome.failed("x = 7") if instance["x"] == 7 else Outcome.passed()

    @claim("mine.undecided", theorem="none", kind="universal",
           statement="nothing can be decided", strategy=_ints,
           examples={"ci": 5})
    def undecided(instance):
        return Outcome.inconclusive("solver gave up")
    """
)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _replay(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    args = shlex.split(cmd)
    assert args[:2] == ["ptverify", "replay"]
    return subprocess.run(
        [sys.executable, "-m", "verify", *args[1:]], capture_output=True, text=True,
        cwd=cwd, env=_env(), timeout=120,
    )  # fmt: skip


# --------------------------------------------------------------------------- plugin


def test_plugin_collects_nothing_without_the_flag(pytester):
    result = pytester.runpytest_subprocess(*PLUGIN, "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "ptverify::" not in result.stdout.str()


def test_plugin_builtin_claim_is_one_passing_item(pytester):
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--ptverify", "-k", "head.exact", "--ptverify-examples", "5", "-v"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ptverify::head.exact PASSED*"])


def test_plugin_markers_select_by_family_and_kind(pytester):
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--ptverify", "--strict-markers", "--collect-only", "-q",
        "-m", "ptverify_head and ptverify_universal",
    )  # fmt: skip
    ids = [ln for ln in result.stdout.lines if ln.startswith("ptverify::")]
    assert ids and all(i.startswith("ptverify::head.") for i in ids)
    assert "ptverify::head.necessary" not in ids  # an existential claim


def test_plugin_false_user_claim_fails_with_a_replay_that_works_elsewhere(pytester, tmp_path):
    pytester.makepyfile(myclaims=USER_CLAIMS)
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--ptverify", "--ptverify-claims-from", "myclaims", "-k", "mine.small",
        f"--junitxml={xml}",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "every integer below 100 is below 10" in out  # the statement
    assert "x = 10" in out  # the shrunk instance
    case = re.search(r"case file: (\S+)", out).group(1)
    assert Path(case).is_absolute() and Path(case).is_file()
    cmd = re.search(r"replay:\s+(.+)", out).group(1).strip()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = _replay(cmd, elsewhere)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "still falsifies" in p.stdout
    assert 'type="' not in xml.read_text() or "<failure" in xml.read_text()
    assert "ptverify_status" in xml.read_text() and 'value="falsified"' in xml.read_text()


def test_plugin_inconclusive_claim_is_not_a_pass(pytester):
    pytester.makepyfile(myclaims=USER_CLAIMS)
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--ptverify", "--ptverify-claims-from", "myclaims", "-k", "undecided",
        "-v", f"--junitxml={xml}",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*ptverify::mine.undecided INCONCLUSIVE*"])
    assert "not a pass" in result.stdout.str()
    text = xml.read_text()
    assert "<failure" in text and 'value="inconclusive"' in text


def test_plugin_runs_under_xdist(pytester):
    pytester.makepyfile(myclaims=USER_CLAIMS)
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--ptverify", "--ptverify-claims-from", "myclaims", "-k",
        "mine.small or mine.true", "-n", "2",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)


def test_plugin_bad_claims_module_is_a_one_line_collection_error(pytester):
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--ptverify", "--ptverify-claims-from", "nosuch.py"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ptverify: --claims-from: file 'nosuch.py' does not exist*"])


# --------------------------------------------------------------------------- pinned cases


def test_pinned_failing_case_fails_run_and_the_plugin_on_the_first_example(pytester, tmp_path):
    pytester.makepyfile(myclaims=USER_CLAIMS)
    pins = pytester.path / "pins"
    pins.mkdir()
    (pins / "seven.json").write_text(json.dumps(_case("mine.not_seven", {"x": 7})))
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--ptverify", "--ptverify-claims-from", "myclaims", "-k", "not_seven",
        "--ptverify-cases", str(pins),
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*x = 7*", "*: 1 example (*"])
    p = subprocess.run(
        [sys.executable, "-m", "verify", "run", "mine.not_seven", "mine.true", "--cases", "pins",
         "--claims-from", "myclaims.py", "--workers", "2", "--quiet", "--report-dir", "rep"],
        capture_output=True, text=True, cwd=pytester.path, env=_env(), timeout=120,
    )  # fmt: skip
    assert p.returncode == 1, p.stderr
    # (a .py module in worker processes: they load it by path, not by its registered name)
    res, ok = json.loads((pytester.path / "rep" / "results.json").read_text())["claims"]
    assert ok["status"] == "held"
    assert res["status"] == "falsified" and res["counts"]["examples"] == 1
    assert res["case"]["instance"] == {"x": 7}


def _seven() -> st.SearchStrategy:
    return st.fixed_dictionaries({"x": st.integers(0, 5)})


@claim(
    "workflow.not_seven",
    theorem="none",
    kind="universal",
    statement="x is never 7 (the strategy never draws it; only a pinned case can)",
    strategy=_seven,
    examples={"ci": 20},
)
def _not_seven(instance: dict) -> Outcome:
    return Outcome.failed("x = 7") if instance["x"] == 7 else Outcome.passed()


def _case(claim_id: str, instance: dict, **extra) -> dict:
    doc = {
        "schema": "ptverify.case", "schema_version": 1, "claim": claim_id,
        "claims_from": None, "role": "counterexample", "instance": instance,
        "outcome": {"status": "fail"},
    }  # fmt: skip
    return {**doc, **extra}


def test_pinned_case_fails_the_claim_on_the_first_example():
    held = runner.run_claim("workflow.not_seven").to_dict()
    assert held["status"] == "held" and held["counts"]["examples"] > 1
    r = runner.run_claim("workflow.not_seven", pinned=[_case("workflow.not_seven", {"x": 7})])
    r = r.to_dict()
    assert r["status"] == "falsified"
    assert r["counts"]["examples"] == 1  # before any generation
    assert r["case"]["instance"] == {"x": 7}


def test_run_cases_dir_and_pin(tmp_path, capsys):
    saved = tmp_path / "found.json"
    saved.write_text(json.dumps(_case("head.exact", {"nonsense": 1})))
    # a pinned case of a built-in claim whose instance the check cannot read: a crash on
    # the first example (error), never a pass
    assert main(["pin", str(saved), "--to", str(tmp_path / "pins")]) == 0
    pinned = list((tmp_path / "pins").glob("head.exact-*.json"))
    assert len(pinned) == 1
    code = main(
        ["run", "head.exact", "--cases", str(tmp_path / "pins"), "--quiet",
         "--report-dir", str(tmp_path / "rep")]
    )  # fmt: skip
    assert code == 1
    res = json.loads((tmp_path / "rep" / "results.json").read_text())["claims"][0]
    assert res["counts"]["examples"] == 1 and res["status"] == "error"
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "ptverify.case"}')
    assert main(["pin", str(bad), "--to", str(tmp_path / "pins")]) == 2
    assert "schema_version" in capsys.readouterr().err


def test_dev_profile_replays_a_saved_failure_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = runner.run_claim("workflow.big", profile="dev").to_dict()
    assert first["status"] == "falsified"
    again = runner.run_claim("workflow.big", profile="dev").to_dict()
    assert again["status"] == "falsified" and again["counts"]["examples"] == 1
    assert again["case"]["instance"] == first["case"]["instance"]
    assert (tmp_path / runner.DATABASE_DIR).is_dir()
    ci = runner.run_claim("workflow.big", profile="ci").to_dict()
    assert ci["counts"]["examples"] > 1  # ci never reads the database


@claim(
    "workflow.big",
    theorem="none",
    kind="universal",
    statement="x < 900 (false; rarely drawn first)",
    strategy=lambda: st.fixed_dictionaries({"x": st.integers(0, 1000)}),
)
def _big(instance: dict) -> Outcome:
    return Outcome.failed("big") if instance["x"] >= 900 else Outcome.passed()


# --------------------------------------------------------------------------- replay


def _make_case(tmp_path: Path) -> tuple[Path, Path]:
    """A case of ``mine.small`` made in ``tmp_path/made`` with ``--claims-from myclaims``
    (a module name, found there only); returns (case file, module file)."""
    made = tmp_path / "made"
    made.mkdir()
    module = made / "myclaims.py"
    module.write_text(USER_CLAIMS)
    p = subprocess.run(
        [sys.executable, "-m", "verify", "run", "mine.small", "--claims-from", "myclaims",
         "--quiet", "--report-dir", "rep"],
        capture_output=True, text=True, cwd=made, env=_env(), timeout=120,
    )  # fmt: skip
    assert p.returncode == 1, p.stderr
    case = made / "rep" / "cases" / "mine.small.json"
    doc = json.loads(case.read_text())
    assert doc["claims_from"] == "myclaims"
    assert doc["claims_file"] == str(module.resolve())
    assert doc["claims_sha256"] == registry.file_sha256(module)
    return case, module


def test_replay_from_another_directory_and_a_changed_module(tmp_path):
    case, module = _make_case(tmp_path)
    page = (case.parent / "mine.small.html").read_text()
    assert f"--claims-from {module.resolve()}" in page  # the case page's replay command
    other = tmp_path / "other"
    other.mkdir()
    p = _replay(f"ptverify replay {case}", other)
    assert p.returncode == 1 and "still falsifies" in p.stdout, p.stdout + p.stderr
    assert "warning" not in p.stdout
    # --claims-from overrides what the case names (the saved name need not import)
    doc = json.loads(case.read_text())
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps({**doc, "claims_from": "gone_module", "claims_file": None}))
    p = _replay(f"ptverify replay --claims-from {module} {moved}", other)
    assert p.returncode == 1 and "still falsifies" in p.stdout, p.stdout + p.stderr
    # the module changed since: said before the verdict
    module.write_text(USER_CLAIMS + "\n# edited\n")
    p = _replay(f"ptverify replay {case}", other)
    lines = p.stdout.splitlines()
    warn = next(i for i, ln in enumerate(lines) if "changed since this case was saved" in ln)
    now = next(i for i, ln in enumerate(lines) if ln.startswith("now:"))
    assert warn < now and str(module.resolve()) in lines[warn]


def _cert_case(start: list) -> dict:
    hmm = {
        "kind": "hmm", "version": 1, "start": start,
        "transition": [[0.5, 0.5], [0.25, 0.75]], "emission": [[1.0, 0.0], [0.0, 1.0]],
    }  # fmt: skip
    cert = {
        "exact": True, "lambda": ["1"], "inputs": [[0]], "labels": [1],
        "features": "mask_probe",
        "model_exact": {
            "kind": "hmm", "start": ["1/2", "1/2"],
            "transition": [["1/2", "1/2"], ["1/4", "3/4"]],
            "emission": [["1", "0"], ["0", "1"]],
        },
    }  # fmt: skip
    return _case(
        "head.necessary",
        {"hmm": hmm},
        outcome={"status": "witness", "detail": {"certificate": cert}},
    )


def test_certificate_mismatch_names_the_edited_field():
    assert certificate_mismatch(_cert_case([0.5, 0.5])) == ""
    msg = certificate_mismatch(_cert_case([0.6, 0.4]))
    assert "instance.hmm.start" in msg and "0.1" in msg
    assert certificate_mismatch(_case("x", {"y": 1})) == ""  # no certificate: nothing to say


def test_replay_says_an_edited_instance_no_longer_matches_before_the_verdict(tmp_path):
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(_cert_case([0.6, 0.4])))
    p = _replay(f"ptverify replay {path}", tmp_path)
    lines = p.stdout.splitlines()
    assert lines and lines[0].startswith("warning: the instance no longer matches"), p.stdout


# --------------------------------------------------------------------------- coverage


def test_user_claim_coverage_is_read_off_the_instance():
    load_builtin()
    registry.load_claims_module(str(ROOT / "tests" / "planted_claims.py"))
    cov = runner.run_claim("planted.head_ok", examples=8).to_dict()["coverage"]
    for name in ("k", "n", "T", "B"):
        assert name in cov and cov[name][0] >= 1, cov
    assert sum(cov["sizes"]["k"].values()) == 8
    sizes = registry.instance_sizes({"x": np.zeros((3, 4), dtype=np.int64), "L": 2})
    assert sizes == {"T": 4, "B": 3, "L": 2}


# --------------------------------------------------------------------------- check


def test_check_writes_json_and_a_case_that_replay_runs(tmp_path, capsys):
    from verify.core.models import HMM

    hmm = HMM(
        np.array([0.5, 0.5]),
        np.array([[0.5, 0.5], [0.25, 0.75]]),
        np.array([[0.75, 0.25, 0.0], [0.0, 0.0, 1.0]]),
    )
    model = tmp_path / "m.json"
    model.write_text(hmm.to_json())
    out_json, out_case = tmp_path / "o" / "r.json", tmp_path / "o" / "c.json"
    code = main(["check", str(model), "--mu", "1,-1", "--T", "2",
                 "--json", str(out_json), "--case", str(out_case)])  # fmt: skip
    assert code == 0
    doc = json.loads(out_json.read_text())
    assert doc["schema"] == "ptverify.check" and doc["labels"]["decided"] is True
    assert [c["name"] for c in doc["conditions"]][0] == "C-HEAD"
    assert {v["kind"] for v in doc["recovery"]} == {"lp", "witness"}
    case = json.loads(out_case.read_text())
    assert case["claim"] == "head.exact" and case["outcome"]["status"] == "pass"
    capsys.readouterr()
    assert main(["replay", str(out_case)]) == 0
    assert "now: pass" in capsys.readouterr().out
    assert main(["check", str(model), "--case", str(out_case)]) == 2  # no task: usage


# --------------------------------------------------------------------------- statistical


@claim(
    "workflow.seeds",
    theorem="none",
    kind="statistical",
    statement="seeds not divisible by 5 pass",
    examples={"ci": 8},
)
def _seeds(instance: dict) -> Outcome:
    s = instance["seed"]
    return Outcome.failed(f"seed {s}") if s % 5 == 4 else Outcome.passed()


def test_statistical_verdict_states_a_wilson_interval():
    from verify.harness.stats import wilson_interval

    held = runner.run_claim("workflow.seeds", examples=4).to_dict()
    lo, hi = wilson_interval(4, 4)
    assert held["status"] == "held"
    assert held["coverage"]["pass_rate_wilson95"] == [round(lo, 4), round(hi, 4)]
    assert f"{lo:.2f}–{hi:.2f}" in held["message"] and "4/4 decided seeds" in held["message"]
    bad = runner.run_claim("workflow.seeds").to_dict()  # seed 4 fails: every seed still runs
    assert bad["status"] == "falsified" and bad["case"]["instance"] == {"seed": 4}
    lo, hi = wilson_interval(7, 8)
    assert bad["coverage"]["pass_rate_wilson95"] == [round(lo, 4), round(hi, 4)]
    assert "7/8 decided seeds" in bad["message"]
