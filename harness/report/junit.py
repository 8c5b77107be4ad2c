"""JUnit XML: one testcase per case, the diagnosis as the failure message (CI systems show it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.judge.verdict import Result


def _name(r: Result) -> str:
    return r.case.id  # unique per case, and the id every other report uses


def document(results: list[Result], seconds: float, headline: str = "") -> ET.Element:
    suites = ET.Element("testsuites", name="ftps-harness", tests=str(len(results)))
    by_topo: dict[str, list[Result]] = {}
    for r in results:
        by_topo.setdefault(r.case.lab, []).append(r)
    for topo, rs in by_topo.items():
        n = {o: sum(1 for r in rs if r.verdict.outcome == o and not r.flaky) for o in ("fail", "error", "skip")}
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=topo,
            tests=str(len(rs)),
            failures=str(n["fail"]),
            errors=str(n["error"]),
            skipped=str(n["skip"]),
            time=f"{sum(r.duration_s for r in rs):.3f}",
        )
        for r in rs:
            tc = ET.SubElement(suite, "testcase", classname=f"ftps.{topo}", name=_name(r), time=f"{r.duration_s:.3f}")
            v = r.verdict
            if r.flaky:  # the runs disagree: JUnit's rerun vocabulary (Surefire) has flakyFailure
                el = ET.SubElement(
                    tc, "flakyFailure", type=v.check or "fail", message=f"{_name(r)}: flaky, {r.flaky_said()}"
                )
                el.text = "\n".join(f"{x.said()}: {x.diagnosis}" for x in r.runs)
            elif v.outcome == "fail":
                el = ET.SubElement(
                    tc, "failure", type=v.check or "fail", message=f"{_name(r)}: {v.stage} — {v.diagnosis}"
                )
                el.text = "\n".join(v.evidence.transcript[-20:])
            elif v.outcome == "error":
                ET.SubElement(tc, "error", type="harness-error", message=v.diagnosis)
            elif v.outcome == "skip":
                ET.SubElement(tc, "skipped", message=v.diagnosis)
            ET.SubElement(tc, "system-out").text = f"case id: {r.case.id}\n{v.diagnosis}"
        if headline:  # the command's own verdict (the ticket's), where CI systems show suite output
            ET.SubElement(suite, "system-out").text = headline
    return suites


def write(path: Path, results: list[Result], seconds: float, headline: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(document(results, seconds, headline))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
