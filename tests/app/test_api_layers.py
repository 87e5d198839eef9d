"""JSON API of the layer ops, what every route shares: the trace contract, its response model,
paging and one step by id, and the refusals every body gets (unknown fields, booleans, NaN)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from app import schemas

TRACE_FIELDS = {"op", "params", "inputs", "outputs", "formula", "steps", "step_count", "step_offset",
                "next_step_offset", "notes", "intermediates"}
STEP_FIELDS = {"id", "kind", "title", "message", "formula", "expansion", "terms", "result", "target",
               "reads", "substeps", "function"}

SGD = {"params": {"w": [0.2, -0.5, 0.4, 0.1], "b": 0.2}, "grads": {"w": [11.6, 0, 11.6, 8.7], "b": 2.9},
       "kind": "sgd", "lr": 0.1}
BATCH = [[1, 2], [3, 6], [5, 10]]

# op -> (body, trace model, the op the trace names, the path of a tensor's cell (1, ...) in the body)
ROUTES = {
    "activation": ({"input": [[-2, 0.5], [0, 3]], "function": "relu"}, schemas.ActivationTrace,
                   "activation", ("input", 1, 0)),
    "activation/backward": ({"input": [2.0, 1.0, 0.1], "function": "softmax", "grad_output": [1, 0, 0]},
                            schemas.ActivationBackwardTrace, "activation_backward", ("grad_output", 1)),
    "dense": ({"input": [4, 0, 4, 3], "weight": [[0.2, -0.5, 0.4, 0.1]], "bias": [0.2]}, schemas.DenseTrace,
              "dense", ("weight", 0, 1)),
    "dense/backward": ({"input": [4, 0, 4, 3], "weight": [[0.2, -0.5, 0.4, 0.1]], "bias": [0.2],
                        "grad_output": [2.9]}, schemas.DenseBackwardTrace, "dense_backward", ("input", 1)),
    "flatten": ({"input": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}, schemas.FlattenTrace, "flatten",
                ("input", 1, 0, 1)),
    "loss": ({"prediction": [[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]], "target": [0, 1], "kind": "softmax_cross_entropy"},
             schemas.LossTrace, "loss", ("prediction", 1, 2)),
    "optimizer": ({**SGD, "kind": "adam"}, schemas.OptimizerTrace, "optimizer_step", ("params", "w", 2)),
    "batchnorm": ({"input": BATCH, "gamma": [1, 0.5], "beta": [0, 1]}, schemas.BatchnormTrace, "batchnorm",
                  ("input", 1, 1)),
    "batchnorm/backward": ({"input": BATCH, "grad_output": [[1, 0], [0, 1], [-1, 1]]},
                           schemas.BatchnormBackwardTrace, "batchnorm_backward", ("grad_output", 2, 0)),
    "dropout": ({"input": [[1, 2], [3, 4]], "p": 0.5, "seed": 0}, schemas.DropoutTrace, "dropout",
                ("input", 1, 1)),
}


def with_value(body: dict, path: tuple, value) -> dict:
    """A copy of ``body`` with the value at ``path`` replaced."""
    copy = json.loads(json.dumps(body))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return copy


def documented(model: type[BaseModel], part: str) -> set[str] | None:
    """The fields a trace model documents for one part (params, inputs, ...); None for a free-form dict."""
    annotation = model.model_fields[part].annotation
    return set(annotation.model_fields) if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


@pytest.mark.parametrize("op", ROUTES)
def test_layer_route_answers_with_the_trace_contract_and_its_model(api, op):
    body, model, name, _ = ROUTES[op]
    trace = api.ok(op, body)
    assert set(trace) == TRACE_FIELDS
    assert trace["op"] == name
    assert trace["steps"] and all(set(step) == STEP_FIELDS for step in trace["steps"])
    assert trace["step_offset"] == 0
    assert trace["step_count"] == len(trace["steps"]) and trace["next_step_offset"] is None
    assert trace["notes"]
    model.model_validate(trace)
    for part in ("params", "inputs", "outputs", "intermediates"):
        fields = documented(model, part)
        if fields is not None:
            assert set(trace[part]) <= fields, (part, set(trace[part]) - fields)


@pytest.mark.parametrize("op", ROUTES)
def test_layer_route_step_ids_are_unique_and_each_can_be_fetched_alone(api, op):
    body = ROUTES[op][0]
    trace = api.ok(op, body)
    ids = [step["id"] for step in trace["steps"]]
    assert len(set(ids)) == len(ids)
    for position in (0, len(ids) - 1):
        alone = api.ok(op, body, step_id=ids[position])
        assert alone["steps"] == [trace["steps"][position]]
        assert alone["step_offset"] == position


@pytest.mark.parametrize("op", ROUTES)
def test_layer_route_pages_its_steps(api, op):
    body = ROUTES[op][0]
    whole = api.ok(op, body)
    page = api.ok(op, body, step_offset=1, step_limit=2)
    assert page["steps"] == whole["steps"][1:3]
    assert page["step_offset"] == 1
    assert page["next_step_offset"] == (3 if whole["step_count"] > 3 else None)
    assert page["step_count"] == whole["step_count"]
    assert api.ok(op, body, step_offset=whole["step_count"])["steps"] == []


@pytest.mark.parametrize("op", ROUTES)
def test_layer_route_refuses_an_unknown_step_id_with_404(api, op):
    detail = api.refused(op, ROUTES[op][0], status=404, step_id="nothing[0]")
    assert detail[0]["loc"] == ["query", "step_id"]


@pytest.mark.parametrize("op", ROUTES)
def test_layer_route_refuses_an_unknown_field_by_name(api, op):
    detail = api.refused(op, {**ROUTES[op][0], "unexpected": 1})
    assert [(d["loc"], d["type"]) for d in detail] == [(["body", "unexpected"], "extra_forbidden")]


@pytest.mark.parametrize("op", ROUTES)
@pytest.mark.parametrize("value", [True, "1", None, {"a": 1}])
def test_layer_route_refuses_a_cell_that_is_not_a_number_at_that_cell(api, op, value):
    body, _, _, path = ROUTES[op]
    detail = api.refused(op, with_value(body, path, value))
    assert [d["loc"] for d in detail] == [["body", *path]]
    assert "expected a number" in detail[0]["msg"]


@pytest.mark.parametrize("op", ROUTES)
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_layer_route_refuses_nan_and_infinity_in_a_tensor_at_that_cell(client, op, literal):
    body, _, _, path = ROUTES[op]
    text = json.dumps(with_value(body, path, "CELL")).replace('"CELL"', literal)
    response = client.post(f"/api/v1/{op}", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", *path]]
    assert "finite" in detail[0]["msg"]


RAGGED = {  # op -> (a field, a ragged value for it, where the refusal points)
    "activation": ("input", [[-2, 0.5], [0]], ["body", "input", 1]),
    "activation/backward": ("grad_output", [[1, 0], [0]], ["body", "grad_output", 1]),
    "dense": ("weight", [[0.2, -0.5, 0.4, 0.1], [1, 2]], ["body", "weight", 1]),
    "dense/backward": ("grad_output", [[2.9], [1, 2]], ["body", "grad_output", 1]),
    "flatten": ("input", [[[1, 2], [3, 4]], [[5, 6], [7]]], ["body", "input", 1, 1]),
    "loss": ("prediction", [[2.0, 1.0, 0.1], [0.5, 2.5]], ["body", "prediction", 1]),
    "optimizer": ("params", {"w": [[0.2, -0.5], [0.4]], "b": 0.2}, ["body", "params", "w", 1]),
    "batchnorm": ("input", [[1, 2], [3, 6], [5]], ["body", "input", 2]),
    "batchnorm/backward": ("grad_output", [[1, 0], [0, 1, 2], [-1, 1]], ["body", "grad_output", 1]),
    "dropout": ("mask", [[1, 0], [1]], ["body", "mask", 1]),
}


@pytest.mark.parametrize("op", ROUTES)
def test_layer_route_names_a_ragged_tensor_at_its_row(api, op):
    field, value, loc = RAGGED[op]
    body = {**ROUTES[op][0], field: value}
    if op == "dropout":
        del body["seed"]
    detail = api.refused(op, body)
    assert [d["loc"] for d in detail] == [loc]
    assert "ragged" in detail[0]["msg"]


@pytest.mark.parametrize("op, field, value", [
    ("activation", "alpha", True), ("activation", "dim", False), ("loss", "eps", True),
    ("optimizer", "lr", True), ("optimizer", "momentum", False), ("optimizer", "weight_decay", True),
    ("batchnorm", "eps", True), ("batchnorm", "momentum", True), ("dropout", "p", False),
    ("dropout", "seed", True),
])
def test_a_boolean_is_not_a_number_parameter(api, op, field, value):
    detail = api.refused(op, {**ROUTES[op][0], field: value})
    assert [d["loc"] for d in detail] == [["body", field]]
    assert "boolean" in detail[0]["msg"]


@pytest.mark.parametrize("op, field", [("activation", "alpha"), ("loss", "eps"), ("optimizer", "lr"),
                                       ("optimizer", "eps"), ("batchnorm", "momentum"), ("dropout", "p")])
@pytest.mark.parametrize("literal", ["NaN", "Infinity"])
def test_nan_and_infinity_are_refused_as_number_parameters(client, op, field, literal):
    text = json.dumps(ROUTES[op][0])[:-1] + f', "{field}": {literal}}}'
    response = client.post(f"/api/v1/{op}", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", field]]
    assert detail[0]["msg"] == f"expected a finite number, got {literal}"
    assert detail[0]["input"] == literal


@pytest.mark.parametrize("op, field, value", [
    ("activation", "dim", 1.0), ("activation", "dim", "0"), ("dropout", "seed", 1.5),
    ("optimizer", "lr", "0.1"), ("batchnorm", "training", 1), ("dropout", "training", "yes"),
])
def test_a_parameter_of_the_wrong_type_is_refused_by_name(api, op, field, value):
    assert api.locs(op, {**ROUTES[op][0], field: value}) == [["body", field]]


@pytest.mark.parametrize("op, missing", [("activation", "function"), ("dense", "weight"), ("loss", "kind"),
                                         ("optimizer", "lr"), ("dropout", "p"), ("batchnorm/backward", "grad_output")])
def test_a_required_field_left_out_is_named(api, op, missing):
    body = {k: v for k, v in ROUTES[op][0].items() if k != missing}
    detail = api.refused(op, body)
    assert [(d["loc"], d["type"]) for d in detail] == [(["body", missing], "missing")]
