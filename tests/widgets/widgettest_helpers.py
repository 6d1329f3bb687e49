"""Helpers of the widget tests: a small dataset of real audio files in a store.

Rows are inserted directly (no loader; ``rows.sample_row``), with peaks computed from
the audio, so the widget tests depend only on the store and the audio package.
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
from signals import word

from audiosoup_widgets.testing import sample_row

#: User text that would run script if it ever reached the page as HTML or template code.
XSS_FILE = "<img src=x onerror=window.__xss=1>"
XSS_LABEL = "<img src=x onerror=window.__xss=2>{{ 7*7 }}"
XSS_TEXT = "<script>window.__xss=3</script><b onmouseover=window.__xss=4>{{ constructor }}</b>"
XSS_META_KEY = "<svg onload=window.__xss=5>"
XSS_META_VALUE = "javascript:window.__xss=6 {{ $root }}"
XSS_DATASET = "<b onmouseover=window.__xss=7>ds</b>"
PAYLOADS = (XSS_FILE, XSS_LABEL, XSS_TEXT, XSS_META_KEY, XSS_META_VALUE, XSS_DATASET)


def add_samples(
    store, root: Path, *, dataset: str = "words", clips: list[dict] | None = None
) -> dict[str, int]:
    """Write WAV files under ``root`` and insert them as samples; return path -> id.

    Parameters
    ----------
    clips : list of dict
        Each with ``label``, ``name`` and optionally ``seconds``, ``sr``, ``level``,
        ``split``, ``text``, ``meta``, ``f0``, or ``audio`` (samples to write as they are).
    """
    if clips is None:
        clips = default_clips()
    root.mkdir(parents=True, exist_ok=True)
    ds_id = store.ensure_dataset(dataset, root=str(root), layout="folders")
    label_ids = store.ensure_labels(ds_id, {c["label"] for c in clips})
    rows = []
    for i, c in enumerate(clips):
        sr = c.get("sr", 16000)
        seconds = c.get("seconds", 1.0)
        y = (
            c["audio"]
            if "audio" in c
            else word(sr, seconds=seconds, f0=c.get("f0", 180.0 + 20 * i), level=c.get("level", 0.5), seed=i)
        )
        folder = root / c["label"]
        folder.mkdir(parents=True, exist_ok=True)
        rel = f"{c['label']}/{c['name']}.wav"
        sf.write(root / rel, y, sr, subtype="PCM_16")
        rows.append(
            sample_row(
                ds_id,
                rel,
                audio=y,
                label_id=label_ids[c["label"]],
                subtype="PCM_16",
                sample_rate=sr,
                split=c.get("split", "train"),
                speaker=c.get("speaker", f"spk{i % 3}"),
                text=c.get("text"),
                meta=c.get("meta", {}),
                status=c.get("status", "ok"),
                flags=c.get("flags", []),
            )
        )
    store.insert_samples(rows)
    from audiosoup_widgets.store import SampleQuery

    recs = store.page_samples(SampleQuery(dataset), page=0, page_size=200)
    return {r.path: r.id for r in recs}


def default_clips() -> list[dict]:
    """Ten clips over three labels and every split, one quiet and one flagged."""
    out = []
    for i in range(10):
        label = ("yes", "no", "up")[i % 3]
        out.append(
            {
                "label": label,
                "name": f"spk{i:02d}_nohash_0",
                "split": ("train", "train", "validation", "test")[i % 4],
                "text": f"clip {i} says {label}",
            }
        )
    out[4]["level"] = 0.01  # a quiet clip: its thumbnail is amplified
    out[5].update(status="flagged", flags=["clipped"])
    return out
