"""pytest plugin: ptverify claims as pytest items (entry point ``pytest11``: ``ptverify``).

``pytest --ptverify`` adds one item per registered claim, node ID ``ptverify::<claim id>``
(built-ins, plus every ``--ptverify-claims-from MODULE_OR_PATH``), next to the project's
own tests, so ``-k``, ``-m``, ``--junitxml`` and ``-n`` (xdist) apply as usual. Each item
runs :func:`verify.harness.runner.run_claim` with ``--ptverify-profile`` (default ``ci``, the
derandomized gate) and, with ``--ptverify-cases DIR``, the pinned cases of DIR first.

Markers (for ``-m``): ``ptverify`` on every item, ``ptverify_<family>`` (the ID before
its first dot: ``ptverify_head``, ``ptverify_prompt``, ``ptverify_memory``, a user
family …) and ``ptverify_<kind>`` (``universal``, ``existential``, ``implication``,
``statistical``).

Outcomes: held / found → passed. falsified / not_found / error → failed, with the
statement, the verdict, the (shrunk) instance in brief, the case file (written to
``--ptverify-report-dir``, default ``.ptverify`` under the invocation directory) and a
replay command that works from any directory. inconclusive / vacuous → **failed** too,
shown as ``INCONCLUSIVE`` / ``VACUOUS``: the claim was not shown, and a skip or an xfail
would leave the run green (pytest has no third exit code like ``ptverify``'s 3). Every
item records ``ptverify_status`` as a user property (a ``<property>`` in ``--junitxml``).

Without ``--ptverify`` the plugin adds nothing and imports nothing from ``verify``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from verify.claims.registry import Claim

_PASSING = ("held", "found")
_WORDS = {"inconclusive": "INCONCLUSIVE", "vacuous": "VACUOUS", "not_found": "NOT FOUND"}


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("ptverify", "ptverify claims as test items")
    g.addoption("--ptverify", action="store_true", help="collect every ptverify claim as an item")
    g.addoption(
        "--ptverify-profile",
        default="ci",
        choices=("ci", "dev", "thorough"),
        help="runner profile (default ci: derandomized; dev/thorough keep the example DB)",
    )
    g.addoption(
        "--ptverify-claims-from",
        action="append",
        default=[],
        metavar="MODULE_OR_PATH",
        help="also collect the claims of this module or .py file (repeatable)",
    )
    g.addoption(
        "--ptverify-cases",
        default=None,
        metavar="DIR",
        help="replay the case files in DIR before generating (pinned regressions)",
    )
    g.addoption("--ptverify-examples", type=int, default=None, help="examples per claim (override)")
    g.addoption(
        "--ptverify-report-dir",
        default=".ptverify",
        metavar="DIR",
        help="where case files of failing claims are written (default .ptverify)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("ptverify"):
        return
    config.addinivalue_line("markers", "ptverify: a ptverify claim (pytest --ptverify)")
    for kind in ("universal", "existential", "implication", "statistical"):
        config.addinivalue_line("markers", f"ptverify_{kind}: a ptverify {kind} claim")


def _family(claim_id: str) -> str:
    head = claim_id.split(".", 1)[0]
    return "".join(ch if ch.isalnum() else "_" for ch in head)


def _load(config: pytest.Config) -> list[Claim]:
    """Built-in and ``--ptverify-claims-from`` claims, in registry order."""
    from verify.claims import all_claims, load_builtin, load_claims_module

    load_builtin()
    for spec in config.getoption("ptverify_claims_from"):
        load_claims_module(spec)
    cases = config.getoption("ptverify_cases")
    if cases:
        from verify.harness.pinned import load_pinned

        config.stash[_PINNED] = load_pinned(cases)
    return all_claims()


_PINNED = pytest.StashKey[dict]()


class ClaimsCollector(pytest.Collector):
    """The ``ptverify`` node holding one :class:`ClaimItem` per claim."""

    def collect(self) -> list[pytest.Item]:
        items: list[pytest.Item] = []
        claims = _load(self.config)
        for family in sorted({_family(c.id) for c in claims}):
            self.config.addinivalue_line(
                "markers", f"ptverify_{family}: ptverify claims {family}.*"
            )
        for c in claims:
            item = ClaimItem.from_parent(self, name=c.id, claim_id=c.id)
            for mark in ("ptverify", f"ptverify_{_family(c.id)}", f"ptverify_{c.kind}"):
                item.add_marker(mark)
            items.append(item)
        return items

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        from verify.core.validation import InputError

        if isinstance(excinfo.value, InputError):  # bad option or case file: one line
            return f"ptverify: {excinfo.value}"
        return super().repr_failure(excinfo)  # a Collector's takes no style


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Append the claim items before ``-k`` / ``-m`` deselect (hence ``tryfirst``)."""
    if not config.getoption("ptverify"):
        return
    from _pytest.runner import collect_one_node

    node = ClaimsCollector.from_parent(session, name="ptverify", nodeid="ptverify")
    report = collect_one_node(node)  # reported, so "collected N items" counts the claims
    session.ihook.pytest_collectreport(report=report)
    if report.failed:  # e.g. a bad --ptverify-claims-from: pytest shows it as an error
        return
    items.extend(x for x in report.result if isinstance(x, pytest.Item))


class ClaimFailed(Exception):
    """A claim that did not hold; ``args[0]`` is the text pytest shows."""


class ClaimItem(pytest.Item):
    """One claim, run by :func:`verify.harness.runner.run_claim` when the item runs."""

    def __init__(self, *, claim_id: str, name: str, parent: ClaimsCollector) -> None:
        super().__init__(name=name, parent=parent)
        self.claim_id = claim_id

    def runtest(self) -> None:
        from verify.harness.runner import run_claim

        cfg = self.config
        pinned = cfg.stash.get(_PINNED, {}).get(self.claim_id, ())
        r = run_claim(
            self.claim_id,
            cfg.getoption("ptverify_profile"),
            cfg.getoption("ptverify_examples"),
            None,
            pinned,
        ).to_dict()
        self.user_properties.append(("ptverify_status", r["status"]))
        if r["status"] in _PASSING:
            return
        case_path = None
        if r.get("case"):
            from verify.harness.files import atomic_write

            base = Path(cfg.invocation_params.dir) / cfg.getoption("ptverify_report_dir")
            case_path = atomic_write(
                (base / "cases" / f"{self.claim_id}.json").resolve(),
                json.dumps(r["case"], indent=1),
            )
        raise ClaimFailed(failure_text(r, case_path))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # the failure header; not a suffix of the node ID, which pytest would print with
        # the domain's dots as "::" (ptverify::head::exact)
        return self.path, None, f"ptverify claim {self.claim_id}"


def brief(value: Any, width: int = 100) -> str:
    """One short line for an instance value in case-file JSON (models by size, arrays by
    shape and first entries)."""
    if isinstance(value, dict) and value.get("kind") == "hmm":
        k, n = len(value["emission"]), len(value["emission"][0]) if value["emission"] else 0
        return f"HMM k={k} n={n}"
    if isinstance(value, dict) and value.get("kind") == "memory_hmm":
        return f"memory HMM N={len(value['memory_prior'])} n={len(value['emission'][0])}"
    if isinstance(value, dict) and set(value) == {"array", "dtype"}:
        arr, shape = value["array"], []
        probe = arr
        while isinstance(probe, list):
            shape.append(len(probe))
            probe = probe[0] if probe else None
        text = json.dumps(arr)
        return f"array{tuple(shape)} " + (text if len(text) <= width else text[:width] + "…")
    text = json.dumps(value)
    return text if len(text) <= width else text[:width] + "…"


def failure_text(r: dict, case_path: Path | None) -> str:
    """What a failed claim item shows: statement, verdict, instance in brief, case, replay."""
    from verify.harness.records import replay_args

    status = r["status"]
    word = _WORDS.get(status, status.upper())
    builtin = str(r.get("module", "")).startswith("verify.claims.")
    which = "THEORY claim" if builtin else "claim"  # a user claim is not THEORY's
    lines = [
        f"ptverify: {which} {r['id']} ({r['theorem']}, {r['kind']}) {word}",
        f"  statement: {r['statement']}",
        f"  verdict:   {r['message']}",
    ]
    if status in ("inconclusive", "vacuous"):
        lines.append("  (not a pass: nothing was shown either way; see the verdict)")
    case = r.get("case")
    if case:
        lines.append(f"  {case['role']} (shrunk):")
        for key, value in case["instance"].items():
            lines.append(f"    {key} = {brief(value)}")
        if case_path is not None:
            lines.append(f"  case file: {case_path}")
            lines.append(f"  replay:    ptverify replay {replay_args(case, case_path)}")
    cnt = r["counts"]
    lines.append(
        f"  profile {r['profile']}, seed {r['seed']}: {cnt['examples']} "
        f"example{'' if cnt['examples'] == 1 else 's'} "
        f"({cnt['discarded']} discarded, {cnt['inconclusive']} inconclusive), {r['time_s']}s"
    )
    return "\n".join(lines)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """Show inconclusive / vacuous claims as such (they stay failures: never green)."""
    if report.when != "call" or not report.failed:
        return None
    status = dict(report.user_properties).get("ptverify_status")
    if status in ("inconclusive", "vacuous"):
        return "failed", status[0].upper(), _WORDS[status]
    return None
