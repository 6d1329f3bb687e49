"""Fixtures for the dashboard tests: a seeded database, a live Voila server, headless Chromium.

Screenshots of every journey step, and of the page when a test fails, land in
``test-artifacts/screenshots/`` (git-ignored); the server log in
``test-artifacts/logs/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dashboard_support import (
    ALLOWED_ENV,
    ALLOWED_FLAG,
    ARTIFACTS,
    SCREENSHOTS,
    VoilaServer,
    launch_chromium,
    seed_database,
    voila_server,
)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so the page fixture knows a test failed.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots() -> None:
    """Start each session with an empty screenshots folder, so artefacts match this run."""
    if SCREENSHOTS.is_dir():
        for png in SCREENSHOTS.glob("*.png"):
            png.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def dashboard_db(tmp_path_factory) -> str:
    """A throwaway SQLite database: the demo data and one sample full of XSS payloads.

    The dashboard computes a clip's features on demand, so no summaries are stored.
    """
    return seed_database(tmp_path_factory.mktemp("dashboard-db"), xss=True, features=False)


@pytest.fixture(scope="session")
def dashboard(dashboard_db) -> Iterator[VoilaServer]:
    """The review dashboard served exactly as ``audiosoup serve`` runs it."""
    with voila_server(
        dashboard_db,
        ARTIFACTS / "logs",
        allowed_hosts=(ALLOWED_FLAG,),
        extra_env={"AUDIOSOUP_ALLOWED_HOSTS": ALLOWED_ENV},
    ) as server:
        yield server


@pytest.fixture(scope="module")
def playwright():
    """A Playwright driver per test module (the sync API cannot nest).

    Not per session: while the sync API is open it leaves an asyncio loop marked as
    running in the main thread, and the widget tests that run later in the same
    process would take it for a kernel's loop.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright):
    """Headless Chromium (the system's build)."""
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


@pytest.fixture
def page(browser, request):
    """A fresh browser page; a screenshot is saved if the test fails."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.page_errors = errors  # type: ignore[attr-defined]
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(path=str(SCREENSHOTS / f"{_slug(request.node.name)}-FAILED.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a dead page must not hide the real failure
            pass
    context.close()


@pytest.fixture
def shot(request) -> Callable[..., Path]:
    """Save a numbered, named screenshot of a journey step: ``shot(page, "grid")``."""
    counter = iter(range(1, 100))
    name = _slug(request.node.name)

    def take(pg, step: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{next(counter):02d}-{_slug(step)}.png"
        pg.screenshot(path=str(path), full_page=full_page)
        return path

    return take
