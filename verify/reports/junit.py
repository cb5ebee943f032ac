"""JUnit XML: one ``<testcase>`` per claim.

held / found → passed; falsified / not_found → ``<failure>``; error → ``<error>``;
inconclusive / vacuous → ``<error type="inconclusive|vacuous">`` (never ``<skipped>``: a
CI dashboard must not show an undecided claim, or one whose premise was never exercised,
as green). Every ``<testcase>`` carries ``<properties>``: the claim's ``provenance``
(THEORY's marking, "after Thm N" or "extension"), its verdict ``strength`` (proved |
certified | tested | tested (float route only)) and the evidence counts behind it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from verify.harness.records import replay_args


def junit_xml(doc: dict) -> str:
    claims = doc["claims"]
    failures = sum(c["status"] in ("falsified", "not_found") for c in claims)
    errors = sum(c["status"] in ("error", "inconclusive", "vacuous") for c in claims)
    total = sum(float(c["time_s"]) for c in claims)
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="ptverify",
        tests=str(len(claims)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{total:.3f}",
        timestamp=str(doc.get("created", "")),
    )
    props = ET.SubElement(suite, "properties")
    for key in ("profile", "seed", "examples", "complete", "interrupted"):
        ET.SubElement(props, "property", name=key, value=str(doc.get(key)))
    for c in claims:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"ptverify.{c['kind']}",
            name=c["id"],
            time=f"{float(c['time_s']):.3f}",
        )
        ev = c.get("evidence") or {}
        cprops = ET.SubElement(case, "properties")
        for key, value in (
            ("provenance", c.get("provenance") or c["theorem"]),
            ("strength", c.get("strength") or "none"),
            ("examples_decided", ev.get("decided")),
            ("exact_decided", ev.get("exact_decided")),
            ("exercised", ev.get("exercised")),
        ):
            if value is not None:
                ET.SubElement(cprops, "property", name=key, value=str(value))
        cnt = c["counts"]
        body = (
            f"THEORY claim {c['id']} ({c.get('provenance') or c['theorem']}; strength "
            f"{c.get('strength') or 'none'}): {c['message']}\n"
            f"examples={cnt.get('examples')} discarded={cnt.get('discarded')} "
            f"inconclusive={cnt.get('inconclusive')}"
        )
        cov = c.get("coverage") or {}
        if cov:
            ranges = " ".join(f"{k}={v[0]}..{v[1]}" for k, v in cov.items() if isinstance(v, list))
            ex = cov.get("exercised")
            body += f"\ncoverage: {ranges} exercised={'n/a' if ex is None else f'{ex:.0%}'}"
        if c.get("case_file"):
            where = doc.get("report_dir")
            path = f"{where.rstrip('/')}/{c['case_file']}" if where else c["case_file"]
            body += f"\nreplay: ptverify replay {replay_args(c.get('case') or {}, path)}"
        status = c["status"]
        if status in ("falsified", "not_found"):
            el = ET.SubElement(case, "failure", type=status, message=c["message"][:500])
            el.text = body
        elif status in ("error", "inconclusive", "vacuous"):
            el = ET.SubElement(case, "error", type=status, message=c["message"][:500])
            el.text = body
        out = ET.SubElement(case, "system-out")
        out.text = body
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
