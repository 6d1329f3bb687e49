"""Fixtures for the notebook tests: one seeded database for the session.

The seeding helper is shared with the dashboard tests (``tests/dashboard``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))

from dashboard_support import seed_database  # noqa: E402


@pytest.fixture(scope="session")
def notebook_db(tmp_path_factory) -> str:
    """A throwaway SQLite database with the demo dataset and its feature summaries."""
    return seed_database(tmp_path_factory.mktemp("notebook-db"), features=True)
