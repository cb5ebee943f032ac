"""nox sessions: tests, lint, verify (the CI gate), prove (bounded proof), bench, mutants
(the gate's mutation score), ray (the Ray engine's tests on a two-node local cluster),
browser (headless screenshot).

Sessions reuse the project's own virtualenv (``venv_backend="none"``): CI installs the
project once (``pip install -e .[dev]``) and every session runs against it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "verify"]
nox.options.default_venv_backend = "none"

LINT_PATHS = ["verify", "strategies", "tests", "noxfile.py"]
REPORTS = Path("reports")
BENCHES = ("inference", "strategies", "lp", "training", "sweep")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite on two workers."""
    session.run("python", "-m", "pytest", "-n", "2", *session.posargs)


@nox.session
def ray(session: nox.Session) -> None:
    """The Ray engine on a two-node cluster on this machine (needs ``.[dev,ray]``)."""
    session.run("python", "-m", "pytest", "-m", "ray", "tests/test_ray.py", *session.posargs)


@nox.session
def prove(session: nox.Session) -> None:
    """Bounded-exhaustive proof of the default scope (every HMM with k, n ≤ 3, T ≤ 2 and
    probabilities in halves), decided exactly; reports in reports/prove/."""
    session.run(
        "python", "-m", "verify", "prove", "--k", "2:3", "--n", "2:3", "--T", "1:2",
        "--den", "2", "--workers", "2", "--report-dir", str(REPORTS / "prove"),
        *session.posargs,
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, the layer contracts of pyproject.toml (import-linter) and mypy."""
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)
    session.run("lint-imports", "--no-cache")
    session.run("mypy")


@nox.session
def verify(session: nox.Session) -> None:
    """Every built-in claim on the ci profile; reports in reports/; fails on exit ≠ 0."""
    session.run(
        "python", "-m", "verify", "run", "--profile", "ci", "--workers", "2",
        "--report-dir", str(REPORTS), "--junit", str(REPORTS / "junit.xml"), *session.posargs,
    )  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark in quick mode (``nox -s bench -- NAME`` for one, full size)."""
    names = session.posargs or BENCHES
    quick = [] if session.posargs else ["--quick"]
    for name in names:
        session.run("python", "-m", "verify", "bench", name, *quick)


@nox.session
def mutants(session: nox.Session) -> None:
    """The gate's mutation score: every patch in tests/mutants/ applied to a temporary copy,
    the full ``verify run --profile ci`` on each (not part of CI: ~minutes per mutant).

    ``nox -s mutants -- 03 07`` runs a subset; other arguments go to tests/mutants/run.py
    (``--jobs``, ``--unit``, ``--json``, ``--no-control``, ``--strict``). There is no way to
    restrict the claims: the score is always the full gate.
    """
    if any(a.startswith("--claims") for a in session.posargs):
        session.error("--claims is not allowed: the mutation score is always the full gate")
    session.run("python", "tests/mutants/run.py", *session.posargs)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@nox.session
def browser(session: nox.Session) -> None:
    """Render reports/index.html in headless Debian chromium and keep a screenshot."""
    index = REPORTS / "index.html"
    if not index.exists():
        session.error(f"{index} does not exist: run `nox -s verify` first")
    exe = _chromium()
    if exe is None and shutil.which("apt-get"):
        session.log("chromium not found; trying apt-get install -y chromium")
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False)
        exe = _chromium()
    if exe is None:
        session.skip("chromium is not installed and could not be installed; no screenshot")
    shot = REPORTS / "screenshot-index.png"
    with tempfile.TemporaryDirectory() as profile:
        session.run(
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
            "--window-size=1280,1000", f"--screenshot={shot.resolve()}",
            index.resolve().as_uri(), external=True,
        )  # fmt: skip
    if not shot.exists() or shot.stat().st_size == 0:
        session.error("chromium produced no screenshot")
    session.log(f"screenshot: {shot}")
