"""JSON API: optimizer, one update per request, and a run as a chain of requests."""

from __future__ import annotations

from typing import get_args

import pytest

import app.api.budget as budget
import engine
import engine.optim
from app.limits import MAX_NAME_LENGTH, MAX_NAMED_TENSORS, MAX_UPDATE_COUNT
from app.schemas import OptimizerKind, OptimizerTrace

PARAMS = {"w": [0.2, -0.5, 0.4, 0.1], "b": 0.2}
GRADS = {"w": [11.6, 0, 11.6, 8.7], "b": 2.9}   # dense/backward of seed 000 with δ = 2.9
SGD = {"params": PARAMS, "grads": GRADS, "kind": "sgd", "lr": 0.1}
MOMENTUM = {**SGD, "kind": "momentum", "momentum": 0.9}
ADAM = {**SGD, "kind": "adam", "lr": 0.01}


def plain(trace: engine.Trace) -> dict:
    """A trace's numbers as the API sends them."""
    return trace.as_dict(0, 0)


def test_the_api_offers_exactly_the_engines_optimizers():
    assert get_args(OptimizerKind) == engine.optim.KINDS


def test_sgd_on_the_seed_gradients_takes_a_tenth_of_each(api):
    trace = api.ok("optimizer", SGD)
    assert trace["op"] == "optimizer_step"
    assert trace["outputs"]["params"]["w"] == pytest.approx([-0.96, -0.5, -0.76, -0.77])
    assert trace["outputs"]["params"]["b"] == pytest.approx(-0.09)
    assert trace["outputs"]["state"] == {"step": 1}
    assert trace["inputs"] == {"params": PARAMS, "grads": GRADS, "state": {"step": 0}}
    assert trace["params"] == {"kind": "sgd", "lr": 0.1, "momentum": 0, "betas": [0.9, 0.999], "eps": 1e-8,
                               "weight_decay": 0, "step": 1}
    assert [s["id"] for s in trace["steps"]] == ["step", "params.w[0]", "params.w[1]", "params.w[2]",
                                                 "params.w[3]", "params.b"]
    assert [s["expansion"] for s in trace["steps"][1:]] == [
        "w_{1} = 0.2 - 0.1(11.6) = -0.96", "w_{2} = -0.5 - 0.1(0) = -0.5", "w_{3} = 0.4 - 0.1(11.6) = -0.76",
        "w_{4} = 0.1 - 0.1(8.7) = -0.77", "b = 0.2 - 0.1(2.9) = -0.09"]
    assert all(s["kind"] == "update" for s in trace["steps"])
    OptimizerTrace.model_validate(trace)


def test_a_parameter_step_can_be_fetched_by_its_dotted_id(api):
    step = api.ok("optimizer", SGD, step_id="params.w[2]")["steps"][0]
    assert step["target"] == {"tensor": "params.w", "index": [2]}
    assert step["result"] == pytest.approx(-0.76)


def test_weight_decay_adds_lambda_w_to_the_gradient(api):
    trace = api.ok("optimizer", {**SGD, "weight_decay": 0.5})
    assert trace["outputs"]["params"]["b"] == pytest.approx(0.2 - 0.1 * (2.9 + 0.5 * 0.2))


def test_sgd_with_momentum_follows_the_momentum_rule(api):
    trace = api.ok("optimizer", {**SGD, "momentum": 0.9})
    assert trace["outputs"]["state"]["velocity"]["w"] == pytest.approx(GRADS["w"])
    assert trace["steps"][1]["id"] == "velocity.w[0]"


@pytest.mark.parametrize("body", [SGD, MOMENTUM, {**MOMENTUM, "weight_decay": 0.01}, ADAM,
                                  {**ADAM, "betas": [0.5, 0.75], "eps": 1e-6}],
                         ids=["sgd", "momentum", "momentum-decay", "adam", "adam-betas"])
def test_state_round_trip_equals_two_updates_by_the_engine(api, body):
    first = api.ok("optimizer", body)
    second = api.ok("optimizer", {**body, "params": first["outputs"]["params"], "state": first["outputs"]["state"]})

    options = {k: (tuple(v) if k == "betas" else v) for k, v in body.items() if k not in ("params", "grads")}
    one = engine.optimizer_step(PARAMS, GRADS, **options)
    two = engine.optimizer_step(one.outputs["params"], GRADS, **options, state=one.outputs["state"])
    assert first["outputs"] == plain(one)["outputs"]
    assert second["outputs"] == plain(two)["outputs"]
    assert second["intermediates"] == plain(two)["intermediates"]
    assert second["params"]["step"] == 2
    assert second["outputs"]["state"]["step"] == 2
    assert second["inputs"]["state"] == first["outputs"]["state"]
    OptimizerTrace.model_validate(second)


def test_adam_state_carries_both_running_means_and_the_corrected_ones(api):
    trace = api.ok("optimizer", ADAM)
    state = trace["outputs"]["state"]
    assert set(state) == {"step", "m", "v"}
    assert state["m"]["b"] == pytest.approx(0.1 * 2.9)
    assert state["v"]["b"] == pytest.approx(0.001 * 2.9 ** 2)
    assert trace["intermediates"]["m_hat"]["b"] == pytest.approx(2.9)
    assert trace["outputs"]["params"]["b"] == pytest.approx(0.2 - 0.01, abs=1e-8)  # the first step is about lr
    ids = [s["id"] for s in trace["steps"]]
    assert ids[:5] == ["step", "m.w[0]", "m.w[1]", "m.w[2]", "m.w[3]"]
    assert "v_hat.b" in ids and ids[-1] == "params.b"


def test_dotted_parameter_names_are_kept(api):
    body = {"params": {"fc1.weight": [[1, 2]], "fc1.bias": [0]}, "grads": {"fc1.weight": [[1, 1]], "fc1.bias": [1]},
            "kind": "sgd", "lr": 1}
    trace = api.ok("optimizer", body)
    assert trace["outputs"]["params"] == {"fc1.weight": [[0, 1]], "fc1.bias": [-1]}
    assert trace["steps"][1]["id"] == "params.fc1.weight[0,0]"


# --- refusals: params and grads -------------------------------------------------------------

def test_a_bad_cell_of_a_named_tensor_is_refused_down_to_the_cell(api):
    body = {**SGD, "params": {"w": [[0.2, -0.5], [0.4, True]], "b": 0.2},
            "grads": {"w": [[11.6, 0], ["x", 8.7]], "b": 2.9}}
    detail = api.refused("optimizer", body)
    assert [d["loc"] for d in detail] == [["body", "params", "w", 1, 1], ["body", "grads", "w", 1, 0]]


def test_grads_must_name_the_same_parameters_in_the_same_shapes(api):
    body = {**SGD, "grads": {"w": [11.6, 0, 11.6], "c": 1}}
    detail = api.refused("optimizer", body)
    assert [(d["loc"], d["type"]) for d in detail] == [
        (["body", "grads", "b"], "missing"), (["body", "grads", "w"], "shape"),
        (["body", "grads", "c"], "unknown_parameter")]
    assert detail[1]["msg"] == "has shape (3,), but the parameter 'w' has shape (4,)"


@pytest.mark.parametrize("params, message", [
    ({}, "is empty"),
    ([0.2], "expected an object"),
    ({"w-1": 1}, "is not a usable name"),
    ({"1w": 1}, "is not a usable name"),
    ({"w" * (MAX_NAME_LENGTH + 1): 1}, "is not a usable name"),
    ({f"w{i}": 1 for i in range(MAX_NAMED_TENSORS + 1)}, f"the limit is {MAX_NAMED_TENSORS}"),
])
def test_params_must_be_an_object_of_a_few_usable_names(api, params, message):
    detail = api.refused("optimizer", {**SGD, "params": params})
    assert [d["loc"] for d in detail] == [["body", "params"]]
    assert message in detail[0]["msg"]


@pytest.mark.parametrize("field, value, message", [
    ("lr", 0, "must be above 0"), ("lr", -0.1, "must be above 0"), ("momentum", 1, "below 1"),
    ("momentum", -0.1, "at least 0"), ("weight_decay", -1, "at least 0"), ("eps", 0, "above 0"),
    ("betas", [0.9], "two numbers"), ("betas", [0.9, 1], "beta2: must be at least 0 and below 1"),
    ("betas", [True, 0.9], "beta1: expected a number"), ("kind", "rmsprop", "'sgd', 'momentum' or 'adam'"),
])
def test_a_bad_hyperparameter_is_refused_by_name(api, field, value, message):
    detail = api.refused("optimizer", {**SGD, field: value})
    assert [d["loc"] for d in detail] == [["body", field]]
    assert message in detail[0]["msg"]


def test_adam_takes_no_momentum(api):
    assert api.locs("optimizer", {**ADAM, "momentum": 0.9}) == [["body", "momentum"]]


def test_parameters_over_the_element_limit_together_are_refused(api, monkeypatch):
    monkeypatch.setattr(budget, "MAX_ELEMENTS", 4)  # the example holds 5 numbers
    detail = api.refused("optimizer", SGD)
    assert [d["loc"] for d in detail] == [["body", "params"]]
    assert "the numbers in all the parameters together would be 5; the limit is 4" in detail[0]["msg"]


# --- refusals: the state --------------------------------------------------------------------

@pytest.mark.parametrize("body, state, loc, kind", [
    (MOMENTUM, {"step": 1}, ["body", "state", "velocity"], "missing"),
    (ADAM, {"step": 1, "m": {"w": [0] * 4, "b": 0}}, ["body", "state", "v"], "missing"),
    (SGD, {"step": 1, "velocity": {"w": [0] * 4, "b": 0}}, ["body", "state", "velocity"], "extra_forbidden"),
    (MOMENTUM, {"step": 1, "velocity": {"w": [0] * 4, "b": 0}, "m": {"w": [0] * 4, "b": 0}},
     ["body", "state", "m"], "extra_forbidden"),
    (SGD, {"step": 1, "moment": 2}, ["body", "state", "moment"], "extra_forbidden"),
    (SGD, {}, ["body", "state", "step"], "missing"),
])
def test_a_state_with_the_wrong_buffers_is_refused_at_the_buffer(api, body, state, loc, kind):
    detail = api.refused("optimizer", {**body, "state": state})
    assert [(d["loc"], d["type"]) for d in detail] == [(loc, kind)]


def test_a_missing_buffer_says_what_the_rule_keeps(api):
    detail = api.refused("optimizer", {**ADAM, "state": {"step": 1}})
    assert [d["loc"] for d in detail] == [["body", "state", "m"], ["body", "state", "v"]]
    assert "Adam's state holds 'step', 'm' and 'v'" in detail[0]["msg"]


@pytest.mark.parametrize("step", [-1, 1.0, True, "1", None, MAX_UPDATE_COUNT + 1])
def test_a_state_step_that_is_not_a_count_is_refused(api, step):
    assert api.locs("optimizer", {**SGD, "state": {"step": step}}) == [["body", "state", "step"]]


@pytest.mark.parametrize("state", [[1], 1, "state"])
def test_a_state_that_is_not_an_object_is_refused(api, state):
    assert api.locs("optimizer", {**SGD, "state": state}) == [["body", "state"]]


@pytest.mark.parametrize("velocity, loc, kind", [
    ({"w": [0, 0, 0], "b": 0}, ["body", "state", "velocity", "w"], "shape"),
    ({"w": [0, 0, 0, 0]}, ["body", "state", "velocity", "b"], "missing"),
    ({"w": [0, 0, 0, 0], "b": 0, "c": 0}, ["body", "state", "velocity", "c"], "unknown_parameter"),
    ({"w": [0, 0, None, 0], "b": 0}, ["body", "state", "velocity", "w", 2], "number_type"),
    ({"w": [0, 0, 0, 0], "b": [[0], 1]}, ["body", "state", "velocity", "b", 1], "ragged"),
    ({"w": [0, 0, 0, 0], "b-": 0}, ["body", "state", "velocity"], "parameter_name"),
    ([0, 0, 0, 0], ["body", "state", "velocity"], "object_type"),
])
def test_a_state_buffer_that_does_not_fit_the_parameters_is_refused_down_to_the_name(api, velocity, loc, kind):
    detail = api.refused("optimizer", {**MOMENTUM, "state": {"step": 1, "velocity": velocity}})
    assert [(d["loc"], d["type"]) for d in detail] == [(loc, kind)]


def test_a_state_from_another_rule_is_refused(api):
    adam_state = api.ok("optimizer", ADAM)["outputs"]["state"]
    locs = api.locs("optimizer", {**MOMENTUM, "state": adam_state})
    assert locs == [["body", "state", "velocity"], ["body", "state", "m"], ["body", "state", "v"]]
