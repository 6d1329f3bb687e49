"""Helpers shared by the audio tests: writing a file, and the skip reason a file gets.

A plain module (not a conftest) so test modules can import it by a unique name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audiosoup_widgets.audio import REASONS, analyse_file
from audiosoup_widgets.errors import DecodeError


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def reason(path, **kw) -> str:
    with pytest.raises(DecodeError) as info:
        analyse_file(path, **kw)
    exc = info.value
    assert exc.code in REASONS
    assert exc.message and "\n" not in exc.message
    return exc.code
