"""JSON API: pool2d and pool2d/backward."""

from __future__ import annotations

import pytest

from app.schemas import PoolBackwardTrace, PoolTrace

X = [[1, 3, 2, 9], [4, 6, 1, 5], [7, 2, 8, 3], [0, 4, 3, 6]]


@pytest.mark.parametrize("kind, output, expansion", [
    ("max", [[6, 9], [7, 8]], r"z_{1,1} = \max(1, 3, 4, 6) = 6"),
    ("avg", [[3.5, 4.25], [3.25, 5]], r"z_{1,1} = \frac{1 + 3 + 4 + 6}{4} = 3.5"),
    ("min", [[1, 1], [0, 3]], r"z_{1,1} = \min(1, 3, 4, 6) = 1"),
])
def test_pool2d_kinds_keep_each_windows_max_mean_or_min(api, kind, output, expansion):
    trace = api.ok("pool2d", {"input": X, "kernel_size": 2, "kind": kind})
    assert trace["op"] == "pool2d"
    assert trace["outputs"]["output"] == output
    assert trace["steps"][0]["expansion"] == expansion
    assert trace["steps"][0]["kind"] == "pool"
    assert trace["step_count"] == 4
    PoolTrace.model_validate(trace)


def test_pool2d_stride_defaults_to_the_window(api):
    trace = api.ok("pool2d", {"input": X, "kernel_size": 2})
    assert trace["params"] == {"kind": "max", "kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0],
                               "ceil_mode": False, "count_include_pad": True}


def test_pool2d_overlapping_windows_with_stride_one(api):
    trace = api.ok("pool2d", {"input": X, "kernel_size": 2, "stride": 1})
    assert trace["outputs"]["output"] == [[6, 6, 9], [7, 8, 8], [7, 8, 8]]


def test_pool2d_max_never_picks_a_padded_cell(api):
    trace = api.ok("pool2d", {"input": [[-1, -2], [-3, -4]], "kernel_size": 2, "padding": 1})
    assert trace["outputs"]["output"] == [[-1, -2], [-3, -4]]


@pytest.mark.parametrize("count_include_pad, corner", [(True, 0.25), (False, 1)])
def test_pool2d_avg_counts_padding_only_when_asked(api, count_include_pad, corner):
    body = {"input": X, "kernel_size": 2, "kind": "avg", "padding": 1, "count_include_pad": count_include_pad}
    trace = api.ok("pool2d", body)
    assert trace["outputs"]["output"][0][0] == corner
    assert len(trace["outputs"]["output"]) == 3


@pytest.mark.parametrize("ceil_mode, size", [(False, 2), (True, 3)])
def test_pool2d_ceil_mode_keeps_the_partial_last_window(api, ceil_mode, size):
    x = [[r * 5 + c for c in range(5)] for r in range(5)]
    trace = api.ok("pool2d", {"input": x, "kernel_size": 2, "ceil_mode": ceil_mode})
    output = trace["outputs"]["output"]
    assert (len(output), len(output[0])) == (size, size)
    if ceil_mode:
        assert output[2][2] == 24


def test_pool2d_on_channels_pools_each_channel(api):
    trace = api.ok("pool2d", {"input": [X, [[-v for v in row] for row in X]], "kernel_size": 2})
    assert trace["outputs"]["output"] == [[[6, 9], [7, 8]], [[-1, -1], [0, -3]]]
    assert trace["steps"][4]["id"] == "output[1,0,0]"


def test_pool2d_backward_max_routes_each_delta_to_the_winner(api):
    trace = api.ok("pool2d/backward", {"input": X, "kernel_size": 2, "grad_output": [[1, 2], [3, 4]]})
    assert trace["op"] == "pool2d_backward"
    assert trace["outputs"]["grad_input"] == [[0, 0, 0, 2], [0, 1, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]
    assert trace["step_count"] == 16
    winner = api.ok("pool2d/backward", {"input": X, "kernel_size": 2, "grad_output": [[1, 2], [3, 4]]},
                    step_id="grad_input[1,1]")["steps"][0]
    assert winner["kind"] == "gradient_route"
    assert winner["result"] == 1
    PoolBackwardTrace.model_validate(trace)


def test_pool2d_backward_avg_spreads_each_delta_evenly(api):
    body = {"input": X, "kernel_size": 2, "kind": "avg", "grad_output": [[1, 2], [3, 4]]}
    trace = api.ok("pool2d/backward", body)
    assert trace["outputs"]["grad_input"] == [[0.25, 0.25, 0.5, 0.5], [0.25, 0.25, 0.5, 0.5],
                                              [0.75, 0.75, 1, 1], [0.75, 0.75, 1, 1]]


def test_pool2d_backward_refuses_a_grad_output_of_the_wrong_shape(api):
    body = {"input": X, "kernel_size": 2, "grad_output": [[1, 2, 3], [4, 5, 6]]}
    assert api.locs("pool2d/backward", body) == [["body", "grad_output"]]


@pytest.mark.parametrize("change, loc", [
    ({"padding": 2}, ["body", "padding"]),            # more than half the 2-wide window
    ({"padding": "same"}, ["body", "padding"]),       # pooling takes cells, not a word
    ({"padding": -1}, ["body", "padding"]),
    ({"kernel_size": 5}, ["body", "kernel_size"]),    # larger than the input
    ({"kernel_size": 0}, ["body", "kernel_size"]),
    ({"stride": 0}, ["body", "stride"]),
    ({"kind": "median"}, ["body", "kind"]),
    ({"ceil_mode": 1}, ["body", "ceil_mode"]),
    ({"count_include_pad": "yes"}, ["body", "count_include_pad"]),
])
def test_pool2d_refuses_bad_parameters_naming_the_field(api, change, loc):
    assert api.locs("pool2d", {"input": X, "kernel_size": 2, **change}) == [loc]


def test_pool2d_requires_a_kernel_size(api):
    detail = api.refused("pool2d", {"input": X})
    assert [(d["loc"], d["type"]) for d in detail] == [(["body", "kernel_size"], "missing")]
