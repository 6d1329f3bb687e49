"""AudioService: decoding cached by content, playback WAVs, thumbnails, plain errors."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf
from widgettest_helpers import add_samples

from audiosoup_widgets.errors import DecodeError, ValidationError
from audiosoup_widgets.services import MAX_PLAY_SECONDS, ReviewServices

FIRST = "yes/spk00_nohash_0.wav"


def test_decoding_is_cached_and_an_edit_does_not_invalidate_it(words, calls):
    services, store, ids = words
    reads = calls(store, "sample_file")
    record = services.samples.get(ids[FIRST])
    y, sr = services.audio.decode(record)
    assert y.dtype == np.float32 and y.shape == (16000,) and sr == 16000
    assert services.audio.is_cached(record)
    edited = services.samples.update(record, reviewer="ann", text="a new transcript")
    assert services.audio.decode(edited)[0] is y  # same content, same audio
    assert reads["sample_file"] == 1


def test_wav_bytes_are_16_bit_mono_and_cut_at_the_play_limit(sqlite_store, tmp_path):
    ids = add_samples(
        sqlite_store,
        tmp_path / "a",
        clips=[{"label": "x", "name": "short"}, {"label": "x", "name": "long", "seconds": 61.0, "sr": 8000}],
    )
    services = ReviewServices(sqlite_store)
    short, long = (services.samples.get(ids[f"x/{n}.wav"]) for n in ("short", "long"))
    info = sf.info(io.BytesIO(services.audio.wav_bytes(short)))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 1, "PCM_16", 16000)
    y, sr = sf.read(io.BytesIO(services.audio.wav_bytes(long)))
    assert len(y) == int(MAX_PLAY_SECONDS * sr)
    assert services.audio.play_truncated(long) and not services.audio.play_truncated(short)


def test_a_missing_file_is_a_plain_message_naming_the_clip(words):
    services, store, ids = words
    record = services.samples.get(ids[FIRST])
    os.remove(store.sample_file(record.id))
    with pytest.raises(DecodeError) as info:
        services.audio.decode(record)
    assert info.value.message.startswith("The audio of spk00_nohash_0.wav cannot be used")
    assert str(store.dataset_root("words")) not in info.value.message


def test_thumbnails_raise_quiet_clips_and_say_by_how_much(words):
    services, _, ids = words
    quiet = services.samples.get(ids["no/spk04_nohash_0.wav"])
    loud = services.samples.get(ids[FIRST])
    peaks, gain = services.audio.thumbnail(quiet)
    assert peaks.shape[0] == 2 and np.abs(peaks).max() <= 1.0 and gain >= 30
    assert services.audio.thumbnail(loud)[1] == pytest.approx(6.02, abs=0.05)


def test_a_region_plays_alone_as_exactly_its_samples(words):
    services, _, ids = words
    record = services.samples.get(ids[FIRST])
    y, sr = services.audio.decode(record, max_seconds=MAX_PLAY_SECONDS)
    seg, seg_sr = sf.read(
        io.BytesIO(services.audio.segment_wav(record, start=0.25, end=0.5)), dtype="float32"
    )
    assert seg_sr == sr and len(seg) == round(0.25 * sr)
    # The same samples as the whole clip's WAV from 0.25 s on (both 16-bit).
    whole, _ = sf.read(io.BytesIO(services.audio.wav_bytes(record)), dtype="float32")
    np.testing.assert_array_equal(seg, whole[4000:8000])
    # An end past the audio is cut at it.
    tail, _ = sf.read(io.BytesIO(services.audio.segment_wav(record, start=0.9, end=5.0)))
    assert len(tail) == len(y) - round(0.9 * sr)
    for start, end in ((0.5, 0.25), (-0.1, 0.2), (float("nan"), 0.3), (1.5, 2.0), (MAX_PLAY_SECONDS, 70.0)):
        with pytest.raises(ValidationError):
            services.audio.segment_wav(record, start=start, end=end)
