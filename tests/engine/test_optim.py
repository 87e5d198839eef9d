"""optimizer_step against loops written from the update rules, over runs that pass the state back.

sgd: w -= lr g. momentum (PyTorch): v = mu v + g, w -= lr v. adam (PyTorch): m, v moving
averages from 0, bias-corrected by 1 - beta^t, w -= lr m_hat / (sqrt(v_hat) + eps).
Weight decay is L2 added to the gradient before the rule: g = g + lambda w.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import EngineError, optimizer_step
from engine.trace import Combine

FAST = settings(max_examples=30, deadline=None)


def reference_run(kind, params, grad_sequence, *, lr, momentum=0.0, betas=(0.9, 0.999), eps=1e-8,
                  weight_decay=0.0):
    """The parameters and buffers after each update, one scalar at a time."""
    w = {name: np.array(value, dtype=float) for name, value in params.items()}
    velocity = {name: np.zeros_like(a) for name, a in w.items()}
    m = {name: np.zeros_like(a) for name, a in w.items()}
    v = {name: np.zeros_like(a) for name, a in w.items()}
    history = []
    for t, grads in enumerate(grad_sequence, start=1):
        for name in w:
            g_all = np.array(grads[name], dtype=float)
            for index in np.ndindex(w[name].shape):
                g = g_all[index] + weight_decay * w[name][index]
                if kind == "sgd":
                    w[name][index] = w[name][index] - lr * g
                elif kind == "momentum":
                    velocity[name][index] = momentum * velocity[name][index] + g
                    w[name][index] = w[name][index] - lr * velocity[name][index]
                else:
                    m[name][index] = betas[0] * m[name][index] + (1 - betas[0]) * g
                    v[name][index] = betas[1] * v[name][index] + (1 - betas[1]) * g * g
                    m_hat = m[name][index] / (1 - betas[0] ** t)
                    v_hat = v[name][index] / (1 - betas[1] ** t)
                    w[name][index] = w[name][index] - lr * m_hat / (math.sqrt(v_hat) + eps)
        history.append({"params": {k: a.copy() for k, a in w.items()},
                        "velocity": {k: a.copy() for k, a in velocity.items()},
                        "m": {k: a.copy() for k, a in m.items()}, "v": {k: a.copy() for k, a in v.items()}})
    return history


def assert_rebuilds_every_output(trace):
    """Every step's terms give its result, and the steps rebuild every output and intermediate."""
    rebuilt = trace.evaluate()
    flat = trace.flat_outputs()
    assert set(rebuilt) == set(flat)
    for key, value in rebuilt.items():
        np.testing.assert_allclose(np.asarray(value, dtype=float), np.asarray(flat[key], dtype=float),
                                   rtol=1e-12, atol=1e-12, err_msg=key)
    for step in trace.steps:
        assert step.combine is Combine.SUM
        np.testing.assert_allclose(step.evaluate(), step.result, rtol=1e-12, atol=1e-12, err_msg=step.id)


PARAMS = {"w": [[0.2, -0.5, 0.4], [0.1, 0.0, -1.2]], "b": 0.2, "k": [[[1.0, -2.0], [0.5, 0.25]]]}


def grad_sequence(steps: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    return [{"w": rng.standard_normal((2, 3)) * 3, "b": float(rng.standard_normal()),
             "k": rng.standard_normal((1, 2, 2))} for _ in range(steps)]


RUNS = [
    ("sgd", {}),
    ("sgd", {"weight_decay": 0.05}),
    ("momentum", {"momentum": 0.9}),
    ("momentum", {"momentum": 0.8, "weight_decay": 0.01}),
    ("adam", {}),
    ("adam", {"betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("kind, options", RUNS, ids=[f"{k}-{o}" for k, o in RUNS])
def test_six_updates_passing_the_state_back_match_the_rule_written_out(kind, options):
    grads = grad_sequence(6)
    expected = reference_run(kind, PARAMS, grads, lr=0.05, **options)
    params, state = PARAMS, None
    for t, (g, want) in enumerate(zip(grads, expected), start=1):
        trace = optimizer_step(params, g, kind=kind, lr=0.05, state=state, **options)
        assert trace.params["step"] == t and trace.outputs["state"]["step"] == t
        for name in PARAMS:
            np.testing.assert_allclose(trace.outputs["params"][name], want["params"][name], rtol=1e-12, atol=1e-14)
        if kind == "momentum":
            for name in PARAMS:
                np.testing.assert_allclose(trace.outputs["state"]["velocity"][name], want["velocity"][name],
                                           rtol=1e-12)
        if kind == "adam":
            for name in PARAMS:
                np.testing.assert_allclose(trace.outputs["state"]["m"][name], want["m"][name], rtol=1e-12)
                np.testing.assert_allclose(trace.outputs["state"]["v"][name], want["v"][name], rtol=1e-12)
        assert_rebuilds_every_output(trace)
        params, state = trace.outputs["params"], trace.outputs["state"]


def test_seed_000_sgd_update_matches_the_worked_example():
    trace = optimizer_step({"w": [0.2, -0.5, 0.4, 0.1], "b": 0.2}, {"w": [11.6, 0, 11.6, 8.7], "b": 2.9},
                           kind="sgd", lr=0.1)
    np.testing.assert_allclose(trace.outputs["params"]["w"], [-0.96, -0.5, -0.76, -0.77])
    assert isinstance(trace.outputs["params"]["b"], float)
    np.testing.assert_allclose(trace.outputs["params"]["b"], -0.09)
    first = trace.steps.by_id("params.w[0]")
    assert first.expansion == "w_{1} = 0.2 - 0.1(11.6) = -0.96"
    assert first.title == "w(1) after the update"
    assert trace.steps.by_id("params.b").expansion == "b = 0.2 - 0.1(2.9) = -0.09"
    assert_rebuilds_every_output(trace)


def test_sgd_with_momentum_above_zero_is_the_momentum_rule_as_in_torch():
    grads = grad_sequence(3)
    plain, named = None, None
    params_a = params_b = PARAMS
    for g in grads:
        a = optimizer_step(params_a, g, kind="sgd", momentum=0.9, lr=0.1, state=plain)
        b = optimizer_step(params_b, g, kind="momentum", momentum=0.9, lr=0.1, state=named)
        for name in PARAMS:
            np.testing.assert_array_equal(a.outputs["params"][name], b.outputs["params"][name])
        assert "velocity" in a.outputs["state"]
        params_a, plain = a.outputs["params"], a.outputs["state"]
        params_b, named = b.outputs["params"], b.outputs["state"]
    assert any("torch.optim.SGD" in note for note in a.notes)


def test_momentum_keeps_the_learning_rate_outside_the_velocity():
    # v = 0.9(1) + 2 = 2.9 and w = 1 - 0.5(2.9) = -0.45; the lr-inside form would give v = 0.9 + 1 = 1.9
    trace = optimizer_step({"w": 1.0}, {"w": 2.0}, kind="momentum", momentum=0.9, lr=0.5,
                           state={"step": 4, "velocity": {"w": 1.0}})
    assert trace.outputs["state"]["velocity"]["w"] == pytest.approx(2.9)
    assert trace.outputs["params"]["w"] == pytest.approx(-0.45)
    assert trace.outputs["state"]["step"] == 5
    assert trace.steps.by_id("velocity.w").expansion == "v_{w} = 0.9(1) + 2 = 2.9"
    assert any("v = μv + g" in note for note in trace.notes)


def test_first_adam_update_moves_each_weight_by_about_lr_against_the_gradient_sign():
    g = np.array([[11.6, -0.003, 2.0], [-7.0, 1e-3, 0.5]])
    w = np.array([[0.2, -0.5, 0.4], [0.1, 0.0, -1.2]])
    trace = optimizer_step({"w": w}, {"w": g}, kind="adam", lr=0.01)
    np.testing.assert_allclose(trace.outputs["params"]["w"] - w, -0.01 * np.sign(g), rtol=1e-4)
    # m_hat is the gradient and v_hat its square after one update
    np.testing.assert_allclose(trace.intermediates["m_hat"]["w"], g, rtol=1e-12)
    np.testing.assert_allclose(trace.intermediates["v_hat"]["w"], g * g, rtol=1e-12)


def test_weight_decay_shows_in_the_expansion_as_part_of_the_gradient():
    trace = optimizer_step({"w": [0.2]}, {"w": [11.6]}, kind="sgd", lr=0.1, weight_decay=0.01)
    step = trace.steps.by_id("params.w[0]")
    assert step.expansion == "w_{1} = 0.2 - 0.1(11.6 + 0.01(0.2)) = -0.9602"
    assert [t.value for t in step.terms] == pytest.approx([0.2, -1.16, -0.0002])
    assert trace.outputs["params"]["w"][0] == pytest.approx(-0.9602)
    assert any("L2" in note for note in trace.notes)


def test_adam_weight_decay_is_added_to_the_gradient_not_decoupled():
    # g' = 1 + 0.5(2) = 2 enters m and v; the first update is then about lr against sign(g'), and v = 0.001(2)^2
    trace = optimizer_step({"w": 2.0}, {"w": 1.0}, kind="adam", lr=0.1, weight_decay=0.5)
    assert trace.outputs["state"]["m"]["w"] == pytest.approx(0.2)
    assert trace.outputs["state"]["v"]["w"] == pytest.approx(0.004)
    assert trace.outputs["params"]["w"] == pytest.approx(1.9)
    assert trace.steps.by_id("v.w").expansion == "v_{w} = 0.999(0) + 0.001(1 + 0.5(2))^2 = 0.004"


def test_adam_steps_are_in_order_per_parameter_with_stable_ids():
    trace = optimizer_step({"w": [1.0, 2.0], "b": 0.5}, {"w": [0.1, 0.2], "b": 0.3}, kind="adam", lr=0.1)
    ids = [s.id for s in trace.steps]
    assert ids == ["step", "m.w[0]", "m.w[1]", "v.w[0]", "v.w[1]", "m_hat.w[0]", "m_hat.w[1]", "v_hat.w[0]",
                   "v_hat.w[1]", "params.w[0]", "params.w[1]", "m.b", "v.b", "m_hat.b", "v_hat.b", "params.b"]
    targets = {s.id: s.target[0] for s in trace.steps}
    assert targets["m.w[0]"] == "state.m.w" and targets["m_hat.b"] == "m_hat.b"
    assert targets["step"] == "state.step" and targets["params.b"] == "params.b"
    for position, step in enumerate(trace.steps):
        assert trace.steps.position(step.id) == position
    assert trace.steps.by_id("m_hat.w[1]").expansion == r"\hat m_{w_{2}} = \frac{0.02}{1 - 0.9^{1}} = 0.2"


def test_momentum_and_sgd_step_ids():
    momentum = optimizer_step({"w": [[1.0]]}, {"w": [[0.1]]}, kind="momentum", momentum=0.5, lr=0.1)
    assert [s.id for s in momentum.steps] == ["step", "velocity.w[0,0]", "params.w[0,0]"]
    assert momentum.steps[1].target == ("state.velocity.w", (0, 0))
    sgd = optimizer_step({"conv1.weight": [1.0]}, {"conv1.weight": [0.1]}, kind="sgd", lr=0.1)
    assert [s.id for s in sgd.steps] == ["step", "params.conv1.weight[0]"]
    assert sgd.steps.by_id("params.conv1.weight[0]").title == "conv1.weight(1) after the update"


@st.composite
def update_problems(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    count = draw(st.integers(1, 3))
    shapes = [tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=4))) for _ in range(count)]
    params = {f"p{i}": rng.standard_normal(shape) for i, shape in enumerate(shapes)}
    kind = draw(st.sampled_from(["sgd", "momentum", "adam"]))
    options = {"lr": draw(st.sampled_from([1e-3, 0.1, 1.0])),
               "weight_decay": draw(st.sampled_from([0.0, 0.0, 0.1]))}
    if kind == "momentum":
        options["momentum"] = draw(st.sampled_from([0.0, 0.5, 0.99]))
    if kind == "adam":
        options["betas"] = (draw(st.sampled_from([0.0, 0.9])), draw(st.sampled_from([0.5, 0.999])))
    grads = [{name: rng.standard_normal(a.shape) for name, a in params.items()} for _ in range(draw(st.integers(1, 3)))]
    return kind, params, grads, options


@FAST
@given(update_problems())
def test_any_shapes_and_rules_match_the_reference_and_rebuild_from_steps(problem):
    kind, params, grads, options = problem
    expected = reference_run(kind, params, grads, **options)
    current, state = params, None
    for g, want in zip(grads, expected):
        trace = optimizer_step(current, g, kind=kind, state=state, **options)
        for name in params:
            assert np.shape(trace.outputs["params"][name]) == params[name].shape
            np.testing.assert_allclose(trace.outputs["params"][name], want["params"][name], rtol=1e-10, atol=1e-13)
        assert_rebuilds_every_output(trace)
        current, state = trace.outputs["params"], trace.outputs["state"]


def test_the_callers_arrays_are_never_modified():
    w = np.array([1.0, 2.0])
    g = np.array([0.5, -0.5])
    velocity = np.array([0.1, 0.1])
    trace = optimizer_step({"w": w}, {"w": g}, kind="momentum", momentum=0.9, lr=0.1,
                           state={"step": 1, "velocity": {"w": velocity}})
    np.testing.assert_array_equal(w, [1.0, 2.0])
    np.testing.assert_array_equal(g, [0.5, -0.5])
    np.testing.assert_array_equal(velocity, [0.1, 0.1])
    assert trace.outputs["params"]["w"] is not w


def test_a_zero_dimensional_parameter_stays_a_float_in_params_and_state():
    trace = optimizer_step({"b": np.float64(0.5)}, {"b": 1}, kind="adam", lr=0.1)
    assert isinstance(trace.outputs["params"]["b"], float)
    assert isinstance(trace.outputs["state"]["m"]["b"], float)
    assert trace.as_dict()["outputs"]["state"]["v"]["b"] == pytest.approx(0.001)


BAD = [
    ("grads", dict(grads={"w": [1.0, 2.0]}), "no value for the parameter 'b'"),
    ("grads", dict(grads={"w": [1.0, 2.0], "b": 1.0, "c": 1.0}), "'c' is not one of the parameters"),
    ("grads", dict(grads={"w": [1.0, 2.0, 3.0], "b": 1.0}), "'w' has shape (3,), but the parameter has shape (2,)"),
    ("grads", dict(grads={"w": [1.0, float("nan")], "b": 1.0}), "'w': NaN at column 2"),
    ("params", dict(params=[1.0, 2.0]), "expected names mapped to arrays"),
    ("params", dict(params={}), "no parameters"),
    ("params", dict(params={"w[0]": 1.0}, grads={"w[0]": 1.0}), "not a usable name"),
    ("kind", dict(kind="rmsprop"), "'rmsprop' is not an optimizer"),
    ("lr", dict(lr=0), "above 0"),
    ("lr", dict(lr=-0.1), "above 0"),
    ("lr", dict(lr=float("inf")), "finite"),
    ("lr", dict(lr="0.1"), "not a number"),
    ("momentum", dict(kind="momentum", momentum=1.0), "below 1"),
    ("momentum", dict(kind="momentum", momentum=-0.1), "at least 0"),
    ("momentum", dict(kind="adam", momentum=0.9), "betas"),
    ("betas", dict(kind="adam", betas=(1.0, 0.999)), "below 1"),
    ("betas", dict(kind="adam", betas=(0.9,)), "two numbers"),
    ("eps", dict(kind="adam", eps=0.0), "above 0"),
    ("weight_decay", dict(weight_decay=-0.01), "negative"),
    ("state", dict(kind="momentum", momentum=0.9, state={"step": 1}), "'velocity' is missing"),
    ("state", dict(kind="momentum", momentum=0.9, state={"step": 1, "velocity": {"w": [0.0, 0.0]}}),
     "no value for the parameter 'b'"),
    ("state", dict(kind="adam", state={"step": 1, "m": {"w": [0.0, 0.0], "b": 0.0}, "v": {"w": [0.0], "b": 0.0}}),
     "v: 'w' has shape (1,)"),
    ("state", dict(kind="sgd", state={"step": 1, "velocity": {"w": [0.0, 0.0], "b": 0.0}}),
     "'velocity' is not part of plain SGD's state"),
    ("state", dict(kind="sgd", state={"step": -1}), "negative"),
    ("state", dict(kind="sgd", state={"step": 1.5}), "not a whole number"),
    ("state", dict(kind="sgd", state=[1]), "previous update"),
]


@pytest.mark.parametrize("argument, changes, words", BAD, ids=[f"{a}-{w}" for a, _, w in BAD])
def test_bad_input_is_refused_naming_the_argument(argument, changes, words):
    call = dict(params={"w": [1.0, 2.0], "b": 0.5}, grads={"w": [0.1, 0.2], "b": 0.3}, kind="sgd", lr=0.1)
    call.update(changes)
    with pytest.raises(EngineError) as info:
        optimizer_step(call.pop("params"), call.pop("grads"), **call)
    assert info.value.argument == argument
    assert words in info.value.problem


def test_a_bad_gradient_cell_is_located():
    with pytest.raises(EngineError) as info:
        optimizer_step({"w": [[1.0, 2.0]]}, {"w": [[1.0, float("inf")]]}, kind="sgd", lr=0.1)
    assert info.value.location == (0, 1)
    assert "row 1, column 2" in info.value.problem


def test_trace_serializes_with_nested_inputs_and_notes_the_step_number():
    first = optimizer_step({"w": [1.0]}, {"w": [1.0]}, kind="adam", lr=0.1)
    second = optimizer_step(first.outputs["params"], {"w": [1.0]}, kind="adam", lr=0.1, state=first.outputs["state"])
    data = second.as_dict()
    assert data["op"] == "optimizer_step"
    assert data["params"] == {"kind": "adam", "lr": 0.1, "momentum": 0.0, "betas": [0.9, 0.999], "eps": 1e-8,
                              "weight_decay": 0.0, "step": 2}
    assert data["inputs"]["state"]["step"] == 1
    assert data["step_count"] == 6
    assert any("t = 2" in note for note in second.notes)
    assert second.steps.by_id("step").expansion == "t = 1 + 1 = 2"
    assert second.steps.by_id("m_hat.w[0]").expansion.endswith(r"{1 - 0.9^{2}} = 1")
