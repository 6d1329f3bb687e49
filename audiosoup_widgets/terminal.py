"""User text on a terminal: one line per item, nothing a terminal would act on.

File names, labels and messages come from users and their files. A newline or a
tab in a file name would break the one-file-one-line layout of a summary, and an
escape sequence could drive the terminal; :func:`one_line` shows both as Python
style escapes instead.
"""

from __future__ import annotations

import unicodedata

__all__ = ["one_line"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Line and paragraph separators end a line in editors; bidirectional overrides
# reorder what is shown ("Trojan source"): all are shown escaped.
_INVISIBLE = {"\u2028", "\u2029", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: object) -> str:
    r"""Return ``text`` as one printable line, control characters escaped.

    Parameters
    ----------
    text : object
        Anything; it is turned into ``str`` first.

    Returns
    -------
    str
        The same text, with newlines, tabs, other control characters (C0, DEL, C1),
        line separators and bidirectional overrides written as ``\n``, ``\t``,
        ``\xNN`` or ``\uNNNN``.
    """
    s = str(text)
    if s.isprintable():  # the common case: nothing to escape (isprintable is C-fast)
        return s
    return "".join(_escape(c) if c in _INVISIBLE or unicodedata.category(c) == "Cc" else c for c in s)
