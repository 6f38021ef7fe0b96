"""Project-wide test configuration.

With ``IMAGEBOT_REQUIRE_PG=1`` (set by ``.ci/run``) a run in which no PostgreSQL test passed fails
loudly: CI must never go green on SQLite alone.
"""

from __future__ import annotations

import os

import pytest

_pg_passed: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count PostgreSQL tests that really ran and passed."""
    if report.when == "call" and report.passed and "postgres" in report.keywords:
        _pg_passed.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when PostgreSQL was required but no PostgreSQL test passed."""
    if os.environ.get("IMAGEBOT_REQUIRE_PG") == "1" and not _pg_passed:
        selected = session.config.getoption("-k") or session.config.args != ["tests"]
        if session.testscollected and not selected:
            print("\nIMAGEBOT_REQUIRE_PG=1 but no PostgreSQL test passed: failing the run.")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
