"""The network page through TestClient: seed 000's numbers, the diagram and its text alternative, the
loss table, the heatmaps the player highlights, errors beside the field, the layer grammar."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import numpy as np
import pytest

from app.pages.network import DEFAULTS, MNIST, PRESETS, digit_image, parse_layers
from engine import EngineError
from test_pages import cells, dom, field_value, get_page, page_errors, steps

SCRIPT = "<script>alert(1)</script>"
SEED000 = "/network"
MNIST_URL = "/network?" + urlencode(MNIST)
PAGE_BUDGET = 1_500_000


def url(**query: str) -> str:
    return "/network?" + urlencode({**DEFAULTS, **query})


def texts(doc, tensor: str) -> list[str]:
    return [td.text for td in doc.find_all("td", data_t=tensor)]


def step_by_id(doc, step_id: str):
    return doc.find("li", cls="step", data_id=step_id)


def every_step(client, doc) -> dict[str, object]:
    """All the steps by their li id: those on the page, and the rest from the fragment the player fetches."""
    walk = doc.find("section", cls="walk")
    listed = {li.attrs["id"]: li for li in steps(doc)}
    offset = 0
    while offset < int(walk.attrs["data-step-count"]):
        fragment = client.get(f"{walk.attrs['data-steps-url']}&offset={offset}")
        items = dom(fragment.text).find_all("li", cls="step")
        listed.update({li.attrs["id"]: li for li in items})
        offset += len(items)
    return listed


# ---------------------------------------------------------------- every preset

@pytest.mark.parametrize("preset", PRESETS, ids=[p.title for p in PRESETS])
def test_each_preset_renders_its_diagram_steps_and_heatmaps_without_an_error(client, preset):
    _, doc = get_page(client, url(**preset.query))
    assert not page_errors(doc)
    assert doc.find("svg", cls="diagram")
    assert doc.find_all("figure", cls="heatmap")
    assert steps(doc)
    for f in ("input", "layers", "target", "lr", "steps", "seed"):
        assert field_value(doc, f) == {**DEFAULTS, **preset.query}[f].replace("\r\n", "\n")


def test_the_page_is_linked_from_the_home_page_and_the_nav(client):
    _, doc = get_page(client, "/")
    assert "/network" in [a.attrs.get("href") for a in doc.find("nav").find_all("a")]
    assert "/network" in [a.attrs.get("href") for a in doc.find("ul", cls="cards").find_all("a")]


# ---------------------------------------------------------------- seed 000's numbers

def test_seed000_shows_the_prediction_2_9_and_the_loss_4_205(client):
    _, doc = get_page(client, SEED000)
    result = doc.find("p", cls="result").text
    assert "ŷ = 2.9," in result and "L = 4.205" in result
    assert texts(doc, "act.1") == ["4", "0", "4", "3"]
    assert texts(doc, "act.4") == ["2.9"]
    assert texts(doc, "loss") == ["4.205"]
    assert step_by_id(doc, "loss.loss").find("h4").text == "Loss L = 4.205"


def test_seed000_shows_the_gradients_and_the_updated_weights(client):
    _, doc = get_page(client, SEED000)
    assert texts(doc, "delta.1") == ["0.58", "0", "1.16", "0.29"]
    assert texts(doc, "grad.4.weight") == ["11.6", "0", "11.6", "8.7"]
    assert texts(doc, "grad.1.weight") == ["2.61", "1.16", "0.87", "1.16", "3.19", "1.16", "1.16", "1.74", "3.19"]
    assert texts(doc, "updated.1.weight") == ["0.739", "-1.116", "-0.087", "-0.116", "0.681", "-1.116",
                                              "0.884", "-0.174", "0.681"]
    assert texts(doc, "updated.4.weight") == ["-0.96", "-0.5", "-0.76", "-0.77"]
    assert texts(doc, "updated.4.bias") == ["-0.09"]


def test_cells_written_by_a_step_point_at_the_step_that_targets_them(client):
    _, doc = get_page(client, SEED000)
    listed = every_step(client, doc)
    checked = 0
    for tensor in ("act.1", "act.4", "delta.4", "grad.4.weight", "updated.1.weight", "loss"):
        for index, td in cells(doc, tensor).items():
            li = listed[f"step-{td.attrs['data-step']}"]
            assert json.loads(li.attrs["data-target"]) == {"tensor": tensor, "index": index}
            checked += 1
    assert checked == 4 + 1 + 1 + 4 + 9 + 1


@pytest.mark.parametrize("query", [{}, MNIST, {"optimizer": "adam"}, {"optimizer": "momentum"}],
                         ids=["seed 000", "seed 003", "adam", "momentum"])
def test_steps_read_and_write_cells_that_the_page_draws(client, query):
    _, doc = get_page(client, url(**query))
    drawn = {(td.attrs["data-t"], td.attrs["data-i"]) for td in doc.find_all("td") if "data-t" in td.attrs}
    listed = steps(doc) if query is MNIST else every_step(client, doc).values()
    for li in listed:
        for tensor, indices in json.loads(li.attrs["data-reads"]).items():
            assert all((tensor, i) in drawn for i in indices), (li.attrs["data-id"], tensor, indices[:3])
        target = json.loads(li.attrs["data-target"])
        if target:
            assert (target["tensor"], target["index"]) in drawn, li.attrs["data-id"]


def test_the_phases_follow_each_other_forward_loss_backward_update(client):
    _, doc = get_page(client, SEED000)
    headers = [li.attrs["data-id"] for li in steps(doc) if "k-layer" in li.classes]
    assert headers == ["layer1.forward", "layer2.forward", "layer3.forward", "layer4.forward", "loss.header",
                       "layer4.backward", "layer3.backward", "layer2.backward", "layer1.backward", "update.header"]


# ---------------------------------------------------------------- the diagram

def test_diagram_is_inline_svg_with_a_box_per_layer_that_opens_its_forward_steps(client):
    _, doc = get_page(client, SEED000)
    wide = doc.find("svg", cls="wide")
    boxes = {a.attrs["data-box"]: a for a in wide.find_all("a")}
    assert list(boxes) == ["1", "2", "3", "4", "loss"]
    for n, kind in zip("1234", ("Conv2d", "ReLU", "Flatten", "Linear")):
        href = boxes[n].attrs["href"]
        li = doc.find("li", id=href[1:])
        assert li.attrs["data-id"] == f"layer{n}.forward"
        assert f"Layer {n}: {kind}" in boxes[n].attrs["aria-label"]
    assert doc.find("li", id=boxes["loss"].attrs["href"][1:]).attrs["data-id"] == "loss.header"
    shapes = [t.text for t in wide.find_all("text", cls="t3")]
    assert shapes == ["4×4", "→ 2×2", "→ 2×2", "→ 4", "→ 1", "L = 4.205"]
    assert len(wide.find_all("path", cls="arrow")) == 5
    assert doc.find("svg", cls="tall").find_all("a")        # the phone layout of the same stack


def test_diagram_has_a_text_alternative_a_table_of_the_layers(client):
    _, doc = get_page(client, SEED000)
    figure = doc.find("figure", cls="diagram-box")
    svg = figure.find("svg", cls="wide")
    assert svg.attrs["aria-labelledby"] == figure.find("figcaption").attrs["id"]
    rows = [[td.text.strip() for td in tr.find_all("td")] for tr in figure.find("table").find("tbody").find_all("tr")]
    assert [r[1] for r in rows] == ["Input", "Conv2d", "ReLU", "Flatten", "Linear", "Loss"]
    assert rows[1][2:5] == ["1 filter 3×3", "2×2", "9"]
    assert rows[4][2:5] == ["4 → 1", "1", "5"]
    links = [a.attrs["href"] for a in figure.find("table").find_all("a")]
    assert all(doc.find_all("li", id=h[1:]) for h in links)


def test_mnist_diagram_shows_each_layers_output_shape(client):
    _, doc = get_page(client, MNIST_URL)
    wide = doc.find("svg", cls="wide")
    shapes = [t.text for t in wide.find_all("text", cls="t3")]
    assert shapes[:5] == ["28×28", "→ 23×23", "→ 11×11", "→ 121", "→ 10"]
    assert [t.text for t in wide.find_all("text", cls="t2")][1:5] == ["1 filter 6×6", "window 2×2", "to a vector",
                                                                      "121 → 10"]


# ---------------------------------------------------------------- the loss curve

def test_loss_table_and_curve_hold_every_training_step(client):
    _, doc = get_page(client, url(steps="10"))
    figure = doc.find("figure", cls="loss-curve")
    rows = [[td.text for td in tr.find_all("td")] for tr in figure.find("tbody").find_all("tr")]
    assert [r[0] for r in rows] == [str(k) for k in range(1, 11)]
    assert rows[0][1] == "4.205" and rows[1][1] == "12.4951"     # the first update overshoots
    svg = figure.find("svg")
    assert svg.attrs["role"] == "img" and "from 4.205 to 0.0192188" in svg.attrs["aria-label"]
    assert len(svg.find("polyline").attrs["points"].split()) == 10
    assert any("raised the loss from 4.205 to 12.4951" in li.text for li in doc.find("ul", cls="notes").find_all("li"))


def test_one_training_step_shows_one_point_and_says_so(client):
    _, doc = get_page(client, SEED000)
    figure = doc.find("figure", cls="loss-curve")
    assert len(figure.find("tbody").find_all("tr")) == 1
    assert "One training step" in figure.find("svg").attrs["aria-label"]


def test_more_training_steps_show_the_parameters_after_the_last_one(client):
    _, doc = get_page(client, url(steps="10", lr="0.01"))
    assert doc.find("section", cls="stage", id="t-final")
    assert texts(doc, "updated.4.weight")[0] == "0.084"            # the first update: 0.2 − 0.01(11.6)
    assert texts(doc, "final.4.weight") != texts(doc, "updated.4.weight")


# ---------------------------------------------------------------- heatmaps

def test_feature_maps_of_the_mnist_network_are_heatmaps_with_values_on_hover(client):
    _, doc = get_page(client, MNIST_URL)
    image = doc.find("figure", cls="heatmap", data_tensor="act.0")
    assert "cells" in image.classes
    tds = image.find_all("td")
    assert len(tds) == 28 * 28
    assert tds[0].attrs["tabindex"] == "0" and sum("tabindex" in td.attrs for td in tds) == 1
    ink = [td for td in tds if td.attrs["title"] != "0"]
    assert ink and all(td.attrs["class"].startswith("p") for td in ink)   # a digit is positive ink
    assert image.find("p", cls="readout")
    table = image.find("table")
    assert "heatmap" in table.attrs["aria-label"]
    assert "cell-12" in table.attrs["class"].split()  # 12 px cells, as a class: no inline style
    conv = doc.find("figure", cls="heatmap", data_tensor="act.1")
    assert len(conv.find_all("td")) == 23 * 23 and all("data-step" in td.attrs for td in conv.find_all("td"))


def test_small_tensors_show_their_numbers_coloured_by_sign_and_size(client):
    _, doc = get_page(client, SEED000)
    kernel = doc.find("figure", cls="heatmap", data_tensor="param.1.weight")
    assert "numbers" in kernel.classes
    tones = {td.text: td.attrs["class"] for td in kernel.find_all("td")}
    assert tones == {"1": "p8", "-1": "n8", "0": "z"}
    assert {td.attrs["class"] for td in cells(doc, "delta.2").values()} == {"p4", "n8", "p7", "p2"}


def test_a_flattened_vector_is_drawn_row_by_row_keeping_its_flat_index(client):
    _, doc = get_page(client, MNIST_URL)
    flat = doc.find("figure", cls="heatmap", data_tensor="act.3")
    rows = flat.find("tbody").find_all("tr")
    assert len(rows) == 11 and all(len(r.find_all("td")) == 11 for r in rows)
    assert [td.attrs["data-i"] for td in rows[1].find_all("td")][:2] == ["11", "12"]


def test_one_number_tensors_use_one_index_in_the_grids_and_the_steps(client):
    _, doc = get_page(client, MNIST_URL)
    assert list(cells(doc, "param.1.bias")) == [""]
    assert list(cells(doc, "grad.1.bias")) == [""]
    walk = doc.find("section", cls="walk")
    header = int(step_by_id(doc, "update.header").attrs["id"][5:])
    fragment = dom(client.get(f"{walk.attrs['data-steps-url']}&offset={header + 1 + 36}").text)
    update = step_by_id(fragment, "update.params.layer1.bias[0]")
    assert json.loads(update.attrs["data-reads"])["param.1.bias"] == [""]


# ---------------------------------------------------------------- steps, paging, weight

def test_every_header_step_is_rendered_and_the_gaps_link_to_the_rest(client):
    _, doc = get_page(client, MNIST_URL)
    walk = doc.find("section", cls="walk")
    total = int(walk.attrs["data-step-count"])
    assert total == 4110
    listed = steps(doc)
    numbers = [int(li.attrs["id"][5:]) for li in listed]
    assert numbers == sorted(numbers) and numbers[0] == 1 and len(numbers) < 200
    headers = [li.attrs["data-id"] for li in listed if "k-layer" in li.classes]
    assert len(headers) == 10
    gaps = doc.find_all("li", cls="gap")
    assert gaps and all(a.attrs["href"].startswith("/network/steps?") for g in gaps for a in g.find_all("a"))
    assert walk.attrs["data-steps-url"].startswith("/network/steps?")


def test_steps_fragment_returns_the_next_page_of_steps(client):
    _, doc = get_page(client, MNIST_URL)
    fragment = client.get(doc.find("section", cls="walk").attrs["data-steps-url"] + "&offset=40")
    assert fragment.status_code == 200
    items = dom(fragment.text).find_all("li", cls="step")
    assert [li.attrs["id"] for li in items][:2] == ["step-41", "step-42"]
    assert items[0].attrs["data-id"].startswith("layer1.forward.output[")
    assert client.get("/network/steps?layers=nonsense").status_code == 422


def test_mnist_page_weighs_under_one_and_a_half_megabytes(client):
    response, _ = get_page(client, MNIST_URL)
    assert len(response.content) < PAGE_BUDGET


# ---------------------------------------------------------------- errors beside the field

def test_a_bad_layer_line_is_named_beside_the_layers_box_which_keeps_the_text(client):
    typed = "conv2d weight=1 -1 0; 0 1 -1; 1 0 1\n\n# a comment\nrelu\nlinear weight=1 2 3 4 bias=0\nflatten"
    _, doc = get_page(client, url(layers=typed))
    field = doc.find("textarea", id="f-layers")
    assert field_value(doc, "layers") == typed
    assert field.attrs["aria-invalid"] == "true"
    error = doc.find("p", id="e-layers")
    assert error.ancestor("field") is field.parent
    assert error.text.startswith("line 5 (linear weight=1 2 3 4 bias=0): ")
    assert "flatten" in error.text
    assert not doc.find_all("section", cls="walk")


@pytest.mark.parametrize(("layers", "words"), [
    ("conv2d weight=1 -1 0; 0 1", "line 1 (conv2d weight=1 -1 0; 0 1): weight: row 2 has 2 numbers"),
    ("conv2d size=3", "'size' is not an option"),
    ("relu\nsoftplus", "line 2 (softplus): 'softplus' is not a layer type"),
    ("maxpool2d two", "window=two is not a whole number"),
    ("linear 10", "'10' is not an option: write name=value"),
    ("", "is empty"),
])
def test_layer_line_mistakes_are_explained(client, layers, words):
    _, doc = get_page(client, url(layers=layers))
    assert words in doc.find("p", id="e-layers").text


@pytest.mark.parametrize(("name", "value", "words"), [
    ("input", "1 2; 3", "row 2 has 1 number"),
    ("input", "digit 12", "one figure, 0 to 9"),
    ("target", "1 2 3", "expected the prediction's shape (1,)"),
    ("lr", "fast", "'fast' is not a number"),
    ("steps", "0", "from 1 to 1000"),
    ("seed", "-1", "not a whole number"),
])
def test_other_mistakes_are_shown_beside_their_field(client, name, value, words):
    _, doc = get_page(client, url(**{name: value}))
    assert field_value(doc, name) == value
    assert words in doc.find("p", id=f"e-{name}").text


def test_too_much_work_is_refused_beside_the_steps_field(client):
    big = "conv2d out=64 k=3\nconv2d out=64 k=3\nflatten\nlinear out=10"
    rows = "\n".join(" ".join("1" for _ in range(60)) for _ in range(60))
    _, doc = get_page(client, url(input=rows, layers=big, steps="1000"))
    assert "multiply-adds" in doc.find("p", id="e-steps").text


def test_script_tags_typed_into_the_form_are_escaped(client):
    response, doc = get_page(client, url(input=SCRIPT, layers=SCRIPT, target=SCRIPT))
    assert SCRIPT not in response.text
    assert field_value(doc, "layers") == SCRIPT
    assert page_errors(doc)


# ---------------------------------------------------------------- the grammar and the digits

def test_layer_grammar_reads_weights_channels_filters_options_and_comments():
    specs, lines = parse_layers(
        "# stem\nconv2d weight=1 0; 0 1 | 0 1; 1 0 / 1 1; 1 1 | 0 0; 0 0 bias=1 -1 stride=2 padding=same\n"
        "maxpool2d 2 stride=1\nleaky_relu alpha=0.2\nconv2d out=3 k=2 3 bias=none\nflatten\nlinear out=10 frozen\n")
    assert [line.number for line in lines] == [2, 3, 4, 5, 6, 7]
    conv = specs[0]
    assert conv["weight"].shape == (2, 2, 2, 2)
    assert conv["weight"][1, 0].tolist() == [[1, 1], [1, 1]]
    assert conv["bias"].tolist() == [1, -1] and conv["stride"] == 2 and conv["padding"] == "same"
    assert specs[1] == {"type": "maxpool2d", "kernel_size": 2, "stride": 1}
    assert specs[2] == {"type": "leaky_relu", "alpha": 0.2}
    assert specs[3] == {"type": "conv2d", "out_channels": 3, "kernel_size": (2, 3), "bias": False}
    assert specs[5] == {"type": "linear", "out_features": 10, "frozen": True}


def test_layer_grammar_errors_name_the_line_and_the_layer():
    with pytest.raises(EngineError) as caught:
        parse_layers("relu\n\nconv2d weight=1 2 / 1 2 3")
    assert caught.value.argument == "layers" and caught.value.location == (1,)
    assert caught.value.problem.startswith("line 3 (conv2d weight=1 2 / 1 2 3): ")


def test_generated_digits_are_28_by_28_in_0_to_1_with_two_decimals_and_all_different():
    images = [digit_image(d) for d in range(10)]
    for image in images:
        assert image.shape == (28, 28) and image.min() == 0 and image.max() == 1
        assert np.array_equal(image, np.round(image, 2))
        assert 60 < image.sum() < 200
    assert len({image.tobytes() for image in images}) == 10
    seven = images[7]
    assert seven[6, 7:22].min() == 1 and seven[20:, :10].max() == 0   # the bar on top, nothing bottom left


def test_random_problem_is_reproducible_from_its_seed(client):
    _, first = get_page(client, "/network?random=5")
    _, again = get_page(client, "/network?random=5")
    assert not page_errors(first)
    assert field_value(first, "input") == field_value(again, "input")
    assert "random seed 5" in first.find("div", cls="actions").text
