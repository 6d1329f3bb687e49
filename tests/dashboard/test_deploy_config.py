"""Docker, compose and Binder files: in step with the README, no secrets, the token on.

No Docker engine is needed: these read the files. The Binder steps themselves run
in a fresh virtual environment in ``test_binder.py``.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml
from dashboard_support import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
BINDER = ROOT / "binder"


def _instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for ln in joined.splitlines():
        if ln.strip():
            word, _, rest = ln.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_dockerfile_installs_as_the_readme_says():
    readme = (ROOT / "README.md").read_text()
    readme_install = re.search(r"python3 -m venv \.venv && \.venv/bin/pip install \. ", readme)
    assert readme_install, "the README's install step changed: update the Dockerfile with it"
    steps = _instructions(DOCKERFILE.read_text())
    runs = [arg for op, arg in steps if op == "RUN"]
    assert any(re.search(r"python3 -m venv (\S+) && \1/bin/pip install \.( |$)", r) for r in runs)
    froms = [arg for op, arg in steps if op == "FROM"]
    assert froms == ["python:3.11-slim"]
    # The package data the install needs is in the image; nothing else is copied.
    copies = [arg for op, arg in steps if op == "COPY"]
    assert copies == ["pyproject.toml README.md ./", "audiosoup_widgets ./audiosoup_widgets"]


def test_dockerfile_runs_as_a_user_with_a_token_and_a_warm_cache():
    steps = _instructions(DOCKERFILE.read_text())
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(arg for op, arg in steps if op == "ENV")
    assert "NUMBA_CACHE_DIR=/home/" in env
    user_runs = " ".join(arg for op, arg in steps[[op for op, _ in steps].index("USER") :] if op == "RUN")
    # The demo step compiles the engine's numba cache and computes the features.
    assert "audiosoup demo --no-serve" in user_runs and "audiosoup doctor" in user_runs
    cmd = next(arg for op, arg in reversed(steps) if op == "CMD")
    assert '"serve"' in cmd and '"0.0.0.0"' in cmd and "--token" not in cmd
    apt = " ".join(arg for op, arg in steps if op == "RUN" and "apt-get install" in arg)
    assert "--no-install-recommends" in apt and "libsndfile" not in apt
    baked = " ".join(arg for op, arg in steps if op in ("ENV", "ARG"))
    assert not re.search(r"(PASSWORD|TOKEN)", baked)


def test_compose_has_a_healthy_postgres_and_no_literal_secret():
    text = COMPOSE.read_text()
    conf = yaml.safe_load(text)
    db, migrate, app = (conf["services"][k] for k in ("db", "migrate", "app"))
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    # Migrations run once, after the database is healthy and before any replica.
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["command"] == ["audiosoup", "db", "upgrade"]
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    volume = db["volumes"][0].split(":")[0]
    assert volume in conf["volumes"]
    for service in (db, migrate, app):
        for key, value in service.get("environment", {}).items():
            if re.search("PASSWORD|TOKEN", key):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (key, value)
    url = app["environment"]["AUDIOSOUP_DATABASE_URL"]
    assert "@" in url and ":" not in url.split("//", 1)[1].split("@", 1)[0]
    assert migrate["environment"]["AUDIOSOUP_DATABASE_URL"] == url


def test_compose_runs_replicas_behind_a_sticky_proxy():
    conf = yaml.safe_load(COMPOSE.read_text())
    app, proxy = conf["services"]["app"], conf["services"]["proxy"]
    # Replicas: a count from the environment, no published port of their own (they
    # would collide), the proxy's public name allowed, serving on all interfaces.
    assert app["deploy"]["replicas"] == "${AUDIOSOUP_REPLICAS:-1}"
    assert "ports" not in app
    assert app["environment"]["AUDIOSOUP_ALLOWED_HOSTS"] == "${AUDIOSOUP_ALLOWED_HOSTS:-}"
    assert app["command"][:2] == ["audiosoup", "serve"] and "0.0.0.0" in app["command"]
    assert "--token" not in app["command"]
    # The proxy publishes the port and reads the Caddyfile written in the compose file.
    assert proxy["image"].startswith("caddy:")
    assert proxy["ports"] == ["${AUDIOSOUP_PORT:-8866}:8866"]
    (mount,) = proxy["configs"]
    assert mount["target"] == "/etc/caddy/Caddyfile"
    text = conf["configs"][mount["source"]]["content"]
    caddy = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    caddy = [ln for ln in caddy if ln]
    assert ":8866 {" in caddy
    # Every replica of "app" on the port it serves, and a sticky cookie.
    assert "dynamic a app 8866 {" in caddy
    assert any(ln.startswith("lb_policy cookie") for ln in caddy)
    # The Host header is passed through unchanged (Caddy's default): never rewritten.
    assert not any(ln.startswith("header_up Host") for ln in caddy)


def test_dockerignore_keeps_secrets_and_clutter_out():
    ignored = {
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    }
    assert {".git", ".venv", ".env", "test-artifacts"} <= ignored


def test_binder_installs_the_repo_and_launches_the_dashboard():
    reqs = [ln.strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    assert "." in reqs
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} must be executable"
        assert path.read_text().startswith("#!/bin/bash")
    start = (BINDER / "start").read_text().strip().splitlines()
    assert start[-1] == 'exec "$@"'
    assert "voila/render/notebooks/review_dashboard.ipynb" in (BINDER / "start").read_text()
    assert "audiosoup demo --no-serve" in (BINDER / "postBuild").read_text()
    assert (ROOT / "notebooks" / "review_dashboard.ipynb").is_file()


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile",
        "docker-compose.yml",
        ".dockerignore",
        "binder/postBuild",
        "binder/start",
        "binder/demo-env.sh",
    ],
)
def test_no_machine_specific_paths(path):
    text = (ROOT / path).read_text()
    assert "/work/" not in text and "/root/" not in text
