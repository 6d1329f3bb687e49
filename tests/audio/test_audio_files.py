"""Opening files safely: inside the root, regular, not empty, not too large, never blocking."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from audio_fixtures import audio_bytes
from audiotest_helpers import reason, write
from signals import tone

from audiosoup_widgets.audio import Limits, analyse_file
from audiosoup_widgets.errors import DecodeError


def test_empty_file(tmp_path):
    assert reason(write(tmp_path / "e.wav", b"")) == "empty"


def test_too_large_is_refused_before_reading(tmp_path):
    path = write(tmp_path / "big.wav", audio_bytes(tone(sr=16000, seconds=1, noise=0.02), 16000))
    with pytest.raises(DecodeError, match=r"bytes \(> limit 1000\)") as info:
        analyse_file(path, limits=Limits(max_bytes=1000))
    assert info.value.code == "too_large"


def test_symlink_leaving_the_root(tmp_path):
    outside = write(
        tmp_path / "elsewhere" / "secret.wav", audio_bytes(tone(sr=8000, seconds=0.1, noise=0.02), 8000)
    )
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.wav").symlink_to(outside)
    assert reason(root / "link.wav", root=root) == "outside_root"
    assert reason(root / ".." / "elsewhere" / "secret.wav", root=root) == "outside_root"
    # A sibling whose name starts like the root is outside too (no string prefix test).
    write(tmp_path / "root2" / "x.wav", audio_bytes(tone(sr=8000, seconds=0.1, noise=0.02), 8000))
    assert reason(tmp_path / "root2" / "x.wav", root=root) == "outside_root"
    # Without a root, the same link is fine.
    assert analyse_file(root / "link.wav").info.frames == 800


def test_symlink_inside_the_root_and_a_symlinked_root_load(tmp_path):
    real = tmp_path / "real"
    target = write(real / "a" / "x.wav", audio_bytes(tone(sr=8000, seconds=0.1, noise=0.02), 8000))
    (real / "b").mkdir()
    (real / "b" / "y.wav").symlink_to(Path("..") / "a" / "x.wav")
    (tmp_path / "alias").symlink_to(real)
    assert analyse_file(real / "b" / "y.wav", root=real).info.frames == 800
    assert analyse_file(tmp_path / "alias" / "a" / "x.wav", root=tmp_path / "alias")
    assert analyse_file(target, root=tmp_path / "alias")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_regular_and_never_blocks(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    box: dict[str, object] = {}

    def run() -> None:
        try:
            analyse_file(fifo, root=tmp_path)
        except DecodeError as exc:
            box["code"] = exc.code

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "analyse_file blocked on a FIFO"
    assert box["code"] == "not_regular"
    assert reason(fifo) == "not_regular"


def test_folders_and_devices_are_not_regular(tmp_path):
    (tmp_path / "d.wav").mkdir()
    assert reason(tmp_path / "d.wav") == "not_regular"
    if os.path.exists("/dev/null"):
        assert reason("/dev/null") == "not_regular"


def test_missing_file_and_symlink_loop_are_unreadable(tmp_path):
    assert reason(tmp_path / "nope.wav") == "unreadable"
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    assert reason(tmp_path / "loop.wav") == "unreadable"


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their permissions"
)
def test_permission_denied_is_unreadable(tmp_path):
    path = write(tmp_path / "p.wav", audio_bytes(tone(sr=8000, seconds=0.1, noise=0.02), 8000))
    path.chmod(0)
    assert reason(path) == "unreadable"
