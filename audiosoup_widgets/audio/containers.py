"""Our own reading of container structure, where libsndfile silently repairs a lie.

This module owns the byte-level checks made on an open file descriptor (with
``pread``, so libsndfile's position is left alone) and the reading of libsndfile's
own words:

* the size a RIFF/RF64 WAVE ``data`` chunk claims (:func:`riff_data_bytes`);
* a data chunk cut short, from libsndfile's log (:func:`logged_short_data`);
* whether an MP3 carries a Xing, Info or VBRI length header
  (:func:`mp3_has_length_header`);
* whether an Ogg stream's last page shows it was cut (:func:`ogg_tail_problem`);
* libsndfile's error text, and which skip reason a refused file gets
  (:func:`sndfile_message`, :func:`open_error`).
"""

from __future__ import annotations

import os
import re
import struct
from typing import TYPE_CHECKING

from ..errors import DecodeError

if TYPE_CHECKING:
    import soundfile as sf

__all__ = [
    "BYTES_PER_SAMPLE",
    "MP3_FRAME",
    "riff_data_bytes",
    "logged_short_data",
    "mp3_has_length_header",
    "ogg_tail_problem",
    "sndfile_message",
    "open_error",
]

#: Frames in an MPEG frame: the tolerance between a Xing/Info header and decoding.
MP3_FRAME = 1152
#: Bytes per sample of the uncompressed encodings a WAV data chunk can hold.
BYTES_PER_SAMPLE = {
    "PCM_S8": 1,
    "PCM_U8": 1,
    "PCM_16": 2,
    "PCM_24": 3,
    "PCM_32": 4,
    "FLOAT": 4,
    "DOUBLE": 8,
    "ULAW": 1,
    "ALAW": 1,
}
# libsndfile error numbers meaning "a real format, an encoding we cannot decode".
_UNSUPPORTED_ERRORS = {4, 18, 106, 110, 117, 123}
_SHORT_DATA = re.compile(r"^\s*(SSND|Data Size|data)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)


def riff_data_bytes(fd: int, size: int, *, need_data: bool = False) -> int | None:
    """Return the byte size a RIFF/RF64 WAVE file's ``data`` chunk header claims.

    libsndfile quietly shortens a data chunk that runs past the end of the file,
    which would hide both a truncated file and a header claiming billions of
    frames; this reads the claim itself. ``None`` means no claim to check: not a
    WAVE file, no data chunk found within the file (the header itself is cut),
    or a size of 0 or 0xFFFFFFFF, the placeholders streaming writers such as
    ``ffmpeg ... -f wav -`` leave when they cannot seek back.
    """
    head = os.pread(fd, 12, 0)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64", b"BW64"):
        return None
    pos: int = 12
    ds64: int | None = None
    for _ in range(1024):  # real files have a handful of chunks; do not walk forever
        ck = os.pread(fd, 8, pos)
        if len(ck) < 8:
            return None
        cid, csize = ck[:4], int(struct.unpack("<I", ck[4:])[0])
        if cid == b"ds64":
            body = os.pread(fd, 16, pos + 8)
            if len(body) == 16:
                ds64 = int(struct.unpack("<QQ", body)[1])
        elif cid == b"data":
            if csize == 0xFFFFFFFF and ds64 is not None:
                return ds64
            if csize in (0, 0xFFFFFFFF):
                return None if not need_data else 0
            return csize
        pos += 8 + csize + (csize & 1)
        if pos >= size:
            return None
    return None


def logged_short_data(snd: sf.SoundFile) -> str | None:
    """Say how a data chunk is cut short, from libsndfile's log, or return ``None``."""
    try:
        log = snd.extra_info
    except (RuntimeError, AttributeError):  # pragma: no cover - older soundfile
        return None
    for m in _SHORT_DATA.finditer(log):
        claimed, present = int(m.group(2)), int(m.group(3))
        # 0xFFFFFFFF is the official "size unknown" of AU and of streaming writers.
        if present < claimed != 0xFFFFFFFF:
            return f"header claims {claimed} data bytes, the file holds {present}"
    return None


def mp3_has_length_header(fd: int) -> bool:
    """Return whether an MP3's first frame carries a Xing, Info or VBRI length header."""
    head = os.pread(fd, 10, 0)
    start = 0
    if head[:3] == b"ID3" and len(head) == 10:
        # ID3v2 size: four 7-bit bytes, plus a 10-byte footer when flagged.
        start = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
        if head[5] & 0x10:
            start += 10
    window = os.pread(fd, 4096, start)
    i = 0
    while True:  # the first frame starts at the first 11-bit sync word
        i = window.find(b"\xff", i)
        if i < 0 or i + 1 >= len(window):
            return False
        if window[i + 1] & 0xE0 == 0xE0:
            break
        i += 1
    # Xing/Info sits at byte 13, 21 or 36 of the frame, VBRI at 36.
    frame = window[i + 4 : i + 64]
    return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))


def ogg_tail_problem(fd: int, size: int) -> str | None:
    """Say why an Ogg file's last page shows it was cut, or ``None`` if it ends well.

    libsndfile takes an Ogg file's length from its last complete page, so a file
    cut short decodes "fully" to a shorter length. A complete stream ends with a
    page flagged end-of-stream, whose segments all fit in the file.
    """
    tail_len = min(size, 65_536 + 282)
    tail = os.pread(fd, tail_len, size - tail_len)
    i = tail.rfind(b"OggS")
    if i < 0 or len(tail) - i < 27:
        return "Ogg stream ends without a complete last page"
    header = tail[i : i + 27]
    n_seg = header[26]
    segments = tail[i + 27 : i + 27 + n_seg]
    if len(segments) < n_seg or i + 27 + n_seg + sum(segments) > len(tail):
        return "Ogg stream ends inside a page"
    if not header[5] & 0x04:
        return "Ogg stream has no end-of-stream page"
    return None


def sndfile_message(exc: BaseException) -> str:
    """Return libsndfile's own text for ``exc``, without the file name prefix."""
    text = getattr(exc, "error_string", "") or str(exc)
    return " ".join(text.split()) or "unknown decoder error"


def open_error(exc: sf.LibsndfileError, *, fd: int, size: int) -> DecodeError:
    """Return the error for a file libsndfile refused to open, with its skip reason.

    Parameters
    ----------
    exc : soundfile.LibsndfileError
        What libsndfile raised.
    fd : int
        The refused file, open for reading.
    size : int
        Its size in bytes.

    Returns
    -------
    DecodeError
        ``unsupported`` for a known format with an encoding libsndfile cannot
        decode, ``truncated`` for a WAV or Ogg file whose structure shows it was
        cut, ``not_audio`` otherwise.
    """
    msg = sndfile_message(exc)
    if exc.code in _UNSUPPORTED_ERRORS or "unsupported" in msg.lower():
        return DecodeError(f"unsupported encoding: {msg}", code="unsupported")
    # libsndfile can only say "malformed"; the structure tells whether it was cut.
    head = os.pread(fd, 12, 0)
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        if riff_data_bytes(fd, size, need_data=True) is None:
            return DecodeError("file ends inside the WAV header", code="truncated")
    if head[:4] == b"OggS":
        problem = ogg_tail_problem(fd, size)
        if problem:
            return DecodeError(problem, code="truncated")
    if exc.code == 1:
        return DecodeError("not an audio format libsndfile recognises", code="not_audio")
    # Error 7 ("not a regular file") is what mpg123 reports for random bytes
    # after failing to sync on them; the file is regular (checked above).
    return DecodeError(f"not readable as audio: {msg}", code="not_audio")
