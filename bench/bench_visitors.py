"""Benchmark concurrent visitors: time to the first interactive grid, and memory per kernel.

For each number of visitors (default 1, 4 and 8) and each run, starts a fresh
dashboard server exactly as ``audiosoup serve`` does (``voila_command``; one
pre-heated kernel, the visitor cap set to the number of visitors), waits until
its pre-heated kernel is ready, then opens the dashboard in that many headless
Chromium browser contexts at the same moment (one browser, separate contexts: no
shared cache or cookies). Each visitor's time runs from ``page.goto`` until a
click on a card has changed the selection (the grid is interactive). Once every
visitor is there, the resident memory (RSS) of each visitor's kernel process is
read with psutil, and that of the pre-heated kernel waiting for the next visitor.

    python bench/bench_visitors.py [--visitors 1,4,8] [--runs 3] [--db URL] [--json out.json]

Reports, per number of visitors, the median over runs of: the median visitor's
time, the slowest visitor's time, and the median and largest kernel RSS; and how
many pages never showed a grid within 300 s (a blank page), over all runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from audiosoup_widgets.dashboards.serve import server_env, voila_command
from audiosoup_widgets.jobs.demo import ensure_demo

CARD = ".audiosoup-grid .audiosoup-card"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MB = 2**20
#: A visitor who has no grid after this long counts as a failed (blank) page.
GIVE_UP_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}audiosoup/ready", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def dashboard_server(db_url: str, workdir: Path, *, visitors: int):
    """Run the dashboard server as ``audiosoup serve`` does; yield (URL, process)."""
    port = free_port()
    log = workdir / f"server-{port}.log"
    env = server_env(db_url=db_url, host="127.0.0.1")
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            voila_command(port=port, host="127.0.0.1", max_visitors=visitors),
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: ready(url) or proc.poll() is not None, 300, "a ready kernel")
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.5)
        yield url, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def kernel_rss(server_pid: int) -> dict[str, int]:
    """Return the RSS in bytes of each kernel process of the server, by kernel id."""
    found = {}
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            match = re.search(r"kernel-([0-9a-f-]{36})\.json", " ".join(child.cmdline()))
            if match:
                found[match.group(1)] = child.memory_info().rss
        except psutil.Error:
            continue
    return found


async def visit(browser, url: str, start: asyncio.Event) -> tuple[float | None, str, object]:
    """One visitor: seconds from navigation to an interactive grid (``None``: no grid
    within ``GIVE_UP_S``, a blank or broken page), its kernel id, its browser context."""
    from playwright.async_api import Error as PlaywrightError

    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    await start.wait()
    t0 = time.perf_counter()
    try:
        await page.goto(url, wait_until="commit", timeout=GIVE_UP_S * 1000)
        await page.wait_for_selector(CARD, state="visible", timeout=GIVE_UP_S * 1000)
    except PlaywrightError:
        return None, "", context
    cards = page.locator(CARD)
    target = cards.nth(1)
    sample_id = await target.get_attribute("data-sample-id")
    await target.click()
    await page.wait_for_selector(f"{CARD}.as-selected[data-sample-id='{sample_id}']", timeout=120_000)
    took = time.perf_counter() - t0
    kernel_id = await page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
    )
    return took, kernel_id, context


async def one_run(chromium_path: str, url: str, visitors: int, server_pid: int) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        start = asyncio.Event()
        tasks = [asyncio.create_task(visit(browser, url, start)) for _ in range(visitors)]
        await asyncio.sleep(1.0)  # every context created before anyone navigates
        start.set()
        results = await asyncio.gather(*tasks)
        await asyncio.sleep(2.0)  # let the kernels settle after the clicks
        rss = kernel_rss(server_pid)
        for _, _, context in results:
            await context.close()
        await browser.close()
    times = [r[0] for r in results if r[0] is not None]
    own = {r[1] for r in results if r[0] is not None}
    visitor_rss = [rss[k] / MB for k in own if k in rss]
    other_rss = [v / MB for k, v in rss.items() if k not in own]
    return {
        "times_s": times,
        "failed": len(results) - len(times),
        "visitor_kernel_rss_mb": visitor_rss,
        "other_kernel_rss_mb": other_rss,
        "machine_available_mb": psutil.virtual_memory().available / MB,
        "load_average": os.getloadavg(),
    }


def summarise(n: int, runs: list[dict]) -> dict:
    def med(values):
        values = list(values)
        return statistics.median(values) if values else float("nan")

    return {
        "visitors": n,
        "failed_pages": sum(r["failed"] for r in runs),
        "median_visitor_s": med(med(r["times_s"]) for r in runs),
        "slowest_visitor_s": med(max(r["times_s"], default=float("nan")) for r in runs),
        "median_kernel_rss_mb": med(med(r["visitor_kernel_rss_mb"]) for r in runs),
        "largest_kernel_rss_mb": med(max(r["visitor_kernel_rss_mb"], default=float("nan")) for r in runs),
        "preheated_kernel_rss_mb": med(
            (med(r["other_kernel_rss_mb"]) if r["other_kernel_rss_mb"] else float("nan")) for r in runs
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visitors", default="1,4,8", help="comma-separated visitor counts")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", help="database URL (default: a temporary SQLite demo database)")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--chromium", default=os.environ.get("AUDIOSOUP_TEST_CHROMIUM", "/usr/bin/chromium"))
    args = ap.parse_args()
    counts = [int(n) for n in args.visitors.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="audiosoup-visitors-") as tmp:
        work = Path(tmp)
        db_url = args.db or f"sqlite:///{work / 'bench.sqlite3'}"
        ensure_demo(db_url).dispose()
        all_runs: dict[int, list[dict]] = {}
        for n in counts:
            for run in range(args.runs):
                with dashboard_server(db_url, work, visitors=n) as (url, proc):
                    row = asyncio.run(one_run(args.chromium, url, n, proc.pid))
                all_runs.setdefault(n, []).append(row)
                print(
                    f"{n} visitor(s), run {run + 1}: {row['failed']} without a grid after "
                    f"{GIVE_UP_S} s; times {sorted(round(t, 1) for t in row['times_s'])} s, "
                    f"kernel RSS {sorted(round(m) for m in row['visitor_kernel_rss_mb'])} MB, "
                    f"load {row['load_average'][0]:.1f}",
                    flush=True,
                )
    summary = [summarise(n, all_runs[n]) for n in counts]
    print(
        "\n| visitors | median visitor (s) | slowest visitor (s) | kernel RSS, median / largest (MB) "
        "| pre-heated kernel RSS (MB) | pages without a grid |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for s in summary:
        print(
            f"| {s['visitors']} | {s['median_visitor_s']:.2f} | {s['slowest_visitor_s']:.2f} | "
            f"{s['median_kernel_rss_mb']:.0f} / {s['largest_kernel_rss_mb']:.0f} | "
            f"{s['preheated_kernel_rss_mb']:.0f} | {s['failed_pages']} |"
        )
    print(
        f"\n(median of {args.runs} runs; {os.cpu_count()} cores; load average now {os.getloadavg()[0]:.1f})"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "benchmark": "concurrent visitors",
                    "runs": {str(k): v for k, v in all_runs.items()},
                    "summary": summary,
                    "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
