"""Practice through the app: the JSON route for every op, whose answer key agrees with the op's own
route; the page (checking, hints, the answer, the walkthrough links); the worksheets as HTML, LaTeX
and Markdown; and clear refusals of a bad op, difficulty, seed or count."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

import engine
from app import schemas
from app.limits import WORKSHEET_PROBLEMS
from app.pages.practice import (OUTPUT_LABELS, SETTING_LABELS, TENSOR_LABELS, shown, typed,
                                walkthrough_query)
from app.pages.walkthrough import WALKTHROUGHS
from app.pages.worksheets import TEX_MATH, latex, markdown, md_text, tex_text
from engine.practice import DIFFICULTIES, PRACTICE_OPS, work
from engine.trace import _flatten
from test_pages import dom, get_page, page_errors

CASES = [(op, level) for op in PRACTICE_OPS for level in DIFFICULTIES]
CONV11 = {"op": "conv2d", "difficulty": "easy", "seed": "11"}   # 3×3 input, 2×2 kernel: z = [[4, -4], [2, 10]]


def practice_page(client, **query):
    return get_page(client, "/practice", {**CONV11, **{k: str(v) for k, v in query.items()}})


def _route_output(client, op: str, problem: dict, output: str):
    response = client.post(f"/api/v1/{op}", json=problem)
    assert response.status_code == 200, response.text
    return _flatten(response.json()["outputs"])[output]


# --- GET /api/v1/practice/{op} --------------------------------------------------------------------

@pytest.mark.parametrize("op,level", CASES)
def test_api_draws_the_engines_problem_for_every_op(client, op, level):
    response = client.get(f"/api/v1/practice/{op}", params={"seed": 7, "difficulty": level})
    assert response.status_code == 200, response.text
    body = response.json()
    schemas.PracticeResponse.model_validate(body)
    assert body == json.loads(json.dumps(engine.practice(op, seed=7, difficulty=level)))
    assert (body["op"], body["seed"], body["difficulty"]) == (op, 7, level)


@pytest.mark.parametrize("op,level", CASES)
def test_the_answer_key_agrees_with_the_ops_own_route(client, op, level):
    for seed in (0, 1, 2):
        body = client.get(f"/api/v1/practice/{op}", params={"seed": seed, "difficulty": level}).json()
        routed = _route_output(client, op, body["problem"], body["output"])
        np.testing.assert_allclose(np.asarray(body["answer"], float), np.asarray(routed, float), rtol=0, atol=0)


@pytest.mark.parametrize("op,level", [(op, "hard") for op in PRACTICE_OPS])
def test_the_answer_key_is_right_for_the_check_route(client, op, level):
    body = client.get(f"/api/v1/practice/{op}", params={"seed": 4, "difficulty": level}).json()
    checked = client.post("/api/v1/check", json={"op": op, "problem": body["problem"], "answer": body["answer"]})
    assert checked.status_code == 200, checked.text
    assert checked.json()["correct"] is True and checked.json()["output"] == body["output"]


def test_an_op_with_a_slash_may_be_written_encoded(client):
    plain = client.get("/api/v1/practice/conv2d/backward?seed=3").json()
    encoded = client.get("/api/v1/practice/conv2d%2Fbackward?seed=3").json()
    assert plain == encoded and plain["op"] == "conv2d/backward"


def test_a_missing_seed_is_drawn_and_returned(client):
    body = client.get("/api/v1/practice/pool2d").json()
    assert 0 <= body["seed"] <= 2**32 - 1 and body["difficulty"] == "easy"
    again = client.get("/api/v1/practice/pool2d", params={"seed": body["seed"]}).json()
    assert again == body


@pytest.mark.parametrize("path", ["/api/v1/practice/nope", "/api/v1/practice/network", "/api/v1/practice/conv2d/x",
                                  "/api/v1/practice/"])
def test_an_unknown_op_is_a_422_naming_op_with_the_list(client, path):
    response = client.get(path, params={"seed": 1})
    assert response.status_code == 422 and "Traceback" not in response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["path", "op"]
    assert "'conv2d/backward'" in error["msg"] and "'output-size'" in error["msg"]


@pytest.mark.parametrize("query,field", [({"seed": -1}, "seed"), ({"seed": 2**32}, "seed"), ({"seed": "x"}, "seed"),
                                         ({"seed": 1.5}, "seed"), ({"difficulty": "expert"}, "difficulty"),
                                         ({"difficulty": "Easy"}, "difficulty")])
def test_a_bad_seed_or_difficulty_is_a_422_naming_it(client, query, field):
    response = client.get("/api/v1/practice/conv2d", params=query)
    assert response.status_code == 422 and "Traceback" not in response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["query", field]]


def test_the_largest_seed_is_taken(client):
    assert client.get("/api/v1/practice/dense", params={"seed": 2**32 - 1}).json()["seed"] == 2**32 - 1


def test_openapi_documents_the_practice_route(client):
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/practice/{op}"]["get"]
    assert operation["tags"] == ["practice"]
    assert "422" in operation["responses"] and set(operation["responses"]) <= {"200", "404", "414", "422"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PracticeResponse"}
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters["op"]["schema"]["enum"]) == set(PRACTICE_OPS)
    assert (parameters["seed"]["schema"]["anyOf"][0]["minimum"], parameters["seed"]["schema"]["anyOf"][0]["maximum"]) \
        == (0, 2**32 - 1)
    example = spec["components"]["schemas"]["PracticeResponse"]["examples"][0]
    assert example == client.get(f"/api/v1/practice/{example['op']}", params={"seed": example["seed"]}).json()


# --- the page --------------------------------------------------------------------------------------

def test_practice_without_a_seed_redirects_to_an_address_that_holds_the_problem(client):
    response = client.get("/practice", params={"op": "dense", "difficulty": "medium"}, follow_redirects=False)
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["op"] == ["dense"] and query["difficulty"] == ["medium"] and query["seed"][0].isdigit()
    first = client.get("/practice", follow_redirects=False)
    assert parse_qs(urlsplit(first.headers["location"]).query)["op"] == ["conv2d"]


def test_the_page_shows_the_problem_as_grids_and_an_answer_box(client):
    _, doc = practice_page(client)
    assert not page_errors(doc)
    main = doc.find("section", cls="practice-main")
    assert "3×3 input x" in main.find("p", cls="prompt").text
    given = [[td.text for td in g.find_all("td")] for g in main.find("div", cls="grids").find_all("figure")]
    assert given == [["4", "1", "2", "2", "3", "-3", "1", "-2", "0"], ["2", "0", "-2", "0"]]
    form = doc.find("form", cls="answer")
    hidden = {i.attrs["name"]: i.attrs["value"] for i in form.find_all("input") if i.attrs.get("type") == "hidden"}
    assert hidden == CONV11
    assert doc.find("textarea", id="f-answer").attrs["name"] == "answer"
    assert not doc.find_all("section", cls="verdict") and not doc.find_all("section", cls="answer-key")


def test_a_right_answer_is_right(client):
    _, doc = practice_page(client, answer="4 -4\n2 10")
    verdict = doc.find("section", cls="verdict")
    assert "right" in verdict.classes and verdict.find("h3").text == "Right"
    assert not doc.find_all("td", cls="wrong")


def test_a_wrong_answer_marks_its_cells_and_names_the_mistake(client):
    _, doc = practice_page(client, answer="4 -10; -10 6")   # the kernel rotated first
    verdict = doc.find("section", cls="verdict")
    assert "wrong" in verdict.classes
    assert "rotated 180°" in verdict.find("p", cls="diagnosis").text
    marked = {td.attrs["data-i"] for td in verdict.find_all("td", cls="wrong")}
    assert marked == {"0,1", "1,0", "1,1"}
    assert "(1,2), (2,1), (2,2)" in verdict.find("p", cls="wrong-list").text


def test_a_wrong_answer_links_to_the_step_to_study_in_the_walkthrough(client):
    _, doc = practice_page(client, answer="4 -4; 2 9")
    verdict = doc.find("section", cls="verdict")
    assert "(2,2)" in verdict.find("p", cls="diagnosis").text
    link = verdict.find("p", cls="study").find("a")
    href = link.attrs["href"]
    assert link.text.startswith("Study step 4")
    url = urlsplit(href)
    assert url.path == "/conv2d" and url.fragment == "step-4"
    _, walk = get_page(client, f"{url.path}?{url.query}")
    assert not page_errors(walk)
    assert walk.find("li", id="step-4").attrs["data-id"] == "output[1,1]"


def test_typed_decimals_decide_how_close_an_answer_must_be(client):
    drawn = engine.practice("batchnorm", seed=37, difficulty="hard")   # one cell is 1.0015: "1.00" to 3 figures
    written = np.array([f"{v:#.3g}" for v in np.ravel(drawn["answer"])], dtype=object).reshape(2, 2, 2)
    assert "1.00" in written.tolist()[1][0]
    assert not engine.check_answer("batchnorm", drawn["problem"], written.astype(float).tolist()).correct
    text = "\n\n".join("\n".join(" ".join(row) for row in block) for block in written)
    _, doc = get_page(client, "/practice", {"op": "batchnorm", "difficulty": "hard", "seed": "37", "answer": text})
    assert doc.find("section", cls="verdict").find("h3").text == "Right"
    assert typed("1.00 2.5", np.array([[1.0, 2.5]])) == [["1.00", "2.5"]]
    assert typed("1/2 3", np.array([[0.5, 3.0]])) == [[0.5, 3.0]]


@pytest.mark.parametrize("answer,message", [("4 -4; 2 x", "'x'"), ("1 2 3", "shape"), ("4 -4\n2", "")])
def test_an_answer_that_cannot_be_read_is_named_beside_the_box(client, answer, message):
    response, doc = practice_page(client, answer=answer)
    error = doc.find("p", id="e-answer")
    assert message in error.text and error.attrs.get("role") == "alert"
    assert doc.find("textarea", id="f-answer").attrs.get("aria-invalid") == "true"
    assert "Traceback" not in response.text


def test_hints_reveal_the_steps_one_at_a_time(client):
    _, doc = practice_page(client)
    assert not doc.find_all("section", cls="hints")
    first = [a for a in doc.find("form", cls="answer").find_all("a") if a.text.startswith("Show a hint")]
    assert first and first[0].text == "Show a hint (1 of 4)"
    assert parse_qs(urlsplit(first[0].attrs["href"]).query)["hints"] == ["1"]
    _, doc = practice_page(client, hints=2)
    hints = doc.find("section", cls="hints")
    steps = hints.find_all("li", cls="step")
    assert [s.attrs["data-id"] for s in steps] == ["output[0,0]", "output[0,1]"]
    assert hints.find("h3").text == "Hints: 2 of 4 steps"
    following = [a for a in doc.find_all("a") if a.text.startswith("Next hint")]
    assert parse_qs(urlsplit(following[0].attrs["href"]).query)["hints"] == ["3"]
    assert urlsplit(following[0].attrs["href"]).fragment == "step-3"


@pytest.mark.parametrize("hints,shown", [("9", 4), ("abc", 0), ("-1", 0), ("4", 4)])
def test_a_hint_count_out_of_range_is_read_sensibly(client, hints, shown):
    _, doc = practice_page(client, hints=hints)
    assert len(doc.find_all("li", cls="step")) == shown
    more = [a for a in doc.find_all("a") if a.text.startswith(("Next hint", "Show a hint"))]
    assert bool(more) == (shown < 4)


def test_hints_and_an_answer_are_kept_together(client):
    _, doc = practice_page(client, hints=1, answer="4 -4; 2 10")
    assert doc.find("section", cls="verdict").find("h3").text == "Right"
    assert len(doc.find("section", cls="hints").find_all("li", cls="step")) == 1
    form = doc.find("form", cls="answer")
    assert {i.attrs["name"]: i.attrs["value"] for i in form.find_all("input")}["hints"] == "1"


def test_show_the_answer_reveals_the_answer_key(client):
    _, doc = practice_page(client)
    reveal = [a for a in doc.find_all("a") if a.text == "Show the answer"][0]
    assert parse_qs(urlsplit(reveal.attrs["href"]).query)["reveal"] == ["1"]
    _, doc = practice_page(client, reveal=1)
    key = doc.find("section", cls="answer-key")
    assert [td.text for td in key.find_all("td")] == ["4", "-4", "2", "10"]


@pytest.mark.parametrize("op,level", CASES)
def test_the_walkthrough_link_opens_the_same_problem(op, level):
    for seed in (0, 5, 9):
        drawn = engine.practice(op, seed=seed, difficulty=level)
        query = walkthrough_query(op, drawn["problem"])
        assert set(query) == {f.name for f in WALKTHROUGHS[op].fields}
        page_trace = WALKTHROUGHS[op].run(query)
        trace = work(op, drawn["problem"])
        np.testing.assert_allclose(np.asarray(page_trace.flat_outputs()[drawn["output"]], float),
                                   np.asarray(drawn["answer"], float), rtol=0, atol=1e-12)
        assert [s.id for s in page_trace.steps] == [s.id for s in trace.steps]


@pytest.mark.parametrize("op", PRACTICE_OPS)
def test_every_ops_practice_page_and_walkthrough_link_render(client, op):
    for level in DIFFICULTIES:
        _, doc = get_page(client, "/practice", {"op": op, "difficulty": level, "seed": "21"})
        assert not page_errors(doc)
        link = [a for a in doc.find_all("a") if a.text.startswith("Every step of this problem")][0]
        _, walk = get_page(client, link.attrs["href"].split("#")[0])
        assert not page_errors(walk), link.attrs["href"]


@pytest.mark.parametrize("query,field", [({"op": "nope"}, "op"), ({"difficulty": "expert"}, "difficulty"),
                                         ({"seed": "abc"}, "seed"), ({"seed": "4294967296"}, "seed"),
                                         ({"seed": "-3"}, "seed")])
def test_a_bad_op_difficulty_or_seed_is_named_beside_its_field(client, query, field):
    response, doc = get_page(client, "/practice", {**CONV11, **query})
    error = doc.find("p", id=f"e-{field}")
    assert error.attrs.get("role") == "alert" and error.text
    assert not doc.find_all("section", cls="practice-main")
    another = [a for a in doc.find_all("a") if a.text == "Another problem"][0]
    assert parse_qs(urlsplit(another.attrs["href"]).query)["op"][0] in PRACTICE_OPS


def test_the_page_links_the_three_worksheets_and_the_nav_links_practice(client):
    _, doc = practice_page(client)
    hrefs = [a.attrs.get("href", "") for a in doc.find_all("a")]
    for suffix in ("", ".tex", ".md"):
        assert any(h.startswith(f"/practice/worksheet{suffix}?") and "seed=11" in h for h in hrefs), suffix
    assert "/practice" in [a.attrs["href"] for a in doc.find("nav").find_all("a")]
    _, home = get_page(client, "/")
    assert "/practice" in [a.attrs["href"] for a in home.find("ul", cls="cards").find_all("a")]


# --- worksheets ------------------------------------------------------------------------------------

def worksheet(client, suffix: str = "", **query):
    params = {"op": "conv2d", "difficulty": "easy", "seed": "11", "count": "4", **{k: str(v) for k, v in query.items()}}
    return client.get(f"/practice/worksheet{suffix}", params=params)


def test_the_html_worksheet_has_n_problems_and_an_answer_key(client):
    response = worksheet(client, count=5)
    assert response.status_code == 200
    doc = dom(response.text)
    problems = doc.find_all("li", cls="ws-problem")
    answers = doc.find("section", cls="ws-key").find_all("li", cls="ws-answer")
    assert len(problems) == len(answers) == 5
    assert problems[0].find("p", cls="prompt").text == engine.practice("conv2d", seed=11)["prompt"]
    assert [a.find("a").attrs["href"] for a in problems][:2] == ["/practice?op=conv2d&difficulty=easy&seed=11",
                                                                 "/practice?op=conv2d&difficulty=easy&seed=12"]
    assert [td.text for td in answers[0].find_all("td")] == ["4", "-4", "2", "10"]


def test_the_worksheet_prints_one_problem_per_block_and_the_key_on_its_own_page(client):
    css = client.get("/static/style.css").text
    prints = "".join(re.findall(r"@media print \{(.*?)\n\}", css, re.S))
    assert re.search(r"\.ws-problem \{[^}]*break-inside: avoid", prints)
    assert re.search(r"\.ws-key \{[^}]*break-before: page", prints)


@pytest.mark.parametrize("op,level", [("conv2d/backward", "hard"), ("loss", "hard"), ("optimizer", "medium"),
                                      ("batchnorm", "hard"), ("output-size", "hard"), ("dropout", "easy")])
def test_the_latex_worksheet_is_a_whole_document_with_balanced_groups(client, op, level):
    response = worksheet(client, ".tex", op=op, difficulty=level, count=6)
    assert response.status_code == 200 and "tex" in response.headers["content-type"]
    text = response.text
    assert text.startswith(r"\documentclass") and text.count(r"\begin{document}") == 1
    assert text.rstrip().endswith(r"\end{document}")
    assert text.isascii()
    _assert_balanced_tex(text)
    problems, key = text.split(r"\section*{Answer key}")
    assert problems.count(r"\item ") == key.count(r"\item ") == 6
    assert problems.rstrip().endswith(r"\newpage")
    assert text.count("pmatrix") >= 2 * 6 or op == "output-size"


def _assert_balanced_tex(text: str) -> None:
    unescaped = re.sub(r"\\[{}$%&#_]", "", text)
    depth = 0
    for char in unescaped:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert unescaped.count("$") % 2 == 0
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", text):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name
    assert not stack


def test_latex_escapes_every_character_a_reader_sees():
    text = tex_text("50% of #1 & $x_1$ {a} ~ ^ \\ δ = ∂L/∂z, ŷ, 3×3, γ′")
    assert text.isascii()
    assert "50\\%" in text and "\\#1" in text and "\\&" in text and "\\$x\\_1\\$" in text and "\\{a\\}" in text
    assert r"\ensuremath{\delta}" in text and r"\ensuremath{\hat{y}}" in text and r"\ensuremath{\times}" in text
    _assert_balanced_tex(text)


def test_every_symbol_the_prompts_and_labels_use_has_a_latex_form():
    seen = set()
    for op in PRACTICE_OPS:
        for level in DIFFICULTIES:
            for seed in range(12):
                seen |= {c for c in engine.practice(op, seed=seed, difficulty=level)["prompt"] if not c.isascii()}
    labels = [*TENSOR_LABELS.values(), *SETTING_LABELS.values(), *OUTPUT_LABELS.values(), "δ = ∂L/∂z", "δ = ∂L/∂y",
              "Gradient ∂L/∂w", *(f"Practice: {w.title}" for w in WALKTHROUGHS.values())]
    seen |= {c for text in labels for c in text if not c.isascii()}
    assert seen <= set(TEX_MATH) | {"\u0302"}, seen - set(TEX_MATH)


def test_the_markdown_worksheet_lists_problems_then_the_key(client):
    response = worksheet(client, ".md", op="dense/backward", difficulty="hard", count=3)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    text = response.text
    problems, key = text.split("## Answer key")
    assert text.startswith("# Practice: Dense layer: backward pass")
    assert len(re.findall(r"^### Problem \d+ \(seed \d+\)$", problems, re.M)) == 3
    assert len(re.findall(r"^### Problem \d+$", key, re.M)) == 3
    assert text.count("```") % 2 == 0
    assert md_text("a_b *c* [d]") == r"a\_b \*c\* \[d\]"


def test_the_text_writers_take_any_laid_out_problems():
    drawn = [engine.practice("pool2d", seed=s, difficulty="hard") for s in range(3)]
    problems = [shown(d, i + 1) for i, d in enumerate(drawn)]
    tex = latex("Pooling & more", "3 problems", problems)
    _assert_balanced_tex(tex)
    assert r"Pooling \& more" in tex
    assert markdown("T", "S", problems).count("### Problem") == 6


@pytest.mark.parametrize("suffix", ["", ".tex", ".md"])
@pytest.mark.parametrize("query,word", [({"count": WORKSHEET_PROBLEMS + 1}, "count"), ({"count": 0}, "count"),
                                        ({"count": "x"}, "count"), ({"op": "nope"}, "op"),
                                        ({"difficulty": "expert"}, "difficulty"), ({"seed": "-1"}, "seed")])
def test_a_bad_worksheet_address_is_a_422_that_says_why(client, suffix, query, word):
    response = worksheet(client, suffix, **query)
    assert response.status_code == 422
    assert word in response.text and "Traceback" not in response.text


def test_the_largest_worksheet_has_thirty_problems_and_wraps_past_the_last_seed(client):
    response = worksheet(client, ".md", seed=2**32 - 2, count=WORKSHEET_PROBLEMS)
    assert response.status_code == 200
    assert "### Problem 30 (seed 27)" in response.text and "(seed 4294967295)" in response.text
