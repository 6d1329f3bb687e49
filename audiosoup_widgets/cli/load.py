"""``audiosoup load``: load a folder of audio, or a manifest, into a dataset."""

from __future__ import annotations

import argparse
import os

from ..errors import AudiosoupError
from ..layouts import LAYOUTS
from .common import Subparsers, check_output_path, db_arg, progress_bar, write_json


def cmd_load(args: argparse.Namespace) -> int:
    """Load a folder or manifest into the store."""
    from ..jobs.ingest import load_dataset
    from ..store import connect

    if not os.path.exists(args.path):
        raise AudiosoupError(f"path not found: {args.path}")
    if args.report:
        check_output_path(args.report, "--report")
    store = connect(args.db)
    progress, bar = progress_bar(f"loading {args.dataset}", "file")
    try:
        report = load_dataset(
            store,
            args.path,
            dataset=args.dataset,
            layout=args.layout,
            source_url=args.url,
            workers=args.workers,
            progress=progress,
        )
    finally:
        bar.close()
    print(report.summary())
    if args.report:
        write_json(args.report, report.to_json())
    return 0


def register(sub: Subparsers) -> None:
    """Register the ``load`` sub-command."""
    p = sub.add_parser("load", help="load a folder of audio into a dataset")
    p.add_argument("path", help="dataset folder, or a manifest CSV (path,label[,split,speaker,text])")
    p.add_argument("--dataset", required=True, help="dataset name")
    p.add_argument("--url", help="where the data came from (kept with the dataset)")
    p.add_argument("--layout", default="auto", choices=LAYOUTS)
    p.add_argument("--workers", type=int, default=None, help="decoder processes (default: cores)")
    p.add_argument("--report", help="write the load report as JSON to this file")
    db_arg(p)
    p.set_defaults(func=cmd_load)
