"""The gallery /examples: it renders, every link opens without an error, every example finds the preset
it names, each printed answer is checked, and each discrepancy shows the printed and the computed value."""

from __future__ import annotations

import html
import re

import pytest

from app.main import app  # noqa: F401  (registers every page)
from app.pages.examples import SEEDS, gallery, href

FLAGGED = {
    "A 32×32 RGB image into 100 neurons",
    "A vertical edge detector on a 4×4 image",
    "Cross-correlation and convolution, named the wrong way round",
    "Problem 5: a depthwise-separable convolution",
}
"""The examples whose seed prints a result, or a formula, that differs from what cnnsteps computes."""


def views() -> list[dict]:
    return [e for s in gallery() for t in s["topics"] for e in t["examples"]]


@pytest.fixture(scope="module")
def page(client) -> str:
    response = client.get("/examples")
    assert response.status_code == 200
    return response.text


def _blocks(text: str) -> dict[str, str]:
    """Each example's <li> by its title."""
    blocks = {}
    for block in re.findall(r'<li class="example[^"]*">(.*?)</li>', text, re.S):
        title = re.search(r'<p class="example-title">\s*(?:<a [^>]*>)?([^<]+)', block).group(1).strip()
        blocks[html.unescape(title)] = block
    return blocks


def test_the_gallery_renders_every_seed_and_every_example(page):
    for seed in SEEDS:
        assert f'id="seed-{seed.key}"' in page
    blocks = _blocks(page)
    titles = [e.title for s in SEEDS for t in s.topics for e in t.examples]
    assert set(titles) <= set(blocks) and len(blocks) == len(titles)
    assert 'class="error"' not in page


def test_every_example_finds_the_preset_it_names():
    for seed in SEEDS:
        for topic in seed.topics:
            for example in topic.examples:
                href(example.opens)   # raises MissingPreset when a registry lost it
    assert all(e["href"] for e in views())


def test_every_link_of_the_gallery_opens_without_an_error(client, page):
    links = {html.unescape(link) for link in re.findall(r'href="([^"#][^"]*)"', page)}
    links = {link for link in links if not link.startswith("/static/")}
    assert len(links) > 60
    for link in sorted(links):
        response = client.get(link.split("#")[0])
        assert response.status_code == 200, link
        assert 'class="error"' not in response.text, link


def test_the_discrepancies_are_exactly_the_known_ones():
    assert {e["title"] for e in views() if e["differs"]} == FLAGGED


def test_every_other_printed_answer_agrees_with_cnnsteps():
    checked = [e for e in views() if e["check"] is not None and not e["differs"]]
    assert len(checked) >= 25
    assert all(e["check"]["correct"] for e in checked)


def test_each_discrepancy_shows_the_printed_and_the_computed_value_side_by_side(page):
    blocks = _blocks(page)
    for e in views():
        if not e["differs"]:
            continue
        block = blocks[e["title"]]
        assert e["note"] and html.escape(e["note"], quote=False) in block.replace("&#39;", "'")
        if e["check"] is not None:
            tables = re.findall(r'<table class="mini-grid">\s*<caption>([^<]*)</caption>(.*?)</table>', block, re.S)
            assert [caption for caption, _ in tables] == [html.escape(e["check"]["label"], quote=True)
                                                          .replace("&#x27;", "&#39;"), "cnnsteps"]
            for (_, body), grid in zip(tables, (e["check"]["printed"], e["check"]["computed"])):
                cells = re.findall(r"<td[^>]*>([^<]*)", body)
                assert cells == [text for row in grid for text, _ in row]
            assert "#check" in block and "answer=" in block
        for figure in e["figures"]:
            if not figure["agrees"]:
                assert f"<td>{figure['printed']}</td><td>{figure['computed']}</td>" in block


def test_the_edge_detector_shows_the_printed_output_and_the_computed_one(page):
    block = _blocks(page)["A vertical edge detector on a 4×4 image"]
    printed, computed = re.findall(r'<table class="mini-grid">(.*?)</table>', block, re.S)
    assert re.findall(r"<td[^>]*>([^<]*)", printed) == ["0", "3", "2", "-1"]
    assert re.findall(r"<td[^>]*>([^<]*)", computed) == ["0", "0", "-1", "-1"]
    assert block.count('class="wrong"') == 4   # two cells, marked in both grids
    assert "answer=0+3%3B+2+-1" in block


def test_the_parameter_counts_the_seeds_print_differently_are_set_beside_the_computed_ones(page):
    blocks = _blocks(page)
    assert "<td>307,200</td><td>307,300</td>" in blocks["A 32×32 RGB image into 100 neurons"]
    separable = blocks["Problem 5: a depthwise-separable convolution"]
    assert "<td>4,736</td><td>4,800</td>" in separable and "<td>about 1/9</td><td>0.130</td>" in separable


def test_the_check_link_of_a_discrepancy_opens_the_pages_check_of_the_printed_answer(client):
    edge = next(e for e in views() if e["title"] == "A vertical edge detector on a 4×4 image")
    response = client.get(edge["check"]["href"].split("#")[0])
    assert response.status_code == 200
    assert 'class="verdict wrong"' in response.text


def test_the_gallery_is_linked_from_the_navigation_and_the_home_page(client):
    assert '<a href="/examples">Examples</a>' in client.get("/conv2d").text
    assert 'href="/examples"' in client.get("/").text
