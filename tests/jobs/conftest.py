"""Shared fixtures of the jobs tests: a small Speech Commands dataset loaded into the store."""

from __future__ import annotations

import pytest
from datasets import make_speech_commands

from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import Store


@pytest.fixture
def loaded(store: Store, tmp_path) -> Store:
    """25 Speech Commands clips and one broken file, loaded as dataset ``sc``."""
    make_speech_commands(tmp_path / "sc")
    (tmp_path / "sc" / "no" / "deadbeef_nohash_0.wav").write_bytes(b"RIFF broken")
    load_dataset(store, tmp_path / "sc", dataset="sc", workers=1)
    return store
