"""Which requests the dashboard server answers at all: host names, origins, paths.

A server on 127.0.0.1 is still reachable from any web page its user visits:
the page's own domain can be re-pointed at 127.0.0.1 (DNS rebinding), and the
browser then treats the dashboard as that page's own site. What gives such a
request away is its ``Host`` header (the attacker's name, not ours) and, for
websockets and cross-site requests, its ``Origin``. :class:`HostPolicy` holds
the names the server answers to: loopback names and addresses always, the
address it is bound to, and the names an operator adds (``--allow-host`` or
``AUDIOSOUP_ALLOWED_HOSTS``, for a proxy's public name or a machine's LAN
name). :meth:`HostPolicy.refusal` is asked about every request before it
reaches any handler (see :mod:`audiosoup_widgets.dashboards.server`).

It also refuses any path with a ``..`` segment, percent-encoded or not, with a
plain 404: no file outside the served folders is ever looked up, and Voila's
static handlers never see a path they would fail on.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["ENV_ALLOWED_HOSTS", "HostPolicy", "check_host_name", "hosts_from_env"]

#: Extra host names, comma- or space-separated, e.g. a proxy's public name.
ENV_ALLOWED_HOSTS = "AUDIOSOUP_ALLOWED_HOSTS"

_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$")
_WILDCARD = {"", "0.0.0.0", "::", "[::]"}


def _bare(host: str) -> str:
    """Lower-case a host name and drop IPv6 brackets and a trailing dot."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".") if host != "." else host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host_name(name: str) -> str:
    """Return ``name`` as the server compares it, or raise ``ValueError`` with a plain reason.

    Parameters
    ----------
    name : str
        A DNS name or an IP address, without scheme or port.
    """
    bare = _bare(name)
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if not _NAME.match(bare):
        raise ValueError(
            f"{name!r} is not a host name (give a name such as dash.example.org, "
            "or an IP address, without a scheme or a port)"
        )
    return bare


def hosts_from_env(environ: dict[str, str] | None = None) -> list[str]:
    """Return the host names listed in ``AUDIOSOUP_ALLOWED_HOSTS`` (comma or space separated)."""
    raw = (os.environ if environ is None else environ).get(ENV_ALLOWED_HOSTS, "")
    return [h for h in re.split(r"[,\s]+", raw) if h]


@dataclass(frozen=True)
class HostPolicy:
    """The host names a dashboard server answers to.

    Attributes
    ----------
    names : frozenset of str
        Names and addresses accepted besides loopback ones, as
        :func:`check_host_name` writes them.
    """

    names: frozenset[str]

    @classmethod
    def for_server(cls, *, bound: str, extra: Iterable[str] = ()) -> HostPolicy:
        """Build the policy of a server bound to ``bound`` with operator-given names ``extra``.

        A server bound to one address answers to it; one bound to every
        interface also answers to this machine's host name, which is the name
        ``audiosoup serve`` prints in its address.

        Raises
        ------
        ValueError
            If a name in ``extra`` is not a host name.
        """
        names = {check_host_name(h) for h in extra}
        if _bare(bound) in _WILDCARD or bound in _WILDCARD:
            # A host name that is not a valid DNS name cannot be typed in an address anyway.
            with contextlib.suppress(ValueError):
                names.add(check_host_name(socket.gethostname()))
        else:
            names.add(check_host_name(bound))
        return cls(frozenset(names))

    def allows(self, host: str) -> bool:
        """Tell whether a host name (no port) is one this server answers to."""
        bare = _bare(host)
        if _is_loopback(bare):
            return True
        try:
            bare = str(ipaddress.ip_address(bare))
        except ValueError:
            pass
        return bare in self.names

    def allows_origin(self, origin: str, host_header: str) -> bool:
        """Tell whether a request's ``Origin`` is the site the request was sent to.

        The origin's name and port must be those of the ``Host`` header (same
        origin, as Jupyter's own check): another site, or another program on
        another port of this machine, is refused. ``null`` (sandboxed frames,
        local files) and anything unparsable are refused too.
        """
        try:
            parts = urlsplit(origin.strip())
            host, port = parts.hostname, parts.port
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not host or not self.allows(host):
            return False
        target = _host_without_port(host_header)
        target_port = host_header.strip()[len(target) :].lstrip(":")
        default = "443" if parts.scheme == "https" else "80"
        return _bare(host) == _bare(target) and str(port or default) == (target_port or default)

    def refusal(self, *, host_header: str, origin: str | None, path: str) -> tuple[int, str] | None:
        """Return ``(status, plain message)`` if a request must be refused, else ``None``.

        Parameters
        ----------
        host_header : str
            The request's ``Host`` header, port included.
        origin : str or None
            Its ``Origin`` (or ``Sec-WebSocket-Origin``) header, if any.
        path : str
            Its path as sent, still percent-encoded.
        """
        name = _host_without_port(host_header)
        if not name or not self.allows(name):
            return 403, (
                "This dashboard does not answer to the name in the address you used. "
                "Open it as http://localhost:PORT/ on the machine that runs it; an operator "
                "can add a name with `audiosoup serve --allow-host NAME` or "
                f"{ENV_ALLOWED_HOSTS}.\n"
            )
        if origin is not None and not self.allows_origin(origin, host_header):
            return 403, "Requests from other web sites are not accepted.\n"
        segments = unquote(path).replace("\\", "/").split("/")
        if ".." in segments:
            return 404, "Not found.\n"
        return None


def _host_without_port(host_header: str) -> str:
    host = host_header.strip()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else ""
    if host.count(":") == 1:
        host, _, port = host.partition(":")
        if not port.isdigit():
            return ""
    elif ":" in host:
        return ""  # a bare IPv6 address without brackets is not a valid Host header
    return host
