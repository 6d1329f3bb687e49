"""``audiosoup doctor``: check what a working installation needs, and repair what can be repaired.

Three checks, each one plain line with what to do when it fails:

* the database: reachable, and its schema at the packaged migrations' head;
* numba's compiled-code cache (:mod:`audiosoup_widgets.jitcache`): a fresh
  process loads every feature from it. A damaged cache kills the processes that
  load it (SIGSEGV); ``--fix`` empties it and compiles it afresh;
* the dashboard: Voila, the page template and the widget libraries' front-end
  extensions are installed, and the recorded script preloads still match them.

The checks live here, with the command, because they reach into every layer up
to the dashboard (:mod:`audiosoup_widgets.dashboards.preload`), which only an
entry point may import; nothing else runs them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AudiosoupError
from ..jitcache import cache_files, clear, install, probe
from .common import Subparsers, db_arg

__all__ = [
    "Check",
    "check_database",
    "check_jit_cache",
    "check_dashboard",
    "run_checks",
    "cmd_doctor",
    "register",
]

#: Front-end extensions the dashboard's page needs (Jupyter labextension folder names).
LAB_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "jupyter-vue", "jupyter-vuetify", "bqplot")


@dataclass(frozen=True)
class Check:
    """The outcome of one check.

    Attributes
    ----------
    name : str
        What was checked (``database``, ``jit cache``, ``dashboard``).
    status : str
        ``ok``, ``problem`` or ``fixed``.
    detail : str
        One line: what was found, and for a problem what to do.
    """

    name: str
    status: str
    detail: str

    @property
    def ok(self) -> bool:
        """Whether nothing is left to do."""
        return self.status != "problem"

    def line(self) -> str:
        """Return the line printed for this check."""
        return f"{self.status:<8} {self.name:<10} {self.detail}"


def check_database(db: str | None = None) -> Check:
    """Check that the database answers and its schema is at the packaged head revision."""
    from ..store import Store
    from ..store.engine import resolve

    try:
        url = resolve(db)
        store = Store(url)
    except AudiosoupError as exc:
        return Check("database", "problem", exc.message)
    shown = store.engine.url.render_as_string(hide_password=True)
    try:
        store.check()
        current = store.current_revision()
        head = store.head_revision()
    except AudiosoupError as exc:
        return Check("database", "problem", f"{shown}: {exc.message}")
    finally:
        store.dispose()
    if current is None:
        return Check(
            "database",
            "problem",
            f"{shown}: empty; run 'audiosoup db upgrade' (or any command that loads data)",
        )
    if current != head:
        return Check(
            "database",
            "problem",
            f"{shown}: schema at revision {current}, this version needs {head}; run 'audiosoup db upgrade'",
        )
    return Check("database", "ok", f"{shown}: schema at revision {current} (current)")


def check_jit_cache(*, fix: bool = False) -> Check:
    """Check that a fresh process loads the feature engine from the cache; with ``fix``, rebuild it.

    Parameters
    ----------
    fix : bool
        Clear a cache whose loading kills the process, then compile it afresh.
    """
    root = install()
    files = cache_files(root)
    size = sum(p.stat().st_size for p in files) / 1e6
    where = f"{root} ({len(files)} files, {size:.1f} MB)"
    result = probe()
    if result.ok:
        return Check(
            "jit cache", "ok", f"{where}: a fresh process loads every feature ({result.seconds:.1f} s)"
        )
    problem = f"{where}: a fresh process loading the feature engine failed ({result.detail})"
    if not fix:
        hint = (
            "run 'audiosoup doctor --fix' to clear and rebuild it"
            if result.crashed
            else "check the installation (pip install --force-reinstall audiosoup-widgets)"
        )
        return Check("jit cache", "problem", f"{problem}; {hint}")
    n = clear(root)
    again = probe()
    if again.ok:
        return Check(
            "jit cache", "fixed", f"{problem}; cleared {n} files and compiled afresh ({again.seconds:.1f} s)"
        )
    return Check(
        "jit cache", "problem", f"{problem}; still failing after clearing {n} files ({again.detail})"
    )


def check_dashboard() -> Check:
    """Check that Voila, the page template and the widgets' front-end extensions are installed."""
    try:
        import voila
    except ImportError:
        return Check("dashboard", "problem", "Voila is not installed: pip install 'voila>=0.5.6'")
    from jupyter_core.paths import jupyter_path

    from ..dashboards.preload import preload_resources, template_root

    missing = []
    template = os.path.join(template_root(), "voila", "templates", "audiosoup")
    if not os.path.isdir(template):
        missing.append("the page template 'audiosoup'")
    dirs = [d for d in jupyter_path("labextensions") if os.path.isdir(d)]
    for ext in LAB_EXTENSIONS:
        if not any(os.path.isfile(os.path.join(d, ext, "package.json")) for d in dirs):
            missing.append(f"the front-end extension {ext}")
    if missing:
        return Check(
            "dashboard",
            "problem",
            "missing " + ", ".join(missing) + "; reinstall: pip install --force-reinstall audiosoup-widgets",
        )
    kept, recorded = len(preload_resources()), _recorded_scripts()
    detail = f"Voila {voila.__version__}, page template and {len(LAB_EXTENSIONS)} widget extensions found"
    if kept < recorded:
        detail += (
            f"; {recorded - kept} of {recorded} recorded script preloads no longer match "
            "the installed files (the page loads, only slower)"
        )
    return Check("dashboard", "ok", detail)


def _recorded_scripts() -> int:
    import json
    from importlib import resources

    try:
        text = (resources.files("audiosoup_widgets") / "dashboards" / "preload.json").read_text()
        return sum(1 for p in json.loads(text).get("resources", []) if p.split("?")[0].endswith(".js"))
    except (OSError, ValueError):
        return 0


def run_checks(*, db: str | None = None, fix: bool = False) -> list[Check]:
    """Run every check, in order; with ``fix``, repair what can be repaired."""
    return [check_database(db), check_jit_cache(fix=fix), check_dashboard()]


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the database, the compiled-code cache and the dashboard; repair with --fix."""
    checks: list[Check] = []
    runs: tuple[Callable[[], Check], ...] = (
        lambda: check_database(args.db),
        lambda: check_jit_cache(fix=args.fix),
        check_dashboard,
    )
    for run in runs:
        check = run()
        print(check.line(), flush=True)
        checks.append(check)
    return 0 if all(c.ok for c in checks) else 1


def register(sub: Subparsers) -> None:
    """Register the ``doctor`` sub-command."""
    p = sub.add_parser(
        "doctor", help="check the database, the compiled-code cache and the dashboard's requirements"
    )
    p.add_argument("--fix", action="store_true", help="clear and rebuild a damaged compiled-code cache")
    db_arg(p)
    p.set_defaults(func=cmd_doctor)
