#!/usr/bin/env python3
"""Build the synthetic "speech-commands-mini" demo dataset.

The result copies the layout of Google Speech Commands v0.02 (Warden, 2018,
CC BY 4.0): one folder per word holding ``<speaker>_nohash_<n>.wav`` clips,
``validation_list.txt`` and ``testing_list.txt`` at the root, and a
``_background_noise_/`` folder of long noise clips. Every clip is synthetic:
espeak-ng speaks the word, sox resamples and colours it, numpy places it in a
1-s frame, sets its level and adds a faint noise floor, and soundfile writes
the final 16 kHz mono 16-bit WAV (no timestamps, so rebuilding with the same
espeak-ng and sox versions gives byte-identical files).

Usage::

    python loaders/build_speech_commands_mini.py [--output DIR]

The default output is ``audiosoup_widgets/demo_data/speech_commands_mini``
in the repository. Needs the Debian packages ``espeak-ng`` and ``sox``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "audiosoup_widgets" / "demo_data" / "speech_commands_mini"
DATASET_NAME = "speech-commands-mini"
MARKER = "# speech-commands-mini"  # first line of the README we write; guards deletion

SR = 16000
CLIP_FRAMES = SR  # exactly 1 s
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN_WORDS = ("bird", "cat", "dog", "house", "tree")  # all in the real v0.02 vocabulary
WORDS = KEYWORDS + UNKNOWN_WORDS
SPEAKERS_PER_WORD = 9  # every held-out speaker plus the best-ranked training speakers
REPEAT_WORDS = KEYWORDS  # one training speaker per keyword records a second take
BACKGROUND = "_background_noise_"
BACKGROUND_SECONDS = 10

# The real dataset's split rule (tensorflow/examples/speech_commands/input_data.py).
VALIDATION_PERCENT = 10.0
TESTING_PERCENT = 10.0
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1


@dataclass(frozen=True)
class Voice:
    """One synthetic "speaker": an espeak-ng voice+variant and how it sounds."""

    name: str  # espeak-ng voice, e.g. "en-us+m1"; the speaker id is sha1(name)[:8]
    speed: int  # words per minute (espeak-ng -s)
    pitch: int  # 0-99 (espeak-ng -p)
    lowpass: int  # Hz, a cheap "microphone" colour applied by sox
    level_db: float  # target RMS of the spoken part, dBFS
    floor_db: float  # RMS of the added noise floor, dBFS
    reverb: int = 0  # sox reverberance (0 = dry)

    @property
    def speaker(self) -> str:
        return hashlib.sha1(self.name.encode("utf-8")).hexdigest()[:8]


# Eight English accents, male and female variants, varied speed, pitch and "room".
VOICES = (
    Voice("en-us+m1", 150, 40, 7000, -20.0, -58.0),
    Voice("en-us+f2", 165, 60, 6500, -19.0, -60.0, reverb=20),
    Voice("en-gb+m3", 140, 35, 5500, -22.0, -55.0),
    Voice("en-gb+f4", 175, 65, 7500, -18.0, -62.0),
    Voice("en-gb-scotland+m2", 155, 45, 6000, -21.0, -57.0, reverb=30),
    Voice("en-029+f1", 145, 55, 7000, -20.0, -59.0),
    Voice("en-gb-x-rp+m4", 160, 30, 5000, -23.0, -54.0),
    Voice("en-us-nyc+f3", 185, 70, 7500, -17.0, -61.0),
    Voice("en-gb-x-gbclan+m7", 150, 50, 6500, -21.0, -56.0, reverb=15),
    Voice("en-gb-x-gbcwmd+f5", 170, 58, 6000, -19.0, -58.0),
    Voice("en-gb-x-rp+f4", 158, 62, 7000, -20.0, -60.0),
    Voice("en-us-nyc+m5", 145, 38, 5500, -21.0, -57.0, reverb=25),
)


class BuildError(Exception):
    """A failure worth a one-line message."""


def _seed(*parts: str) -> int:
    """Return a stable 64-bit seed from strings (never Python's salted hash())."""
    digest = hashlib.sha256("/".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _percent(speaker: str) -> float:
    hashed = hashlib.sha1(speaker.encode("utf-8")).hexdigest()
    return (int(hashed, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)


# Each split's range of the hash percentage, as in the real rule below.
_RANGES = {
    "validation": (0.0, VALIDATION_PERCENT),
    "test": (VALIDATION_PERCENT, VALIDATION_PERCENT + TESTING_PERCENT),
    "train": (VALIDATION_PERCENT + TESTING_PERCENT, 100.0),
}


def which_set(speaker: str) -> str:
    """Split of a speaker, exactly as Speech Commands assigns it.

    The real rule hashes the file name with everything from ``_nohash_`` on
    removed, i.e. the speaker id, so all clips of a speaker share a split.
    """
    percent = _percent(speaker)
    if percent < VALIDATION_PERCENT:
        return "validation"
    if percent < VALIDATION_PERCENT + TESTING_PERCENT:
        return "test"
    return "train"


def assign_splits(speakers: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split speakers by hash, then make sure train, validation and test are non-empty.

    If the hash leaves a split empty, the speaker whose hash percentage lies
    nearest to that split's range, taken from a split that keeps at least one
    speaker, moves into it (deterministic; reported in the summary).
    """
    if len(set(speakers)) < 3:
        raise BuildError("need at least three speakers to fill three splits")
    splits = {s: which_set(s) for s in speakers}
    moved = []
    for target in ("train", "validation", "test"):
        if target in splits.values():
            continue
        sizes = {name: list(splits.values()).count(name) for name in _RANGES}
        lo, hi = _RANGES[target]
        donors = [s for s in speakers if sizes[splits[s]] > 1]
        pick = min(donors, key=lambda s: (max(lo - _percent(s), _percent(s) - hi, 0.0), s))
        moved.append(f"{pick} {splits[pick]} -> {target}")
        splits[pick] = target
    return splits, moved


def plan_clips(splits: dict[str, str]) -> list[tuple[str, Voice, int]]:
    """Decide which (word, voice, take) clips exist.

    Held-out speakers say every word once, so validation and test cover the
    whole vocabulary; each word then gets training speakers ranked by a hash of
    (word, speaker) up to ``SPEAKERS_PER_WORD``, like real speakers who skipped
    some words. The top-ranked training speaker of each keyword says it twice.
    """
    held_out = [v for v in VOICES if splits[v.speaker] != "train"]
    train = [v for v in VOICES if splits[v.speaker] == "train"]
    n_train = max(SPEAKERS_PER_WORD - len(held_out), 1)
    clips = []
    for word in WORDS:
        ranked = sorted(train, key=lambda v: hashlib.sha1(f"{word}/{v.speaker}".encode()).hexdigest())
        chosen = held_out + ranked[:n_train]
        for voice in sorted(chosen, key=lambda v: v.speaker):
            clips.append((word, voice, 0))
            if word in REPEAT_WORDS and voice is ranked[0]:
                clips.append((word, voice, 1))
    return clips


def _run(cmd: list[str], stdin: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    except OSError as exc:
        raise BuildError(f"cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BuildError(f"{cmd[0]} failed ({proc.returncode}): {msg[-1] if msg else 'no message'}")
    return proc.stdout


def _version(cmd: list[str]) -> str:
    out = _run(cmd).decode("utf-8", "replace").strip().splitlines()
    return out[0].strip() if out else "unknown"


def synthesize(word: str, voice: Voice, take: int) -> np.ndarray:
    """Speak ``word`` with espeak-ng and let sox resample it to 16 kHz float32."""
    rng = np.random.default_rng(_seed("prosody", voice.speaker, word, str(take)))
    # A second take is a little faster and higher, as people repeat themselves.
    speed = int(round(voice.speed * rng.uniform(0.93, 1.07))) + 12 * take
    pitch = int(np.clip(voice.pitch + rng.integers(-6, 7) + 5 * take, 0, 99))
    wav = _run(["espeak-ng", "-v", voice.name, "-s", str(speed), "-p", str(pitch), "--stdout", word])
    effects = ["rate", "-v", str(SR), "highpass", "80", "lowpass", str(voice.lowpass)]
    if voice.reverb:
        effects += ["reverb", str(voice.reverb), "50", "40"]
    # -R: repeatable mode; -D: no dither (the output is float, quantised later by numpy).
    raw = _run(
        [
            "sox",
            "-R",
            "-D",
            "-V1",
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-e",
            "floating-point",
            "-b",
            "32",
            "-c",
            "1",
            "-L",
            "-",
            *effects,
        ],
        stdin=wav,
    )
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def _frame_rms(x: np.ndarray, frame: int = 160) -> np.ndarray:
    n = len(x) // frame
    if n == 0:
        return np.array([np.sqrt(np.mean(x**2))]) if len(x) else np.zeros(1)
    return np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))


def place_in_second(speech: np.ndarray, voice: Voice, word: str, take: int) -> np.ndarray:
    """Trim silence, set the level, centre the word in 1 s (with jitter) and add a noise floor."""
    rng = np.random.default_rng(_seed("placement", voice.speaker, word, str(take)))
    env = _frame_rms(speech)
    if env.max() <= 0:
        raise BuildError(f"espeak-ng produced silence for {word!r} with {voice.name}")
    active = np.nonzero(env > env.max() * 10 ** (-40 / 20))[0]
    margin = 3  # frames of 10 ms kept around the word
    start = max(active[0] - margin, 0) * 160
    stop = min((active[-1] + 1 + margin) * 160, len(speech))
    word_audio = speech[start:stop]
    if len(word_audio) > CLIP_FRAMES - 320:  # too long: keep the middle, fade the ends
        cut = (len(word_audio) - (CLIP_FRAMES - 320)) // 2
        word_audio = word_audio[cut : cut + CLIP_FRAMES - 320].copy()
        fade = np.linspace(0.0, 1.0, 160)
        word_audio[:160] *= fade
        word_audio[-160:] *= fade[::-1]
    # Level: RMS over the loud frames, per-speaker target with a little per-clip spread.
    loud = _frame_rms(word_audio)
    loud = loud[loud > loud.max() * 10 ** (-30 / 20)]
    rms = float(np.sqrt(np.mean(loud**2)))
    target = 10 ** ((voice.level_db + rng.uniform(-1.5, 1.5)) / 20)
    word_audio = word_audio * (target / rms)
    peak = np.max(np.abs(word_audio))
    if peak > 10 ** (-1 / 20):  # keep 1 dB of headroom
        word_audio *= 10 ** (-1 / 20) / peak
    # Roughly centred, jittered by up to +-120 ms like hand-recorded clips, 10 ms clear of the edges.
    free = CLIP_FRAMES - len(word_audio)
    offset = int(np.clip(free // 2 + rng.integers(-1920, 1921), 160, free - 160))
    clip = rng.normal(0.0, 10 ** (voice.floor_db / 20), CLIP_FRAMES)
    clip[offset : offset + len(word_audio)] += word_audio
    return clip


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 32767 / 32768) * 32768).astype(np.int16)


def write_wav(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), to_pcm16(x), SR, subtype="PCM_16", format="WAV")


def _fft_filter(x: np.ndarray, gain) -> np.ndarray:
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return np.fft.irfft(spec * gain(freqs), n=len(x))


def _at_rms(x: np.ndarray, db: float) -> np.ndarray:
    return x * (10 ** (db / 20) / np.sqrt(np.mean(x**2)))


def background_noises() -> dict[str, np.ndarray]:
    """Three 10-s noise clips from fixed seeds: white, pink and a running tap."""
    n = BACKGROUND_SECONDS * SR
    out = {}
    rng = np.random.default_rng(_seed("background", "white_noise"))
    out["white_noise.wav"] = _at_rms(rng.normal(size=n), -20.0)

    rng = np.random.default_rng(_seed("background", "pink_noise"))
    pink = _fft_filter(rng.normal(size=n), lambda f: 1.0 / np.sqrt(np.maximum(f, 20.0)))
    out["pink_noise.wav"] = _at_rms(pink, -20.0)

    # Running tap: a hiss band around 1-4 kHz whose loudness wobbles, plus droplet "plinks".
    rng = np.random.default_rng(_seed("background", "running_tap"))
    hiss = _fft_filter(
        rng.normal(size=n), lambda f: np.exp(-0.5 * (np.log(np.maximum(f, 1.0) / 2200.0) / 0.45) ** 2)
    )
    wobble = _fft_filter(rng.normal(size=n), lambda f: (f < 6.0).astype(float))
    wobble = 1.0 + 0.35 * wobble / np.max(np.abs(wobble))
    tap = hiss / np.sqrt(np.mean(hiss**2)) * wobble
    t = np.arange(int(0.03 * SR)) / SR
    for _ in range(BACKGROUND_SECONDS * 25):
        at = int(rng.integers(0, n - len(t)))
        f0 = rng.uniform(700, 2600)
        chirp = np.sin(2 * np.pi * (f0 * t + 0.5 * rng.uniform(2e4, 6e4) * t**2)) * np.exp(-t / 0.006)
        tap[at : at + len(t)] += rng.uniform(0.5, 2.0) * chirp
    out["running_tap.wav"] = _at_rms(tap, -22.0)
    for name, x in out.items():  # same 1 dB headroom as the words
        peak = np.max(np.abs(x))
        if peak > 10 ** (-1 / 20):
            out[name] = x * (10 ** (-1 / 20) / peak)
    return out


BACKGROUND_README = """\
Long clips of noise for mixing into training examples, as in the
`_background_noise_` folder of Google Speech Commands. All three are
synthetic, made with numpy from fixed seeds by
`loaders/build_speech_commands_mini.py`:

- white_noise.wav: Gaussian white noise, 10 s.
- pink_noise.wav: 1/f ("pink") noise, 10 s.
- running_tap.wav: band-passed hiss with a wobbling level and droplet
  chirps, meant to sound a little like a running tap, 10 s.
"""


def readme_text(
    words_total: int, clips: int, speakers: dict[str, list[str]], versions: tuple[str, str]
) -> str:
    voice_lines = "\n".join(
        f"| `{v.speaker}` | `{v.name}` | {v.speed} | {v.pitch} | {split} |"
        for split in ("train", "validation", "test")
        for v in sorted(VOICES, key=lambda v: v.speaker)
        if v.speaker in speakers[split]
    )
    return f"""{MARKER}

A small **synthetic** copy of Google Speech Commands v0.02, for demos and tests of
Audio Soup widgets. The vocabulary and the folder layout are those of Speech Commands;
**no audio comes from it: every clip is spoken by the espeak-ng speech synthesiser**,
not recorded from a person.

- {words_total} words, all from the real vocabulary:
  - keywords: {", ".join(KEYWORDS)};
  - "unknown" words: {", ".join(UNKNOWN_WORDS)}.
- {clips} clips, each exactly 1 s: 16 kHz, mono, 16-bit PCM WAV, the word roughly
  centred, a faint noise floor around it.
- {len(VOICES)} synthetic "speakers" (espeak-ng voices and variants with their own speed,
  pitch, tone and room), at least {SPEAKERS_PER_WORD} per word; some keywords have a
  second take (`_nohash_1`).
- `_background_noise_/`: white noise, pink noise and a running-tap-like noise, 10 s each.

## Layout

Exactly as Speech Commands: `<word>/<speaker>_nohash_<n>.wav`, where `<speaker>` is the
first 8 hex digits of the SHA-1 of the espeak-ng voice name (so one speaker spans words)
and `<n>` counts that speaker's takes of the word. `validation_list.txt` and
`testing_list.txt` list relative paths (`word/file.wav`); every other clip is training
data. Splits are by speaker, with the hash rule of the real dataset (10 % validation,
10 % test); the builder moves one training speaker into a split the hash leaves empty.

| speaker | espeak-ng voice | words/min | pitch | split |
|---|---|---|---|---|
{voice_lines}

## How it was made

`python loaders/build_speech_commands_mini.py` (in the Audio Soup widgets repository)
rebuilds this folder. espeak-ng speaks each word; sox resamples it to 16 kHz and applies
a per-speaker band limit (and for some speakers a little reverb); numpy trims the silence,
sets the level, places the word and adds the noise floor from fixed seeds; soundfile
writes the WAVs. With the same tool versions the output is byte-identical. This copy was
made with {versions[0]} and {versions[1]}.

## Credit and licence

The vocabulary and layout follow the Speech Commands dataset by Google, released under
the Creative Commons Attribution 4.0 International licence (CC BY 4.0):

> Pete Warden. "Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition."
> arXiv:1804.03209, 2018. https://arxiv.org/abs/1804.03209

See `LICENSE`.
"""


LICENSE_TEXT = """\
speech-commands-mini: synthetic demo data for Audio Soup widgets

This folder contains no audio from the Speech Commands dataset. Its word list and
its folder and file layout (word folders, <speaker>_nohash_<n>.wav names,
validation_list.txt, testing_list.txt, _background_noise_) follow:

  Speech Commands v0.02, Copyright Google LLC, released under the Creative
  Commons Attribution 4.0 International licence (CC BY 4.0),
  https://creativecommons.org/licenses/by/4.0/
  Pete Warden, "Speech Commands: A Dataset for Limited-Vocabulary Speech
  Recognition", arXiv:1804.03209, 2018. https://arxiv.org/abs/1804.03209

All clips here are synthetic: the words are spoken by the espeak-ng speech
synthesiser and the background noises are generated with numpy, by
loaders/build_speech_commands_mini.py. In keeping with the dataset whose
layout it copies, this folder (audio and lists) is also offered under
CC BY 4.0; please credit "Audio Soup widgets, speech-commands-mini (synthetic,
after Google Speech Commands, Warden 2018)" when you reuse it.
"""


def build(out: Path) -> dict:
    """Write the whole dataset into the empty folder ``out``; return summary numbers."""
    versions = (
        _version(["espeak-ng", "--version"]).split(" Data at:")[0].strip(),
        _version(["sox", "--version"]).replace("sox:", "").strip(),
    )
    speaker_ids = [v.speaker for v in VOICES]
    if len(set(speaker_ids)) != len(speaker_ids):
        raise BuildError("two voices hash to the same speaker id")
    splits, moved = assign_splits(speaker_ids)
    clips = plan_clips(splits)

    lists: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for word, voice, take in clips:
        rel = f"{word}/{voice.speaker}_nohash_{take}.wav"
        audio = place_in_second(synthesize(word, voice, take), voice, word, take)
        assert len(audio) == CLIP_FRAMES
        write_wav(out / rel, audio)
        lists[splits[voice.speaker]].append(rel)

    noises = background_noises()
    for name, x in noises.items():
        write_wav(out / BACKGROUND / name, x)
    (out / BACKGROUND / "README.md").write_text(BACKGROUND_README, encoding="utf-8", newline="\n")

    for fname, split in (("validation_list.txt", "validation"), ("testing_list.txt", "test")):
        (out / fname).write_text(
            "".join(f"{rel}\n" for rel in sorted(lists[split])), encoding="utf-8", newline="\n"
        )
    speakers = {s: sorted({k for k, v in splits.items() if v == s}) for s in lists}
    (out / "README.md").write_text(
        readme_text(len(WORDS), len(clips), speakers, versions), encoding="utf-8", newline="\n"
    )
    (out / "LICENSE").write_text(LICENSE_TEXT, encoding="utf-8", newline="\n")
    return {
        "lists": lists,
        "speakers": speakers,
        "moved": moved,
        "versions": versions,
        "n_background": len(noises),
    }


def _check_replaceable(out: Path) -> None:
    """Refuse to overwrite anything but an empty folder or an earlier build of this dataset."""
    if not out.exists():
        return
    if not out.is_dir():
        raise BuildError(f"{out} exists and is not a folder")
    readme = out / "README.md"
    ours = readme.is_file() and readme.read_text(encoding="utf-8", errors="replace").startswith(MARKER)
    if any(out.iterdir()) and not ours:
        raise BuildError(f"{out} is not empty and does not look like {DATASET_NAME}; not replacing it")


def _replace_dir(built: Path, out: Path) -> None:
    """Swap the freshly built folder in place of ``out``."""
    _check_replaceable(out)
    if out.exists():
        shutil.rmtree(out)
    os.replace(built, out)


def _make_readable(root: Path) -> None:
    # mkdtemp creates 0700 folders; give the tree ordinary permissions.
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=f"Build the synthetic {DATASET_NAME} demo dataset (Speech Commands v0.02 layout) "
        "with espeak-ng and sox."
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="folder to (re)create (default: audiosoup_widgets/demo_data/"
        "speech_commands_mini in the repository)",
    )
    args = parser.parse_args(argv)
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        print(
            f"error: {' and '.join(missing)} not found on PATH; install the Debian package(s) "
            f"{' '.join(missing)} (apt-get install {' '.join(missing)})",
            file=sys.stderr,
        )
        return 2
    out = args.output.resolve()
    try:
        _check_replaceable(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-build-", dir=out.parent))
        try:
            info = build(tmp)
            _make_readable(tmp)
            _replace_dir(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    except (BuildError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    lists, speakers = info["lists"], info["speakers"]
    files = [p for p in out.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    n_clips = sum(len(v) for v in lists.values())
    print(f"{DATASET_NAME} -> {out}")
    print(
        f"  words:    {len(WORDS)} ({len(KEYWORDS)} keywords: {' '.join(KEYWORDS)}; "
        f"unknown: {' '.join(UNKNOWN_WORDS)})"
    )
    print(
        f"  clips:    {n_clips} x 1 s, {SR} Hz mono PCM_16, {len(VOICES)} speakers; "
        f"{BACKGROUND}: {info['n_background']} x {BACKGROUND_SECONDS} s"
    )
    for split in ("train", "validation", "test"):
        print(
            f"  {split + ':':<11} {len(lists[split]):3d} clips, {len(speakers[split]):2d} speakers "
            f"({' '.join(speakers[split])})"
        )
    if info["moved"]:
        print(f"  moved to fill an empty split: {', '.join(info['moved'])}")
    print(f"  size:     {total} bytes ({total / 2**20:.2f} MiB) in {len(files)} files")
    print(f"  tools:    {info['versions'][0]}; {info['versions'][1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
