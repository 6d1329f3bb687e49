"""The Binder recipe, run the way repo2docker runs it, in a fresh virtual environment.

1. copy the repository (Binder clones it) and ``python -m venv`` a new environment;
2. ``pip install -r binder/requirements.txt`` from the repository root;
3. ``binder/postBuild`` (builds the throwaway demo database);
4. ``binder/start jupyter server ...`` (what Binder's launch runs), then open
   ``/voila/render/notebooks/review_dashboard.ipynb``, the launch URL's ``urlpath``.

pip may use its cache; the whole test takes one to three minutes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dashboard_support import ARTIFACTS, DEMO, ROOT, free_port, http_get

pytestmark = [pytest.mark.slow, pytest.mark.browser]

IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "test-artifacts",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "*.sqlite3",
    ".env",
    ".ipynb_checkpoints",
)
TOKEN = "binder-test-token"


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float, log: Path) -> None:
    with open(log, "ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    assert proc.returncode == 0, f"{cmd[0]} failed:\n{log.read_text()[-4000:]}"


def test_binder_recipe_in_a_fresh_environment(tmp_path, browser, shot):
    repo, venv, home = tmp_path / "repo", tmp_path / "venv", tmp_path / "home"
    shutil.copytree(ROOT, repo, ignore=IGNORE)
    home.mkdir()
    logs = ARTIFACTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "binder.log"
    log.write_text("")
    # Nothing of this test session may leak in: no PYTHONPATH, another HOME.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUDIOSOUP_", "PYTHON", "JUPYTER", "VIRTUAL_ENV"))
    }
    env.update(HOME=str(home), REPO_DIR=str(repo), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")

    t0 = time.monotonic()
    _run([sys.executable, "-m", "venv", str(venv)], cwd=repo, env=env, timeout=120, log=log)
    _run(
        [str(venv / "bin" / "pip"), "install", "-q", "-r", "binder/requirements.txt"],
        cwd=repo,
        env=env,
        timeout=600,
        log=log,
    )
    t_install = time.monotonic() - t0
    _run([str(repo / "binder" / "postBuild")], cwd=repo, env=env, timeout=600, log=log)
    t_build = time.monotonic() - t0

    # The demo database is local, throwaway, and holds the demo data only.
    db = home / ".audiosoup-binder" / "demo.sqlite3"
    assert db.is_file()
    from audiosoup_widgets.store import Store

    store = Store(f"sqlite:///{db}")
    try:
        assert [d.name for d in store.list_datasets()] == [DEMO]
    finally:
        store.dispose()

    port = free_port()
    with open(logs / "binder-server.log", "wb") as server_log:
        server = subprocess.Popen(
            [
                str(repo / "binder" / "start"),
                str(venv / "bin" / "jupyter"),
                "server",
                "--no-browser",
                f"--port={port}",
                "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={repo}",
                # Binder runs as an ordinary user; CI machines may run the tests as root.
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            cwd=repo,
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/voila/render/notebooks/review_dashboard.ipynb?token={TOKEN}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (logs / "binder-server.log").read_text()[-4000:]
            with contextlib.suppress(OSError):
                http_get(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            assert time.monotonic() < deadline, "jupyter server did not answer in 60 s"
            time.sleep(0.3)
        status, body, _ = http_get(url, timeout=180)
        assert status == 200
        assert "Traceback" not in body
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        try:
            page.goto(url)
            page.wait_for_selector(".audiosoup-grid .audiosoup-card", timeout=120_000)
            shot(page, "binder-dashboard")
            assert "Traceback" not in page.inner_text("body")
        finally:
            context.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    print(
        f"binder: install {t_install:.0f} s, postBuild {t_build - t_install:.0f} s, "
        f"total {time.monotonic() - t0:.0f} s"
    )
