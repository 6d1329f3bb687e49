"""Feature sub-commands of ``audiosoup``: ``features compute`` and ``export``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..features.export import FORMATS
from ..vocabulary import SPLITS
from .common import Subparsers, check_output_path, compute_with_progress, db_arg, prepare_engine

if TYPE_CHECKING:  # pragma: no cover
    from ..features.params import FeatureParams


def _split_names(value: str | list[str] | None) -> list[str] | None:
    """Accept ``a,b``, ``a b`` (several arguments) or a mix; None means all."""
    parts = [value] if isinstance(value, str) else list(value or [])
    names = [n.strip() for part in parts for n in part.split(",") if n.strip()]
    return names or None


def _param_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """Read ``NAME=VALUE`` pairs: a number where the value is one, else the text."""
    from ..errors import ConfigError

    # Any: the engine's parameters check the names and values themselves.
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--param expects NAME=VALUE, got {pair!r}")
        try:
            num: int | float | str = int(value)
        except ValueError:
            try:
                num = float(value)
            except ValueError:
                num = value
        out[key.strip()] = num
    return out


def _params(args: argparse.Namespace) -> FeatureParams:
    from ..errors import ConfigError
    from ..features.params import FeatureParams

    overrides = _param_overrides(args.param)
    try:
        return FeatureParams(**overrides)
    except TypeError as exc:
        raise ConfigError(
            f"unknown feature parameter in {sorted(overrides)}; known: "
            f"{', '.join(sorted(FeatureParams().as_dict()))}"
        ) from exc


def cmd_features_compute(args: argparse.Namespace) -> int:
    """Compute and store per-sample feature summaries."""
    from ..store import connect

    store = connect(args.db)
    store.get_dataset(args.dataset)
    # This process loads the engine (the parameters, then the batches) before forking
    # workers: check the cache first.
    prepare_engine()
    compute_with_progress(
        store,
        args.dataset,
        features=_split_names(args.features),
        params=_params(args),
        workers=args.workers,
        scheduler=args.scheduler,
        force=args.force,
        retry_failed=args.retry_failed,
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export features of selected samples to a file."""
    from ..jobs.export import export_features

    check_output_path(args.output, "--output")
    n = export_features(
        args.dataset,
        _split_names(args.features),
        fmt=args.format,
        output=args.output,
        db=args.db,
        label=args.label,
        split=args.split,
        full=args.full,
        params=_params(args),
    )
    beside = ""
    if args.format in ("csv", "txt"):
        from ..features.export import provenance_path

        beside = f" (provenance in {provenance_path(args.output)})"
    print(f"wrote {n} samples to {args.output}{beside}")
    return 0


def register(sub: Subparsers) -> None:
    """Register the ``features`` and ``export`` sub-commands."""
    p = sub.add_parser("features", help="feature summaries")
    fsub = p.add_subparsers(dest="features_command", required=True)
    c = fsub.add_parser("compute", help="compute and store feature summaries for a dataset")
    c.add_argument("--dataset", required=True)
    c.add_argument("--features", nargs="*", help="feature ids, space- or comma-separated (default: all)")
    c.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    c.add_argument(
        "--scheduler", default=None, help="'local' for a Dask LocalCluster, or a Dask scheduler address"
    )
    c.add_argument("--force", action="store_true", help="recompute samples already done")
    c.add_argument(
        "--retry-failed",
        action="store_true",
        help="also retry samples an earlier run could not analyse (by default "
        "they are skipped and counted in the summary)",
    )
    c.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="engine parameter, e.g. --param n_mels=64 (repeatable)",
    )
    db_arg(c)
    c.set_defaults(func=cmd_features_compute)

    e = sub.add_parser("export", help="export features of a dataset to a file")
    e.add_argument("--dataset", required=True)
    e.add_argument("--features", required=True, help="comma-separated feature ids")
    e.add_argument("--format", required=True, choices=FORMATS)
    e.add_argument("--output", required=True)
    e.add_argument("--label")
    e.add_argument("--split", choices=SPLITS)
    e.add_argument(
        "--full", action="store_true", help="full matrices (shape and values) instead of summaries"
    )
    e.add_argument("--param", action="append", metavar="NAME=VALUE")
    db_arg(e)
    e.set_defaults(func=cmd_export)
