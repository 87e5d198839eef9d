"""A live uvicorn on a free loopback port and Debian's Chromium, driven by Playwright's sync API.

Never `playwright install`: the browser is the system's `chromium`. Without it the browser tests fail: scripts/test installs it.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import uvicorn

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def base_url():
    """The app served by uvicorn in a background thread, on a port the OS picked."""
    from app.main import app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is missing: scripts/test installs it with apt-get")
    from playwright import sync_api
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(browser, base_url, viewport):
    context = browser.new_context(viewport=viewport, base_url=base_url, reduced_motion="reduce")
    context.set_default_timeout(5_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    return context, page


@pytest.fixture
def page(browser, base_url):
    """A fresh desktop-width tab; fails the test if the page threw a JavaScript error."""
    context, page = _page(browser, base_url, DESKTOP)
    yield page
    errors = list(page.js_errors)
    context.close()
    assert not errors, errors


@pytest.fixture
def phone(browser, base_url):
    """A fresh 390 px wide tab (an iPhone 12-14 in portrait)."""
    context, page = _page(browser, base_url, PHONE)
    yield page
    errors = list(page.js_errors)
    context.close()
    assert not errors, errors
