"""Serve the review dashboard with Voila: ``audiosoup serve`` and ``audiosoup demo``.

The dashboard notebook and its Voila configuration ship inside the package
(:mod:`audiosoup_widgets.dashboards`), so serving works from a plain
``pip install``. The server is Voila's app with the project's guards (host and
origin checks, a visitor cap, the token from the environment:
:mod:`audiosoup_widgets.dashboards.server`), started by :func:`voila_command`.
The configuration file is passed explicitly and is the only one read, so a
user's own ``voila.json`` or Jupyter config folder cannot change what is served.
That configuration:

- pre-heats one kernel: the notebook is executed before anyone connects, so a
  visitor gets a ready dashboard instead of waiting for imports and queries; the
  next one starts 10 s after a visitor takes it (``fill_delay``), because its
  start-up (its imports) would otherwise compete with the
  visitor's page for the CPU while it loads;
- hides tracebacks (a non-expert sees one plain sentence, never a stack);
- serves no files: no notebook source, no ``.env``, nothing from the folder;
- runs the dashboard in the Python that runs the server, whatever kernels the
  user has installed;
- renders the page with the packaged ``audiosoup`` template (Voila's lab page
  without its font CDN, plus preload tags for the scripts the page is known to
  ask for, see :mod:`audiosoup_widgets.dashboards.preload`), found through
  ``JUPYTER_PATH``;
- ends the kernels of pages that closed or never connected within a minute
  (:class:`audiosoup_widgets.dashboards.kernels.DashboardKernelManager`).

A token is required whenever the server binds to an address other than
loopback, so a dashboard is never opened to a network by accident; it reaches
the server through its environment, never its command line. The kernel gets
the database URL through ``AUDIOSOUP_DATABASE_URL``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import resources

from ..config import ENV_DATABASE_URL, ENV_TRUSTED_USER_HEADER, check_header_name, resolve_database_url
from ..errors import ConfigError
from .preload import preload_resources, template_root

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
            f"set {ENV_TOKEN}, or {ENV_ALLOW_NO_TOKEN}=1 if something else guards the server"
        )
    return token


def voila_command(
    *,
    port: int,
    host: str,
    notebook: str | None = None,
    preload: bool = True,
    max_visitors: int | None = None,
    allowed_hosts: Sequence[str] = (),
    trusted_user_header: str | None = None,
) -> list[str]:
    """Build the command line that runs the dashboard server.

    Used by :func:`serve`, the browser tests and the benchmark, so they all run
    the server exactly as a user does. The server is Voila's app with the
    project's guards (:mod:`audiosoup_widgets.dashboards.server`). The token is
    not part of it: a command line is readable by every user of the machine, so
    the token travels in the environment (see :func:`server_env`).

    Parameters
    ----------
    port : int
        TCP port.
    host : str
        Address to bind.
    notebook : str, optional
        The notebook to serve (default: the packaged review dashboard).
    preload : bool
        Put preload tags for the page's scripts in its head (see
        :mod:`audiosoup_widgets.dashboards.preload`); off only to record them.
    max_visitors : int, optional
        Most visitors served at once (default: derived from the memory available
        when the server starts).
    allowed_hosts : sequence of str
        Host names to answer to besides loopback names and the bound address.
    trusted_user_header : str, optional
        A header a trusted proxy sets to the signed-in user's name: Voila hands it
        to each visitor's kernel, which records that name with every action.

    Returns
    -------
    list of str
        The argument vector; run it with the environment from :func:`server_env`.
    """
    cmd = [
        # The interpreter running this code has the package installed, and the
        # kernel is started from the server's interpreter: one environment.
        sys.executable,
        "-m",
        "audiosoup_widgets.dashboards.server",
        notebook or dashboard_notebook(),
        # Only our configuration file is read: not the working folder's
        # voila.json, not ~/.jupyter.
        f"--Voila.config_file_paths={dashboard_dir()}",
        f"--Voila.port={port}",
        f"--Voila.ip={host}",
        # `audiosoup serve` opens the browser itself, once a kernel is ready.
        "--Voila.open_browser=False",
        # The page template (named in voila.json) writes these as preload tags.
        "--VoilaConfiguration.resources=audiosoup_preload="
        + " ".join(r["path"] for r in (preload_resources() if preload else [])),
    ]
    if max_visitors is not None:
        cmd.append(f"--DashboardServer.max_visitors={int(max_visitors)}")
    cmd += [f"--DashboardServer.allowed_hosts={name}" for name in allowed_hosts]
    if trusted_user_header:
        cmd.append(f"--VoilaConfiguration.http_header_envs={[check_header_name(trusted_user_header)]!r}")
    return cmd


def server_env(
    *,
    db_url: str,
    host: str,
    token: str = "",
    base: dict[str, str] | None = None,
    trusted_user_header: str | None = None,
) -> dict[str, str]:
    """Return the environment to run the dashboard server (and so its kernels) with.

    Parameters
    ----------
    db_url : str
        Database URL, handed to the kernels as ``AUDIOSOUP_DATABASE_URL``.
    host : str
        The address the server binds to.
    token : str
        Access token, ``""`` for none. It is passed as ``AUDIOSOUP_TOKEN``, which
        the server removes from its environment before starting any kernel.
    base : dict, optional
        The environment to start from (default: this process's).
    trusted_user_header : str, optional
        Passed as ``AUDIOSOUP_TRUSTED_USER_HEADER``, so kernels know which request
        header names the reviewer (see :func:`~audiosoup_widgets.config.reviewer_identity`).
        None leaves ``base``'s value; ``""`` removes it.

    Returns
    -------
    dict of str to str
    """
    env = dict(os.environ if base is None else base)
    env[ENV_DATABASE_URL] = db_url
    if trusted_user_header is not None:
        env.pop(ENV_TRUSTED_USER_HEADER, None)
        if trusted_user_header:
            env[ENV_TRUSTED_USER_HEADER] = check_header_name(trusted_user_header)
    env[ENV_TOKEN] = token
    # Voila finds the dashboard's page template (voila/templates/audiosoup) here.
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (template_root(), env.get("JUPYTER_PATH", "")) if p)
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


def check_options(*, port: int, max_visitors: int | None, allowed_hosts: Sequence[str]) -> list[str]:
    """Validate ``serve``'s options; return the allowed host names as the server compares them.

    Raises
    ------
    ConfigError
        For a port out of range, a visitor cap below 1 or a value that is not a host name.
    """
    from .guard import check_host_name

    if not 1 <= port <= 65535:
        raise ConfigError(f"port {port} out of range (1-65535)")
    if max_visitors is not None and max_visitors < 1:
        raise ConfigError(f"--max-visitors must be at least 1 (got {max_visitors})")
    try:
        return [check_host_name(h) for h in allowed_hosts]
    except ValueError as exc:
        raise ConfigError(f"--allow-host: {exc}") from None


def check_port_free(*, host: str, port: int) -> None:
    """Refuse a port another program already listens on.

    Without this, the dashboard server gives up on its own, while the readiness check
    finds the other program's server and says the dashboard is ready.

    Raises
    ------
    ConfigError
        When ``host:port`` cannot be bound.
    """
    import socket

    bind_host = "" if host in ("", "0.0.0.0", "::") else host
    try:
        infos = socket.getaddrinfo(bind_host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
        try:
            probe.bind(address)
        except OSError:
            raise ConfigError(
                f"port {port} is already in use (another dashboard or program?); choose another with --port"
            ) from None


def _browser_target(url: str, token: str) -> str:
    """Return what to hand the browser: the address, or a local file that redirects to it.

    A browser is started with its address on the command line, readable by every
    user of the machine; a token goes through an owner-only file instead.
    """
    if not token:
        return url
    import html
    import tempfile
    from pathlib import Path

    fd, path = tempfile.mkstemp(prefix="audiosoup-open-", suffix=".html")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(
            f'<!DOCTYPE html><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url={html.escape(url)}">'
            f'<p><a href="{html.escape(url)}">Open the Audio Soup dashboard</a></p>\n'
        )
    return Path(path).as_uri()


def wait_until_ready(ready_url: str, proc: subprocess.Popen[bytes], *, interval: float = 0.5) -> bool:
    """Poll the server's ``/audiosoup/ready`` until a kernel is ready; ``False`` if it exited first."""
    import urllib.error
    import urllib.request

    while proc.poll() is None:
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or 503: still preparing
        time.sleep(interval)
    return False


def run_server(cmd: list[str], *, env: dict[str, str], ready_url: str, browser_url: str | None) -> int:
    """Run the server until it exits or Ctrl+C; say when it is ready and then open the browser.

    Parameters
    ----------
    cmd, env : list of str, dict
        From :func:`voila_command` and :func:`server_env`.
    ready_url : str
        The server's readiness address (``/audiosoup/ready``).
    browser_url : str, optional
        What to open in a browser once the dashboard is ready (``None``: nothing).

    Returns
    -------
    int
        The server's exit code (0 after Ctrl+C).
    """
    import threading
    import webbrowser

    proc = subprocess.Popen(cmd, env=env)
    t0 = time.monotonic()

    def announce() -> None:
        if not wait_until_ready(ready_url, proc):
            return
        print(f"Audio Soup dashboard ready after {time.monotonic() - t0:.0f} s", flush=True)
        if browser_url is not None:
            try:
                webbrowser.open(browser_url)
            except webbrowser.Error:
                print("no web browser found: open the address above yourself", flush=True)

    threading.Thread(target=announce, name="audiosoup-ready", daemon=True).start()
    # Ctrl+C must end the command: work done before serving (the demo's features and
    # quality check) may have left SIGINT ignored or handled elsewhere in this process.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        # Wait in short slices, not one blocking waitpid: Ctrl+C may be delivered to
        # another thread of this process (the OpenMP threads scikit-learn leaves after
        # the demo's quality check), and only the main thread, back in Python between
        # slices, turns it into KeyboardInterrupt.
        while True:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0


def serve(
    *,
    db: str | None = None,
    port: int = 8866,
    host: str = "127.0.0.1",
    open_browser: bool = True,
    token: str | None = None,
    max_visitors: int | None = None,
    allowed_hosts: Sequence[str] = (),
    trusted_user_header: str | None = None,
) -> int:
    """Run the dashboard server until interrupted; return its exit code.

    The address is printed at once; the browser is opened once a pre-heated
    kernel is ready (a visitor who comes earlier sees a page saying that the
    dashboard is preparing).

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
        Open a browser tab once the dashboard is ready.
    token : str, optional
        Access token (default: ``AUDIOSOUP_TOKEN``, else none on loopback and a
        generated one elsewhere).
    max_visitors : int, optional
        Most visitors served at once (default: from the machine's memory, see
        :func:`audiosoup_widgets.dashboards.server.default_max_visitors`).
    allowed_hosts : sequence of str
        Host names the server answers to besides loopback ones and ``host``
        (a proxy's public name, this machine's LAN name); ``AUDIOSOUP_ALLOWED_HOSTS``
        adds more.
    trusted_user_header : str, optional
        The header a trusted proxy puts the signed-in user's name in (default:
        ``AUDIOSOUP_TRUSTED_USER_HEADER``); that name is the reviewer and cannot be
        typed over. Declare it only if the proxy always sets the header and strips
        it from what browsers send.

    Returns
    -------
    int
        The server's exit code (0 after Ctrl+C).

    Raises
    ------
    ConfigError
        For a port out of range or in use, an unsupported database URL, a missing
        token off loopback, a visitor cap below 1 or a bad host name.
    """
    url = resolve_database_url(db)
    names = check_options(port=port, max_visitors=max_visitors, allowed_hosts=allowed_hosts)
    check_port_free(host=host, port=port)
    supplied = token is not None or os.environ.get(ENV_TOKEN) is not None
    token = resolve_token(host=host, token=token)
    header = trusted_user_header
    if header is None:
        header = os.environ.get(ENV_TRUSTED_USER_HEADER, "")
    header = check_header_name(header) if header.strip() else ""
    env = server_env(db_url=url, host=host, token=token, trusted_user_header=header)
    cmd = voila_command(
        port=port,
        host=host,
        max_visitors=max_visitors,
        allowed_hosts=names,
        trusted_user_header=header or None,
    )
    # A generated token must be printed or nobody could log in; a token the
    # operator chose stays out of the logs.
    shown = dashboard_url(host=host, port=port, token=token, show_token=not supplied)
    print(f"Audio Soup dashboard: {shown}  (Ctrl+C to stop)", flush=True)
    print("preparing the dashboard (starting its first kernel)...", flush=True)
    local = "localhost" if host in ("", "0.0.0.0", "::") else host
    browser = None
    if open_browser:
        browser = _browser_target(dashboard_url(host=local, port=port, token=token), token)
    ready = f"http://{env['VOILA_APP_IP']}:{port}/audiosoup/ready"
    try:
        return run_server(cmd, env=env, ready_url=ready, browser_url=browser)
    finally:
        if browser is not None and browser.startswith("file:"):
            from pathlib import Path
            from urllib.parse import unquote, urlsplit

            Path(unquote(urlsplit(browser).path)).unlink(missing_ok=True)
