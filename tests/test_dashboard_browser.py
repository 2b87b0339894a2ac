"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

Each test starts a real server on 127.0.0.1, signs in as a user would and checks what the page
shows against what clients do through the JSON API. Every test also checks that the page logged
no console error and sent no request anywhere but the server (requests elsewhere are blocked and
counted). Screenshots of each page land in the test's temporary folder.

Skipped, with a reason that says so, only when ``/usr/bin/chromium`` is missing (``.ci/run``
installs it) or Playwright is not installed (Python 3.8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List
from urllib.parse import urlsplit

import pytest

from ._server_support import ADMIN_KEY, READER_KEY, PlainClient, config, running

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "BROWSER TESTS SKIPPED: /usr/bin/chromium is missing "
        "(apt-get install -y chromium chromium-driver; .ci/run does it)",
        allow_module_level=True,
    )
pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS SKIPPED: no Playwright")

from playwright.sync_api import (  # noqa: E402
    Playwright,
    Route,
    expect,
    sync_playwright,
)

#: Chromium, quiet: no calls home, no updates, no sync, no QUIC, no GPU.
_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long a check waits for the page to show something (a loaded machine is slow).
WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)
#: A third key: writes and reads on every queue, but may not purge or redrive.
WRITER_ALL = "pq-writer-everywhere-0004"
KEYS: Dict[str, Any] = {
    ADMIN_KEY: {"description": "Admin", "queues": {"*": ["read", "write", "delete", "manage"]}},
    READER_KEY: {"description": "Orders reader", "queues": {"orders": ["read"]}},
    WRITER_ALL: {"description": "Writer", "queues": {"*": ["read", "write"]}},
}


class Browser:
    """A page in a fresh Chromium profile, watched for console errors and outside requests."""

    def __init__(self, playwright: Playwright, folder: Path, **options: Any) -> None:
        self.folder = folder
        self.errors: List[str] = []
        self.outside: List[str] = []
        self.requests: List[str] = []
        self.context = playwright.chromium.launch_persistent_context(
            str(folder / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=_ARGS,
            **options,
        )
        self.context.route("**/*", self._only_local)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _only_local(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def shot(self, name: str) -> Path:
        """A full-page screenshot under the test's folder."""
        path = self.folder / "screens" / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def sign_in(self, url: str, key: str) -> None:
        self.page.goto(url + "/")
        self.page.fill("#api-key", key)
        self.page.click("#sign-in-form button[type=submit]")
        expect(self.page.locator("#who")).to_contain_text("Signed in:")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    with running(config(tmp_path, KEYS)) as server:
        yield server.url


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[Browser]:
    opened = Browser(playwright, tmp_path, viewport={"width": 1100, "height": 900})
    yield opened
    opened.close()
    assert opened.outside == [], "requests left 127.0.0.1"
    assert opened.errors == [], "console errors"
    assert opened.requests, "the page made requests"


def _send(client: PlainClient, queue: str, count: int) -> None:
    for number in range(count):
        body = {"message_body": {"order": number, "items": [{"sku": "A-1", "qty": 2}]}}
        assert client.call("POST", f"/api/v1/queues/{queue}/messages", body).status == 200


def test_sign_in_watch_counts_browse_a_message_and_purge(browser: Browser, server_url: str) -> None:
    page = browser.page
    page.goto(server_url + "/")
    expect(page.locator("#sign-in")).to_be_visible()
    browser.shot("sign-in")
    browser.sign_in(server_url, ADMIN_KEY)
    expect(page.locator("#who")).to_have_text("Signed in: Admin")
    # The key is kept in the tab's session storage only: not in the page, a URL or a cookie.
    assert page.evaluate("sessionStorage.getItem('pyqueue.apiKey')") == ADMIN_KEY
    assert ADMIN_KEY not in page.content()
    assert browser.context.cookies() == []

    with PlainClient(server_url) as client:
        _send(client, "orders", 3)
        row = page.locator("tr[data-queue=orders]")
        expect(row.locator("[data-count=total]")).to_have_text("3")
        expect(row.locator("[data-count=visible]")).to_have_text("3")
        received = client.call("POST", "/api/v1/queues/orders/messages/receive?max_messages=1")
        assert received.status == 200
        expect(row.locator("[data-count=in_flight]")).to_have_text("1")
        expect(row.locator("[data-count=visible]")).to_have_text("2")
        expect(page.locator("[data-rate=sent]")).not_to_have_text("0.00")
        browser.shot("server")

        page.click("tr[data-queue=orders] a")
        expect(page.locator("#view h1")).to_contain_text("orders")
        expect(page.locator("#counts [data-count=total]")).to_have_text("3")
        expect(page.locator("#messages tbody tr")).to_have_count(3)
        expect(page.locator("#page-info")).to_have_text("Messages 1-3 of 3")
        browser.shot("queue")

        first = page.locator("#messages tbody tr").nth(1)
        message_id = first.get_attribute("data-id")
        assert message_id is not None
        first.locator("a").click()
        body = page.locator("#message-body")
        expect(body).to_contain_text('"sku": "A-1"')
        shown = json.loads(body.inner_text())
        stored = client.call("GET", f"/api/v1/queues/orders/message/{message_id}").json
        assert shown == stored["message_body"]
        assert "\n  " in body.inner_text(), "pretty-printed"
        browser.shot("message")
        # Looking never receives: the counts are what the client left.
        info = client.call("GET", "/api/v1/queues/orders/info").json
        assert (info["visible_messages"], info["invisible_messages"]) == (2, 1)

        page.click("#delete-message")
        expect(page.locator("#counts [data-count=total]")).to_have_text("2")
        assert client.call("GET", f"/api/v1/queues/orders/message/{message_id}").status == 404

        page.click("#send-test")
        expect(page.locator("#counts [data-count=total]")).to_have_text("3")

        page.fill("#attr-visibility_timeout", "45")
        page.click("#attributes-form button[type=submit]")
        expect(page.locator("#notice")).to_contain_text("Saved the attributes")
        attributes = client.call("GET", "/api/v1/queues/orders/attributes").json
        assert attributes["visibility_timeout"] == 45

        page.click("#purge")
        expect(page.locator("#purge-confirm")).to_be_visible()
        browser.shot("purge-confirm")
        page.click("#purge-confirm")
        expect(page.locator("#counts [data-count=total]")).to_have_text("0")
        assert client.call("GET", "/api/v1/queues/orders/info").json["message_count"] == 0
        browser.shot("purged")

    page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('pyqueue.apiKey')") is None


def test_redrive_a_dead_letter_queue(browser: Browser, server_url: str) -> None:
    page = browser.page
    with PlainClient(server_url) as client:
        policy = {"dead_letter_queue": "orders-dlq", "max_receive_count": 1}
        assert client.call("PATCH", "/api/v1/queues/orders/attributes", policy).status == 200
        _send(client, "orders", 2)
        receive = "/api/v1/queues/orders/messages/receive?max_messages=10&visibility_timeout=0"
        assert client.call("POST", receive).json["count"] == 2
        # The second receive finds both over their limit: they move to the dead-letter queue.
        assert client.call("POST", receive).json["count"] == 0
        assert client.call("GET", "/api/v1/queues/orders-dlq/info").json["message_count"] == 2

        browser.sign_in(server_url, ADMIN_KEY)
        orders = page.locator("tr[data-queue=orders]")
        expect(orders).to_contain_text("2 in orders-dlq")
        expect(page.locator("tr[data-queue=orders-dlq]")).to_contain_text(
            "dead-letter queue of orders"
        )
        page.click("tr[data-queue=orders-dlq] a")
        expect(page.locator("#counts [data-count=total]")).to_have_text("2")
        browser.shot("dead-letter-queue")
        page.click("#redrive")
        expect(page.locator("#notice")).to_contain_text("Moved 2 message(s) back to orders")
        expect(page.locator("#counts [data-count=total]")).to_have_text("0")
        assert client.call("GET", "/api/v1/queues/orders/info").json["never_received"] == 2
        browser.shot("redriven")


def test_a_read_only_key_sees_no_purge_and_a_forged_call_is_refused(
    browser: Browser, server_url: str
) -> None:
    page = browser.page
    with PlainClient(server_url) as client:
        _send(client, "orders", 2)
        _send(client, "secret", 1)
    browser.sign_in(server_url, READER_KEY)
    expect(page.locator("tr[data-queue=orders] [data-count=total]")).to_have_text("2")
    assert page.locator("tr[data-queue=secret]").count() == 0
    page.click("tr[data-queue=orders] a")
    expect(page.locator("#messages tbody tr")).to_have_count(2)
    expect(page.locator("#actions")).to_contain_text("may not change this queue")
    assert page.locator("#purge").count() == 0
    assert page.locator("#send-test").count() == 0
    assert page.locator("#attributes-form").count() == 0
    expect(page.locator("#attr-visibility_timeout")).to_have_text("30")
    browser.shot("read-only")
    page.locator("#messages tbody a").first.click()
    expect(page.locator("#message-body")).to_contain_text("order")
    assert page.locator("#delete-message").count() == 0

    # The server checks every call again: a purge forged in the page is refused.
    status = page.evaluate(
        """async () => (await fetch('/api/v1/queues/orders/messages', {method: 'DELETE',
            headers: {'X-API-Key': sessionStorage.getItem('pyqueue.apiKey')}})).status"""
    )
    assert status == 403
    with PlainClient(server_url) as client:
        assert client.call("GET", "/api/v1/queues/orders/info").json["message_count"] == 2
    # Chromium reports the refused call itself; nothing else may have failed.
    forged = [error for error in browser.errors if "403" in error]
    assert len(forged) <= 1
    for error in forged:
        browser.errors.remove(error)


def test_a_writer_may_send_but_not_purge(browser: Browser, server_url: str) -> None:
    page = browser.page
    browser.sign_in(server_url, WRITER_ALL)
    page.goto(server_url + "/#/queue/jobs")
    page.click("#send-test")
    expect(page.locator("#counts [data-count=total]")).to_have_text("1")
    assert page.locator("#purge").count() == 0
    assert page.locator("#redrive").count() == 0


def test_narrow_dark_screen(playwright: Playwright, tmp_path: Path, server_url: str) -> None:
    narrow = Browser(
        playwright, tmp_path, viewport={"width": 360, "height": 740}, color_scheme="dark"
    )
    try:
        with PlainClient(server_url) as client:
            _send(client, "a-queue-with-a-rather-long-name-for-a-small-screen", 2)
        narrow.sign_in(server_url, ADMIN_KEY)
        page = narrow.page
        expect(page.locator("#queue-rows tr")).to_have_count(1)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(13, 17, 23)", "dark colours"
        # Nothing wider than the screen but the tables, which scroll inside their own box.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        narrow.shot("narrow-dark-server")
        page.click("#queue-rows a")
        expect(page.locator("#messages tbody tr")).to_have_count(2)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        narrow.shot("narrow-dark-queue")
    finally:
        narrow.close()
    assert narrow.outside == []
    assert narrow.errors == []


def test_a_wrong_key_is_refused_and_pages_of_messages(browser: Browser, server_url: str) -> None:
    page = browser.page
    page.goto(server_url + "/")
    page.fill("#api-key", "not-a-key")
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("did not accept the key: invalid API key")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('pyqueue.apiKey')") is None
    # Chromium reports the refused sign-in itself; nothing else may have failed.
    refused = [error for error in browser.errors if "401" in error]
    assert len(refused) <= 1
    for error in refused:
        browser.errors.remove(error)

    with PlainClient(server_url) as client:
        _send(client, "orders", 25)
    browser.sign_in(server_url, ADMIN_KEY)
    page.goto(server_url + "/#/queue/orders")
    expect(page.locator("#page-info")).to_have_text("Messages 1-20 of 25")
    expect(page.locator("#previous-page")).to_be_disabled()
    page.click("#next-page")
    expect(page.locator("#page-info")).to_have_text("Messages 21-25 of 25")
    expect(page.locator("#messages tbody tr")).to_have_count(5)
    expect(page.locator("#next-page")).to_be_disabled()
    page.click("#previous-page")
    expect(page.locator("#page-info")).to_have_text("Messages 1-20 of 25")
