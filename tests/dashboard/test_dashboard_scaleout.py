"""Two dashboard servers on one PostgreSQL database, as replicas behind a proxy run.

The database is the only state the servers share (each page's kernel lives in
one server; a sticky-session proxy keeps a browser on it). Here two real servers
serve one PostgreSQL database, each to its own visitor in headless Chromium: an
edit saved through one is seen through the other after a reload, and an edit
made through the other on a stale view is shown as a conflict, not written over.
The proxy itself (``docker-compose.yml``) cannot run here: no container engine.
"""

from __future__ import annotations

import os
import uuid

import pytest
from dashboard_support import ARTIFACTS, DEMO, demo_folder, voila_server
from playwright.sync_api import expect
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audiosoup_widgets.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.slow]

PG_ADMIN_URL = os.environ.get("AUDIOSOUP_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
CARD = ".audiosoup-grid .audiosoup-card"
FROM_A, FROM_B = "saved through server A", "typed on server B over an old view"


@pytest.fixture(scope="module")
def shared_db():
    """A PostgreSQL database of its own holding the demo dataset."""
    from audiosoup_widgets.jobs.ingest import load_dataset

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"audiosoup_scaleout_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        store = Store(url)
        store.upgrade()
        load_dataset(store, demo_folder(), dataset=DEMO, layout="speech-commands", workers=2)
        store.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _open_editor(browser, server, sample_id: str, reviewer: str):
    server.next_visit()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(server.url, timeout=120_000)
    page.wait_for_selector(CARD, state="visible", timeout=120_000)
    card = page.locator(f"{CARD}[data-sample-id='{sample_id}']")
    card.locator(".as-actions button").click()
    page.wait_for_selector(".audiosoup-review", state="visible")
    page.locator(".audiosoup-review [data-panel=edit]").click()
    editor = page.locator(".audiosoup-editor")
    editor.wait_for(state="visible")
    editor.locator(".as-reviewer input").fill(reviewer)
    editor.locator(".as-reviewer input").press("Enter")
    return context, page, editor


def _notes(editor):
    return editor.get_by_role("textbox", name="Transcript or notes")


def test_two_servers_on_one_database_share_edits_and_conflicts(shared_db, browser, shot):
    store = Store(shared_db)
    try:
        sample_id = str(store.page_samples(_first_page(), page_size=24)[0].id)
    finally:
        store.dispose()
    logs = ARTIFACTS / "logs"
    with voila_server(shared_db, logs) as server_a, voila_server(shared_db, logs) as server_b:
        # Both reviewers open the same sample, each on their own server.
        ctx_a, page_a, editor_a = _open_editor(browser, server_a, sample_id, "Reviewer A")
        ctx_b, page_b, editor_b = _open_editor(browser, server_b, sample_id, "Reviewer B")
        try:
            _notes(editor_a).fill(FROM_A)
            _notes(editor_a).press("Tab")  # saved on blur
            editor_a.locator(".as-history >> text=Reviewer A").wait_for()

            # B still shows the old text: its edit must not overwrite A's.
            _notes(editor_b).fill(FROM_B)
            _notes(editor_b).press("Tab")
            conflict = editor_b.locator(".as-conflict")
            expect(conflict).to_be_visible(timeout=30_000)
            expect(conflict).to_contain_text(FROM_A)
            expect(conflict).to_contain_text(FROM_B)
            shot(page_b, "conflict-across-servers")
            check = Store(shared_db)
            try:
                assert check.get_sample(int(sample_id)).text == FROM_A
            finally:
                check.dispose()

            # After a reload, server B shows what was saved through server A.
            ctx_b.close()
            ctx_b, page_b, editor_b = _open_editor(browser, server_b, sample_id, "Reviewer B")
            expect(_notes(editor_b)).to_have_value(FROM_A)
            shot(page_b, "server-b-after-reload")
        finally:
            ctx_a.close()
            ctx_b.close()


def _first_page():
    from audiosoup_widgets.store import SampleQuery

    return SampleQuery(DEMO)
