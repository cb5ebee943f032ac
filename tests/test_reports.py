"""Reports: versioned results JSON, JUnit XML, valid escaped self-contained HTML, atomic
writes, strict case-file validation."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from verify.reports import (
    atomic_write,
    junit_xml,
    load_case,
    load_results,
    results_document,
    validate_results,
    write_all,
)
from verify.reports.pages import heatmap_svg, histogram_svg

EVIL = "<script>alert(\"x\")</script> & 'q'"

VOID = {"meta", "br", "img", "hr", "input", "link", "rect", "line", "path", "circle"}


class StrictHTML(HTMLParser):
    """Tag-balance checker: every non-void element closed in order; no scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text, self.doctype = [], [], [], False

    def handle_decl(self, decl):
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.errors.append("script element")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_html(text: str) -> str:
    p = StrictHTML()
    p.feed(text)
    p.close()
    assert p.doctype, "missing <!DOCTYPE html>"
    assert not p.errors, p.errors[:5]
    assert not p.stack, f"unclosed {p.stack}"
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text  # self-contained: nothing fetched
    return "".join(p.text)


def _case(claim_id: str, role: str = "counterexample") -> dict:
    return {
        "schema": "ptverify.case",
        "schema_version": 1,
        "claim": claim_id,
        "claims_from": None,
        "role": role,
        "instance": {
            "hmm": {"kind": "hmm", "version": 1, "start": [0.5, 0.5],
                    "transition": [[0.5, 0.5], [1.0, 0.0]],
                    "emission": [[1.0, 0.0], [0.5, 0.5]]},
            "mu": {"array": [1.0, -1.0], "dtype": "float64"},
        },
        "outcome": {
            "status": "fail", "message": EVIL, "quantities": {"gamma": 0.25},
            "detail": {"inputs": [{"x": [0], "label": 1, "posterior": [0.6, 0.4],
                                   "head_output": -0.1}],
                       "certificate": {"status": "not_recoverable", "lambda": [0.5, 0.5]},
                       "note": EVIL},
        },
    }  # fmt: skip


def _record(cid: str, status: str, case: dict | None = None) -> dict:
    return {
        "id": cid, "theorem": "Theorem 3.3 " + EVIL, "kind": "universal", "statement": EVIL,
        "strategy": "s", "oracles": ["lp"], "examples": {"ci": 3}, "thresholds": {"t": 1.0},
        "module": "m", "status": status, "message": EVIL, "profile": "ci", "budget": 3,
        "seed": None,
        "counts": {"examples": 3, "passed": 2, "discarded": 1, "inconclusive": 0,
                   "searched": 0},
        "time_s": 0.5,
        "quantities": {"sigma_min": {"count": 4, "min": 1e-6, "max": 0.5, "mean": 0.2,
                                     "median": 0.1, "values": [1e-6, 1e-3, 0.1, 0.5]}},
        "case": case,
    }  # fmt: skip


def _doc() -> dict:
    claims = [
        _record("c.held", "held"),
        _record("c.bad", "falsified", _case("c.bad")),
        _record("c.undecided", "inconclusive"),
        _record("c.found", "found", _case("c.found", "witness")),
    ]
    return results_document(
        claims, profile="ci", seed=None, examples=None, workers=1, claims_from=[],
        complete=True, interrupted=False, wall_time_s=1.0, exit_code=1,
    )  # fmt: skip


def test_full_report_is_valid_escaped_and_self_contained(tmp_path):
    doc = _doc()
    write_all(doc, tmp_path, tmp_path / "results.json", tmp_path / "junit.xml")
    pages = [tmp_path / "index.html"]
    pages += [tmp_path / "claims" / f"{c}.html" for c in ("c.held", "c.bad", "c.undecided")]
    pages += [tmp_path / "cases" / f"{c}.html" for c in ("c.bad", "c.found")]
    for page in pages:
        raw = page.read_text()
        text = check_html(raw)
        assert "<script>" not in raw and "&lt;script&gt;" in raw
        assert '<script>alert("x")</script>' in text  # shown to the reader as text
    index = (tmp_path / "index.html").read_text()
    for cid in ("c.held", "c.bad", "c.undecided", "c.found"):
        assert f'href="claims/{cid}.html"' in index
    claim_page = (tmp_path / "claims" / "c.held.html").read_text()
    assert claim_page.count("<svg") == 1 and "log scale" in claim_page
    case_page = (tmp_path / "cases" / "c.bad.html").read_text()
    assert "ptverify replay cases/c.bad.json" in case_page
    assert case_page.count("<svg") == 3  # start, transition, emission heatmaps
    assert "LP certificate" in case_page and "Conflicting inputs" in case_page
    assert load_case(tmp_path / "cases" / "c.bad.json")["claim"] == "c.bad"
    again = load_results(tmp_path / "results.json")
    assert again["schema"] == "ptverify.results" and again["schema_version"] == 2
    assert [c["status"] for c in again["claims"]] == [
        "held", "falsified", "inconclusive", "found"]  # fmt: skip
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_junit_never_shows_an_undecided_claim_as_passed():
    root = ET.fromstring(junit_xml(_doc()).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "1"
    assert suite.get("errors") == "1" and suite.get("skipped") == "0"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["c.bad"].find("failure").get("type") == "falsified"
    assert cases["c.undecided"].find("error").get("type") == "inconclusive"
    assert cases["c.held"].find("failure") is None and cases["c.held"].find("error") is None
    assert cases["c.undecided"].find("skipped") is None
    assert "ptverify replay cases/c.bad.json" in cases["c.bad"].find("failure").text


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("instance"), "instance"),
        (lambda d: d.update(schema_version=7), "schema_version"),
        (lambda d: d.update(schema="other"), "schema"),
        (lambda d: d.update(role="guess"), "role"),
        (lambda d: d.update(claim=3), "claim"),
        (lambda d: d["outcome"].pop("status"), "outcome"),
    ],
)
def test_case_files_are_validated_strictly(tmp_path, mutate, field):
    case = _case("c.bad")
    mutate(case)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    with pytest.raises(ValueError, match=field):
        load_case(path)


def test_bad_results_and_json_are_reported_by_field(tmp_path):
    doc = _doc()
    doc["claims"][1]["status"] = "sort of"
    with pytest.raises(ValueError, match=r"claims\[1\]\.status"):
        validate_results(doc)
    p = tmp_path / "r.json"
    p.write_text('{"schema": NaN}')
    with pytest.raises(ValueError, match="NaN"):
        load_results(p)
    with pytest.raises(ValueError, match="cannot read"):
        load_results(tmp_path / "missing.json")


def test_atomic_write_replaces_whole_files_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "f.txt"
    atomic_write(target, "old")
    atomic_write(target, "new")
    assert target.read_text() == "new"

    def fail(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        atomic_write(target, "half")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_svg_helpers_handle_edge_cases():
    assert "no values" in histogram_svg([], "q")
    one = histogram_svg([3.0, 3.0], "q")
    assert one.startswith("<svg") and "log scale" not in one
    assert heatmap_svg([], "m") == ""
    hm = heatmap_svg([[0.0, 1.0], [0.5, None]], "m")
    assert hm.count("<rect") == 4


def test_index_links_the_reproduce_report_when_present(tmp_path):
    doc = _doc()
    write_all(doc, tmp_path, tmp_path / "results.json", None)
    assert "reproduce/index.html" not in (tmp_path / "index.html").read_text()
    (tmp_path / "reproduce").mkdir()
    (tmp_path / "reproduce" / "index.html").write_text("<!DOCTYPE html>")
    write_all(doc, tmp_path, tmp_path / "results.json", None)
    assert 'href="reproduce/index.html"' in (tmp_path / "index.html").read_text()
    assert not (tmp_path / "junit.xml").exists()


def test_coverage_and_the_vacuous_status_are_reported_and_validated(tmp_path):
    doc = _doc()
    rec = doc["claims"][0]
    rec["status"] = "vacuous"
    rec["coverage"] = {
        "k": [2, 8], "T": [1, 6], "exercised": 0.5, "exercised_count": 1,
        "exercised_known": 2, "decided": 2, "discard_rate": 0.0,
        "sizes": {"k": {"2": 1, "8": 1}}, "targets": {"small σ": {"max": 3.0, "min": 1.0,
                                                               "count": 2}},
    }  # fmt: skip
    write_all(doc, tmp_path, tmp_path / "results.json", tmp_path / "junit.xml")
    page = (tmp_path / "claims" / "c.held.html").read_text()
    assert "Coverage" in page and "50.0%" in page and "small σ" in page
    assert 'aria-label="k distribution"' in page
    assert load_results(tmp_path / "results.json")["claims"][0]["status"] == "vacuous"
    suite = ET.fromstring(junit_xml(doc).split("\n", 1)[1]).find("testsuite")
    held = {c.get("name"): c for c in suite.findall("testcase")}["c.held"]
    assert held.find("error").get("type") == "vacuous"  # never shown as passed
    rec["coverage"]["exercised"] = 1.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="exercised"):
        load_results(bad)


def test_templates_ship_as_package_data():
    """A non-editable install has every template: the loader finds them as resources of
    ``verify.reports``, and pyproject's package-data globs cover each file."""
    from fnmatch import fnmatch
    from importlib.resources import files
    from pathlib import Path

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    from verify.reports.pages import environment

    names = sorted(p.name for p in (files("verify.reports") / "templates").iterdir())
    assert {"base.html", "style.css", "claims_index.html", "reproduce.html"} <= set(names)
    assert sorted(environment().list_templates()) == names
    for name in names:
        assert environment().get_template(name).filename.endswith(name)
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["verify.reports"]
    assert all(any(fnmatch(f"templates/{n}", g) for g in globs) for n in names)
