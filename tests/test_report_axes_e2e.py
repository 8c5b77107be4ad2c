"""Reports show every axis that varies in a run: with --permit-foreign-addresses both and
--session-reuse both, each case has its own cell in the terminal grid, summary.md and the
HTML grid, and its own JUnit testcase named by its id. A failing case is never hidden
behind the pass of a weakened variant."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import harness
from test_reports_e2e import chromium

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("axes")
    r = harness(
        "matrix",
        "--topology",
        "client-multiwan",
        "--tls",
        "explicit",
        "--mode",
        "pasv",
        "--pasv-address",
        "control",
        "--masquerade",
        "on",
        "--permit-foreign-addresses",
        "both",
        "--session-reuse",
        "both",
        "--client",
        "ftplib-reuse",
        "--no-rules",
        "--report-dir",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((out / "results.json").read_text())
    return out, r.stdout, {c["id"]: c for c in doc["cases"]}


def test_the_run_has_a_failure_that_a_weakened_variant_passes(run):
    _, _, cases = run
    assert len(cases) == 4
    outcomes = {(c["permit_foreign_addresses"], c["reuse_required"]): c["outcome"] for c in cases.values()}
    assert outcomes[(False, "default")] == "fail" and outcomes[(True, "default")] == "pass", outcomes


def test_the_terminal_grid_has_one_cell_per_case(run):
    _, stdout, cases = run
    header = next(l for l in stdout.splitlines() if "topology" in l and "foreign" in l)
    assert "reuse" in header
    rows = [l for l in stdout.splitlines() if l.lstrip("│ ").startswith("client-multiwan")]
    assert len(rows) == 4 and sum("✗" in l for l in rows) == sum(c["outcome"] == "fail" for c in cases.values())


def test_summary_md_has_one_row_per_case(run):
    out, _, cases = run
    table = [l for l in (out / "summary.md").read_text().splitlines() if l.startswith("| client-multiwan")]
    head = next(l for l in (out / "summary.md").read_text().splitlines() if l.startswith("| topology"))
    assert "foreign" in head and "reuse" in head
    assert len(table) == 4 and sum("**fail**" in l for l in table) == sum(
        c["outcome"] == "fail" for c in cases.values()
    )


def test_junit_testcases_are_named_by_case_id(run):
    out, _, cases = run
    names = [tc.get("name") for tc in ET.parse(out / "junit.xml").getroot().iter("testcase")]
    assert sorted(names) == sorted(cases)


def test_the_html_grid_has_one_cell_per_case(run):
    out, _, cases = run
    data = json.loads(
        re.search(r'<script id="data" type="application/json">(.*?)</script>', (out / "index.html").read_text(), re.S)
        .group(1)
        .replace("<\\/", "</")
    )
    assert {"foreign", "reuse"} <= set(data["row_axes"])
    assert len({tuple(c["row"]) + (c["col"],) for c in data["cases"]}) == len(cases)
    dom = chromium("--dump-dom", f"file://{out / 'index.html'}").stdout
    shown = re.findall(r'<span class="cell [^"]*" data-id="([^"]+)"', dom)
    assert sorted(x for x in shown if not x.startswith("$")) == sorted(cases)  # not the script's template
