"""The ``audiosoup`` parser: one module per command group, and nothing heavy before a command runs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from audiosoup_widgets.cli import build_parser
from audiosoup_widgets.features.export import FORMATS

CLI = Path(__file__).resolve().parents[2] / "audiosoup_widgets" / "cli"


def test_export_offers_exactly_the_formats_the_writer_knows():
    sub = next(a for a in build_parser()._subparsers._group_actions)  # the command table
    fmt = next(a for a in sub.choices["export"]._actions if a.dest == "format")
    assert tuple(fmt.choices) == FORMATS
    export = build_parser().parse_args(
        ["export", "--dataset", "d", "--features", "mfcc", "--format", "parquet", "--output", "o.parquet"]
    )
    assert export.format == "parquet"


def test_building_the_parser_loads_no_feature_engine_and_no_database():
    # A damaged compiled-code cache kills the process that loads the engine: no command may
    # load it before prepare_engine has checked the cache, so parsing must not.
    code = (
        "import sys, json; from audiosoup_widgets.cli import build_parser; build_parser(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    loaded = {m.split(".")[0] for m in json.loads(out)} | set(json.loads(out))
    assert not loaded & {"librosa", "numba", "sqlalchemy", "audiosoup_widgets.features.engine"}


def test_command_modules_never_import_the_cli_package_root():
    for path in CLI.glob("*.py"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.level == 1 and node.module is None), f"{path.name}: from . import"
                assert node.module != "audiosoup_widgets.cli", path.name
