"""Small synthetic datasets on disk for tests (real audio files, known layouts)."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
from signals import noise, tone


def make_speech_commands(root: Path) -> None:
    """A tiny Speech Commands v0.02 tree: word folders, lists, background noise."""
    speakers = ["0a7c2a8d", "1b2c3d4e", "9f8e7d6c", "c0ffee00"]
    for w, word in enumerate(("yes", "no", "up")):
        (root / word).mkdir(parents=True)
        for s, spk in enumerate(speakers):
            for n in range(2):
                sf.write(
                    root / word / f"{spk}_nohash_{n}.wav",
                    tone(freq=200 + 50 * w + 10 * s + n, level=0.3),
                    16000,
                    subtype="PCM_16",
                )
    (root / "_background_noise_").mkdir()
    sf.write(
        root / "_background_noise_" / "white_noise.wav", noise(16000, seconds=5.0, seed=0, level=0.1), 16000
    )
    (root / "_background_noise_" / "README.md").write_text("noise clips\n")
    (root / "validation_list.txt").write_text(
        "\n".join(f"{w}/1b2c3d4e_nohash_{n}.wav" for w in ("yes", "no", "up") for n in range(2))
    )
    (root / "testing_list.txt").write_text(
        "\n".join(f"{w}/9f8e7d6c_nohash_{n}.wav" for w in ("yes", "no", "up") for n in range(2))
    )


#: The rows of :func:`make_curation_manifest`: path, label, split, speaker, text.
CURATION_ROWS = (
    ("a/one.wav", "cat", "train", "spk1", "hello"),
    ("a/two.wav", "cat", "train", "spk2", "=1+2"),
    ("b/three.wav", "dog", "test", "spk1", ""),
    ("-dash.wav", "dog", "", "", "@note"),
)


def make_curation_manifest(root: Path) -> Path:
    """Four real clips and their manifest, with cells a spreadsheet would run as formulas.

    One path starts with ``-``, one text with ``=`` and one with ``@``; one clip has
    no split. Returns the manifest's path.
    """
    import csv

    for n, (path, *_rest) in enumerate(CURATION_ROWS):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / path, tone(freq=300 + 60 * n, level=0.3), 16000, subtype="PCM_16")
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "split", "speaker", "text"])
        writer.writerows(CURATION_ROWS)
    return manifest
