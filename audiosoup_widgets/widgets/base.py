"""What every review widget shares: a hardened template base, handler wrapping, formatting.

:class:`SafeTemplate` is an ipyvuetify ``VuetifyTemplate`` whose template is a
constant ``.vue`` file beside its module (never built from data) and which trusts
nothing from the browser:

* only declared ``vue_*`` events are dispatched; ipyvue's other message kinds
  (creating Python objects by module and class name, updating references) are
  dropped, because a Voila page accepts widget messages from anyone who can open it;
* trait updates sent by the browser are ignored unless a widget lists the trait
  in ``_frontend_writable``: synced traits are a view of server state, never input.

:func:`handler` wraps every event method so that any exception becomes a plain
message in ``state.error`` (details in the log) and never a traceback.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections.abc import Callable
from typing import Any, ClassVar

from ipyvuetify.VuetifyTemplate import VuetifyTemplate

log = logging.getLogger(__name__)

__all__ = [
    "SafeTemplate",
    "handler",
    "as_int",
    "as_str",
    "fmt_duration",
    "fmt_rate",
    "fmt_when",
    "fmt_value",
    "fmt_db",
    "REVIEWER_NEEDED",
]

#: Why an edit or an answer about a clip is refused before the reviewer gave a name.
REVIEWER_NEEDED = "Enter your name (top of the editor) before editing: every change is recorded with it."


class SafeTemplate(VuetifyTemplate):
    """A ``VuetifyTemplate`` that accepts only its own events and no trait writes."""

    #: Synced traits the browser may change (none by default).
    _frontend_writable: ClassVar[frozenset[str]] = frozenset()

    def _handle_event(self, _: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or set(content) - {"event", "data"}:
            log.warning("%s: dropped a widget message that is not a declared event", type(self).__name__)
            return
        event = content.get("event")
        if not isinstance(event, str) or event not in (self.events or ()):
            log.warning("%s: dropped an unknown event", type(self).__name__)
            return
        getattr(self, "vue_" + event)(content.get("data"))

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply browser-side trait updates, but only for ``_frontend_writable`` traits."""
        allowed = {k: val for k, val in sync_data.items() if k in self._frontend_writable}
        if len(allowed) != len(sync_data):
            log.debug(
                "%s: ignored browser updates of %s",
                type(self).__name__,
                sorted(set(sync_data) - set(allowed)),
            )
        if allowed:
            super().set_state(allowed)


def handler(context: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a ``vue_*`` event method: report any exception as a plain message.

    The wrapped method receives the event's data (whatever JSON the browser sent)
    and must validate it. On an exception the widget's ``state.report`` shows a
    plain message (our own errors' text, or a generic one) and logs details; the
    method then returns ``None``.

    Parameters
    ----------
    context : str
        What the user was doing, for the log ("saving the label").
    """

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def run(self: Any, data: Any = None, *_buffers: Any) -> Any:
            try:
                return method(self, data)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a plain message
                message = self.state.report(exc, context=context)
                on_error = getattr(self, "_on_handler_error", None)
                if on_error is not None:
                    on_error(message)
                return None

        return run

    return wrap


def as_int(value: Any, *, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an int within ``[lo, hi]`` or raise :class:`ValidationError`."""
    from ..errors import ValidationError

    if isinstance(value, bool):
        raise ValidationError(f"invalid {name}")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValidationError(f"invalid {name}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValidationError(f"{name} out of range")
    return value


def as_str(value: Any, *, name: str, max_len: int, allow_none: bool = False) -> str | None:
    """Return ``value`` if it is a string of at most ``max_len`` characters."""
    from ..errors import ValidationError

    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"invalid {name}")
    if len(value) > max_len:
        raise ValidationError(f"{name} longer than {max_len:,} characters")
    return value


def fmt_duration(seconds: float | None) -> str:
    """Format a duration for a card: ``0.98 s``, ``12.3 s``, ``3 min 05 s``."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def fmt_rate(sr: int | None) -> str:
    """Format a sample rate: ``16 kHz``, ``22.05 kHz``."""
    if not sr:
        return "?"
    khz = sr / 1000
    return f"{khz:g} kHz"


def fmt_when(when: dt.datetime | None) -> str:
    """Format a timestamp in UTC, to the second."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_value(value: Any, *, max_len: int = 300) -> str:
    """Show any stored value as short plain text (for history and conflicts)."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, dict):
        if not value:
            return "(none)"
        text = ", ".join(f"{k} = {fmt_value(val, max_len=80)}" for k, val in value.items())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(fmt_value(x, max_len=80) for x in value)
    else:
        text = str(value)
    return text if len(text) <= max_len else text[: max_len - 1] + "…"


def fmt_db(value: float) -> str:
    """Format a level in dB with an explicit sign: ``+18 dB``, ``-3.5 dB``."""
    if not math.isfinite(value):
        return ""
    return f"{value:+.0f} dB" if abs(value) >= 10 else f"{value:+.1f} dB"
