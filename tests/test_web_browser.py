"""The page in a real browser: Playwright driving Debian's Chromium headless (never a downloaded browser).

Skipped when /usr/bin/chromium is absent; .ci/run installs it from Debian's packages.
"""
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("INFUCODE_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
# Screenshots for the README: written to docs/ only when asked (INFUCODE_SCREENSHOTS=1), so a test run
# does not rewrite committed files.
DOCS = Path(__file__).resolve().parents[1] / "docs"


def shot(page, name: str, tmp_dir: Path) -> None:
    target = DOCS if os.environ.get("INFUCODE_SCREENSHOTS") == "1" else tmp_dir
    target.mkdir(exist_ok=True)
    page.screenshot(path=str(target / name), full_page=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from infucode.web.app import create_app

    port = _free_port()
    db = tmp_path_factory.mktemp("web") / "cases.db"
    config = uvicorn.Config(create_app(db_url=f"sqlite:///{db}"), host="127.0.0.1", port=port, log_level="error")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(5)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        yield pg
        browser.close()


def _fill_row(page, i, drug, route, start, stop):
    row = page.locator("#adm-rows tr").nth(i)
    row.locator("input[name=drug]").fill(drug)
    row.locator("select[name=route]").select_option(route)
    row.locator("input[name=start]").fill(start)
    row.locator("input[name=stop]").fill(stop)


def test_blank_page_then_seed_ivig_scenario(page, server, tmp_path):
    page.goto(server + "/")
    shot(page, "screenshot-blank.png", tmp_path)
    _fill_row(page, 0, "Gammagard", "iv_infusion", "08:30", "12:45")
    page.keyboard.press("Enter")   # submit from the keyboard
    page.wait_for_selector("#results:not([hidden]) tr.line")
    rows = page.locator("#lines-table tbody tr.line-administration")
    got = [(rows.nth(i).get_attribute("data-code"), rows.nth(i).locator(".units").inner_text()) for i in range(rows.count())]
    assert got == [("96365", "1"), ("96366", "3")]
    assert page.locator("#timeline svg rect.bar").count() == 1
    assert "96366 x3" in page.locator("#timeline svg").text_content()
    assert page.locator("#timeline svg line.threshold").count() >= 3
    shot(page, "screenshot-coded.png", tmp_path)


def test_bad_time_shows_error_next_to_the_field(page, server, tmp_path):
    page.goto(server + "/")
    _fill_row(page, 0, "Gammagard", "iv_infusion", "25:99", "12:45")
    page.click("#code-btn")
    error = page.locator("#adm-rows tr").nth(0).locator(".field-error[data-field=start]")
    error.wait_for(state="visible")
    assert "HH:MM" in error.inner_text()
    assert "invalid" in page.locator("#adm-rows tr").nth(0).locator("input[name=start]").get_attribute("class")
    shot(page, "screenshot-error.png", tmp_path)


def test_upload_a_file(page, server, tmp_path):
    f = tmp_path / "chemo.yaml"
    f.write_text("id: up\nsetting: facility\ndate: 2024-07-01\nadministrations:\n"
                 "  - {id: a1, drug: ondansetron, route: iv_infusion, start: 9:00, stop: 9:30}\n"
                 "  - {id: a2, drug: paclitaxel, route: iv_infusion, start: 9:30, stop: 12:30}\n")
    page.goto(server + "/")
    page.set_input_files("#file-input", str(f))
    page.wait_for_selector("#results:not([hidden]) tr.line")
    codes = page.locator("#lines-table tbody tr.line-administration").evaluate_all("rs => rs.map(r => r.dataset.code)")
    assert codes == ["96413", "96415", "96367"]


def test_lookup_and_ask_on_the_page(page, server):
    page.goto(server + "/")
    page.fill("#lookup-code", "96366")
    page.press("#lookup-code", "Enter")
    page.wait_for_function("document.querySelector('#reference').textContent.includes('0.18')")
    text = page.locator("#reference").inner_text()
    assert "outpatient hospital 24" in text and "96366 vs 96367 (top confusion point)" in text
    page.fill("#ask-text", "how many units of 96366 for 2 hours 15 minutes?")
    page.press("#ask-text", "Enter")
    page.wait_for_function("document.querySelector('#reference').textContent.includes('Rules:')")
    assert "96366" in page.locator("#reference").inner_text()
