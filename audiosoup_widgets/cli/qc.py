"""The ``qc`` sub-command: check a dataset's quality, store the findings, print a summary."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import Subparsers, check_output_path, db_arg, prepare_engine, progress_bar, write_json

#: Threshold options: (option, QcThresholds field, type, help).
_THRESHOLDS: tuple[tuple[str, str, type, str], ...] = (
    (
        "--near-duplicate",
        "near_duplicate",
        float,
        "a pair closer than this fraction of the median nearest-neighbour distance is a near duplicate",
    ),
    (
        "--clip-ratio",
        "clip_ratio",
        float,
        "share of samples in full-scale runs above which a clip is clipped",
    ),
    ("--silence-ratio", "silence_ratio", float, "share of silent frames from which a clip is silent"),
    ("--level-z", "level_z", float, "robust z-score of a clip's level within its label for an outlier"),
    ("--level-min-db", "level_min_db", float, "and at least this many dB from its label's median level"),
    (
        "--min-label-size",
        "min_label_size",
        int,
        "labels smaller than this are judged against the whole dataset",
    ),
    ("--imbalance", "imbalance", float, "a class under this fraction of the mean class size"),
)


def cmd_qc(args: argparse.Namespace) -> int:
    """Check a dataset's quality and store the findings."""
    from ..analysis.qc import QcThresholds
    from ..jobs.qc import run_qc
    from ..store import connect

    if args.report:
        check_output_path(args.report, "--report")
    values: dict[str, Any] = {
        name: getattr(args, name) for _, name, _, _ in _THRESHOLDS if getattr(args, name) is not None
    }
    thresholds = QcThresholds(**values)
    store = connect(args.db)
    store.get_dataset(args.dataset)
    if not args.no_features:
        prepare_engine()
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = progress_bar(f"{stage} {args.dataset}", "clip")
        bars[stage][0](done, total)

    try:
        report = run_qc(
            args.dataset,
            db=store,
            thresholds=thresholds,
            workers=args.workers,
            features=not args.no_features,
            progress=progress,
        )
    finally:
        for _, bar in bars.values():
            bar.close()
    print(report.summary())
    if args.report:
        write_json(args.report, report.to_json())
        print(f"report written to {args.report}", file=sys.stderr)
    return 0


def register(sub: Subparsers) -> None:
    """Register the ``qc`` sub-command."""
    p = sub.add_parser(
        "qc",
        help="check a dataset's quality: duplicates, split leaks, clipping, silence, level outliers, "
        "class imbalance",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--report", help="also write the findings to this JSON file")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument(
        "--no-features",
        action="store_true",
        help="do not compute missing feature summaries (near duplicates are then searched among "
        "the clips that have them, or not at all)",
    )
    # The defaults are QcThresholds' own (a test keeps this table in step with it).
    defaults = {
        "near_duplicate": 0.13,
        "clip_ratio": 0.001,
        "silence_ratio": 0.95,
        "level_z": 5.0,
        "level_min_db": 12.0,
        "min_label_size": 20,
        "imbalance": 0.1,
    }
    for option, name, kind, text in _THRESHOLDS:
        p.add_argument(option, dest=name, type=kind, default=None, help=f"{text} (default: {defaults[name]})")
    db_arg(p)
    p.set_defaults(func=cmd_qc)
