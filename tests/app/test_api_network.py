"""JSON API: POST /api/v1/network, seed 000's network end to end, paging, one step by id, refusals."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from app.limits import MAX_NETWORK_CELLS, MAX_NETWORK_LAYERS, MAX_NETWORK_WORK, MAX_TRAINING_STEPS
from app.schemas import NetworkTrace

SEED_INPUT = [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]]
SEED_KERNEL = [[1, -1, 0], [0, 1, -1], [1, 0, 1]]
SEED = {
    "input": SEED_INPUT,
    "layers": [{"type": "conv2d", "weight": SEED_KERNEL, "bias": None, "stride": 1, "padding": 0},
               {"type": "relu"},
               {"type": "flatten"},
               {"type": "linear", "weight": [[0.2, -0.5, 0.4, 0.1]], "bias": [0.2]}],
    "target": 0,
    "loss": {"kind": "mse", "reduction": "half_sum"},
    "optimizer": {"kind": "sgd", "lr": 0.1},
    "steps": 1,
}
SEED_STEP_COUNT = 66  # 10 headers, 4 + 4 + 4 + 1 forward, 2 loss, 10 + 4 + 4 + 9 backward, 1 + 13 update
DRAWN = {
    "input": [SEED_INPUT],
    "layers": [{"type": "conv2d", "out_channels": 2, "kernel_size": 3}, {"type": "relu"},
               {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "linear", "out_features": 2}],
    "target": 1,
    "loss": {"kind": "softmax_cross_entropy"},
    "optimizer": {"kind": "adam", "lr": 0.01},
}


def body(**changes) -> dict:
    b = copy.deepcopy(SEED)
    b.update(changes)
    return b


def with_layer(i: int, **changes) -> dict:
    b = body()
    b["layers"][i].update(changes)
    return b


def approx(values):
    return pytest.approx(values, abs=1e-12)


def assert_close(actual, expected) -> None:
    np.testing.assert_allclose(np.array(actual, dtype=float), np.array(expected, dtype=float), rtol=0, atol=1e-12)


# --- seed 000 -------------------------------------------------------------------------------

def test_seed_000_network_gives_the_worked_numbers(api):
    trace = api.ok("network", SEED)
    assert trace["op"] == "network"
    out = trace["outputs"]
    assert out["prediction"] == approx([2.9])
    assert out["loss"] == approx(4.205) and out["losses"] == approx([4.205])
    for actual, expected in zip(out["activations"], [[[4, 0], [4, 3]], [[4, 0], [4, 3]], [4, 0, 4, 3], [2.9]],
                                strict=True):
        assert_close(actual, expected)
    assert out["gradients"][1] is None and out["gradients"][2] is None
    assert_close(out["gradients"][3]["weight"], [[11.6, 0, 11.6, 8.7]])
    assert out["gradients"][3]["bias"] == approx([2.9])
    # through the ReLU (ReLU'(0) = 0 at z12): δ = [[0.58, 0], [1.16, 0.29]], each kernel cell Σ δ·x
    assert_close(out["gradients"][0]["weight"], [[2.61, 1.16, 0.87], [1.16, 3.19, 1.16], [1.16, 1.74, 3.19]])
    assert out["gradients"][0]["bias"] is None
    assert_close(out["parameters"][3]["weight"], [[-0.96, -0.5, -0.76, -0.77]])
    assert out["parameters"][3]["bias"] == approx([-0.09])
    assert out["parameters"][1] is None


def test_seed_000_response_validates_against_network_trace(api):
    trace = api.ok("network", SEED)
    model = NetworkTrace.model_validate(trace)
    assert model.step_count == SEED_STEP_COUNT
    assert model.params.loss == {"kind": "mse", "reduction": "half_sum", "eps": 1e-12}
    assert model.params.optimizer["lr"] == 0.1 and model.params.seed is None
    assert [layer["type"] for layer in model.params.layers] == ["conv2d", "relu", "flatten", "linear"]
    assert model.inputs.input == SEED_INPUT
    assert_close(trace["intermediates"]["delta.1"], [[0.58, 0], [1.16, 0.29]])
    assert trace["intermediates"]["updated.4.bias"] == approx([-0.09])


def test_seed_000_first_page_starts_with_the_first_layer_forward(api):
    trace = api.ok("network", SEED)
    steps = trace["steps"]
    assert steps[0]["id"] == "layer1.forward" and steps[0]["kind"] == "layer"
    assert steps[1]["id"] == "layer1.forward.output[0,0]"
    assert steps[1]["expansion"].endswith("= 4")
    assert steps[1]["target"] == {"tensor": "act.1", "index": [0, 0]}
    assert steps[1]["terms"][0]["factors"][0] == {"tensor": "act.0", "index": [0, 0], "value": 2}
    assert any("1 of 4 outputs of layer 2 (ReLU) are 0" in note for note in trace["notes"])


def test_seed_000_repeated_at_rate_0_1_notes_the_loss_going_up(api):
    trace = api.ok("network", body(steps=3))
    losses = trace["outputs"]["losses"]
    assert len(losses) == 3 and losses[1] > losses[0]
    assert trace["params"]["steps"] == 3
    assert any("raised the loss from 4.205" in note for note in trace["notes"])


# --- paging and one step by id --------------------------------------------------------------

def test_steps_page_through_the_whole_training_step(api):
    everything = api.ok("network", SEED, step_limit=500)
    assert len(everything["steps"]) == everything["step_count"] == SEED_STEP_COUNT
    assert everything["next_step_offset"] is None
    first = api.ok("network", SEED, step_limit=30)
    assert first["next_step_offset"] == 30 and len(first["steps"]) == 30
    second = api.ok("network", SEED, step_offset=30, step_limit=30)
    third = api.ok("network", SEED, step_offset=60, step_limit=30)
    assert third["next_step_offset"] is None and len(third["steps"]) == SEED_STEP_COUNT - 60
    ids = [s["id"] for page in (first, second, third) for s in page["steps"]]
    assert ids == [s["id"] for s in everything["steps"]]
    headers = [s["id"] for s in everything["steps"] if s["kind"] == "layer"]
    assert headers == ["layer1.forward", "layer2.forward", "layer3.forward", "layer4.forward", "loss.header",
                       "layer4.backward", "layer3.backward", "layer2.backward", "layer1.backward", "update.header"]
    assert everything["steps"][-1]["id"] == "update.params.layer4.bias[0]"


def test_an_offset_past_the_end_returns_no_steps(api):
    trace = api.ok("network", SEED, step_offset=1000)
    assert trace["steps"] == [] and trace["step_count"] == SEED_STEP_COUNT


def test_step_id_returns_one_backward_step(api):
    everything = api.ok("network", SEED, step_limit=500)
    position = [s["id"] for s in everything["steps"]].index("layer1.backward.grad_weight[0,0]")
    trace = api.ok("network", SEED, step_id="layer1.backward.grad_weight[0,0]")
    assert len(trace["steps"]) == 1 and trace["step_offset"] == position
    step = trace["steps"][0]
    assert step["kind"] == "gradient_sum"
    assert step["result"] == approx(2.61)
    assert step["target"] == {"tensor": "grad.1.weight", "index": [0, 0]}
    assert step["expansion"].endswith("= 2.61")
    assert {"delta.1", "act.0"} <= set(step["reads"])


def test_step_id_of_an_update_and_of_the_loss(api):
    update = api.ok("network", SEED, step_id="update.params.layer4.weight[0,0]")["steps"][0]
    assert update["kind"] == "update" and update["result"] == approx(-0.96)
    assert "0.2 - 0.1(11.6) = -0.96" in update["expansion"]
    loss = api.ok("network", SEED, step_id="loss.loss")["steps"][0]
    assert loss["result"] == approx(4.205) and loss["target"] == {"tensor": "loss", "index": []}


def test_an_unknown_step_id_is_a_404(api):
    detail = api.refused("network", SEED, status=404, step_id="layer9.forward.output[0,0]")
    assert detail[0]["loc"] == ["query", "step_id"]


# --- drawn weights, frozen layers, the other layer types ------------------------------------

def test_drawn_weights_come_back_with_the_seed_and_repeat_with_it(api):
    first = api.ok("network", DRAWN)
    seed = first["params"]["seed"]
    assert isinstance(seed, int)
    assert any(f"drawn with seed {seed}" in note for note in first["notes"])
    again = api.ok("network", {**DRAWN, "seed": seed})
    assert again["intermediates"]["param.1.weight"] == first["intermediates"]["param.1.weight"]
    assert again["outputs"]["loss"] == first["outputs"]["loss"]
    assert [layer["drawn"] for layer in again["params"]["layers"]] == [True, False, False, False, True]
    NetworkTrace.model_validate(again)


def test_bias_false_leaves_a_drawn_layer_without_bias(api):
    b = copy.deepcopy(DRAWN)
    b["layers"][0]["bias"] = False
    trace = api.ok("network", {**b, "seed": 3})
    assert trace["outputs"]["parameters"][0]["bias"] is None
    assert trace["outputs"]["parameters"][4]["bias"] is not None


def test_a_frozen_layer_keeps_its_weights_and_has_no_gradient(api):
    trace = api.ok("network", with_layer(0, frozen=True) | {"steps": 2})
    assert trace["outputs"]["parameters"][0]["weight"] == SEED_KERNEL
    assert trace["outputs"]["gradients"][0] is None
    assert any("Layer 1 (Conv2d) is frozen" in note for note in trace["notes"])


def test_every_layer_type_in_one_request(api):
    b = {
        "input": [[[0.5, -1, 2, 0], [1, 0.5, -0.5, 1], [0, 2, 1, -1], [1, -1, 0, 0.5]]],
        "layers": [
            {"type": "conv2d", "weight": [[[[1, 0], [0, -1]]], [[[0.5, 0.5], [-0.5, 0.5]]]], "bias": [0.1, -0.1],
             "padding": 1},
            {"type": "batchnorm2d", "weight": [1, 2], "bias": [0, 0.5], "frozen": True},
            {"type": "leaky_relu", "alpha": 0.1},
            {"type": "avgpool2d", "kernel_size": 2},
            {"type": "minpool2d", "kernel_size": 1},
            {"type": "maxpool2d", "kernel_size": [2, 1], "stride": 1},
            {"type": "tanh"},
            {"type": "dropout", "p": 0.25, "seed": 5},
            {"type": "flatten"},
            {"type": "linear", "out_features": 3},
            {"type": "sigmoid"},
            {"type": "relu"},
            {"type": "softmax"},
        ],
        "target": [0, 1, 0], "loss": {"kind": "cross_entropy"},
        "optimizer": {"kind": "momentum", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.001},
        "steps": 2, "seed": 11,
    }
    trace = api.ok("network", b)
    NetworkTrace.model_validate(trace)
    assert len(trace["outputs"]["activations"]) == 13
    assert trace["outputs"]["gradients"][1] is None  # the frozen batch norm
    assert trace["outputs"]["parameters"][1] == {"weight": [1, 2], "bias": [0, 0.5]}
    conv1d = {"input": [[1, 2, 3, 4, 5]], "layers": [{"type": "conv1d", "weight": [[[1, -1]]], "bias": [0]},
                                                     {"type": "flatten"}, {"type": "linear", "weight": [[1, 1, 1, 1]]}],
              "target": [0], "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.01}}
    trace = api.ok("network", conv1d)
    assert trace["outputs"]["prediction"] == approx([-4])


# --- refusals -------------------------------------------------------------------------------

def test_a_layer_that_does_not_chain_is_named(api):
    b = body()
    del b["layers"][2]  # no flatten: the linear layer gets the 2×2 map
    detail = api.refused("network", b)
    assert detail[0]["loc"] == ["body", "layers", 2]
    assert detail[0]["msg"].startswith("layer 3: ") and "flatten" in detail[0]["msg"]


def test_a_weight_that_does_not_fit_its_input_is_named(api):
    detail = api.refused("network", with_layer(3, weight=[[1, 2, 3]]))
    assert detail[0]["loc"] == ["body", "layers", 3]
    assert "layer 4" in detail[0]["msg"] and "4 features" in detail[0]["msg"]


def test_an_unknown_layer_type_is_refused_at_the_layer(api):
    b = body()
    b["layers"][2] = {"type": "pool"}
    detail = api.refused("network", b)
    assert detail[0]["loc"] == ["body", "layers", 2]
    assert detail[0]["type"] == "union_tag_invalid"
    assert "'flatten'" in detail[0]["msg"]


def test_a_layer_without_a_type_is_refused(api):
    b = body()
    b["layers"][1] = {"alpha": 0.1}
    assert api.locs("network", b) == [["body", "layers", 1]]


def test_an_unknown_field_in_a_layer_is_refused_at_that_layer(api):
    detail = api.refused("network", with_layer(2, kernel_size=2))
    assert detail[0]["loc"][:3] == ["body", "layers", 2]
    assert detail[0]["loc"][-1] == "kernel_size"
    assert detail[0]["type"] == "extra_forbidden"


def test_freezing_a_layer_without_parameters_is_an_unknown_field(api):
    locs = api.locs("network", with_layer(1, frozen=True))
    assert locs == [["body", "layers", 1, "relu", "frozen"]]


def test_a_ragged_weight_is_named_down_to_the_row(api):
    detail = api.refused("network", with_layer(3, weight=[[0.2, -0.5, 0.4, 0.1], [1, 2]]))
    assert detail[0]["loc"] == ["body", "layers", 3, "weight", 1]
    assert detail[0]["type"] == "ragged"


def test_a_bad_cell_is_named_down_to_the_cell_in_every_layer(api):
    b = with_layer(0, weight=[[1, -1, 0], [0, True, -1], [1, 0, 1]])
    b["layers"][3]["bias"] = ["0.2"]
    b["input"] = [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, None, 0], [1, 0, 2, 1]]
    locs = api.locs("network", b)
    assert locs == [["body", "input", 2, 2], ["body", "layers", 0, "weight", 1, 1], ["body", "layers", 3, "bias", 0]]


def test_a_dropout_mask_is_read_cell_by_cell(api):
    b = body()
    b["layers"].insert(2, {"type": "dropout", "p": 0.5, "mask": [[1, 0], [1, "x"]]})
    assert api.locs("network", b) == [["body", "layers", 2, "mask", 1, 1]]
    b["layers"][2]["mask"] = [[1, 0], [1, 2]]
    detail = api.refused("network", b)
    assert detail[0]["loc"] == ["body", "layers", 2] and "mask" in detail[0]["msg"]


def test_steps_over_the_limit_are_refused_naming_the_limit(api):
    detail = api.refused("network", body(steps=MAX_TRAINING_STEPS + 1))
    assert detail[0]["loc"] == ["body", "steps"]
    assert str(MAX_TRAINING_STEPS) in detail[0]["msg"] and "limit" in detail[0]["msg"]
    for bad in (0, 2.0, True, "3"):
        assert api.locs("network", body(steps=bad)) == [["body", "steps"]]


def test_more_layers_than_the_limit_are_refused(api):
    b = body(layers=[{"type": "flatten"}] * (MAX_NETWORK_LAYERS + 1))
    detail = api.refused("network", b)
    assert detail[0]["loc"] == ["body", "layers"]
    assert f"the limit is {MAX_NETWORK_LAYERS} layers" in detail[0]["msg"]
    assert api.locs("network", body(layers=[])) == [["body", "layers"]]


def test_a_missing_loss_is_refused(api):
    b = body()
    del b["loss"]
    detail = api.refused("network", b)
    assert [item["loc"] for item in detail] == [["body", "loss"]]
    assert detail[0]["type"] == "missing"


@pytest.mark.parametrize("loss, loc", [
    ({"kind": "hinge"}, ["body", "loss", "kind"]),
    ({"kind": "mse", "scale": 2}, ["body", "loss", "scale"]),
    ({"kind": "mse", "eps": 0}, ["body", "loss", "eps"]),
    ({"kind": "cross_entropy", "reduction": "half_sum"}, ["body", "loss"]),
])
def test_a_bad_loss_is_refused_at_the_loss(api, loss, loc):
    assert api.locs("network", body(loss=loss)) == [loc]


@pytest.mark.parametrize("optimizer, loc", [
    ({"kind": "sgd"}, ["body", "optimizer", "lr"]),
    ({"kind": "sgd", "lr": 0}, ["body", "optimizer", "lr"]),
    ({"kind": "rmsprop", "lr": 0.1}, ["body", "optimizer", "kind"]),
    ({"kind": "adam", "lr": 0.1, "betas": [0.9]}, ["body", "optimizer", "betas"]),
    ({"kind": "adam", "lr": 0.1, "momentum": 0.5}, ["body", "optimizer"]),
    ({"kind": "sgd", "lr": 0.1, "nesterov": True}, ["body", "optimizer", "nesterov"]),
])
def test_a_bad_optimizer_is_refused_at_the_optimizer(api, optimizer, loc):
    assert api.locs("network", body(optimizer=optimizer)) == [loc]


def test_a_target_of_the_wrong_shape_is_refused_at_the_target(api):
    assert api.locs("network", body(target=[0, 0])) == [["body", "target"]]


def test_nothing_to_train_is_refused(api):
    b = with_layer(0, frozen=True)
    b["layers"][3]["frozen"] = True
    detail = api.refused("network", b)
    assert detail[0]["loc"] == ["body", "layers"]
    assert "no layer has parameters to train" in detail[0]["msg"]


def test_a_request_over_the_work_limit_is_refused_before_computing(api):
    wide = {"input": [[[0.5] * 64] * 64] * 3,
            "layers": [{"type": "conv2d", "out_channels": 16, "kernel_size": 3}, {"type": "relu"},
                       {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
                       {"type": "linear", "out_features": 10}],
            "target": 3, "loss": {"kind": "softmax_cross_entropy"}, "optimizer": {"kind": "sgd", "lr": 0.01},
            "seed": 1, "steps": MAX_TRAINING_STEPS}
    detail = api.refused("network", wide)
    assert detail[0]["loc"] == ["body", "steps"]
    assert f"the limit is {MAX_NETWORK_WORK:,}" in detail[0]["msg"] and "multiply-adds" in detail[0]["msg"]


def test_activations_over_the_cell_limit_are_refused_at_the_layer(api):
    b = {"input": [[0.0] * 100] * 100,
         "layers": [{"type": "conv2d", "out_channels": 30, "kernel_size": 1}, {"type": "relu"},
                    {"type": "flatten"}, {"type": "linear", "out_features": 1}],
         "target": [0], "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.1}, "seed": 1}
    detail = api.refused("network", b)
    assert detail[0]["loc"] == ["body", "layers", 0]
    assert f"the limit is {MAX_NETWORK_CELLS:,}" in detail[0]["msg"]


def test_a_drawn_weight_over_the_tensor_limit_is_refused_at_the_layer(api):
    b = {"input": [0.0] * 2000, "layers": [{"type": "linear", "out_features": 1000}],
         "target": [0.0] * 1000, "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.1}}
    detail = api.refused("network", b)
    assert detail[0]["loc"] == ["body", "layers", 0]
    assert "drawn weight" in detail[0]["msg"] and detail[0]["msg"].startswith("layer 1 (linear): ")


def test_a_layer_over_its_ops_own_limit_is_refused_at_the_layer(api):
    b = {"input": [[0.0] * 10] * 10,
         "layers": [{"type": "conv2d", "weight": [[1.0]], "padding": 5000}, {"type": "flatten"},
                    {"type": "linear", "out_features": 1}],
         "target": [0], "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.1}, "seed": 1}
    detail = api.refused("network", b)
    assert detail[0]["loc"] == ["body", "layers", 0, "padding"]
    assert detail[0]["msg"].startswith("layer 1 (conv2d): ")
