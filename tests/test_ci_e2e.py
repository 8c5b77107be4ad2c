"""The harness in CI: one run split over three machines (--shard) and merged gives the same
verdicts and reports as one machine; re-runs by id; versions; the results.json schema."""

import json
import re
import shlex
import sys

import pytest
from conftest import REPO, harness

pytestmark = pytest.mark.netns
CORE = "direct,server-nat,server-nat-alg,client-nat,client-nat-alg"
FAMILY = ("--family", "ipv4")  # 150 cases; with IPv6 (the default for these) the run doubles


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One unsharded run of the core topologies, the same as 3 shards, and their merge."""
    tmp = tmp_path_factory.mktemp("ci")
    whole = harness("matrix", "--topology", CORE, *FAMILY, "--report-dir", str(tmp / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    for i in (1, 2, 3):
        part = harness(
            "matrix",
            "--topology",
            CORE,
            *FAMILY,
            "--shard",
            f"{i}/3",
            "--durations",
            str(tmp / "whole" / "results.json"),
            "--report-dir",
            str(tmp / f"part{i}"),
        )
        assert part.returncode == 0, part.stderr[-2000:]
    merged = harness("merge", *(str(tmp / f"part{i}") for i in (1, 2, 3)), "--report-dir", str(tmp / "merged"))
    assert merged.returncode == 0, merged.stderr[-2000:]
    return tmp, whole


def cases(path) -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(path.read_text())["cases"]}


def test_three_shards_merged_give_the_verdicts_of_one_unsharded_run_case_by_case(runs):
    tmp, _ = runs
    whole, merged = cases(tmp / "whole" / "results.json"), cases(tmp / "merged" / "results.json")
    parts = [cases(tmp / f"part{i}" / "results.json") for i in (1, 2, 3)]
    assert len(whole) == 150 and all(parts) and sum(map(len, parts)) == 150
    assert list(merged) == list(whole)  # same cases, same order
    for cid, c in whole.items():
        m = merged[cid]
        assert (m["outcome"], m["stage"], m["check"]) == (c["outcome"], c["stage"], c["check"]), cid
        assert {b: fw["table"] for b, fw in (m.get("rules") or {}).items()} == {
            b: fw["table"] for b, fw in (c.get("rules") or {}).items()
        }, cid
    cmp = harness("compare", str(tmp / "whole" / "results.json"), str(tmp / "merged" / "results.json"))
    assert cmp.returncode == 0 and "no case changed" in cmp.stdout


def _mask(text: str) -> str:
    """Ports, counts, timings and run ids differ from run to run; nothing else may."""
    text = re.sub(r"--report-dir \S+", "--report-dir DIR", text)
    text = re.sub(r'"run_id": "[^"]*"', '"run_id": ""', text)
    return re.sub(r"packets", "packet", re.sub(r"\d+(\.\d+)?", "N", text))


@pytest.mark.parametrize("name", ["summary.md", "details.md", "rules.md", "junit.xml"])
def test_the_merged_reports_are_those_of_one_machine_but_for_ports_timings_and_run_ids(runs, name):
    tmp, _ = runs
    assert _mask((tmp / "merged" / name).read_text()) == _mask((tmp / "whole" / name).read_text())


def _page(path) -> tuple[str, str]:
    """The HTML page without its data, and the data without what varies between real runs
    (transcripts and logs in the evidence: reply wording races, temporary paths)."""
    text = path.read_text()
    blob = re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S).group(1)
    data = json.loads(blob.replace("<\\/", "</"))
    for c in data["cases"]:
        c.pop("evidence")
    for k in ("started", "duration_s", "run_id"):
        data["meta"].pop(k)
    return text.replace(blob, ""), _mask(json.dumps(data, indent=0))


def test_the_merged_html_page_is_that_of_one_machine_but_for_evidence_timings_and_run_ids(runs):
    tmp, _ = runs
    assert _page(tmp / "merged" / "index.html") == _page(tmp / "whole" / "index.html")


def test_merge_is_deterministic_whatever_the_order_of_the_parts(runs):
    tmp, _ = runs
    again = harness("merge", *(str(tmp / f"part{i}") for i in (3, 1, 2)), "--report-dir", str(tmp / "again"))
    assert again.returncode == 0, again.stderr
    for name in ("results.json", "summary.md", "details.md", "rules.md", "junit.xml", "index.html"):
        first, second = ((tmp / d / name).read_text() for d in ("merged", "again"))
        if name in ("results.json", "index.html"):  # run ids, and the command names its report dir
            first, second = (re.sub(r'"run_id": "[^"]*"|--report-dir \S+', "", x) for x in (first, second))
        assert first == second, name


def test_real_results_validate_against_the_schema(runs):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "schemas" / "results.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    tmp, _ = runs
    for d in ("whole", "part2", "merged"):
        jsonschema.validate(json.loads((tmp / d / "results.json").read_text()), schema)


def test_results_json_says_what_ran_it(runs):
    import platform

    tmp, _ = runs
    doc = json.loads((tmp / "whole" / "results.json").read_text())
    v = doc["versions"]
    assert v["kernel"] == platform.release() and v["python"] == platform.python_version()
    assert v["nft"].startswith("nftables v") and "conntrack" in v["conntrack"] and "HAProxy" in v["haproxy"]
    assert v["servers"] == {"pyftpdlib": v["servers"]["pyftpdlib"]} and "ftplib" in v["clients"]["ftplib"]
    assert doc["command"].endswith(f" -m harness matrix --topology {CORE} --family ipv4 --report-dir {tmp / 'whole'}")
    assert doc["axes"]["topologies"] == CORE.split(",") and doc["planned"] == doc["plan_total"] == 150
    assert doc["shard"] is None
    part = json.loads((tmp / "part3" / "results.json").read_text())
    assert part["shard"] == "3/3" and part["plan_total"] == 150 and part["planned"] == len(part["cases"]) < 150
    merged = json.loads((tmp / "merged" / "results.json").read_text())
    assert merged["command"] == doc["command"].replace(str(tmp / "whole"), str(tmp / "merged"))  # no --shard


def test_summary_fits_a_ticket_and_links_the_details(runs):
    tmp, _ = runs
    text = (tmp / "whole" / "summary.md").read_text()
    assert len(text) <= 30_000 and "(details.md)" in text
    assert "- server-nat: " in text and "## Failures: " in text and "  e.g. `" in text


def test_each_failure_ends_with_the_command_that_reruns_it(runs):
    tmp, whole = runs
    lines = [l.strip() for l in whole.stdout.splitlines() if l.strip().startswith("re-run: ")]
    this = shlex.join([sys.executable, "-m", "harness"])  # how the test started the harness
    assert lines and all(l.startswith(f"re-run: {this} matrix --case ") for l in lines)
    argv = shlex.split(lines[0].removeprefix("re-run: "))[3:]
    out = tmp / "one.json"
    r = harness(*argv, "--json", str(out), "--fail-on", "fail")
    (case,) = json.loads(out.read_text())["cases"]
    was = cases(tmp / "whole" / "results.json")[case["id"]]
    assert case["outcome"] == was["outcome"] == "fail" and case["check"] == was["check"]
    assert r.returncode == 1, "--fail-on fail: a failing case trips the gate"


def test_last_failed_runs_exactly_the_failures_of_a_results_file(runs):
    tmp, _ = runs
    before = cases(tmp / "whole" / "results.json")
    failed = [cid for cid, c in before.items() if c["outcome"] in ("fail", "error")]
    out = tmp / "again.json"
    r = harness("matrix", "--last-failed", str(tmp / "whole" / "results.json"), "--json", str(out), "--no-rules")
    assert r.returncode == 0, r.stderr[-2000:]
    again = cases(out)
    assert list(again) == failed
    assert all(again[cid]["outcome"] == "fail" for cid in failed)


def _summary_lines(text: str) -> list[str]:
    lines = text.splitlines()
    i = next(i for i, l in enumerate(lines) if re.match(r"\d+ cases in [\d.]+s: ", l))
    return [re.sub(r"\d+(\.\d+)?", "N", l.rstrip()) for l in lines[i : i + 2]]


def test_the_readme_shows_the_summary_line_and_glance_of_a_real_run(runs):
    tmp, whole = runs
    readme = (REPO / "README.md").read_text()
    assert _summary_lines(readme) == _summary_lines(whole.stdout)
    summary = (tmp / "whole" / "summary.md").read_text()
    glance = [l for l in readme.splitlines() if re.match(r"- [a-z-]+: \d+/\d+; ", l)]
    assert len(glance) >= 5 and all(l in summary for l in glance if " ipv6" not in l), glance
    rerun = next(l.strip() for l in readme.splitlines() if l.strip().startswith("re-run: "))
    assert rerun.replace("ftps-harness", shlex.join([sys.executable, "-m", "harness"]), 1) in [
        l.strip() for l in whole.stdout.splitlines()
    ]
