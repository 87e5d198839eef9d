"""Architecture tables: published totals, torchinfo's figures, per-layer shapes, receptive fields
against the published tables, the seeds' tables, the steps, the text form, and bad specs.

Every literal below is a published figure, with its source; none is computed by torch here.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine import EngineError, architecture, compare_architectures
from engine.architecture import count_layers, field_region
from engine.layer_text import layers_to_text, parse_layers
from engine.presets import COMPARISONS, NETWORKS
from engine.shapes import (ReceptiveField, conv_macs, conv_params, linear_params, receptive_field_next,
                           receptive_field_union, receptive_region)
from engine.tables import summary_text
from engine.trace import Combine, StepKind

SEED000_TEXT = "conv 8 3x3 p1 / relu / maxpool 2 / conv 16 3x3 / relu / maxpool 2 / flatten / linear 10"

# torchvision's documented num_params and GFLOPS (the model pages of torchvision.models, weights
# IMAGENET1K_V1; the GFLOPS are the `_ops` metadata rounded to two decimals).
TORCHVISION = {
    "alexnet": (61_100_840, 0.71),
    "vgg11": (132_863_336, 7.61),
    "vgg16": (138_357_544, 15.47),
    "resnet18": (11_689_512, 1.81),
    "resnet34": (21_797_672, 3.66),
    "resnet50": (25_557_032, 4.09),
    "mobilenet_v2": (3_504_872, 0.30),
}
# The same metadata to three decimals (`Weights.meta["_ops"]` in torchvision 0.28).
TORCHVISION_OPS = {"alexnet": 0.714, "vgg11": 7.609, "vgg16": 15.47, "resnet18": 1.814, "resnet34": 3.664,
                   "resnet50": 4.089, "mobilenet_v2": 0.301}

# torchinfo 1.8.0, summary(torchvision model, input_size=(1, 3, 224, 224)): total mult-adds, the
# bytes of the forward/backward pass and of the parameters.
TORCHINFO = {
    "alexnet": (714_682_664, 3_953_472, 244_403_360),
    "vgg16": (15_483_821_032, 108_453_696, 553_430_176),
    "resnet18": (1_814_083_944, 39_747_392, 46_758_048),
    "resnet50": (4_089_238_376, 177_831_744, 102_228_128),
    "mobilenet_v2": (300_809_384, 106_857_792, 14_019_488),
}


def rows_by_name(trace) -> dict[str, dict]:
    return {r["name"]: r for r in trace.outputs["layers"]}


# --- published totals ----------------------------------------------------------------------

@pytest.mark.parametrize("name", TORCHVISION)
def test_preset_parameters_equal_torchvisions_num_params(name):
    assert architecture(preset=name).outputs["totals"]["params"] == TORCHVISION[name][0]


@pytest.mark.parametrize("name", TORCHVISION)
def test_preset_macs_equal_torchvisions_gflops(name):
    macs = architecture(preset=name).outputs["totals"]["macs"]
    assert round(macs / 1e9, 2) == TORCHVISION[name][1]
    assert round(macs / 1e9, 3) == TORCHVISION_OPS[name]


@pytest.mark.parametrize("name", TORCHVISION)
def test_preset_notes_say_the_published_figures_agree(name):
    notes = architecture(preset=name).notes
    assert any(n.startswith("torchvision gives num_params") and n.endswith("agree.") for n in notes)


def test_lenet5_has_the_usual_61706_parameters_and_the_papers_layer_counts():
    trace = architecture(preset="lenet5")
    rows = rows_by_name(trace)
    assert trace.outputs["totals"]["params"] == 61_706
    # LeCun et al. 1998, section II.B: C1 156, C5 48,120, F6 10,164 trainable parameters
    assert (rows["c1"]["params"], rows["c5"]["params"], rows["f6"]["params"]) == (156, 48_120, 10_164)
    # the paper's C3 connects each map to only some S2 maps (1,516); fully connected it has 2,416
    assert rows["c3"]["params"] == 2_416
    assert any("1,516; the computed figure is 2,416" in n for n in trace.notes)


# --- torchinfo's mult-adds and sizes -------------------------------------------------------

@pytest.mark.parametrize("name", TORCHINFO)
def test_mult_adds_and_sizes_follow_torchinfo(name):
    totals = architecture(preset=name).outputs["totals"]
    mult_adds, output_bytes, param_bytes = TORCHINFO[name]
    assert totals["mult_adds"] == mult_adds
    assert totals["forward_backward_mb"] == pytest.approx(output_bytes / 1e6, abs=1e-9)
    assert totals["params_mb"] == pytest.approx(param_bytes / 1e6, abs=1e-9)
    assert totals["input_size_mb"] == pytest.approx(3 * 224 * 224 * 4 / 1e6)


def test_resnet50_matches_torchinfos_published_summary_for_a_batch_of_two():
    # torchinfo's tests/test_output/resnet50.out: summary(resnet50(), (2, 3, 224, 224))
    totals = architecture(preset="resnet50").outputs["totals"]
    assert f"{2 * totals['mult_adds'] / 1e9:.2f}" == "8.18"
    assert f"{2 * totals['input_size_mb']:.2f}" == "1.20"
    assert f"{2 * totals['forward_backward_mb']:.2f}" == "355.66"
    assert f"{totals['params_mb']:.2f}" == "102.23"
    assert f"{2 * totals['input_size_mb'] + 2 * totals['forward_backward_mb'] + totals['params_mb']:.2f}" == "459.10"


def test_resnet18_at_64x64_matches_torchinfos_published_summary():
    # torchinfo's tests/test_output/resnet18_depth_consistency.out: input (1, 3, 64, 64)
    trace = architecture((3, 64, 64), preset="resnet18")
    text = summary_text(trace.outputs, "torchinfo", model_name="ResNet")
    for line in ("Total params: 11,689,512", "Total mult-adds (M): 148.57", "Input size (MB): 0.05",
                 "Forward/backward pass size (MB): 3.25", "Params size (MB): 46.76",
                 "Estimated Total Size (MB): 50.06"):
        assert line in text
    rows = rows_by_name(trace)
    stages = [rows[f"layer{k}"]["params"] for k in (1, 2, 3, 4)]
    assert stages == [147_968, 525_568, 2_099_712, 8_393_728]
    blocks = [rows[f"layer{k}.{b}"]["params"] for k in (1, 2, 3, 4) for b in (0, 1)]
    assert blocks == [73_984, 73_984, 230_144, 295_424, 919_040, 1_180_672, 3_673_088, 4_720_640]
    assert rows["conv1"]["output_shape"] == [64, 32, 32] and rows["layer4"]["output_shape"] == [512, 2, 2]


# --- per-layer shapes ----------------------------------------------------------------------

def test_vgg16_layer_shapes():
    rows = architecture(preset="vgg16").outputs["layers"]
    shapes = [(r["name"], tuple(r["output_shape"])) for r in rows if r["type"] in ("conv2d", "maxpool2d", "linear")]
    expected = []
    size, k = 224, 0
    for block, (channels, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        for _ in range(convs):
            expected.append((f"features.{k}", (channels, size, size)))
            k += 2
        size //= 2
        expected.append((f"features.{k}", (channels, size, size)))
        k += 1
    expected += [("classifier.0", (4096,)), ("classifier.3", (4096,)), ("classifier.6", (1000,))]
    assert shapes == expected
    assert rows_by_name(architecture(preset="vgg16"))["flatten"]["output_shape"] == [25_088]


def test_resnet18_layer_shapes_and_parameters():
    rows = rows_by_name(architecture(preset="resnet18"))
    assert rows["conv1"]["output_shape"] == [64, 112, 112] and rows["conv1"]["params"] == 9_408
    assert rows["maxpool"]["output_shape"] == [64, 56, 56]
    for stage, (channels, size) in enumerate(((64, 56), (128, 28), (256, 14), (512, 7)), start=1):
        assert rows[f"layer{stage}"]["output_shape"] == [channels, size, size]
        assert rows[f"layer{stage}.0.conv1"]["output_shape"] == [channels, size, size]
    assert rows["layer2.0.downsample.0"]["params"] == 8_192
    assert rows["layer2.0.add"]["output_shape"] == [128, 28, 28]
    assert rows["fc"]["params"] == 513_000 and rows["fc"]["output_shape"] == [1000]
    assert rows["layer1.0"]["type"] == "residual" and rows["layer1"]["type"] == "sequential"
    assert [rows[n]["depth"] for n in ("layer1", "layer1.0", "layer1.0.conv1", "layer2.0.downsample.0")] == [1, 2, 3, 4]


def test_rows_list_a_block_before_its_layers_with_depth_indices_like_torchinfo():
    rows = architecture(preset="resnet50").outputs["layers"]
    first = [(r["name"], r["depth"], r["depth_index"]) for r in rows[:8]]
    assert first == [("conv1", 1, 1), ("bn1", 1, 2), ("relu", 1, 3), ("maxpool", 1, 4), ("layer1", 1, 5),
                     ("layer1.0", 2, 1), ("layer1.0.conv1", 3, 1), ("layer1.0.bn1", 3, 2)]
    block = rows_by_name(architecture(preset="resnet50"))["layer1.0"]
    names = [rows[i]["name"] for i in block["children"]]
    assert names[-3:] == ["layer1.0.downsample", "layer1.0.add", "layer1.0.relu"]


# --- receptive fields against the published tables -----------------------------------------
# google-research/receptive_field, RECEPTIVE_FIELD_TABLE.md (Araujo et al., Distill 2019): for each
# end point, the receptive field, the effective stride (our jump) and the effective padding (-start).

def field(row) -> tuple[int, int, int]:
    rf = row["receptive_field"]
    return rf["size"], rf["jump"], -rf["start"]


def test_vgg16_receptive_fields_match_the_published_table():
    rows = rows_by_name(architecture(preset="vgg16"))
    published = {"features.0": (3, 1, 1), "features.4": (6, 2, 2), "features.5": (10, 2, 4),
                 "features.9": (16, 4, 6), "features.10": (24, 4, 10), "features.12": (32, 4, 14),
                 "features.16": (44, 8, 18), "features.17": (60, 8, 26), "features.19": (76, 8, 34),
                 "features.23": (100, 16, 42), "features.24": (132, 16, 58), "features.26": (164, 16, 74),
                 "features.30": (212, 32, 90)}
    assert {name: field(rows[name]) for name in published} == published


def test_alexnet_v2_receptive_fields_match_the_published_table():
    text = ("conv1: conv 64 11 s4 / pool1: maxpool 3 s2 / conv2: conv 192 5 same / pool2: maxpool 3 s2 / "
            "conv3: conv 384 3 same / conv4: conv 384 3 same / conv5: conv 256 3 same / pool5: maxpool 3 s2")
    rows = rows_by_name(architecture((3, 224, 224), text))
    published = {"conv1": (11, 4, 0), "pool1": (19, 8, 0), "conv2": (51, 8, 16), "conv3": (99, 16, 32),
                 "conv4": (131, 16, 48), "conv5": (163, 16, 64), "pool5": (195, 32, 64)}
    assert {name: field(rows[name]) for name in published} == published
    # torchvision's AlexNet has the same receptive field at its last pooling
    assert field(rows_by_name(architecture(preset="alexnet"))["features.12"])[:2] == (195, 32)


def test_mobilenet_v1_with_tensorflows_same_padding_matches_the_published_table():
    strides = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    channels = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
    pieces, c_in = ["Conv2d_0: conv 32 3 s2 same"], 32
    for k, (s, c) in enumerate(zip(strides, channels), start=1):
        pieces += [f"conv {c_in} 3 s{s} same g{c_in}", f"Conv2d_{k}_pointwise: conv {c} 1"]
        c_in = c
    rows = rows_by_name(architecture((3, 224, 224), " / ".join(pieces)))
    published = {"Conv2d_0": (3, 2, 0), "Conv2d_1_pointwise": (7, 2, 2), "Conv2d_2_pointwise": (11, 4, 2),
                 "Conv2d_3_pointwise": (19, 4, 6), "Conv2d_4_pointwise": (27, 8, 6), "Conv2d_5_pointwise": (43, 8, 14),
                 "Conv2d_6_pointwise": (59, 16, 14), "Conv2d_11_pointwise": (219, 16, 94),
                 "Conv2d_12_pointwise": (251, 32, 94), "Conv2d_13_pointwise": (315, 32, 126)}
    assert {name: field(rows[name]) for name in published} == published


def test_resnet_v1_50_blocks_match_the_published_table():
    # TF-slim's resnet_v1_50: 7x7/2 (padded 3), 3x3/2 max pool ('SAME'), and the stride of each of
    # blocks 1 to 3 in its last unit's 3x3 convolution (padded 1); block 4 keeps stride 1.
    pieces = ["conv 64 7 s2 p3", "conv 64 3 s2 same"]
    for block, (units, width) in enumerate(((3, 64), (4, 128), (6, 256), (3, 512)), start=1):
        for unit in range(units):
            stride = 2 if unit == units - 1 and block < 4 else 1
            pieces.append(f"res(conv {width} 1 / conv {width} 3 s{stride} p1 / conv {4 * width} 1 | "
                          f"conv {4 * width} 1 s{stride})")
        pieces[-1] = f"block{block}: " + pieces[-1]
    rows = rows_by_name(architecture((3, 224, 224), " / ".join(pieces)))
    published = {"block1": (35, 8, 15), "block2": (99, 16, 47), "block3": (291, 32, 143), "block4": (483, 32, 239)}
    assert {name: field(rows[name]) for name in published} == published


def test_torchvision_resnet50_receptive_field_is_427():
    rows = rows_by_name(architecture(preset="resnet50"))
    assert field(rows["layer4"]) == (427, 32, 213)
    assert field(rows["maxpool"]) == (11, 4, 5)


def test_stacked_3x3_convolutions_grow_the_field_by_two_per_layer():
    # seed 004, problem 2: r1 = 3, r2 = 5, r3 = 7, r4 = 9
    trace = architecture((1, 32, 32), "conv 1 3 / conv 1 3 / conv 1 3 / conv 1 3")
    assert [r["receptive_field"]["size"] for r in trace.outputs["layers"]] == [3, 5, 7, 9]


def test_dilation_widens_the_kernel_in_the_field_and_the_step_shows_it():
    trace = architecture((1, 16, 16), "conv 1 3 d2 / conv 1 3 d4")
    assert [field(r) for r in trace.outputs["layers"]] == [(5, 1, 0), (13, 1, 0)]
    step = trace.steps.by_id("layers[0].receptive_field")
    assert step.kind is StepKind.RECEPTIVE_FIELD
    assert step.expansion.startswith(r"r = 1 + 2(3 - 1) \cdot 1 = 5")


def test_field_arithmetic_in_shapes():
    f = receptive_field_next(ReceptiveField(1, 1, 0), kernel=7, stride=2, pad_before=3)
    assert f == ReceptiveField(7, 2, -3)
    assert receptive_region(f, 4) == (5, 11)
    assert receptive_field_union(ReceptiveField(19, 4, -7), ReceptiveField(11, 4, -3)) == ReceptiveField(19, 4, -7)
    assert conv_params(3, 8, (3, 3)) == 224 and conv_params(96, 96, (3, 3), groups=96, bias=False) == 864
    assert linear_params(144, 10) == 1450 and conv_macs(3, 8, (3, 3), 1, (16, 16)) == 55_296


def test_field_region_of_one_output_cell():
    rows = rows_by_name(architecture(preset="vgg16"))
    region = field_region(rows["features.30"], (0, 0))
    assert region["rows"] == (-90, 121) and region["cols"] == (-90, 121)
    region = field_region(rows["features.30"], (3, 5))
    assert region["rows"] == (6, 217) and region["cols"] == (70, 281)
    assert "32" in region["step"].expansion
    with pytest.raises(EngineError) as info:
        field_region(rows["features.30"], (7, 0))
    assert info.value.argument == "cell"
    with pytest.raises(EngineError):
        field_region(rows["classifier.0"], (0, 0))


# --- the seeds' tables ---------------------------------------------------------------------

def test_seed000_table_of_the_16x16x3_network():
    trace = architecture((3, 16, 16), SEED000_TEXT)
    rows = trace.outputs["layers"]
    assert [tuple(r["output_shape"]) for r in rows] == [(8, 16, 16), (8, 16, 16), (8, 8, 8), (16, 6, 6), (16, 6, 6),
                                                        (16, 3, 3), (144,), (10,)]
    assert [r["params"] for r in rows] == [224, 0, 0, 1168, 0, 0, 0, 1450]
    assert trace.outputs["totals"]["params"] == 2842
    step = trace.steps.by_id("layers[0].params")
    assert step.expansion == r"(3 \cdot 3 \cdot 3 + 1) \cdot 8 = 28 \cdot 8 = 224"
    assert step.evaluate() == 224
    assert trace.steps.by_id("layers[7].params").expansion == r"(144 + 1) \cdot 10 = 145 \cdot 10 = 1\text{,}450"
    assert trace.steps.by_id("totals.params").expansion == r"224 + 1\text{,}168 + 1\text{,}450 = 2\text{,}842"


def test_seed_presets_agree_with_what_the_seeds_print():
    for name in ("seed000_rgb16", "seed000_toy", "seed001_cifar", "seed001_cats_dogs", "seed003_mnist"):
        notes = architecture(preset=name).notes
        assert any(n.startswith("Seed 00") and n.endswith("agree.") for n in notes), name
        assert not any("the computed figure is" in n for n in notes), name


def test_seed001_counts_weights_without_biases():
    trace = architecture(preset="seed001_mlp")
    assert trace.outputs["totals"]["params"] == 307_300  # 3,072 × 100 weights + 100 biases
    assert any("307,200; the computed figure is 307,300" in n for n in trace.notes)


def test_seed_networks_shapes_and_totals():
    rows = rows_by_name(architecture(preset="seed003_mnist"))
    shapes = [rows[n]["output_shape"] for n in ("conv", "pool", "flatten", "fc")]
    assert shapes == [[1, 23, 23], [1, 11, 11], [121], [10]]
    cifar = architecture(preset="seed001_cifar")
    assert cifar.outputs["totals"]["params"] == 896 + 18_496 + 524_416 + 1_290
    cats = rows_by_name(architecture(preset="seed001_cats_dogs"))
    assert cats["flatten"]["output_shape"] == [32_768] and cats["fc1"]["params"] == 32_768 * 512 + 512
    toy = architecture(preset="seed000_toy")
    assert toy.outputs["totals"]["params"] == 9 + 5


def test_seed001_stride_2_division_is_flagged_as_not_exact():
    # seed 001: 6×6 input, 3×3 filter, stride 2: (6 - 3)/2 = 1.5, printed as '2.5 → 2'
    trace = architecture((1, 6, 6), "conv 1 3 s2")
    assert trace.outputs["layers"][0]["output_shape"] == [1, 2, 2]
    step = trace.steps.by_id("layers[0].rows")
    assert "not exact" in step.message and step.result == 2
    assert any("3/2 is not exact" in n and "never read" in n for n in trace.notes)


def test_seed004_first_resnet_layer_and_comparisons():
    assert rows_by_name(architecture(preset="resnet50"))["conv1"]["output_shape"] == [64, 112, 112]
    five = compare_architectures(preset="five_vs_two_threes").outputs
    assert (five["left"]["totals"]["params"], five["right"]["totals"]["params"]) == (102_464, 73_856)
    assert f"{(1 - five['ratios']['params']) * 100:.0f}%" == "28%"          # '28% fewer'
    assert five["left"]["receptive_field"]["size"] == five["right"]["receptive_field"]["size"] == 5
    depthwise = compare_architectures(preset="depthwise_separable").outputs
    assert depthwise["left"]["totals"]["params"] == 64 * 64 * 9 + 64          # C²k² + C
    assert depthwise["right"]["totals"]["params"] == 64 * 9 + 64 + 64 * 64 + 64  # Ck² + C + C² + C, not 4,736
    dense = compare_architectures(preset="conv_vs_dense").outputs
    assert dense["left"]["totals"]["params"] == 1_792                      # '~1.8K params'
    assert dense["right"]["totals"]["params"] == (3 * 256 * 256 + 1) * 64 * 256 * 256


# --- steps and the trace contract ----------------------------------------------------------

@pytest.mark.parametrize("name", ["seed000_rgb16", "resnet18", "mobilenet_v2"])
def test_evaluate_rebuilds_the_counts_and_totals_from_the_steps(name):
    trace = architecture(preset=name)
    rebuilt = trace.evaluate()
    references = trace.flat_outputs()
    assert {"params", "macs", "totals.params", "totals.macs", "totals.mult_adds", "totals.total_mb"} <= set(rebuilt)
    for key, value in rebuilt.items():
        np.testing.assert_allclose(np.asarray(value, float), np.asarray(references[key], float), rtol=1e-12,
                                   err_msg=key)
    for step in trace.steps:
        if step.combine is not Combine.VALUE:
            assert step.evaluate() == pytest.approx(step.result, rel=1e-12), step.id


def test_every_step_is_found_by_its_id_and_rows_list_their_steps():
    trace = architecture(preset="resnet18")
    steps = trace.steps
    ids = [s.id for s in steps]
    assert len(set(ids)) == len(ids)
    for row in trace.outputs["layers"]:
        for step_id in row["steps"]:
            assert steps.by_id(step_id).id == step_id
    assert steps.by_id("layers[999].params") is None


def test_a_conv_row_has_size_parameter_mac_and_field_steps():
    trace = architecture((3, 16, 16), SEED000_TEXT)
    assert trace.outputs["layers"][0]["steps"] == ["layers[0].rows", "layers[0].params", "layers[0].macs",
                                                   "layers[0].receptive_field"]
    macs = trace.steps.by_id("layers[0].macs")
    assert macs.kind is StepKind.MAC_COUNT and macs.result == 16 * 16 * 8 * 27
    assert macs.expansion.endswith(r"= 2\text{,}048 \cdot 27 = 55\text{,}296")
    assert trace.steps.by_id("layers[6].shape").expansion == r"16 \cdot 3 \cdot 3 = 144"


def test_same_padding_is_derived_in_a_step():
    trace = architecture((3, 224, 224), "conv 32 3 s2 same")
    assert trace.outputs["layers"][0]["options"]["padding"] == [0, 1, 0, 1]
    assert trace.steps.by_id("layers[0].padding").kind is StepKind.PADDING
    assert any("PyTorch accepts 'same' only at stride 1" in n for n in trace.notes)


def test_a_large_table_is_built_fast_and_its_steps_lazily():
    start = time.perf_counter()
    trace = architecture(preset="resnet50")
    assert time.perf_counter() - start < 0.5
    assert len(trace.outputs["layers"]) == 199
    assert len(trace.steps) > 300


def test_frozen_layers_count_as_non_trainable():
    trace = architecture((3, 8, 8), "conv 4 3 frozen / bn / flatten / linear 2")
    totals = trace.outputs["totals"]
    assert (totals["params"], totals["trainable_params"], totals["non_trainable_params"]) == (410, 298, 112)
    assert trace.outputs["layers"][0]["trainable"] is False
    assert trace.steps.by_id("totals.non_trainable_params").result == 112


def test_blocks_sum_their_layers_and_residual_fields_cover_both_branches():
    trace = architecture((8, 16, 16), "res(conv 8 3 p1 / relu / conv 8 3 p1)")
    rows = trace.outputs["layers"]
    assert [r["type"] for r in rows] == ["residual", "conv2d", "relu", "conv2d", "add", "relu"]
    assert rows[0]["params"] == 2 * (9 * 8 + 1) * 8
    assert rows[0]["receptive_field"] == {"size": 5, "jump": 1, "start": -2}
    assert trace.steps.by_id("layers[0].params").expansion == r"584 + 584 = 1\text{,}168"


# --- the text form -------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_preset_written_as_text_reads_back_to_the_same_table(name):
    network = NETWORKS[name]
    from_text = architecture(network.input_shape, layers_to_text(network.layers))
    from_specs = architecture(preset=name)
    assert from_text.outputs["layers"] == from_specs.outputs["layers"]
    assert from_text.outputs["totals"] == from_specs.outputs["totals"]


def test_text_form_reads_names_blocks_and_options():
    layers = parse_layers("stem: conv 64 7x7 s2 p3 nobias\nlayer1: [res(conv 64 3 p1 / bn | conv 64 1) / "
                          "add(conv 64 1x3 p0x1 g64)]\ndropout 0.2 / gap / flatten / fc 10 frozen")
    assert layers[0] == {"type": "conv2d", "out_channels": 64, "kernel_size": [7, 7], "stride": 2, "padding": 3,
                         "bias": False, "name": "stem"}
    block = layers[1]["layers"][0]
    assert block["type"] == "residual" and block["activation"] == "relu" and len(block["shortcut"]) == 1
    assert layers[1]["layers"][1]["activation"] is None
    assert layers[1]["layers"][1]["body"][0]["kernel_size"] == [1, 3]
    assert layers[2] == {"type": "dropout", "p": 0.2}
    assert layers[3] == {"type": "adaptive_avgpool2d", "output_size": 1}
    assert layers[5] == {"type": "linear", "out_features": 10, "trainable": False}


@pytest.mark.parametrize("text, piece, words", [
    ("conv 8 3x3 q1 / relu", 0, "'q1' is not an option of conv"),
    ("conv 8 3 / relu / linaer 10", 2, "'linaer' is not a layer"),
    ("conv 3x3 8", 0, "the number of filters comes first"),
    ("relu / linear", 1, "missing out_features"),
    ("maxpool 2 same", 0, "a pool takes a number"),
    ("relu 3", 0, "too many numbers"),
    ("bn nobias", 0, "bn has no bias"),
])
def test_text_form_errors_name_the_piece(text, piece, words):
    with pytest.raises(EngineError) as info:
        parse_layers(text)
    assert info.value.argument == "layers" and info.value.location == (piece,)
    assert f"piece {piece + 1} " in info.value.problem and words in info.value.problem


@pytest.mark.parametrize("text, words", [
    ("res(conv 8 3", "not closed"),
    ("conv 8 3 )", "closes nothing"),
    ("", "is empty"),
    ("a: / relu", "names nothing"),
])
def test_text_form_errors_in_the_structure(text, words):
    with pytest.raises(EngineError) as info:
        parse_layers(text)
    assert words in info.value.problem


# --- bad specs -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape, layers, location, words", [
    ((3, 4, 4), "conv 8 3 / conv 8 3 / conv 8 3", (1,),
     "conv2 (conv2d): a 3×3 window spans 3 rows but the input has only 2"),
    ((3, 8, 8), "flatten / conv 8 3", (1,), "conv2d needs a (C, H, W) input, got (192,)"),
    ((3, 8, 8), "conv 8 3 / linear 10", (1,), "put a flatten before it"),
    ((3, 8, 8), "conv 8 3 g2", (0,), "groups = 2 must divide the 3 input channels"),
    ((3, 8, 8), "maxpool 2 p2", (0,), "more than half"),
    ((3, 8, 8), "res(conv 4 3 p1)", (0,),
     "the body gives (4, 8, 8) but the block's input (the identity shortcut) is (3, 8, 8)"),
    ((3, 8, 8), "res(conv 8 3 s2 p1 | conv 8 1)", (0,), "the body gives (8, 4, 4) but the shortcut is (8, 8, 8)"),
    ((784,), "bn", (0,), "batchnorm2d needs a (C, H, W) input"),
])
def test_a_layer_that_cannot_fit_names_the_layer_and_the_reason(shape, layers, location, words):
    with pytest.raises(EngineError) as info:
        architecture(shape, layers)
    assert info.value.argument == "layers" and info.value.location == location
    assert words in info.value.problem


@pytest.mark.parametrize("layers, location, words", [
    ([{"type": "conv2d", "out_channels": 8}], (0,), "missing kernel_size"),
    ([{"type": "conv2d", "out_channels": 8, "kernel_size": 3, "out_features": 2}], (0,),
     "unknown option 'out_features'"),
    ([{"type": "transformer"}], (0,), "type 'transformer' is not one of"),
    ([{"type": "relu"}, {"type": "sequential", "layers": [{"type": "conv2d", "out_channels": 2, "kernel_size": 9}]}],
     (1, "layers", 0), "does not fit"),
    ([{"type": "residual", "body": [{"type": "linear", "out_features": 2}]}], (0, "body", 0), "flat input"),
    ([{"type": "conv2d", "out_channels": True, "kernel_size": 3}], (0,), "out_channels must be a whole number"),
    ([{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "in_channels": 4}], (0,), "in_channels is 4"),
    ([{"type": "dropout", "p": 1.5}], (0,), "p must be a probability"),
    ([{"type": "residual", "body": [], "activation": "gelu"}], (0,), "activation 'gelu'"),
    (["relu"], (0,), "expected a layer"),
])
def test_bad_layer_specs_are_refused_with_their_place(layers, location, words):
    with pytest.raises(EngineError) as info:
        architecture((3, 8, 8), layers)
    assert info.value.location == location and words in info.value.problem


@pytest.mark.parametrize("call, argument", [
    (lambda: architecture((3, 8), "relu"), "input_shape"),
    (lambda: architecture("3x0x8", "relu"), "input_shape"),
    (lambda: architecture("three", "relu"), "input_shape"),
    (lambda: architecture((3, 8, 8)), "layers"),
    (lambda: architecture(None, "relu"), "input_shape"),
    (lambda: architecture(preset="vgg17"), "preset"),
    (lambda: architecture(preset="vgg16", layers="relu"), "layers"),
    (lambda: architecture((3, 8, 8), []), "layers"),
    (lambda: compare_architectures(preset="nope"), "preset"),
    (lambda: compare_architectures((3, 8, 8), "relu", None), "right"),
    (lambda: compare_architectures((3, 8, 8), "relu", "conv 2 9"), "right"),
])
def test_bad_arguments_name_the_argument(call, argument):
    with pytest.raises(EngineError) as info:
        call()
    assert info.value.argument == argument


def test_an_input_that_looks_like_hwc_gets_a_note():
    trace = architecture("32x32x3", "relu")
    assert "An image 32×32 with 3 channels is 3×32×32" in trace.notes[0]


def test_count_layers_counts_blocks_and_the_rows_a_residual_adds():
    layers = parse_layers("conv 8 3 / [res(relu | relu) / relu]")
    assert count_layers(layers) == 2 + 1 + 2 + 2 + 1
    assert count_layers(layers) == len(architecture((8, 8, 8), layers).outputs["layers"])


# --- exports and comparisons -----------------------------------------------------------------

def test_exports_in_every_layout():
    outputs = architecture((3, 16, 16), SEED000_TEXT).outputs
    torchinfo = summary_text(outputs, "torchinfo")
    assert "├─Conv2d: 1-1" in torchinfo and "└─Linear: 1-8" in torchinfo and "Total params: 2,842" in torchinfo
    keras = summary_text(outputs, "keras")
    assert "conv1 (Conv2D)" in keras and "(None, 16, 16, 8)" in keras and "Total params: 2,842" in keras
    csv = summary_text(outputs, "csv", layout="hwc").splitlines()
    assert csv[0].startswith("index,name,type,depth")
    assert csv[1].startswith("0,conv1,conv2d,1,,16x16x3,16x16x8,224,true")
    markdown = summary_text(outputs, "markdown")
    assert "| conv1 | conv2d | 8×16×16 | 224 | 55,296 | 3 (jump 1) |" in markdown
    assert '"params": 2842' in summary_text(outputs, "json")
    with pytest.raises(ValueError):
        summary_text(outputs, "xml")


def test_keras_counts_batch_norm_statistics_as_non_trainable():
    outputs = architecture((3, 8, 8), "conv 4 3 / bn").outputs
    keras = summary_text(outputs, "keras")
    assert "Total params: 128" in keras and "Non-trainable params: 8" in keras  # 112 + 16, with 8 statistics


def test_torchinfo_tree_marks_the_last_child_of_each_block():
    text = summary_text(architecture(preset="resnet18").outputs, "torchinfo", model_name="ResNet")
    for line in ("│    └─Residual: 2-2", "│         ├─Conv2d: 3-7", "└─Linear: 1-11"):
        assert line in text
    assert "Add" not in text


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_comparisons_rebuild_their_totals_and_ratios_from_the_steps(name):
    trace = compare_architectures(preset=name)
    rebuilt = trace.evaluate()
    assert set(rebuilt) == {"left.totals.params", "right.totals.params", "left.totals.macs", "right.totals.macs",
                            "ratios.params", "ratios.macs"}
    references = trace.flat_outputs()
    for key, value in rebuilt.items():
        assert value == pytest.approx(references[key], rel=1e-12), key
    assert trace.steps.by_id("ratio.params").kind is StepKind.RATIO


def test_custom_comparison_of_two_layer_lists():
    trace = compare_architectures((64, 56, 56), "conv 64 5 p2", "conv 64 3 p1 / relu / conv 64 3 p1",
                                  labels=("5×5", "3×3 twice"))
    assert trace.outputs["ratios"]["params"] == pytest.approx(73_856 / 102_464)
    assert "27.9% fewer" in trace.steps.by_id("ratio.params").message


# --- the command line ----------------------------------------------------------------------

def test_cli_summary_of_a_preset_prints_torchinfos_layout_and_the_published_check(capsys):
    from app.cli import main
    assert main(["summary", "vgg16"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("=" * 90) and "VGG                                      [1, 1000]" in out
    assert "Total params: 138,357,544" in out and "Total mult-adds (G): 15.48" in out
    assert "torchvision gives num_params 138,357,544 and GFLOPS 15.47" in out


def test_cli_summary_of_typed_layers_in_other_formats(capsys):
    from app.cli import main
    layers = "conv 32 3x3 p1 / relu / maxpool 2 / flatten / linear 10"
    assert main(["summary", "--input", "3x32x32", "--layers", layers, "--format", "keras"]) == 0
    assert "conv1 (Conv2D)              (None, 32, 32, 32)        896" in capsys.readouterr().out
    assert main(["summary", "--input", "3x32x32", "--layers", layers, "--format", "csv", "--steps"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("index,name,type") and "[layers[0].params] conv1: parameters" in out


def test_cli_summary_errors_and_lists(capsys):
    from app.cli import main
    assert main(["summary", "--input", "3x4x4", "--layers", "conv 8 5"]) == 2
    assert "conv1 (conv2d): a 5×5 window spans 5 rows" in capsys.readouterr().err
    assert main(["summary"]) == 2
    assert main(["summary", "--list"]) == 0
    assert "resnet50" in capsys.readouterr().out
    assert main(["summary", "--compare", "depthwise_separable"]) == 0
    assert "[ratio.params]" in capsys.readouterr().out
