"""Serve the review dashboard with Voila: ``audiosoup serve`` and ``audiosoup demo``.

The dashboard notebook and its Voila configuration ship inside the package
(:mod:`audiosoup_widgets.dashboards`), so serving works from a plain
``pip install``. The configuration file is passed to Voila explicitly and is the
only one Voila reads, so a user's own ``voila.json`` or Jupyter config folder
cannot change what is served. That configuration:

- pre-heats one kernel: the notebook is executed before anyone connects, so a
  visitor gets a ready dashboard instead of waiting for imports and queries; the
  next one starts 10 s after a visitor takes it (``fill_delay``), because its
  start-up (imports, compiling the engine) would otherwise compete with the
  visitor's page for the CPU while it loads;
- hides tracebacks (a non-expert sees one plain sentence, never a stack);
- serves no files: no notebook source, no ``.env``, nothing from the folder;
- runs the dashboard in the Python that runs the server, whatever kernels the
  user has installed;
- renders the page with the packaged ``audiosoup`` template (Voila's lab page plus
  preload tags for the scripts the page is known to ask for, see
  :mod:`audiosoup_widgets.dashboards.preload`), found through ``JUPYTER_PATH``.

A token is required whenever the server binds to an address other than
loopback, so a dashboard is never opened to a network by accident. The kernel
gets the database URL through ``AUDIOSOUP_DATABASE_URL``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
import sys
from importlib import resources

from .config import ENV_DATABASE_URL, resolve_database_url
from .dashboards.preload import preload_resources, template_root
from .errors import ConfigError

DASHBOARD = "review.ipynb"
VOILA_CONFIG = "voila.json"
ENV_TOKEN = "AUDIOSOUP_TOKEN"
# An operator who puts their own authentication in front of the server (a
# reverse proxy, a private network) can turn the token off explicitly.
ENV_ALLOW_NO_TOKEN = "AUDIOSOUP_ALLOW_NO_TOKEN"


def dashboard_dir() -> str:
    """Return the packaged folder holding the dashboard notebook and the Voila configuration."""
    return str(resources.files("audiosoup_widgets") / "dashboards")


def dashboard_notebook() -> str:
    """Return the path of the packaged review dashboard notebook."""
    return os.path.join(dashboard_dir(), DASHBOARD)


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` only accepts connections from this machine.

    Parameters
    ----------
    host : str
        A host name or an IP address. ``""`` and ``0.0.0.0`` mean every
        interface, so they are not loopback.

    Returns
    -------
    bool
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(*, host: str, token: str | None = None) -> str:
    """Pick the access token for a server bound to ``host``.

    Parameters
    ----------
    host : str
        The address the server binds to.
    token : str, optional
        A token given on the command line. ``None`` falls back to
        ``AUDIOSOUP_TOKEN``; if that is unset too, loopback gets no token and
        any other address gets a new random one.

    Returns
    -------
    str
        The token, or ``""`` for none.

    Raises
    ------
    ConfigError
        If an empty token is asked for on a non-loopback address and
        ``AUDIOSOUP_ALLOW_NO_TOKEN=1`` does not say the operator means it.
    """
    if token is None:
        token = os.environ.get(ENV_TOKEN)
    if token is None:
        return "" if is_loopback(host) else secrets.token_urlsafe(24)
    token = token.strip()
    if not token and not is_loopback(host) and os.environ.get(ENV_ALLOW_NO_TOKEN) != "1":
        raise ConfigError(
            f"a token is required when serving on {host!r} (not a loopback address); "
            f"set {ENV_TOKEN}, or {ENV_ALLOW_NO_TOKEN}=1 if something else guards the server")
    return token


def voila_command(*, port: int, host: str, token: str, open_browser: bool = False,
                  notebook: str | None = None, preload: bool = True) -> list[str]:
    """Build the Voila command line that serves the dashboard.

    Used by :func:`serve`, the browser tests and the benchmark, so they all run
    the server exactly as a user does.

    Parameters
    ----------
    port : int
        TCP port.
    host : str
        Address to bind.
    token : str
        Access token; ``""`` for none. Callers decide (see :func:`resolve_token`).
    open_browser : bool
        Open a browser tab once the server is up.
    notebook : str, optional
        The notebook to serve (default: the packaged review dashboard).
    preload : bool
        Put preload tags for the page's scripts in its head (see
        :mod:`audiosoup_widgets.dashboards.preload`); off only to record them.

    Returns
    -------
    list of str
        The argument vector; run it with the database URL in
        ``AUDIOSOUP_DATABASE_URL``.
    """
    return [
        # The interpreter running this code has the package installed, and the
        # kernel is started from the server's interpreter: one environment.
        sys.executable, "-m", "voila",
        notebook or dashboard_notebook(),
        # Only our configuration file is read: not the working folder's
        # voila.json, not ~/.jupyter.
        f"--Voila.config_file_paths={dashboard_dir()}",
        f"--Voila.port={port}",
        f"--Voila.ip={host}",
        f"--Voila.token={token}",
        f"--Voila.open_browser={open_browser}",
        # The page template (named in voila.json) writes these as preload tags.
        "--VoilaConfiguration.resources=audiosoup_preload="
        + " ".join(r["path"] for r in (preload_resources() if preload else [])),
    ]


def server_env(*, db_url: str, host: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment to run the Voila server (and so its kernels) with.

    Parameters
    ----------
    db_url : str
        Database URL, handed to the kernels as ``AUDIOSOUP_DATABASE_URL``.
    host : str
        The address the server binds to.
    base : dict, optional
        The environment to start from (default: this process's).

    Returns
    -------
    dict of str to str
    """
    env = dict(os.environ if base is None else base)
    env[ENV_DATABASE_URL] = db_url
    # Voila finds the dashboard's page template (voila/templates/audiosoup) here.
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (template_root(), env.get("JUPYTER_PATH", "")) if p)
    # A pre-heated kernel learns that its visitor has arrived over a websocket to
    # this server, at 127.0.0.1 unless told otherwise: tell it where to connect
    # when the server listens on one specific address.
    if host in ("", "0.0.0.0", "localhost"):
        env["VOILA_APP_IP"] = "127.0.0.1"
    elif host == "::":
        env["VOILA_APP_IP"] = "[::1]"
    else:
        env["VOILA_APP_IP"] = f"[{host.strip('[]')}]" if ":" in host else host
    return env


def dashboard_url(*, host: str, port: int, token: str, show_token: bool = True) -> str:
    """Return the address a person opens to reach the dashboard.

    Parameters
    ----------
    host : str
        The bound address (``0.0.0.0`` is shown as this machine's name).
    port : int
        TCP port.
    token : str
        Access token, or ``""``.
    show_token : bool
        Put the token itself in the address; otherwise a placeholder.
    """
    if is_loopback(host):
        shown = "localhost"
    elif host in ("", "0.0.0.0", "::"):
        import socket

        shown = socket.gethostname()
    else:
        shown = f"[{host}]" if ":" in host else host
    query = ""
    if token:
        query = f"?token={token}" if show_token else "?token=<your token>"
    return f"http://{shown}:{port}/{query}"


def serve(*, db: str | None = None, port: int = 8866, host: str = "127.0.0.1",
          open_browser: bool = True, token: str | None = None) -> int:
    """Run Voila on the review dashboard until interrupted; return its exit code.

    Parameters
    ----------
    db : str, optional
        Database URL handed to the dashboard kernels (default: the configured
        one, see :func:`audiosoup_widgets.config.resolve_database_url`).
    port : int
        TCP port.
    host : str
        Address to bind. Anything but loopback requires a token.
    open_browser : bool
        Open a browser tab.
    token : str, optional
        Access token (default: ``AUDIOSOUP_TOKEN``, else none on loopback and a
        generated one elsewhere).

    Returns
    -------
    int
        Voila's exit code (0 after Ctrl+C).

    Raises
    ------
    ConfigError
        For a port out of range, an unsupported database URL, or a missing
        token off loopback.
    """
    url = resolve_database_url(db)
    if not 1 <= port <= 65535:
        raise ConfigError(f"port {port} out of range (1-65535)")
    supplied = token is not None or os.environ.get(ENV_TOKEN) is not None
    token = resolve_token(host=host, token=token)
    env = server_env(db_url=url, host=host)
    cmd = voila_command(port=port, host=host, token=token, open_browser=open_browser)
    # A generated token must be printed or nobody could log in; a token the
    # operator chose stays out of the logs.
    shown = dashboard_url(host=host, port=port, token=token, show_token=not supplied)
    print(f"Audio Soup dashboard: {shown}  (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0
