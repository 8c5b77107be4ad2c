"""`pytest scenarios/`: every case of every scenario file here is a test item that fails when
its `expect` does not hold (see harness/pytest_plugin.py)."""

from harness.pytest_plugin import pytest_collect_file, pytest_configure  # noqa: F401
