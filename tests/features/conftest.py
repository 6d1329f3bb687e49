"""Fixtures of the feature tests (helpers live in ``featuretest_helpers``)."""

from __future__ import annotations

import numpy as np
import pytest
from featuretest_helpers import RATES, SIGNALS


@pytest.fixture(scope="session")
def clips_by_rate() -> dict[int, dict[str, np.ndarray]]:
    """One second of every synthetic signal at every tested rate."""
    return {sr: {name: make(sr) for name, make in SIGNALS.items()} for sr in RATES}
