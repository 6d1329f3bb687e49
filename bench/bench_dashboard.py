"""Benchmark the dashboard: seconds from navigation to the first interactive grid.

Starts Voila exactly as ``audiosoup serve`` does (pre-heated kernel, packaged
configuration) on the demo dataset, then, in headless Chromium, measures for each
run the time from ``page.goto`` until the grid's cards are visible, and until a
click on a card has changed the selection (the server answered the click and the
page re-rendered). Before each run the benchmark waits for Voila to refill its
pool and for the new kernel to finish the dashboard's start-up cell, so every run
meets a ready pre-heated kernel, as a visitor normally would.

    python bench/bench_dashboard.py [--runs 7] [--db URL] [--json out.json]

Chromium is the system's (``--chromium``, default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from audiosoup_widgets.cli import ensure_demo
from audiosoup_widgets.dashboards import READY_MESSAGE
from audiosoup_widgets.serve import server_env, voila_command

TARGET_S = 2.0
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kernels_ready(log: Path) -> int:
    # Voila says "pool filled" when a kernel starts; the dashboard's first cell
    # (imports, warm-up) logs READY_MESSAGE when the kernel can really serve.
    return log.read_text(errors="replace").count(READY_MESSAGE)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def measure(page, url: str) -> tuple[float, float]:
    """Return (seconds to visible cards, seconds to a selection changed by a click)."""
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(".audiosoup-grid .audiosoup-card", state="visible", timeout=120_000)
    t_cards = time.perf_counter() - t0
    cards = page.locator(".audiosoup-grid .audiosoup-card")
    target = cards.nth(1 if cards.count() > 1 else 0)
    sample_id = target.get_attribute("data-sample-id")
    target.click()
    page.wait_for_selector(f".audiosoup-card.as-selected[data-sample-id='{sample_id}']",
                           timeout=60_000)
    return t_cards, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--db", help="database URL (default: a temporary SQLite demo database)")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--warm-cache", action="store_true",
                    help="reuse one browser context, so static assets come from its cache "
                         "(a returning visitor); default: a fresh context per run")
    ap.add_argument("--chromium", default=os.environ.get("AUDIOSOUP_TEST_CHROMIUM",
                                                         "/usr/bin/chromium"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory(prefix="audiosoup-bench-")
    url_db = args.db or f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    ensure_demo(url_db, quiet=True).dispose()
    port = free_port()
    log = Path(tmp.name) / "voila.log"
    env = server_env(db_url=url_db, host="127.0.0.1")
    with open(log, "wb") as fh:
        proc = subprocess.Popen(voila_command(port=port, host="127.0.0.1", token=""), env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    rows: list[dict[str, float]] = []
    try:
        wait_for(lambda: answers(f"{url}healthcheck"), 60, "voila to answer")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True,
                                         args=CHROMIUM_ARGS)
            shared = browser.new_context(viewport={"width": 1440, "height": 1000})
            for run in range(args.runs):
                wait_for(lambda n=run: kernels_ready(log) > n, 180, "a pre-heated kernel")
                time.sleep(0.5)  # let the kernel settle into waiting for its visitor
                context = shared if args.warm_cache else browser.new_context(
                    viewport={"width": 1440, "height": 1000})
                page = context.new_page()
                t_cards, t_ready = measure(page, url)
                rows.append({"run": run + 1, "cards_visible_s": t_cards, "interactive_s": t_ready})
                print(f"run {run + 1}: cards {t_cards:.2f} s, interactive {t_ready:.2f} s",
                      flush=True)
                page.close()
                if context is not shared:
                    context.close()
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        tmp.cleanup()

    med_cards = statistics.median(r["cards_visible_s"] for r in rows)
    med_ready = statistics.median(r["interactive_s"] for r in rows)
    print()
    print("| run | cards visible (s) | interactive grid (s) |")
    print("|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} | {r['cards_visible_s']:.2f} | {r['interactive_s']:.2f} |")
    print(f"| **median** | **{med_cards:.2f}** | **{med_ready:.2f}** |")
    verdict = "meets" if med_ready <= TARGET_S else "MISSES"
    cache = "warm" if args.warm_cache else "cold"
    print(f"\nmedian {med_ready:.2f} s to the first interactive grid: {verdict} the "
          f"{TARGET_S:.0f} s target ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"pre-heated kernel, {cache} browser cache)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "benchmark": "dashboard first interactive grid",
            "runs": rows, "median_cards_visible_s": med_cards, "median_interactive_s": med_ready,
            "target_s": TARGET_S, "meets_target": med_ready <= TARGET_S,
            "browser_cache": "warm" if args.warm_cache else "cold",
            "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
            "python": platform.python_version(),
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
