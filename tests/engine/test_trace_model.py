"""The trace contract: steps rebuild the outputs, ids find steps, and the sequence is lazy."""

from __future__ import annotations

import numpy as np
import pytest

from engine import (conv1d, conv1d_backward, conv2d, conv2d_backward, im2col, output_size, pool2d,
                    pool2d_backward)
from engine.trace import Combine, StepKind

RNG = np.random.default_rng(20240611)


def _ints(*shape):
    return RNG.integers(-3, 4, size=shape).astype(float)


# Small cases for every op: (name, call, the outputs the steps must rebuild)
CASES = [
    ("conv2d plain", lambda: conv2d(_ints(4, 5), _ints(2, 3)), {"output"}),
    ("conv2d bias, stride, same", lambda: conv2d(_ints(2, 5, 5), _ints(3, 2, 2, 2), _ints(3), stride=2,
                                                 padding="same"), {"output"}),
    ("conv2d batch, groups, dilation, convolution",
     lambda: conv2d(_ints(2, 4, 5, 5), _ints(4, 2, 2, 2), 0.5, groups=2, dilation=2, padding=(1, 0, 2, 1),
                    mode="convolution"), {"output"}),
    ("conv1d", lambda: conv1d(_ints(2, 7), _ints(3, 2, 3), _ints(3), stride=2, padding=1), {"output"}),
    ("conv2d_backward", lambda: conv2d_backward(_ints(2, 4, 4), _ints(3, 2, 2, 2), _ints(3, 3, 3), _ints(3)),
     {"grad_input", "grad_weight", "grad_bias"}),
    ("conv2d_backward stride, pad, convolution, scalar bias",
     lambda: conv2d_backward(_ints(5, 5), _ints(2, 1, 3, 3), _ints(2, 3, 3), 1.0, stride=2, padding=1,
                             mode="convolution"), {"grad_input", "grad_weight", "grad_bias"}),
    ("conv2d_backward no bias", lambda: conv2d_backward(_ints(4, 4), _ints(2, 2), _ints(3, 3)),
     {"grad_input", "grad_weight"}),
    ("conv1d_backward", lambda: conv1d_backward(_ints(6), _ints(3), _ints(2), 0.0, stride=2, dilation=1),
     {"grad_input", "grad_weight", "grad_bias"}),
    ("pool2d max", lambda: pool2d(_ints(5, 5), kind="max", kernel_size=2, padding=1, ceil_mode=True), {"output"}),
    ("pool2d min", lambda: pool2d(_ints(2, 4, 6), kind="min", kernel_size=(2, 3), stride=1), {"output"}),
    ("pool2d avg", lambda: pool2d(_ints(5, 5), kind="avg", kernel_size=3, stride=2, padding=1,
                                  count_include_pad=False, ceil_mode=True), {"output"}),
    ("pool2d_backward max", lambda: pool2d_backward(_ints(4, 4), _ints(2, 2), kind="max", kernel_size=2),
     {"grad_input"}),
    ("pool2d_backward avg", lambda: pool2d_backward(_ints(5, 5), _ints(3, 3), kind="avg", kernel_size=3, stride=2,
                                                    padding=1), {"grad_input"}),
    ("im2col", lambda: im2col(_ints(2, 4, 4), kernel_size=2, stride=2), {"columns"}),
    ("im2col with kernel", lambda: im2col(_ints(2, 2, 4, 4), kernel_size=3, padding=1, w=_ints(3, 2, 3, 3)),
     {"columns", "output"}),
    ("output_size", lambda: output_size(7, 3, stride=2), {"output_size"}),
    ("output_size rectangular", lambda: output_size((7, 9), (3, 2), padding="same"), {"output_size"}),
]


@pytest.mark.parametrize("name, make, rebuilt_names", CASES, ids=[c[0] for c in CASES])
def test_evaluate_rebuilds_every_output_from_the_steps(name, make, rebuilt_names):
    trace = make()
    rebuilt = trace.evaluate()
    assert set(rebuilt) == rebuilt_names
    for key, value in rebuilt.items():
        np.testing.assert_allclose(np.asarray(value, dtype=float), np.asarray(trace.outputs[key], dtype=float),
                                   atol=1e-12, err_msg=key)
    # and each step's own result is what its terms evaluate to
    for step in trace.steps:
        if step.combine is not Combine.VALUE:
            np.testing.assert_allclose(step.evaluate(), step.result, atol=1e-12, err_msg=step.id)


def test_evaluate_fails_when_a_step_disagrees_with_the_outputs():
    trace = conv2d([[1, 2], [3, 4]], [[1]])
    trace.outputs["output"] = trace.outputs["output"] + 1  # the numbers drifted from the explanation
    assert not np.array_equal(trace.evaluate()["output"], trace.outputs["output"])


@pytest.mark.parametrize("name, make, rebuilt_names", CASES, ids=[c[0] for c in CASES])
def test_every_step_is_found_by_its_id(name, make, rebuilt_names):
    steps = make().steps
    ids = [s.id for s in steps]
    assert len(set(ids)) == len(ids)
    for position, step in enumerate(steps):
        assert steps.position(step.id) == position
        assert steps.by_id(step.id).as_dict() == step.as_dict()
    assert steps.by_id("output[99,99]") is None
    assert steps.by_id("nonsense") is None


def test_steps_support_len_slices_and_negative_indices():
    trace = conv2d(np.arange(25.0).reshape(5, 5), np.ones((2, 2)))
    steps = trace.steps
    assert len(steps) == 16
    assert [s.id for s in steps[2:5]] == ["output[0,2]", "output[0,3]", "output[1,0]"]
    assert [s.id for s in steps[::5]] == ["output[0,0]", "output[1,1]", "output[2,2]", "output[3,3]"]
    assert [s.id for s in steps[-2:]] == ["output[3,2]", "output[3,3]"]
    assert steps[-1].id == "output[3,3]" and steps[-16].id == "output[0,0]"
    assert steps[np.int64(5)].id == "output[1,1]"
    with pytest.raises(IndexError):
        steps[16]
    with pytest.raises(IndexError):
        steps[-17]
    assert [s.id for s in steps] == [s.id for s in steps[:]]


def test_setup_steps_come_first_then_cells():
    trace = conv2d(np.ones((4, 4)), np.ones((2, 2)), padding="same", mode="convolution")
    kinds = [s.kind for s in trace.steps[:3]]
    assert kinds == [StepKind.PADDING, StepKind.KERNEL_FLIP, StepKind.MULTIPLY_ADD]
    assert len(trace.steps) == 2 + 16
    assert trace.steps.by_id("padding").result == [0, 1, 0, 1]


def test_step_ids_and_targets_speak_the_callers_rank():
    trace = conv2d(np.ones((2, 3, 3)), np.ones((4, 2, 2, 2)))
    step = trace.steps[-1]
    assert step.id == "output[3,1,1]" and step.target == ("output", (3, 1, 1))
    assert step.title == "Output z(4,2,2)"
    assert step.reads["input"][0] == (0, 1, 1) and step.reads["kernel"][0] == (3, 0, 0, 0)


def test_digits_setting_changes_the_expansion_not_the_numbers():
    trace = conv2d([[1 / 3, 2 / 3]], [[1.0, 1.0]])
    trace.digits = 3
    assert trace.steps[0].expansion == "z_{1,1} = 0.333(1) + 0.667(1) = 1"
    trace.digits = 6
    assert trace.steps[0].expansion == "z_{1,1} = 0.333333(1) + 0.666667(1) = 1"
    assert trace.outputs["output"][0, 0] == pytest.approx(1.0)


def test_as_dict_pages_the_steps():
    trace = conv2d(np.ones((5, 5)), np.ones((2, 2)))
    page = trace.as_dict(step_offset=3, step_limit=4)
    assert page["step_count"] == 16 and page["step_offset"] == 3
    assert [s["id"] for s in page["steps"]] == ["output[0,3]", "output[1,0]", "output[1,1]", "output[1,2]"]
    assert page["outputs"]["output"] == np.full((4, 4), 4.0).tolist()


# ---------------------------------------------------------------- laziness on a real layer

def test_large_layer_steps_are_counted_and_one_is_built_on_demand():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 56, 56))
    w = rng.standard_normal((64, 64, 3, 3))
    trace = conv2d(x, w, padding=1)
    steps = trace.steps
    assert len(steps) == 64 * 56 * 56
    middle = len(steps) // 2
    step = steps[middle]
    o, i, j = np.unravel_index(middle, (64, 56, 56))
    assert step.id == f"output[{o},{i},{j}]"
    assert len(step.terms) == 64 * 3 * 3 == 576

    # that one cell by the definition, padding included
    def cell(o, i, j):
        total = 0.0
        for c in range(64):
            for m in range(3):
                for n in range(3):
                    r, s = i + m - 1, j + n - 1
                    if 0 <= r < 56 and 0 <= s < 56:
                        total += x[c, r, s] * w[o, c, m, n]
        return total

    assert step.result == pytest.approx(cell(o, i, j), abs=1e-9)
    assert step.evaluate() == pytest.approx(step.result, abs=1e-9)
    inner = steps.by_id("output[5,30,37]")
    assert inner.result == pytest.approx(cell(5, 30, 37), abs=1e-9)
    assert inner.terms[0].factors[0].index == (0, 29, 36)
    assert inner.terms[-1].factors[1].index == (5, 63, 2, 2)
