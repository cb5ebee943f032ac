"""THEORY.md, the spec that ships with ptverify: where it is, its claim headings and their
provenance markings, its condition IDs, and the anchors reports link to.

One source of truth: ``THEORY.md`` at the repository root (a copy of the project's shared
spec). The installed package carries an identical copy as package data,
``verify/THEORY.md``, so an installed ``ptverify`` finds the spec without the repository;
``tests/test_theory.py`` fails when the two differ (and when the repository's copy differs
from ``../shared/THEORY.md`` where that exists).

Provenance (THEORY's Provenance section): a claim heading ``### id — …`` marks the claim
*after Thm N* (our precise version of the paper's Theorem N) or *extension* (a statement of
ours). A heading that says "extension" is an extension even when it names a theorem
(``head.rowspace — sharper form of Thm 3.3 (extension)``); one that says "after Thm N" and
not "extension" is ``after Thm N``; a heading with neither marking is ours, an extension
(THEORY's definition: anything that is not our version of a paper theorem).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

#: The file name of the spec, at the repository root and inside the package.
THEORY_FILE = "THEORY.md"

_CLAIM_HEADING = re.compile(r"^### (?P<id>[a-z_]+\.[a-z_]+) — (?P<rest>.*)$")
_AFTER = re.compile(r"after Thm (?P<n>\d+(?:\.\d+)?)")
_CONDITION = re.compile(r"\*\*(?P<id>C-[A-Z-]+(?:\(μ\))?)\*\*")


def packaged_path() -> Path:
    """The spec inside the installed package (``verify/THEORY.md``)."""
    return Path(str(resources.files("verify") / THEORY_FILE))


def repository_path() -> Path:
    """Where the repository's ``THEORY.md`` is when ``verify`` runs from a checkout (it may
    not exist in an installed package)."""
    return Path(__file__).resolve().parents[2] / THEORY_FILE


@functools.cache
def text() -> str:
    """The spec's markdown."""
    return packaged_path().read_text(encoding="utf-8")


def provenance_of(heading: str) -> str:
    """``"after Thm N"`` or ``"extension"`` from a claim heading's words (module docstring)."""
    if "extension" in heading:
        return "extension"
    m = _AFTER.search(heading)
    return f"after Thm {m.group('n')}" if m else "extension"


def claim_headings(source: str | None = None) -> dict[str, str]:
    """Claim ID → the rest of its ``### id — …`` heading, in the spec's order (of
    ``source``, default the shipped spec)."""
    out = {}
    for line in (text() if source is None else source).splitlines():
        m = _CLAIM_HEADING.match(line)
        if m:
            out[m.group("id")] = m.group("rest")
    return out


def provenance() -> dict[str, str]:
    """Claim ID → its provenance marking, for every claim the spec states."""
    return {cid: provenance_of(rest) for cid, rest in claim_headings().items()}


def condition_ids(source: str | None = None) -> tuple[str, ...]:
    """The condition IDs the spec defines (``**C-HEAD**`` …), in order of definition."""
    src = text() if source is None else source
    return tuple(dict.fromkeys(m.group("id") for m in _CONDITION.finditer(src)))


def anchor(name: str) -> str:
    """The HTML anchor of a claim ID or condition ID on the spec page: the ID itself, with
    ``(μ)`` written ``-mu`` (``C-PROMPT(μ)`` → ``C-PROMPT-mu``)."""
    return name.replace("(μ)", "-mu")


#: The spec page's path inside a report directory.
PAGE = "theory.html"


def link(name: str | None = None, prefix: str = "") -> str:
    """A report-relative link to the spec page, at ``name``'s anchor when given."""
    return f"{prefix}{PAGE}" + (f"#{anchor(name)}" if name else "")


__all__ = [
    "PAGE",
    "THEORY_FILE",
    "anchor",
    "claim_headings",
    "condition_ids",
    "link",
    "packaged_path",
    "provenance",
    "provenance_of",
    "repository_path",
    "text",
]
