"""Benchmark the dashboard: seconds from navigation to the first interactive grid.

Starts Voila exactly as ``audiosoup serve`` does (pre-heated kernel, packaged
configuration) on the demo dataset, then, in headless Chromium, measures for each
run the time from ``page.goto`` until the grid's cards are visible, and until a
click on a card has changed the selection (the server answered the click and the
page re-rendered). Before each run the benchmark waits for Voila to refill its
pool and for the new kernel to finish the dashboard's start-up cell, so every run
meets a ready pre-heated kernel, as a visitor normally would.

    python bench/bench_dashboard.py [--runs 7] [--db URL] [--json out.json]

Each measurement is made twice in the same run: with the page's preload tags
(as ``audiosoup serve`` serves it) and without them (the baseline: Voila's own
lab page), so the report gives both medians and their ratio.

``--record-preload`` instead loads the page without preload tags and writes the
scripts it asked for, before the grid was interactive, to the packaged
``audiosoup_widgets/dashboards/preload.json``. Run it after upgrading Voila or a
widget library.

Chromium is the system's (``--chromium``, default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import contextlib
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

from audiosoup_widgets.dashboards import READY_MESSAGE
from audiosoup_widgets.dashboards.preload import MANIFEST, preload_resources
from audiosoup_widgets.dashboards.serve import dashboard_dir, server_env, voila_command
from audiosoup_widgets.jobs.demo import ensure_demo

TARGET_S = 2.0
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kernels_ready(log: Path) -> int:
    # Voila says "pool filled" when a kernel starts; the dashboard's first cell
    # (imports) logs READY_MESSAGE when the kernel can really serve.
    return log.read_text(errors="replace").count(READY_MESSAGE)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ready(url: str) -> bool:
    """Tell whether the server says a pre-heated kernel waits for a visitor."""
    try:
        with urllib.request.urlopen(f"{url}audiosoup/ready", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


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
    page.wait_for_selector(f".audiosoup-card.as-selected[data-sample-id='{sample_id}']", timeout=60_000)
    return t_cards, time.perf_counter() - t0


@contextlib.contextmanager
def dashboard_server(url_db: str, workdir: Path, *, preload: bool):
    """Run Voila as ``audiosoup serve`` does; yield (page URL, server log path)."""
    port = free_port()
    log = workdir / f"voila-{port}.log"
    env = server_env(db_url=url_db, host="127.0.0.1")
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            voila_command(port=port, host="127.0.0.1", preload=preload),
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: answers(f"{url}healthcheck"), 60, "voila to answer")
        yield url, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def measure_run(browser, url: str, log: Path, run: int, *, context=None, on_request=None) -> dict[str, float]:
    """Time one page load on a ready pre-heated kernel (``run`` visitors came before).

    ``on_request`` is called with each request the page makes until the grid is
    interactive.
    """
    wait_for(lambda: kernels_ready(log) > run, 180, "a pre-heated kernel")
    wait_for(lambda: ready(url), 60, "the server to offer the kernel")
    time.sleep(0.5)  # let the kernel settle into waiting for its visitor
    own = context is None
    if own:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    if on_request is not None:
        page.on("request", on_request)
    t_cards, t_ready = measure(page, url)
    if on_request is not None:
        page.remove_listener("request", on_request)
    page.close()
    if own:
        context.close()
    return {"run": run + 1, "cards_visible_s": t_cards, "interactive_s": t_ready}


def record_preload(browser, url: str, log: Path, loads: int = 2) -> list[str]:
    """Return the scripts every one of ``loads`` page loads asked for, in order."""
    seen: list[list[str]] = []
    for run in range(loads):
        asked: list[str] = []

        def on_request(request, asked=asked):
            # Keep the query (webpack asks for chunks as "name.js?v=hash"): a preload
            # only serves a request for exactly the same URL.
            path = request.url[len(url) :] if request.url.startswith(url) else ""
            if (
                path.startswith(("voila/static/", "voila/labextensions/"))
                and path.split("?", 1)[0].endswith(".js")
                and path not in asked
            ):
                asked.append(path)

        measure_run(browser, url, log, run, on_request=on_request)
        seen.append(asked)
    common = set.intersection(*(set(s) for s in seen))
    return [p for p in seen[0] if p in common]


def report(label: str, rows: list[dict[str, float]]) -> tuple[float, float]:
    med_cards = statistics.median(r["cards_visible_s"] for r in rows)
    med_ready = statistics.median(r["interactive_s"] for r in rows)
    print(f"\n{label}\n")
    print("| run | cards visible (s) | interactive grid (s) |")
    print("|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} | {r['cards_visible_s']:.2f} | {r['interactive_s']:.2f} |")
    print(f"| **median** | **{med_cards:.2f}** | **{med_ready:.2f}** |")
    return med_cards, med_ready


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--db", help="database URL (default: a temporary SQLite demo database)")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument(
        "--warm-cache",
        action="store_true",
        help="reuse one browser context, so static assets come from its cache "
        "(a returning visitor); default: a fresh context per run",
    )
    ap.add_argument("--no-baseline", action="store_true", help="skip the runs without preload tags")
    ap.add_argument(
        "--record-preload",
        action="store_true",
        help="write the packaged preload.json from a real page load, then stop",
    )
    ap.add_argument("--chromium", default=os.environ.get("AUDIOSOUP_TEST_CHROMIUM", "/usr/bin/chromium"))
    args = ap.parse_args()
    from importlib import metadata

    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory(prefix="audiosoup-bench-")
    work = Path(tmp.name)
    url_db = args.db or f"sqlite:///{work / 'bench.sqlite3'}"
    ensure_demo(url_db).dispose()
    results: dict[str, list[dict[str, float]]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            if args.record_preload:
                with dashboard_server(url_db, work, preload=False) as (url, log):
                    paths = record_preload(browser, url, log)
                target = Path(dashboard_dir()) / MANIFEST
                target.write_text(
                    json.dumps({"voila": metadata.version("voila"), "resources": paths}, indent=1) + "\n"
                )
                print(f"wrote {len(paths)} resources to {target}")
                browser.close()
                return 0
            kept = len(preload_resources())
            with contextlib.ExitStack() as stack:
                servers = {"preload": stack.enter_context(dashboard_server(url_db, work, preload=True))}
                if not args.no_baseline:
                    servers["baseline"] = stack.enter_context(dashboard_server(url_db, work, preload=False))
                # Alternate the two servers run by run, so drift in the machine's
                # speed during the benchmark affects both alike.
                shared = {k: browser.new_context(viewport={"width": 1440, "height": 1000}) for k in servers}
                visits = dict.fromkeys(servers, 0)
                for run in range(args.runs):
                    for key, (url, log) in servers.items():
                        # Each server warms a new kernel 10 s after a visit: wait until
                        # every server has finished, so none competes for the CPU.
                        for other, (_, other_log) in servers.items():
                            wait_for(
                                lambda n=visits[other], lg=other_log: kernels_ready(lg) > n,
                                180,
                                "a pre-heated kernel",
                            )
                        visits[key] += 1
                        row = measure_run(
                            browser, url, log, run, context=shared[key] if args.warm_cache else None
                        )
                        results.setdefault(key, []).append(row)
                        print(
                            f"{key} run {run + 1}: cards {row['cards_visible_s']:.2f} s, "
                            f"interactive {row['interactive_s']:.2f} s",
                            flush=True,
                        )
            browser.close()
    finally:
        tmp.cleanup()

    cache = "warm" if args.warm_cache else "cold"
    med_cards, med_ready = report(f"As served ({kept} preload tags)", results["preload"])
    summary = {"median_cards_visible_s": med_cards, "median_interactive_s": med_ready}
    if "baseline" in results:
        base_cards, base_ready = report("Baseline: no preload tags", results["baseline"])
        summary.update(baseline_median_interactive_s=base_ready, baseline_median_cards_visible_s=base_cards)
        print(
            f"\npreload tags: {base_ready:.2f} s -> {med_ready:.2f} s "
            f"({base_ready / med_ready:.2f}x faster to the interactive grid)"
        )
    verdict = "meets" if med_ready <= TARGET_S else "MISSES"
    print(
        f"\nmedian {med_ready:.2f} s to the first interactive grid: {verdict} the "
        f"{TARGET_S:.0f} s target ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"pre-heated kernel, {cache} browser cache)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "benchmark": "dashboard first interactive grid",
                    "runs": results,
                    **summary,
                    "preload_tags": kept,
                    "target_s": TARGET_S,
                    "meets_target": med_ready <= TARGET_S,
                    "browser_cache": cache,
                    "cpu_count": os.cpu_count(),
                    "load_average": os.getloadavg(),
                    "python": platform.python_version(),
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
