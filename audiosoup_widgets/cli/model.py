"""The ``model`` and ``suspects`` sub-commands: a classifier on chosen features, its runs, label suspects.

``model fit`` fits and scores a classifier and records the run; ``model history`` lists the
runs with what changed between them; ``model test`` is the separate step that scores a
run's model on the test split. ``suspects`` lists the clips whose label the model doubts,
most suspicious first, and writes them to a JSON report.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from ..terminal import one_line
from .common import Subparsers, check_output_path, db_arg, write_json

#: Suspects printed on the terminal by default (the report holds them all).
SHOWN = 20


def _reviewer(args: argparse.Namespace) -> str | None:
    if args.reviewer:
        return str(args.reviewer)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return None


def _progress(dataset: str) -> tuple[Any, dict[str, Any]]:
    from .common import progress_bar

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = progress_bar(f"{stage} {dataset}", "step")
        bars[stage][0](done, total)

    return progress, bars


def cmd_fit(args: argparse.Namespace) -> int:
    """Fit, score and record a classifier on the chosen features."""
    from ..jobs.model import fit_model
    from ..store import connect

    store = connect(args.db)
    store.get_dataset(args.dataset)
    progress, bars = _progress(args.dataset)
    try:
        report = fit_model(
            args.dataset,
            features=args.features,
            model=args.model,
            db=store,
            reviewer=_reviewer(args),
            n_splits=args.folds,
            workers=args.workers,
            progress=progress,
        )
    finally:
        for _, bar in bars.values():
            bar.close()
    print(report.summary())
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """List a dataset's model runs, newest first, with what changed between them."""
    from ..jobs.model import run_history
    from ..store import connect

    store = connect(args.db)
    store.get_dataset(args.dataset)
    history = run_history(args.dataset, db=store)
    if not history:
        print(f"no model runs of {args.dataset!r} yet (audiosoup model fit --dataset ... --features ...)")
        return 0
    for run, change in history:
        val = (run.scores.get("validation") or {}).get("balanced_accuracy")
        cv = (run.scores.get("cv") or {}).get("balanced_accuracy")
        test = "" if run.test_scores is None else f", test {run.test_scores.get('balanced_accuracy'):.3f}"
        print(
            f"run {run.id}  {run.created_at:%Y-%m-%d %H:%M}  {one_line(run.reviewer or '-')}  {run.model} on "
            f"{', '.join(run.features)}: balanced accuracy validation "
            f"{'n/a' if val is None else f'{val:.3f}'}, "
            f"cross-validated {'n/a' if cv is None else f'{cv:.3f}'}{test}"
        )
        if change:
            print(f"    {change}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    """Score a run's model on the test split, and record it (the separate step)."""
    from ..jobs.model import score_test
    from ..store import connect

    store = connect(args.db)
    store.get_dataset(args.dataset)
    run = score_test(args.dataset, run=args.run, db=store, reviewer=_reviewer(args))
    scores = run.test_scores or {}
    print(
        f"TEST SPLIT scored for run {run.id} of {args.dataset!r} ({run.model} on {', '.join(run.features)}): "
        f"accuracy {scores.get('accuracy')}, balanced accuracy {scores.get('balanced_accuracy')} "
        f"over {scores.get('n')} clips"
    )
    print("  recall per label: " + ", ".join(f"{k} {v}" for k, v in (scores.get("recall") or {}).items()))
    print("  note: choosing features by this score makes it optimistic; use the validation split for that")
    return 0


def cmd_suspects(args: argparse.Namespace) -> int:
    """List the clips whose label the model doubts, most suspicious first."""
    from ..jobs.model import label_suspects, suspects_report
    from ..store import connect

    if args.report:
        check_output_path(args.report, "--report")
    store = connect(args.db)
    store.get_dataset(args.dataset)
    progress, bars = _progress(args.dataset)
    try:
        frame = label_suspects(
            args.dataset,
            db=store,
            run=args.run,
            features=args.features,
            model=args.model,
            reviewer=_reviewer(args),
            workers=args.workers,
            progress=progress,
        )
    finally:
        for _, bar in bars.values():
            bar.close()
    print(
        f"{len(frame):,} label suspects in {args.dataset!r} (model run {frame.attrs['run']}), "
        "most suspicious first"
    )
    for row in frame.head(args.show).itertuples():
        print(
            f"  {row.score:.3f}  {one_line(row.path)}  {one_line(row.label)} -> {one_line(row.suggested)}  "
            f"(id {row.sample_id})"
        )
    if len(frame) > args.show:
        print(
            f"  ... and {len(frame) - args.show:,} more"
            + ("" if args.report else " (--report FILE lists them all)")
        )
    if args.report:
        write_json(args.report, suspects_report(frame))
        print(f"report written to {args.report}", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _model_options(p: argparse.ArgumentParser, *, default: str | None) -> None:
    p.add_argument(
        "--features",
        help="comma-separated feature ids or families (spectral, rhythmic, deltas)"
        + (", or all" if default else "; default: those of the latest run"),
    )
    p.add_argument(
        "--model",
        choices=("logreg", "forest"),
        default=default,
        help="standardised logistic regression or a random forest"
        + (f" (default: {default})" if default else " (default: the latest run's)"),
    )
    p.add_argument("--workers", type=_positive, default=1, help="folds fitted in parallel (default: 1)")
    p.add_argument("--reviewer", help="your name, recorded with the run (default: your login name)")


def register(sub: Subparsers) -> None:
    """Register the ``model`` (fit, history, test) and ``suspects`` sub-commands."""
    m = sub.add_parser("model", help="a classifier on chosen features: fit and score it, its run history")
    msub = m.add_subparsers(dest="model_command", required=True)
    fit = msub.add_parser(
        "fit",
        help="cross-validate on the train split (grouped by speaker), score on validation, record the run",
    )
    fit.add_argument("--dataset", required=True)
    _model_options(fit, default="logreg")
    fit.add_argument("--folds", type=_positive, default=5, help="cross-validation folds (default: 5)")
    db_arg(fit)
    fit.set_defaults(func=cmd_fit)
    hist = msub.add_parser("history", help="the dataset's model runs and what changed between them")
    hist.add_argument("--dataset", required=True)
    db_arg(hist)
    hist.set_defaults(func=cmd_history)
    test = msub.add_parser(
        "test", help="score a run's model on the TEST split (a separate step: do it once, at the end)"
    )
    test.add_argument("--dataset", required=True)
    test.add_argument("--run", type=_positive, help="the run (default: the latest)")
    test.add_argument("--reviewer", help="your name, recorded with the scores (default: your login name)")
    db_arg(test)
    test.set_defaults(func=cmd_test)

    s = sub.add_parser(
        "suspects",
        help="clips whose label a model fitted on the other clips doubts (cleanlab), most suspicious first",
    )
    s.add_argument("--dataset", required=True)
    s.add_argument("--report", help="also write the suspects to this JSON file")
    s.add_argument(
        "--run", type=_positive, help="read the stored suspects of this run instead of fitting anew"
    )
    _model_options(s, default=None)
    s.add_argument("--show", type=_positive, default=SHOWN, help=f"suspects printed (default: {SHOWN})")
    db_arg(s)
    s.set_defaults(func=cmd_suspects)
