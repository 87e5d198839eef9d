"""The layer pages (activations, dense, flatten, loss, optimizer, batch norm, dropout) through TestClient:
worked numbers, the pictures and their text alternatives, grids the player can highlight, errors
beside the field, random problems."""

from __future__ import annotations

import json
import re

import pytest

from app.limits import PAGE_STEPS, PAGE_UPDATES
from app.pages.layers import LAYERS, parse_named
from app.pages.walkthrough import WALKTHROUGHS
from engine import EngineError
from test_pages import dom, field_value, get_page, page_errors, steps

SLUGS = [w.slug for w in LAYERS]
PICTURED = [w.slug for w in LAYERS if w.picture]
SCRIPT = "<script>alert(1)</script>"
SOFTMAX = {"input": "2 1 0.1", "function": "softmax"}
SEED000_DENSE = {"input": "4 0 4 3", "weight": "0.2 -0.5 0.4 0.1", "bias": "0.2"}
SEED003_P = "0.01 0.03 0.02 0.10 0.05 0.05 0.01 0.70 0.01 0.02"
CLIPPED_P = "0 0.03 0.02 0.10 0.05 0.05 0.02 0.70 0.01 0.02"
ADAM = {"kind": "adam", "lr": "0.001", "steps": "5"}


def texts(doc, tensor: str, role: str | None = None) -> list[str]:
    """The cells of a tensor's grid in reading order (of the given or the computed copy)."""
    root = doc if role is None else doc.find("div", cls="group", data_role=role)
    return [td.text for td in root.find_all("td", data_t=tensor)]


def picture(doc):
    return doc.find("figure", cls="picture")


# ---------------------------------------------------------------- every page

def test_layer_pages_are_registered_and_in_the_nav(client):
    assert set(SLUGS) <= set(WALKTHROUGHS)
    assert {"activation", "activation/backward", "dense", "dense/backward", "loss", "optimizer", "batchnorm",
            "batchnorm/backward", "dropout"} <= set(SLUGS)
    _, doc = get_page(client, "/")
    nav = [a.attrs["href"] for a in doc.find("nav").find_all("a")]
    for slug in ("activation", "dense", "loss", "optimizer", "batchnorm", "dropout"):
        assert f"/{slug}" in nav
    cards = [a.attrs["href"] for a in doc.find("ul", cls="cards").find_all("a")]
    assert all(f"/{slug}" in cards for slug in SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_layer_page_renders_its_default_problem_with_grids_steps_and_notes(client, slug):
    w = WALKTHROUGHS[slug]
    _, doc = get_page(client, f"/{slug}")
    assert not page_errors(doc)
    for f in w.fields:
        assert field_value(doc, f.name) == f.default
    walk = doc.find("section", cls="walk")
    assert walk.attrs["data-steps-url"].startswith(f"/{slug}/steps?")
    assert doc.find("div", cls="group", data_role="given").find_all("figure", cls="grid")
    assert doc.find("div", cls="group", data_role="computed").find_all("figure", cls="grid")
    listed = steps(doc)
    assert len(listed) == min(int(walk.attrs["data-step-count"]), PAGE_STEPS) >= 1
    assert all(li.find_all("math") for li in listed)
    assert doc.find("ul", cls="notes").find_all("li")          # the conventions in use


@pytest.mark.parametrize("slug,preset", [pytest.param(w.slug, p, id=f"{w.slug}-{p.title[:40]}")
                                         for w in LAYERS for p in w.presets])
def test_layer_worked_example_opens_with_its_values_and_no_error(client, slug, preset):
    _, doc = get_page(client, f"/{slug}", preset.query)
    assert not page_errors(doc), [e.text for e in page_errors(doc)]
    for name, value in preset.query.items():
        assert field_value(doc, name) == value, name
    assert steps(doc)
    if WALKTHROUGHS[slug].picture:
        assert picture(doc).find_all("svg")


@pytest.mark.parametrize("slug", SLUGS)
def test_every_step_target_and_read_names_a_drawn_cell(client, slug):
    """What the player highlights exists: a step's target cell in a computed grid, its reads in some grid
    (a dotted read such as Adam's m.w is found as the computed state.m.w)."""
    w = WALKTHROUGHS[slug]
    queries = [{}] + [p.query for p in w.presets]
    for query in queries:
        _, doc = get_page(client, f"/{slug}", query) if query else get_page(client, f"/{slug}")
        computed = doc.find("div", cls="group", data_role="computed")
        drawn = {(td.attrs["data-t"], td.attrs["data-i"]) for td in doc.find_all("td") if "data-t" in td.attrs}
        written = {(td.attrs["data-t"], td.attrs["data-i"]) for td in computed.find_all("td")}
        for li in steps(doc):
            target = json.loads(li.attrs["data-target"])
            if target is not None:
                assert (target["tensor"], target["index"]) in written, (query, li.attrs["data-id"], target)
            for tensor, indices in json.loads(li.attrs["data-reads"]).items():
                for index in indices:
                    assert any(t == tensor or t.endswith("." + tensor) for t, i in drawn if i == index), \
                        (query, li.attrs["data-id"], tensor, index)


# ---------------------------------------------------------------- the seeds' numbers

def test_dense_seed000_gives_2_9_with_the_products_written_out(client):
    _, doc = get_page(client, "/dense", SEED000_DENSE)
    assert texts(doc, "output") == ["2.9"]
    assert texts(doc, "weight") == ["0.2", "-0.5", "0.4", "0.1"]
    first = steps(doc)[0]
    assert first.attrs["data-say"].endswith("= 2.9")
    assert "0.2(4)" in first.attrs["data-say"] and "(-0.5)(0)" in first.attrs["data-say"]
    assert "(out, in)" in doc.find("ul", cls="notes").text


def test_dense_backward_seed000_gives_the_weight_bias_and_input_gradients(client):
    _, doc = get_page(client, "/dense/backward", {**SEED000_DENSE, "grad_output": "2.9"})
    assert texts(doc, "grad_weight") == ["11.6", "0", "11.6", "8.7"]
    assert texts(doc, "grad_bias") == ["2.9"]
    assert texts(doc, "grad_input") == ["0.58", "-1.45", "1.16", "0.29"]


def test_dense_backward_batch_takes_one_delta_per_row(client):
    _, doc = get_page(client, "/dense/backward", {**SEED000_DENSE, "input": "4 0 4 3\n1 1 1 1", "grad_output": "2.9\n-1"})
    assert not page_errors(doc)
    assert texts(doc, "grad_weight") == ["10.6", "-1", "10.6", "7.7"]


def test_flatten_seed000_feature_map_is_4_0_4_3(client):
    _, doc = get_page(client, "/flatten", {"input": "4 0\n4 3"})
    assert texts(doc, "output") == ["4", "0", "4", "3"]


def test_mse_half_sum_seed000_is_4_205_with_gradient_2_9_and_says_so(client):
    _, doc = get_page(client, "/loss", {"prediction": "2.9", "target": "0", "kind": "mse", "reduction": "half_sum"})
    assert texts(doc, "loss") == ["4.205"]
    assert texts(doc, "grad_input") == ["2.9"]
    notes = doc.find("ul", cls="notes").text
    assert "½" in notes and "mean" in notes                 # which scaling, and PyTorch's other one


def test_mse_mean_is_twice_the_half_sum(client):
    _, doc = get_page(client, "/loss", {"prediction": "2.9", "target": "0", "kind": "mse", "reduction": "mean"})
    assert texts(doc, "loss") == ["8.41"]
    assert texts(doc, "grad_input") == ["5.8"]


def test_cross_entropy_seed003_class_7_is_minus_log_0_7(client):
    _, doc = get_page(client, "/loss", {"prediction": SEED003_P, "target": "7", "kind": "cross_entropy"})
    assert texts(doc, "loss") == ["0.356675"]
    grad = texts(doc, "grad_input")
    assert grad[7] == "-1.42857" and set(grad[:7] + grad[8:]) == {"0"}
    assert texts(doc, "target")[7] == "1"


def test_cross_entropy_with_a_zero_probability_clips_the_log_and_says_so(client):
    _, doc = get_page(client, "/loss", {"prediction": CLIPPED_P, "target": "0", "kind": "cross_entropy"})
    assert texts(doc, "loss") == ["27.631"]
    assert texts(doc, "grad_input")[0] == "0"
    assert "clipped" in doc.find("ul", cls="notes").text
    caption = picture(doc).find("figcaption").text
    assert "clipped" in caption and "27.63" in caption


def test_softmax_seed001_draws_every_intermediate_it_steps_through(client):
    _, doc = get_page(client, "/activation", SOFTMAX)
    assert texts(doc, "max") == ["2"]
    assert texts(doc, "exp") == ["1", "0.367879", "0.149569"]
    assert texts(doc, "sum") == ["1.51745"]
    assert texts(doc, "output") == ["0.659001", "0.242433", "0.0985659"]
    numbered = {td.attrs["data-t"]: td.attrs["data-step"] for td in doc.find_all("td") if "data-step" in td.attrs
                and td.attrs["data-i"] in ("", "0")}
    assert numbered == {"max": "1", "exp": "2", "sum": "5", "output": "6"}
    assert [li.attrs["data-id"] for li in steps(doc)][:5] == ["max", "exp[0]", "exp[1]", "exp[2]", "sum"]


def test_softmax_cross_entropy_gradient_is_p_minus_t(client):
    _, doc = get_page(client, "/loss", {"prediction": "2 1 0.1", "target": "0", "kind": "softmax_cross_entropy"})
    assert texts(doc, "probabilities") == ["0.659001", "0.242433", "0.0985659"]
    assert texts(doc, "grad_input") == ["-0.340999", "0.242433", "0.0985659"]


def test_relu_backward_states_the_derivative_at_zero(client):
    _, doc = get_page(client, "/activation/backward", {"input": "4 0\n4 3", "grad_output": "0.58 -1.45\n1.16 0.29"})
    assert texts(doc, "grad_input") == ["0.58", "0", "1.16", "0.29"]
    assert "derivative is taken as 0" in doc.find("ul", cls="notes").text
    assert "taken as 0" in picture(doc).find("figcaption").text


def test_sgd_seed000_moves_w_and_b(client):
    _, doc = get_page(client, "/optimizer")
    assert texts(doc, "params.w", "computed") == ["-0.96", "-0.5", "-0.76", "-0.77"]
    assert texts(doc, "params.b", "computed") == ["-0.09"]
    assert texts(doc, "params.w", "given") == ["0.2", "-0.5", "0.4", "0.1"]
    assert texts(doc, "grads.w", "given") == ["11.6", "0", "11.6", "8.7"]
    assert [td.text for td in doc.find("div", cls="group", data_role="given").find_all("td", data_t="state.step")] == []


def test_adam_defaults_over_five_updates_carry_the_state(client):
    _, doc = get_page(client, "/optimizer", ADAM)
    assert texts(doc, "state.step", "computed") == ["5"]
    assert texts(doc, "state.step", "given") == ["4"]
    assert texts(doc, "m_hat.w", "computed") == ["11.6", "0", "11.6", "8.7"]   # a constant gradient: m̂ = g
    assert "β" in doc.find("ul", cls="notes").text or "bias-corrected" in doc.find("ul", cls="notes").text
    table = picture(doc).find("table", cls="numbers")
    headers = [th.text for th in table.find_all("th")]
    assert headers == ["t", "m", "m̂", "v", "v̂", "w(1)"]
    rows = [[td.text for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]
    assert [r[0] for r in rows] == ["0", "1", "2", "3", "4", "5"]
    assert rows[0] == ["0", "0", "—", "0", "—", "0.2"]                         # before the first update
    assert rows[1][1:5] == ["1.16", "11.6", "0.13456", "134.56"]
    assert rows[-1][1] == "4.75032"                                              # 11.6 (1 − 0.9⁵)
    assert [r[5] for r in rows] == ["0.2", "0.199", "0.198", "0.197", "0.196", "0.195"]
    assert "m̂: t = 0: not defined, t = 1: 11.6" in picture(doc).find("desc").text


def test_adam_with_weight_decay_adds_lambda_w_to_the_gradient(client):
    _, doc = get_page(client, "/optimizer", {"kind": "adam", "lr": "0.001", "weight_decay": "0.01"})
    assert "λ = 0.01" in doc.find("ul", cls="notes").text
    assert "0.01(0.2)" in steps(doc)[1].attrs["data-say"]        # m of w(1): 11.6 + 0.01(0.2)


def test_optimizer_chart_follows_the_chosen_cell(client):
    _, doc = get_page(client, "/optimizer", {**ADAM, "watch": "w 4"})
    table = picture(doc).find("table", cls="numbers")
    assert [th.text for th in table.find_all("th")][-1] == "w(4)"
    assert table.find("tbody").find_all("tr")[1].find_all("td")[1].text == "0.87"     # 0.1 × 8.7


def test_dropout_classic_at_test_time_scales_by_one_minus_p(client):
    _, doc = get_page(client, "/dropout", {"input": "1 2 3 4\n5 6 7 8", "variant": "classic", "training": "false"})
    assert texts(doc, "output") == ["0.5", "1", "1.5", "2", "2.5", "3", "3.5", "4"]
    assert "1 − p" in doc.find("ul", cls="notes").text
    assert not doc.find_all("td", data_t="mask")


def test_dropout_inverted_training_doubles_the_kept_cells_and_draws_the_mask_once(client):
    _, doc = get_page(client, "/dropout", {"input": "1 2 3 4\n5 6 7 8", "mask": "1 0 1 1\n0 1 1 0"})
    assert texts(doc, "output") == ["2", "0", "6", "8", "0", "12", "14", "0"]
    assert texts(doc, "mask", "given") == ["1", "0", "1", "1", "0", "1", "1", "0"]
    assert texts(doc, "mask", "computed") == []


def test_dropout_from_a_seed_is_the_same_mask_every_time(client):
    first = get_page(client, "/dropout", {"seed": "7"})[1]
    again = get_page(client, "/dropout", {"seed": "7"})[1]
    assert texts(first, "mask") == texts(again, "mask") and set(texts(first, "mask")) <= {"0", "1"}


def test_batchnorm_means_and_running_statistics(client):
    _, doc = get_page(client, "/batchnorm")
    assert texts(doc, "mean") == ["3", "25", "1"]
    assert texts(doc, "running_mean", "given") == ["0", "0", "0"]
    assert texts(doc, "running_mean", "computed") == ["0.3", "2.5", "0.1"]
    assert "unbiased" in doc.find("ul", cls="notes").text


def test_batchnorm_backward_beta_gradient_sums_delta(client):
    _, doc = get_page(client, "/batchnorm/backward")
    assert texts(doc, "grad_bias") == ["2", "2", "0"]


# ---------------------------------------------------------------- pictures

@pytest.mark.parametrize("slug", PICTURED)
def test_picture_is_inline_svg_with_a_text_alternative(client, slug):
    response, doc = get_page(client, f"/{slug}")
    figure = picture(doc)
    assert figure.find("h3").text.strip()
    assert figure.find("figcaption").text.strip()
    for svg in figure.find_all("svg"):
        assert svg.attrs["role"] == "img" and re.fullmatch(r"0 0 \d+ \d+", svg.attrs["viewbox"])
        assert "width" not in svg.attrs                             # scales with the page
        title_id, desc_id = svg.attrs["aria-labelledby"].split()
        assert svg.find("title", id=title_id).text.strip()
        assert len(svg.find("desc", id=desc_id).text) > 40          # the chart in words, numbers included
        assert svg.find_all("path") or svg.find_all("rect")
    svg_text = response.text[response.text.index("<svg class=\"chart\""):response.text.rindex("</svg>")]
    assert not re.search(r"(href|src)=", svg_text)                 # nothing fetched: no files, no CDN


def test_activation_backward_picture_marks_each_input_with_its_slope(client):
    _, doc = get_page(client, "/activation/backward")        # x = -2 -0.5 0 0.5 2, ReLU
    svg = picture(doc).find("svg")
    assert len(svg.find_all("circle", cls="point")) == 5
    assert len(svg.find_all("line", cls="tangent")) == 5
    desc = svg.find("desc").text
    assert "x = 0 gives 0 with slope 0" in desc and "x = 2 gives 2 with slope 1" in desc
    rows = [[td.text for td in tr.find_all("td")] for tr in picture(doc).find("tbody").find_all("tr")]
    assert rows == [["-2", "0", "0"], ["-0.5", "0", "0"], ["0", "0", "0"], ["0.5", "0.5", "1"], ["2", "2", "1"]]


def test_activation_forward_picture_has_no_slopes(client):
    _, doc = get_page(client, "/activation", {"input": "-2 0 2", "function": "sigmoid"})
    svg = picture(doc).find("svg")
    assert len(svg.find_all("circle", cls="point")) == 3 and not svg.find_all("line", cls="tangent")
    assert "x = 0 gives 0.5" in svg.find("desc").text


def test_softmax_picture_is_one_bar_per_class(client):
    _, doc = get_page(client, "/activation", SOFTMAX)
    svg = picture(doc).find("svg")
    assert len(svg.find_all("rect", cls="bar")) == 3
    assert [t.text for t in svg.find_all("text", cls="value")] == ["0.659", "0.242", "0.0986"]
    assert "class 1: z = 2, p = 0.659" in svg.find("desc").text


def test_loss_picture_marks_the_current_value_and_the_gradient(client):
    _, doc = get_page(client, "/loss", {"prediction": "2.9", "target": "0", "kind": "mse", "reduction": "half_sum"})
    svg = picture(doc).find("svg")
    assert len(svg.find_all("circle", cls="here")) == 1
    line = svg.find("line", cls="tangent")
    x1, y1, x2, y2 = (float(line.attrs[k]) for k in ("x1", "y1", "x2", "y2"))
    assert y2 < y1 and x2 > x1                                   # rising: the gradient 2.9 is positive
    assert "gives L = 4.205" in svg.find("desc").text and "gradient there is 2.9" in svg.find("desc").text
    assert "∂L/∂ŷ(1) = 2.9" in picture(doc).find("figcaption").text


def test_optimizer_sgd_picture_charts_the_parameter(client):
    _, doc = get_page(client, "/optimizer", {"steps": "3"})
    figure = picture(doc)
    assert len(figure.find_all("svg")) == 1
    rows = [[td.text for td in tr.find_all("td")] for tr in figure.find("tbody").find_all("tr")]
    assert rows == [["0", "0.2"], ["1", "-0.96"], ["2", "-2.12"], ["3", "-3.28"]]


def test_long_optimizer_run_shortens_its_table(client):
    _, doc = get_page(client, "/optimizer", {"kind": "momentum", "lr": "0.01", "steps": "20"})
    rows = [[td.text for td in tr.find_all("td")] for tr in picture(doc).find("tbody").find_all("tr")]
    assert len(rows) == 11 and rows[5][0] == "…" and rows[-1][0] == "20"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the engine's own overflow, on purpose here
@pytest.mark.parametrize("slug,params", [("loss", {"prediction": "1e300", "target": "0"}),
                                         ("activation", {"input": "1e308 -1e308", "function": "tanh"}),
                                         ("optimizer", {"grads": "w: 1e300 1 1 1\nb: 1", "kind": "adam"})])
def test_numbers_too_large_to_chart_say_so_instead_of_a_chart(client, slug, params):
    _, doc = get_page(client, f"/{slug}", params)
    assert not page_errors(doc) and steps(doc)
    figure = picture(doc)
    assert not figure.find_all("svg") and "too large" in figure.find("figcaption").text


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("slug,params,field,words", [
    ("activation", {"input": "1 2; 3 x"}, "input", "row 2, column 2"),
    ("activation", {"function": "swish"}, "function", "relu"),
    ("activation", {"function": "leaky_relu", "alpha": "abc"}, "alpha", "not a number"),
    ("activation/backward", {"grad_output": "1 2"}, "grad_output", "shape"),
    ("dense", {"weight": "0.2 -0.5 0.4"}, "weight", "3 inputs per neuron"),
    ("dense", {"weight": "0.2; -0.5; 0.4; 0.1"}, "weight", "transpose"),
    ("dense", {"bias": "1 2"}, "bias", "one number per output neuron"),
    ("dense/backward", {"grad_output": "1 2"}, "grad_output", "shape"),
    ("loss", {"prediction": "2.9 x"}, "prediction", "column 2"),
    ("loss", {"target": "1 2"}, "target", "shape"),
    ("loss", {"kind": "cross_entropy", "prediction": SEED003_P, "target": "12"}, "target", "not one of the 10"),
    ("loss", {"kind": "cross_entropy", "prediction": SEED003_P, "target": "7", "reduction": "half_sum"},
     "reduction", "½"),
    ("optimizer", {"params": "w 0.2 -0.5"}, "params", "line 1"),
    ("optimizer", {"params": "w: 0.2\nb: 0.1 y"}, "params", "line 2"),
    ("optimizer", {"grads": "w: 11.6 0 11.6\nb: 2.9"}, "grads", "shape"),
    ("optimizer", {"grads": "w: 1 2 3 4\nb: 1\nc: 1"}, "grads", "'c'"),
    ("optimizer", {"lr": "fast"}, "lr", "not a number"),
    ("optimizer", {"steps": "0"}, "steps", f"from 1 to {PAGE_UPDATES}"),
    ("optimizer", {"watch": "v 1"}, "watch", "not one of the parameters"),
    ("optimizer", {"watch": "w 9"}, "watch", "shape"),
    ("optimizer", {"kind": "adam", "betas": "0.9"}, "betas", "two numbers"),
    ("batchnorm", {"gamma": "1 2"}, "gamma", "one per feature"),
    ("batchnorm", {"input": "1 2 3"}, "input", "more than 1 value"),
    ("batchnorm/backward", {"grad_output": "1 2"}, "grad_output", "shape"),
    ("dropout", {"p": "1"}, "p", "below 1"),
    ("dropout", {"mask": "1 2"}, "mask", "shape"),
    ("dropout", {"seed": "-3"}, "seed", "from 0"),
    ("dropout", {"seed": "1.5"}, "seed", "whole number"),
])
def test_bad_input_is_reported_beside_its_field_and_the_text_is_kept(client, slug, params, field, words):
    _, doc = get_page(client, f"/{slug}", params)
    error = doc.find("p", cls="error", id=f"e-{field}")
    assert words in error.text, error.text
    assert error.ancestor("field") is doc.find(id=f"f-{field}").ancestor("field")
    for name, value in params.items():
        if doc.find(id=f"f-{name}").tag != "select":     # a select shows only its own choices
            assert field_value(doc, name) == value
    assert not doc.find_all("section", cls="walk")


def test_a_wrong_shape_keeps_every_line_typed(client):
    text = "0.2 -0.5\n0.4 0.1 9"
    _, doc = get_page(client, "/dense", {"weight": text})
    assert field_value(doc, "weight") == text
    assert "row 2" in doc.find(id="e-weight").text


@pytest.mark.parametrize("slug,field", [("activation", "input"), ("dense", "weight"), ("loss", "target"),
                                        ("optimizer", "params"), ("optimizer", "watch"), ("dropout", "seed"),
                                        ("batchnorm", "gamma")])
def test_script_typed_into_a_field_comes_back_as_text(client, slug, field):
    response, doc = get_page(client, f"/{slug}", {field: SCRIPT})
    assert SCRIPT not in response.text
    assert "&lt;script&gt;" in response.text
    assert field_value(doc, field) == SCRIPT


# ---------------------------------------------------------------- random problems and more steps

@pytest.mark.parametrize("slug", SLUGS)
def test_random_button_gives_a_computed_problem_from_the_shown_seed(client, slug):
    _, doc = get_page(client, f"/{slug}", {"random": "5"})
    assert not page_errors(doc), [e.text for e in page_errors(doc)]
    assert steps(doc)
    assert "random seed 5" in doc.find("div", cls="actions").text
    again = get_page(client, f"/{slug}", {"random": "5"})[1]
    assert [field_value(again, f.name) for f in WALKTHROUGHS[slug].fields] == \
           [field_value(doc, f.name) for f in WALKTHROUGHS[slug].fields]
    button = doc.find("a", cls="button")
    assert button.attrs["href"] == f"/{slug}?random=6"


def test_steps_fragment_serves_the_later_steps_of_a_layer_page(client):
    response = client.get("/batchnorm/steps", params={"offset": str(PAGE_STEPS)})
    assert response.status_code == 200
    later = dom(response.text).find_all("li", cls="step")
    assert later and later[0].attrs["id"] == f"step-{PAGE_STEPS + 1}"


def test_named_parameters_read_one_per_line():
    named = parse_named("w: 0.2 -0.5 0.4 0.1\nb: 0.2\n\nW: 1 2; 3 4", "params")
    assert list(named) == ["w", "b", "W"]
    assert named["w"].tolist() == [0.2, -0.5, 0.4, 0.1] and named["b"] == 0.2
    assert named["W"].tolist() == [[1, 2], [3, 4]]
    with pytest.raises(EngineError, match="line 2: 'w' is given twice"):
        parse_named("w: 1\nw: 2", "params")
    with pytest.raises(EngineError, match="is empty"):
        parse_named("  \n", "grads")
