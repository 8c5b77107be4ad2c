"""The HTML page in headless Chromium at 1400 px: the grid fits, cells take the keyboard,
rule sets have a copy button, the header says what ran, failing cases link the variant that
passed, and the page prints."""

import json
import re
import shutil
import subprocess
import urllib.parse

import pytest
from conftest import chromium, harness

pytestmark = pytest.mark.netns
FAILING = "server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A multi-peer run with one more varying axis: a grid too wide to share the page with
    the case (server, client and foreign-address columns)."""
    out = tmp_path_factory.mktemp("html")
    r = harness(
        "matrix",
        "--topology",
        "server-nat",
        "--server",
        "pyftpdlib,vsftpd",
        "--client",
        "ftplib,curl",
        "--tls",
        "explicit",
        "--permit-foreign-addresses",
        "both",
        "--family",
        "ipv4",
        "--report-dir",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return out / "index.html"


@pytest.mark.parametrize("width", [1400, 1180])
def test_no_column_is_clipped(page, width):
    """At 1400 px the grid and the case share the page; narrower, the grid takes the full
    width and the case opens as a side sheet. Either way no column is cut off."""
    probe = page.with_name(f"probe-{width}.html")
    probe.write_text(
        f'<iframe id="f" src="index.html" width="{width}" height="900"></iframe><pre id="out"></pre><script>'
        'f.onload = () => setTimeout(() => { const d = f.contentDocument, g = d.querySelector("#grid");'
        'const heads = [...d.querySelectorAll(".matrix th")].map(th => th.getBoundingClientRect().right);'
        "out.textContent = JSON.stringify({scroll: g.scrollWidth, client: g.clientWidth,"
        "right: g.getBoundingClientRect().right, last: Math.max(...heads), page: d.documentElement.scrollWidth,"
        'wide: d.body.classList.contains("wide")}); }, 500);'
        "</script>"
    )
    dom = chromium("--dump-dom", f"file://{probe}", width=width + 100).stdout
    m = json.loads(dom.split('<pre id="out">')[1].split("</pre>")[0])
    assert m["scroll"] <= m["client"] and m["last"] <= m["right"] and m["page"] <= width, m
    assert m["wide"] == (width < 1400), m


def test_header_says_what_ran_and_each_topology_at_a_glance(page):
    dom = chromium("--dump-dom", f"file://{page}").stdout
    assert "-m harness matrix --topology server-nat --server pyftpdlib,vsftpd" in dom
    assert "<dt>kernel</dt>" in dom and "<dt>nft</dt>" in dom and "vsftpd 3." in dom
    assert "server-nat:</b> " in dom and "/80;" in dom


def test_cells_take_the_keyboard_and_rule_sets_have_a_copy_button(page):
    passing = FAILING.replace("/pasv/trust/", "/epsv/n-a/")
    dom = chromium("--dump-dom", f"file://{page}#" + urllib.parse.quote(passing, safe="")).stdout
    cells = re.findall(r'<span class="cell [^>$]*>', dom)  # not the template in the script
    assert len(cells) == 80 and all('tabindex="0"' in c and 'role="button"' in c and "aria-label=" in c for c in cells)
    assert 'data-copy="1"' in dom and "Firewall rules for fw" in dom


def test_a_failing_case_links_the_variant_that_passed(page):
    dom = chromium("--dump-dom", f"file://{page}#" + urllib.parse.quote(FAILING, safe="")).stdout
    assert "Passed in this run with one change:" in dom
    assert f'data-go="{FAILING.replace("masq-off", "masq-on")}"' in dom
    assert f'data-go="{FAILING.replace("/pasv/trust/", "/epsv/n-a/")}"' in dom


def test_the_page_prints_the_whole_grid(page):
    pdf = page.with_name("page.pdf")
    chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", f"file://{page}")
    assert pdf.exists() and pdf.stat().st_size > 20_000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        assert text.count("server-nat") >= 16 and "Click a cell" not in text  # the grid, not the side panel
