"""The ``audiosoup`` command: load data, manage the database, compute and export features, serve.

This package's root builds the parser and runs a command. Each command group
lives in its own module (:mod:`.load`, :mod:`.db`, :mod:`.serve` for ``serve``
and ``demo``, :mod:`.doctor`, :mod:`.features` for ``features compute`` and
``export``, :mod:`.export_dataset`, :mod:`.qc`, :mod:`.model` for ``model`` and
``suspects``, :mod:`.augment`), which registers its sub-commands through a ``register(subparsers)``
function; the root imports them, never the other way round. :mod:`.common`
holds what they share.

Every sub-command reports a fatal problem as one plain line on stderr and a
non-zero exit code; tracebacks only appear with ``--debug``. A file the command
is asked to write (``--report``, ``--output``) must go into an existing folder:
that is checked before any work starts, so a typo costs nothing.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import AudiosoupError
from ..terminal import one_line
from . import augment, db, doctor, export_dataset, features, load, model, qc, serve

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``audiosoup`` command."""
    parser = argparse.ArgumentParser(prog="audiosoup", description="Review and curate audio datasets.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    # The order here is the order of the sub-commands in ``audiosoup --help``.
    for group in (load, db, serve, doctor, features, augment, export_dataset, qc, model):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``audiosoup`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except AudiosoupError as exc:
        if args.debug:
            raise
        print(f"audiosoup: error: {one_line(exc.message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("audiosoup: interrupted (finished batches are saved; run again to resume)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI user
        if args.debug:
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            # A file that could not be read or written (disk full, permissions): say which.
            print(f"audiosoup: error: {one_line(exc.filename)}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        first = one_line(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
        print(
            f"audiosoup: unexpected error: {type(exc).__name__}: {first} (run with --debug for details)",
            file=sys.stderr,
        )
        return 1
