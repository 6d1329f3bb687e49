"""What other web pages and odd requests get from a real dashboard server.

- DNS rebinding: a page whose own name resolves to 127.0.0.1 (Chromium's
  ``--host-resolver-rules`` plays the attacker's DNS) must not read the dashboard
  or reach a kernel; names the operator allows still work.
- Encoded ``..`` paths on every static handler: a plain 404, never a 500.
- Unexpected errors in the kernel: their tracebacks go to the server's log, never
  over the page's websocket.
- The page asks nothing of any other host (Voila's page links a font CDN).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import uuid

import pytest
from dashboard_support import ALLOWED_ENV, ALLOWED_FLAG, http_get, launch_chromium, page_kernel_id

pytestmark = pytest.mark.browser

CARD = ".audiosoup-grid .audiosoup-card"
EVIL = "evil.example"


@pytest.fixture(scope="module")
def server(dashboard):
    """The session's dashboard server (one name allowed by flag, one by environment)."""
    return dashboard


@pytest.fixture(scope="module")
def resolving_browser(playwright):
    """Chromium whose DNS maps the test's names to 127.0.0.1, as a rebinding attacker would."""
    rules = ", ".join(f"MAP {n} 127.0.0.1" for n in (EVIL, ALLOWED_FLAG, ALLOWED_ENV))
    chromium = launch_chromium(playwright, f"--host-resolver-rules={rules}")
    yield chromium
    chromium.close()


def _frames(page) -> list[str]:
    frames: list[str] = []

    def on_ws(ws):
        for event in ("framereceived", "framesent"):
            ws.on(
                event,
                lambda payload: frames.append(
                    payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
                ),
            )

    page.on("websocket", on_ws)
    return frames


def test_rebound_name_gets_neither_the_page_nor_a_kernel(server, resolving_browser, shot):
    before = server.log().count("Using pre-heated kernel")
    context = resolving_browser.new_context()
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    try:
        response = page.goto(f"http://{EVIL}:{server.port}/")
        assert response.status == 403
        text = page.inner_text("body")
        assert "does not answer to the name" in text and "audiosoup-grid" not in page.content()
        shot(page, "rebound-name-refused")
        # The attacker's page script: fetch the page, then open a kernel websocket.
        result = page.evaluate(
            """async (kernelId) => {
            const r = await fetch(`/voila/static/voila.js`);
            const opened = await new Promise(resolve => {
                const ws = new WebSocket(`ws://${location.host}/api/kernels/${kernelId}/channels`);
                ws.onopen = () => resolve(true);
                ws.onerror = () => resolve(false);
            });
            return {status: r.status, opened};
        }""",
            str(uuid.uuid4()),
        )
        assert result == {"status": 403, "opened": False}
    finally:
        context.close()
    # No kernel was handed to the page.
    assert server.log().count("Using pre-heated kernel") == before


def test_rebound_name_cannot_send_widget_messages_to_a_real_kernel(server):
    """A scripted client that knows a live kernel's id still cannot open its websocket."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    server.next_visit()
    status, html, _ = http_get(server.url, timeout=120)
    kernel_id = re.search(r'"kernelId": "([0-9a-f-]{36})"', html).group(1)
    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"
    message = json.dumps(
        {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "username": "x",
                "session": "x",
                "msg_type": "kernel_info_request",
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": {},
            "channel": "shell",
        }
    )

    async def attempt(host: str, origin: str) -> str:
        request = HTTPRequest(url, headers={"Host": host, "Origin": origin})
        try:
            ws = await websocket_connect(request)
        except HTTPClientError as exc:
            return f"refused {exc.code}"
        await ws.write_message(message)
        while True:
            reply = await asyncio.wait_for(ws.read_message(), 30)
            if reply and "kernel_info_reply" in reply:
                ws.close()
                return "answered"

    def run(host: str, origin: str) -> str:
        # In a thread of its own: Playwright's sync API holds this thread's event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, attempt(host, origin)).result(timeout=90)

    here = f"127.0.0.1:{server.port}"
    assert run(f"{EVIL}:{server.port}", f"http://{EVIL}:{server.port}") == "refused 403"
    # A foreign Origin on the right host (a cross-site page) is refused too.
    assert run(here, f"http://{EVIL}") == "refused 403"
    assert run(here, "null") == "refused 403"
    # The same request from the dashboard's own origin is answered.
    assert run(here, f"http://{here}") == "answered"


@pytest.mark.parametrize("name", [ALLOWED_FLAG, ALLOWED_ENV])
def test_names_the_operator_allows_serve_the_dashboard(server, resolving_browser, name):
    server.next_visit()
    context = resolving_browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"http://{name}:{server.port}/")
        page.wait_for_selector(CARD, state="visible", timeout=120_000)
        card = page.locator(CARD).nth(1)
        card.click()
        page.wait_for_selector(f"{CARD}.as-selected[data-sample-id='{card.get_attribute('data-sample-id')}']")
    finally:
        context.close()


@pytest.mark.parametrize(
    "path",
    [
        "/voila/templates/lab/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/voila/templates/lab/static/..%2f..%2findex.html.j2",
        "/voila/templates/lab/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/voila/templates/lab",
        "/voila/templates/lab/nostatic/x.js",
        "/voila/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/voila/labextensions/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/voila/api/themes/..%2f..%2f..%2fetc%2fpasswd",
        "/voila/files/..%2f.env",
        "/..%2f..%2fetc%2fpasswd",
        "/review.ipynb",
    ],
)
def test_odd_static_paths_get_a_plain_404(server, path):
    before = server.log()
    status, body, headers = http_get(server.base(path))
    assert status == 404, (path, status)
    assert "Traceback" not in body and "root:" not in body
    new = server.log()[len(before) :]
    assert "AssertionError" not in new and "Traceback" not in new and " 500 " not in new


def test_unexpected_errors_reach_the_log_not_the_page(server, browser, shot):
    """Malformed widget messages (a buggy or hostile client) make the kernel fail inside
    ipywidgets and ipykernel; the details must stay on the server."""
    server.next_visit()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    frames = _frames(page)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    log_before = len(server.log())
    try:
        html = page.goto(server.url).text()
        page.wait_for_selector(CARD, state="visible", timeout=120_000)
        kernel_id = page_kernel_id(page)
        # The page's widget models: the one the page names, and those its traffic names.
        models = set(re.findall(r'"model_id": "([0-9a-f]{32})"', html))
        models |= set(re.findall(r'"([0-9a-f]{32})"', "\n".join(frames)))
        assert len(models) > 3, models
        models = sorted(models)[:60]
        page.evaluate(
            """async ([kernelId, models]) => {
            const ws = new WebSocket(`ws://${location.host}/api/kernels/${kernelId}/channels`);
            await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
            const id = () => Math.random().toString(16).slice(2) + Date.now().toString(16);
            const send = (type, content) => ws.send(JSON.stringify({
                header: {msg_id: id(), username: "probe", session: id(), msg_type: type,
                         version: "5.3", date: new Date().toISOString()},
                parent_header: {}, metadata: {}, content, channel: "shell", buffers: []}));
            for (const m of models) {
                send("comm_msg", {comm_id: m, data: {method: "custom", content: {event: "nope", data: 1}}});
                send("comm_msg", {comm_id: m, data: {method: "custom", content: "not an object"}});
                send("comm_msg", {comm_id: m, data: {method: "update", state: {children: "IPY_MODEL_x"},
                                                     buffer_paths: [["a", 0]]}});
            }
            send("comm_open", {comm_id: id(), target_name: "jupyter.widget", data: {state: {}}});
            send("comm_open", {comm_id: id(), target_name: "jupyter.widget.control", data: null});
            await new Promise(resolve => setTimeout(resolve, 4000));
            ws.close();
        }""",
            [kernel_id, models],
        )
        # The dashboard still works after all that.
        card = page.locator(CARD).nth(2)
        card.click()
        page.wait_for_selector(f"{CARD}.as-selected[data-sample-id='{card.get_attribute('data-sample-id')}']")
        shot(page, "after-malformed-messages")
    finally:
        context.close()
    received = "\n".join(frames + console)
    assert frames, "no websocket traffic was captured"
    for leak in ("Traceback", "site-packages", 'File "', "audiosoup_widgets/", "KeyError"):
        assert leak not in received, leak
    # The details are in the server's log instead.
    log = server.log()[log_before:]
    assert "Traceback" in log
    assert "Exception opening comm with target: jupyter.widget" in log
    assert "unexpected error while handling a message from the page" in log


def test_page_asks_nothing_of_other_hosts(server, browser):
    server.next_visit()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    try:
        page.goto(server.url)
        page.wait_for_selector(CARD, state="visible", timeout=120_000)
        page.wait_for_load_state("networkidle")
        # The icons are ipyvuetify's bundled Material Design font, drawn without a CDN.
        assert page.locator(".mdi-magnify").count() >= 1
        linked = page.evaluate(
            "() => Array.from(document.querySelectorAll('link[href], script[src]')).map(e => e.href || e.src)"
        )
    finally:
        context.close()
    outside = [u for u in asked if not u.startswith((f"http://127.0.0.1:{server.port}/", "data:", "blob:"))]
    assert not outside, outside[:5]
    local = (f"http://127.0.0.1:{server.port}/", "data:", f"blob:http://127.0.0.1:{server.port}/")
    assert linked and all(u.startswith(local) for u in linked), [u for u in linked if not u.startswith(local)]
