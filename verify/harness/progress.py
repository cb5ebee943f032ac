"""Progress of long work: ``logging`` for messages, one tqdm bar helper for loops.

Every module logs to ``logging.getLogger(__name__)``, so all of ptverify sits under the
``verify`` logger. A library caller configures logging as it likes (warnings reach stderr
even unconfigured, through logging's last-resort handler); the command line calls
:func:`configure_logging` once, which prints ``ptverify: message`` lines on stderr.
Bars (:func:`bar`) draw only when asked and stderr is a terminal, so CI logs stay plain.
"""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

ROOT = "verify"


class _StderrHandler(logging.Handler):
    """Writes to the *current* ``sys.stderr`` (so captured or redirected stderr gets the
    lines) through ``tqdm.write``, which keeps an open bar below the message."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Send the ``verify`` loggers' records at ``level`` and up to stderr as
    ``ptverify: …`` lines; calling it again replaces the handler (idempotent)."""
    log = logging.getLogger(ROOT)
    for h in [h for h in log.handlers if isinstance(h, _StderrHandler)]:
        log.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("ptverify: %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)


def bar(
    total: int, desc: str, unit: str, *, initial: int = 0, enabled: bool = True, leave: bool = True
) -> tqdm:
    """A tqdm bar over ``total`` units on stderr, drawn only when ``enabled`` and stderr is
    a terminal; otherwise a no-op object with the same ``update``/``set_postfix``/``close``."""
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        leave=leave,
        dynamic_ncols=True,
        disable=None if enabled else True,
    )


def progress_line(i: int, n: int, r: dict) -> str:
    """The progress message after the i-th of n claims finished with record ``r``."""
    cnt = r["counts"]
    return (
        f"[{i}/{n}] {r['id']:<18} {r['status']:<12} {r.get('strength') or '–'} "
        f"({r.get('provenance', '')}) {cnt['examples']} examples ({cnt['discarded']} "
        f"discarded, {cnt['inconclusive']} inconclusive) {r['time_s']:.1f}s"
    )


__all__ = ["ROOT", "bar", "configure_logging", "progress_line"]
