"""The architecture page in a real browser: keyboard, rows opening their arithmetic, the script that
fetches a large table's rows, no sideways scroll on a phone, dark mode, and the page without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_row_opens_with_the_keyboard_and_shows_its_arithmetic(page):
    page.goto("/architecture")
    summary = page.locator("#row-0 > details > summary")
    summary.focus()
    outline = summary.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"                                 # visible focus
    page.keyboard.press("Enter")
    expect(page.locator("#row-0 > details")).to_have_attribute("open", "")
    step = page.locator('#row-0 li.step[data-id="layers[0].params"]')
    expect(step).to_be_visible()
    expect(step.locator("h4")).to_contain_text("parameters = 224")


def test_a_large_tables_row_fetches_its_arithmetic_when_it_opens(page):
    page.goto("/architecture?preset=resnet50")
    layer1 = page.locator("#row-4 > details > summary")
    layer1.click()
    page.locator("#row-5 > details > summary").click()
    page.locator("#row-6 > details > summary").click()
    expect(page.locator('#row-6 li.step[data-id="layers[6].params"]')).to_be_visible()
    expect(page.locator("#row-6 p.more")).to_have_count(0)


@pytest.mark.parametrize("url", ["/architecture", "/architecture?preset=resnet50&expand=all&row=6",
                                 "/architecture?preset=mobilenet_v2&layout=hwc",
                                 "/architecture/compare?preset=conv_vs_dense"])
def test_no_sideways_scroll_on_a_phone(phone, url):
    phone.goto(url)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width


def test_dark_mode_uses_the_dark_colours(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url, color_scheme="dark")
    page = context.new_page()
    page.goto("/architecture?preset=vgg16")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    table = page.locator(".arch-table").evaluate("el => getComputedStyle(el).backgroundColor")
    context.close()
    assert background == "rgb(21, 23, 27)" and table == "rgb(29, 32, 38)"


def test_the_page_works_without_javascript(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/architecture?preset=resnet50")
    page.locator("#row-0 > details > summary").click()
    link = page.locator("#row-0 p.more a")
    link.click()                                             # a new page with the row's steps
    expect(page).to_have_url(re.compile(r"[?&]row=0\b"))
    expect(page.locator('#row-0 li.step[data-id="layers[0].params"]')).to_be_attached()
    page.fill("#f-cell", "1, 1")
    page.click("#rf .rf-form button")
    expect(page.locator("#rf p.rf-words")).to_contain_text("Cell (1, 1)")
    context.close()
