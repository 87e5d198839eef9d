"""Check my answer on the walkthrough pages, through TestClient: the form under every walkthrough, a right
answer, a wrong one marked cell by cell in the output's grid with the usual mistake named and the steps
to study, one cell at a time, answers the check refuses (beside the box, the text kept), escaping."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pytest

from app.pages.walkthrough import WALKTHROUGHS
from engine import conv2d_backward
from test_pages import field_value, get_page

SCRIPT = "<script>alert(1)</script>"
SEED000 = {"input": "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1", "kernel": "1 -1 0; 0 1 -1; 1 0 1"}   # z = 4 0; 4 3
FLIPPED = "2 0; 5 0"          # seed 000 worked as a true convolution (the kernel rotated 180°)


def check(client, slug: str, answer: str, **query: str):
    """The page with an answer checked; the parsed document."""
    return get_page(client, f"/{slug}", {**query, "answer": answer})[1]


def verdict(doc):
    found = doc.find_all("div", cls="verdict")
    assert len(found) == 1, "expected one verdict"
    return found[0]


def wrong_cells(doc, tensor: str) -> list[str]:
    return sorted(td.attrs["data-i"] for td in doc.find_all("td", data_t=tensor) if "wrong" in td.classes)


def study_links(doc) -> list[str]:
    return [a.attrs["href"] for a in verdict(doc).find_all("a")]


def answer_error(doc, name: str = "answer"):
    """The message beside a box of the check form, checking that it sits in the box's own field."""
    box = doc.find(id=f"f-{name}")
    assert box.attrs.get("aria-invalid") == "true"
    assert f"e-{name}" in box.attrs["aria-describedby"].split()
    message = doc.find("p", cls="error", id=f"e-{name}")
    assert message.ancestor("field") is box.ancestor("field")
    assert "invalid" in box.ancestor("field").classes
    return message.text


def form_query(doc) -> dict[str, str]:
    """What submitting the check form sends, before the answer is typed."""
    form = doc.find("form", cls="check-answer")
    return {i.attrs["name"]: i.attrs.get("value") or "" for i in form.find_all("input", type="hidden")}


# ---------------------------------------------------------------- every page

@pytest.mark.parametrize("slug", list(WALKTHROUGHS))
def test_every_walkthrough_has_a_check_form_that_carries_its_problem(client, slug):
    _, doc = get_page(client, f"/{slug}")
    form = doc.find("form", cls="check-answer")
    assert form.attrs["method"] == "get"
    assert form.attrs["action"] == f"/{slug}#check"
    assert form.ancestor("check") is not None and form.ancestor("walk") is not None
    assert form_query(doc) == {f.name: field_value(doc, f.name) for f in WALKTHROUGHS[slug].fields}
    assert doc.find("textarea", id="f-answer").attrs["name"] == "answer"
    assert doc.find("input", id="f-answer_cell").attrs["name"] == "answer_cell"
    assert not doc.find_all("div", cls="verdict")


@pytest.mark.parametrize("slug", list(WALKTHROUGHS))
def test_every_walkthrough_says_right_to_its_own_output(client, slug):
    _, doc = get_page(client, f"/{slug}")
    outputs = doc.find_all("select", id="f-answer_output")
    name = outputs[0].find_all("option")[0].attrs["value"] if outputs else None
    grid = doc.find("div", cls="group", data_role="computed").find_all("figure", cls="grid")
    tensor = name or grid[0].attrs["data-tensor"]
    figure = next(g for g in grid if g.attrs["data-tensor"] == tensor)
    (panel,) = figure.find_all("div", cls="panel")           # the default problems have one channel
    rows = [[td.text for td in tr.find_all("td")] for tr in panel.find_all("tr")]      # typed as shown
    answer = "; ".join(" ".join(row) for row in rows)
    doc = check(client, slug, answer, **form_query(doc), **({"answer_output": name} if name else {}))
    assert "right" in verdict(doc).classes, verdict(doc).text
    assert verdict(doc).find("p", cls="diagnosis").text.startswith("Right")
    assert not doc.find_all("td", cls="wrong")


def test_a_checked_answer_is_a_link_built_from_the_form(client):
    _, doc = get_page(client, "/conv2d", {"random": "7"})
    assert "random" not in form_query(doc)                    # the problem itself, not the dice
    again = check(client, "conv2d", "1 2; 3 4", **form_query(doc))
    assert [field_value(again, f.name) for f in WALKTHROUGHS["conv2d"].fields] == list(form_query(doc).values())
    assert verdict(again)


# ---------------------------------------------------------------- right and wrong

def test_seed000_right_answer_says_so(client):
    doc = check(client, "conv2d", "4 0; 4 3", **SEED000)
    v = verdict(doc)
    assert "right" in v.classes
    assert "Right." in v.find("p", cls="verdict-line").text
    assert "✓" in v.text
    assert wrong_cells(doc, "output") == []


def test_seed000_with_the_kernel_flipped_names_the_flip_and_marks_the_three_wrong_cells(client):
    doc = check(client, "conv2d", FLIPPED, **SEED000)
    v = verdict(doc)
    assert "wrong" in v.classes and v.attrs["data-mistake"] == "kernel_flipped"
    assert "Not right." in v.text and "✗" in v.text
    assert "rotated 180°" in v.find("p", cls="diagnosis").text
    assert wrong_cells(doc, "output") == ["0,0", "1,0", "1,1"]
    items = [li.text for li in v.find("ul", cls="wrong-cells").find_all("li")]
    assert items[0].startswith("Output z(1,1): you wrote 2, it is 4")
    assert items[1].startswith("Output z(2,1): you wrote 5, it is 4")
    assert study_links(doc) == ["#step-1", "#step-3", "#step-4"]
    assert [a.text for a in v.find_all("a")] == ["Study step 1", "Study step 3", "Study step 4"]
    for href, cell in zip(study_links(doc), ["0,0", "1,0", "1,1"]):          # each link opens the cell's step
        assert doc.find("li", id=href[1:]).attrs["data-id"] == f"output[{cell}]"
    assert field_value(doc, "answer") == FLIPPED                               # the answer stays in the box


def test_the_wrong_cells_are_marked_in_the_computed_grid_only(client):
    doc = check(client, "conv2d", "4 0; 4 7", **SEED000)
    marked = doc.find_all("td", cls="wrong")
    assert [td.attrs["data-i"] for td in marked] == ["1,1"]
    assert marked[0].ancestor("group").attrs["data-role"] == "computed"
    assert marked[0].text == "3"                                                 # the grid keeps the right value


def test_an_unexplained_wrong_cell_shows_its_step_to_compare_term_by_term(client):
    doc = check(client, "conv2d", "4 0; 4 7", **SEED000)
    v = verdict(doc)
    assert "data-mistake" not in v.attrs
    assert "(2,2)" in v.find("p", cls="diagnosis").text
    study = v.find("div", cls="study")
    assert study.find("a").attrs["href"] == "#step-4"
    assert "Output z(2,2)" in study.text
    assert study.find("math").attrs["alttext"].startswith("z_{2,2} = 1(1) + 0(-1)")


def test_pooling_averaged_instead_of_max_is_named(client):
    doc = check(client, "pool2d", "3.5 4.25; 3.25 5")
    assert verdict(doc).attrs["data-mistake"] == "pool_kind"
    assert "averaged" in verdict(doc).find("p", cls="diagnosis").text
    assert wrong_cells(doc, "output") == ["0,0", "0,1", "1,0", "1,1"]


def test_the_weight_gradient_rotated_is_named_on_the_backward_page(client):
    x = np.array([[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]])
    k = np.array([[1, -1, 0], [0, 1, -1], [1, 0, 1]])
    grad_w = conv2d_backward(x, k, np.array([[1, 2], [3, 4]])).outputs["grad_weight"]
    rotated = "; ".join(" ".join(f"{v:g}" for v in row) for row in grad_w[::-1, ::-1])
    doc = check(client, "conv2d/backward", rotated, **SEED000, grad_output="1 2; 3 4", answer_output="grad_weight")
    assert verdict(doc).attrs["data-mistake"] == "kernel_flipped"
    assert "rotated 180°" in verdict(doc).text
    assert wrong_cells(doc, "grad_weight") and wrong_cells(doc, "grad_input") == []
    chosen = [o for o in doc.find("select", id="f-answer_output").find_all("option") if "selected" in o.attrs]
    assert [o.attrs["value"] for o in chosen] == ["grad_weight"]


@pytest.mark.parametrize("slug,answer,query,mistake", [
    ("conv1d", "10 13", {}, "kernel_flipped"),
    ("activation", "-2 -0.5 0 0.5 2", {}, "activation_skipped"),
    ("optimizer", "1.36 -0.5 1.56 0.97", {"answer_output": "params.w"}, "update_added"),
    ("output-size", "3", {}, "size_rounding"),
])
def test_layer_and_size_pages_name_the_usual_mistake(client, slug, answer, query, mistake):
    doc = check(client, slug, answer, **query)
    assert verdict(doc).attrs.get("data-mistake") == mistake, verdict(doc).text


# ---------------------------------------------------------------- one cell

def test_one_cell_right(client):
    doc = check(client, "conv2d", "3", **SEED000, answer_cell="2, 2")
    assert "right" in verdict(doc).classes
    assert verdict(doc).find("p", cls="diagnosis").text == "Right: 3."
    assert field_value(doc, "answer_cell") == "2, 2"


def test_one_cell_wrong_marks_that_cell_and_links_its_step(client):
    doc = check(client, "conv2d", "5", **SEED000, answer_cell="2 2")
    assert "wrong" in verdict(doc).classes
    assert wrong_cells(doc, "output") == ["1,1"]
    assert "#step-4" in study_links(doc)
    assert "1 of 1 cell wrong" in verdict(doc).text


# ---------------------------------------------------------------- answers the check refuses

@pytest.mark.parametrize("answer,words", [
    ("1 2; 3", "row 2 has 1 number but row 1 has 2"),
    ("1 2 3; 4 5 6", "shape (2, 2)"),
    ("1 x; 3 4", "row 1, column 2"),
    ("", "is empty"),
])
def test_a_bad_answer_is_reported_beside_the_box_with_the_text_kept(client, answer, words):
    doc = check(client, "conv2d", answer, **SEED000)
    assert words in answer_error(doc)
    assert field_value(doc, "answer") == answer
    assert not doc.find_all("div", cls="verdict")
    assert not doc.find_all("td", cls="wrong")


def test_one_number_for_a_whole_output_suggests_giving_the_cell(client):
    doc = check(client, "pool2d", "6")
    assert "give its row and column" in answer_error(doc)


@pytest.mark.parametrize("cell,words", [("3, 2", "outside the output"), ("2", "two numbers (row, column)"),
                                        ("a b", "whole numbers")])
def test_a_bad_cell_is_reported_beside_the_cell_box(client, cell, words):
    doc = check(client, "conv2d", "3", **SEED000, answer_cell=cell)
    assert words in answer_error(doc, "answer_cell")
    assert field_value(doc, "answer_cell") == cell
    assert field_value(doc, "answer") == "3"


def test_an_unknown_output_is_reported_beside_the_choice(client):
    doc = check(client, "conv2d/backward", "1", answer_output="grad_nothing")
    assert "is not an output here" in answer_error(doc, "answer_output")


# ---------------------------------------------------------------- escaping

@pytest.mark.parametrize("params", [{"answer": SCRIPT}, {"answer": "1 2; 3 4", "answer_cell": SCRIPT},
                                    {"answer": "1", "answer_output": SCRIPT},
                                    {"answer": '1 2"><img src=x onerror=alert(1)>; 3 4'}])
def test_script_in_the_answer_is_escaped_everywhere(client, params):
    response, doc = get_page(client, "/conv2d", {**SEED000, **params})
    assert SCRIPT not in response.text
    assert "<img" not in response.text
    assert [s.attrs.get("src") for s in doc.find_all("script")] == ["/static/player.js", "/static/present.js"]
    assert doc.find_all("p", cls="error")
    assert field_value(doc, "answer") == params["answer"]


# ---------------------------------------------------------------- the presentation link

@pytest.mark.parametrize("path", ["/conv2d", "/pool2d/backward", "/loss", "/network"])
def test_present_link_adds_present_to_the_problem_and_leaves_without_it(client, path):
    _, doc = get_page(client, path)
    assert "present" not in doc.find("body").classes
    on = doc.find("a", cls="present-on")
    off = doc.find("a", data_present="off")
    url = urlsplit(on.attrs["href"])
    assert url.path == path and ("present", "1") in parse_qsl(url.query)
    assert dict(parse_qsl(urlsplit(off.attrs["href"]).query, keep_blank_values=True)) == \
           {k: v for k, v in parse_qsl(url.query, keep_blank_values=True) if k != "present"}
    _, shown = get_page(client, on.attrs["href"])
    assert "present" in shown.find("body").classes


def test_present_mode_renders_every_step_without_the_script(client):
    _, doc = get_page(client, "/conv2d?" + urlencode({**SEED000, "present": "1"}))
    assert "present" in doc.find("body").classes
    assert len(doc.find("ol", cls="steps").find_all("li", cls="step")) == 4


def test_present_mode_can_be_opened_with_a_checked_answer(client):
    _, doc = get_page(client, "/conv2d", {**SEED000, "answer": FLIPPED, "present": "1"})
    assert "present" in doc.find("body").classes
    assert verdict(doc).attrs["data-mistake"] == "kernel_flipped"
