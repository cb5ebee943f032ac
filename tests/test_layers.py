"""The layer contracts of pyproject.toml ([tool.importlinter]) hold, and they would catch an
upward import: a planted ``verify.core`` → ``verify.cli`` import breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def _lint(tree: Path) -> subprocess.CompletedProcess:
    """lint-imports on ``tree`` (its pyproject.toml, its verify/ and strategies/)."""
    return subprocess.run(
        [sys.executable, "-c", LINT], cwd=tree, env={"PYTHONPATH": str(tree), "PATH": ""},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("verify", "strategies"):
        shutil.copytree(ROOT / name, tree / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_layer_contracts_hold():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_a_planted_upward_import_breaks_the_layers(tmp_path):
    tree = _copy(tmp_path)
    assert _lint(tree).returncode == 0  # the copy alone is clean
    task = tree / "verify" / "core" / "task.py"
    task.write_text(task.read_text(encoding="utf-8") + "\nimport verify.cli  # planted\n")
    proc = _lint(tree)
    assert proc.returncode != 0
    assert "verify.core.task -> verify.cli" in proc.stdout, proc.stdout


def test_a_planted_import_of_the_experiments_breaks_the_forbidden_contract(tmp_path):
    tree = _copy(tmp_path)
    runner = tree / "verify" / "harness" / "runner.py"
    text = runner.read_text(encoding="utf-8")
    runner.write_text(text + "\n\ndef _planted():\n    from verify.experiments import sweep\n")
    proc = _lint(tree)
    assert proc.returncode != 0
    assert "experiments: only the benchmarks and the CLI import verify.experiments BROKEN" in (
        " ".join(proc.stdout.split())
    ), proc.stdout


#: Issue 21: a module over this many lines is split along its seams (re-exporting what
#: moved), so each file reads as one idea.
MAX_MODULE_LINES = 600


def long_modules(root: Path = ROOT, limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """``{path: lines}`` of every ``*.py`` under ``root``'s verify/ and strategies/ longer
    than ``limit`` lines."""
    out = {}
    for top in ("verify", "strategies"):
        for path in sorted((root / top).rglob("*.py")):
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > limit:
                out[path.relative_to(root).as_posix()] = n
    return out


def test_no_module_over_600_lines():
    found = long_modules()
    assert not found, (
        f"modules over {MAX_MODULE_LINES} lines (split them along their seams): "
        + ", ".join(f"{p} ({n})" for p, n in found.items())
    )
