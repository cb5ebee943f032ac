"""The command line: subcommands, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from verify.claims import BUILTIN_ORDER
from verify.cli import main
from verify.core.models import HMM

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "verify", *args], capture_output=True, text=True, cwd=cwd,
        timeout=120,
    )  # fmt: skip


def test_python_m_verify_lists_every_claim_one_per_line():
    p = _run("list")
    assert p.returncode == 0, p.stderr
    spec, *lines = p.stdout.strip().splitlines()
    assert spec.startswith("spec: ") and spec.split()[1].endswith("THEORY.md")
    assert [ln.split()[0] for ln in lines] == list(BUILTIN_ORDER)
    # every claim names its provenance and links its section of the spec
    assert all(("after Thm" in ln or "extension" in ln) and "THEORY.md#" in ln for ln in lines)
    assert "Theorem" not in p.stdout


def test_bad_usage_exits_2_with_a_message_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "ptverify.case", "schema_version": 1}')
    for args, needle in [
        (("run", "no.such.claim"), "unknown claim"),
        (("run", "head.exact", "--examples", "0"), "--examples"),
        (("replay", str(bad)), "claim"),
        (("replay", str(tmp_path / "missing.json")), "cannot read"),
        (("bench", "no_such_bench"), "available"),
        (("check", str(tmp_path / "missing.json")), "cannot read"),
        (("run", "--claims-from", "no_such_module_qq"), "cannot import"),
        (("report", "--report-dir", str(tmp_path)), "cannot read"),
    ]:
        p = _run(*args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert needle in p.stderr, (args, p.stderr)
        assert "Traceback" not in p.stderr


def test_argparse_errors_exit_2(capsys):
    assert main(["run", "--profile", "nightly"]) == 2
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_run_builtin_claims_writes_reports_and_report_rebuilds_html(tmp_path, capsys):
    rep = tmp_path / "rep"
    code = main(["run", "head.exact", "head.necessary", "--examples", "15", "--report-dir",
                 str(rep), "--quiet"])  # fmt: skip
    doc = json.loads((rep / "results.json").read_text())
    statuses = {c["id"]: c["status"] for c in doc["claims"]}
    assert statuses["head.exact"] == "held"
    assert statuses["head.necessary"] in ("found", "not_found")
    assert code == (0 if statuses["head.necessary"] == "found" else 1)
    assert doc["exit_code"] == code and doc["complete"]
    assert (rep / "junit.xml").exists()
    (rep / "index.html").unlink()
    assert main(["report", "--report-dir", str(rep)]) == 0
    assert (rep / "index.html").exists()


def test_check_prints_every_condition_and_recovery_verdicts(tmp_path, capsys):
    hmm = HMM([0.5, 0.5], [[0.5, 0.5], [0.25, 0.75]], [[0.75, 0.25], [0.25, 0.75]])
    path = tmp_path / "model.json"
    path.write_text(hmm.to_json())
    assert main(["check", str(path), "--mu", "1,-1", "--T", "2"]) == 0
    out = capsys.readouterr().out
    for needle in ("C-HEAD ", "C-HEAD(mu)", "C-PROMPT(mu)", "sigma_min=", "margin γ",
                   "LP, linear head on G(x)", "recoverable", "witness b* = pinv(W)ᵀμ"):  # fmt: skip
        assert needle in out, needle
    assert main(["check", str(path), "--mu", "1,x"]) == 2
    assert main(["check", str(path), "--mu", "1,2,3"]) == 2  # wrong length: ValueError
    data = json.loads(hmm.to_json())
    data["emission"][0] = [0.9, 0.9]
    path.write_text(json.dumps(data))
    assert main(["check", str(path)]) == 2
    assert "emission row 0" in capsys.readouterr().err


def test_replay_reproduces_a_saved_witness(tmp_path, capsys):
    rep = tmp_path / "rep"
    main(["run", "head.necessary", "--report-dir", str(rep), "--quiet"])
    case = rep / "cases" / "head.necessary.json"
    assert case.exists()
    assert main(["replay", str(case)]) == 0
    data = json.loads(case.read_text())
    mu = data["instance"]["mu"]["array"]
    data["instance"]["mu"]["array"] = list(np.zeros(len(mu)))
    case.write_text(json.dumps(data))
    assert main(["replay", str(case)]) == 1  # no longer a witness (γ = 0: discarded)


def test_reproduce_and_bench_dispatch_to_their_modules(monkeypatch, tmp_path, capsys):
    import types

    calls = []
    fake = types.ModuleType("verify.experiments.reproduce")
    fake.reproduce = lambda preset, device, out, progress=True: (
        calls.append((preset, device, out, progress)) or (out / "index.html")
    )
    monkeypatch.setitem(sys.modules, "verify.experiments.reproduce", fake)
    out = tmp_path / "r"
    assert main(["reproduce", "--preset", "small", "--device", "cpu", "--out", str(out)]) == 0
    assert calls == [("small", "cpu", out, True)]
    assert main(["reproduce", "--preset", "huge"]) == 2

    bench = types.ModuleType("verify.bench.fakebench")
    bench.run = lambda quick=False: calls.append(("bench", quick))
    monkeypatch.setitem(sys.modules, "verify.bench.fakebench", bench)
    monkeypatch.setattr("verify.cli.available_benches", lambda: ["fakebench"])
    assert main(["bench", "fakebench", "--quick"]) == 0
    assert calls[-1] == ("bench", True)
    assert main(["bench", "other"]) == 2
    assert "available: fakebench" in capsys.readouterr().err


def test_internal_error_exits_1_with_the_traceback_saved(tmp_path, monkeypatch, capsys):
    """A ValueError raised while computing is a bug in ptverify (exit 1, traceback kept),
    not bad input (exit 2), even though the same type signals bad input when reading."""
    import verify.recovery.analysis as check

    path = tmp_path / "m.json"
    path.write_text(HMM([0.5, 0.5], [[0.9, 0.1], [0.1, 0.9]], [[0.7, 0.3], [0.2, 0.8]]).to_json())

    def broken(*_a, **_k):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(check.task, "decide", broken)
    code = main(["check", str(path), "--mu", "1,-1", "--T", "2"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "internal error" in err and "not in your input" in err
    saved = Path(err.rsplit("Traceback saved to ", 1)[1].strip())
    assert "operands could not be broadcast" in saved.read_text()
    assert "Traceback (most recent call last)" in saved.read_text()


def test_bad_input_to_check_names_the_field(tmp_path, capsys):
    path = tmp_path / "m.json"
    path.write_text(HMM([0.5, 0.5], [[0.9, 0.1], [0.1, 0.9]], [[0.7, 0.3], [0.2, 0.8]]).to_json())
    assert main(["check", str(path), "--mu", "1,2,3"]) == 2
    assert "mu must be 2 finite numbers, one per hidden state" in capsys.readouterr().err


def test_unwritable_report_dir_fails_before_any_claim_runs(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["run", "head.exact", "--report-dir", str(blocker / "sub")])
    captured = capsys.readouterr()
    assert code == 2
    assert "--report-dir" in captured.err and "not a writable folder" in captured.err
    assert "head.exact" not in captured.out  # nothing ran


def test_run_logs_progress_on_stderr_unless_quiet(tmp_path, capsys):
    args = ["run", "head.exact", "--examples", "3", "--report-dir", str(tmp_path)]
    main(args)
    err = capsys.readouterr().err
    assert "ptverify: running head.exact …" in err and "ptverify: [1/1] head.exact" in err
    main([*args, "--quiet"])
    assert "ptverify: [1/1]" not in capsys.readouterr().err
