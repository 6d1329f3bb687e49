"""The ``audiosoup`` command: load data, manage the database, compute and export features, serve.

Every sub-command reports a fatal problem as one plain line on stderr and a
non-zero exit code; tracebacks only appear with ``--debug``. A file the command
is asked to write (``--report``, ``--output``) must go into an existing folder:
that is checked before any work starts, so a typo costs nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from .errors import AudiosoupError
from .terminal import one_line

DEMO_DATASET = "speech-commands-mini"


def _progress_bar(desc: str, unit: str):
    """Return a ``progress(done, total)`` callback drawing a tqdm bar on stderr, and the bar."""
    from tqdm.auto import tqdm

    bar = tqdm(total=0, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
               disable=os.environ.get("AUDIOSOUP_NO_PROGRESS") == "1")

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh() if done == total else bar.update(0)

    return progress, bar


def cmd_load(args: argparse.Namespace) -> int:
    """Load a folder or manifest into the store."""
    from .jobs.ingest import load_dataset
    from .store import connect

    if not os.path.exists(args.path):
        raise AudiosoupError(f"path not found: {args.path}")
    if args.report:
        check_output_path(args.report, "--report")
    store = connect(args.db)
    progress, bar = _progress_bar(f"loading {args.dataset}", "file")
    try:
        report = load_dataset(store, args.path, dataset=args.dataset, layout=args.layout,
                              source_url=args.url, workers=args.workers, progress=progress)
    finally:
        bar.close()
    print(report.summary())
    if args.report:
        _write_json(args.report, report.to_json())
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """Database maintenance."""
    from .store import Store
    from .store.engine import resolve

    store = Store(resolve(args.db))
    if args.db_command == "upgrade":
        store.upgrade(args.revision)
        print(f"database at revision {store.current_revision()}")
    else:
        print(store.current_revision() or "empty (run: audiosoup db upgrade)")
    return 0


def demo_data_dir() -> str:
    """Return the folder of the packaged demo dataset."""
    from importlib import resources

    return str(resources.files("audiosoup_widgets") / "demo_data" / "speech_commands_mini")


def ensure_demo(db: str | None = None, *, quiet: bool = False, features: bool = True):
    """Load the demo dataset into ``db`` unless it is there, and compute its features; return the store.

    Parameters
    ----------
    db : str, optional
        Database URL (default: the configured one).
    quiet : bool
        Print nothing.
    features : bool
        Also compute the feature summaries of clips that lack them (a few
        seconds), so ``feature_frame`` and exports work at once.
    """
    from .errors import NotFoundError
    from .jobs.ingest import load_dataset
    from .store import connect

    store = connect(db)
    try:
        store.get_dataset(DEMO_DATASET)
    except NotFoundError:
        report = load_dataset(store, demo_data_dir(), dataset=DEMO_DATASET,
                              layout="speech-commands")
        if not quiet:
            print(report.summary())
    if features:
        _compute_features(store, DEMO_DATASET, quiet=quiet)
    return store


def prepare_engine(*, quiet: bool = False) -> None:
    """Check numba's compiled-code cache in a separate process before this one loads it.

    A damaged cache kills the process that loads it; checked first, it is rebuilt
    instead (see :func:`audiosoup_widgets.jitcache.ensure_sound`). Fast when the
    cache is known sound; the first time it compiles the feature engine.
    """
    from .jitcache import cache_files, ensure_sound, install

    if not quiet and not cache_files(install()):
        print("preparing the feature engine (first run: compiling it takes about 20 s)...",
              file=sys.stderr, flush=True)
    ensure_sound()


def _compute_features(store, dataset: str, *, quiet: bool = False):
    """Compute the feature summaries of a dataset's clips that have none; return the report."""
    from .jobs.compute import compute_dataset

    if not store.count_samples_without_summaries(dataset):
        return None
    prepare_engine(quiet=quiet)
    if quiet:
        return compute_dataset(store, dataset)
    progress, bar = _progress_bar(f"features {dataset}", "clip")
    try:
        report = compute_dataset(store, dataset, progress=progress)
    finally:
        bar.close()
    print(report.summary())
    return report


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the demo dataset if needed, then serve the dashboard."""
    store = ensure_demo(args.db)
    if args.no_serve:
        return 0
    args.db = store.url
    return cmd_serve(args)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the review dashboard with Voila."""
    from .serve import serve

    # Kernels load the feature engine when a visitor first opens a feature view:
    # make sure the compiled-code cache is sound (and filled) before any of them starts.
    prepare_engine()
    return serve(db=args.db, port=args.port, host=args.host, open_browser=not args.no_browser,
                 token=args.token, max_visitors=args.max_visitors,
                 allowed_hosts=args.allow_host or ())


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the database, the compiled-code cache and the dashboard; repair with --fix."""
    from . import doctor

    checks = []
    for run in (lambda: doctor.check_database(args.db),
                lambda: doctor.check_jit_cache(fix=args.fix),
                doctor.check_dashboard):
        check = run()
        print(check.line(), flush=True)
        checks.append(check)
    return 0 if all(c.ok for c in checks) else 1


def check_output_path(path: str, option: str) -> None:
    """Refuse, before any work, an output file the command could not write.

    Raises
    ------
    AudiosoupError
        If ``path`` is a folder, or its folder is missing or not writable.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise AudiosoupError(f"{option} {path} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise AudiosoupError(f"{option}: no such folder {folder} (create it first)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AudiosoupError(f"{option}: cannot write into {folder} (permission denied)")


def _write_json(path: str, data: object) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, default=str)
        fh.write("\n")
    os.replace(tmp, path)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``audiosoup`` command."""
    parser = argparse.ArgumentParser(prog="audiosoup",
                                     description="Review and curate audio datasets.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    def db_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="SQLAlchemy database URL (default: $AUDIOSOUP_DATABASE_URL, "
                                    "else an SQLite file in your data folder)")

    p = sub.add_parser("load", help="load a folder of audio into a dataset")
    p.add_argument("path", help="dataset folder, or a manifest CSV (path,label[,split,speaker,text])")
    p.add_argument("--dataset", required=True, help="dataset name")
    p.add_argument("--url", help="where the data came from (kept with the dataset)")
    p.add_argument("--layout", default="auto",
                   choices=["auto", "folders", "speech-commands", "manifest"])
    p.add_argument("--workers", type=int, default=None, help="decoder processes (default: cores)")
    p.add_argument("--report", help="write the load report as JSON to this file")
    db_arg(p)
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    db_arg(up)
    cur = dbsub.add_parser("current", help="show the schema revision")
    db_arg(cur)
    p.set_defaults(func=cmd_db)

    for name, func, helptext in (
        ("serve", cmd_serve, "serve the review dashboard (Voila)"),
        ("demo", cmd_demo, "load the demo dataset if needed, then serve the dashboard"),
    ):
        p = sub.add_parser(name, help=helptext)
        db_arg(p)
        p.add_argument("--port", type=int, default=8866)
        p.add_argument("--host", default="127.0.0.1",
                       help="address to bind (a token is required off loopback)")
        p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
        p.add_argument("--token", default=None,
                       help="access token (default: $AUDIOSOUP_TOKEN, else none on loopback and "
                            "generated otherwise); passed to the server in its environment")
        p.add_argument("--max-visitors", type=int, default=None, metavar="N",
                       help="most visitors served at once, each with its own kernel (default: "
                            "available memory / 450 MB - 1, at least 1); others see a busy page")
        p.add_argument("--allow-host", action="append", metavar="NAME",
                       help="a host name the server answers to besides localhost and --host "
                            "(repeatable; e.g. a proxy's public name); also "
                            "$AUDIOSOUP_ALLOWED_HOSTS")
        if name == "demo":
            p.add_argument("--no-serve", action="store_true",
                           help="only load the demo dataset")
        p.set_defaults(func=func)

    p = sub.add_parser("doctor", help="check the database, the compiled-code cache and the "
                                      "dashboard's requirements")
    p.add_argument("--fix", action="store_true",
                   help="clear and rebuild a damaged compiled-code cache")
    db_arg(p)
    p.set_defaults(func=cmd_doctor)

    from .cli_features import add_feature_commands

    add_feature_commands(sub, db_arg)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``audiosoup`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except AudiosoupError as exc:
        if args.debug:
            raise
        print(f"audiosoup: error: {one_line(exc.message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("audiosoup: interrupted (finished batches are saved; run again to resume)",
              file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI user
        if args.debug:
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            # A file that could not be read or written (disk full, permissions): say which.
            print(f"audiosoup: error: {one_line(exc.filename)}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
        first = one_line(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
        print(f"audiosoup: unexpected error: {type(exc).__name__}: {first} "
              "(run with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
