"""The audio subpackage's own imports: no database, no UI, nothing heavy at import time."""

from __future__ import annotations

import ast
from pathlib import Path

import audiosoup_widgets.audio as audio

FORBIDDEN = {
    "sqlalchemy",
    "alembic",
    "psycopg2",
    "ipywidgets",
    "ipyvuetify",
    "ipyvue",
    "bqplot",
    "voila",
    "traitlets",
    "pandas",
}
SRC = Path(audio.__file__).parent


def imported_modules(path: Path) -> set[tuple[str, int]]:
    """Every module named by an import statement of ``path``, absolute or relative."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {(a.name, 0) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add((node.module, node.level))
        elif isinstance(node, ast.ImportFrom):  # from .. import name
            out |= {(a.name, node.level) for a in node.names}
    return out


def test_no_database_or_ui_import_anywhere_in_the_subpackage():
    files = sorted(SRC.glob("*.py"))
    assert {f.name for f in files} >= {
        "__init__.py",
        "limits.py",
        "files.py",
        "containers.py",
        "reader.py",
        "decode.py",
        "analysis.py",
        "peaks.py",
    }
    for f in files:
        for name, level in imported_modules(f):
            top = name.split(".")[0]
            assert level or top not in FORBIDDEN, f"{f.name} imports {name}"
            # Inside the package, only ground modules (the error hierarchy, and the
            # compile-cache lock librosa loads under) and this subpackage.
            if level == 2:
                assert name in ("errors", "jitcache"), f"{f.name} imports ..{name}"


def test_librosa_is_imported_only_where_resampling_needs_it():
    for f in SRC.glob("*.py"):
        tree = ast.parse(f.read_text())
        for node in tree.body:  # module level only
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "librosa" for n in names), f.name


def test_public_api_is_declared():
    for name in audio.__all__:
        assert hasattr(audio, name), name
    assert {
        "analyse_file",
        "probe_file",
        "decode",
        "waveform_peaks",
        "encode_peaks",
        "decode_peaks",
        "normalised",
        "Limits",
        "AudioInfo",
        "Analysis",
    } <= set(audio.__all__)
