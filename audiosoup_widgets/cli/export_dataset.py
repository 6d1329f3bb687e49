"""``audiosoup export-dataset``: a dataset's curated labels written for training or Label Studio."""

from __future__ import annotations

import argparse

from ..layouts_export import FORMATS
from .common import Subparsers, db_arg, progress_bar


def cmd_export_dataset(args: argparse.Namespace) -> int:
    """Write the curated dataset; print a one-line summary and any rows left out."""
    from ..jobs.labels import export_dataset
    from ..layouts_export import check_output
    from ..store import connect
    from ..terminal import one_line

    # The output is checked before the database is opened: a typo costs nothing.
    check_output(args.output, args.format, force=args.force, copy_audio=args.copy_audio)
    store = connect(args.db)
    store.get_dataset(args.dataset)  # an unknown name is one line, before any work
    progress, bar = progress_bar(f"copying {args.dataset}", "file")
    try:
        result = export_dataset(
            args.dataset,
            fmt=args.format,
            output=args.output,
            db=store,
            copy_audio=args.copy_audio,
            force=args.force,
            audio_prefix=args.audio_prefix,
            progress=progress,
        )
    finally:
        bar.close()
    for skipped in result.skipped:
        print(f"  left out {one_line(skipped['path'])}: {one_line(skipped['message'])}")
    print(one_line(result.summary()))
    return 0


def register(sub: Subparsers) -> None:
    """Register the ``export-dataset`` sub-command."""
    p = sub.add_parser(
        "export-dataset",
        help="write a dataset's curated labels (manifest CSV, JSON lines, AudioFolder, Label Studio)",
    )
    p.add_argument("--dataset", required=True, help="dataset name")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--output", required=True, help="file to write (a folder for audiofolder)")
    p.add_argument(
        "--copy-audio",
        action="store_true",
        help="audiofolder: copy the audio under the folder, one subfolder per split",
    )
    p.add_argument("--force", action="store_true", help="replace an existing file or a non-empty folder")
    p.add_argument(
        "--audio-prefix",
        help="label-studio: what each task's audio address starts with "
        "(default: Label Studio's local files, /data/local-files/?d=)",
    )
    db_arg(p)
    p.set_defaults(func=cmd_export_dataset)
