"""The documents say what the code does: the README stays short, links and paths resolve, no
document tells a user to type a command that fails outside the venv, and
docs/architecture.md names every module."""

import re

from conftest import REPO

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
EXAMPLE_FILES = set(re.findall(r"```python\n# (\S+)\n", (REPO / "CONTRIBUTING.md").read_text()))


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
