"""Presentation mode in a real browser, driven from the keyboard only: one step per screen, the counter,
the highlighted cells moving, full screen, Esc back to the page at the same step, phone width."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from app.limits import PAGE_STEPS

pytestmark = pytest.mark.browser

SEED000 = {"input": "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1", "kernel": "1 -1 0; 0 1 -1; 1 0 1"}
SEED_URL = "/conv2d?" + urlencode(SEED000)
PRESENT_URL = SEED_URL + "&present=1"
BIG_URL = "/conv2d?" + urlencode({
    "input": "\n".join(" ".join(str((r * 12 + c) % 7 - 3) for c in range(12)) for r in range(12)),
    "kernel": "1 0 -1; 2 0 -2; 1 0 -1", "present": "1"})        # 100 steps, fetched page by page
PRESENTING = re.compile(r"\bpresent\b")


def window(rows: range, cols: range) -> list[str]:
    return sorted(f"{r},{c}" for r in rows for c in cols)


def marked(page, tensor: str, cls: str) -> list[str]:
    return sorted(page.eval_on_selector_all(f'td[data-t="{tensor}"].{cls}', "tds => tds.map(td => td.dataset.i)"))


def visible_steps(page) -> list[str]:
    return page.eval_on_selector_all("ol.steps > li.step",
                                     "lis => lis.filter(li => li.checkVisibility()).map(li => li.id)")


def expect_shown(page, n: int, total: int = 4):
    """Step n is the one step on the screen, and the counter says so."""
    expect(page.locator(f"li#step-{n}")).to_be_visible()
    expect(page.locator("[data-counter]")).to_have_text(str(n))
    assert visible_steps(page) == [f"step-{n}"]
    expect(page.locator(".counter")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('.counter'), '::before').content") == '"Step "'
    expect(page.locator(".counter")).to_contain_text(f"/ {total}")


def present(page, url: str = PRESENT_URL):
    page.goto(url)
    expect(page.locator("body")).to_have_class(PRESENTING)
    expect(page.locator("li.step.current")).to_have_count(1)     # the player has started
    return page


# ---------------------------------------------------------------- the keys

def test_right_arrow_advances_one_step_and_moves_the_highlighted_cells(page):
    present(page)
    expect_shown(page, 1)
    assert marked(page, "input", "hl") == window(range(3), range(3))
    assert marked(page, "output", "tgt") == ["0,0"]
    page.keyboard.press("ArrowRight")
    expect_shown(page, 2)
    assert marked(page, "input", "hl") == window(range(3), range(1, 4))
    assert marked(page, "output", "tgt") == ["0,1"]
    expect(page.locator("li#step-2 h4")).to_contain_text("z(1,2)")
    expect(page).to_have_url(re.compile(r"present=1.*#step-2$"))


def test_space_page_down_page_up_left_home_and_end_step_through(page):
    present(page)
    play = page.locator('button[data-act="play"]')
    page.keyboard.press(" ")                          # next, not play, in front of a class
    expect_shown(page, 2)
    expect(play).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("PageDown")
    expect_shown(page, 3)
    assert marked(page, "output", "tgt") == ["1,0"]
    assert marked(page, "input", "hl") == window(range(1, 4), range(3))
    page.keyboard.press("PageUp")
    expect_shown(page, 2)
    page.keyboard.press("ArrowLeft")
    expect_shown(page, 1)
    page.keyboard.press("End")
    expect_shown(page, 4)
    assert marked(page, "output", "tgt") == ["1,1"]
    page.keyboard.press("Home")
    expect_shown(page, 1)


def test_the_chrome_and_the_forms_are_hidden_and_the_type_is_large(page):
    present(page)
    for hidden in ["header.site", "footer.site", "form.problem", "section.check", ".presets", ".notes",
                   "p.intro", '[data-act="play"]', "a.present-on"]:
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator('a[data-present="off"]')).to_be_visible()
    title = page.locator("li.step.current h4")
    assert float(title.evaluate("h => getComputedStyle(h).fontSize").removesuffix("px")) >= 30
    cell = page.locator('td[data-t="output"][data-i="0,0"]')
    assert float(cell.evaluate("td => getComputedStyle(td).fontSize").removesuffix("px")) >= 26
    # the current cells carry a thick frame as well as a fill: more than colour tells them apart
    for td in [cell, page.locator('td[data-t="input"][data-i="0,0"]')]:
        assert td.evaluate("td => getComputedStyle(td).boxShadow") != "none"
    assert page.evaluate("document.documentElement.scrollHeight") <= 720 + 180    # about one screen


def test_escape_leaves_presentation_mode_at_the_same_step(page):
    present(page)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect_shown(page, 3)
    page.keyboard.press("Escape")
    expect(page.locator("body")).not_to_have_class(PRESENTING)
    expect(page).to_have_url(re.compile(r"/conv2d\?[^#]*#step-3$"))
    assert "present=1" not in page.url
    expect(page.locator("[data-counter]")).to_have_text("3")
    expect(page.locator("li#step-3")).to_have_class(re.compile(r"\bcurrent\b"))
    expect(page.locator("form.problem")).to_be_visible()
    assert len(visible_steps(page)) == 4
    page.keyboard.press(" ")                          # the normal page's keys again: space plays
    expect(page.locator('button[data-act="play"]')).to_have_attribute("aria-pressed", "true")


def test_the_present_link_switches_in_place_keeping_the_step_and_goes_full_screen(page):
    page.goto(SEED_URL + "#step-2")
    expect(page.locator("[data-counter]")).to_have_text("2")
    page.get_by_role("link", name="Present").click()
    expect(page.locator("body")).to_have_class(PRESENTING)
    expect(page).to_have_url(re.compile(r"present=1.*#step-2$"))
    expect_shown(page, 2)
    page.wait_for_function("document.fullscreenElement !== null")
    page.keyboard.press("f")                          # F leaves full screen, and stays in the mode
    page.wait_for_function("document.fullscreenElement === null")
    expect(page.locator("body")).to_have_class(PRESENTING)
    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement !== null")
    page.keyboard.press("Escape")                     # one Esc leaves full screen and the mode
    page.wait_for_function("document.fullscreenElement === null")
    expect(page.locator("body")).not_to_have_class(PRESENTING)
    expect(page).to_have_url(re.compile(r"#step-2$"))


def test_steps_beyond_the_first_page_are_fetched_and_shown_alone(page):
    present(page, BIG_URL)
    expect_shown(page, 1, total=100)
    page.keyboard.press("End")
    expect_shown(page, 100, total=100)
    assert page.locator("li.step").count() > PAGE_STEPS            # fetched
    assert marked(page, "output", "tgt") == ["9,9"]
    assert marked(page, "input", "hl") == window(range(9, 12), range(9, 12))
    page.keyboard.press("ArrowLeft")
    expect_shown(page, 99, total=100)


def test_a_link_to_a_late_step_opens_it_alone(page):
    n = PAGE_STEPS + 5
    present(page, BIG_URL + f"#step-{n}")
    expect_shown(page, n, total=100)
    box = page.locator(f"li#step-{n} h4").bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= 720          # on the screen, not scrolled past


def test_the_network_presents_one_step_with_its_layer_and_only_the_maps_it_uses(page):
    page.goto("/network?present=1")
    expect(page.locator("body")).to_have_class(PRESENTING)
    expect(page.locator("li.step.current")).to_have_count(1)
    total = int(page.locator("section.walk").get_attribute("data-step-count"))
    expect_shown(page, 1, total)
    page.keyboard.press("ArrowRight")
    expect_shown(page, 2, total)
    expect(page.locator("svg.diagram.wide .box.now")).to_have_count(1)
    shown = page.eval_on_selector_all("figure.heatmap",
                                      "fs => fs.filter(f => f.checkVisibility()).map(f => f.dataset.tensor)")
    assert shown and set(shown) <= {"act.0", "param.1.weight", "act.1", "param.1.bias"}
    page.keyboard.press("Escape")
    expect(page.locator("body")).not_to_have_class(PRESENTING)
    expect(page).to_have_url(re.compile(r"/network#step-2$"))


def test_without_javascript_presentation_lists_every_step_in_large_type(browser, base_url):
    context = browser.new_context(java_script_enabled=False, base_url=base_url, viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.goto(PRESENT_URL)
        expect(page.locator("header.site")).to_be_hidden()
        expect(page.locator("li.step")).to_have_count(4)
        for n in range(1, 5):
            expect(page.locator(f"li#step-{n}")).to_be_visible()
        size = page.locator("li#step-1 h4").evaluate("h => getComputedStyle(h).fontSize")
        assert float(size.removesuffix("px")) >= 30
    finally:
        context.close()


# ---------------------------------------------------------------- phone width

@pytest.mark.parametrize("path", [PRESENT_URL, "/pool2d/backward?present=1", BIG_URL, "/network?present=1",
                                  "/activation/backward?present=1"], ids=["conv2d", "pool2d-backward", "big", "network",
                                                                       "activation-backward"])
def test_phone_width_presentation_does_not_scroll_sideways(phone, path):
    present(phone, path)
    for key in ["ArrowRight", "End"]:
        phone.keyboard.press(key)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} after {key}: the page is {width}px wide"
