"""``audiosoup db``: database maintenance (``upgrade``, ``current``)."""

from __future__ import annotations

import argparse

from .common import Subparsers, db_arg


def cmd_db(args: argparse.Namespace) -> int:
    """Database maintenance."""
    from ..store import Store
    from ..store.engine import resolve

    store = Store(resolve(args.db))
    if args.db_command == "upgrade":
        store.upgrade(args.revision)
        print(f"database at revision {store.current_revision()}")
    else:
        print(store.current_revision() or "empty (run: audiosoup db upgrade)")
    return 0


def register(sub: Subparsers) -> None:
    """Register the ``db upgrade`` and ``db current`` sub-commands."""
    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    db_arg(up)
    cur = dbsub.add_parser("current", help="show the schema revision")
    db_arg(cur)
    p.set_defaults(func=cmd_db)
