"""The ``audiosoup`` command: load data, manage the database, compute and export features, serve.

Every sub-command reports a fatal problem as one plain line on stderr and a
non-zero exit code; tracebacks only appear with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from .errors import AudiosoupError

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
    from .ingest import load_dataset
    from .store import connect

    if not os.path.exists(args.path):
        raise AudiosoupError(f"path not found: {args.path}")
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


def ensure_demo(db: str | None = None, *, quiet: bool = False):
    """Load the demo dataset into ``db`` unless it is there; return the store."""
    from .errors import NotFoundError
    from .ingest import load_dataset
    from .store import connect

    store = connect(db)
    try:
        store.get_dataset(DEMO_DATASET)
        return store
    except NotFoundError:
        pass
    report = load_dataset(store, demo_data_dir(), dataset=DEMO_DATASET,
                          layout="speech-commands")
    if not quiet:
        print(report.summary())
    return store


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

    return serve(db=args.db, port=args.port, host=args.host, open_browser=not args.no_browser,
                 token=args.token, max_visitors=args.max_visitors,
                 allowed_hosts=args.allow_host or ())


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
    p.add_argument("path", help="dataset folder, or a manifest CSV (path,label[,split,text])")
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
        print(f"audiosoup: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("audiosoup: interrupted (finished batches are saved; run again to resume)",
              file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI user
        if args.debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"audiosoup: unexpected error: {type(exc).__name__}: {first} "
              "(run with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
