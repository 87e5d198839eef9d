"""JSON API: output-size and im2col."""

from __future__ import annotations

import pytest

from app.schemas import Im2colTrace, OutputSizeTrace

SEED_INPUT = [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]]
SEED_KERNEL = [[1, -1, 0], [0, 1, -1], [1, 0, 1]]


# --- output-size ----------------------------------------------------------------------------

def test_output_size_of_a_square_layer_is_one_number_with_one_step(api):
    trace = api.ok("output-size", {"input_size": 224, "kernel_size": 7, "stride": 2, "padding": 3})
    assert trace["op"] == "output_size"
    assert trace["outputs"] == {"output_size": 112}
    assert trace["inputs"] == {}
    assert trace["step_count"] == 1
    step = trace["steps"][0]
    assert (step["id"], step["kind"], step["result"]) == ("output_size.rows", "size", 112)
    assert step["expansion"].endswith("= 112")
    OutputSizeTrace.model_validate(trace)


def test_output_size_with_pairs_gives_rows_and_columns(api):
    body = {"input_size": [6, 5], "kernel_size": [3, 2], "stride": 2, "dilation": [1, 2]}
    trace = api.ok("output-size", body)
    assert trace["outputs"] == {"output_size": [2, 2]}
    assert [s["id"] for s in trace["steps"]] == ["output_size.rows", "output_size.columns"]
    assert any("never visited" in note for note in trace["notes"])


def test_output_size_same_padding_resolves_the_pad(api):
    body = {"input_size": [224, 100], "kernel_size": 7, "stride": 2, "padding": "same"}
    trace = api.ok("output-size", body)
    assert trace["outputs"] == {"output_size": [112, 50]}
    assert trace["params"]["padding"] == [2, 3, 2, 3]


@pytest.mark.parametrize("ceil_mode, size", [(False, 2), (True, 3)])
def test_output_size_ceil_mode_rounds_up(api, ceil_mode, size):
    trace = api.ok("output-size", {"input_size": 6, "kernel_size": 3, "stride": 2, "ceil_mode": ceil_mode})
    assert trace["outputs"]["output_size"] == size


@pytest.mark.parametrize("change, loc", [
    ({"kernel_size": 7}, ["body", "kernel_size"]),   # larger than the 5 cells
    ({"input_size": 0}, ["body", "input_size"]),
    ({"input_size": [5, 5, 5]}, ["body", "input_size"]),
    ({"stride": 0}, ["body", "stride"]),
    ({"stride": 1.5}, ["body", "stride"]),
    ({"padding": [1, 2, 3]}, ["body", "padding"]),
    ({"dilation": True}, ["body", "dilation"]),
    ({"ceil_mode": "true"}, ["body", "ceil_mode"]),
])
def test_output_size_refuses_bad_arguments_naming_the_field(api, change, loc):
    assert api.locs("output-size", {"input_size": 5, "kernel_size": 3, **change}) == [loc]


# --- im2col ---------------------------------------------------------------------------------

def test_im2col_puts_each_window_in_a_column(api):
    trace = api.ok("im2col", {"input": SEED_INPUT, "kernel_size": 3})
    assert trace["op"] == "im2col"
    columns = trace["outputs"]["columns"]
    assert (len(columns), len(columns[0])) == (9, 4)
    assert [row[0] for row in columns] == [2, 0, 1, 1, 1, 0, 0, 2, 1]
    assert trace["outputs"]["cells"][0] == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 2]]
    assert [s["id"] for s in trace["steps"]] == ["columns[0]", "columns[1]", "columns[2]", "columns[3]"]
    step = trace["steps"][0]
    assert step["kind"] == "gather"
    assert step["result"] == [2, 0, 1, 1, 1, 0, 0, 2, 1]
    assert step["target"] == {"tensor": "columns", "index": [None, 0]}
    assert "output" not in trace["outputs"]
    Im2colTrace.model_validate(trace)


def test_im2col_with_a_kernel_rebuilds_the_convolution_as_a_product(api):
    trace = api.ok("im2col", {"input": SEED_INPUT, "kernel_size": 3, "kernel": SEED_KERNEL})
    assert trace["outputs"]["output"] == [[4, 0], [4, 3]]
    assert trace["outputs"]["weight_rows"] == [[1, -1, 0, 0, 1, -1, 1, 0, 1]]
    assert trace["step_count"] == 4 + 4
    assert trace["steps"][4]["id"] == "output[0,0]"
    assert trace["steps"][4]["result"] == 4
    Im2colTrace.model_validate(trace)


def test_im2col_padding_and_stride_shape_the_columns(api):
    trace = api.ok("im2col", {"input": SEED_INPUT, "kernel_size": 3, "stride": 2, "padding": 1})
    columns = trace["outputs"]["columns"]
    assert (len(columns), len(columns[0])) == (9, 4)
    assert [row[0] for row in columns] == [0, 0, 0, 0, 2, 0, 0, 1, 1]
    assert trace["params"]["padding"] == [1, 1, 1, 1]


def test_im2col_refuses_a_kernel_whose_size_disagrees(api):
    body = {"input": SEED_INPUT, "kernel_size": 2, "kernel": SEED_KERNEL}
    assert api.locs("im2col", body) == [["body", "kernel"]]


def test_im2col_refuses_a_window_larger_than_the_input(api):
    assert api.locs("im2col", {"input": SEED_INPUT, "kernel_size": 5}) == [["body", "kernel_size"]]
