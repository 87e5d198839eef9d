"""network: one example through a small network, forward, loss, backward and update.

Seed 000's network is worked by hand here; every parameter gradient of larger networks is held to
central differences of the loss the network itself reports; the steps rebuild every tensor they write.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import EngineError, network
from engine.trace import StepKind

SEED_INPUT = [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]]
SEED_KERNEL = [[1, -1, 0], [0, 1, -1], [1, 0, 1]]
SEED_W = [[0.2, -0.5, 0.4, 0.1]]
SEED_LAYERS = [
    {"type": "conv2d", "weight": SEED_KERNEL, "bias": None},
    {"type": "relu"},
    {"type": "flatten"},
    {"type": "linear", "weight": SEED_W, "bias": [0.2]},
]
HALF_SUM = {"kind": "mse", "reduction": "half_sum"}
SGD = {"kind": "sgd", "lr": 0.1}
H_STEP = 1e-6


def seed_network(**options):
    return network(SEED_INPUT, SEED_LAYERS, target=0, loss=HALF_SUM, optimizer=SGD, **options)


# ---------------------------------------------------------------- references (plain loops)

def reference_conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid cross-correlation of one matrix with one kernel."""
    H, W = x.shape
    kH, kW = k.shape
    out = np.zeros((H - kH + 1, W - kW + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for m in range(kH):
                for n in range(kW):
                    out[i, j] += x[i + m, j + n] * k[m, n]
    return out


def reference_kernel_gradient(x: np.ndarray, delta: np.ndarray, kernel_shape: tuple[int, int]) -> np.ndarray:
    """dL/dk(m,n) = sum over output cells (i,j) of delta(i,j) x(i+m, j+n)."""
    grad = np.zeros(kernel_shape)
    for m in range(kernel_shape[0]):
        for n in range(kernel_shape[1]):
            for i in range(delta.shape[0]):
                for j in range(delta.shape[1]):
                    grad[m, n] += delta[i, j] * x[i + m, j + n]
    return grad


def with_parameter(layers: list[dict], i: int, name: str, value: np.ndarray) -> list[dict]:
    return [*layers[:i], {**layers[i], name: value.tolist()}, *layers[i + 1:]]


def numeric_gradient(x, layers: list[dict], i: int, name: str, **problem) -> np.ndarray:
    """Central differences of the network's reported loss with respect to every cell of layer i's ``name``."""
    value = np.array(layers[i][name], dtype=float)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[index] += H_STEP
        down[index] -= H_STEP
        loss_up = network(x, with_parameter(layers, i, name, up), **problem).outputs["loss"]
        loss_down = network(x, with_parameter(layers, i, name, down), **problem).outputs["loss"]
        grad[index] = (loss_up - loss_down) / (2 * H_STEP)
    return grad


def assert_gradients_match_finite_differences(x, layers: list[dict], **problem) -> int:
    """Every parameter gradient of the first step against central differences; returns how many were checked."""
    gradients = network(x, layers, **problem).outputs["gradients"]
    checked = 0
    for i, layer in enumerate(layers):
        for name in ("weight", "bias"):
            if layer.get(name) is None:
                continue
            expected = numeric_gradient(x, layers, i, name, **problem)
            actual = np.reshape(gradients[i][name], expected.shape)
            np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6, err_msg=f"layer {i + 1} {name}")
            checked += 1
    return checked


def assert_steps_rebuild_what_they_write(trace) -> None:
    rebuilt, reference = trace.evaluate(), trace.flat_outputs()
    assert rebuilt
    for name, value in rebuilt.items():
        np.testing.assert_allclose(value, reference[name], rtol=1e-9, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- seed 000, worked by hand

def test_seed_000_prediction_and_half_sum_loss():
    t = seed_network()
    assert t.op == "network"
    np.testing.assert_allclose(t.outputs["prediction"], [2.9])
    assert t.outputs["loss"] == pytest.approx(4.205)
    assert t.outputs["losses"] == [pytest.approx(4.205)]


def test_seed_000_activations_are_each_layers_output():
    acts = seed_network().outputs["activations"]
    assert len(acts) == 4
    np.testing.assert_allclose(acts[0], [[4, 0], [4, 3]])
    np.testing.assert_allclose(acts[1], [[4, 0], [4, 3]])
    np.testing.assert_allclose(acts[2], [4, 0, 4, 3])
    np.testing.assert_allclose(acts[3], [2.9])


def test_seed_000_dense_gradients_are_delta_times_the_flattened_input():
    gradients = seed_network().outputs["gradients"]
    assert gradients[1] is None and gradients[2] is None
    np.testing.assert_allclose(gradients[3]["weight"], [[11.6, 0, 11.6, 8.7]])
    np.testing.assert_allclose(gradients[3]["bias"], [2.9])


def test_seed_000_kernel_gradient_passes_through_relu_with_zero_slope_at_zero():
    x, w = np.array(SEED_INPUT, float), np.array(SEED_W[0])
    z = reference_conv(x, np.array(SEED_KERNEL, float))
    assert z[0, 1] == 0  # z12 = 0: ReLU'(0) = 0 stops the gradient there
    delta = 2.9 * w.reshape(2, 2) * (z > 0)
    np.testing.assert_allclose(delta, [[0.58, 0], [1.16, 0.29]])
    expected = reference_kernel_gradient(x, delta, (3, 3))
    gradients = seed_network().outputs["gradients"]
    np.testing.assert_allclose(gradients[0]["weight"], expected)
    assert gradients[0]["bias"] is None
    np.testing.assert_allclose(expected[0], [2.61, 1.16, 0.87])


def test_seed_000_sgd_update_moves_every_parameter_against_its_gradient():
    t = seed_network()
    dense = t.outputs["parameters"][3]
    np.testing.assert_allclose(dense["weight"], [[-0.96, -0.5, -0.76, -0.77]])
    np.testing.assert_allclose(dense["bias"], [-0.09])
    kernel = t.outputs["parameters"][0]["weight"]
    np.testing.assert_allclose(kernel, np.array(SEED_KERNEL) - 0.1 * t.outputs["gradients"][0]["weight"])
    assert t.outputs["parameters"][1] is None and t.outputs["parameters"][2] is None


def test_seed_000_steps_go_forward_then_loss_then_backward_in_reverse_then_update():
    steps = list(seed_network().steps)
    headers = [s.id for s in steps if s.kind == StepKind.LAYER]
    assert headers == ["layer1.forward", "layer2.forward", "layer3.forward", "layer4.forward", "loss.header",
                       "layer4.backward", "layer3.backward", "layer2.backward", "layer1.backward", "update.header"]
    phases = [s.id.split(".")[0] + ("" if s.id.startswith(("loss", "update")) else "." + s.id.split(".")[1])
              for s in steps]
    first = {phase: phases.index(phase) for phase in dict.fromkeys(phases)}
    assert list(first) == ["layer1.forward", "layer2.forward", "layer3.forward", "layer4.forward", "loss",
                           "layer4.backward", "layer3.backward", "layer2.backward", "layer1.backward", "update"]
    # each phase is one run of steps, not interleaved with another
    assert all(phases[k] == phases[k - 1] or k == first[phases[k]] for k in range(1, len(phases)))


def test_seed_000_layer_steps_are_the_ops_own_steps_in_network_names():
    t = seed_network()
    conv = t.steps.by_id("layer1.forward.output[0,0]")
    assert conv.kind == StepKind.MULTIPLY_ADD
    assert conv.expansion.endswith("= 4")
    assert conv.target == ("act.1", (0, 0))
    assert set(conv.reads) == {"act.0", "param.1.weight"}
    dense = t.steps.by_id("layer4.forward.output[0]")
    assert dense.expansion == "y_{1} = 0.2(4) + (-0.5)(0) + 0.4(4) + 0.1(3) + 0.2 = 2.9"
    relu_back = t.steps.by_id("layer2.backward.grad_input[0,1]")
    assert relu_back.target == ("delta.1", (0, 1)) and relu_back.result == 0
    assert r"\mathrm{ReLU}'(0) = (-1.45)(0) = 0" in relu_back.expansion
    grad_w = t.steps.by_id("layer4.backward.grad_weight[0,3]")
    assert grad_w.target == ("grad.4.weight", (0, 3)) and grad_w.result == pytest.approx(8.7)


def test_seed_000_update_steps_write_the_new_weights():
    t = seed_network()
    step = t.steps.by_id("update.params.layer4.weight[0,0]")
    assert step.kind == StepKind.UPDATE
    assert step.target == ("updated.4.weight", (0, 0))
    assert "0.2 - 0.1(11.6) = -0.96" in step.expansion
    bias = t.steps.by_id("update.params.layer4.bias[0]")
    assert bias.evaluate() == pytest.approx(-0.09)


def test_seed_000_lowest_layer_skips_the_input_gradient_no_layer_needs():
    t = seed_network()
    assert t.steps.by_id("layer1.backward.grad_input[0,0]") is None
    assert t.steps.by_id("layer1.backward.grad_weight[0,0]") is not None
    assert "delta.0" not in t.flat_outputs()


def test_seed_000_repeated_at_lr_0_1_overshoots_and_the_second_loss_is_the_updated_networks():
    t = seed_network(steps=3)
    losses = t.outputs["losses"]
    assert len(losses) == 3 and losses[0] == pytest.approx(4.205)
    assert losses[1] > losses[0]
    # losses[1] is measured before the second update: the network after the first update, by hand
    first = seed_network().outputs["parameters"]
    z = np.maximum(reference_conv(np.array(SEED_INPUT, float), first[0]["weight"]), 0)
    y = first[3]["weight"] @ z.reshape(-1) + first[3]["bias"]
    assert losses[1] == pytest.approx(0.5 * float(y[0]) ** 2)
    # the trace's outputs stay the first step's; parameters are after the last update
    assert t.outputs["loss"] == pytest.approx(4.205)
    assert not np.allclose(t.outputs["parameters"][3]["weight"], first[3]["weight"])


# ---------------------------------------------------------------- gradients against finite differences

def random_layers(rng: np.random.Generator, shapes: dict[int, tuple]) -> dict[int, np.ndarray]:
    return {i: np.round(rng.normal(size=shape), 3) for i, shape in shapes.items()}


def test_conv_relu_maxpool_dense_softmax_cross_entropy_gradients_match_finite_differences():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 6, 6))
    layers = [
        {"type": "conv2d", "weight": rng.normal(size=(3, 2, 3, 3)).tolist(), "bias": [0.1, -0.2, 0.05]},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "weight": (0.5 * rng.normal(size=(3, 12))).tolist(), "bias": [0.0, 0.1, -0.1]},
    ]
    problem = dict(target=1, loss={"kind": "softmax_cross_entropy"}, optimizer={"kind": "sgd", "lr": 0.01})
    assert assert_gradients_match_finite_differences(x, layers, **problem) == 4


def test_batchnorm_tanh_avgpool_dropout_gradients_match_finite_differences():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(2, 5, 5))
    layers = [
        {"type": "conv2d", "weight": rng.normal(size=(2, 2, 2, 2)).tolist(), "bias": [0.1, -0.2], "padding": 1},
        {"type": "batchnorm2d", "weight": [1.5, 0.5], "bias": [0.1, -0.3]},
        {"type": "tanh"},
        {"type": "avgpool2d", "kernel_size": 2, "stride": 2},
        {"type": "dropout", "p": 0.3, "seed": 3},
        {"type": "flatten"},
        {"type": "linear", "weight": rng.normal(size=(2, 18)).tolist(), "bias": [0.2, -0.1]},
    ]
    problem = dict(target=[0.5, -0.5], loss={"kind": "mse"}, optimizer={"kind": "adam", "lr": 0.01})
    t = network(x, layers, **problem)
    assert 0 < np.count_nonzero(t.outputs["activations"][4] == 0) < t.outputs["activations"][4].size
    assert assert_gradients_match_finite_differences(x, layers, **problem) == 6


def test_conv1d_leaky_relu_dense_sigmoid_binary_cross_entropy_gradients_match_finite_differences():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(2, 7))
    layers = [
        {"type": "conv1d", "weight": rng.normal(size=(3, 2, 3)).tolist(), "bias": [0.0, 0.1, -0.1], "stride": 2},
        {"type": "leaky_relu", "alpha": 0.1},
        {"type": "flatten"},
        {"type": "linear", "weight": (0.5 * rng.normal(size=(2, 9))).tolist(), "bias": [0.1, 0.0]},
        {"type": "sigmoid"},
    ]
    problem = dict(target=[1, 0], loss={"kind": "binary_cross_entropy"},
                   optimizer={"kind": "momentum", "lr": 0.05, "momentum": 0.9})
    assert assert_gradients_match_finite_differences(x, layers, **problem) == 4


def test_minpool_and_softmax_layer_with_cross_entropy_gradients_match_finite_differences():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(5, 5))
    layers = [
        {"type": "conv2d", "weight": rng.normal(size=(2, 2)).tolist(), "bias": 0.3},
        {"type": "minpool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "weight": rng.normal(size=(3, 4)).tolist(), "bias": [0.0, 0.2, -0.2]},
        {"type": "softmax"},
    ]
    problem = dict(target=2, loss={"kind": "cross_entropy"}, optimizer=SGD)
    assert assert_gradients_match_finite_differences(x, layers, **problem) == 4


def test_batchnorm_on_a_plain_matrix_is_one_channel():
    rng = np.random.default_rng(15)
    x = rng.normal(size=(4, 4))
    layers = [{"type": "conv2d", "weight": [[1, 0], [0, -1]]},
              {"type": "batchnorm2d", "weight": [2.0], "bias": [0.5]},
              {"type": "flatten"},
              {"type": "linear", "weight": [np.arange(1.0, 10.0).tolist()]}]
    problem = dict(target=[1.0], loss={"kind": "mse"}, optimizer=SGD)
    t = network(x, layers, **problem)
    normalized = t.outputs["activations"][1]
    assert normalized.shape == (3, 3)
    # one channel: the nine cells share one mean and one variance
    assert float(np.mean(normalized)) == pytest.approx(0.5)
    assert float(np.std((normalized - 0.5) / 2)) == pytest.approx(1, rel=1e-4)
    assert np.shape(t.outputs["gradients"][1]["weight"]) == (1,)
    channel = network(x[None], [{**layers[0], "weight": [[[[1, 0], [0, -1]]]]}, *layers[1:]], **problem)
    np.testing.assert_allclose(channel.outputs["gradients"][1]["weight"], t.outputs["gradients"][1]["weight"])
    assert_steps_rebuild_what_they_write(t)
    assert assert_gradients_match_finite_differences(x, layers, **problem) == 4


# ---------------------------------------------------------------- training over several steps

@pytest.mark.parametrize("optimizer", [{"kind": "sgd", "lr": 0.005}, {"kind": "momentum", "lr": 0.002, "momentum": 0.5},
                                       {"kind": "adam", "lr": 0.01}])
def test_several_steps_at_a_small_rate_lower_the_loss_every_step(optimizer):
    t = network(SEED_INPUT, SEED_LAYERS, target=0, loss=HALF_SUM, optimizer=optimizer, steps=6)
    losses = t.outputs["losses"]
    assert len(losses) == 6
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert any("Over 6 steps the loss went from" in note for note in t.notes)
    assert not any("raised the loss" in note for note in t.notes)


def test_one_step_takes_exactly_one_update():
    one = seed_network(steps=1)
    two = seed_network(steps=2)
    np.testing.assert_allclose(two.outputs["gradients"][3]["weight"], one.outputs["gradients"][3]["weight"])
    assert not np.allclose(two.outputs["parameters"][3]["weight"], one.outputs["parameters"][3]["weight"])


# ---------------------------------------------------------------- frozen layers

def test_a_frozen_layer_keeps_its_weights_and_gets_no_gradient():
    layers = [{**SEED_LAYERS[0], "frozen": True}, *SEED_LAYERS[1:]]
    t = network(SEED_INPUT, layers, target=0, loss=HALF_SUM, optimizer=SGD, steps=3)
    assert t.outputs["gradients"][0] is None
    np.testing.assert_array_equal(t.outputs["parameters"][0]["weight"], SEED_KERNEL)
    assert not any(s.id.startswith("update.params.layer1.") for s in t.steps)
    assert t.steps.by_id("layer1.backward") is None  # nothing below the dense layer learns
    assert any("Layer 1 (Conv2d) is frozen" in note for note in t.notes)
    # the layer above still learns, with the same first gradient as before
    np.testing.assert_allclose(t.outputs["gradients"][3]["weight"], [[11.6, 0, 11.6, 8.7]])


def test_a_frozen_layer_above_a_trainable_one_still_passes_the_gradient_down():
    layers = [SEED_LAYERS[0], SEED_LAYERS[1], SEED_LAYERS[2], {**SEED_LAYERS[3], "frozen": True}]
    t = network(SEED_INPUT, layers, target=0, loss=HALF_SUM, optimizer=SGD, steps=2)
    np.testing.assert_array_equal(t.outputs["parameters"][3]["weight"], SEED_W)
    np.testing.assert_array_equal(t.outputs["parameters"][3]["bias"], [0.2])
    assert t.outputs["gradients"][3] is None
    np.testing.assert_allclose(t.outputs["gradients"][0]["weight"],
                               seed_network().outputs["gradients"][0]["weight"])
    assert not any(s.id.startswith("update.params.layer4.") for s in t.steps)
    # its gradient is still worked out on the way down, and written where the steps say
    step = t.steps.by_id("layer4.backward.grad_weight[0,0]")
    assert step.target == ("grad.4.weight", (0, 0)) and step.result == pytest.approx(11.6)
    assert "frozen" in t.steps.by_id("layer4.backward").message
    assert_steps_rebuild_what_they_write(t)


def test_a_frozen_batchnorm_keeps_gamma_and_beta():
    layers = [{"type": "conv2d", "weight": [[[[1, 0], [0, 1]]], [[[0, 1], [1, 0]]]]},
              {"type": "batchnorm2d", "weight": [1.0, 2.0], "bias": [0.0, 1.0], "frozen": True},
              {"type": "flatten"}, {"type": "linear", "out_features": 1}]
    t = network(np.array(SEED_INPUT)[None], layers, target=[0], loss=HALF_SUM, optimizer=SGD, seed=1, steps=2)
    np.testing.assert_array_equal(t.outputs["parameters"][1]["weight"], [1.0, 2.0])
    np.testing.assert_array_equal(t.outputs["parameters"][1]["bias"], [0.0, 1.0])
    assert t.outputs["gradients"][1] is None and t.outputs["gradients"][0] is not None


def test_every_layer_frozen_leaves_nothing_to_train():
    layers = [{**SEED_LAYERS[0], "frozen": True}, *SEED_LAYERS[1:3], {**SEED_LAYERS[3], "frozen": True}]
    with pytest.raises(EngineError) as caught:
        network(SEED_INPUT, layers, target=0, loss=HALF_SUM, optimizer=SGD)
    assert caught.value.argument == "layers" and "no layer has parameters to train" in caught.value.problem


def test_a_layer_without_parameters_cannot_be_frozen():
    with pytest.raises(EngineError) as caught:
        network(SEED_INPUT, [SEED_LAYERS[0], {"type": "relu", "frozen": True}], target=[[0, 0], [0, 0]],
                loss=HALF_SUM, optimizer=SGD)
    assert (caught.value.argument, caught.value.location) == ("layers", (1,))


# ---------------------------------------------------------------- layers that do not chain

@pytest.mark.parametrize("layers, bad, words", [
    ([SEED_LAYERS[0], SEED_LAYERS[1], {"type": "linear", "weight": [[1, 2, 3, 4]]}], 2, "put a flatten"),
    ([SEED_LAYERS[0], {"type": "flatten"}, {"type": "linear", "weight": [[1, 2, 3]]}], 2, "4 features"),
    ([SEED_LAYERS[0], {"type": "conv2d", "weight": SEED_KERNEL}], 1, "spans 3 rows"),
    ([SEED_LAYERS[0], {"type": "maxpool2d", "kernel_size": 3}], 1, "larger than"),
    ([{"type": "conv2d", "weight": [[[[1]]], [[[2]]]]}, {"type": "conv2d", "weight": [[[[1]]]]}], 1,
     "weight: each filter has 1 channel"),
    ([{"type": "conv2d", "weight": [[[[1]]], [[[2]]]]}, {"type": "batchnorm2d", "weight": [1, 2, 3]}], 1,
     "weight: expected 2 numbers"),
    ([{"type": "flatten"}, {"type": "batchnorm2d"}], 1, "batchnorm2d"),
    ([{"type": "conv2d", "weight": [[[[1]]], [[[2]]]]}, {"type": "conv1d", "weight": [[[1], [1]]]}], 1, "sequence"),
    ([{"type": "relu"}, {"type": "pool"}], 1, "not a layer type"),
    ([{"type": "relu", "alpha": 0.1}], 0, "relu takes no alpha"),
    ([{"type": "conv2d", "weight": SEED_KERNEL, "stride": 0}], 0, "stride"),
    ([{"type": "conv2d", "weight": SEED_KERNEL, "bias": [1, 2]}], 0, "bias"),
    ([{"type": "flatten"}, {"type": "linear"}], 1, "out_features"),
    (["relu"], 0, "'type'"),
])
def test_a_layer_that_does_not_fit_is_named_by_its_position(layers, bad, words):
    with pytest.raises(EngineError) as caught:
        network(SEED_INPUT, layers, target=0, loss=HALF_SUM, optimizer=SGD, seed=0)
    assert caught.value.argument == "layers"
    assert caught.value.location == (bad,)
    assert caught.value.problem.startswith(f"layer {bad + 1}:")
    assert words in caught.value.problem


def test_a_chain_error_names_the_shape_the_layer_gets():
    with pytest.raises(EngineError) as caught:
        network(SEED_INPUT, [SEED_LAYERS[0], {"type": "flatten"}, {"type": "linear", "weight": [[1, 2, 3]]}],
                target=0, loss=HALF_SUM, optimizer=SGD)
    assert "the 4 input it gets" in caught.value.problem


@pytest.mark.parametrize("options, argument", [
    (dict(steps=0), "steps"), (dict(steps=True), "steps"), (dict(steps=1.0), "steps"),
    (dict(seed=-1), "seed"), (dict(seed="1"), "seed"),
    (dict(loss={"kind": "hinge"}), "loss"), (dict(loss={"kind": "mse", "scale": 2}), "loss"),
    (dict(loss={"reduction": "sum"}), "loss"), (dict(loss={"kind": "mse", "reduction": "total"}), "loss"),
    (dict(optimizer={"kind": "rmsprop", "lr": 0.1}), "optimizer"), (dict(optimizer={"kind": "sgd"}), "optimizer"),
    (dict(optimizer={"kind": "sgd", "lr": -0.1}), "optimizer"),
    (dict(optimizer={"kind": "sgd", "lr": 1, "nesterov": 1}), "optimizer"),
    (dict(target=[0, 0]), "target"), (dict(layers=[]), "layers"),
])
def test_bad_arguments_are_refused_naming_the_argument(options, argument):
    problem = dict(target=0, loss=HALF_SUM, optimizer=SGD, layers=SEED_LAYERS) | options
    with pytest.raises(EngineError) as caught:
        network(SEED_INPUT, **problem)
    assert caught.value.argument == argument


def test_the_input_is_one_example_not_a_batch():
    with pytest.raises(EngineError) as caught:
        network([[SEED_INPUT]], SEED_LAYERS, target=0, loss=HALF_SUM, optimizer=SGD)
    assert caught.value.argument == "input"


def test_a_bad_optimizer_setting_says_which_setting():
    with pytest.raises(EngineError) as caught:
        network(SEED_INPUT, SEED_LAYERS, target=0, loss=HALF_SUM, optimizer={"kind": "sgd", "lr": 0})
    assert caught.value.argument == "optimizer"
    assert caught.value.problem.startswith("lr: ")


# ---------------------------------------------------------------- the trace rebuilds its tensors

def trace_cases():
    rng = np.random.default_rng(21)
    yield "seed 000", lambda: seed_network()
    yield "seed 000, three steps", lambda: seed_network(steps=3)
    x = rng.normal(size=(2, 5, 5))
    w = rng.normal(size=(2, 2, 2, 2))
    yield "batchnorm, dropout, adam", lambda: network(x, [
        {"type": "conv2d", "weight": w, "bias": [0.1, -0.2]}, {"type": "batchnorm2d"}, {"type": "tanh"},
        {"type": "avgpool2d", "kernel_size": 2}, {"type": "dropout", "p": 0.5, "seed": 2}, {"type": "flatten"},
        {"type": "linear", "out_features": 3}, {"type": "softmax"}],
        target=0, loss={"kind": "cross_entropy"}, optimizer={"kind": "adam", "lr": 0.01}, seed=4)
    yield "conv1d, momentum", lambda: network(rng.normal(size=(1, 8)), [
        {"type": "conv1d", "out_channels": 2, "kernel_size": 3}, {"type": "sigmoid"}, {"type": "flatten"},
        {"type": "linear", "out_features": 2}],
        target=[1, 0], loss={"kind": "softmax_cross_entropy", "reduction": "sum"},
        optimizer={"kind": "momentum", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}, seed=9)
    yield "frozen conv, minpool", lambda: network(SEED_INPUT, [
        {"type": "conv2d", "weight": [[1, 0], [0, 1]], "bias": 0.5, "frozen": True},
        {"type": "minpool2d", "kernel_size": 2, "stride": 1}, {"type": "leaky_relu", "alpha": 0.2},
        {"type": "flatten"}, {"type": "linear", "weight": [[0.1, 0.2, 0.3, 0.4]], "bias": [0]}],
        target=[1], loss={"kind": "mse", "reduction": "sum"}, optimizer=SGD)
    yield "frozen dense above a trainable conv", lambda: network(SEED_INPUT, [
        *SEED_LAYERS[:3], {**SEED_LAYERS[3], "frozen": True}], target=0, loss=HALF_SUM, optimizer=SGD)
    yield "frozen batchnorm on a plain matrix", lambda: network(SEED_INPUT, [
        {"type": "conv2d", "weight": [[1, 0], [0, -1]]}, {"type": "batchnorm2d", "frozen": True},
        {"type": "flatten"}, {"type": "linear", "out_features": 1}], target=[1], loss=HALF_SUM, optimizer=SGD, seed=2)


@pytest.mark.parametrize("name, make", list(trace_cases()), ids=[name for name, _ in trace_cases()])
def test_trace_evaluate_equals_flat_outputs_for_every_tensor_it_writes(name, make):
    t = make()
    assert_steps_rebuild_what_they_write(t)
    flat = t.flat_outputs()
    rebuilt = t.evaluate()
    L = len(t.outputs["activations"])
    for n in range(1, L + 1):
        assert f"act.{n}" in rebuilt
        np.testing.assert_allclose(flat[f"act.{n}"], t.outputs["activations"][n - 1])
    assert rebuilt["loss"] == pytest.approx(t.outputs["loss"])
    for i, gradient in enumerate(t.outputs["gradients"]):
        if gradient is not None:
            np.testing.assert_allclose(np.reshape(rebuilt[f"grad.{i + 1}.weight"], np.shape(gradient["weight"])),
                                       gradient["weight"])
            assert f"updated.{i + 1}.weight" in rebuilt


def test_every_step_has_a_unique_id_that_finds_it():
    t = network(np.ones((2, 4, 4)), [{"type": "conv2d", "out_channels": 2, "kernel_size": 3},
                                     {"type": "batchnorm2d"}, {"type": "relu"}, {"type": "flatten"},
                                     {"type": "linear", "out_features": 1}],
                target=[0], loss=HALF_SUM, optimizer=SGD, seed=3)
    ids = [s.id for s in t.steps]
    assert len(ids) == len(set(ids))
    for position in (0, 7, len(ids) // 2, len(ids) - 1):
        assert t.steps.position(ids[position]) == position


# ---------------------------------------------------------------- drawn weights

DRAWN = [{"type": "conv2d", "out_channels": 2, "kernel_size": 3}, {"type": "relu"}, {"type": "flatten"},
         {"type": "linear", "out_features": 2}]


def drawn_network(seed, layers=DRAWN):
    return network(np.array(SEED_INPUT)[None], layers, target=[0, 1], loss={"kind": "mse"}, optimizer=SGD, seed=seed)


def test_the_same_seed_draws_the_same_weights():
    a, b = drawn_network(5), drawn_network(5)
    flat_a, flat_b = a.flat_outputs(), b.flat_outputs()
    for name in ("param.1.weight", "param.1.bias", "param.4.weight", "param.4.bias"):
        np.testing.assert_array_equal(flat_a[name], flat_b[name])
    assert a.outputs["loss"] == b.outputs["loss"]
    c = drawn_network(6)
    assert not np.array_equal(c.flat_outputs()["param.1.weight"], flat_a["param.1.weight"])


def test_drawn_weights_have_pytorchs_range_two_decimals_and_the_shape_the_input_needs():
    flat = drawn_network(5).flat_outputs()
    conv, dense = flat["param.1.weight"], flat["param.4.weight"]
    assert conv.shape == (2, 1, 3, 3) and dense.shape == (2, 8)
    assert np.all(np.abs(conv) <= 1 / 3) and np.all(np.abs(dense) <= 1 / np.sqrt(8))
    np.testing.assert_array_equal(conv, np.round(conv, 2))


def test_the_seed_used_is_recorded_and_shown_in_a_note():
    t = drawn_network(None)
    seed = t.params["seed"]
    assert isinstance(seed, int)
    assert any(f"drawn with seed {seed}" in note for note in t.notes)
    again = drawn_network(seed)
    np.testing.assert_array_equal(again.flat_outputs()["param.1.weight"], t.flat_outputs()["param.1.weight"])
    assert [layer["drawn"] for layer in t.params["layers"]] == [True, False, False, True]


def test_the_weights_note_says_nothing_of_dropout_in_a_network_without_one():
    notes = drawn_network(5).notes
    assert any("drawn with seed 5" in note for note in notes)
    assert not any("dropout" in note.lower() for note in notes)


def test_given_weights_draw_nothing_and_mention_no_seed():
    t = seed_network(seed=3)
    assert not any("drawn with seed" in note for note in t.notes)


def test_bias_false_asks_for_no_bias_drawn_or_given():
    drawn = drawn_network(5, [{**DRAWN[0], "bias": False}, *DRAWN[1:]])
    assert drawn.outputs["parameters"][0]["bias"] is None
    given = network(SEED_INPUT, [{**SEED_LAYERS[0], "bias": False}, *SEED_LAYERS[1:]], target=0, loss=HALF_SUM,
                    optimizer=SGD)
    np.testing.assert_allclose(given.outputs["prediction"], [2.9])


def test_dropout_without_a_seed_draws_one_from_the_networks_seed_and_keeps_its_mask():
    layers = [SEED_LAYERS[0], {"type": "dropout", "p": 0.5}, SEED_LAYERS[2], SEED_LAYERS[3]]
    a = network(SEED_INPUT, layers, target=0, loss=HALF_SUM, optimizer=SGD, seed=8, steps=2)
    b = network(SEED_INPUT, layers, target=0, loss=HALF_SUM, optimizer=SGD, seed=8, steps=2)
    dropout_seed = a.params["layers"][1]["seed"]
    assert isinstance(dropout_seed, int) and dropout_seed == b.params["layers"][1]["seed"]
    np.testing.assert_array_equal(a.flat_outputs()["layer.2.mask"], b.flat_outputs()["layer.2.mask"])
    assert a.outputs["losses"] == b.outputs["losses"]
    assert any(f"seed {dropout_seed}" in note and "Dropout" in note for note in a.notes)
    given = network(SEED_INPUT, [SEED_LAYERS[0], {"type": "dropout", "p": 0.5, "seed": dropout_seed}, *SEED_LAYERS[2:]],
                    target=0, loss=HALF_SUM, optimizer=SGD, steps=2)
    assert given.outputs["losses"] == a.outputs["losses"]


def test_dropout_backward_reuses_the_forward_mask():
    layers = [SEED_LAYERS[0], {"type": "dropout", "p": 0.5, "mask": [[1, 0], [1, 1]]}, *SEED_LAYERS[2:]]
    t = network(SEED_INPUT, layers, target=0, loss=HALF_SUM, optimizer=SGD)
    np.testing.assert_allclose(t.outputs["activations"][1], [[8, 0], [8, 6]])
    # δ through dropout is δ m / (1 - p): the dropped cell gets none
    flat = t.flat_outputs()
    np.testing.assert_allclose(flat["delta.1"], flat["delta.2"] * np.array([[1, 0], [1, 1]]) * 2)


# ---------------------------------------------------------------- what a teacher would point out

def test_note_when_a_step_raised_the_loss():
    t = seed_network(steps=3)
    notes = [note for note in t.notes if "raised the loss" in note]
    assert len(notes) == 1
    assert "from 4.205 to" in notes[0] and "learning rate 0.1" in notes[0]
    assert not any("raised the loss" in note for note in seed_network().notes)


def test_note_for_a_dead_relu_and_for_cells_it_blocks():
    assert any("1 of 4 outputs of layer 2 (ReLU) are 0" in note for note in seed_network().notes)
    dead = network([1.0, 2.0, 3.0], [{"type": "linear", "weight": [[-1, -1, -1], [-2, 0, -1]], "bias": [0, 0]},
                                     {"type": "relu"}, {"type": "linear", "weight": [[1, 1]], "bias": [0.5]}],
                   target=[1], loss=HALF_SUM, optimizer=SGD)
    assert any("Every output of layer 2 (ReLU) is 0" in note and "dead" in note for note in dead.notes)
    np.testing.assert_array_equal(dead.outputs["gradients"][0]["weight"], np.zeros((2, 3)))


def test_note_for_exploding_and_vanishing_gradients():
    exploding = network([1.0, 2.0, 3.0], [{"type": "linear", "weight": [[1000, 1000, 1000]], "bias": [0]}],
                        target=[1], loss=HALF_SUM, optimizer=SGD)
    assert any("layer 1 is above 1000" in note and "exploding" in note for note in exploding.notes)
    vanishing = network([1.0, 2.0, 3.0], [{"type": "linear", "weight": [[1e-3, 0, 0]], "bias": [0]},
                                          {"type": "sigmoid"}, {"type": "linear", "weight": [[1e-8]], "bias": [0]}],
                        target=[1], loss=HALF_SUM, optimizer=SGD)
    assert any("layer 1 is below 1e-6" in note and "vanished" in note for note in vanishing.notes)
    assert not any("vanished" in note or "exploding" in note for note in seed_network().notes)


def test_note_for_a_frozen_layer_only_when_one_is():
    frozen = network(SEED_INPUT, [{**SEED_LAYERS[0], "frozen": True}, *SEED_LAYERS[1:]], target=0, loss=HALF_SUM,
                     optimizer=SGD)
    assert any("frozen" in note for note in frozen.notes)
    assert not any("frozen" in note for note in seed_network().notes)
