"""Kernel lifetime on a real dashboard server: closed tabs, pages that never connect, idle pages.

The server runs with the project's command line and shorter grace periods
(``--DashboardKernelManager.*``) so the test takes seconds, not a minute; that the
production defaults end a kernel within 60 s is checked in ``test_serve.py``.
"""

from __future__ import annotations

import time

import pytest
from dashboard_support import (
    ARTIFACTS,
    html_kernel_id,
    http_get,
    kernel_alive,
    kernel_processes,
    page_kernel_id,
    voila_server,
    wait_until,
)

pytestmark = pytest.mark.browser

CARD = ".audiosoup-grid .audiosoup-card"
UNCONNECTED_S, DISCONNECTED_S, INTERVAL_S = 6, 3, 1
# A kernel must be gone within its grace period plus one check, plus the time to shut down.
SLACK_S = INTERVAL_S + 10


@pytest.fixture(scope="module")
def server(dashboard_db):
    args = (
        f"--DashboardKernelManager.unconnected_grace={UNCONNECTED_S}",
        f"--DashboardKernelManager.disconnected_grace={DISCONNECTED_S}",
        f"--DashboardKernelManager.cull_interval={INTERVAL_S}",
        # Refill the pool at once, so each test meets a ready kernel sooner.
        "--VoilaKernelManager.fill_delay=0",
    )
    with voila_server(dashboard_db, ARTIFACTS / "logs", extra_args=args) as srv:
        yield srv


def _open(browser, server):
    server.next_visit()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector(CARD, state="visible", timeout=120_000)
    return context, page


def test_closed_tab_ends_its_kernel_at_once(browser, server):
    context, page = _open(browser, server)
    kernel_id = page_kernel_id(page)
    assert kernel_alive(server, kernel_id)
    # Closing the tab sends the page's shutdown request (it needs the _xsrf cookie).
    page.close(run_before_unload=True)
    took = wait_until(
        lambda: not kernel_alive(server, kernel_id),
        timeout=DISCONNECTED_S + SLACK_S,
        what="the closed tab's kernel to end",
    )
    context.close()
    assert "'_xsrf' argument missing" not in server.log()
    # Sooner than the reaper could have: the page's own request ended it.
    assert took < DISCONNECTED_S + INTERVAL_S, took


def test_closed_tab_whose_shutdown_request_is_lost_ends_after_the_grace(browser, server):
    context, page = _open(browser, server)
    kernel_id = page_kernel_id(page)
    # The page's shutdown request is lost (a crashed tab, a dropped connection).
    page.evaluate("() => { navigator.sendBeacon = () => true; }")
    page.close(run_before_unload=True)
    context.close()
    wait_until(
        lambda: not kernel_alive(server, kernel_id),
        timeout=DISCONNECTED_S + SLACK_S,
        what="the disconnected kernel to end",
    )
    assert f"ending kernel {kernel_id}: its page disconnected" in server.log()


def test_page_that_never_connects_does_not_keep_a_kernel(server):
    server.next_visit()
    status, html, _ = http_get(server.url, timeout=120)  # no JavaScript: nothing connects
    assert status == 200
    kernel_id = html_kernel_id(html)
    assert kernel_alive(server, kernel_id)
    wait_until(
        lambda: not kernel_alive(server, kernel_id),
        timeout=UNCONNECTED_S + SLACK_S,
        what="the unconnected kernel to end",
    )
    assert f"ending kernel {kernel_id}: no page connected to it" in server.log()


def test_open_idle_page_keeps_its_kernel_and_the_pool_kernel_stays(browser, server):
    context, page = _open(browser, server)
    try:
        kernel_id = page_kernel_id(page)
        server.wait_ready()
        pool = set(kernel_processes(server)) - {kernel_id}
        assert len(pool) == 1, pool
        # Longer than either grace period and several checks.
        time.sleep(UNCONNECTED_S + DISCONNECTED_S + 3 * INTERVAL_S)
        assert kernel_alive(server, kernel_id)
        assert pool <= set(kernel_processes(server)), "the pre-heated kernel was ended"
        # The idle page still works: a click reaches its kernel.
        target = page.locator(CARD).nth(3)
        target.click()
        page.wait_for_selector(
            f"{CARD}.as-selected[data-sample-id='{target.get_attribute('data-sample-id')}']"
        )
    finally:
        context.close()
