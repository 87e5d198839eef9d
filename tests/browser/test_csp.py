"""Every page under its Content-Security-Policy in Chromium: no violation, no console error, no script error.

Each walkthrough is also stepped to its end (the player fetches steps and inserts them), and the docs
pages must render: Swagger UI under a policy that allows only its own inline script, by hash.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from app.pages.walkthrough import WALKTHROUGHS

pytestmark = pytest.mark.browser

PAGES = (["/"] + [f"/{slug}" for slug in WALKTHROUGHS]
         + ["/network", "/architecture", "/architecture?preset=resnet50&row=3", "/architecture/compare",
            "/practice?op=conv2d&seed=7", "/practice/worksheet?op=conv2d&difficulty=easy&seed=7&count=2", "/examples"])
RECORD_VIOLATIONS = """
    window.__violations = [];
    document.addEventListener("securitypolicyviolation",
        (e) => window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
"""
REDOC_LOGO = "https://cdn.redoc.ly/"
"""ReDoc's footer draws its logo from a CDN; the policy blocks it, as it should (the pages work offline)."""


def _served(base_url: str, path: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + path, timeout=30):
            return True
    except urllib.error.HTTPError as error:
        return error.code != 404


def _open(browser, base_url: str, path: str, act=None) -> list[str]:
    """Problems seen while ``path`` loads and ``act`` runs: violations, console errors, uncaught errors."""
    context = browser.new_context(base_url=base_url, reduced_motion="reduce")
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.add_init_script(RECORD_VIOLATIONS)
    try:
        response = page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        page.wait_for_load_state("networkidle")
        if act:
            act(page)
            page.wait_for_load_state("networkidle")
        problems += page.evaluate("window.__violations")
    finally:
        context.close()
    return [p for p in problems if REDOC_LOGO not in p]


@pytest.mark.parametrize("path", PAGES)
def test_page_runs_under_its_policy(browser, base_url, path):
    assert _served(base_url, path), f"{path} is not served"

    def step_to_the_end(page):
        if page.locator(".player").count():
            page.keyboard.press("End")
            page.keyboard.press("Home")

    assert _open(browser, base_url, path, step_to_the_end) == []


def test_docs_render_under_their_policy(browser, base_url):
    def rendered(page):
        page.wait_for_selector(".swagger-ui .info .title")
        page.locator(".opblock-summary").first.click()
        page.wait_for_selector(".opblock-body")

    assert _open(browser, base_url, "/docs", rendered) == []


def test_redoc_renders_under_its_policy(browser, base_url):
    assert _open(browser, base_url, "/redoc", lambda page: page.wait_for_selector("h1")) == []
