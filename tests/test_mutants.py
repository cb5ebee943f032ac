"""The mutation catalogue (tests/mutants/) cannot rot: every patch still applies to the
current tree, says what bug it plants, and there are enough of them. Also the runner's
verdict rules on synthetic gate results. Fast: only the files a patch touches are copied."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tests" / "mutants"
MIN_MUTANTS = 15
#: A catalogued mutant is a small, reviewable edit.
MAX_CHANGED_LINES = 8


def _load_runner():
    spec = importlib.util.spec_from_file_location("_mutants_run", MUTANTS / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


run = _load_runner()
PATCHES = run.catalogue()


def _git() -> str:
    exe = shutil.which("git")
    if exe is None:
        pytest.fail(
            "git is not on PATH: the mutation catalogue is checked with `git apply --check`; "
            "install git (apt-get install git) to run tests/test_mutants.py"
        )
    return exe


def test_catalogue_is_large_enough_and_numbered_uniquely():
    assert len(PATCHES) >= MIN_MUTANTS, f"only {len(PATCHES)} mutants in {MUTANTS}"
    numbers = [p.name[:2] for p in PATCHES]
    assert len(set(numbers)) == len(numbers), f"duplicate mutant numbers: {sorted(numbers)}"


@pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
def test_patch_has_header_and_is_small(patch: Path):
    text = patch.read_text(encoding="utf-8")
    before, sep, diff = text.partition("diff --git")
    assert sep, f"{patch.name}: no `diff --git` section (generate it with git diff)"
    head = [ln for ln in before.splitlines() if ln.strip()]
    assert head, f"{patch.name}: needs a header comment saying what the bug is"
    assert all(ln.startswith("#") for ln in head), f"{patch.name}: header lines must start with #"
    assert len(" ".join(head)) >= 60, f"{patch.name}: header too short to say bug and claim"
    files = run.touched_files(patch)
    assert files and all(f.startswith(("verify/", "strategies/")) for f in files), files
    changed = [
        ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]
    assert 0 < len(changed) <= MAX_CHANGED_LINES, f"{patch.name}: {len(changed)} changed lines"


@pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
def test_patch_applies_to_current_tree(patch: Path, tmp_path: Path):
    git = _git()
    for rel in run.touched_files(patch):
        src = ROOT / rel
        assert src.is_file(), f"{patch.name} patches {rel}, which no longer exists"
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, tmp_path / rel)
    proc = subprocess.run(
        [git, "apply", "--check", str(patch)], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, (
        f"{patch.name} no longer applies to the current tree: {proc.stderr.strip()}; "
        f"regenerate it from a real edit with `git diff` (keep the header comment)"
    )


def _gate(exit_code, *claims):
    return {
        "exit": exit_code,
        "claims": [
            {"id": i, "kind": k, "status": s, "case_file": f"cases/{i}.json" if case else None,
             "case_role": "counterexample" if case else None}
            for i, k, s, case in claims
        ],
    }  # fmt: skip


def test_classify_rules():
    # a shrunk counterexample is a catch
    v, by, _ = run.classify(_gate(1, ("a", "universal", "falsified", True)), None)
    assert v == "caught" and by == [{"id": "a", "status": "falsified", "evidence": "shrunk"}]
    # an error alone is crashed-only, never a catch
    v, by, err = run.classify(_gate(1, ("a", "universal", "error", True)), None)
    assert (v, by, err) == ("crashed-only", [], ["a"])
    # a pass or an undecided gate is an escape
    assert run.classify(_gate(0, ("a", "universal", "held", False)), None)[0] == "escaped"
    assert run.classify(_gate(3, ("a", "universal", "inconclusive", False)), None)[0] == "escaped"
    # claims that were not healthy in the control run are never credited
    v, *_ = run.classify(_gate(1, ("a", "universal", "falsified", True)), {"b"})
    assert v == "broken"
    # a timed-out gate is broken, and a statistical failure is marked unshrunk
    assert run.classify({"exit": None, "claims": []}, None)[0] == "broken"
    v, by, _ = run.classify(_gate(1, ("m", "statistical", "falsified", True)), None)
    assert v == "caught" and by[0]["evidence"] == "fixed seed, not shrunk"
