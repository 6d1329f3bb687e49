"""Who is reviewing, in a browser: a trusted proxy's header names the reviewer.

The server runs as ``audiosoup serve --trusted-user-header X-Audiosoup-User`` does.
Each visitor's requests carry the header (as a proxy in front would add it), so the
editor shows that name read-only, and a label edit is recorded under it. A visitor
whose request has no header types a name, as without a proxy.
"""

from __future__ import annotations

import pytest
from dashboard_support import ARTIFACTS, voila_server
from playwright.sync_api import expect

from audiosoup_widgets.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CARD = ".audiosoup-grid .audiosoup-card"
HEADER = "X-Audiosoup-User"


@pytest.fixture(scope="module")
def proxied(dashboard_db):
    with voila_server(dashboard_db, ARTIFACTS / "logs", trusted_user_header=HEADER) as server:
        yield server


def _editor(browser, server, headers: dict[str, str]):
    server.next_visit()
    context = browser.new_context(viewport={"width": 1400, "height": 900}, extra_http_headers=headers)
    page = context.new_page()
    page.goto(server.url, timeout=120_000)
    page.wait_for_selector(CARD, state="visible", timeout=120_000)
    card = page.locator(CARD).first
    sample_id = int(card.get_attribute("data-sample-id"))
    card.locator(".as-actions button").click()
    page.wait_for_selector(".audiosoup-review", state="visible")
    page.locator(".audiosoup-review [data-panel=edit]").click()
    editor = page.locator(".audiosoup-editor")
    editor.wait_for(state="visible")
    return context, page, editor, sample_id


def test_a_trusted_proxy_header_names_the_reviewer_and_cannot_be_typed_over(
    proxied, browser, dashboard_db, shot
):
    context, page, editor, sample_id = _editor(browser, proxied, {HEADER: "ada.lovelace"})
    try:
        name = editor.locator(".as-reviewer input")
        expect(name).to_have_value("ada.lovelace")
        expect(name).to_have_attribute("readonly", "")
        expect(editor.locator(".as-signed-in")).to_contain_text(f"the proxy header {HEADER}")
        # Typing over it changes nothing the kernel records.
        name.evaluate("el => { el.removeAttribute('readonly'); }")
        name.fill("mallory")
        name.press("Enter")
        expect(name).to_have_value("ada.lovelace")
        text = editor.get_by_role("textbox", name="Transcript or notes")
        text.fill("checked by the signed-in reviewer")
        text.press("Tab")
        editor.locator(".as-history >> text=ada.lovelace").wait_for()
        shot(page, "signed-in-reviewer", full_page=False)
        store = Store(dashboard_db)
        try:
            assert store.sample_history(sample_id)[0].reviewer == "ada.lovelace"
            assert "mallory" not in {e.reviewer for e in store.sample_history(sample_id)}
        finally:
            store.dispose()
        assert not page.locator(".audiosoup-editor .as-need-name").count()
    finally:
        context.close()


def test_without_the_header_the_visitor_types_a_name(proxied, browser):
    context, page, editor, _ = _editor(browser, proxied, {})
    try:
        name = editor.locator(".as-reviewer input")
        expect(name).not_to_have_attribute("readonly", "")
        expect(editor.locator(".as-need-name")).to_be_visible()
        name.fill("Typed Name")
        name.press("Enter")
        expect(editor.locator(".as-autosave")).to_be_visible()
    finally:
        context.close()
