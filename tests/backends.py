"""The database backends of the store tests (a plain module: ``from backends import BACKENDS``).

Test modules import these from here, not from ``conftest``: several folders have a
``conftest.py``, and which one ``import conftest`` finds depends on the order pytest
collected them.
"""

from __future__ import annotations

import os

import pytest

#: The PostgreSQL server the tests create their throwaway databases on.
PG_ADMIN_URL = os.environ.get("AUDIOSOUP_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
#: The store backends every ``store`` test runs on; PostgreSQL ones carry the ``postgres`` marker.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
