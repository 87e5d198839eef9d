"""JSON API: conv2d, conv1d and their backward routes; paging and one step by id."""

from __future__ import annotations

import numpy as np
import pytest

import app.api.traces as traces
from app.limits import DEFAULT_STEP_LIMIT, MAX_STEP_LIMIT
from app.schemas import ConvBackwardTrace, ConvTrace

SEED_INPUT = [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]]
SEED_KERNEL = [[1, -1, 0], [0, 1, -1], [1, 0, 1]]
SEED = {"input": SEED_INPUT, "kernel": SEED_KERNEL}
TRACE_FIELDS = {"op", "params", "inputs", "outputs", "formula", "steps", "step_count", "step_offset",
                "next_step_offset", "notes", "intermediates"}
STEP_FIELDS = {"id", "kind", "title", "message", "formula", "expansion", "terms", "result", "target",
               "reads", "substeps", "function"}


def ramp(rows: int, columns: int) -> list[list[int]]:
    return [[r * columns + c for c in range(columns)] for r in range(rows)]


# --- conv2d ---------------------------------------------------------------------------------

def test_conv2d_seed_gives_the_worked_output_and_expansion(api):
    trace = api.ok("conv2d", SEED)
    assert trace["op"] == "conv2d"
    assert trace["outputs"]["output"] == [[4, 0], [4, 3]]
    assert trace["step_count"] == 4
    first = trace["steps"][0]
    assert "2(1) + 0(-1)" in first["expansion"]
    assert first["expansion"].endswith("= 4")
    assert first["id"] == "output[0,0]"
    assert first["kind"] == "multiply_add"
    assert first["result"] == 4
    assert first["target"] == {"tensor": "output", "index": [0, 0]}


def test_conv2d_response_carries_the_trace_contract_and_matches_its_schema(api):
    trace = api.ok("conv2d", SEED)
    assert set(trace) == TRACE_FIELDS
    assert all(set(step) == STEP_FIELDS for step in trace["steps"])
    assert trace["params"] == {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1], "groups": 1,
                               "mode": "correlation"}
    assert trace["inputs"] == {"input": SEED_INPUT, "kernel": SEED_KERNEL}
    assert trace["step_offset"] == 0 and trace["next_step_offset"] is None
    assert any("Cross-correlation" in note for note in trace["notes"])
    ConvTrace.model_validate(trace)


def test_conv2d_step_terms_name_each_factor_and_reads_list_the_window(api):
    step = api.ok("conv2d", SEED)["steps"][3]  # output[1,1]: window rows 1-3, columns 1-3
    assert step["id"] == "output[1,1]"
    assert len(step["terms"]) == 9
    assert step["terms"][0] == {"factors": [{"tensor": "input", "index": [1, 1], "value": 1},
                                            {"tensor": "kernel", "index": [0, 0], "value": 1}], "value": 1}
    assert step["reads"]["input"][-1] == [3, 3]
    assert sum(term["value"] for term in step["terms"]) == step["result"] == 3


def test_conv2d_stride_and_padding_pad_with_zeros_and_skip_windows(api):
    trace = api.ok("conv2d", {**SEED, "stride": 2, "padding": 1})
    assert trace["params"]["padding"] == [1, 1, 1, 1]
    assert trace["outputs"]["output"] == [[3, 1], [-3, 3]]
    assert any("never visited" in note for note in trace["notes"])


def test_conv2d_four_number_padding_is_top_bottom_left_right(api):
    trace = api.ok("conv2d", {"input": SEED_INPUT, "kernel": [[1]], "padding": [1, 0, 0, 2]})
    assert trace["params"]["padding"] == [1, 0, 0, 2]
    assert trace["outputs"]["output"] == [[0] * 6] + [row + [0, 0] for row in SEED_INPUT]


def test_conv2d_dilation_spreads_the_kernel_taps(api):
    trace = api.ok("conv2d", {"input": SEED_INPUT, "kernel": [[1, 1], [1, 1]], "dilation": 2})
    assert trace["outputs"]["output"] == [[4, 4], [4, 3]]


def test_conv2d_same_padding_in_convolution_mode_adds_padding_and_flip_steps(api):
    trace = api.ok("conv2d", {**SEED, "padding": "same", "mode": "convolution"})
    assert trace["step_count"] == 2 + 16
    padding, flip = trace["steps"][:2]
    assert (padding["id"], padding["kind"], padding["result"]) == ("padding", "padding", [1, 1, 1, 1])
    assert (flip["id"], flip["kind"]) == ("kernel_flip", "kernel_flip")
    assert flip["result"] == [[1, 0, 1], [-1, 1, 0], [0, -1, 1]]
    assert trace["outputs"]["output"][0][0] == 2
    assert len(trace["outputs"]["output"]) == 4


def test_conv2d_groups_give_each_filter_its_own_channel_and_bias(api):
    body = {"input": [SEED_INPUT, SEED_INPUT], "kernel": [[SEED_KERNEL], [SEED_KERNEL]], "groups": 2,
            "bias": [1, 2]}
    trace = api.ok("conv2d", body)
    assert trace["outputs"]["output"] == [[[5, 1], [5, 4]], [[6, 2], [6, 5]]]
    step = trace["steps"][0]
    assert step["terms"][-1]["factors"] == [{"tensor": "bias", "index": [0], "value": 1}]


def test_conv2d_scalar_bias_is_added_to_every_cell(api):
    trace = api.ok("conv2d", {**SEED, "bias": -0.5})
    assert trace["outputs"]["output"] == [[3.5, -0.5], [3.5, 2.5]]
    assert trace["inputs"]["bias"] == -0.5


def test_conv2d_backward_gives_input_weight_and_bias_gradients(api):
    body = {**SEED, "grad_output": [[1, 0], [0, -1]], "bias": 0.5}
    trace = api.ok("conv2d/backward", body)
    assert trace["op"] == "conv2d_backward"
    assert trace["outputs"] == {
        "grad_input": [[1, -1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 1], [0, -1, 0, -1]],
        "grad_weight": [[1, 0, 0], [-1, 0, 0], [0, 0, 0]],
        "grad_bias": 0,
    }
    assert trace["step_count"] == 16 + 9 + 1
    assert trace["inputs"]["grad_output"] == [[1, 0], [0, -1]]
    ConvBackwardTrace.model_validate(trace)


def test_conv2d_backward_step_of_a_weight_sums_delta_times_input(api):
    body = {**SEED, "grad_output": [[1, 0], [0, -1]]}
    step = api.ok("conv2d/backward", body, step_id="grad_weight[0,0]")["steps"][0]
    assert step["kind"] == "gradient_sum"
    assert step["expansion"].endswith("= 1")
    assert [t["value"] for t in step["terms"]] == [2, 0, 0, -1]


# --- conv1d ---------------------------------------------------------------------------------

def test_conv1d_slides_the_kernel_along_the_sequence(api):
    trace = api.ok("conv1d", {"input": [3, 4, 5, 1], "kernel": [1, 2]})
    assert trace["op"] == "conv1d"
    assert trace["outputs"]["output"] == [11, 14, 7]
    assert trace["params"]["stride"] == 1 and trace["params"]["padding"] == [0, 0]
    assert [s["id"] for s in trace["steps"]] == ["output[0]", "output[1]", "output[2]"]
    ConvTrace.model_validate(trace)


def test_conv1d_same_padding_puts_the_odd_cell_on_the_right(api):
    trace = api.ok("conv1d", {"input": [3, 4, 5, 1], "kernel": [1, 2], "padding": "same"})
    assert trace["params"]["padding"] == [0, 1]
    assert trace["outputs"]["output"] == [11, 14, 7, 1]


def test_conv1d_stride_and_left_padding(api):
    trace = api.ok("conv1d", {"input": [3, 4, 5, 1], "kernel": [1, 2], "padding": [1, 0], "stride": 2})
    assert trace["outputs"]["output"] == [6, 14]


def test_conv1d_takes_one_stride_not_a_pair(api):
    assert api.locs("conv1d", {"input": [3, 4, 5, 1], "kernel": [1, 2], "stride": [1, 2]}) == [["body", "stride"]]


def test_conv1d_backward_gives_gradients(api):
    trace = api.ok("conv1d/backward", {"input": [3, 4, 5], "kernel": [1, 2], "grad_output": [1, -1], "bias": [1]})
    assert trace["op"] == "conv1d_backward"
    assert trace["outputs"] == {"grad_input": [1, 1, -2], "grad_weight": [-1, -1], "grad_bias": [0]}
    ConvBackwardTrace.model_validate(trace)


def test_conv1d_backward_refuses_a_grad_output_of_the_wrong_length(api):
    body = {"input": [3, 4, 5], "kernel": [1, 2], "grad_output": [1, -1, 0]}
    assert api.locs("conv1d/backward", body) == [["body", "grad_output"]]


# --- paging ---------------------------------------------------------------------------------

BIG = {"input": ramp(12, 12), "kernel": SEED_KERNEL}  # a 10 x 10 output: 100 steps


def test_steps_default_to_the_default_limit(api):
    trace = api.ok("conv2d", BIG)
    assert trace["step_count"] == 100
    assert len(trace["steps"]) == DEFAULT_STEP_LIMIT
    assert trace["next_step_offset"] == DEFAULT_STEP_LIMIT


def test_step_offset_and_limit_select_a_page(api):
    trace = api.ok("conv2d", BIG, step_offset=10, step_limit=5)
    assert trace["step_offset"] == 10
    assert [s["id"] for s in trace["steps"]] == [f"output[1,{j}]" for j in range(5)]
    assert trace["next_step_offset"] == 15
    assert trace["step_count"] == 100


def test_last_page_is_short_and_has_no_next_offset(api):
    trace = api.ok("conv2d", BIG, step_offset=95, step_limit=50)
    assert [s["id"] for s in trace["steps"]] == [f"output[9,{j}]" for j in range(5, 10)]
    assert trace["next_step_offset"] is None


def test_offset_past_the_end_gives_no_steps_but_the_whole_answer(api):
    trace = api.ok("conv2d", BIG, step_offset=1000)
    assert trace["steps"] == []
    assert trace["step_count"] == 100
    assert len(trace["outputs"]["output"]) == 10


def test_step_limit_may_reach_the_maximum_and_no_further(api):
    body = {"input": ramp(32, 32), "kernel": SEED_KERNEL}  # 900 steps
    trace = api.ok("conv2d", body, step_limit=MAX_STEP_LIMIT)
    assert len(trace["steps"]) == MAX_STEP_LIMIT
    assert api.locs("conv2d", body, step_limit=MAX_STEP_LIMIT + 1) == [["query", "step_limit"]]


@pytest.mark.parametrize("query, name", [({"step_limit": 0}, "step_limit"), ({"step_offset": -1}, "step_offset"),
                                         ({"step_limit": "ten"}, "step_limit")])
def test_bad_paging_parameters_are_refused(api, query, name):
    assert api.locs("conv2d", SEED, **query) == [["query", name]]


def test_page_ends_early_at_the_term_budget_but_always_sends_one_step(api, monkeypatch):
    monkeypatch.setattr(traces, "MAX_RESPONSE_TERMS", 20)  # each seed step has 9 terms
    trace = api.ok("conv2d", SEED, step_limit=10)
    assert [s["id"] for s in trace["steps"]] == ["output[0,0]", "output[0,1]"]
    assert trace["next_step_offset"] == 2
    monkeypatch.setattr(traces, "MAX_RESPONSE_TERMS", 5)
    trace = api.ok("conv2d", SEED, step_offset=3)
    assert [s["id"] for s in trace["steps"]] == ["output[1,1]"]


def test_step_id_returns_that_step_alone(api):
    trace = api.ok("conv2d", SEED, step_id="output[0,1]")
    assert [s["id"] for s in trace["steps"]] == ["output[0,1]"]
    assert trace["steps"][0]["result"] == 0
    assert trace["step_offset"] == 1
    assert trace["step_count"] == 4


def test_step_id_ignores_the_page_parameters(api):
    trace = api.ok("conv2d", BIG, step_id="output[9,9]", step_offset=0, step_limit=1)
    assert [s["id"] for s in trace["steps"]] == ["output[9,9]"]
    assert trace["step_offset"] == 99


def test_step_id_finds_a_backward_bias_step(api):
    body = {**SEED, "grad_output": [[1, 0], [0, -1]], "bias": 0.5}
    step = api.ok("conv2d/backward", body, step_id="grad_bias")["steps"][0]
    assert step["target"] == {"tensor": "grad_bias", "index": []}
    assert step["result"] == 0


@pytest.mark.parametrize("step_id", ["output[2,0]", "output[0]", "nothing", "grad_input[0,0]", "output[,]",
                                     "output[ ]", "output[-1,0]", ""])
def test_unknown_step_id_is_404_naming_the_query_parameter(api, step_id):
    detail = api.refused("conv2d", SEED, status=404, step_id=step_id)
    assert detail[0]["loc"] == ["query", "step_id"]
    assert step_id in detail[0]["msg"]


def test_one_step_of_a_many_channel_layer_by_id_holds_that_cells_multiply_adds(api):
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, size=(3, 40, 40))
    w = rng.integers(-2, 3, size=(16, 3, 3, 3))
    trace = api.ok("conv2d", {"input": x.tolist(), "kernel": w.tolist(), "padding": 1},
                   step_id="output[5,20,17]")
    step = trace["steps"][0]
    window = np.pad(x, ((0, 0), (1, 1), (1, 1)))[:, 20:23, 17:20]
    assert step["result"] == float(np.sum(window * w[5]))
    assert len(step["terms"]) == 27
    assert trace["step_count"] == 16 * 40 * 40
    assert np.shape(trace["outputs"]["output"]) == (16, 40, 40)
