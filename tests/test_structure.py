"""Structure: the dependency rule, the public API, lint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UI = ("ipywidgets", "ipyvuetify", "ipyvue", "bqplot", "voila")
ROOT = Path(__file__).resolve().parents[1]


def _loaded_after(import_line: str) -> set[str]:
    code = f"import sys, json; {import_line}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("module", ["audiosoup_widgets.features", "audiosoup_widgets.store",
                                    "audiosoup_widgets.audio", "audiosoup_widgets.layouts",
                                    "audiosoup_widgets.jobs.compute",
                                    "audiosoup_widgets.jobs.export",
                                    "audiosoup_widgets.jobs.frames",
                                    "audiosoup_widgets.jobs.ingest",
                                    "audiosoup_widgets.jobs.pool",
                                    "audiosoup_widgets.jobs.decodepool"])
def test_core_never_imports_ui(module):
    mods = _loaded_after(f"import {module}")
    assert not {m.split(".")[0] for m in mods} & set(UI)


def test_features_never_import_store():
    mods = _loaded_after("import audiosoup_widgets.features")
    assert "sqlalchemy" not in {m.split(".")[0] for m in mods}
    assert not any(m.startswith("audiosoup_widgets.store") for m in mods)


def test_public_api_is_declared():
    import audiosoup_widgets as asw

    for name in asw.__all__:
        assert hasattr(asw, name), name
    for name in ("connect", "compute_features", "feature_frame", "export_features"):
        assert name in asw.__all__


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the test extras"
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "audiosoup_widgets",
                           "tests", "bench", "loaders"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
