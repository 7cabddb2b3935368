"""The web UI (`headwater serve` at /ui) in a real browser: Debian's headless Chromium driven by
Selenium. Pages load without console errors, the lineage graph has the registry's nodes and
edges, live plots receive points while events are pushed, the lookup form answers what the API
answers, a read-only token sees no write action, and names and text from definitions render as
text (no script runs).

HEADWATER_UI_SCREENSHOTS=<dir> also saves a screenshot of each page there (docs/ui/ holds the
committed ones)."""
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from test_server import Server
from test_stream import T0, push_all, trades, write_repo

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not CHROMIUM or not DRIVER,
                                reason="needs Debian's chromium and chromium-driver (scripts/setup)")

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

EXTRA = f"""
feature_services:
  - name: trading
    description: '{HOSTILE}'
    tags: {{team: '{HOSTILE}'}}
    features: [ticker_windows]
"""


@pytest.fixture
def repo(tmp_path, cli):
    write_repo(tmp_path)
    (tmp_path / "defs.yaml").write_text((tmp_path / "defs.yaml").read_text() + EXTRA)
    cli("apply")
    return tmp_path


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER),
                              options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(condition, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def console_errors(browser):
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def open_ui(browser, server):
    browser.get(server.url + "/ui")
    wait_for(lambda: browser.execute_script("return document.body.dataset.ready === 'true'"),
             what="the UI to load")


def tab(browser, name):
    browser.find_element(By.CSS_SELECTOR, f'#tabs button[data-tab="{name}"]').click()


def screenshot(browser, name):
    where = os.environ.get("HEADWATER_UI_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(where) / f"{name}.png"))


def test_every_page_shows_the_servers_data(repo, browser):
    server = Server(repo)
    try:
        open_ui(browser, server)
        cards = browser.find_elements(By.CSS_SELECTOR, "#objects .card")
        names = {card.get_attribute("data-name") for card in cards}
        assert {"ticker", "trades", "trades_push", "ticker_windows", "trading"} <= names
        assert "defs.yaml:" in browser.find_element(
            By.CSS_SELECTOR, '.card[data-name="ticker_windows"] .where').text
        # Search by tag.
        browser.find_element(By.ID, "search").send_keys("team")
        assert [c.get_attribute("data-name") for c in
                browser.find_elements(By.CSS_SELECTOR, "#objects .card")] == ["trading"]
        screenshot(browser, "registry")

        # The hostile description and tag are text, and no script of theirs ran.
        card = browser.find_element(By.CSS_SELECTOR, '.card[data-name="trading"]')
        assert HOSTILE in card.text
        assert card.find_elements(By.TAG_NAME, "img") == []
        assert browser.execute_script("return window.__pwned === undefined")

        tab(browser, "lineage")
        nodes = {n.get_attribute("data-id") for n in
                 browser.find_elements(By.CSS_SELECTOR, "#graph g.node")}
        edges = {(e.get_attribute("data-from"), e.get_attribute("data-to")) for e in
                 browser.find_elements(By.CSS_SELECTOR, "#graph path.edge")}
        status, text = server.get("/api/registry")
        lineage = json.loads(text)["lineage"]
        assert nodes == {n["id"] for n in lineage["nodes"]}
        assert edges == {(e["from"], e["to"]) for e in lineage["edges"]}
        assert ("data_source/trades_push", "feature_view/ticker_windows") in edges
        assert ("feature_view/ticker_windows", "feature_service/trading") in edges
        screenshot(browser, "lineage")

        # Live: plots receive points while events are pushed.
        tab(browser, "live")
        events = trades(600)
        for i in range(0, len(events), 100):
            push_all(server, events[i:i + 100])
            time.sleep(0.5)
        plot = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR,
                                                      '[data-plot="source-trades_push"]'),
                        what="the source's plot")[0]
        wait_for(lambda: int(plot.get_attribute("data-points") or 0) >= 2, what="points")
        screenshot(browser, "live")

        tab(browser, "freshness")
        wait_for(lambda: "trades_push" in browser.find_element(By.ID, "streams-table").text,
                 what="the stream's freshness")
        assert browser.find_element(By.ID, "materialize").is_displayed()  # auth off: all scopes
        screenshot(browser, "freshness")

        tab(browser, "statistics")
        browser.find_element(By.ID, "stats-run").click()
        stats = wait_for(lambda: browser.find_elements(By.ID, "stats-table"), what="statistics")
        assert "count_price_10m" in stats[0].text
        screenshot(browser, "statistics")

        # Lookup: the same values the API returns.
        tab(browser, "lookup")
        browser.find_element(By.CSS_SELECTOR, '#lookup-keys input[name="ticker"]').send_keys(
            "ETH-USD, NOPE")
        browser.find_element(By.CSS_SELECTOR, "#lookup-form button").click()
        out = wait_for(lambda: browser.find_element(By.ID, "lookup-out").text, what="lookup")
        status, answer = server.post("/get-online-features", {
            "feature_service": "trading", "entities": {"ticker": ["ETH-USD", "NOPE"]}})
        assert status == 200
        for result in answer["results"]:
            for value, state in zip(result["values"], result["statuses"]):
                assert f"{json.dumps(value)} ({state}" in out
        screenshot(browser, "lookup")
        assert console_errors(browser) == []
    finally:
        server.stop()


def test_a_read_only_token_sees_no_write_action(repo, cli, browser):
    reader = "reader-secret-0123456789"
    digest = cli("hash-token", reader).stdout.strip()
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text() + (
        f"auth:\n  tokens:\n    - {{name: model, sha256: {digest}, scopes: [read_online]}}\n"))
    server = Server(repo)
    try:
        browser.get(server.url + "/ui")
        form = wait_for(lambda: browser.find_element(By.ID, "token-form").is_displayed() and
                        browser.find_element(By.ID, "token-form"), what="the token form")
        browser.find_element(By.ID, "token").send_keys(reader)
        form.find_element(By.TAG_NAME, "button").click()
        wait_for(lambda: browser.execute_script("return document.body.dataset.ready === 'true'"),
                 what="the UI to load with the token")
        tab(browser, "freshness")
        assert not browser.find_element(By.ID, "materialize").is_displayed()
        assert not browser.find_element(By.ID, "stats-run").is_enabled()
        # The server refuses it anyway, called from the page with the page's token.
        status = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/materialize-incremental', {method: 'POST',
                  body: '{"end_ts": "2026-03-02T00:00:00"}',
                  headers: {Authorization: 'Bearer ' + sessionStorage.getItem('headwater-token')}})
              .then((r) => done(r.status), (e) => done(String(e)));""")
        assert status == 403
    finally:
        server.stop()
