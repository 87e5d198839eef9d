"""JSON API: architecture tables, their presets, comparisons and exports."""

from __future__ import annotations

import json

import pytest

from app.limits import MAX_ARCHITECTURE_ROWS
from app.schemas import ArchitecturePresets, ArchitectureTrace, ComparisonTrace

SEED000 = {"input_shape": [3, 16, 16], "layers": [
    {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "kernel_size": 2}, {"type": "conv2d", "out_channels": 16, "kernel_size": 3},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
    {"type": "linear", "out_features": 10}]}


def test_architecture_from_layer_specs(api):
    trace = api.ok("architecture", SEED000)
    ArchitectureTrace.model_validate(trace)
    assert trace["op"] == "architecture"
    rows = trace["outputs"]["layers"]
    assert [r["params"] for r in rows] == [224, 0, 0, 1168, 0, 0, 0, 1450]
    assert rows[0]["output_shape"] == [8, 16, 16] and rows[6]["output_shape"] == [144]
    assert rows[0]["receptive_field"] == {"size": 3, "jump": 1, "start": -1} and rows[7]["receptive_field"] is None
    assert trace["outputs"]["totals"]["params"] == 2842
    assert trace["intermediates"]["params"] == [224, 0, 0, 1168, 0, 0, 0, 1450]
    assert trace["steps"][0]["id"] == "layers[0].rows"


def test_architecture_from_the_text_form_equals_the_specs(api):
    text = "conv 8 3x3 p1 / relu / maxpool 2 / conv 16 3x3 / relu / maxpool 2 / flatten / linear 10"
    from_text = api.ok("architecture", {"input_shape": [3, 16, 16], "layers": text})
    assert from_text["outputs"] == api.ok("architecture", SEED000)["outputs"]


def test_architecture_preset_with_its_published_figures(api):
    trace = api.ok("architecture", {"preset": "vgg16"})
    assert trace["params"] == {"input_shape": [3, 224, 224], "preset": "vgg16", "layer_count": 42}
    totals = trace["outputs"]["totals"]
    assert (totals["params"], totals["macs"], totals["flops"]) == (138_357_544, 15_470_264_320, 30_940_528_640)
    assert totals["mult_adds"] == 15_483_821_032          # torchinfo 1.8.0
    assert any("torchvision gives num_params 138,357,544 and GFLOPS 15.47" in n for n in trace["notes"])


def test_a_preset_at_another_input_size(api):
    trace = api.ok("architecture", {"preset": "resnet18", "input_shape": [3, 64, 64]})
    assert trace["outputs"]["layers"][0]["output_shape"] == [64, 32, 32]
    assert round(trace["outputs"]["totals"]["mult_adds"] / 1e6, 2) == 148.57   # torchinfo's published summary


def test_steps_are_paged_and_found_by_id(api):
    trace = api.ok("architecture", {"preset": "resnet50"}, step_limit=5)
    assert len(trace["steps"]) == 5 and trace["next_step_offset"] == 5 and trace["step_count"] > 300
    one = api.ok("architecture", {"preset": "resnet50"}, step_id="layers[4].params")
    assert [s["id"] for s in one["steps"]] == ["layers[4].params"]
    assert one["steps"][0]["kind"] == "parameter_count" and one["steps"][0]["result"] == 215_808
    assert api.locs("architecture", {"preset": "resnet50"}, 404, step_id="layers[4].nope") == [["query", "step_id"]]


@pytest.mark.parametrize("body, loc, words", [
    ({"input_shape": [3, 4, 4], "layers": "conv 8 3 / conv 8 3 / conv 8 3"}, ["body", "layers", 1],
     "conv2 (conv2d): a 3×3 window spans 3 rows but the input has only 2"),
    ({"input_shape": [3, 8, 8], "layers": "conv 8 3 / foo"}, ["body", "layers", 1], "piece 2 'foo'"),
    ({"input_shape": [3, 8, 8], "layers": [{"type": "residual", "body": [{"type": "conv2d", "out_channels": 4,
                                                                          "kernel_size": 3, "padding": 1}]}]},
     ["body", "layers", 0], "cannot be added"),
    ({"input_shape": [3, 8, 8], "layers": [{"type": "sequential", "layers": [{"type": "linear", "out_features": 2}]}]},
     ["body", "layers", 0, "layers", 0], "put a flatten before it"),
    ({"input_shape": [3, 8, 8], "layers": [{"type": "conv2d", "out_channels": 8, "kernel_size": 3,
                                            "out_features": 2}]}, ["body", "layers", 0], "unknown option"),
])
def test_a_layer_that_cannot_be_built_is_a_422_naming_it(api, body, loc, words):
    detail = api.refused("architecture", body)
    assert [d["loc"] for d in detail] == [loc]
    assert words in detail[0]["msg"]


@pytest.mark.parametrize("body, loc", [
    ({"input_shape": [3, 8], "layers": "relu"}, ["body", "input_shape"]),
    ({"input_shape": [3, 0, 8], "layers": "relu"}, ["body", "input_shape"]),
    ({"input_shape": [3, 8, 8], "layers": [{"type": "conv"}]}, ["body", "layers", "list[LayerSpec]", 0, "type"]),
    ({"input_shape": [3, 8, 8], "layers": [{"type": "conv2d", "out_channels": 2.0, "kernel_size": 3}]},
     ["body", "layers", "list[LayerSpec]", 0, "out_channels"]),
    ({"input_shape": [3, 8, 8], "layers": [{"type": "relu", "colour": "red"}]},
     ["body", "layers", "list[LayerSpec]", 0, "colour"]),
    ({"preset": "vgg17"}, ["body", "preset"]),
    ({"preset": "vgg16", "extra": 1}, ["body", "extra"]),
    ({"input_shape": [3, 8, 8]}, ["body", "layers"]),
])
def test_bad_bodies_are_refused_naming_the_field(api, body, loc):
    locs = api.locs("architecture", body)
    assert loc in locs, locs


def test_a_table_over_the_row_limit_is_refused_before_it_is_built(api):
    text = " / ".join(["relu"] * (MAX_ARCHITECTURE_ROWS + 1))
    detail = api.refused("architecture", {"input_shape": [3, 8, 8], "layers": text})
    assert detail[0]["loc"] == ["body", "layers"] and detail[0]["type"] == "over_limit"


def test_presets_list_networks_and_comparisons_with_their_text(client):
    response = client.get("/api/v1/architecture/presets")
    assert response.status_code == 200
    presets = response.json()
    ArchitecturePresets.model_validate(presets)
    networks = {n["name"]: n for n in presets["networks"]}
    assert {"lenet5", "alexnet", "vgg11", "vgg16", "resnet18", "resnet34", "resnet50", "mobilenet_v2",
            "seed000_rgb16", "seed000_toy", "seed001_cifar", "seed001_cats_dogs", "seed003_mnist"} <= set(networks)
    assert networks["resnet50"]["published"]["params"] == 25_557_032
    assert networks["seed000_rgb16"]["published"] is None
    assert networks["seed000_rgb16"]["text"].startswith("conv1: conv 8 3x3 p1")
    assert {c["name"] for c in presets["comparisons"]} == {"five_vs_two_threes", "depthwise_separable", "conv_vs_dense"}


def test_compare_preset_and_custom(api):
    trace = api.ok("architecture/compare", {"preset": "five_vs_two_threes"})
    ComparisonTrace.model_validate(trace)
    assert trace["outputs"]["ratios"]["params"] == pytest.approx(73_856 / 102_464)
    assert [s["id"] for s in trace["steps"]][-2:] == ["ratio.params", "ratio.macs"]
    custom = api.ok("architecture/compare", {"input_shape": [64, 56, 56], "left": "conv 64 3 p1",
                                             "right": "conv 64 3 p1 g64 / conv 64 1",
                                             "labels": ["standard", "separable"]})
    assert custom["outputs"]["right"]["totals"]["params"] == 4800
    assert custom["params"]["labels"] == ["standard", "separable"]
    assert api.locs("architecture/compare", {"input_shape": [3, 8, 8], "left": "relu", "right": "conv 2 9"}) == [
        ["body", "right", 0]]


@pytest.mark.parametrize("fmt, media, start", [
    ("torchinfo", "text/plain", "====="), ("keras", "text/plain", 'Model: "lenet5"'),
    ("csv", "text/csv", "index,name,type"), ("markdown", "text/markdown", "| Layer |"),
    ("json", "application/json", "{"),
])
def test_summary_exports(client, fmt, media, start):
    response = client.post("/api/v1/architecture/summary", params={"format": fmt}, json={"preset": "lenet5"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.text.startswith(start)
    if fmt == "json":
        assert json.loads(response.text)["totals"]["params"] == 61_706
    elif fmt == "csv":
        assert "\n0,c1,conv2d,1,,1x32x32,6x28x28,156,true," in response.text
    else:
        assert "61,706" in response.text


def test_summary_refuses_an_unknown_format(client):
    response = client.post("/api/v1/architecture/summary", params={"format": "xml"}, json={"preset": "lenet5"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "format"]


def test_null_options_take_their_defaults_and_a_null_activation_means_none(api):
    body = {"input_shape": [8, 8, 8], "layers": [
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "stride": None, "padding": 1, "name": None},
        {"type": "residual", "body": [{"type": "relu"}], "activation": None},
        {"type": "residual", "body": [{"type": "relu"}]}]}
    rows = api.ok("architecture", body)["outputs"]["layers"]
    assert rows[0]["options"]["stride"] == [1, 1] and rows[0]["name"] == "conv1"
    assert [r["type"] for r in rows[1:]] == ["residual", "relu", "add", "residual", "relu", "add", "relu"]
