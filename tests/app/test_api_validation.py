"""JSON API: every refusal is FastAPI's standard detail list whose loc names the field (and cell).

Nothing a caller sends may produce a 500 or a traceback.
"""

from __future__ import annotations

import json

import pytest

import engine
from app.limits import MAX_BODY_BYTES, MAX_ELEMENTS, MAX_OUTPUT_ELEMENTS, MAX_PARAMETER

SEED_INPUT = [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]]
SEED_KERNEL = [[1, -1, 0], [0, 1, -1], [1, 0, 1]]
SEED = {"input": SEED_INPUT, "kernel": SEED_KERNEL}


def with_cell(value, row: int = 1, column: int = 2) -> list[list]:
    matrix = [list(r) for r in SEED_INPUT]
    matrix[row][column] = value
    return matrix


def post_text(client, op: str, text: str, **headers):
    return client.post(f"/api/v1/{op}", content=text.encode(),
                       headers={"content-type": "application/json", **headers})


# --- numbers in tensors ---------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, False, "2", None, {"a": 1}])
def test_a_cell_that_is_not_a_number_is_refused_at_its_row_and_column(api, value):
    detail = api.refused("conv2d", {**SEED, "input": with_cell(value)})
    assert [d["loc"] for d in detail] == [["body", "input", 1, 2]]
    assert "expected a number" in detail[0]["msg"]


def test_a_boolean_kernel_cell_is_refused_even_though_python_counts_it_as_an_int(api):
    kernel = [[1, -1, 0], [0, True, -1], [1, 0, 1]]
    assert api.locs("conv2d", {**SEED, "kernel": kernel}) == [["body", "kernel", 1, 1]]


def test_a_boolean_bias_is_refused(api):
    assert api.locs("conv2d", {**SEED, "bias": True}) == [["body", "bias"]]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_in_the_json_are_refused_at_their_cell(client, literal):
    text = json.dumps({**SEED, "input": with_cell("CELL", 2, 3)}).replace('"CELL"', literal)
    assert json.loads(text)  # Python's JSON parser accepts these literals; the API must not
    response = post_text(client, "conv2d", text)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", "input", 2, 3]]
    assert "finite" in detail[0]["msg"]


def test_nan_as_a_whole_number_parameter_is_refused(client):
    response = post_text(client, "conv2d", json.dumps(SEED)[:-1] + ', "stride": NaN}')
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["detail"]] == [["body", "stride"]]


@pytest.mark.parametrize("field", ["unknown", "mode", "groups"])
def test_nan_in_any_field_is_refused_and_echoed_as_text(client, field):
    response = post_text(client, "conv2d", json.dumps(SEED)[:-1] + f', "{field}": NaN}}')
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", field]]
    assert detail[0]["input"] == "NaN"


def test_nan_bias_is_refused(client):
    response = post_text(client, "conv2d", json.dumps(SEED)[:-1] + ', "bias": NaN}')
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["detail"]] == [["body", "bias"]]


def test_an_integer_beyond_float64_is_refused_at_its_cell(api):
    assert api.locs("conv2d", {**SEED, "input": with_cell(10 ** 400)}) == [["body", "input", 1, 2]]


def test_a_result_that_overflows_float64_is_refused_not_sent_as_infinity(api):
    body = {"input": [[1e300] * 4] * 4, "kernel": [[1e300] * 3] * 3}
    detail = api.refused("conv2d", body)
    assert detail[0]["loc"] == ["body"]
    assert "float64" in detail[0]["msg"]


# --- shapes ---------------------------------------------------------------------------------

def test_a_ragged_row_is_refused_at_that_row(api):
    ragged = [[2, 0, 1, 2], [1, 1, 0], [0, 2, 1, 0], [1, 0, 2, 1]]
    detail = api.refused("conv2d", {**SEED, "input": ragged})
    assert [d["loc"] for d in detail] == [["body", "input", 1]]
    assert "ragged" in detail[0]["msg"]


def test_a_ragged_channel_is_refused_at_its_row(api):
    channels = [SEED_INPUT, [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1], [1, 0, 2, 1]]]
    assert api.locs("conv2d", {"input": channels, "kernel": [[SEED_KERNEL, SEED_KERNEL]]}) == [
        ["body", "input", 1, 2]]


def test_a_number_among_rows_is_refused_as_ragged(api):
    assert api.locs("conv2d", {**SEED, "input": [[1, 2], 3]}) == [["body", "input", 1]]


@pytest.mark.parametrize("value, loc", [([], ["body", "input"]), ([[]], ["body", "input", 0]),
                                        ([[[[[1]]]]], ["body", "input", 0, 0, 0, 0])])
def test_empty_and_too_deeply_nested_tensors_are_refused(api, value, loc):
    assert api.locs("conv2d", {**SEED, "input": value}) == [loc]


def test_an_input_of_the_wrong_rank_is_refused(api):
    assert api.locs("conv2d", {**SEED, "input": [1, 2, 3, 4]}) == [["body", "input"]]


def test_a_kernel_larger_than_the_padded_input_is_refused(api):
    detail = api.refused("conv2d", {**SEED, "kernel": [[1] * 5] * 5})
    assert [d["loc"] for d in detail] == [["body", "kernel"]]
    assert "padded input" in detail[0]["msg"]


def test_padding_makes_room_for_a_large_kernel(api):
    trace = api.ok("conv2d", {**SEED, "kernel": [[1] * 5] * 5, "padding": [1, 0, 1, 0]})
    assert trace["outputs"]["output"] == [[15]]


def test_a_kernel_whose_channels_disagree_with_the_input_is_refused(api):
    body = {"input": [SEED_INPUT, SEED_INPUT], "kernel": [[SEED_KERNEL, SEED_KERNEL, SEED_KERNEL]]}
    assert api.locs("conv2d", body) == [["body", "kernel"]]


def test_a_bias_of_the_wrong_length_is_refused(api):
    assert api.locs("conv2d", {**SEED, "bias": [1, 2]}) == [["body", "bias"]]


def test_a_grad_output_of_the_wrong_shape_is_refused(api):
    body = {**SEED, "grad_output": [[1, 0, 0], [0, -1, 0]]}
    assert api.locs("conv2d/backward", body) == [["body", "grad_output"]]


def test_groups_that_do_not_divide_the_channels_are_refused(api):
    assert api.locs("conv2d", {**SEED, "groups": 2}) == [["body", "groups"]]


def test_every_bad_tensor_is_reported_at_once(api):
    text = json.dumps({"input": with_cell(True), "kernel": [[1, 2], [3]]})[:-1] + ', "bias": Infinity}'
    response = api.client.post("/api/v1/conv2d", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["detail"]] == [["body", "input", 1, 2], ["body", "kernel", 1],
                                                             ["body", "bias"]]


# --- whole-number and word parameters -------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("stride", 0), ("stride", -1), ("stride", [1, 0]), ("stride", [1, 2, 3]), ("stride", True), ("stride", 2.0),
    ("stride", "2"), ("stride", MAX_PARAMETER + 1), ("dilation", 0), ("groups", 0), ("groups", False),
    ("padding", -1), ("padding", [1, -1]), ("padding", [1, 1, 1, -1]), ("padding", [1, 2, 3]),
    ("padding", "full"), ("padding", "SAME"), ("padding", 1.5), ("mode", "flipped"), ("mode", 1),
])
def test_a_bad_parameter_is_refused_naming_the_field(api, field, value):
    assert api.locs("conv2d", {**SEED, field: value}) == [["body", field]]


def test_stride_zero_says_what_is_wrong(api):
    detail = api.refused("conv2d", {**SEED, "stride": 0})
    assert detail[0]["msg"] == "must be at least 1, got 0"


def test_an_unknown_field_is_refused_not_ignored(api):
    detail = api.refused("conv2d", {**SEED, "strides": 2})
    assert [(d["loc"], d["type"]) for d in detail] == [(["body", "strides"], "extra_forbidden")]


@pytest.mark.parametrize("op", ["conv2d", "conv2d/backward", "conv1d", "conv1d/backward", "pool2d",
                                "pool2d/backward", "im2col", "output-size"])
def test_every_route_refuses_unknown_fields(api, op):
    assert ["body", "unexpected"] in api.locs(op, {"unexpected": 1})


def test_a_missing_field_is_named(api):
    detail = api.refused("conv2d", {"input": SEED_INPUT})
    assert [(d["loc"], d["type"]) for d in detail] == [(["body", "kernel"], "missing")]


@pytest.mark.parametrize("body", [[1, 2], "conv", 3])
def test_a_body_that_is_not_an_object_is_refused(api, body):
    assert api.locs("conv2d", body) == [["body"]]


def test_a_body_that_is_not_json_is_refused(client):
    response = post_text(client, "conv2d", '{"input": [[1, 2]')
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


# --- size limits ----------------------------------------------------------------------------

def test_a_tensor_over_the_element_limit_is_refused_naming_it(api):
    side = int(MAX_ELEMENTS ** 0.5) + 1
    detail = api.refused("conv2d", {"input": [[0] * side] * side, "kernel": [[1]]})
    assert [(d["loc"], d["type"]) for d in detail] == [(["body", "input"], "too_many_elements")]
    assert f"{MAX_ELEMENTS:,}" in detail[0]["msg"]


def test_the_element_limit_is_checked_before_the_cells_are(client):
    # a NaN in the last cell is never reached: the count stops the walk first
    side = int(MAX_ELEMENTS ** 0.5) + 1
    row = "[" + ",".join(["0"] * side) + "]"
    text = '{"kernel": [[1]], "input": [' + ",".join([row] * (side - 1)) + ",[" + "0," * (side - 1) + "NaN]]}"
    response = post_text(client, "conv2d", text)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_many_elements"


def test_a_padding_that_would_blow_up_the_input_is_refused(api):
    detail = api.refused("conv2d", {**SEED, "padding": MAX_PARAMETER})
    assert [d["loc"] for d in detail] == [["body", "padding"]]


def test_an_output_over_the_element_limit_is_refused_before_computing(api):
    side = 100
    filters = MAX_OUTPUT_ELEMENTS // side ** 2 + 1
    body = {"input": [[0] * side] * side, "kernel": [[[[1]]]] * filters}  # 1x1 filters: one output each
    detail = api.refused("conv2d", body)
    assert detail[0]["loc"] == ["body"]
    assert f"the numbers in the output would be {filters * side ** 2:,}" in detail[0]["msg"]


def test_an_im2col_matrix_over_the_element_limit_is_refused(api):
    side = 340  # 9 x 338 x 338 = 1,028,196 numbers in the columns
    detail = api.refused("im2col", {"input": [[0] * side] * side, "kernel_size": 3})
    assert detail[0]["loc"] == ["body"]
    assert "columns" in detail[0]["msg"]


def test_too_many_windows_are_refused_before_computing(api):
    body = {"input": [[0] * 1000] * 1000, "kernel": [[1] * 100] * 100}
    detail = api.refused("conv2d", body)
    assert detail[0]["loc"] == ["body"]
    assert "limit" in detail[0]["msg"]


def test_a_huge_pooling_stride_backward_pass_needs_no_more_memory_than_the_input(client):
    body = {"input": [[1, 2], [3, 4]], "kernel_size": 1, "stride": MAX_PARAMETER, "grad_output": [[1]]}
    response = client.post("/api/v1/pool2d/backward", json=body)
    assert response.status_code == 200
    assert response.json()["outputs"]["grad_input"] == [[1, 0], [0, 0]]


def test_a_body_over_the_byte_limit_is_413_before_it_is_parsed(client):
    response = post_text(client, "conv2d", "x" * (MAX_BODY_BYTES + 1))  # not JSON: it is never read
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body"]
    assert f"{MAX_BODY_BYTES:,}" in detail[0]["msg"]


def test_a_chunked_body_over_the_byte_limit_is_413(client):
    def chunks():
        for _ in range(MAX_BODY_BYTES // 2 ** 20 + 1):
            yield b" " * 2 ** 20
        yield b"{}"

    response = client.post("/api/v1/conv2d", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_a_chunked_body_under_the_limit_is_read_whole(client):
    text = json.dumps(SEED).encode()
    response = client.post("/api/v1/conv2d", content=iter([text[:10], text[10:]]),
                           headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["outputs"]["output"] == [[4, 0], [4, 3]]


# --- never a 500 ----------------------------------------------------------------------------

@pytest.mark.parametrize("failure", [RuntimeError("boom"), ZeroDivisionError(), MemoryError(), IndexError()])
def test_an_unexpected_engine_failure_is_a_422_without_a_traceback(api, monkeypatch, failure):
    def broken(*args, **kwargs):
        raise failure

    monkeypatch.setattr(engine, "conv2d", broken)
    detail = api.refused("conv2d", SEED)
    assert detail[0]["loc"] == ["body"]
    assert detail[0]["type"] == "engine_failure"
    assert type(failure).__name__ in detail[0]["msg"]


def test_a_step_that_fails_to_build_is_a_422_too(api, monkeypatch):
    real = engine.conv2d

    def with_broken_steps(*args, **kwargs):
        trace = real(*args, **kwargs)
        trace.segments = [type(s)(s.name, s.shape, lambda index, digits: 1 / 0) for s in trace.segments]
        return trace

    monkeypatch.setattr(engine, "conv2d", with_broken_steps)
    assert api.refused("conv2d", SEED)[0]["type"] == "engine_failure"
