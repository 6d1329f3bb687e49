"""Helpers for the dashboard and notebook tests: a seeded database and a live Voila server.

The server is started with the project's own command line
(:func:`audiosoup_widgets.dashboards.serve.voila_command`), so the tests exercise exactly
what ``audiosoup serve`` runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import audiosoup_widgets
from audiosoup_widgets.config import ENV_DATABASE_URL
from audiosoup_widgets.dashboards import READY_MESSAGE
from audiosoup_widgets.dashboards.serve import server_env, voila_command

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
DEMO = "speech-commands-mini"

# User text that would run script if it ever reached the page as HTML.
XSS_FILE = "<img src=x onerror=window.__xss=1>"
XSS_LABEL = "<img src=x onerror=window.__xss=2>"
XSS_TEXT = "<script>window.__xss=3</script><b onmouseover=window.__xss=4>bold?</b>"

#: Host names the session's dashboard server is told to answer to: one on its command
#: line (``--allow-host``), one in its environment (``AUDIOSOUP_ALLOWED_HOSTS``).
ALLOWED_FLAG, ALLOWED_ENV = "dash.example", "proxy.example"

CHROMIUM = os.environ.get("AUDIOSOUP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def package_parent() -> str:
    """Return the folder the imported ``audiosoup_widgets`` comes from.

    Subprocesses (the CLI, Voila and its kernels) get it on ``PYTHONPATH`` so
    they import the very package under test, installed or not.
    """
    return str(Path(audiosoup_widgets.__file__).resolve().parents[1])


def subprocess_env(db_url: str | None = None, **extra: str) -> dict[str, str]:
    """Return an environment for a child process that imports the package under test."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent(), env.get("PYTHONPATH")) if p)
    env["AUDIOSOUP_NO_PROGRESS"] = "1"
    if db_url is not None:
        env[ENV_DATABASE_URL] = db_url
    env.update(extra)
    return env


def demo_folder() -> Path:
    """Return the packaged demo dataset folder."""
    from audiosoup_widgets.jobs.demo import demo_data_dir

    return Path(demo_data_dir())


def seed_database(path: Path, *, xss: bool = False, features: bool = True) -> str:
    """Create an SQLite database holding the demo dataset; return its URL.

    Parameters
    ----------
    path : Path
        Folder for the database file and, with ``xss``, a copy of the demo data.
    xss : bool
        Add one sample whose file name, label and text are script payloads. The
        demo folder is copied and the extra clip (a quieter copy of a demo clip,
        so it is not a duplicate) joins the same dataset.
    features : bool
        Compute the feature summaries too, so ``feature_frame`` and exports have data.
    """
    import numpy as np
    import soundfile as sf

    from audiosoup_widgets.jobs.ingest import load_dataset
    from audiosoup_widgets.store import SampleQuery, connect

    path.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path / 'dashboard.sqlite3'}"
    store = connect(url)
    source = demo_folder()
    if xss:
        source = path / "speech_commands_mini"
        shutil.copytree(demo_folder(), source)
        first = sorted((source / "yes").glob("*.wav"))[0]
        y, sr = sf.read(first, dtype="float32")
        sf.write(source / "yes" / f"{XSS_FILE}.wav", (0.7 * y).astype(np.float32), sr, subtype="PCM_16")
    load_dataset(store, source, dataset=DEMO, layout="speech-commands", workers=2)
    if xss:
        (sample,) = [
            s
            for s in store.page_samples(SampleQuery(DEMO, search="onerror"), page_size=50)
            if XSS_FILE in s.path
        ]
        store.update_sample(
            sample.id,
            version=sample.version,
            reviewer="pytest",
            label=XSS_LABEL,
            text=XSS_TEXT,
            create_label=True,
        )
    if features:
        from audiosoup_widgets.jobs.compute import compute_dataset

        report = compute_dataset(store, DEMO, workers=2)
        assert not report.failed, report.summary()
    store.dispose()
    return url


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class VoilaServer:
    """A running ``voila`` process serving the dashboard, as ``audiosoup serve`` starts it."""

    port: int
    token: str
    log_path: Path
    proc: subprocess.Popen = field(repr=False)
    visits: int = 0

    @property
    def url(self) -> str:
        """The dashboard's address, token included."""
        return f"http://127.0.0.1:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def base(self, path: str = "") -> str:
        """Return an address on this server without the token."""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def log(self) -> str:
        """Return what the server has written to its log so far."""
        return self.log_path.read_text(errors="replace")

    def pools_filled(self) -> int:
        """Count the times Voila reported a full pool of pre-heated kernels."""
        return len(re.findall(r"Kernel pool of \S+ is filled", self.log()))

    def kernels_ready(self) -> int:
        """Count the kernels that finished the dashboard's start-up cell."""
        return self.log().count(READY_MESSAGE)

    def next_visit(self, timeout: float = 180.0) -> None:
        """Wait until a pre-heated kernel is ready for one more visit, and count the visit.

        Voila says its pool is "filled" as soon as a kernel starts; the dashboard's
        first cell (imports) runs after that. Waiting for it, and for the server
        to say so (``/audiosoup/ready``), keeps page timings and timeouts about the
        page, not about a kernel still warming up.
        """
        self.wait_preheated(self.visits + 1, timeout=timeout, ready=True)
        self.wait_ready(timeout=timeout)
        self.visits += 1

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait until the server says a pre-heated kernel waits for a visitor."""
        deadline = time.monotonic() + timeout
        while http_get(self.base("audiosoup/ready"), timeout=5)[0] != 200:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no ready kernel after {timeout} s:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def wait_preheated(self, count: int = 1, timeout: float = 120.0, *, ready: bool = False) -> None:
        """Wait until ``count`` kernels have been pre-heated (and, with ``ready``, warmed up)."""
        deadline = time.monotonic() + timeout
        counter = self.kernels_ready if ready else self.pools_filled
        while counter() < count:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voila exited early:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no pre-heated kernel after {timeout} s:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server and its kernels (one process group)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


def http_get(url: str, *, timeout: float = 30.0) -> tuple[int, str, dict[str, str]]:
    """GET without following redirects; return (status, body, headers)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: D102 - urllib hook
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace"), dict(err.headers)


@contextlib.contextmanager
def voila_server(
    db_url: str,
    log_dir: Path,
    *,
    token: str = "",
    host: str = "127.0.0.1",
    cwd: Path | None = None,
    extra_env: dict[str, str] | None = None,
    notebook: str | None = None,
    preheat_timeout: float = 120.0,
    max_visitors: int | None = None,
    allowed_hosts: tuple[str, ...] = (),
    extra_args: tuple[str, ...] = (),
    wait: bool = True,
    trusted_user_header: str | None = None,
) -> Iterator[VoilaServer]:
    """Start the dashboard server with the project's command line; stop it on exit.

    Waits until the server answers HTTP and its pre-heated kernel is ready.
    ``extra_args`` are appended (e.g. shorter kernel grace periods for a test);
    ``wait=False`` returns as soon as it answers HTTP.
    """
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"voila-{port}.log"
    cmd = voila_command(
        port=port,
        host=host,
        notebook=notebook,
        max_visitors=max_visitors,
        allowed_hosts=allowed_hosts,
        trusted_user_header=trusted_user_header,
    ) + list(extra_args)
    env = server_env(
        db_url=db_url,
        host=host,
        token=token,
        base=subprocess_env(db_url, **(extra_env or {})),
        trusted_user_header=trusted_user_header or "",
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )
    server = VoilaServer(port=port, token=token, log_path=log_path, proc=proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"voila exited early:\n{server.log()[-4000:]}")
            try:
                # Any path but "/" is redirected without touching a kernel.
                http_get(server.base("healthcheck"), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("voila did not answer within 60 s") from None
                time.sleep(0.2)
        if wait:
            server.wait_preheated(1, timeout=preheat_timeout)
        yield server
    finally:
        server.stop()


def launch_chromium(playwright, *extra_args: str):
    """Launch the system's headless Chromium (Playwright cannot download its own here)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )


def page_kernel_id(page) -> str:
    """Return the id of the kernel behind a loaded dashboard page."""
    return page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
    )


def html_kernel_id(html: str) -> str:
    """Return the kernel id written in a dashboard page's HTML."""
    return re.search(r'"kernelId": "([0-9a-f-]{36})"', html).group(1)


def kernel_alive(server: VoilaServer, kernel_id: str) -> bool:
    """Tell whether the server still runs ``kernel_id`` (its kernel API answers 200)."""
    status, _, _ = http_get(
        server.base(f"api/kernels/{kernel_id}") + (f"?token={server.token}" if server.token else ""),
        timeout=10,
    )
    assert status in (200, 404), status
    return status == 200


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.25) -> float:
    """Poll ``predicate`` until it is true; return the seconds it took."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"not within {timeout} s: {what}")
        time.sleep(interval)
    return time.monotonic() - t0


def process_tree(pid: int) -> list:
    """Return ``pid``'s process and all its descendants (psutil processes)."""
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def kernel_processes(server: VoilaServer) -> dict[str, object]:
    """Return the server's kernel processes by kernel id (from their connection file names)."""
    found = {}
    for proc in process_tree(server.proc.pid)[1:]:
        try:
            cmdline = " ".join(proc.cmdline())
        except Exception:  # noqa: BLE001 - a kernel that just ended
            continue
        match = re.search(r"kernel-([0-9a-f-]{36})\.json", cmdline)
        if match:
            found[match.group(1)] = proc
    return found


__all__ = [
    "ALLOWED_ENV",
    "ALLOWED_FLAG",
    "ARTIFACTS",
    "CHROMIUM",
    "DEMO",
    "ROOT",
    "SCREENSHOTS",
    "XSS_FILE",
    "XSS_LABEL",
    "XSS_TEXT",
    "VoilaServer",
    "free_port",
    "html_kernel_id",
    "http_get",
    "kernel_alive",
    "kernel_processes",
    "launch_chromium",
    "package_parent",
    "page_kernel_id",
    "process_tree",
    "seed_database",
    "subprocess_env",
    "voila_server",
    "wait_until",
]
