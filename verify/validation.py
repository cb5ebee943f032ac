"""What bad input is, in one place.

Every check on what a caller gave — shapes, NaN/inf, probabilities, token ranges, sizes,
JSON, flags — raises :class:`InputError` with a message naming the field and the fix.
It subclasses ``ValueError`` (so ``except ValueError`` and library users keep working),
and it is how the CLI tells bad input (exit 2) from a bug in ptverify: any other
exception, a ``ValueError`` from deep inside numpy included, is an internal error (exit 1,
traceback saved).
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message names the field and the fix."""


__all__ = ["InputError"]
