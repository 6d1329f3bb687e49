"""Dataset layouts: which files make up a dataset, and their label, split and speaker.

Discovery never opens audio; it only walks folders and reads list files. Every
file it finds becomes a :class:`Candidate`, and the loader decides whether it is
loaded or skipped (with a reason), so nothing in the folder goes unaccounted.

A manifest row is one candidate too, even when it cannot be used: its path is
normalised (``./a.wav`` and ``a.wav`` are one file, ``sub/../c.wav`` is
``c.wav``, an absolute path inside the root becomes relative), and a row that
points outside the root, repeats a path, names an unknown split or has no path
carries a ``problem`` (reason code and message) that the loader reports as a
skipped row.
"""

from __future__ import annotations

import csv
import functools
import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .vocabulary import SPLITS

LAYOUTS = ("auto", "folders", "speech-commands", "manifest")
#: Split names a manifest may use, and what they are stored as.
MANIFEST_SPLITS = {**{split: split for split in SPLITS}, "val": "validation"}
SPEECH_LISTS = {"validation_list.txt": "validation", "testing_list.txt": "test"}
BACKGROUND = "_background_noise_"
_NOHASH = re.compile(r"^(?P<speaker>[^_/]+)_nohash_(?P<n>\d+)\.[^/]+$")
# Files that document a dataset rather than belong to it.
_DOCS_ANYWHERE = {"readme", "readme.md", "readme.txt", "license", "license.txt", "license.md", "thumbs.db"}
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
    problem : (str, str) or None
        ``(reason, message)`` when a manifest row cannot be used as it stands; the
        loader reports it as skipped without opening any file.
    """

    relpath: str
    label: str | None = None
    split: str | None = None
    speaker: str | None = None
    text: str | None = None
    problem: tuple[str, str] | None = None

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
        return root, layout, _manifest(csv_path, roots=(root, os.path.abspath(csv_path.parent)))
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
        # utf-8-sig: a list saved by a Windows editor may start with a byte order mark.
        with open(path, encoding="utf-8-sig", errors="surrogateescape") as fh:
            return {line.strip().replace("\\", "/") for line in fh if line.strip()}
    except FileNotFoundError:
        return set()


def _speech_commands(root: str) -> list[Candidate]:
    splits: dict[str, str] = {}
    for fname, listed in SPEECH_LISTS.items():
        for rel in _read_list(os.path.join(root, fname)):
            splits[rel] = listed
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


@functools.lru_cache(maxsize=256)
def _real_folder(folder: str) -> str:
    # A manifest lists many files of few folders: resolve each folder once.
    return os.path.realpath(folder)


def _manifest_path(raw: str, roots: tuple[str, ...]) -> tuple[str, tuple[str, str] | None]:
    """Normalise a manifest path to a relative ``/`` path, or say why it cannot be one."""
    if "\x00" in raw:
        return raw.replace("\x00", "\\x00"), ("invalid_path", "path contains a NUL character")
    path = raw.replace("\\", "/")
    if path.startswith("/"):
        norm = posixpath.normpath(path)
        # The folder as written, then with its symlinks resolved (the file itself is
        # left alone: the decoder refuses a symlink that leads out of the root).
        for candidate in (
            norm,
            posixpath.join(_real_folder(posixpath.dirname(norm)), posixpath.basename(norm)),
        ):
            for base in roots:
                if os.path.commonpath([candidate, base]) == base:
                    return posixpath.relpath(candidate, base), None
        return path, ("outside_root", f"absolute path outside the dataset folder {roots[0]}")
    rel = posixpath.normpath(path)
    if rel == ".." or rel.startswith("../"):
        return path, ("outside_root", "path leads outside the dataset folder")
    if rel == ".":
        return path, ("missing_path", "path names the dataset folder itself, not a file")
    return rel, None


def _manifest_split(raw: str) -> tuple[str | None, tuple[str, str] | None]:
    value = raw.strip().lower()
    if not value:
        return None, None
    if value in MANIFEST_SPLITS:
        return MANIFEST_SPLITS[value], None
    shown = raw.strip()[:40].replace("\x00", "\\x00")
    return None, (
        "invalid_split",
        f"unknown split {shown!r}; allowed: train, validation (or val), test, or empty",
    )


def _manifest(csv_path: Path, *, roots: tuple[str, ...]) -> list[Candidate]:
    cands: list[Candidate] = []
    first_line: dict[str, int] = {}
    try:
        # utf-8-sig: spreadsheet programs often save CSV with a byte order mark.
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip().lower() for f in reader.fieldnames or []]
            if "path" not in fields:
                raise ConfigError(
                    f"{csv_path.name}: the header needs a 'path' column (path,label[,split,speaker,text])"
                )
            reader.fieldnames = fields
            for row in reader:
                line = reader.line_num
                raw = (row.get("path") or "").strip()
                if not any((v or "").strip() for k, v in row.items() if k is not None):
                    continue  # an empty row (",,," at a spreadsheet's end) names no file
                if not raw:
                    cands.append(
                        Candidate(
                            f"{csv_path.name}:{line}",
                            problem=("missing_path", f"the row on line {line} has no path"),
                        )
                    )
                    continue
                rel, problem = _manifest_path(raw, roots)
                split, split_problem = _manifest_split(row.get("split") or "")
                if problem is None:
                    if rel in first_line:
                        problem = (
                            "listed_twice",
                            f"the same file as line {first_line[rel]}; only that first row counts",
                        )
                    first_line.setdefault(rel, line)
                cands.append(
                    Candidate(
                        rel,
                        label=(row.get("label") or "").strip() or None,
                        split=split,
                        speaker=(row.get("speaker") or "").strip() or None,
                        text=(row.get("text") or "").strip() or None,
                        problem=problem or split_problem,
                    )
                )
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{csv_path.name} is not UTF-8 text") from exc
    except csv.Error as exc:
        raise ConfigError(f"{csv_path.name}: bad CSV ({exc})") from exc
    # Stable: a path's rows keep their manifest order, so the one used comes first.
    return sorted(cands, key=lambda c: c.relpath)


def listed(rows: Iterable[Mapping[str, object]]) -> tuple[str, list[Candidate]]:
    """Turn rows naming audio files (a table's ``path``, ``label``, ...) into candidates.

    The rows come from a table in memory rather than a manifest file: each has
    ``path`` (absolute, or relative to the working folder) and optionally
    ``label``, ``split``, ``speaker`` and ``text``; a missing value is None, NaN
    or an empty text. The root is the deepest folder holding every file, so the
    same files always give the same root (and a reload the same dataset).

    Returns
    -------
    root : str
        The absolute folder the candidates' paths start from.
    candidates : list of Candidate
        One per row, sorted by relative path; a row without a path, a path listed
        twice or an unknown split carries a ``problem``, as in a manifest.
    """
    rows = list(rows)
    paths = [_text_value(row.get("path")) for row in rows]
    found = [os.path.abspath(os.path.expanduser(p)) for p in paths if p]
    if not found:
        raise ConfigError("no row names an audio file")
    root = os.path.commonpath([os.path.dirname(p) for p in found])
    cands: list[Candidate] = []
    first_row: dict[str, int] = {}
    for n, (row, raw) in enumerate(zip(rows, paths, strict=True), 1):
        if not raw:
            cands.append(Candidate(f"row {n}", problem=("missing_path", f"row {n} has no path")))
            continue
        rel = os.path.relpath(os.path.abspath(os.path.expanduser(raw)), root).replace(os.sep, "/")
        split, problem = _manifest_split(_text_value(row.get("split")) or "")
        if rel in first_row:
            problem = ("listed_twice", f"the same file as row {first_row[rel]}; only that first row counts")
        first_row.setdefault(rel, n)
        cands.append(
            Candidate(
                rel,
                label=_text_value(row.get("label")),
                split=split,
                speaker=_text_value(row.get("speaker")),
                text=_text_value(row.get("text")),
                problem=problem,
            )
        )
    return root, sorted(cands, key=lambda c: c.relpath)


def _text_value(value: object) -> str | None:
    """Return a table cell as stripped text, None when missing (None, NaN, empty)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value).strip() or None
