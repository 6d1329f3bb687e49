"""``audiosoup augment``: a recipe's augmented clips made and stored, or deleted as a group."""

from __future__ import annotations

import argparse

from ..vocabulary import SPLITS
from .common import Subparsers, db_arg, progress_bar


def cmd_augment(args: argparse.Namespace) -> int:
    """Make a recipe's derived clips of a dataset, or delete them with ``--delete``."""
    from ..errors import ConfigError
    from ..jobs.augment import augment_dataset, delete_augmented
    from ..store import connect

    store = connect(args.db)
    store.get_dataset(args.dataset)
    if args.delete is not None:
        if args.recipe is not None:
            raise ConfigError("give either --recipe (to make clips) or --delete (to remove them), not both")
        n = delete_augmented(args.dataset, args.delete, db=store)
        print(f"deleted {n} derived clips of recipe {args.delete!r} from {args.dataset!r}")
        return 0
    if args.recipe is None:
        raise ConfigError("--recipe FILE is required (or --delete RECIPE_NAME)")
    progress, bar = progress_bar("augment", "clip")
    try:
        report = augment_dataset(
            args.dataset,
            args.recipe,
            name=args.name,
            variants=args.variants,
            label=args.label,
            split=args.split,
            db=store,
            workers=args.workers,
            dask=args.dask,
            progress=progress,
        )
    finally:
        bar.close()
    print(report.summary())
    return 0


def register(sub: Subparsers) -> None:
    """Register the ``augment`` sub-command."""
    p = sub.add_parser(
        "augment",
        help="make augmented copies of a dataset's clips from a recipe (or delete them)",
        description="Apply a recipe (a YAML chain of transforms) to a dataset's original clips and "
        "store each copy as a derived clip (a FLAC file in the data folder) that names its parent "
        "and the recipe. A rerun with the same recipe adds nothing. --delete removes a recipe's "
        "derived clips, rows and files.",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--recipe", metavar="FILE", help="the recipe, a YAML file")
    p.add_argument("--variants", type=int, default=1, help="copies per clip (default: 1)")
    p.add_argument("--label", help="augment only the clips with this label")
    p.add_argument("--split", choices=SPLITS, help="augment only the clips of this split")
    p.add_argument("--name", help="the recipe's name in the database (default: the recipe's own)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument(
        "--dask", metavar="ADDRESS", help="'local' for a Dask LocalCluster, or a scheduler address"
    )
    p.add_argument("--delete", metavar="RECIPE_NAME", help="delete this recipe's derived clips instead")
    db_arg(p)
    p.set_defaults(func=cmd_augment)
