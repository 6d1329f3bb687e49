"""Tell the browser, in the page's head, which scripts the dashboard will ask for.

A Voila page loads its JavaScript as a chain: the page names ``voila.js``, which
asks for Voila's chunks, which ask for each widget library's entry point, which
asks for that library's chunks; Vue's template compiler is asked for only once
the first widget's state has arrived from the kernel. Each link waits for the
one before it, so the browser keeps stopping to wait for the network while its
one busy thread could be working. ``<link rel="preload">`` tags in the head let
it fetch all of them at once, at the start.

Which files those are is recorded from a real page load into ``preload.json``
(``python bench/bench_dashboard.py --record-preload`` writes it). The recording is only a hint:
:func:`preload_resources` keeps an entry only if it still names the same file
here. Widget-library files carry a content hash in their names, so a file that
exists is the recorded one; Voila's own chunks do not, so they are kept only
under the Voila version they were recorded with. After an upgrade the page is
exactly as correct as before, just slower until the recording is refreshed.
"""

from __future__ import annotations

import json
import logging
import os
from importlib import metadata, resources
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["MANIFEST", "preload_resources", "template_root"]

#: The recorded manifest, beside this module.
MANIFEST = "preload.json"
_HERE = resources.files(__package__)


def template_root() -> str:
    """Return the Jupyter data folder holding the ``audiosoup`` Voila template.

    Put it first on ``JUPYTER_PATH`` so Voila finds ``voila/templates/audiosoup``.
    """
    return str(_HERE / "jupyter")


def _static_dirs() -> list[str]:
    # Where Voila serves /voila/static/ from: the static folders of its templates.
    from voila.paths import collect_static_paths

    paths: list[str] = collect_static_paths(["voila", "nbconvert"], "lab", prune=True)
    return paths


def _labextension_dirs() -> list[str]:
    # Where Voila serves /voila/labextensions/ from: every Jupyter data folder's
    # labextensions, and Voila's own (its widget manager lives there).
    from jupyter_core.paths import jupyter_path

    dirs = jupyter_path("labextensions") + jupyter_path("voila", "labextensions")
    return [d for d in dirs if os.path.isdir(d)]


def _exists_under(dirs: list[str], relative: str) -> bool:
    parts = relative.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return False
    return any(os.path.isfile(os.path.join(d, *parts)) for d in dirs)


def _installed(manifest: dict[str, Any], voila_version: str) -> list[str]:
    # Scripts only: fonts are asked for from inside style sheets, where a preload did
    # not match the request (Chromium reported the preloaded icon font as unused).
    recorded = manifest.get("resources", [])
    same_voila = manifest.get("voila") == voila_version
    static_dirs = _static_dirs() if same_voila else []
    ext_dirs = _labextension_dirs()
    kept = []
    for path in recorded:
        file_path = path.split("?", 1)[0]
        if not file_path.endswith(".js"):
            continue
        if file_path.startswith("voila/static/"):
            ok = same_voila and _exists_under(static_dirs, file_path[len("voila/static/") :])
        elif file_path.startswith("voila/labextensions/"):
            ok = _exists_under(ext_dirs, file_path[len("voila/labextensions/") :])
        else:
            ok = False
        if ok:
            kept.append(path)
    if len(kept) < len(recorded):
        log.info(
            "dashboard preload: %d of %d recorded files match the installed packages",
            len(kept),
            len(recorded),
        )
    return kept


def preload_resources(manifest: str | None = None) -> list[dict[str, str]]:
    """Return the recorded page resources that still name installed files.

    Parameters
    ----------
    manifest : str, optional
        Path of a manifest (default: the packaged ``preload.json``).

    Returns
    -------
    list of dict
        ``{"path": ..., "as": "script"}`` in the order the page asked for them;
        ``path`` is relative to the server's base URL. Empty when the manifest is
        missing or unreadable: preloading is an optimisation, never a reason not
        to serve.
    """
    path = manifest or str(_HERE / MANIFEST)
    try:
        with open(path, encoding="utf-8") as fh:
            recorded = json.load(fh)
        kept = _installed(recorded, metadata.version("voila"))
    except (OSError, ValueError, metadata.PackageNotFoundError) as exc:
        log.warning("dashboard preload list not used: %s", exc)
        return []
    return [{"path": p, "as": "script"} for p in kept]
