"""Reports of a claims run: results JSON, case files, JUnit XML and the HTML report."""

from __future__ import annotations

from pathlib import Path

from verify.harness.records import (
    case_certificate,
    check_case_certificate,
    validate_case,
    validate_results,
)

from .html import write_html
from .junit import junit_xml
from .results import atomic_write, dumps, load_case, load_results, results_document, write_cases


def write_all(
    doc: dict, report_dir: str | Path, json_path: str | Path, junit_path: str | Path | None
) -> None:
    """Results JSON, case files, JUnit XML (when a path is given) and HTML, all atomic."""
    report_dir = Path(report_dir)
    write_cases(doc, report_dir)
    atomic_write(json_path, dumps(doc))
    if junit_path is not None:
        atomic_write(junit_path, junit_xml(doc))
    write_html(doc, report_dir)


__all__ = [
    "atomic_write",
    "case_certificate",
    "check_case_certificate",
    "dumps",
    "junit_xml",
    "load_case",
    "load_results",
    "results_document",
    "validate_case",
    "validate_results",
    "write_all",
    "write_cases",
    "write_html",
]
