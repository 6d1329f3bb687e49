"""Structure: the layer contracts, module size, the public API, lint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "audiosoup_widgets"
MAX_MODULE_LINES = 600


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is part of the test extras"
    return found


def test_import_contracts_hold():
    # The layers, "widgets never import the store, audio or feature internals", "nothing
    # imports the package root", no UI library below the widgets, no SQL in pure code:
    # the contracts live in pyproject.toml under [tool.importlinter].
    proc = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_no_module_is_over_600_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_public_api_is_declared():
    import audiosoup_widgets as asw

    for name in asw.__all__:
        assert hasattr(asw, name), name
    for name in ("connect", "compute_features", "feature_frame", "export_features"):
        assert name in asw.__all__


def test_ruff_is_clean():
    proc = subprocess.run(
        [
            _tool("ruff"),
            "check",
            "--output-format",
            "concise",
            "audiosoup_widgets",
            "tests",
            "bench",
            "loaders",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _code_map() -> set[str]:
    """Paths named in CONTRIBUTING's file-by-file code map."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    block = text.split("File by file:", 1)[1].split("```", 2)[1]
    paths, folder = set(), ""
    for line in block.splitlines()[1:]:
        indent = len(line) - len(line.lstrip(" "))
        name = line.strip().split(" ", 1)[0]
        if not name:
            continue
        if indent == 2:
            folder = name if name.endswith("/") else ""
            paths.add(name.rstrip("/"))
        elif indent == 4 and folder:
            paths.add(folder + name.rstrip("/"))
    return paths


def test_contributing_code_map_names_every_module():
    named = _code_map()
    modules = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "migrations" not in p.parts and p.name not in ("__init__.py", "__main__.py")
    }
    assert not modules - named, f"modules missing from CONTRIBUTING.md: {sorted(modules - named)}"
    stale = {p for p in named if not (PACKAGE / p).exists()}
    assert not stale, f"CONTRIBUTING.md names files that do not exist: {sorted(stale)}"


def test_ruff_format_is_applied():
    proc = subprocess.run(
        [_tool("ruff"), "format", "--check", "audiosoup_widgets", "tests", "bench", "loaders"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
