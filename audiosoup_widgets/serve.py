"""Serve the review dashboard with Voila.

The dashboard notebook ships inside the package, so ``audiosoup serve`` works
from a plain ``pip install``. Voila runs with tracebacks hidden, no notebook
sources served, preheated kernels, and a token whenever it binds off loopback.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import sys
from importlib import resources

from .config import ENV_DATABASE_URL, resolve_database_url
from .errors import ConfigError

DASHBOARD = "review.ipynb"


def dashboard_dir() -> str:
    """Return the packaged folder holding the dashboard notebook and the Voila config."""
    return str(resources.files("audiosoup_widgets") / "dashboards")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def voila_command(*, port: int, host: str, token: str, open_browser: bool,
                  notebook: str | None = None) -> list[str]:
    """Build the Voila command line (also used by the tests and the Binder start script)."""
    voila = shutil.which("voila", path=os.path.dirname(sys.executable)) or shutil.which("voila")
    base = [voila] if voila else [sys.executable, "-m", "voila"]
    return [
        *base,
        notebook or os.path.join(dashboard_dir(), DASHBOARD),
        f"--port={port}",
        f"--Voila.ip={host}",
        f"--ServerApp.token={token}",
        "--no-browser" if not open_browser else "--Voila.open_browser=True",
        "--show_tracebacks=False",
        "--VoilaConfiguration.file_allowlist=[]",
        "--theme=light",
        "--preheat_kernel=True",
        "--pool_size=1",
    ]


def serve(*, db: str | None = None, port: int = 8866, host: str = "127.0.0.1",
          open_browser: bool = True, token: str | None = None) -> int:
    """Run Voila on the review dashboard until interrupted; return its exit code.

    Parameters
    ----------
    db : str, optional
        Database URL handed to the dashboard kernels.
    port, host : int, str
        Where to listen.
    open_browser : bool
        Open a browser tab.
    token : str, optional
        Access token. Required (generated if missing) when ``host`` is not a
        loopback address, so a dashboard is never open to a network by accident.
    """
    url = resolve_database_url(db)
    if not (1 <= port <= 65535):
        raise ConfigError(f"port {port} out of range")
    if token is None:
        token = "" if is_loopback(host) else secrets.token_urlsafe(24)
    elif not token and not is_loopback(host):
        raise ConfigError("a token is required when serving on a non-loopback address")
    env = {**os.environ, ENV_DATABASE_URL: url}
    cmd = voila_command(port=port, host=host, token=token, open_browser=open_browser)
    shown = "localhost" if is_loopback(host) else host
    suffix = f"?token={token}" if token else ""
    print(f"Audio Soup dashboard: http://{shown}:{port}/{suffix}  (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0
