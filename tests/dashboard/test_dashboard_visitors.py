"""Who gets a dashboard: the preparing page at start-up, the visitor cap and its busy page.

A real server with ``max_visitors=1``, opened in headless Chromium by two
visitors (separate browser contexts) from the moment it answers HTTP. Screenshots
of both plain pages at 1400 and 1024 px land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import pytest
from dashboard_support import (
    ARTIFACTS,
    http_get,
    kernel_alive,
    kernel_processes,
    page_kernel_id,
    voila_server,
    wait_until,
)

pytestmark = pytest.mark.browser

CARD = ".audiosoup-grid .audiosoup-card"


@pytest.fixture(scope="module")
def capped(dashboard_db):
    """A server for one visitor at a time, handed over before its first kernel is ready."""
    with voila_server(
        dashboard_db,
        ARTIFACTS / "logs",
        max_visitors=1,
        wait=False,
        extra_args=("--VoilaKernelManager.fill_delay=0",),
    ) as srv:
        yield srv


def _screens(page, shot, name: str) -> None:
    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 800})
        shot(page, f"{name}-{width}px")


def test_preparing_page_then_the_dashboard_then_busy_for_a_second_visitor(capped, browser, shot):
    # 1. Before the first kernel is ready: a plain page that says so, never a blank one.
    status, body, headers = http_get(capped.base("/"))
    assert status == 503 and "Preparing the dashboard" in body, (status, body[:300])
    assert headers.get("Retry-After", "").isdigit() and "<script" not in body
    assert http_get(capped.base("audiosoup/ready"))[0] == 503
    early = browser.new_context()
    page = early.new_page()
    page.goto(capped.url)
    assert "has taken" in page.inner_text("main")
    _screens(page, shot, "preparing")
    early.close()

    # 2. The first visitor's preparing page turns into the dashboard by itself.
    first = browser.new_context(viewport={"width": 1400, "height": 900})
    page_a = first.new_page()
    page_a.goto(capped.url)
    page_a.wait_for_selector(CARD, state="visible", timeout=180_000)
    capped.visits += 1
    kernel_a = page_kernel_id(page_a)

    # 3. A second visitor while the only place is taken: a busy page, and no kernel.
    capped.wait_ready()
    kernels_before = set(kernel_processes(capped))
    second = browser.new_context()
    page_b = second.new_page()
    response = page_b.goto(capped.url)
    assert response.status == 503
    assert response.headers.get("retry-after") == "60"
    text = page_b.inner_text("main")
    assert "busy" in text and "try again in a minute" in text.lower()
    _screens(page_b, shot, "busy")
    assert set(kernel_processes(capped)) == kernels_before
    assert "Using pre-heated kernel" in capped.log()

    # 4. The first visitor leaves: the place is free again, and the second gets a dashboard.
    page_a.close(run_before_unload=True)
    wait_until(lambda: not kernel_alive(capped, kernel_a), timeout=30, what="the first kernel to end")
    first.close()
    capped.next_visit()
    page_b.reload()
    page_b.wait_for_selector(CARD, state="visible", timeout=120_000)
    second.close()
