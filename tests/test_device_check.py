"""scripts/device-check.sh --cpu-dry-run: every stage of the GPU check at toy size on CPU,
so the script that is carried to a bare GPU machine is known to start and finish."""

import csv
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # ~45 s on an idle 2-core machine
def test_cpu_dry_run_runs_every_stage(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "device-check.sh"), "--cpu-dry-run"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8, files  # the device runner brings back at most 8
    summary = (out / "summary.txt").read_text()
    for stage in ("stage0", "bench-training", "paper-panel"):
        assert f"stage {stage}: ok" in summary, summary
    stage0 = (out / "stage0.txt").read_text()
    assert "import torch" in stage0 and "TFLOP/s" in stage0 and "import cvxpy" in stage0
    bench = (out / "bench-training.txt").read_text()
    assert bench.count("MLM pretraining, smoke size") == 2, bench  # 1 thread, compiled
    assert "compile (eager backend)" in bench
    with tarfile.open(out / "paper-panel.tar.gz") as tar:
        names = tar.getnames()
        assert "paper-panel/index.html" in names
        assert not any("checkpoints" in n for n in names)
        rows = list(csv.DictReader(tar.extractfile("paper-panel/results.csv").read()
                                   .decode().splitlines()))  # fmt: skip
    assert {(r["backbone"], r["method"]) for r in rows} == {
        (b, m) for b in ("oracle", "transformer") for m in ("head", "prompt")
    }
    assert "panel vanilla k=8" in summary and "TV" in summary


def test_stage_failure_is_reported_and_exits_1(tmp_path):
    """A stage that fails (here: stage 0 under an interpreter that cannot import torch)
    stops the script with exit 1 and says so in the summary; nothing after it runs."""
    out = tmp_path / "out"
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'no torch here' >&2\nexit 3\n")
    fake.chmod(0o755)
    env = {**os.environ, "OUT": str(out), "PYTHON": str(fake)}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "device-check.sh"), "--cpu-dry-run"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout
    summary = (out / "summary.txt").read_text()
    assert "stage stage0: FAILED (exit 3)" in summary
    assert "bench-training" not in summary


def test_bad_argument_is_usage_error():
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "device-check.sh"), "--gpu"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_bench_options_are_checked(capsys):
    from verify.cli import main

    assert main(["bench", "lp", "--device", "cpu"]) == 2  # lp takes only --quick
    assert "takes no --device" in capsys.readouterr().err
    assert main(["bench", "training", "--size", "huge"]) == 2
    assert "huge" in capsys.readouterr().err
