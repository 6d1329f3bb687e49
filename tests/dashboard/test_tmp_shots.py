import numpy as np
import pytest
from dashboard_support import SCREENSHOTS
from test_dashboard_map import demo_summaries, open_dashboard  # noqa: F401
from test_jupyterlab import lab  # noqa: F401

pytestmark = pytest.mark.browser


def snap(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"tmp-{name}.png"), full_page=True)


def map_ready(page):
    page.locator(".as-view-tab.as-view-map").click()
    page.locator(".audiosoup-map .as-map-group").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)


def test_voila_map(page, dashboard, demo_summaries):  # noqa: F811
    page.set_viewport_size({"width": 1400, "height": 1000})
    open_dashboard(page, dashboard)
    map_ready(page)
    snap(page, "voila-map-1400")
    page.set_viewport_size({"width": 1024, "height": 1000})
    page.wait_for_timeout(2000)
    snap(page, "voila-map-1024")
    page.locator(".audiosoup-map .as-map-mode-pan").click()
    area = page.locator(".audiosoup-map .plotarea_background").bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.4, area["y"] + area["height"] * 0.5)
    for _ in range(4):
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)
    snap(page, "voila-map-1024-zoom-stale")
    page.wait_for_timeout(2000)
    snap(page, "voila-map-1024-zoom-sharp")
    page.locator(".audiosoup-map .as-map-colour").click()
    page.locator(".v-overlay .v-list-item", has_text="Split").click()
    page.wait_for_timeout(1500)
    snap(page, "voila-map-1024-split")


def test_lab_map(page, lab, demo_summaries):  # noqa: F811
    url, _ = lab
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url, timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    for _ in range(3):
        page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Control+Enter")
        try:
            page.wait_for_selector(".jp-OutputArea .audiosoup-card", timeout=30_000)
            break
        except Exception:
            continue
    map_ready(page)
    page.locator(".audiosoup-map").scroll_into_view_if_needed()
    snap(page, "lab-map-1400")
    page.set_viewport_size({"width": 1024, "height": 1000})
    page.wait_for_timeout(2000)
    page.locator(".audiosoup-map").scroll_into_view_if_needed()
    snap(page, "lab-map-1024")
