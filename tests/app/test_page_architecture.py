"""The architecture page through TestClient: the table with collapsible blocks, the totals, the diagram
and its words, the layout switch, the receptive-field view, errors beside the field, exports, and the
comparison page."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from app.pages.architecture import INLINE_STEPS
from engine.presets import COMPARISONS, NETWORKS
from test_pages import dom, get_page, page_errors

SCRIPT = "<script>alert(1)</script>"
SEED000 = {"input": "3x16x16",
           "layers": "conv 8 3x3 p1 / relu / maxpool 2 / conv 16 3x3 / relu / maxpool 2 / flatten / linear 10"}


def rows(doc) -> dict[str, object]:
    return {li.attrs["id"]: li for li in doc.find_all("li", cls="row")}


def cell_text(li, cls: str) -> str:
    node = li.find("span", cls=cls)
    return " ".join(node.text.split())


def test_default_page_is_seed000s_network_with_its_table_and_totals(client):
    _, doc = get_page(client, "/architecture")
    assert "Seed 000" in doc.find("h1").text
    table = rows(doc)
    assert len(table) == 8
    assert cell_text(table["row-0"], "c-num").endswith("224")
    totals = {d.find("dt").text: d.find("dd").text.split()[0] for d in doc.find("dl", cls="totals").find_all("div")}
    assert totals["Parameters"] == "2,842"
    assert any("Seed 000 gives" in li.text for li in doc.find("ul", cls="checks").find_all("li"))
    assert not page_errors(doc)


def test_every_row_with_arithmetic_opens_its_steps_and_a_row_without_is_plain(client):
    _, doc = get_page(client, "/architecture", SEED000)
    table = rows(doc)
    conv = table["row-0"].find("details")
    assert conv.find("summary", cls="cells")
    ids = [li.attrs["data-id"] for li in conv.find_all("li", cls="step")]
    assert ids == ["layers[0].rows", "layers[0].params", "layers[0].macs", "layers[0].receptive_field"]
    params = conv.find("li", data_id="layers[0].params")
    assert params.find("math") and "parameters = 224" in params.find("h4").text
    assert not table["row-1"].find_all("details")          # relu: nothing to work out
    assert table["row-1"].find("div", cls="plain")


def test_blocks_are_collapsible_and_open_every_block_opens_them(client):
    _, doc = get_page(client, "/architecture", {"preset": "resnet18"})
    layer1 = rows(doc)["row-4"].find("details")
    assert "open" not in layer1.attrs
    assert [li.attrs["id"] for li in layer1.find("ul", cls="rows").find_all("li", cls="row")][:2] == ["row-5", "row-6"]
    link = doc.find("p", cls="table-tools").find("a")
    _, opened = get_page(client, link.attrs["href"].split("#")[0])
    assert all("open" in d.attrs for d in opened.find_all("details") if d.attrs.get("data-row"))


def test_a_large_table_links_each_rows_arithmetic_and_renders_the_chosen_one(client):
    _, doc = get_page(client, "/architecture", {"preset": "resnet50"})
    more = rows(doc)["row-0"].find("p", cls="more").find("a")
    assert more.attrs["data-steps-url"].startswith("/architecture/steps?")
    query = parse_qs(urlsplit(more.attrs["href"]).query)
    assert query["row"] == ["0"] and query["preset"] == ["resnet50"]
    _, chosen = get_page(client, more.attrs["href"].split("#")[0])
    assert chosen.find("li", data_id="layers[0].params")
    fragment = client.get(more.attrs["data-steps-url"])
    assert fragment.status_code == 200
    assert [li.attrs["data-id"] for li in dom(fragment.text).find_all("li", cls="step")][:2] == [
        "layers[0].rows", "layers[0].params"]
    # a row inside blocks opens its blocks
    _, inner = get_page(client, "/architecture", {"preset": "resnet50", "row": "6"})
    assert "open" in rows(inner)["row-4"].find("details").attrs and "open" in rows(inner)["row-5"].find("details").attrs


def test_small_tables_render_every_step_inline():
    from engine import architecture
    assert len(architecture(preset="vgg16").steps) <= INLINE_STEPS < len(architecture(preset="resnet50").steps)


def test_layout_switch_rewrites_the_input_and_the_shapes(client):
    _, doc = get_page(client, "/architecture", SEED000)
    links = {a.text: a for a in doc.find("nav", cls="layout-switch").find_all("a")}
    assert links["C×H×W"].attrs.get("aria-current") == "true"
    hwc = links["H×W×C"].attrs["href"]
    assert parse_qs(urlsplit(hwc).query)["input"] == ["16x16x3"]
    _, doc = get_page(client, hwc)
    assert doc.find(id="f-input").attrs["value"] == "16x16x3"
    assert cell_text(rows(doc)["row-0"], "c-shape").endswith("16×16×8")
    assert "16×16×3" in doc.find("figure", cls="shapes").find("figcaption").text
    form = doc.find("form", id="problem")
    assert [i.attrs["value"] for i in form.find_all("input", type="hidden") if i.attrs["name"] == "layout"] == ["hwc"]


def test_the_same_network_typed_in_hwc_gives_the_same_table(client):
    _, chw = get_page(client, "/architecture", SEED000)
    _, hwc = get_page(client, "/architecture", {**SEED000, "input": "16x16x3", "layout": "hwc"})
    counts = [[cell_text(li, "c-num") for li in rows(doc).values()] for doc in (chw, hwc)]
    assert counts[0] == counts[1]


def test_diagram_has_a_box_per_change_of_shape_and_words(client):
    _, doc = get_page(client, "/architecture", {"preset": "vgg16"})
    boxes = doc.find("ol", cls="boxes").find_all("li")
    shapes = [li.find("span", cls="shape").text for li in boxes]
    assert shapes[:3] == ["3×224×224", "64×224×224", "64×112×112"] and shapes[-1] == "1000"
    for li in boxes:
        svg = li.find("svg")
        assert svg.attrs["role"] == "img" and svg.attrs["aria-label"]
    assert "input 3×224×224 → features.0 64×224×224" in doc.find("figure", cls="shapes").find("figcaption").text


def test_receptive_field_view_defaults_to_the_centre_of_the_last_map(client):
    _, doc = get_page(client, "/architecture", {"preset": "vgg16"})
    section = doc.find("section", id="rf")
    chosen = [o for o in section.find("select").find_all("option") if "selected" in o.attrs][0]
    assert chosen.text.startswith("avgpool")
    assert section.find("input", id="f-cell").attrs["value"] == "4, 4"
    words = section.find("p", cls="rf-words").text
    assert "input rows 6 to 217 and columns 6 to 217" in " ".join(words.split())   # -90 + 3·32 = 6; 6 + 212 - 1
    assert section.find("li", cls="step")


def test_receptive_field_view_of_a_chosen_cell(client):
    _, doc = get_page(client, "/architecture", {"preset": "vgg16", "rf": "30", "cell": "1, 1"})
    words = " ".join(doc.find("p", cls="rf-words").text.split())
    assert "rows -90 to 121 and columns -90 to 121" in words
    _, bad = get_page(client, "/architecture", {"preset": "vgg16", "rf": "30", "cell": "9, 9"})
    assert "outside" in bad.find("section", id="rf").find("p", cls="error").text


@pytest.mark.parametrize("query, field, words", [
    ({"input": "3x4x4", "layers": "conv 8 3 / conv 8 3 / conv 8 3"}, "layers", "does not fit"),
    ({"input": "3x8x8", "layers": "conv 8 3x3 q1"}, "layers", "piece 1 'conv 8 3x3 q1'"),
    ({"input": "three", "layers": "relu"}, "input", "is not a shape"),
])
def test_errors_are_shown_beside_the_field_and_the_form_keeps_the_text(client, query, field, words):
    _, doc = get_page(client, "/architecture", query)
    error = doc.find("p", id=f"e-{field}")
    assert words in error.text
    control = doc.find(id=f"f-{field}")
    assert control.attrs.get("aria-invalid") == "true"
    assert query[field] in (control.attrs.get("value") or control.text)
    assert not doc.find_all("ul", cls="top")


def test_text_typed_exactly_as_a_preset_is_checked_against_its_published_figures(client):
    network = NETWORKS["vgg16"]
    from engine.layer_text import layers_to_text
    _, doc = get_page(client, "/architecture", {"input": "3x224x224", "layers": layers_to_text(network.layers)})
    assert "VGG-16" in doc.find("h1").text
    checks = doc.find("ul", cls="checks").find_all("li")
    assert any("torchvision gives num_params 138,357,544" in li.text for li in checks)


def test_the_page_escapes_what_it_echoes(client):
    response, doc = get_page(client, "/architecture", {"input": "3x8x8", "layers": SCRIPT})
    assert SCRIPT not in response.text
    assert not [s for s in doc.find_all("script") if not s.attrs.get("src")]


@pytest.mark.parametrize("fmt, media, first", [
    ("torchinfo", "text/plain", "="), ("keras", "text/plain", "Model:"), ("csv", "text/csv", "index,"),
    ("markdown", "text/markdown", "| Layer"), ("json", "application/json", "{"),
])
def test_exports_download_the_table(client, fmt, media, first):
    _, doc = get_page(client, "/architecture", {"preset": "lenet5"})
    links = {a.text: a.attrs["href"] for a in doc.find("section", cls="exports").find_all("a")}
    href = [h for h in links.values() if f"format={fmt}" in h][0]
    response = client.get(href)
    assert response.status_code == 200 and response.headers["content-type"].startswith(media)
    assert response.headers["content-disposition"].startswith("attachment; filename=\"lenet5-")
    assert response.text.startswith(first)
    if fmt == "json":
        assert json.loads(response.text)["totals"]["params"] == 61_706


def test_export_refuses_an_unknown_format(client):
    assert client.get("/architecture/export?preset=lenet5&format=xml").status_code == 422


def test_preset_picker_lists_every_network_and_links_the_comparisons(client):
    _, doc = get_page(client, "/architecture")
    options = [o.attrs["value"] for o in doc.find("select", id="f-preset").find_all("option")]
    assert sorted(options) == sorted(NETWORKS)
    hrefs = [a.attrs["href"] for a in doc.find("section", cls="compare-links").find_all("a")]
    assert hrefs == [f"/architecture/compare?preset={name}" for name in COMPARISONS]
    assert doc.find("script", src="/static/architecture.js").attrs["type"] == "module"


def test_nav_and_home_link_the_page(client):
    _, home = get_page(client, "/")
    assert any(a.attrs.get("href") == "/architecture" for a in home.find_all("a"))


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_comparison_pages_show_both_sides_the_ratio_and_its_steps(client, name):
    _, doc = get_page(client, "/architecture/compare", {"preset": name})
    assert COMPARISONS[name].title in doc.find("h1").text
    assert len(doc.find_all("table", cls="arch-small")) == 2
    ids = [li.attrs["data-id"] for li in doc.find_all("li", cls="step")]
    assert ids[-2:] == ["ratio.params", "ratio.macs"]
    assert doc.find("p", cls="formula").find("math")


def test_custom_comparison_and_its_errors(client):
    _, doc = get_page(client, "/architecture/compare", {"input": "64x56x56", "left": "conv 64 5 p2",
                                                        "right": "conv 64 3 p1 / relu / conv 64 3 p1"})
    assert "0.721×, 27.9% fewer" in doc.find("dl", cls="ratios").text
    _, bad = get_page(client, "/architecture/compare", {"input": "3x8x8", "left": "relu", "right": "conv 2 9"})
    assert "does not fit" in bad.find("p", id="e-right").text
