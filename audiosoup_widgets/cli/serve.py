"""``audiosoup serve`` and ``audiosoup demo``: serve the review dashboard, with the demo data if asked.

The server itself, its command line and environment are
:mod:`audiosoup_widgets.dashboards.serve`; the demo dataset is
:mod:`audiosoup_widgets.jobs.demo`. This module parses the options and shows
progress on the terminal.
"""

from __future__ import annotations

import argparse

from .common import Subparsers, compute_with_progress, db_arg, prepare_engine


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the demo dataset if needed, then serve the dashboard."""
    from ..jobs.demo import DEMO_DATASET, load_demo
    from ..store import connect

    store = connect(args.db)
    report = load_demo(store)
    if report is not None:
        print(report.summary())
    # Features too, so feature_frame and exports work at once.
    if store.count_samples_without_summaries(DEMO_DATASET):
        prepare_engine()
        compute_with_progress(store, DEMO_DATASET)
    # And a quality check, so the quality panel has findings to show at once.
    if store.latest_qc_run(DEMO_DATASET) is None:
        from ..jobs.qc import run_qc

        print(run_qc(DEMO_DATASET, db=store, features=False).summary())
    if args.no_serve:
        return 0
    args.db = store.url
    return cmd_serve(args)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the review dashboard with Voila."""
    from ..dashboards.serve import serve

    # Kernels load the feature engine when a visitor first opens a feature view:
    # make sure the compiled-code cache is sound (and filled) before any of them starts.
    prepare_engine()
    return serve(
        db=args.db,
        port=args.port,
        host=args.host,
        open_browser=not args.no_browser,
        token=args.token,
        max_visitors=args.max_visitors,
        allowed_hosts=args.allow_host or (),
        trusted_user_header=args.trusted_user_header,
    )


def register(sub: Subparsers) -> None:
    """Register the ``serve`` and ``demo`` sub-commands (the same options, and ``--no-serve``)."""
    for name, func, helptext in (
        ("serve", cmd_serve, "serve the review dashboard (Voila)"),
        ("demo", cmd_demo, "load the demo dataset if needed, then serve the dashboard"),
    ):
        p = sub.add_parser(name, help=helptext)
        db_arg(p)
        p.add_argument("--port", type=int, default=8866)
        p.add_argument(
            "--host", default="127.0.0.1", help="address to bind (a token is required off loopback)"
        )
        p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
        p.add_argument(
            "--token",
            default=None,
            help="access token (default: $AUDIOSOUP_TOKEN, else none on loopback and "
            "generated otherwise); passed to the server in its environment",
        )
        p.add_argument(
            "--max-visitors",
            type=int,
            default=None,
            metavar="N",
            help="most visitors served at once, each with its own kernel (default: "
            "available memory / 450 MB - 1, at least 1); others see a busy page",
        )
        p.add_argument(
            "--allow-host",
            action="append",
            metavar="NAME",
            help="a host name the server answers to besides localhost and --host "
            "(repeatable; e.g. a proxy's public name); also "
            "$AUDIOSOUP_ALLOWED_HOSTS",
        )
        p.add_argument(
            "--trusted-user-header",
            default=None,
            metavar="NAME",
            help="a request header a trusted proxy sets to the signed-in user's name "
            "(e.g. X-Forwarded-User); that name is the reviewer and cannot be typed over. "
            "Only if the proxy strips it from what browsers send. Also "
            "$AUDIOSOUP_TRUSTED_USER_HEADER",
        )
        if name == "demo":
            p.add_argument("--no-serve", action="store_true", help="only load the demo dataset")
        p.set_defaults(func=func)
