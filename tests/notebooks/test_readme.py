"""The README's Python code runs as written, against a database holding the demo dataset."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from dashboard_support import subprocess_env

pytestmark = pytest.mark.slow  # a subprocess per block, against the demo database

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    """Return the README's ```python code blocks, in order."""
    return re.findall(
        r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE
    )


def test_readme_python_blocks_run(notebook_db, tmp_path):
    blocks = python_blocks()
    assert len(blocks) >= 2
    for i, code in enumerate(blocks):
        # Each block in a fresh interpreter, in an empty folder, with only the
        # environment a user would have: the configured database.
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env=subprocess_env(notebook_db),
        )
        assert proc.returncode == 0, f"README block {i + 1} failed:\n{code}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
