"""The console's offers panel in a real headless Chromium, over a live server that has taken decisions."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import API_KEY, Shop
from tests.serve.test_dashboard import ARGS, ARTIFACTS, chromium  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow


def test_offers_panel_in_chromium(chromium: Path, shop: Shop, live, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    server = live(shop.copy(tmp_path), "--api-key", API_KEY, "--plan", str(shop.plan), "--no-access-log")
    offered = set()
    for i in range(12):
        r = httpx.post(server.url + "/v1/offers/select", json={"context": {"placement": "cart", "items": ["tent"],
                                                                           "session_id": f"s{i}"}}, timeout=10)
        assert r.status_code == 200, r.text
        offered.add(r.json()["offers"][0]["offer_id"])
    problems: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error"
                    else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
            page.goto(server.url + "/", wait_until="networkidle")
            page.wait_for_selector("#offers-table tr.offer")
            shown = {row.get_attribute("data-offer") for row in page.locator("#offers-table tr.offer").all()}
            assert shown == offered
            summary = page.locator("#offers-summary").inner_text()
            assert "12 decisions" in summary and "version epsilon_greedy:0" in summary
            assert "epsilon-greedy" in page.locator("#offers").inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard-4-offers.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
