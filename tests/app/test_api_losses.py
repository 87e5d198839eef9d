"""JSON API: loss."""

from __future__ import annotations

import math
from typing import get_args

import pytest

import app.api.budget as budget
import engine.losses
from app.schemas import LossKind, LossTrace, Reduction

SCORES = [2.0, 1.0, 0.1]
SOFTMAX = [math.exp(z) / sum(math.exp(v) for v in SCORES) for z in SCORES]


def test_the_api_offers_exactly_the_engines_losses_and_reductions():
    assert get_args(LossKind) == engine.losses.KINDS
    assert get_args(Reduction) == engine.losses.REDUCTIONS


def test_mse_half_sum_on_the_seed_output_gives_4_205_and_the_gradient_2_9(api):
    trace = api.ok("loss", {"prediction": [2.9], "target": [0], "kind": "mse", "reduction": "half_sum"})
    assert trace["outputs"]["loss"] == pytest.approx(4.205)
    assert trace["outputs"]["grad_input"] == [2.9]
    assert trace["params"] == {"kind": "mse", "reduction": "half_sum"}
    assert trace["intermediates"] == {"difference": [2.9]}
    loss, grad = trace["steps"]
    assert (loss["id"], loss["kind"]) == ("loss", "reduce")
    assert loss["expansion"] == r"L = \frac{1}{2}\left[(2.9 - 0)^2\right] = 4.205"
    assert (grad["id"], grad["kind"]) == ("grad_input[0]", "gradient_sum")
    assert grad["expansion"].endswith("= 2.9")
    LossTrace.model_validate(trace)


@pytest.mark.parametrize("reduction, loss, grad", [("mean", 8.41, 5.8), ("sum", 8.41, 5.8), ("half_sum", 4.205, 2.9)])
def test_mse_reductions_scale_the_loss_and_its_gradient(api, reduction, loss, grad):
    trace = api.ok("loss", {"prediction": 2.9, "target": 0, "kind": "mse", "reduction": reduction})
    assert trace["outputs"]["loss"] == pytest.approx(loss)
    assert trace["outputs"]["grad_input"] == pytest.approx(grad)


def test_mse_mean_averages_over_the_elements(api):
    trace = api.ok("loss", {"prediction": [[1, 2], [3, 4]], "target": [[1, 2], [3, 0]], "kind": "mse"})
    assert trace["outputs"]["loss"] == 4
    assert trace["outputs"]["grad_input"] == [[0, 0], [0, 2]]


def test_softmax_cross_entropy_on_the_worked_scores_with_a_class_index(api):
    trace = api.ok("loss", {"prediction": SCORES, "target": 0, "kind": "softmax_cross_entropy"})
    assert trace["outputs"]["loss"] == pytest.approx(-math.log(SOFTMAX[0]))
    assert trace["outputs"]["loss"] == pytest.approx(0.417030, abs=1e-6)
    assert trace["outputs"]["grad_input"] == pytest.approx([SOFTMAX[0] - 1, SOFTMAX[1], SOFTMAX[2]])
    assert trace["params"]["target_form"] == "index"
    assert trace["inputs"]["target"] == [1, 0, 0]
    assert trace["intermediates"]["probabilities"] == pytest.approx(SOFTMAX)
    ids = [s["id"] for s in trace["steps"]]
    assert ids[:5] == ["max", "exp[0]", "exp[1]", "exp[2]", "sum"]
    assert ids[-4:] == ["loss", "grad_input[0]", "grad_input[1]", "grad_input[2]"]
    LossTrace.model_validate(trace)


def test_cross_entropy_mean_divides_by_the_samples_not_the_classes(api):
    body = {"prediction": [[0.5, 0.5], [0.25, 0.75]], "target": [0, 1], "kind": "cross_entropy"}
    trace = api.ok("loss", body)
    assert trace["outputs"]["loss"] == pytest.approx((-math.log(0.5) - math.log(0.75)) / 2)
    first, second = trace["outputs"]["grad_input"]
    assert first == [-1, 0] and second == pytest.approx([0, -2 / 3])
    assert trace["intermediates"]["sample_loss"] == pytest.approx([-math.log(0.5), -math.log(0.75)])
    assert any("not by the classes" in note for note in trace["notes"])


def test_binary_cross_entropy_on_probabilities(api):
    trace = api.ok("loss", {"prediction": [0.8, 0.25], "target": [1, 0], "kind": "binary_cross_entropy",
                            "reduction": "sum"})
    assert trace["outputs"]["loss"] == pytest.approx(-math.log(0.8) - math.log(0.75))
    assert trace["outputs"]["grad_input"] == pytest.approx([-1 / 0.8, 1 / 0.75])
    assert trace["intermediates"]["elementwise_loss"] == pytest.approx([-math.log(0.8), -math.log(0.75)])


# --- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["hinge", "MSE", "crossentropy", None])
def test_an_unknown_kind_is_refused_by_name(api, kind):
    assert api.locs("loss", {"prediction": [1], "target": [0], "kind": kind}) == [["body", "kind"]]


@pytest.mark.parametrize("reduction", ["avg", "none", ""])
def test_an_unknown_reduction_is_refused_by_name(api, reduction):
    body = {"prediction": [1], "target": [0], "kind": "mse", "reduction": reduction}
    assert api.locs("loss", body) == [["body", "reduction"]]


def test_half_sum_is_for_mse_only(api):
    body = {"prediction": SCORES, "target": 0, "kind": "softmax_cross_entropy", "reduction": "half_sum"}
    assert api.locs("loss", body) == [["body", "reduction"]]


@pytest.mark.parametrize("target", [[0, 1], [[0, 1, 2]], [[0], [1]]])
def test_a_target_of_the_wrong_shape_is_refused(api, target):
    body = {"prediction": [1, 2, 3], "target": target, "kind": "mse"}
    assert api.locs("loss", body) == [["body", "target"]]


@pytest.mark.parametrize("target, loc", [(3, ["body", "target"]), (-1, ["body", "target"]),
                                         (0.5, ["body", "target"])])
def test_a_class_index_that_is_not_a_class_is_refused(api, target, loc):
    detail = api.refused("loss", {"prediction": SCORES, "target": target, "kind": "softmax_cross_entropy"})
    assert [d["loc"] for d in detail] == [loc]
    assert "classes, numbered 0 to 2" in detail[0]["msg"]


def test_a_bad_class_index_in_a_batch_is_refused_at_its_sample(api):
    body = {"prediction": [SCORES, SCORES, SCORES], "target": [0, 2, 7], "kind": "cross_entropy"}
    detail = api.refused("loss", body)
    assert [d["loc"] for d in detail] == [["body", "target", 2]]
    assert "class 7 of sample 3" in detail[0]["msg"]


def test_a_probability_outside_zero_and_one_is_refused_at_its_cell(api):
    body = {"prediction": [0.5, 1.5], "target": [1, 0], "kind": "binary_cross_entropy"}
    assert api.locs("loss", body) == [["body", "prediction", 1]]


@pytest.mark.parametrize("eps", [0, -1e-12, 0.5, 1])
def test_eps_must_be_a_small_positive_number(api, eps):
    body = {"prediction": [0.5], "target": [1], "kind": "binary_cross_entropy", "eps": eps}
    detail = api.refused("loss", body)
    assert [d["loc"] for d in detail] == [["body", "eps"]]
    assert detail[0]["msg"].startswith("must be above 0 and below 0.5")


def test_a_loss_over_more_cells_than_a_step_may_hold_is_refused(api, monkeypatch):
    monkeypatch.setattr(budget, "MAX_STEP_TERMS", 3)
    detail = api.refused("loss", {"prediction": [1, 2, 3, 4], "target": [0, 0, 0, 0], "kind": "mse"})
    assert [d["loc"] for d in detail] == [["body", "prediction"]]
    assert "the cells the loss step adds up would be 4; the limit is 3" in detail[0]["msg"]
    body = {"prediction": [SCORES] * 4, "target": [0] * 4, "kind": "softmax_cross_entropy"}
    assert "the samples the loss step adds up would be 4" in api.refused("loss", body)[0]["msg"]
