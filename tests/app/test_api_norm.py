"""JSON API: batchnorm and batchnorm/backward."""

from __future__ import annotations

import math

import numpy as np
import pytest

import app.api.budget as budget
from app.schemas import BatchnormBackwardTrace, BatchnormTrace

BATCH = [[1, 2], [3, 6], [5, 10]]   # 3 samples, 2 features: means 3 and 6, variances 8/3 and 32/3
DELTA = [[1, 0], [0, 1], [-1, 1]]


def column(rows: list[list[float]], j: int) -> list[float]:
    return [row[j] for row in rows]


def test_batchnorm_in_training_normalizes_each_feature_with_its_batch_statistics(api):
    trace = api.ok("batchnorm", {"input": BATCH})
    assert trace["intermediates"]["mean"] == [3, 6]
    assert trace["intermediates"]["var"] == pytest.approx([8 / 3, 32 / 3])
    expected = [-math.sqrt(1.5), 0, math.sqrt(1.5)]  # (x − μ)/σ with the biased σ
    output = trace["outputs"]["output"]
    assert column(output, 0) == pytest.approx(expected, abs=1e-5)
    assert column(output, 1) == pytest.approx(expected, abs=1e-5)
    assert trace["outputs"]["running_mean"] == pytest.approx([0.3, 0.6])
    assert trace["outputs"]["running_var"] == pytest.approx([0.9 + 0.1 * 4, 0.9 + 0.1 * 16])  # unbiased: n/(n−1)
    assert trace["params"] == {"eps": 1e-5, "training": True, "momentum": 0.1}
    ids = [s["id"] for s in trace["steps"]]
    assert ids[:6] == ["mean[0]", "mean[1]", "var[0]", "var[1]", "inv_std[0]", "inv_std[1]"]
    assert ids[-4:] == ["running_mean[0]", "running_mean[1]", "running_var[0]", "running_var[1]"]
    mean = trace["steps"][0]
    assert mean["kind"] == "reduce"
    assert mean["expansion"] == r"\mu_{1} = \frac{1 + 3 + 5}{3} = 3"
    BatchnormTrace.model_validate(trace)


def test_batchnorm_scales_by_gamma_and_shifts_by_beta(api):
    plain = api.ok("batchnorm", {"input": BATCH})["outputs"]["output"]
    trace = api.ok("batchnorm", {"input": BATCH, "gamma": [2, 0.5], "beta": [1, -1]})
    scaled = np.array(plain) * [2, 0.5] + [1, -1]
    assert np.allclose(trace["outputs"]["output"], scaled)


def test_batchnorm_in_inference_uses_the_running_statistics_and_keeps_them(api):
    body = {"input": BATCH, "training": False, "running_mean": [3, 6], "running_var": [4, 16], "eps": 1e-12}
    trace = api.ok("batchnorm", body)
    assert column(trace["outputs"]["output"], 0) == pytest.approx([-1, 0, 1])
    assert column(trace["outputs"]["output"], 1) == pytest.approx([-1, 0, 1])
    assert trace["outputs"]["running_mean"] == [3, 6]
    assert trace["outputs"]["running_var"] == [4, 16]
    assert "mean" not in trace["intermediates"]
    assert [s["id"] for s in trace["steps"]][:2] == ["inv_std[0]", "inv_std[1]"]
    BatchnormTrace.model_validate(trace)


def test_batchnorm_on_channels_takes_statistics_over_the_batch_and_positions(api):
    x = [[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]]  # (N=2, C=1, 2, 2)
    trace = api.ok("batchnorm", {"input": x})
    assert trace["intermediates"]["mean"] == [4.5]
    assert trace["intermediates"]["var"] == pytest.approx([5.25])
    assert trace["steps"][0]["expansion"] == r"\mu_{1} = \frac{1 + 2 + 3 + 4 + 5 + 6 + 7 + 8}{8} = 4.5"


def test_batchnorm_backward_gives_the_three_gradients(api):
    trace = api.ok("batchnorm/backward", {"input": BATCH, "grad_output": DELTA})
    x = np.array(BATCH, dtype=float)
    delta = np.array(DELTA, dtype=float)
    x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    n = len(BATCH)
    grad_x = (n * delta - delta.sum(0) - x_hat * (delta * x_hat).sum(0)) / (n * np.sqrt(x.var(0) + 1e-5))
    assert trace["outputs"]["grad_bias"] == [0, 2]
    assert trace["outputs"]["grad_weight"] == pytest.approx((delta * x_hat).sum(0))
    assert np.allclose(trace["outputs"]["grad_input"], grad_x)
    assert [s["id"] for s in trace["steps"]][:4] == ["grad_bias[0]", "grad_bias[1]", "grad_weight[0]",
                                                     "grad_weight[1]"]
    assert trace["params"] == {"eps": 1e-5, "training": True}
    BatchnormBackwardTrace.model_validate(trace)


# --- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["gamma", "beta", "running_mean", "running_var"])
def test_a_per_channel_tensor_of_the_wrong_length_is_refused(api, field):
    detail = api.refused("batchnorm", {"input": BATCH, field: [1, 2, 3]})
    assert [d["loc"] for d in detail] == [["body", field]]
    assert "one per feature" in detail[0]["msg"]


def test_a_negative_running_variance_is_refused_at_its_channel(api):
    body = {"input": BATCH, "training": False, "running_var": [1, -1]}
    assert api.locs("batchnorm", body) == [["body", "running_var", 1]]


@pytest.mark.parametrize("x", [[1, 2, 3], [[[[[1]]]]]])
def test_an_input_of_the_wrong_rank_is_refused(api, x):
    assert api.locs("batchnorm", {"input": x})[0][:2] == ["body", "input"]


def test_training_on_one_value_per_feature_is_refused(api):
    detail = api.refused("batchnorm", {"input": [[1, 2]]})
    assert [d["loc"] for d in detail] == [["body", "input"]]
    assert "training=False" in detail[0]["msg"]


@pytest.mark.parametrize("field, value", [("eps", 0), ("eps", -1e-5), ("momentum", 1.5), ("momentum", -0.1),
                                          ("training", 1), ("training", "false")])
def test_a_bad_parameter_is_refused_by_name(api, field, value):
    assert api.locs("batchnorm", {"input": BATCH, field: value}) == [["body", field]]


def test_batchnorm_backward_refuses_a_grad_output_of_another_shape(api):
    detail = api.refused("batchnorm/backward", {"input": BATCH, "grad_output": [[1, 0], [0, 1]]})
    assert [d["loc"] for d in detail] == [["body", "grad_output"]]
    assert "(3, 2)" in detail[0]["msg"]


def test_batchnorm_backward_takes_no_running_statistics(api):
    body = {"input": BATCH, "grad_output": DELTA, "running_mean": [0, 0]}
    assert api.locs("batchnorm/backward", body) == [["body", "running_mean"]]


@pytest.mark.parametrize("op, extra", [("batchnorm", {}), ("batchnorm/backward", {"grad_output": DELTA})])
def test_a_channel_with_more_cells_than_a_step_may_hold_is_refused(api, monkeypatch, op, extra):
    monkeypatch.setattr(budget, "MAX_STEP_TERMS", 2)
    detail = api.refused(op, {"input": BATCH, **extra})
    assert [d["loc"] for d in detail] == [["body", "input"]]
    assert "would be 3; the limit is 2" in detail[0]["msg"]
