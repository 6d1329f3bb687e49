"""``audiosoup demo`` as a newcomer runs it: the real command, a stand-in browser.

The browser is the program named in ``BROWSER`` (how Python's ``webbrowser``
picks one): a small script that records when it was started and with what, then
fetches the address the way a browser would. The dashboard must be ready when it
is started, and the token must be on no command line below ``audiosoup`` itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from dashboard_support import free_port, process_tree, subprocess_env, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "launch-token-93b1e7d2"
FAKE_BROWSER = """\
import json, re, sys, time, urllib.parse, urllib.request
from pathlib import Path

target = sys.argv[1]
record = {"started": time.time(), "target": target}
if target.startswith("file:"):
    path = Path(urllib.parse.unquote(urllib.parse.urlsplit(target).path))
    record["mode"] = path.stat().st_mode & 0o777
    html = path.read_text()
    target = re.search(r'url=([^"]+)"', html).group(1).replace("&amp;", "&")
record["url"] = target
with urllib.request.urlopen(target, timeout=120) as resp:
    record["status"] = resp.status
    record["page"] = resp.read().decode(errors="replace")
Path(sys.argv[0]).with_suffix(".json").write_text(json.dumps(record))
"""


def test_demo_opens_the_browser_once_the_dashboard_is_ready(tmp_path):
    browser = tmp_path / "browser"
    browser.write_text(f"#!{sys.executable}\n{FAKE_BROWSER}")
    browser.chmod(0o700)
    record = browser.with_suffix(".json")
    port = free_port()
    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    env = subprocess_env(BROWSER=str(browser))
    env.pop("AUDIOSOUP_TOKEN", None)
    out = tmp_path / "demo.log"
    t0 = time.time()
    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "audiosoup_widgets.cli",
                "demo",
                "--db",
                db,
                "--port",
                str(port),
                "--token",
                TOKEN,
                "--max-visitors",
                "2",
            ],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: record.exists() or proc.poll() is not None,
            timeout=300,
            what="the browser to be opened",
            interval=0.5,
        )
        assert record.exists(), out.read_text(errors="replace")[-3000:]
        # The command's own lines may reach its log a moment after the browser opened.
        wait_until(
            lambda: "Audio Soup dashboard ready" in out.read_text(errors="replace"),
            timeout=30,
            what="the ready line in the log",
            interval=0.2,
        )
        log = out.read_text(errors="replace")
        opened = json.loads(record.read_text())
        # Opened once a kernel was ready: the page it got is the dashboard, not the
        # preparing page, and the command said so first.
        assert opened["status"] == 200, opened["page"][:500]
        assert '"kernelId"' in opened["page"] and "Preparing the dashboard" not in opened["page"]
        assert "audiosoup: dashboard kernel ready" in log and "Audio Soup dashboard ready" in log
        assert log.index("Audio Soup dashboard: http://localhost") < log.index("ready after")
        # The token went through an owner-only file, not the browser's command line.
        assert opened["target"].startswith("file:") and opened["mode"] == 0o600
        assert opened["url"] == f"http://localhost:{port}/?token={TOKEN}"
        assert opened["started"] > t0
        # No process below `audiosoup demo` (the server, its kernels) has it on its
        # command line, which every user of the machine can read.
        tree = process_tree(proc.pid)
        assert len(tree) >= 3, [p.cmdline() for p in tree]
        for child in tree[1:]:
            cmdline = Path(f"/proc/{child.pid}/cmdline").read_bytes().decode(errors="replace")
            assert TOKEN not in cmdline, cmdline
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(
                "audiosoup demo did not end within 120 s of Ctrl+C; its log ends:\n"
                + out.read_text(errors="replace")[-3000:]
            ) from None
    assert code == 0
    # The file that held the token is gone with the server.
    assert not Path(urllib.parse.unquote(urllib.parse.urlsplit(opened["target"]).path)).exists()
