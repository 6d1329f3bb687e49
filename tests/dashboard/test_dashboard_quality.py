"""Journey: the Quality view, a finding clicked, the grid showing that finding's clips.

The session's demo database has no findings under the default thresholds (the demo
is clean), so the journey first runs the check with a stricter silence threshold on
the dashboard's own database file, as ``audiosoup qc`` would, then opens the page.
"""

from __future__ import annotations

import pytest
from dashboard_support import DEMO
from playwright.sync_api import expect

from audiosoup_widgets.analysis.qc import QcThresholds
from audiosoup_widgets.jobs.qc import run_qc
from audiosoup_widgets.state import MAX_SOURCE
from audiosoup_widgets.store import Store

pytestmark = pytest.mark.browser

FIRST_LOAD_MS = 120_000

#: Every axis title and tick label of the quality cards' figures, with their boxes.
_AXES_JS = """() => Array.from(document.querySelectorAll('.audiosoup-quality .as-q-card')).map(card => {
    const box = e => { const b = e.getBoundingClientRect();
        return {l: b.left, r: b.right, t: b.top, b: b.bottom}; };
    return {measure: card.dataset.measure, axes: Array.from(card.querySelectorAll('g.axis')).map(ax => {
        const title = ax.querySelector('text.axislabel');
        return {title: title ? box(title) : null,
                ticks: Array.from(ax.querySelectorAll('.tick text')).filter(t => t.textContent.trim())
                    .map(t => box(t))};
    })};
})"""


def _overlap(a: dict, b: dict) -> bool:
    return a["l"] < b["r"] - 0.5 and b["l"] < a["r"] - 0.5 and a["t"] < b["b"] - 0.5 and b["t"] < a["b"] - 0.5


def test_a_quality_finding_then_grid_filter(page, dashboard, dashboard_db, shot):
    report = run_qc(
        DEMO, db=dashboard_db, thresholds=QcThresholds(silence_ratio=0.5), workers=1, features=False
    )
    assert report.findings, report.summary()
    dashboard.next_visit()
    page.goto(dashboard.url, timeout=FIRST_LOAD_MS)
    page.wait_for_selector(".audiosoup-grid .audiosoup-card", state="visible", timeout=FIRST_LOAD_MS)
    page.locator(".as-view-quality").click()
    findings = page.locator(".audiosoup-quality .as-q-finding")
    expect(findings.first).to_be_visible(timeout=60_000)
    assert findings.count() == len(report.findings)
    expect(page.locator(".audiosoup-quality .as-q-checked")).to_contain_text("Last check:")
    # Bar 0 is an empty one bqplot needs before the first; bar 1 is the first drawn.
    page.locator(".as-q-card[data-measure='silence_ratio'] svg .bargroup").nth(1).wait_for()
    shot(page, "quality view")

    # No axis title touches a tick label, and no two tick labels touch.
    for card in page.evaluate(_AXES_JS):
        for ax in card["axes"]:
            ticks = ax["ticks"]
            if ax["title"] is not None:
                assert not any(_overlap(ax["title"], t) for t in ticks), card["measure"]
            assert not any(_overlap(a, b) for i, a in enumerate(ticks) for b in ticks[i + 1 :]), card[
                "measure"
            ]

    first = findings.first
    finding_id = int(first.get_attribute("data-finding-id"))
    store = Store(dashboard_db)
    try:
        (stored,) = [f for f in store.list_findings(DEMO) if f.id == finding_id]
    finally:
        store.dispose()
    summary = first.locator(".as-q-summary").inner_text()
    assert summary == stored.detail["summary"]
    first.click()

    n = len(stored.sample_ids)
    note = " ".join(f"finding: {summary}".split())[:MAX_SOURCE]
    expect(page.locator(".audiosoup-grid .as-idfilter-text")).to_have_text(
        f"Showing {n} clip{'s' if n != 1 else ''} from {note}"
    )
    expect(page.locator(".audiosoup-grid .as-total")).to_contain_text(f"{n} sample")
    shown = page.locator(".audiosoup-grid .audiosoup-card").evaluate_all(
        "cs => cs.map(c => +c.dataset.sampleId)"
    )
    assert sorted(shown) == sorted(stored.sample_ids)[: len(shown)] and len(shown) == min(n, 24)
    shot(page, "grid shows the finding")
    # The demo's clip with script in its label: shown as text on the way (class balance, findings).
    assert page.evaluate("() => window.__xss") is None
    assert not page.page_errors, page.page_errors
