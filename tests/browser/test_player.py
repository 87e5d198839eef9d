"""The step player in a real browser: keyboard, buttons, the URL fragment, the aria-live line, phone width."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from app.limits import PAGE_STEPS

pytestmark = pytest.mark.browser

SEED000 = {"input": "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1", "kernel": "1 -1 0; 0 1 -1; 1 0 1"}
SEED_URL = "/conv2d?" + urlencode(SEED000)
POOL004_URL = "/pool2d/backward?" + urlencode({"input": "1 3 2 4; 5 6 7 8; 9 2 1 0; 4 5 6 7",
                                               "grad_output": "1 2; 3 4"})
BIG_URL = "/conv2d?" + urlencode({
    "input": "\n".join(" ".join(str((r * 12 + c) % 7 - 3) for c in range(12)) for r in range(12)),
    "kernel": "1 0 -1; 2 0 -2; 1 0 -1"})          # 10 x 10 = 100 steps, more than one page of them
CURRENT = re.compile(r"\bcurrent\b")


def window(rows: range, cols: range) -> list[str]:
    return sorted(f"{r},{c}" for r in rows for c in cols)


def marked(page, tensor: str, cls: str) -> list[str]:
    return sorted(page.eval_on_selector_all(f'td[data-t="{tensor}"].{cls}', "tds => tds.map(td => td.dataset.i)"))


def open_walk(page, url: str):
    page.goto(url)
    expect(page.locator(".player")).to_be_visible()          # the module ran
    return page


def expect_step(page, n: int):
    expect(page.locator(f"li#step-{n}")).to_have_class(CURRENT)
    expect(page.locator("li.step.current")).to_have_count(1)
    expect(page.locator("[data-counter]")).to_have_text(str(n))


def expect_hash(page, n: int):
    expect(page).to_have_url(re.compile(rf"#step-{n}$"))


# ---------------------------------------------------------------- the seed example, step by step

def test_first_step_highlights_the_top_left_window_and_the_first_output(page):
    open_walk(page, SEED_URL)
    expect_step(page, 1)
    assert marked(page, "input", "hl") == window(range(3), range(3))
    assert marked(page, "kernel", "hl") == window(range(3), range(3))
    assert marked(page, "output", "tgt") == ["0,0"]
    assert marked(page, "output", "pending") == ["0,1", "1,0", "1,1"]
    say = page.locator("p.say[aria-live=polite]")
    expect(say).to_contain_text("z(1,1)")
    expect(say).to_contain_text("= 4")
    expect(page.locator("[data-now]")).to_contain_text("Step 1 of 4")


def test_arrow_right_moves_the_window_one_column_and_updates_the_url(page):
    open_walk(page, SEED_URL)
    expect_step(page, 1)
    page.keyboard.press("ArrowRight")
    expect_step(page, 2)
    expect_hash(page, 2)
    assert marked(page, "input", "hl") == window(range(3), range(1, 4))
    assert marked(page, "output", "tgt") == ["0,1"]
    assert marked(page, "output", "pending") == ["1,0", "1,1"]
    expect(page.locator("p.say")).to_contain_text("z(1,2)")
    expect(page.locator("p.say")).to_contain_text("= 0")


def test_end_goes_to_the_last_step_and_home_to_the_first(page):
    open_walk(page, SEED_URL)
    page.keyboard.press("End")
    expect_step(page, 4)
    expect_hash(page, 4)
    assert marked(page, "output", "tgt") == ["1,1"]
    assert marked(page, "input", "hl") == window(range(1, 4), range(1, 4))
    assert marked(page, "output", "pending") == []
    expect(page.locator("p.say")).to_contain_text("z(2,2)")
    page.keyboard.press("ArrowRight")                   # past the end: stays
    expect_step(page, 4)
    page.keyboard.press("Home")
    expect_step(page, 1)
    expect_hash(page, 1)
    page.keyboard.press("ArrowLeft")                    # before the start: stays
    expect_step(page, 1)
    assert marked(page, "output", "tgt") == ["0,0"]


def test_buttons_step_like_the_keys(page):
    open_walk(page, SEED_URL)
    page.get_by_role("button", name="Next step").click()
    expect_step(page, 2)
    page.get_by_role("button", name="Last step").click()
    expect_step(page, 4)
    page.get_by_role("button", name="Previous step").click()
    expect_step(page, 3)
    assert marked(page, "output", "tgt") == ["1,0"]
    page.get_by_role("button", name="First step").click()
    expect_step(page, 1)


def test_link_with_a_step_fragment_opens_at_that_step(page):
    open_walk(page, SEED_URL + "#step-3")
    expect_step(page, 3)
    expect_hash(page, 3)
    assert marked(page, "output", "tgt") == ["1,0"]
    assert marked(page, "input", "hl") == window(range(1, 4), range(3))
    expect(page.locator("p.say")).to_contain_text("z(2,1)")
    page.evaluate("location.hash = '#step-2'")          # editing the fragment moves the player too
    expect_step(page, 2)


def test_arrow_keys_in_a_text_box_edit_the_text_not_the_step(page):
    open_walk(page, SEED_URL)
    page.locator("#f-stride").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("End")
    expect_step(page, 1)
    assert "#step-" not in page.url


def test_play_advances_to_the_end_and_stops(page):
    open_walk(page, SEED_URL)
    page.select_option('select[data-act="speed"]', "400")
    page.evaluate("""() => {
        const counter = document.querySelector("[data-counter]");
        window.seen = [];
        new MutationObserver(() => window.seen.push(counter.textContent))
            .observe(counter, {childList: true, characterData: true, subtree: true});
    }""")
    play = page.locator('button[data-act="play"]')
    play.click()
    expect(play).to_have_attribute("aria-pressed", "true")
    expect_step(page, 4)
    assert page.evaluate("window.seen") == ["2", "3", "4"]          # one step at a time, in order
    expect_hash(page, 4)
    expect(play).to_have_attribute("aria-pressed", "false")
    expect(play).to_have_text(re.compile("Play"))


def test_space_starts_and_pauses_the_player(page):
    open_walk(page, SEED_URL)
    play = page.locator('button[data-act="play"]')
    page.keyboard.press(" ")
    expect(play).to_have_attribute("aria-pressed", "true")
    page.keyboard.press(" ")
    expect(play).to_have_attribute("aria-pressed", "false")


# ---------------------------------------------------------------- the form

def test_bad_matrix_from_the_form_is_reported_beside_the_box_with_the_text_kept(page):
    open_walk(page, SEED_URL)
    page.locator("#f-input").fill("1 2; 3 x")
    page.get_by_role("button", name="Compute").click()
    error = page.locator("#e-input")
    expect(error).to_be_visible()
    expect(error).to_contain_text("row 2, column 2")
    expect(page.locator("#f-input")).to_have_value("1 2; 3 x")
    expect(page.locator("#f-input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field.invalid").filter(has=page.locator("#f-input")).locator("#e-input")).to_have_count(1)
    assert "input=1+2%3B+3+x" in page.url                  # the GET form: the bad problem is a link too
    box, message = page.locator("#f-input").bounding_box(), error.bounding_box()
    assert 0 <= message["y"] - (box["y"] + box["height"]) < 40           # right under the box
    assert message["x"] < box["x"] + box["width"] and box["x"] < message["x"] + message["width"]


def test_typing_a_new_matrix_computes_it(page):
    open_walk(page, SEED_URL)
    page.locator("#f-input").fill("1 2 3\n4 5 6\n7 8 9")
    page.locator("#f-kernel").fill("[[1, 0], [0, 1]]")
    page.get_by_role("button", name="Compute").click()
    expect(page.locator('td[data-t="output"]')).to_have_text(["6", "8", "12", "14"])
    expect(page.locator("p.say")).to_contain_text("= 6")


# ---------------------------------------------------------------- other pages

def test_pool2d_backward_routes_the_gradient_to_the_winner(page):
    open_walk(page, POOL004_URL)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect_step(page, 6)
    expect_hash(page, 6)
    expect(page.locator("li#step-6")).to_have_attribute("data-id", "grad_input[1,1]")
    say = page.locator("p.say")
    expect(say).to_contain_text("∂L/∂x(2,2)")
    expect(say).to_contain_text("won window (1,1)")
    expect(say).to_contain_text("= 1")
    assert marked(page, "grad_input", "tgt") == ["1,1"]
    assert marked(page, "input", "hl") == ["1,1"]
    assert marked(page, "grad_output", "hl") == ["0,0"]


def test_im2col_marks_the_whole_column_being_filled(page):
    open_walk(page, "/im2col")
    expect_step(page, 1)
    assert marked(page, "columns", "tgt") == ["0,0", "1,0", "2,0", "3,0"]
    assert marked(page, "input", "hl") == ["0,0", "0,1", "1,0", "1,1"]
    page.keyboard.press("ArrowRight")
    expect_step(page, 2)
    assert marked(page, "columns", "tgt") == ["0,1", "1,1", "2,1", "3,1"]
    assert marked(page, "input", "hl") == ["0,1", "0,2", "1,1", "1,2"]


def test_conv2d_backward_hides_the_gradients_not_yet_reached(page):
    open_walk(page, "/conv2d/backward")
    page.keyboard.press("ArrowRight")
    expect_step(page, 2)
    assert marked(page, "grad_input", "tgt") == ["0,1"]
    pending = marked(page, "grad_input", "pending")
    assert len(pending) == 14 and "0,0" not in pending and "0,1" not in pending
    assert len(marked(page, "grad_weight", "pending")) == 9
    expect(page.locator('td[data-t="grad_input"][data-i="1,1"]')).to_have_css("color", "rgba(0, 0, 0, 0)")
    page.keyboard.press("End")
    expect(page.locator("td.pending")).to_have_count(0)


def test_large_problem_fetches_the_remaining_steps_for_end(page):
    open_walk(page, BIG_URL)
    expect(page.locator("li.step")).to_have_count(PAGE_STEPS)
    page.keyboard.press("End")
    expect_step(page, 100)
    expect_hash(page, 100)
    assert page.locator("li.step").count() > PAGE_STEPS        # fetched: only the page End lands in
    ids = page.eval_on_selector_all("li.step", "lis => lis.map(li => Number(li.id.slice(5)))")
    assert ids == sorted(ids) and ids[-1] == 100                  # kept in order
    expect(page.locator("p.say")).to_contain_text("z(10,10)")
    assert marked(page, "output", "tgt") == ["9,9"]
    assert marked(page, "input", "hl") == window(range(9, 12), range(9, 12))
    page.keyboard.press("ArrowLeft")
    expect_step(page, 99)


def test_large_problem_link_to_a_late_step_fetches_it(page):
    n = PAGE_STEPS + 20
    open_walk(page, BIG_URL + f"#step-{n}")
    expect_step(page, n)
    r, c = divmod(n - 1, 10)
    assert marked(page, "output", "tgt") == [f"{r},{c}"]
    expect(page.locator("p.say")).to_contain_text(f"z({r + 1},{c + 1})")


def test_without_javascript_the_steps_are_all_there(browser, base_url):
    context = browser.new_context(java_script_enabled=False, base_url=base_url)
    try:
        page = context.new_page()
        page.goto(SEED_URL)
        expect(page.locator("li.step")).to_have_count(4)
        expect(page.locator(".player")).to_be_hidden()
        expect(page.locator("td.pending")).to_have_count(0)
        expect(page.locator('td[data-t="output"]')).to_have_text(["4", "0", "4", "3"])
    finally:
        context.close()


# ---------------------------------------------------------------- layout

NARROW_PAGES = ["/", SEED_URL, "/conv2d/backward", "/pool2d", "/pool2d/backward", "/conv1d", "/conv1d/backward",
                "/im2col", "/output-size", BIG_URL]


@pytest.mark.parametrize("path", NARROW_PAGES, ids=lambda p: p.split("?")[0] + ("?big" if p == BIG_URL else ""))
def test_phone_width_page_does_not_scroll_sideways(phone, path):
    phone.goto(path)
    if path != "/":
        expect(phone.locator(".player")).to_be_visible()
        phone.keyboard.press("End")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path}: the page is {width}px wide"


@pytest.mark.parametrize("path", ["/", SEED_URL, "/conv2d/backward", "/im2col"],
                         ids=lambda p: p.split("?")[0])
def test_desktop_width_page_does_not_scroll_sideways(page, path):
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
