"""The network page in a real browser: stepping from the forward pass into the loss and the backward
pass, the diagram's boxes, heatmap readouts, the drawing pad, and the phone layout."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from app.pages.network import MNIST

pytestmark = pytest.mark.browser

SEED000 = "/network"
MNIST_URL = "/network?" + urlencode(MNIST)
CURRENT = re.compile(r"\bcurrent\b")
NOW = re.compile(r"\bnow\b")


def open_network(page, url: str):
    page.goto(url)
    expect(page.locator(".player")).to_be_visible()
    return page


def number_of(page, step_id: str) -> int:
    return int(page.locator(f'li.step[data-id="{step_id}"]').get_attribute("id")[5:])


def expect_step(page, step_id: str):
    li = page.locator(f'li.step[data-id="{step_id}"]')
    expect(li).to_have_class(CURRENT)
    expect(page.locator("[data-counter]")).to_have_text(li.get_attribute("id")[5:])


def marked(page, cls: str) -> list[str]:
    return sorted(page.eval_on_selector_all(f"section.walk td.{cls}",
                                            "tds => tds.map(td => `${td.dataset.t}[${td.dataset.i}]`)"))


def test_arrow_keys_step_from_the_last_forward_step_into_the_loss_and_the_backward_pass(page):
    open_network(page, SEED000)
    last_forward = number_of(page, "layer4.forward.output[0]")
    page.goto(f"{SEED000}#step-{last_forward}")
    expect_step(page, "layer4.forward.output[0]")
    assert marked(page, "tgt") == ["act.4[0]"]
    assert "param.4.weight[0,3]" in marked(page, "hl")

    page.keyboard.press("ArrowRight")
    expect_step(page, "loss.header")
    expect(page.locator("[data-phase]")).to_contain_text("The loss")
    expect(page.locator('svg.wide [data-box="loss"]')).to_have_class(NOW)

    page.keyboard.press("ArrowRight")
    expect_step(page, "loss.loss")
    assert marked(page, "tgt") == ["loss[]"]
    assert marked(page, "hl") == ["act.4[0]", "target[0]"]
    expect(page.locator("p.say")).to_contain_text("4.205")

    page.keyboard.press("ArrowRight")
    expect_step(page, "loss.grad_input[0]")
    assert marked(page, "tgt") == ["delta.4[0]"]

    page.keyboard.press("ArrowRight")
    expect_step(page, "layer4.backward")
    expect(page.locator("[data-phase]")).to_contain_text("Backward pass, layer 4")
    expect(page.locator('svg.wide [data-box="4"]')).to_have_class(re.compile(r"\bnow\b.*\bback\b|\bback\b.*\bnow\b"))

    page.keyboard.press("ArrowRight")
    expect_step(page, "layer4.backward.grad_weight[0,0]")
    assert marked(page, "tgt") == ["grad.4.weight[0,0]"]
    assert marked(page, "hl") == ["act.3[0]", "delta.4[0]", "param.4.weight[0,0]"]

    page.keyboard.press("ArrowRight")                         # the highlighted cell moves one to the right
    expect_step(page, "layer4.backward.grad_weight[0,1]")
    assert marked(page, "tgt") == ["grad.4.weight[0,1]"]
    assert "act.3[1]" in marked(page, "hl")
    expect(page.locator('section.walk td.tgt[data-t="grad.4.weight"]')).to_have_text("0")

    page.keyboard.press("ArrowLeft")
    expect_step(page, "layer4.backward.grad_weight[0,0]")


def test_clicking_a_layer_box_opens_its_forward_steps(page):
    open_network(page, SEED000)
    box = page.locator('svg.wide a[data-box="4"]')
    box.click()
    n = number_of(page, "layer4.forward")
    expect_step(page, "layer4.forward")
    expect(page).to_have_url(re.compile(rf"#step-{n}$"))
    expect(box).to_have_class(NOW)
    expect(page.locator("[data-phase]")).to_contain_text("Forward pass, layer 4")
    page.keyboard.press("ArrowRight")
    expect_step(page, "layer4.forward.output[0]")


def test_layer_boxes_are_reached_with_the_keyboard(page):
    open_network(page, SEED000)
    page.locator('svg.wide a[data-box="2"]').focus()
    page.keyboard.press("Enter")
    expect_step(page, "layer2.forward")


def test_a_box_far_down_a_big_network_and_the_end_key_fetch_their_steps(page):
    open_network(page, MNIST_URL)
    expect(page.locator("li.gap")).to_have_count(0)               # the player fills the gaps itself
    page.locator('svg.wide a[data-box="1"]').click()
    expect_step(page, "layer1.forward")
    page.keyboard.press("End")
    expect(page.locator("li#step-4110")).to_have_class(CURRENT)
    assert marked(page, "tgt") == ["updated.4.bias[9]"]
    page.keyboard.press("ArrowLeft")
    expect(page.locator("li#step-4109")).to_have_class(CURRENT)


def test_heatmap_cells_read_out_their_value_under_the_pointer_and_the_focus(page):
    open_network(page, MNIST_URL)
    image = page.locator('figure.heatmap[data-tensor="act.0"]')
    readout = image.locator("[data-readout]")
    image.locator('td[data-i="6,10"]').hover()
    expect(readout).to_have_text("act.0 row 7, column 11 = 1")
    counter = page.locator("[data-counter]").text_content()
    first = image.locator('td[data-i="0,0"]')
    first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    focused = image.locator('td[data-i="1,1"]')
    expect(focused).to_be_focused()
    expect(focused).to_have_attribute("aria-label", "act.0 row 2, column 2 = 0")
    expect(readout).to_have_text("act.0 row 2, column 2 = 0")
    assert page.locator("[data-counter]").text_content() == counter   # the arrows moved in the map, not the player


def test_enter_on_a_heatmap_cell_opens_the_step_that_wrote_it(page):
    open_network(page, MNIST_URL)
    conv = page.locator('figure.heatmap[data-tensor="act.1"]')
    conv.locator('td[data-i="0,0"]').focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect_step(page, "layer1.forward.output[0,1]")
    expect(conv.locator('td[data-i="0,1"]')).to_have_class(re.compile(r"\btgt\b"))


def test_a_drawing_becomes_the_input(page):
    open_network(page, MNIST_URL)
    pad = page.locator("details.drawpad")
    expect(pad).to_be_visible()
    pad.locator("summary").click()
    pad.locator('[data-draw="clear"]').click()
    canvas = pad.locator("canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.8, steps=12)
    page.mouse.up()
    pad.locator('[data-draw="use"]').click()
    text = page.locator("#f-input").input_value()
    rows = text.split("\n")
    assert len(rows) == 28 and all(len(r.split()) == 28 for r in rows)
    assert rows[0].split() == ["0"] * 28
    assert float(rows[14].split()[14]) > 0.5
    canvas.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press(" ")
    pad.locator('[data-draw="use"]').click()
    assert float(page.locator("#f-input").input_value().split("\n")[14].split()[13]) > 0


def test_phone_width_shows_the_tall_diagram_without_sideways_scrolling(phone):
    for url in (SEED000, MNIST_URL):
        open_network(phone, url)
        expect(phone.locator("svg.diagram.tall")).to_be_visible()
        expect(phone.locator("svg.diagram.wide")).to_be_hidden()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.locator('svg.tall a[data-box="3"]').click()
    expect_step(phone, "layer3.forward")
