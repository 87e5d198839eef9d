"""The HTML pages through TestClient: structure, the form echoing the query, errors beside the field.

The pages are parsed with a small tree builder on the standard library's HTMLParser, so that the
assertions name elements and attributes (the DOM the step player relies on), not substrings.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.limits import PAGE_STEPS
from app.main import app
from app.pages.layers import LAYERS
from app.pages.walkthrough import WALKTHROUGHS

PAGES = ["conv2d", "conv2d/backward", "conv1d", "conv1d/backward", "pool2d", "pool2d/backward",
         "im2col", "output-size"]
SEED000 = {"input": "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1", "kernel": "1 -1 0; 0 1 -1; 1 0 1"}
POOL004 = {"input": "1 3 2 4; 5 6 7 8; 9 2 1 0; 4 5 6 7", "grad_output": "1 2; 3 4"}
BIG_CONV = {"input": "\n".join(" ".join(str((r * 12 + c) % 7 - 3) for c in range(12)) for r in range(12)),
            "kernel": "1 0 -1; 2 0 -2; 1 0 -1"}   # 10 x 10 = 100 output steps, more than a page renders
SCRIPT = "<script>alert(1)</script>"


# ---------------------------------------------------------------- a small DOM

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None = None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        """Descendants by tag, class and exact attribute values (data_t= means data-t=)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [n for n in self.iter()
                if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
                and all(n.attrs.get(k) == v for k, v in wanted.items())]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag or '*'}> with class={cls!r} {attrs}"
        return found[0]

    def ancestor(self, cls: str) -> Node | None:
        node = self.parent
        while node is not None and cls not in node.classes:
            node = node.parent
        return node


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.node)
        self.node.children.append(node)
        if tag not in VOID:
            self.node = node

    def handle_startendtag(self, tag, attrs):
        self.node.children.append(Node(tag, dict(attrs), self.node))

    def handle_endtag(self, tag):
        node = self.node
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


def dom(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def get_page(client: TestClient, path: str, params: dict[str, str] | None = None):
    response = client.get(path, params=params) if params else client.get(path)  # params={} would drop path's query
    assert response.status_code == 200, (path, params, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    return response, dom(response.text)


def field_value(doc: Node, name: str) -> str:
    """What the form shows for a field: a textarea's text, an input's value, a select's chosen option."""
    control = doc.find(id=f"f-{name}")
    if control.tag == "textarea":
        return control.text.removeprefix("\n")     # HTML drops one newline right after <textarea>
    if control.tag == "select":
        chosen = [o for o in control.find_all("option") if "selected" in o.attrs]
        return chosen[0].attrs["value"] if chosen else ""
    return control.attrs.get("value") or ""


def cells(doc: Node, tensor: str) -> dict[str, Node]:
    return {td.attrs["data-i"]: td for td in doc.find_all("td", data_t=tensor)}


def steps(doc: Node) -> list[Node]:
    return doc.find("ol", cls="steps").find_all("li", cls="step")


def page_errors(doc: Node) -> list[Node]:
    return doc.find_all("p", cls="error")


# ---------------------------------------------------------------- home

def test_page_list_matches_the_registered_walkthroughs():
    assert sorted(PAGES + [w.slug for w in LAYERS]) == sorted(WALKTHROUGHS)


def test_home_links_every_calculator_and_every_worked_example(client):
    _, doc = get_page(client, "/")
    hrefs = [a.attrs.get("href", "") for a in doc.find_all("a")]
    for slug in WALKTHROUGHS:
        assert f"/{slug}" in hrefs, slug
    examples = doc.find("ul", cls="examples").find_all("a")
    assert len(examples) == sum(len(w.presets) for w in WALKTHROUGHS.values())
    for a in examples:
        assert urlsplit(a.attrs["href"]).path.lstrip("/") in WALKTHROUGHS
        assert urlsplit(a.attrs["href"]).query


def test_home_example_links_open_without_an_error(client):
    _, doc = get_page(client, "/")
    broken = []
    for a in doc.find("ul", cls="examples").find_all("a"):
        _, page = get_page(client, a.attrs["href"])
        if page_errors(page) or not page.find_all("li", cls="step"):
            broken.append(a.text)
    assert broken == []


# ---------------------------------------------------------------- every page, default problem

@pytest.mark.parametrize("slug", PAGES)
def test_page_renders_a_get_form_with_every_field_and_its_default(client, slug):
    w = WALKTHROUGHS[slug]
    _, doc = get_page(client, f"/{slug}")
    form = doc.find("form", cls="problem")
    assert form.attrs["method"].lower() == "get"
    assert form.attrs["action"] == f"/{slug}"
    for f in w.fields:
        control = form.find(id=f"f-{f.name}")
        assert control.attrs["name"] == f.name
        assert control.tag == {"matrix": "textarea", "choice": "select"}.get(f.kind, "input")
        assert form.find("label", **{"for": f"f-{f.name}"}).text.strip() == f.label
        assert field_value(doc, f.name) == f.default
    assert form.find("button", type="submit").text.strip() == "Compute"
    assert not page_errors(doc)


@pytest.mark.parametrize("slug", PAGES)
def test_page_shows_grids_steps_mathml_and_the_player(client, slug):
    _, doc = get_page(client, f"/{slug}")
    walk = doc.find("section", cls="walk")
    count = int(walk.attrs["data-step-count"])
    assert walk.attrs["data-steps-url"].startswith(f"/{slug}/steps?")
    assert doc.find_all("figure", cls="grid")
    assert doc.find_all("td", data_t="output_size" if slug == "output-size" else "input")
    listed = steps(doc)
    assert len(listed) == min(count, PAGE_STEPS) >= 1
    assert [li.attrs["id"] for li in listed] == [f"step-{n}" for n in range(1, len(listed) + 1)]
    for li in listed:
        assert li.attrs["data-id"] and li.attrs["data-say"].startswith(f"Step {li.attrs['id'][5:]}:")
        assert li.find_all("math")
    assert doc.find("p", cls="formula").find_all("math")
    player = doc.find("div", cls="player")
    assert "hidden" in player.attrs          # shown by the script; without it the steps still read
    assert {b.attrs["data-act"] for b in player.find_all("button")} == {"first", "prev", "play", "next", "last"}
    say = doc.find("p", cls="say")
    assert say.attrs["aria-live"] == "polite" and "data-say" in say.attrs
    assert doc.find("script", src="/static/player.js").attrs["type"] == "module"


@pytest.mark.parametrize("slug", [s for s in PAGES if WALKTHROUGHS[s].presets])
def test_page_lists_its_worked_examples_as_links_to_itself(client, slug):
    _, doc = get_page(client, f"/{slug}")
    links = doc.find("details", cls="presets").find_all("a")
    assert [a.text for a in links] == [p.title for p in WALKTHROUGHS[slug].presets]
    for a in links:
        assert urlsplit(a.attrs["href"]).path == f"/{slug}"


PRESET_CASES = [pytest.param(s, p, id=f"{s}-{p.title[:40]}",
                             )
                for s in PAGES for p in WALKTHROUGHS[s].presets]


@pytest.mark.parametrize("slug,preset", PRESET_CASES)
def test_worked_example_opens_with_its_values_in_the_form(client, slug, preset):
    _, doc = get_page(client, f"/{slug}", preset.query)
    assert not page_errors(doc)
    for name, value in preset.query.items():
        assert field_value(doc, name) == value, name
    assert steps(doc)


@pytest.mark.parametrize("slug", [s for s in PAGES if WALKTHROUGHS[s].pair])
def test_forward_and_backward_pages_link_to_each_other_with_the_same_problem(client, slug):
    _, doc = get_page(client, f"/{slug}", SEED000 if slug.startswith("conv2d") else {})
    pair = WALKTHROUGHS[slug].pair
    links = [a for p in doc.find_all("p", cls="switch") for a in p.find_all("a")
             if urlsplit(a.attrs["href"]).path == f"/{pair}"]
    assert links
    query = parse_qs(urlsplit(links[0].attrs["href"]).query)
    if slug.startswith("conv2d"):
        assert query["input"] == [SEED000["input"]] and query["kernel"] == [SEED000["kernel"]]


# ---------------------------------------------------------------- the seed example

def test_conv2d_seed000_output_is_4_0_4_3(client):
    _, doc = get_page(client, "/conv2d", SEED000)
    out = cells(doc, "output")
    assert {i: td.text for i, td in out.items()} == {"0,0": "4", "0,1": "0", "1,0": "4", "1,1": "3"}
    assert [out[i].attrs["data-step"] for i in ("0,0", "0,1", "1,0", "1,1")] == ["1", "2", "3", "4"]
    assert {i: td.text for i, td in cells(doc, "input").items()}["3,2"] == "2"
    assert len(cells(doc, "kernel")) == 9


def test_conv2d_seed000_form_echoes_the_query(client):
    _, doc = get_page(client, "/conv2d", {**SEED000, "stride": "1", "padding": "0", "mode": "correlation"})
    assert field_value(doc, "input") == SEED000["input"]
    assert field_value(doc, "kernel") == SEED000["kernel"]
    assert field_value(doc, "stride") == "1"
    assert field_value(doc, "mode") == "correlation"


def test_conv2d_seed000_first_step_reads_the_top_left_window(client):
    _, doc = get_page(client, "/conv2d", SEED000)
    first = steps(doc)[0]
    assert first.attrs["id"] == "step-1" and first.attrs["data-id"] == "output[0,0]"
    assert "z(1,1)" in first.attrs["data-say"] and first.attrs["data-say"].endswith("= 4")
    assert '"tensor": "output"' in first.attrs["data-target"] and '"0,0"' in first.attrs["data-target"]
    for r in range(3):
        for c in range(3):
            assert f'"{r},{c}"' in first.attrs["data-reads"]
    assert '"0,3"' not in first.attrs["data-reads"]
    assert "z(1,2)" in steps(doc)[1].attrs["data-say"]


def test_conv2d_true_convolution_names_the_flip(client):
    _, doc = get_page(client, "/conv2d", {**SEED000, "mode": "convolution"})
    assert not page_errors(doc)
    assert field_value(doc, "mode") == "convolution"
    assert "180" in doc.find("ul", cls="notes").text or "flip" in doc.find("ul", cls="notes").text.lower()


def test_pool2d_backward_seed004_routes_to_the_winners(client):
    _, doc = get_page(client, "/pool2d/backward", POOL004)
    sixth = steps(doc)[5]
    assert sixth.attrs["id"] == "step-6" and sixth.attrs["data-id"] == "grad_input[1,1]"
    assert "∂L/∂x(2,2)" in sixth.attrs["data-say"] and sixth.attrs["data-say"].endswith("= 1")
    grad = {i: td.text for i, td in cells(doc, "grad_input").items()}
    assert grad == {"0,0": "0", "0,1": "0", "0,2": "0", "0,3": "0", "1,0": "0", "1,1": "1", "1,2": "0", "1,3": "2",
                    "2,0": "3", "2,1": "0", "2,2": "0", "2,3": "0", "3,0": "0", "3,1": "0", "3,2": "0", "3,3": "4"}


# ---------------------------------------------------------------- bad input

def test_bad_matrix_token_is_reported_beside_the_input_box_and_the_text_is_kept(client):
    _, doc = get_page(client, "/conv2d", {**SEED000, "input": "1 2; 3 x"})
    error = doc.find("p", cls="error", id="e-input")
    assert error.attrs["role"] == "alert"
    assert "row 2" in error.text and "column 2" in error.text and "'x'" in error.text
    box = doc.find("textarea", id="f-input")
    assert box.text.strip() == "1 2; 3 x"
    assert box.attrs["aria-invalid"] == "true" and box.attrs["aria-describedby"] == "e-input"
    field = error.ancestor("field")
    assert field is not None and "invalid" in field.classes and box.ancestor("field") is field
    assert field_value(doc, "kernel") == SEED000["kernel"]          # the other fields keep their text too
    assert len(page_errors(doc)) == 1
    assert not doc.find_all("section", cls="walk")


def test_bad_matrix_on_several_lines_keeps_the_lines(client):
    text = "1 2\n3 x"
    _, doc = get_page(client, "/conv2d", {**SEED000, "input": text})
    assert field_value(doc, "input") == text
    assert "row 2" in doc.find(id="e-input").text


@pytest.mark.parametrize("slug,params,field,words", [
    ("conv2d", {"stride": "abc"}, "stride", "whole number"),
    ("conv2d", {"padding": "-1"}, "padding", "at least 0"),
    ("conv2d", {"input": ""}, "input", "empty"),
    ("conv2d", {"input": "   \n  "}, "input", "empty"),
    ("conv2d", {"kernel": "1 2; 3"}, "kernel", "row 2"),
    ("conv2d", {"input": "[[1,2],[3"}, "input", "missing"),
    ("conv2d", {"stride": "0"}, "stride", "at least 1"),
    ("conv2d", {"dilation": "0"}, "dilation", "at least 1"),
    ("conv2d", {"mode": "bogus"}, "mode", "correlation"),
    ("conv2d", {"bias": "a"}, "bias", "not a number"),
    ("conv2d", {"dilation": "100000"}, "kernel", "spans"),
    ("conv2d/backward", {"grad_output": "1 2 3"}, "grad_output", "shape"),
    ("conv1d", {"input": "3 x 5"}, "input", "column 2"),
    ("conv1d/backward", {"grad_output": "1"}, "grad_output", "shape"),
    ("pool2d", {"kind": "median"}, "kind", "max"),
    ("pool2d", {"kernel_size": "0"}, "kernel_size", "at least 1"),
    ("pool2d", {"kernel_size": "100000"}, "kernel_size", "larger"),
    ("pool2d/backward", {"grad_output": "1 2; 3"}, "grad_output", "row 2"),
    ("im2col", {"kernel_size": "9", "kernel": ""}, "kernel", "spans"),
    ("im2col", {"kernel_size": "9"}, "kernel", "kernel_size is (9, 9)"),
    ("output-size", {"input_size": "abc"}, "input_size", "whole number"),
    ("output-size", {"stride": "-1"}, "stride", "at least 1"),
])
def test_bad_value_is_reported_beside_its_field(client, slug, params, field, words):
    _, doc = get_page(client, f"/{slug}", params)
    error = doc.find("p", cls="error", id=f"e-{field}")
    assert words in error.text, error.text
    assert error.ancestor("field") is doc.find(id=f"f-{field}").ancestor("field")
    for name, value in params.items():
        if doc.find(id=f"f-{name}").tag != "select":
            assert field_value(doc, name) == value


ODD_QUERIES = [
    ("conv2d", {"stride": "abc", "padding": "-1", "dilation": "x"}),
    ("conv2d", {"input": "", "kernel": ""}),
    ("conv2d", {"input": "1e308 1e308; 1e308 1e308", "kernel": "1e308"}),
    ("conv2d", {"input": "99999999999999999999999999 1; 2 3", "kernel": "1"}),
    ("conv2d", {"input": "nan inf; 1 2"}),
    ("conv2d", {"stride": "99999999999999999999"}),
    ("conv2d", {"padding": "99999999999999999999"}),
    ("conv2d", {"dilation": "99999999999999999999"}),
    ("conv2d", {"padding": "1 2 3"}),
    ("conv2d", {"padding": "same", "stride": "2"}),
    ("conv2d", {"stride": "1.5"}),
    ("conv2d", {"input": "1 2; 3 4\n\n\n\n5 6; 7 8"}),
    ("conv2d", {"input": "array([[1, 2], [3, 4]])", "kernel": r"\begin{pmatrix}1 & 0\\0 & 1\end{pmatrix}"}),
    ("conv2d", {"random": "abc"}),
    ("conv2d", {"random": "99999999999999999999999"}),
    ("conv2d", {"unknown": "1", "present": "1"}),
    ("conv2d", {"input": "\x00\x01 \u202e 1"}),
    ("conv2d/backward", {"grad_output": ""}),
    ("conv2d/backward", {"stride": "2", "grad_output": "1"}),
    ("conv1d", {"input": "1 2; 3 4; 5 6", "kernel": "1 2 3 4 5 6 7"}),
    ("conv1d/backward", {"padding": "same"}),
    ("pool2d", {"stride": "99999999999999999999", "padding": "99999999999999999999"}),
    ("pool2d", {"ceil_mode": "maybe", "count_include_pad": "x", "kind": "avg", "padding": "1"}),
    ("pool2d/backward", {"stride": "100000"}),
    ("pool2d/backward", {"input": "1 1; 1 1", "grad_output": "1"}),
    ("im2col", {"kernel_size": "99999999999999999999"}),
    ("im2col", {"padding": "99999999999999999999"}),
    ("im2col", {"kernel": "1 2 3", "kernel_size": "2"}),
    ("output-size", {"input_size": "99999999999999999999999999"}),
    ("output-size", {"padding": "99999999999999999999", "stride": "99999999999999999999"}),
    ("output-size", {"input_size": "", "kernel_size": "", "stride": "", "padding": "", "dilation": ""}),
    ("output-size", {"input_size": "6 6", "kernel_size": "3 2", "padding": "same"}),
]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")     # 1e308 * 1e308 is inf
@pytest.mark.parametrize("slug,params", ODD_QUERIES, ids=[f"{s}-{'&'.join(p)}" for s, p in ODD_QUERIES])
def test_odd_query_renders_the_page_never_a_500(client, slug, params):
    _, doc = get_page(client, f"/{slug}", params)
    assert doc.find("form", cls="problem")


# Padding or a window this large makes NumPy try to allocate terabytes; the page route does not
# catch MemoryError and the engine has no size check for the padded input, so the answer is a 500.
HUGE_PADDING = [
    ("conv2d", {"padding": "100000"}),
    ("conv2d/backward", {"padding": "100000"}),
    ("im2col", {"padding": "100000"}),
    ("im2col", {"kernel_size": "100000"}),
]


@pytest.mark.parametrize("slug,params", HUGE_PADDING, ids=[f"{s}-{'&'.join(p)}" for s, p in HUGE_PADDING])
def test_huge_padding_is_refused_with_a_message_not_a_500(client, slug, params):
    response = client.get(f"/{slug}", params=params)
    assert response.status_code == 200
    assert page_errors(dom(response.text))


def test_unknown_choice_value_is_reported_not_silently_replaced(client):
    _, doc = get_page(client, "/pool2d", {"ceil_mode": "maybe"})
    assert doc.find_all("p", cls="error")


# ---------------------------------------------------------------- escaping

ESCAPE_CASES = [(slug, f.name) for slug in PAGES for f in WALKTHROUGHS[slug].fields]


@pytest.mark.parametrize("slug,name", ESCAPE_CASES, ids=[f"{s}-{n}" for s, n in ESCAPE_CASES])
def test_script_tag_in_a_field_is_escaped_everywhere(client, slug, name):
    response, doc = get_page(client, f"/{slug}", {name: SCRIPT})
    assert SCRIPT not in response.text
    assert "<script>" not in response.text.lower()
    assert [s.attrs.get("src") for s in doc.find_all("script")] == ["/static/player.js", "/static/present.js"]
    if doc.find(id=f"f-{name}").tag != "select":
        assert field_value(doc, name) == SCRIPT          # shown back as text, not dropped
        assert page_errors(doc)


@pytest.mark.parametrize("params", [{"random": SCRIPT}, {SCRIPT: SCRIPT}, {"present": SCRIPT},
                                    {"input": f'1 2"><img src=x onerror=alert(1)>; 3 4'}])
def test_script_in_other_query_parameters_is_escaped(client, params):
    response, doc = get_page(client, "/conv2d", params)
    assert SCRIPT not in response.text
    assert "<img" not in response.text
    assert [s.attrs.get("src") for s in doc.find_all("script")] == ["/static/player.js", "/static/present.js"]


def test_steps_fragment_escapes_a_script_in_the_query(client):
    response = client.get("/conv2d/steps", params={**SEED000, "bias": SCRIPT, "offset": "0"})
    assert response.status_code in (200, 422)
    assert SCRIPT not in response.text


# ---------------------------------------------------------------- the /steps fragment

def test_steps_fragment_continues_from_the_offset(client):
    response = client.get("/conv2d/steps", params={**SEED000, "offset": "2"})
    assert response.status_code == 200
    assert "<html" not in response.text and "<form" not in response.text
    listed = dom(response.text).find_all("li", cls="step")
    assert [li.attrs["id"] for li in listed] == ["step-3", "step-4"]
    assert listed[0].attrs["data-id"] == "output[1,0]"
    assert listed[1].attrs["data-say"].endswith("= 3")


def test_steps_fragment_from_zero_matches_the_page(client):
    _, page = get_page(client, "/conv2d", SEED000)
    fragment = dom(client.get("/conv2d/steps", params={**SEED000, "offset": "0"}).text)
    assert [li.attrs["data-say"] for li in fragment.find_all("li", cls="step")] == \
           [li.attrs["data-say"] for li in steps(page)]


def test_large_problem_renders_one_page_of_steps_and_links_the_rest(client):
    _, doc = get_page(client, "/conv2d", BIG_CONV)
    walk = doc.find("section", cls="walk")
    assert walk.attrs["data-step-count"] == "100"
    assert len(steps(doc)) == PAGE_STEPS
    more = doc.find("p", cls="more").find("a")
    assert parse_qs(urlsplit(more.attrs["href"]).query)["offset"] == [str(PAGE_STEPS)]
    rest = client.get(more.attrs["href"])
    assert rest.status_code == 200
    listed = dom(rest.text).find_all("li", cls="step")
    expected = range(PAGE_STEPS + 1, min(2 * PAGE_STEPS, 100) + 1)
    assert [li.attrs["id"] for li in listed] == [f"step-{n}" for n in expected]
    last = dom(client.get(more.attrs["href"].replace(f"offset={PAGE_STEPS}", "offset=99")).text).find("li", cls="step")
    assert last.attrs["id"] == "step-100"
    assert last.attrs["data-id"] == "output[9,9]" and "z(10,10)" in last.attrs["data-say"]


def test_steps_url_on_the_page_fetches_the_next_steps(client):
    _, doc = get_page(client, "/conv2d", BIG_CONV)
    url = doc.find("section", cls="walk").attrs["data-steps-url"] + f"&offset={PAGE_STEPS}"
    listed = dom(client.get(url).text).find_all("li", cls="step")
    assert listed[0].attrs["id"] == f"step-{PAGE_STEPS + 1}"


@pytest.mark.parametrize("offset", ["4", "99999999999", "-5"])
def test_steps_fragment_with_an_offset_out_of_range_is_empty_or_from_the_start(client, offset):
    response = client.get("/conv2d/steps", params={**SEED000, "offset": offset})
    assert response.status_code == 200
    ids = [li.attrs["id"] for li in dom(response.text).find_all("li", cls="step")]
    assert ids == (["step-1", "step-2", "step-3", "step-4"] if offset == "-5" else [])


@pytest.mark.parametrize("params", [{**SEED000, "offset": "abc"}, {**SEED000, "input": "1 2; 3 x"},
                                    {**SEED000, "stride": "abc"}])
def test_steps_fragment_with_a_bad_query_is_422_not_500(client, params):
    assert client.get("/conv2d/steps", params=params).status_code == 422


@pytest.mark.parametrize("slug", PAGES)
def test_every_page_has_a_steps_fragment(client, slug):
    response = client.get(f"/{slug}/steps", params={"offset": "0"})
    assert response.status_code == 200
    assert dom(response.text).find_all("li", cls="step")


# ---------------------------------------------------------------- random problems

@pytest.mark.parametrize("slug", [s for s in PAGES if WALKTHROUGHS[s].random_fields])
def test_random_with_the_same_seed_gives_the_same_page(client, slug):
    first, _ = get_page(client, f"/{slug}", {"random": "7"})
    again, doc = get_page(client, f"/{slug}", {"random": "7"})
    assert first.text == again.text
    assert "random seed 7" in doc.find("div", cls="actions").text
    other, _ = get_page(client, f"/{slug}", {"random": "8"})
    assert other.text != first.text
    for name, spec in WALKTHROUGHS[slug].random_fields.items():
        if isinstance(spec, range):
            assert int(field_value(doc, name)) in spec
            continue
        rows, cols = spec
        lines = field_value(doc, name).split("\n")
        assert len(lines) == rows and all(len(line.split()) == cols for line in lines)


def test_random_link_points_to_the_next_seed(client):
    _, doc = get_page(client, "/conv2d", {"random": "7"})
    hrefs = [a.attrs["href"] for a in doc.find_all("a", cls="button")]
    assert "/conv2d?random=8" in hrefs


def test_random_page_state_is_a_plain_query_that_reopens_the_same_problem(client):
    _, doc = get_page(client, "/conv2d", {"random": "3"})
    query = {f.name: field_value(doc, f.name) for f in WALKTHROUGHS["conv2d"].fields}
    _, again = get_page(client, "/conv2d?" + urlencode(query))
    assert [td.text for td in again.find_all("td", data_t="output")] == \
           [td.text for td in doc.find_all("td", data_t="output")]


# ---------------------------------------------------------------- page furniture

@pytest.mark.parametrize("slug", PAGES)
def test_page_has_a_title_a_heading_and_the_site_navigation(client, slug):
    _, doc = get_page(client, f"/{slug}")
    w = WALKTHROUGHS[slug]
    assert doc.find("title").text.startswith(w.title)
    assert doc.find("h1").text == w.title
    nav = doc.find("nav")
    assert {a.attrs["href"] for a in nav.find_all("a")} >= {"/conv2d", "/pool2d", "/im2col", "/output-size"}
    assert doc.find("link", rel="stylesheet").attrs["href"] == "/static/style.css"


def test_present_mode_sets_the_body_class(client):
    _, doc = get_page(client, "/conv2d", {**SEED000, "present": "1"})
    assert "present" in doc.find("body").classes


def test_static_files_are_served(client):
    for path in ("/static/style.css", "/static/player.js", "/static/icon.svg"):
        assert client.get(path).status_code == 200, path


def test_padded_input_draws_the_padding_cells(client):
    _, doc = get_page(client, "/conv2d", {**SEED000, "padding": "1"})
    input_cells = doc.find_all("td", data_t="input")
    assert len(input_cells) == 36
    assert sum("pad" in td.classes for td in input_cells) == 20
    assert len(doc.find_all("td", data_t="output")) == 16
