"""What every ``ptverify`` subcommand shares: exit codes, :class:`UsageError` (exit 2),
reading user input, output folders, loading and selecting claims (split from
:mod:`verify.cli`, which re-exports these names)."""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

from verify.core.validation import InputError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(InputError):
    """Bad usage or bad input: reported on stderr with exit code 2."""


@contextlib.contextmanager
def user_input():
    """Read what the user gave (files, modules, flags): any ValueError raised here is bad
    input (exit 2). Later, while computing, only :class:`InputError` is; any other
    exception is a bug (exit 1)."""
    try:
        yield
    except UsageError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise UsageError(str(exc)) from None


def writable_dir(path: str | Path, flag: str) -> Path:
    """``path`` as a folder this process can write into (created if missing), checked
    before any work so a bad output path fails in a second, not after the run."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(
            f"{flag} {str(path)!r} is not a writable folder ({exc.strerror or exc}); "
            "pass a folder you can write to"
        ) from None
    return path


def _load(claims_from: list[str]) -> list[str]:
    from verify.claims import load_builtin, load_claims_module

    load_builtin()
    with user_input():
        return [load_claims_module(m) for m in claims_from]


def _select(ids: list[str]) -> list[str]:
    from verify.claims import all_claims

    known = [c.id for c in all_claims()]
    if not ids:
        return known
    out: list[str] = []
    for i in ids:
        if i in known:
            chosen = [i]
        else:
            chosen = [k for k in known if k.startswith(i.rstrip(".") + ".")]
        if not chosen:
            raise UsageError(f"unknown claim {i!r}; `ptverify list` shows the registered IDs")
        out += [c for c in chosen if c not in out]
    return out


def _output_paths(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    """(report dir, results JSON, JUnit XML) of ``run``, each checked writable before work."""
    report_dir = writable_dir(args.report_dir, "--report-dir")
    json_path = Path(args.json) if args.json else report_dir / "results.json"
    junit_path = Path(args.junit) if args.junit else report_dir / "junit.xml"
    writable_dir(json_path.parent, "--json")
    writable_dir(junit_path.parent, "--junit")
    return report_dir, json_path, junit_path
