"""Real-world-like audio folders for tests: mixed formats, odd names and broken files.

A plain importable module (no pytest needed), shared by the audio tests and the
loader tests on SQLite and PostgreSQL:

* :func:`make_mixed_folder` writes a labelled folder (``dog/``, ``cat/``) of real
  audio in every supported format, plus every kind of broken or hostile file,
  and returns the outcome each must end with;
* :func:`make_clips` writes many small distinct clips (throughput tests);
* :func:`audio_bytes` encodes signals (made by ``signals.tone``) to bytes;
* :func:`analyse_or_misbehave` stands in for ``analyse_file`` in worker pools
  (``analyse_many(..., _analyse=analyse_or_misbehave)``) to simulate a decoder
  that hangs or crashes on chosen files.

Everything is written with soundfile (libsndfile); no external tool is needed.
Only broken files that libsndfile-based decoding really detects are included:
a truncated MP3 *with* a Xing/Info header (libsndfile writes one) is detectable,
one without is not (its length is estimated from its size), so it is left out.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from signals import tone

__all__ = [
    "GOOD_DETAILS",
    "make_mixed_folder",
    "make_clips",
    "audio_bytes",
    "huge_claim_wav",
    "analyse_or_misbehave",
    "XSS_NAME",
    "ODD_BYTES_NAME",
]

#: A file name that is also an XSS payload; the file holds valid audio.
XSS_NAME = "<img src=x onerror=alert(1)>.wav"
#: A file name that is not valid UTF-8 (Latin-1 "café"), as os.fsdecode gives it.
ODD_BYTES_NAME = os.fsdecode(b"caf\xe9.wav")

#: For each file of the mixed folder that should load: its format (from the
#: content), sample rate, channels, frames and the quality flags expected.
GOOD_DETAILS: dict[str, dict[str, object]] = {
    "dog/u8_8k_mono.wav": dict(
        format="WAV", subtype="PCM_U8", sample_rate=8000, channels=1, frames=8000, flags=()
    ),
    "dog/pcm16_16k_stereo.wav": dict(
        format="WAV", subtype="PCM_16", sample_rate=16000, channels=2, frames=16000, flags=()
    ),
    "dog/pcm24_44k.wav": dict(
        format="WAV", subtype="PCM_24", sample_rate=44100, channels=1, frames=22050, flags=()
    ),
    "dog/float_48k_6ch.wav": dict(
        format="WAV", subtype="FLOAT", sample_rate=48000, channels=6, frames=24000, flags=()
    ),
    "dog/flac_22k.flac": dict(
        format="FLAC", subtype="PCM_16", sample_rate=22050, channels=1, frames=22050, flags=()
    ),
    "dog/vorbis_32k.ogg": dict(
        format="OGG", subtype="VORBIS", sample_rate=32000, channels=1, frames=32000, flags=()
    ),
    "dog/mp3_44k_stereo.mp3": dict(
        format="MP3", subtype="MPEG_LAYER_III", sample_rate=44100, channels=2, frames=44100, flags=()
    ),
    "dog/flac_content.wav": dict(
        format="FLAC", subtype="PCM_16", sample_rate=16000, channels=1, frames=16000, flags=()
    ),
    "cat/very_quiet.wav": dict(
        format="WAV", subtype="PCM_16", sample_rate=16000, channels=1, frames=16000, flags=("quiet",)
    ),
    "cat/silent.wav": dict(
        format="WAV", subtype="PCM_16", sample_rate=16000, channels=1, frames=16000, flags=("silent",)
    ),
    "cat/clipped.wav": dict(
        format="WAV", subtype="PCM_16", sample_rate=16000, channels=1, frames=16000, flags=("clipped",)
    ),
    f"cat/{XSS_NAME}": dict(
        format="WAV", subtype="PCM_16", sample_rate=16000, channels=1, frames=16000, flags=()
    ),
    f"cat/{ODD_BYTES_NAME}": dict(
        format="WAV", subtype="PCM_16", sample_rate=16000, channels=1, frames=16000, flags=()
    ),
}


def audio_bytes(y: np.ndarray, sr: int, *, format: str = "WAV", subtype: str | None = None) -> bytes:
    """Encode ``y`` (frames, channels) with libsndfile and return the file's bytes."""
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=format, subtype=subtype)
    return buf.getvalue()


def huge_claim_wav(*, data_size: int = 0xFFFFFFF0, sr: int = 16000) -> bytes:
    """Return a 16-bit mono WAV whose header claims ``data_size`` bytes but holds 20."""
    fmt = struct.pack("<HHIIHH", 1, 1, sr, sr * 2, 2, 16)
    body = np.arange(10, dtype="<i2").tobytes()
    riff_size = min(0xFFFFFFFF, 4 + 8 + len(fmt) + 8 + data_size)
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_size)
        + body
    )


def _write(root: Path, rel: str, data: bytes) -> None:
    # Through bytes paths so names that are not UTF-8 work (surrogate escapes).
    path = os.fsencode(root / rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def make_mixed_folder(root: Path) -> dict[str, str | None]:
    """Write a dataset folder of varied real audio and broken files.

    Layout: ``root/dog/`` and ``root/cat/``, one label per folder. Files that
    should load (see :data:`GOOD_DETAILS`): WAV PCM_U8 8 kHz mono, PCM_16 16 kHz
    stereo, PCM_24 44.1 kHz, FLOAT 48 kHz 6 channels, FLAC 22.05 kHz, Ogg Vorbis
    32 kHz, MP3 44.1 kHz stereo, a FLAC file named ``.wav``, a very quiet clip
    (-60 dBFS), a silent clip, a clipped clip, a file named like an XSS payload
    and one whose name is not UTF-8 (Linux only). All their contents differ.

    Files that must be skipped, with the reason code expected:

    ================================  ============  ==========================================
    file                              reason        how it is detected
    ================================  ============  ==========================================
    ``cat/empty.wav``                 empty         0 bytes (stat)
    ``cat/text.wav``                  not_audio     libsndfile: format not recognised
    ``cat/random.flac``               not_audio     libsndfile: format not recognised
    ``cat/truncated.wav``             truncated     RIFF data size > bytes present
    ``cat/header_cut.wav``            truncated     RIFF chunks end before a data chunk
    ``cat/truncated.flac``            truncated     FLAC decoder loses sync mid-stream
    ``cat/truncated.mp3``             truncated     decodes fewer frames than its Xing header
    ``cat/truncated.ogg``             truncated     last Ogg page cut (no end-of-stream page)
    ``cat/huge_claim.wav``            too_long      RIFF data size 0xFFFFFFF0 (2.1e9 frames)
    ``cat/too_many_channels.wav``     unsupported   33 channels > the default 32
    ``cat/outside_link.wav``          outside_root  symlink to ``<root>-outside/secret.wav``
    ``cat/pipe.wav``                  not_regular   a FIFO (never opened)
    ================================  ============  ==========================================

    The symlink target is written next to ``root`` (in ``<root name>-outside``),
    outside it by construction. The FIFO, the symlink and the non-UTF-8 name are
    left out where the platform cannot make them.

    Parameters
    ----------
    root : Path
        The folder to fill (created if missing).

    Returns
    -------
    dict
        Relative path (``/`` separators, ``os.fsdecode`` for odd bytes) -> the
        expected skip reason code, or ``None`` for a file that should load.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, str | None] = {}

    def good(rel: str, data: bytes) -> None:
        _write(root, rel, data)
        out[rel] = None

    def bad(rel: str, data: bytes, reason: str) -> None:
        _write(root, rel, data)
        out[rel] = reason

    good(
        "dog/u8_8k_mono.wav",
        audio_bytes(tone(sr=8000, seconds=1, freq=300, seed=1, noise=0.02), 8000, subtype="PCM_U8"),
    )
    good(
        "dog/pcm16_16k_stereo.wav",
        audio_bytes(
            tone(sr=16000, seconds=1, channels=2, freq=350, seed=2, noise=0.02), 16000, subtype="PCM_16"
        ),
    )
    good(
        "dog/pcm24_44k.wav",
        audio_bytes(tone(sr=44100, seconds=0.5, freq=400, seed=3, noise=0.02), 44100, subtype="PCM_24"),
    )
    good(
        "dog/float_48k_6ch.wav",
        audio_bytes(
            tone(sr=48000, seconds=0.5, channels=6, freq=450, seed=4, noise=0.02), 48000, subtype="FLOAT"
        ),
    )
    good(
        "dog/flac_22k.flac",
        audio_bytes(tone(sr=22050, seconds=1, freq=500, seed=5, noise=0.02), 22050, format="FLAC"),
    )
    good(
        "dog/vorbis_32k.ogg",
        audio_bytes(
            tone(sr=32000, seconds=1, freq=550, seed=6, noise=0.02), 32000, format="OGG", subtype="VORBIS"
        ),
    )
    good(
        "dog/mp3_44k_stereo.mp3",
        audio_bytes(
            tone(sr=44100, seconds=1, channels=2, freq=600, seed=7, noise=0.02),
            44100,
            format="MP3",
            subtype="MPEG_LAYER_III",
        ),
    )
    good(
        "dog/flac_content.wav",
        audio_bytes(tone(sr=16000, seconds=1, freq=650, seed=8, noise=0.02), 16000, format="FLAC"),
    )
    good(
        "cat/very_quiet.wav",
        audio_bytes(
            tone(sr=16000, seconds=1, freq=700, level=0.001, seed=9, noise=0.02), 16000, subtype="PCM_16"
        ),
    )
    good("cat/silent.wav", audio_bytes(np.zeros((16000, 1), np.float32), 16000, subtype="PCM_16"))
    good(
        "cat/clipped.wav",
        audio_bytes(
            np.clip(tone(sr=16000, seconds=1, freq=750, level=3.0, seed=10, noise=0.02), -1, 1),
            16000,
            subtype="PCM_16",
        ),
    )
    good(
        f"cat/{XSS_NAME}",
        audio_bytes(tone(sr=16000, seconds=1, freq=800, seed=11, noise=0.02), 16000, subtype="PCM_16"),
    )
    if sys.platform.startswith("linux"):
        try:
            good(
                f"cat/{ODD_BYTES_NAME}",
                audio_bytes(
                    tone(sr=16000, seconds=1, freq=850, seed=12, noise=0.02), 16000, subtype="PCM_16"
                ),
            )
        except OSError:  # a file system that insists on UTF-8 names
            out.pop(f"cat/{ODD_BYTES_NAME}", None)

    bad("cat/empty.wav", b"", "empty")
    bad("cat/text.wav", b"This is not a sound file, just notes about one.\n" * 20, "not_audio")
    # Seed chosen so libsndfile answers "format not recognised" (some random
    # byte strings make mpg123 hunt for MPEG frames instead; same outcome).
    bad("cat/random.flac", np.random.default_rng(2024).bytes(8192), "not_audio")
    wav = audio_bytes(tone(sr=16000, seconds=1, freq=900, seed=13, noise=0.02), 16000, subtype="PCM_16")
    bad("cat/truncated.wav", wav[: len(wav) // 2], "truncated")
    bad("cat/header_cut.wav", wav[:30], "truncated")
    flac = audio_bytes(tone(sr=16000, seconds=3, freq=950, seed=14, noise=0.02), 16000, format="FLAC")
    bad("cat/truncated.flac", flac[: len(flac) * 2 // 3], "truncated")
    mp3 = audio_bytes(
        tone(sr=44100, seconds=3, channels=2, freq=1000, seed=15, noise=0.02),
        44100,
        format="MP3",
        subtype="MPEG_LAYER_III",
    )
    bad("cat/truncated.mp3", mp3[: len(mp3) // 2], "truncated")
    ogg = audio_bytes(
        tone(sr=32000, seconds=3, freq=1050, seed=16, noise=0.02), 32000, format="OGG", subtype="VORBIS"
    )
    bad("cat/truncated.ogg", ogg[: len(ogg) // 2], "truncated")
    bad("cat/huge_claim.wav", huge_claim_wav(), "too_long")
    bad(
        "cat/too_many_channels.wav",
        audio_bytes(
            tone(sr=8000, seconds=0.1, channels=33, freq=1100, seed=17, noise=0.02), 8000, subtype="PCM_16"
        ),
        "unsupported",
    )

    outside = root.parent / f"{root.name}-outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.wav"
    secret.write_bytes(audio_bytes(tone(sr=16000, seconds=1, freq=1150, seed=18, noise=0.02), 16000))
    try:
        os.symlink(secret, root / "cat" / "outside_link.wav")
        out["cat/outside_link.wav"] = "outside_root"
    except (OSError, NotImplementedError):  # no symlink rights (Windows)
        pass
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "cat" / "pipe.wav")
        out["cat/pipe.wav"] = "not_regular"
    return out


def make_clips(
    root: Path, n: int, *, sr: int = 16000, seconds: float = 1.0, labels: tuple[str, ...] = ("yes", "no")
) -> list[Path]:
    """Write ``n`` distinct 16-bit mono WAV clips under label folders of ``root``.

    Speech-Commands-like names (``<label>/<hash>_nohash_<i>.wav``); each clip
    differs (frequency and noise seed), so none is a duplicate of another.

    Returns
    -------
    list of Path
        The files written, in order.
    """
    root = Path(root)
    for label in labels:
        (root / label).mkdir(parents=True, exist_ok=True)
    base = tone(sr, seconds=seconds, freq=440.0)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        y = base * np.float32(0.3 + 0.5 * (i % 7) / 7) + np.float32(0.01) * rng.standard_normal(
            len(base)
        ).astype(np.float32)
        pcm = np.clip(np.rint(y * 32767), -32768, 32767).astype("<i2")
        path = root / labels[i % len(labels)] / f"{i:08x}_nohash_{i % 5}.wav"
        path.write_bytes(_pcm16_wav(pcm, sr))
        paths.append(path)
    return paths


def _pcm16_wav(pcm: np.ndarray, sr: int) -> bytes:
    # Hand-rolled header: libsndfile per file would dominate making 3000 clips.
    data = pcm.tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, sr, sr * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def analyse_or_misbehave(path: str, **kwargs: object) -> object:
    """Behave like ``analyse_file``, except on files named to misbehave.

    A file whose name starts with ``hang`` blocks forever (as a decoder stuck in
    C would); one starting with ``crash`` kills its process (as a segfault would).
    Module-level, so worker processes can unpickle it by reference.
    """
    import signal
    import time

    from audiosoup_widgets.audio import analyse_file

    name = os.path.basename(path)
    if name.startswith("hang"):
        while True:
            time.sleep(60)
    if name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return analyse_file(path, **kwargs)  # type: ignore[arg-type]
