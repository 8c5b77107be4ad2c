"""The README stays short, its links resolve, and no document tells a user to type a command
that fails outside the venv."""

import re

from conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_readme_is_at_most_250_lines():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250


def test_every_relative_link_resolves():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (doc.parent / target).exists(), f"{doc.name}: {target}"


def test_no_document_says_python_m_harness():
    for doc in [*DOCS, REPO / "Makefile"]:
        assert "python -m harness " not in doc.read_text(), doc.name
