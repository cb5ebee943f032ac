"""Verdicts a researcher can cite (issue 24 items 1–2): the spec ships with the tool and is
a page of the report with an anchor per claim and condition; every verdict carries its
THEORY provenance and its strength (results.json, JUnit, HTML, CLI)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from verify.claims import registry
from verify.core import theory
from verify.core.validation import InputError
from verify.harness.records import STRENGTHS, ClaimResult, Counts, strength_of, validate_results
from verify.reports import junit_xml, results_document, write_all
from verify.reports.theory import render_theory

ROOT = Path(__file__).resolve().parent.parent
registry.load_builtin()


# --------------------------------------------------------------------------- the spec


def test_the_shipped_spec_is_the_repositorys_and_the_shared_one():
    repo = (ROOT / "THEORY.md").read_text(encoding="utf-8")
    assert theory.packaged_path().read_text(encoding="utf-8") == repo, (
        "verify/THEORY.md (package data) differs from THEORY.md: cp THEORY.md verify/THEORY.md"
    )
    shared = ROOT.parent / "shared" / "THEORY.md"
    if shared.exists():  # CI and the project's machines have shared/ beside the clone
        assert shared.read_text(encoding="utf-8") == repo, (
            "THEORY.md differs from ../shared/THEORY.md: cp ../shared/THEORY.md THEORY.md "
            "verify/THEORY.md"
        )


def test_every_builtin_claim_has_its_provenance_from_its_theory_heading():
    marked = theory.provenance()
    assert marked, "no `### id — …` claim headings found in THEORY.md"
    for c in registry.all_claims():
        if not c.module.startswith("verify.claims."):
            continue
        assert c.section in marked, f"{c.id}: section {c.section!r} is not a THEORY heading"
        assert c.provenance == marked[c.section], (c.id, c.provenance, marked[c.section])
        assert c.provenance.startswith("after Thm ") or c.provenance == "extension"
    # every THEORY claim is registered under its own ID
    ids = {c.id for c in registry.all_claims()}
    assert set(marked) <= ids, set(marked) - ids


@pytest.mark.parametrize(
    ("heading", "marking"),
    [
        ("after Thm 3.3", "after Thm 3.3"),
        ("sharper form of Thm 3.3 (extension)", "extension"),
        ("prompts need less (implication + existential; after Thm 3.6's comparison)",
         "after Thm 3.6"),
        ("dense transitions (ε-support; our form of the paper's ε-support idea)", "extension"),
    ],
)  # fmt: skip
def test_provenance_rule(heading, marking):
    assert theory.provenance_of(heading) == marking


def test_a_builtin_claim_cannot_state_another_provenance():
    c = registry.get("head.exact")
    from dataclasses import replace

    with pytest.raises(InputError, match="THEORY says"):
        registry.register(replace(c, provenance="after Thm 9.9"))
    registry.register(c)


def test_the_spec_page_has_an_anchor_per_claim_and_condition_and_escapes_html():
    html = str(render_theory())
    ids = re.findall(r'<(?:h3|strong) id="([^"]+)"', html)
    assert ids == list(dict.fromkeys(ids))  # one anchor each
    for cid in theory.claim_headings():
        assert f'<h3 id="{theory.anchor(cid)}">' in html
    conds = theory.condition_ids()
    assert {"C-HEAD", "C-HEAD(μ)", "C-PROMPT(μ)", "C-MEM-POOL", "C-MEM-PROMPT"} <= set(conds)
    for name in conds:
        assert f'<strong id="{theory.anchor(name)}">' in html
    evil = render_theory('### head.exact — <script>alert("x")</script>\nCondition **C-HEAD**: <b>')
    assert "<script>" not in evil and "&lt;script&gt;" in evil and "&lt;b&gt;" in evil


# --------------------------------------------------------------------------- strength


def _rec(kind="universal", decided=10, exact=10, case=None, status="held") -> dict:
    cov = {"decided": decided, "exact_decided": exact, "exercised": 0.9, "k": [2, 5]}
    return {"kind": kind, "status": status, "counts": {"examples": decided + 2},
            "coverage": cov, "case": case}  # fmt: skip


def test_strength_certified_only_when_every_decided_example_ran_the_exact_route():
    assert strength_of(_rec())[0] == "certified"
    assert strength_of(_rec(exact=9))[0] == "tested"
    assert strength_of(_rec(exact=0))[0] == "tested (float route only)"
    assert strength_of(_rec(decided=0, exact=0))[0] is None
    s, ev = strength_of(_rec(exact=9))
    assert ev["examples"] == 12 and ev["decided"] == 10 and ev["exact_decided"] == 9
    assert ev["sizes"] == {"k": [2, 5]} and ev["exercised"] == 0.9


def test_strength_of_an_existential_witness_rests_on_its_certificate():
    witness = {"role": "witness", "outcome": {"status": "witness", "sizes": {"exact_route": 0}}}
    # a search claim whose misses all ran the exact route has still certified nothing
    assert strength_of(_rec("existential", case=None, status="not_found"))[0] == "tested"
    assert strength_of(_rec("existential", case=witness, status="found"))[0] == (
        "tested (float route only)"
    )


def test_runner_counts_exact_decisions_from_the_outcomes():
    from verify.claims.registry import Outcome
    from verify.harness import runner

    tally = runner._Tally()
    tally.record(Outcome.passed(sizes={"exact_route": 1}))
    tally.record(Outcome.passed(sizes={"exact_route": 0}))  # log-space: not exact
    tally.record(Outcome.passed())  # no second route reported
    tally.record(Outcome.discard("ill-posed", sizes={"exact_route": 1}))  # not decided
    cov = tally.coverage()
    assert (cov["decided"], cov["exact_decided"]) == (3, 1)
    assert cov["reasons"] == {"discarded: ill-posed": 1}


def test_results_schema_accepts_proved_with_scope_and_rejects_bad_strengths():
    base = ClaimResult(claim=registry.get("head.exact").describe(), status="held", message="m",
                       profile="ci", budget=1, seed=0, counts=Counts(1, 1),
                       time_s=0.1, coverage={"decided": 1, "exact_decided": 1})  # fmt: skip
    doc = results_document([base.to_dict()], profile="ci", seed=0, examples=None, workers=1,
                           claims_from=[], complete=True, interrupted=False, wall_time_s=1,
                           exit_code=0)  # fmt: skip
    assert doc["claims"][0]["strength"] == "certified"
    assert doc["claims"][0]["provenance"] == "after Thm 3.3"
    validate_results(doc)
    proved = ClaimResult(**{**base.__dict__, "strength": "proved",
                            "scope": {"k": [1, 3], "n": [1, 3], "T": [1, 2]}})  # fmt: skip
    rec = proved.to_dict()
    assert rec["strength"] == "proved" and rec["scope"]["k"] == [1, 3]
    validate_results({**doc, "claims": [rec]})
    no_scope = {k: v for k, v in rec.items() if k != "scope"}
    with pytest.raises(InputError, match="scope"):
        validate_results({**doc, "claims": [no_scope]})
    with pytest.raises(InputError, match="strength"):
        validate_results({**doc, "claims": [{**rec, "strength": "verified"}]})
    with pytest.raises(InputError, match="scope"):
        ClaimResult(**{**base.__dict__, "strength": "proved"})
    assert set(STRENGTHS) == {"proved", "certified", "tested", "tested (float route only)"}


def test_every_report_carries_provenance_strength_and_the_spec_link(tmp_path):
    rec = ClaimResult(claim=registry.get("memory.prompt_limit").describe(), status="held",
                      message="ok", profile="ci", budget=2, seed=0, counts=Counts(2, 2),
                      time_s=0.1, coverage={"decided": 2, "exact_decided": 0})  # fmt: skip
    doc = results_document([rec.to_dict()], profile="ci", seed=0, examples=None, workers=1,
                           claims_from=[], complete=True, interrupted=False, wall_time_s=1,
                           exit_code=0)  # fmt: skip
    write_all(doc, tmp_path, tmp_path / "results.json", tmp_path / "junit.xml")
    page = (tmp_path / "claims" / "memory.prompt_limit.html").read_text()
    # checked under memory.prompt's section, whose heading says "after Thm 4.6"
    assert 'href="../theory.html#memory.prompt"' in page and "after Thm 4.6" in page
    assert "tested (float route only)" in page and "THEORY claim" in page
    index = (tmp_path / "index.html").read_text()
    assert 'href="theory.html#memory.prompt"' in index and "s-float" in index
    spec = (tmp_path / "theory.html").read_text()
    assert '<h3 id="memory.prompt">' in spec
    for f in tmp_path.rglob("*.html"):  # the spec itself speaks of the paper's theorems
        if f.name != "theory.html":
            assert "Theorem" not in f.read_text(), f
    props = {p.get("name"): p.get("value")
             for p in ET.fromstring(junit_xml(doc)).iter("property")}  # fmt: skip
    assert props["provenance"] == "after Thm 4.6"
    assert props["strength"] == "tested (float route only)"


def test_no_builtin_claim_says_theorem():
    for c in registry.all_claims():
        if c.module.startswith("verify.claims."):
            text = " ".join(str(v) for v in c.describe().values())
            assert "Theorem" not in text, c.id


def test_the_spec_ships_as_package_data():
    """A non-editable install carries verify/THEORY.md: pyproject's package data names it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "THEORY.md" in data["tool"]["setuptools"]["package-data"]["verify"]
    assert theory.packaged_path().is_file()
    assert "markdown-it-py" in " ".join(data["project"]["dependencies"])
