"""The worked examples of the seed documents (/work/shared/seeds), recomputed.

Each expected value below was worked out by hand from the definition, not copied: where a seed
prints a different answer, the test says so and checks that the engine does not repeat it.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import conv1d, conv1d_backward, conv2d, output_size, pool2d, pool2d_backward
from engine.trace import StepKind

# ---------------------------------------------------------------- seed 000: 4x4 input, 3x3 kernel

X000 = [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]]
K000 = [[1, -1, 0], [0, 1, -1], [1, 0, 1]]


def test_seed000_conv2d_valid_gives_4_0_4_3():
    trace = conv2d(X000, K000)
    np.testing.assert_array_equal(trace.outputs["output"], [[4, 0], [4, 3]])
    assert len(trace.steps) == 4
    assert [s.id for s in trace.steps] == ["output[0,0]", "output[0,1]", "output[1,0]", "output[1,1]"]


def test_seed000_first_step_expansion_and_terms():
    step = conv2d(X000, K000).steps[0]
    assert step.kind is StepKind.MULTIPLY_ADD
    assert step.expansion == "z_{1,1} = 2(1) + 0(-1) + 1(0) + 1(0) + 1(1) + 0(-1) + 0(1) + 2(0) + 1(1) = 4"
    assert step.result == 4.0 and step.target == ("output", (0, 0))
    assert len(step.terms) == 9
    window = [(r, c) for r in range(3) for c in range(3)]
    for term, (r, c) in zip(step.terms, window):
        x_factor, k_factor = term.factors
        assert (x_factor.tensor, x_factor.index, x_factor.value) == ("input", (r, c), X000[r][c])
        assert (k_factor.tensor, k_factor.index, k_factor.value) == ("kernel", (r, c), K000[r][c])
        assert term.value == X000[r][c] * K000[r][c]
    assert step.reads["input"] == window and step.reads["kernel"] == window
    assert step.evaluate() == 4.0


def test_seed000_last_step_window_moves_one_row_and_column():
    step = conv2d(X000, K000).steps[3]
    assert step.expansion == "z_{2,2} = 1(1) + 0(-1) + 1(0) + 2(0) + 1(1) + 0(-1) + 0(1) + 2(0) + 1(1) = 3"
    assert step.reads["input"][0] == (1, 1) and step.reads["input"][-1] == (3, 3)


# ---------------------------------------------------------------- seed 001

IMAGE001 = [[1, 0, 1, 2], [0, 2, 1, 0], [1, 1, 0, 1], [2, 0, 1, 1]]
EDGE001 = [[-1, 0, 1]] * 3
PRINTED_EDGE001 = [[0, 3], [2, -1]]  # the seed's answer, which is wrong


def _by_definition(image, kernel):
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    k = kernel.shape[0]
    size = image.shape[0] - k + 1
    return np.array([[sum(image[i + m, j + n] * kernel[m, n] for m in range(k) for n in range(k))
                      for j in range(size)] for i in range(size)])


def test_seed001_edge_detector_printed_answer_is_wrong():
    computed = conv2d(IMAGE001, EDGE001).outputs["output"]
    # right column minus left column of each 3x3 window:
    # (1-1)+(1-0)+(0-1) = 0, (2-0)+(0-2)+(1-1) = 0, (1-0)+(0-1)+(1-2) = -1, (0-2)+(1-1)+(1-0) = -1
    np.testing.assert_array_equal(computed, [[0, 0], [-1, -1]])
    np.testing.assert_array_equal(computed, _by_definition(IMAGE001, EDGE001))
    assert not np.array_equal(computed, PRINTED_EDGE001)
    # the printed corners (0 and -1) happen to be right; the printed 3 and 2 are not
    np.testing.assert_array_equal(computed != np.array(PRINTED_EDGE001), [[False, True], [True, False]])


POOL001 = [[1, 3, 2, 9], [4, 6, 1, 5], [7, 2, 8, 3], [0, 4, 3, 6]]


def test_seed001_max_pool_2x2_stride_2():
    trace = pool2d(POOL001, kind="max", kernel_size=2, stride=2)
    np.testing.assert_array_equal(trace.outputs["output"], [[6, 9], [7, 8]])
    assert trace.steps[0].expansion == r"z_{1,1} = \max(1, 3, 4, 6) = 6"


def test_seed001_avg_pool_2x2_stride_2():
    trace = pool2d(POOL001, kind="avg", kernel_size=2, stride=2)
    np.testing.assert_array_equal(trace.outputs["output"], [[3.5, 4.25], [3.25, 5.0]])
    assert trace.steps[1].expansion == r"z_{1,2} = \frac{2 + 9 + 1 + 5}{4} = 4.25"


def test_seed001_exercise2_conv_2x2_kernel():
    trace = conv2d([[2, 4, 1], [3, 1, 5], [0, 2, 1]], [[0, 1], [-1, 0]])
    np.testing.assert_array_equal(trace.outputs["output"], [[1, 0], [1, 3]])
    assert trace.steps[0].expansion == "z_{1,1} = 2(0) + 4(1) + 3(-1) + 1(0) = 1"


def test_seed001_exercise3_max_pool():
    out = pool2d([[3, 8, 2, 4], [1, 6, 5, 3], [7, 2, 9, 1], [4, 5, 3, 6]], kind="max", kernel_size=2,
                 stride=2).outputs["output"]
    np.testing.assert_array_equal(out, [[8, 5], [7, 9]])


@pytest.mark.parametrize("size, kernel, stride, padding, expected", [
    (28, 5, 1, 0, 24),    # exercise 1.1
    (100, 3, 2, 1, 50),   # exercise 1.2: floor(99/2) + 1
    (14, 2, 2, 0, 7),     # exercise 1.3: 2x2 pool, stride 2
    (6, 3, 1, 0, 4),      # section 3.4, stride 1
    (6, 3, 2, 0, 2),      # section 3.4, stride 2: printed as 2.5 -> 2
    (32, 3, 1, 1, 32),    # section 5.2
])
def test_seed001_output_sizes(size, kernel, stride, padding, expected):
    assert output_size(size, kernel, stride=stride, padding=padding).outputs["output_size"] == expected


def test_seed001_stride_two_size_step_explains_the_floor():
    step = output_size(6, 3, stride=2).steps[0]
    assert step.expansion == (r"\left\lfloor \frac{6 - 3 + 2(0)}{2} \right\rfloor + 1 = "
                              r"\left\lfloor 1.5 \right\rfloor + 1 = 2")
    assert "not exact" in step.message


# ---------------------------------------------------------------- seed 003: MNIST sizes

def test_seed003_mnist_6x6_filter_then_2x2_pool():
    assert output_size(28, 6).outputs["output_size"] == 23
    assert output_size(23, 2, stride=2).outputs["output_size"] == 11
    # the same through the ops themselves
    conv = conv2d(np.zeros((28, 28)), np.ones((6, 6)))
    assert conv.outputs["output"].shape == (23, 23)
    pool = pool2d(conv.outputs["output"], kind="max", kernel_size=2, stride=2)
    assert pool.outputs["output"].shape == (11, 11)


# ---------------------------------------------------------------- seed 004

def test_seed004_resnet_stem_224_k7_s2_p3_gives_112():
    assert output_size(224, 7, stride=2, padding=3).outputs["output_size"] == 112


def test_seed004_conv1d_forward_and_kernel_gradient():
    forward = conv1d([3, 4, 5], [1, 2])
    np.testing.assert_array_equal(forward.outputs["output"], [11, 14])
    backward = conv1d_backward([3, 4, 5], [1, 2], [1, -1])
    np.testing.assert_array_equal(backward.outputs["grad_weight"], [-1, -1])
    np.testing.assert_array_equal(backward.outputs["grad_input"], [1, 1, -2])
    step = backward.steps.by_id("grad_weight[0]")
    assert step.expansion == r"\frac{\partial L}{\partial k_{1}} = 1(3) + (-1)(4) = -1"


POOL004 = [[1, 3, 2, 4], [5, 6, 7, 8], [9, 2, 1, 0], [4, 5, 6, 7]]


def test_seed004_problem3_max_pool():
    out = pool2d(POOL004, kind="max", kernel_size=2, stride=2).outputs["output"]
    np.testing.assert_array_equal(out, [[6, 8], [9, 7]])


def test_seed004_problem4_gradient_lands_on_the_winners():
    alpha, beta, gamma, delta = 1.0, 2.0, 3.0, 4.0
    grad = pool2d_backward(POOL004, [[alpha, beta], [gamma, delta]], kind="max", kernel_size=2,
                           stride=2).outputs["grad_input"]
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[2, 0], expected[3, 3] = alpha, beta, gamma, delta
    np.testing.assert_array_equal(grad, expected)
