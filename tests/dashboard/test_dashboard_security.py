"""What a visitor can and cannot get from the dashboard server (a real Voila, over HTTP).

One hardened server for the whole module: a token is required, the database does
not exist (so the app fails at start-up), and the folder Voila serves from holds a
``.env`` with a secret plus a permissive ``voila.json``, while a permissive user
Jupyter config folder and a broken user ``python3`` kernel are on the
environment: none of them may change what is served.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse
from pathlib import Path

import pytest
from dashboard_support import (
    ARTIFACTS,
    SCREENSHOTS,
    http_get,
    kernel_processes,
    process_tree,
    voila_server,
)

from audiosoup_widgets.dashboards.serve import dashboard_notebook

pytestmark = pytest.mark.browser

TOKEN = "test-token-5b1f0c"
SECRET = "POSTGRES_PASSWORD=do-not-serve-me-7781"
PERMISSIVE = {
    "VoilaConfiguration": {
        "show_tracebacks": True,
        "file_allowlist": [".*"],
        "file_denylist": [],
        "strip_sources": False,
        "preheat_kernel": False,
    },
}


@pytest.fixture(scope="module")
def hardened(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    shutil.copy(dashboard_notebook(), folder / "review.ipynb")
    (folder / ".env").write_text(SECRET + "\n")
    (folder / "voila.json").write_text(json.dumps(PERMISSIVE))
    user_conf = tmp_path_factory.mktemp("jupyter-config")
    (user_conf / "voila.json").write_text(json.dumps(PERMISSIVE))
    user_data = tmp_path_factory.mktemp("jupyter-data")
    kernel = user_data / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(
        json.dumps({"argv": ["false", "{connection_file}"], "display_name": "broken", "language": "python"})
    )
    # A database that cannot exist: its "folder" is a regular file.
    blocker = tmp_path_factory.mktemp("nodb") / "not-a-folder"
    blocker.write_text("")
    missing = blocker / "none.sqlite3"
    env = {"JUPYTER_CONFIG_DIR": str(user_conf), "JUPYTER_DATA_DIR": str(user_data)}
    with voila_server(
        f"sqlite:///{missing}",
        ARTIFACTS / "logs",
        token=TOKEN,
        cwd=folder,
        extra_env=env,
        notebook=str(folder / "review.ipynb"),
    ) as server:
        yield server


def _with_token(path: str) -> str:
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}token={urllib.parse.quote(TOKEN)}"


def test_token_is_required(hardened):
    status, body, headers = http_get(hardened.base("/"))
    assert status in (302, 401, 403), status
    if status == 302:
        assert "/login" in headers.get("Location", "")
    assert "audiosoup" not in body.lower()
    status, _, _ = http_get(hardened.base("/api/kernels"))
    assert status in (302, 401, 403)
    status, _, _ = http_get(hardened.base("/?token=wrong-token"))
    assert status in (302, 401, 403)


def test_startup_failure_shows_a_plain_message(hardened, browser, shot):
    hardened.next_visit()
    status, body, _ = http_get(hardened.base(_with_token("/")))
    assert status == 200
    assert "Traceback" not in body and "sqlalchemy" not in body.lower()
    assert "could not start" in body
    # The notebook's code is not in the page either.
    assert "build_review_app" not in body
    # What a person sees, rendered.
    context = browser.new_context()
    page = context.new_page()
    try:
        hardened.next_visit()
        page.goto(hardened.base(_with_token("/")), timeout=120_000)
        page.wait_for_selector("text=could not start", timeout=60_000)
        text = page.inner_text("body")
        assert "Traceback" not in text and "Error:" not in text
        shot(page, "startup-failure")
    finally:
        context.close()
    # The details went to the server's log instead.
    assert "Traceback" in hardened.log()


@pytest.mark.parametrize(
    "path",
    [
        "/review.ipynb",
        "/.env",
        "/voila.json",
        "/voila/files/review.ipynb",
        "/voila/files/.env",
        "/voila/files/voila.json",
        "/voila/files/%2e%2e/.env",
        "/voila/static/../../.env",
        "/voila/render/review.ipynb",
        "/voila/tree",
        "/voila/tree/",
        "/tree",
        "/api/contents",
        "/api/contents/review.ipynb",
        "/voila/api/contents/review.ipynb",
        "/files/review.ipynb",
        "/files/.env",
        "/nbconvert/html/review.ipynb",
        "/voila/templates/../../../.env",
    ],
)
def test_no_source_or_files_are_served(hardened, path):
    for url in (hardened.base(path), hardened.base(_with_token(path))):
        status, body, headers = http_get(url)
        # Redirects lead to the file handler, which refuses; follow one hop.
        if status in (301, 302) and "login" not in headers.get("Location", ""):
            target = urllib.parse.urljoin(url, headers["Location"])
            status, body, _ = http_get(_with_token(target) if "token=" not in target else target)
        assert status != 200, (path, status)
        assert SECRET not in body
        assert '"nbformat"' not in body and "build_review_app" not in body


def test_user_config_and_kernels_change_nothing(hardened):
    # The permissive voila.json files would have turned pre-heating off and the
    # broken user kernel would never have started: the pool filled regardless.
    assert hardened.pools_filled() >= 1
    assert not re.search(r"Loaded config file: .*jupyter-config", hardened.log())


def test_screenshots_folder_is_git_ignored():
    ignore = (ARTIFACTS.parent / ".gitignore").read_text().splitlines()
    assert "test-artifacts/" in ignore
    assert SCREENSHOTS.is_relative_to(ARTIFACTS)


def _cmdline(pid: int) -> str:
    # What any user of the machine can read.
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def test_token_is_on_no_command_line_and_in_no_kernel(hardened):
    kernels = kernel_processes(hardened)
    assert kernels, "the pre-heated kernel is running"
    tree = process_tree(hardened.proc.pid)
    assert len(tree) > len(kernels)
    for proc in tree:
        assert TOKEN not in _cmdline(proc.pid), proc.pid
    # Kernels never learn it: the server takes it out of the environment they inherit.
    for proc in kernels.values():
        assert TOKEN not in Path(f"/proc/{proc.pid}/environ").read_bytes().decode(errors="replace")
    # It still guards the server.
    assert http_get(hardened.base("/?token=wrong"))[0] in (302, 401, 403)
    assert http_get(hardened.base(_with_token("/voila/static/voila.js")))[0] == 200
