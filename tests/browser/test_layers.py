"""The step player on the layer pages in a real browser: softmax by the keyboard, the optimizer's
before/after copies of a parameter, and the pages at phone width."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SOFTMAX_URL = "/activation?" + urlencode({"input": "2 1 0.1", "function": "softmax"})
CURRENT = re.compile(r"\bcurrent\b")


def marked(page, tensor: str, cls: str, role: str | None = None) -> list[str]:
    scope = f'[data-role="{role}"] ' if role else ""
    return sorted(page.eval_on_selector_all(f'{scope}td[data-t="{tensor}"].{cls}', "tds => tds.map(td => td.dataset.i)"))


def open_walk(page, url: str):
    page.goto(url)
    expect(page.locator(".player")).to_be_visible()
    return page


def expect_step(page, n: int):
    expect(page.locator(f"li#step-{n}")).to_have_class(CURRENT)
    expect(page.locator("[data-counter]")).to_have_text(str(n))
    expect(page).to_have_url(re.compile(rf"#step-{n}$"))


def test_softmax_steps_with_the_keyboard_through_max_exponentials_sum_and_probabilities(page):
    page.goto(SOFTMAX_URL)
    expect(page.locator(".player")).to_be_visible()
    expect(page.locator("li#step-1")).to_have_class(CURRENT)
    say = page.locator("p.say[aria-live=polite]")
    expect(say).to_contain_text("m = max z")
    expect(say).to_contain_text("= 2")
    assert marked(page, "max", "tgt") == [""]                    # the row maximum, one cell
    assert marked(page, "input", "hl") == ["0", "1", "2"]
    assert marked(page, "exp", "pending") == ["0", "1", "2"]

    page.keyboard.press("ArrowRight")
    expect_step(page, 2)
    expect(say).to_contain_text("e^(z(1) − m)")
    expect(say).to_contain_text("= 1")
    assert marked(page, "exp", "tgt") == ["0"]
    assert marked(page, "max", "tgt") == []
    assert marked(page, "input", "hl") == ["0"]

    page.keyboard.press("ArrowRight")
    expect_step(page, 3)
    assert marked(page, "exp", "tgt") == ["1"]
    assert marked(page, "input", "hl") == ["1"]
    expect(say).to_contain_text("0.367879")

    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect_step(page, 5)
    assert marked(page, "sum", "tgt") == [""]
    expect(say).to_contain_text("1.51745")

    page.keyboard.press("ArrowRight")
    expect_step(page, 6)
    assert marked(page, "output", "tgt") == ["0"]
    assert marked(page, "output", "pending") == ["1", "2"]
    expect(say).to_contain_text("p(1)")
    expect(say).to_contain_text("0.659001")
    expect(page.locator("[data-now]")).to_contain_text("Step 6 of 8")

    page.keyboard.press("End")
    expect_step(page, 8)
    assert marked(page, "output", "tgt") == ["2"]
    expect(page.locator("td.pending")).to_have_count(0)
    page.keyboard.press("ArrowLeft")
    expect_step(page, 7)
    assert marked(page, "output", "tgt") == ["1"]


def test_optimizer_step_reads_the_parameter_before_and_writes_it_after(page):
    open_walk(page, "/optimizer")
    page.keyboard.press("ArrowRight")                      # step 2: w(1) = 0.2 − 0.1(11.6)
    expect_step(page, 2)
    assert marked(page, "params.w", "hl", "given") == ["0"]
    assert marked(page, "params.w", "tgt", "given") == []
    assert marked(page, "params.w", "tgt", "computed") == ["0"]
    assert marked(page, "params.w", "hl", "computed") == []
    assert marked(page, "grads.w", "hl", "given") == ["0"]
    expect(page.locator("p.say")).to_contain_text("= -0.96")


def test_adam_bias_correction_lights_the_moment_it_reads(page):
    open_walk(page, "/optimizer?" + urlencode({"kind": "adam", "lr": "0.001"}) + "#step-10")
    expect_step(page, 10)
    expect(page.locator("li#step-10")).to_have_attribute("data-id", "m_hat.w[0]")
    assert marked(page, "m_hat.w", "tgt") == ["0"]
    assert marked(page, "state.m.w", "hl", "computed") == ["0"]     # the step reads "m.w", written just before


LAYER_PAGES = ["/activation", "/activation/backward", SOFTMAX_URL, "/dense", "/dense/backward", "/flatten", "/loss",
               "/optimizer?" + urlencode({"kind": "adam", "lr": "0.001", "steps": "5"}), "/batchnorm",
               "/batchnorm/backward", "/dropout"]


@pytest.mark.parametrize("path", LAYER_PAGES, ids=lambda p: p.split("#")[0])
def test_layer_page_at_phone_width_does_not_scroll_sideways(phone, path):
    phone.goto(path)
    expect(phone.locator(".player")).to_be_visible()
    phone.keyboard.press("End")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path}: the page is {width}px wide"
    for chart in phone.locator("svg.chart").all():
        box = chart.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
