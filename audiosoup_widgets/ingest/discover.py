"""Dataset layouts: which files make up a dataset, and their label, split and speaker.

Discovery never opens audio; it only walks folders and reads list files. Every
file it finds becomes a :class:`Candidate`, and the loader decides whether it is
loaded or skipped (with a reason), so nothing in the folder goes unaccounted.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

LAYOUTS = ("auto", "folders", "speech-commands", "manifest")
SPEECH_LISTS = {"validation_list.txt": "validation", "testing_list.txt": "test"}
BACKGROUND = "_background_noise_"
_NOHASH = re.compile(r"^(?P<speaker>[^_/]+)_nohash_(?P<n>\d+)\.[^/]+$")
# Files that document a dataset rather than belong to it.
_DOCS_ANYWHERE = {"readme", "readme.md", "readme.txt", "license", "license.txt", "license.md",
                  "thumbs.db"}
_DOC_NAMES = {*_DOCS_ANYWHERE, "manifest.csv", *SPEECH_LISTS}


@dataclass(frozen=True)
class Candidate:
    """One file found in a dataset folder.

    Attributes
    ----------
    relpath : str
        Path relative to the root with ``/`` separators (may hold undecodable
        bytes as surrogate escapes).
    label, split, speaker, text : str or None
        What the layout says about the file.
    """

    relpath: str
    label: str | None = None
    split: str | None = None
    speaker: str | None = None
    text: str | None = None

    def abspath(self, root: str) -> str:
        """Return the file's full path under ``root``."""
        return os.path.join(root, *self.relpath.split("/"))


def detect_layout(path: str | os.PathLike[str]) -> str:
    """Guess the layout of ``path``: a CSV file or a folder.

    Returns
    -------
    str
        ``"manifest"``, ``"speech-commands"`` or ``"folders"``.
    """
    p = Path(path)
    if p.is_file():
        if p.suffix.lower() == ".csv":
            return "manifest"
        raise ConfigError(f"{p.name} is a file; give a folder or a manifest .csv")
    if (p / "manifest.csv").is_file():
        return "manifest"
    if any((p / n).is_file() for n in SPEECH_LISTS) or (p / BACKGROUND).is_dir():
        return "speech-commands"
    try:
        for sub in sorted(os.scandir(p), key=lambda e: e.name)[:50]:
            if sub.is_dir(follow_symlinks=False):
                for f in list(os.scandir(sub.path))[:20]:
                    if _NOHASH.match(f.name):
                        return "speech-commands"
    except OSError as exc:
        raise ConfigError(f"cannot read folder {p}: {exc.strerror}") from exc
    return "folders"


def discover(path: str | os.PathLike[str], layout: str = "auto") -> tuple[str, str, list[Candidate]]:
    """List a dataset's files.

    Parameters
    ----------
    path : path-like
        Dataset folder, or a manifest CSV file.
    layout : str
        One of :data:`LAYOUTS`.

    Returns
    -------
    root : str
        The absolute dataset root (the folder that relative paths start from).
    layout : str
        The layout used (resolved when ``layout="auto"``).
    candidates : list of Candidate
        Sorted by relative path.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"path not found: {p}")
    if layout == "auto":
        layout = detect_layout(p)
    if layout == "manifest":
        csv_path = p if p.is_file() else p / "manifest.csv"
        if not csv_path.is_file():
            raise ConfigError(f"no manifest.csv in {p}")
        root = str(csv_path.parent.resolve())
        return root, layout, _manifest(csv_path)
    if not p.is_dir():
        raise ConfigError(f"{p} is not a folder")
    root = str(p.resolve())
    if layout == "speech-commands":
        return root, layout, _speech_commands(root)
    return root, layout, _folders(root)


def _walk(root: str) -> list[str]:
    """Every non-directory entry under ``root`` as a relative path, symlinks not followed.

    Symlinked directories are listed as entries too, so the loader can refuse
    them (with a reason) instead of silently ignoring them.
    """
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        keep = []
        for d in dirnames:
            if os.path.islink(os.path.join(dirpath, d)):
                filenames.append(d)
            elif not d.startswith("."):
                keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            name = f.lower()
            # Dot files and documentation are not samples: README/LICENSE anywhere,
            # list files and manifests only at the root.
            if f.startswith(".") or name in _DOCS_ANYWHERE or (rel_dir == "." and name in _DOC_NAMES):
                continue
            rel = f if rel_dir == "." else os.path.join(rel_dir, f)
            out.append(rel.replace(os.sep, "/"))
    return sorted(out)


def _folders(root: str) -> list[Candidate]:
    cands = []
    for rel in _walk(root):
        parts = rel.split("/")
        cands.append(Candidate(rel, label=parts[0] if len(parts) > 1 else None))
    return cands


def _read_list(path: str) -> set[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return {line.strip().replace("\\", "/") for line in fh if line.strip()}
    except FileNotFoundError:
        return set()


def _speech_commands(root: str) -> list[Candidate]:
    splits: dict[str, str] = {}
    for fname, split in SPEECH_LISTS.items():
        for rel in _read_list(os.path.join(root, fname)):
            splits[rel] = split
    cands = []
    for rel in _walk(root):
        parts = rel.split("/")
        label = parts[0] if len(parts) > 1 else None
        speaker = None
        if label != BACKGROUND:
            m = _NOHASH.match(parts[-1])
            speaker = m.group("speaker") if m else None
        split = None if label == BACKGROUND else splits.get(rel, "train")
        cands.append(Candidate(rel, label=label, split=split, speaker=speaker))
    return cands


def _manifest(csv_path: Path) -> list[Candidate]:
    try:
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip().lower() for f in reader.fieldnames or []]
            if "path" not in fields:
                raise ConfigError(f"{csv_path.name}: the header needs a 'path' column "
                                  "(path,label[,split,text])")
            reader.fieldnames = fields
            seen: dict[str, Candidate] = {}
            for row in reader:
                rel = (row.get("path") or "").strip().replace("\\", "/")
                if not rel:
                    continue
                split = (row.get("split") or "").strip().lower() or None
                if split == "val":
                    split = "validation"
                seen[rel] = Candidate(rel, label=(row.get("label") or "").strip() or None,
                                      split=split, text=(row.get("text") or "").strip() or None)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{csv_path.name} is not UTF-8 text") from exc
    except csv.Error as exc:
        raise ConfigError(f"{csv_path.name}: bad CSV ({exc})") from exc
    return sorted(seen.values(), key=lambda c: c.relpath)
