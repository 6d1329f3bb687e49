"""The checked open file: format from content, header checked against the limits."""

from __future__ import annotations

import numpy as np
from audio_fixtures import audio_bytes
from audiotest_helpers import reason, write
from signals import tone

from audiosoup_widgets.audio import Limits, analyse_file, probe_file


def test_format_comes_from_content_not_extension(tmp_path):
    path = write(
        tmp_path / "liar.wav", audio_bytes(tone(sr=16000, seconds=0.2, noise=0.02), 16000, format="FLAC")
    )
    assert analyse_file(path).info.format == "FLAC"
    path = write(
        tmp_path / "liar.mp3",
        audio_bytes(tone(sr=16000, seconds=0.2, noise=0.02), 16000, format="OGG", subtype="VORBIS"),
    )
    assert probe_file(path).format == "OGG"


def test_wav_with_no_frames_is_empty(tmp_path):
    path = write(tmp_path / "h.wav", audio_bytes(np.zeros((0, 1), np.float32), 16000))
    assert reason(path) == "empty"


def test_long_file_is_too_long_for_a_short_limit(tmp_path):
    path = write(
        tmp_path / "long.flac", audio_bytes(tone(sr=8000, seconds=3, noise=0.02), 8000, format="FLAC")
    )
    assert reason(path, limits=Limits(max_seconds=2.0)) == "too_long"


def test_too_many_channels_is_unsupported(tmp_path):
    path = write(tmp_path / "c.wav", audio_bytes(tone(sr=8000, seconds=0.1, channels=4, noise=0.02), 8000))
    assert reason(path, limits=Limits(max_channels=2)) == "unsupported"


def test_unsupported_sample_rate(tmp_path):
    path = write(tmp_path / "r.wav", audio_bytes(tone(sr=8000, seconds=0.1, noise=0.02), 8000))
    assert reason(path, limits=Limits(max_sample_rate=4000)) == "unsupported"
