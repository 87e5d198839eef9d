"""Bad input raises EngineError naming the argument (and the cell, where there is one), never a
raw NumPy or Python error."""

from __future__ import annotations

import numpy as np
import pytest

from engine import (EngineError, conv1d, conv1d_backward, conv2d, conv2d_backward, im2col, output_size, pool2d,
                    pool2d_backward)

X = np.arange(16, dtype=float).reshape(4, 4)
K = np.ones((3, 3))


def raises(argument: str, call, *args, location=None, **kwargs) -> EngineError:
    with pytest.raises(EngineError) as info:
        call(*args, **kwargs)
    error = info.value
    assert error.argument == argument, str(error)
    assert str(error).startswith(f"{argument}: ")
    assert error.problem in str(error)
    if location is not None:
        assert error.location == location
    return error


def test_kernel_larger_than_padded_input():
    error = raises("kernel", conv2d, np.ones((2, 2)), K)
    assert "3" in error.problem and "2" in error.problem
    conv2d(np.ones((2, 2)), K, padding=1)  # with padding it fits
    raises("kernel", conv2d, np.ones((5, 5)), K, dilation=3)  # dilated span 7
    raises("kernel", conv1d, [1, 2], [1, 2, 3])
    raises("kernel_size", pool2d, X, kind="max", kernel_size=5)
    raises("kernel_size", output_size, 4, 5)


@pytest.mark.parametrize("call", [
    lambda **kw: conv2d(X, K, **kw),
    lambda **kw: conv1d([1, 2, 3], [1, 1], **kw),
    lambda **kw: pool2d(X, kind="max", kernel_size=2, **kw),
    lambda **kw: output_size(4, 2, **kw),
    lambda **kw: im2col(X, kernel_size=2, **kw),
])
def test_stride_zero_or_fractional_is_refused(call):
    raises("stride", call, stride=0)
    raises("stride", call, stride=1.5)
    raises("stride", call, stride=True)


@pytest.mark.parametrize("call", [
    lambda **kw: conv2d(X, K, **kw),
    lambda **kw: conv1d([1, 2, 3], [1, 1], **kw),
    lambda **kw: pool2d(X, kind="max", kernel_size=2, **kw),
    lambda **kw: output_size(4, 2, **kw),
])
def test_negative_padding_is_refused(call):
    raises("padding", call, padding=-1)


def test_padding_forms_that_are_not_paddings():
    raises("padding", conv2d, X, K, padding=(1, 1, 1))
    raises("padding", conv2d, X, K, padding=(0, 0, -1, 0))
    raises("padding", conv2d, X, K, padding="full")
    raises("padding", conv1d, [1, 2, 3], [1, 1], padding=(1, 1, 1, 1))
    raises("padding", pool2d, X, kind="max", kernel_size=2, padding="same")
    raises("padding", pool2d, X, kind="max", kernel_size=2, padding=2)  # more than half the window


def test_dilation_zero_is_refused():
    raises("dilation", conv2d, X, K, dilation=0)


def test_channel_mismatch_names_the_kernel():
    error = raises("kernel", conv2d, np.ones((3, 5, 5)), np.ones((2, 2, 3, 3)))
    assert "3" in error.problem
    raises("kernel", conv2d, np.ones((3, 5, 5)), K)  # a 2-D kernel is one channel
    raises("kernel", conv1d, np.ones((2, 5)), np.ones((1, 3, 2)))


def test_groups_must_divide_channels_and_filters():
    raises("groups", conv2d, np.ones((3, 5, 5)), np.ones((3, 1, 3, 3)), groups=2)
    raises("groups", conv2d, np.ones((4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2)
    raises("groups", conv2d, X, K, groups=0)
    raises("groups", conv2d, X, K, groups=1.0)
    raises("groups", conv2d, X, K, groups=True)


def test_ragged_rows_are_reported_with_their_position():
    error = raises("input", conv2d, [[1, 2, 3], [4, 5], [6, 7, 8]], [[1]], location=(1,))
    assert "ragged" in error.problem and "item 2" in error.problem
    raises("kernel", conv2d, X, [[1, 2], [3]], location=(1,))
    raises("input", conv2d, [[[1, 2], [3, 4]], [[1, 2], [3, 4, 5]]], [[1]], location=(1, 1))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_are_reported_with_their_cell(bad):
    x = X.copy()
    x[2, 1] = bad
    error = raises("input", conv2d, x, [[1]], location=(2, 1))
    assert "row 3, column 2" in error.problem
    raises("kernel", conv2d, X, [[1, bad]], location=(0, 1))
    raises("bias", conv2d, X, [[1]], [bad])
    raises("grad_output", conv2d_backward, X, [[1]], x)
    raises("input", pool2d, x, kind="max", kernel_size=2, location=(2, 1))


def test_wrong_rank_is_refused():
    raises("input", conv2d, [1, 2, 3], [[1]])
    raises("input", conv2d, np.ones((1, 1, 1, 2, 2)), [[1]])
    raises("kernel", conv2d, X, np.ones((1, 3, 3)))
    raises("input", conv1d, X[None, None], [1])
    raises("kernel", conv1d, [1, 2, 3], [[1, 1]])
    raises("input", pool2d, [1, 2, 3], kind="max", kernel_size=1)
    raises("input", conv2d, 5.0, [[1]])
    raises("bias", conv2d, X, [[1]], [[1.0]])


def test_empty_input_is_refused():
    raises("input", conv2d, [[]], [[1]])
    raises("input", conv2d, [], [[1]])


def test_booleans_and_text_are_not_numbers():
    raises("input", conv2d, [[True, False], [1, 0]], [[1]], location=(0, 0))
    raises("input", conv2d, np.array([[True, False], [False, True]]), [[1]])
    raises("kernel", conv2d, X, [[1, "2"]], location=(0, 1))
    raises("input", conv2d, [[1, None]], [[1]], location=(0, 1))
    raises("input", conv2d, np.array([["1", "2"]]), [[1]])


def test_complex_arrays_are_refused_not_silently_truncated():
    raises("input", conv2d, np.array([[1 + 2j, 2]]), [[1]])
    raises("input", conv2d, [[1 + 2j, 2]], [[1]], location=(0, 0))


def test_integers_too_large_for_a_float_are_refused():
    raises("input", conv2d, [[10**400, 1]], [[1]], location=(0, 0))


def test_bad_mode_is_refused():
    raises("mode", conv2d, X, K, mode="corr")
    raises("mode", conv1d, [1, 2, 3], [1], mode="flip")


def test_bad_pool_kind_is_refused():
    error = raises("kind", pool2d, X, kind="median", kernel_size=2)
    assert "'max', 'avg' or 'min'" in error.problem
    raises("kind", pool2d_backward, X, np.ones((2, 2)), kind="sum", kernel_size=2)


def test_bias_count_must_match_filters():
    raises("bias", conv2d, np.ones((2, 5, 5)), np.ones((3, 2, 3, 3)), [1.0, 2.0])


def test_grad_output_of_the_wrong_shape_is_refused():
    error = raises("grad_output", conv2d_backward, X, K, np.ones((3, 3)))
    assert "(2, 2)" in error.problem
    raises("grad_output", conv2d_backward, X, K, np.ones((1, 2, 2)))
    raises("grad_output", conv1d_backward, [1, 2, 3], [1, 1], [1, 2, 3])
    raises("grad_output", pool2d_backward, X, np.ones((3, 2)), kind="max", kernel_size=2)
    raises("grad_output", pool2d_backward, X, [[1, 2], [3]], kind="avg", kernel_size=2, location=(1,))


def test_im2col_kernel_size_must_match_the_kernel():
    raises("kernel", im2col, X, kernel_size=2, w=np.ones((1, 1, 3, 3)))


def test_engine_error_is_a_value_error_with_a_readable_message():
    error = raises("input", conv2d, [[1, np.nan]], [[1]])
    assert isinstance(error, ValueError)
    assert str(error) == "input: NaN at row 1, column 2 is not a finite number"


def test_arrays_nested_in_lists_are_checked_too():
    raises("input", conv2d, [np.array(["a", "b"]), np.array(["c", "d"])], [[1]], location=(0,))
    raises("input", conv2d, [np.array([1.0, 2.0]), np.array([True, False])], [[1]], location=(1,))
    np.testing.assert_array_equal(conv2d([np.array([1, 2]), np.array([3.5, 4])], [[2]]).outputs["output"],
                                  [[2, 4], [7, 8]])
