"""Limits and skip reasons: bounds validated, every refusal a coded, one-line error."""

from __future__ import annotations

import pytest
from audio_fixtures import audio_bytes
from audiotest_helpers import write
from signals import tone

from audiosoup_widgets.audio import Limits, analyse_file
from audiosoup_widgets.errors import AudiosoupError, DecodeError, ValidationError


def test_limits_are_validated():
    with pytest.raises(ValidationError):
        Limits(max_bytes=0)
    with pytest.raises(ValidationError):
        Limits(timeout_s=float("inf"))
    assert Limits().max_frames(16000) == 172_800_000


def test_slow_decoding_times_out_between_chunks(tmp_path):
    path = write(tmp_path / "t.wav", audio_bytes(tone(sr=16000, seconds=2, noise=0.02), 16000))
    with pytest.raises(DecodeError, match="longer than") as info:
        analyse_file(path, limits=Limits(timeout_s=1e-9, chunk_frames=1000))
    assert info.value.code == "timeout"


def test_decode_error_is_an_audiosoup_error_with_a_code():
    exc = DecodeError("x", code="truncated")
    assert isinstance(exc, AudiosoupError) and exc.code == "truncated"
