"""The documents say what the code does: the README stays short and lists every document, links
and paths resolve, no document tells a user to type a command that fails outside the venv,
docs/architecture.md names every module, and the counts the documents give are the ones the
registries and the planner give today."""

import re

from conftest import REPO

from harness import cli
from harness.build import topologies
from harness.plan.axes import Axes, plan

DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]


def test_readme_is_at_most_250_lines():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250


def test_every_relative_link_resolves():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (doc.parent / target).exists(), f"{doc.name}: {target}"


# A repository path as the documents write it: `harness/judge/stages.py`, `tests/rulesets/`.
PATH = re.compile(
    r"(?<![\w/.-])((?:harness|clients|servers|tests|bench|nat|docker|scenarios|plans|schemas)/[\w./-]*\w/?)"
)


# The files CONTRIBUTING.md shows as examples of a new one (each code block's first line).
EXAMPLE_FILES = set(re.findall(r"```(?:python|yaml)\n# (\S+)\n", (REPO / "CONTRIBUTING.md").read_text()))


def test_every_repository_path_a_document_names_exists():
    missing = [
        f"{doc.name}: {p}"
        for doc in DOCS
        for p in PATH.findall(doc.read_text())
        if not (REPO / p).exists() and not (doc.parent / p).exists() and p not in EXAMPLE_FILES
    ]
    assert not missing, missing


def test_no_document_says_python_m_harness():
    for doc in [*DOCS, REPO / "Makefile"]:
        assert "python -m harness " not in doc.read_text(), doc.name


def test_architecture_names_every_module_of_harness():
    text = (REPO / "docs" / "architecture.md").read_text()
    modules = [
        p.relative_to(REPO / "harness").as_posix()
        for p in sorted((REPO / "harness").rglob("*.py"))
        if p.name not in ("__init__.py", "__main__.py")
    ]
    missing = [m for m in modules if f"harness/{m}" not in text]
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_architecture_names_every_client_and_server_module():
    text = (REPO / "docs" / "architecture.md").read_text()
    modules = [p.relative_to(REPO).as_posix() for pkg in ("clients", "servers") for p in (REPO / pkg).rglob("*.py")]
    missing = [m for m in sorted(modules) if m not in text]
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_readme_lists_every_document():
    readme = (REPO / "README.md").read_text()
    more = readme[readme.index("## More") :]
    listed = set(re.findall(r"\]\((docs/[\w.-]+\.md|CONTRIBUTING\.md)\)", more))
    wanted = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")} | {"CONTRIBUTING.md"}
    assert wanted <= listed, f"README's table of documents leaves out {sorted(wanted - listed)}"


# --- counts the documents give -------------------------------------------------------


def _makefile_matrix_args(target: str) -> list[str]:
    """The `ftps-harness matrix` arguments of a Makefile target, variables filled in, without
    --jobs and --report-dir (they do not change which cases run)."""
    text = (REPO / "Makefile").read_text()
    values = dict(re.findall(r"^(\w+)\s*\?=\s*(.*)$", text, re.M))
    body = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M).group(1).replace("\\\n", " ")
    line = next(ln for ln in body.splitlines() if "ftps-harness matrix" in ln)
    words = re.sub(r"\$\((\w+)\)", lambda m: values.get(m.group(1), m.group(0)), line).split()
    words = [w for w in words if not re.fullmatch(r"\$\(\w+_ARG\)", w)]  # JOBS_ARG, SHARD_ARG: how, not what
    words = words[words.index("matrix") + 1 :]
    out = []
    while words:
        w = words.pop(0)
        if w in ("--jobs", "--report-dir"):
            words.pop(0)
        else:
            out.append(w)
    return out


# The matrix options that choose cases and that _planned hands to Axes as cmd_matrix does.
AXES = (
    "--topology",
    "--server",
    "--client",
    "--family",
    "--tls",
    "--tls-version",
    "--transfers",
    "--mode",
    "--pasv-address",
    "--masquerade",
)


def _planned(args: list[str]) -> int:
    unknown = {a for a in args if a.startswith("--")} - set(AXES)
    assert not unknown, f"this test does not know how {unknown} change the plan; teach it"
    a = cli.parser().parse_args(["matrix", *args])
    axes = Axes(
        topologies=a.topology,
        servers=a.server,
        clients=a.client,
        families=a.family,
        tls=a.tls,
        tls_versions=a.tls_version,
        transfers=a.transfers,
        modes=a.mode,
        pasv_address=a.pasv_address,
        masquerade=a.masquerade,
    )
    return len(plan(axes))


def _said(n: int) -> str:
    return f"{n:,}"


def _text(path: str) -> str:
    """A document with its line breaks as spaces, so a phrase may wrap."""
    return " ".join((REPO / path).read_text().split())


def test_the_documents_give_the_number_of_topologies():
    n = len(topologies.names())
    assert f"the {n} topologies" in _text("README.md")
    assert f"all {n} topologies" in _text("docs/cli.md")


def test_the_documents_give_the_size_of_the_default_matrix():
    n = _planned([])
    assert f"({_said(n)} cases" in _text("docs/cli.md")


def test_the_documents_give_the_size_of_make_test_matrix_peers():
    core = _planned(_makefile_matrix_args("test-matrix-peers"))
    tls = _planned(_makefile_matrix_args("test-matrix-peers-tls"))
    readme, cli_md, peers = _text("README.md"), _text("docs/cli.md"), _text("docs/peers.md")
    assert f"is {_said(core + tls)} cases" in readme
    assert f"{_said(core + tls)}-case cross product" in readme
    assert f"is {_said(core + tls)} cases: {_said(core)} + {_said(tls)} in its TLS part" in cli_md
    assert f"{_said(core + tls)} cases: {_said(core)} in the core matrix" in peers
    assert f"{_said(tls)} in its TLS part" in peers
