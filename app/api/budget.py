"""What a request will cost, checked before the engine computes anything.

The engine computes every number of an op at once, so a request whose output, padded input,
gathered windows or multiply-adds are over the limits in ``app.limits`` is refused here with a
422 that says which number is too large. Shapes come from ``engine.shapes``; tensors of a rank
the engine does not take are let through, for the engine to refuse with its own message.
"""

from __future__ import annotations

from math import prod
from typing import Any

from engine.activations import JACOBIAN_LIMIT
from engine.layout import IMAGE, KERNEL_1D, KERNEL_2D, SEQUENCE, shape4
from engine.shapes import out_size, resolve_padding

from ..limits import MAX_ELEMENTS, MAX_MULTIPLY_ADDS, MAX_OUTPUT_ELEMENTS, MAX_STEP_TERMS, MAX_WORKING_CELLS
from .tensors import invalid


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _check(count: int, limit: int, loc: tuple[str, ...], what: str) -> None:
    if count > limit:
        raise invalid(loc, f"{what} would be {count:,}; the limit is {limit:,}", "over_limit")


def _as_4d(shape: tuple[int, ...], ranks: dict[int, tuple[int, ...]]) -> tuple[int, ...] | None:
    """A shape as (N, C, H, W), or None for a rank the engine does not take."""
    return shape4(shape, ranks[len(shape)]) if len(shape) in ranks else None


def check_conv(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any, padding: Any,
               dilation: Any, one_d: bool) -> None:
    """conv1d / conv2d, forward or backward."""
    x4 = _as_4d(x_shape, SEQUENCE if one_d else IMAGE)
    w4 = _as_4d(w_shape, KERNEL_1D if one_d else KERNEL_2D)
    if x4 is None or w4 is None:
        return
    if one_d:
        stride_, dilation_ = (1, stride), (1, dilation)
        if isinstance(padding, (list, tuple)):
            padding = (0, 0, padding[0], padding[1])
        elif not isinstance(padding, str):
            padding = (0, padding)
    else:
        stride_, dilation_ = _pair(stride), _pair(dilation)
    N, C, H, W = x4
    C_out, C_in_g, kH, kW = w4
    _check_windows(N, C, H, W, C_out, C_in_g, (kH, kW), stride_, padding, dilation_)


def check_im2col(x_shape: tuple[int, ...], w_shape: tuple[int, ...] | None, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any) -> None:
    """im2col: the columns, each cell listed beside its number, stay within MAX_ELEMENTS."""
    x4 = _as_4d(x_shape, IMAGE)
    if x4 is None:
        return
    N, C, H, W = x4
    kernel = _pair(kernel_size)
    C_out = 0
    if w_shape is not None:
        w4 = _as_4d(w_shape, KERNEL_2D)
        if w4 is None:
            return
        C_out = w4[0]
    H_out, W_out = _check_windows(N, C, H, W, max(C_out, 1), C, kernel, _pair(stride), padding, _pair(dilation))
    _check(N * C * kernel[0] * kernel[1] * H_out * W_out, MAX_ELEMENTS, ("body",), "the numbers in the columns")


def _check_windows(N: int, C: int, H: int, W: int, C_out: int, C_in_g: int, kernel: tuple[int, int],
                   stride: tuple[int, int], padding: Any, dilation: tuple[int, int]) -> tuple[int, int]:
    (kH, kW), (sH, sW), (dH, dW) = kernel, stride, dilation
    if min(kH, kW, sH, sW, dH, dW) < 1:
        return 0, 0  # not a problem the engine takes: it says why
    (top, bottom, left, right), _ = resolve_padding(padding, kernel, stride, dilation, (H, W))
    _check(N * C * (H + top + bottom) * (W + left + right), MAX_WORKING_CELLS, ("body", "padding"),
           "the cells of the padded input")
    H_out = out_size(H, kH, sH, top, bottom, dH)
    W_out = out_size(W, kW, sW, left, right, dW)
    _check(N * C_out * H_out * W_out, MAX_OUTPUT_ELEMENTS, ("body",), "the numbers in the output")
    _check(N * C * H_out * W_out * kH * kW, MAX_WORKING_CELLS, ("body",), "the input cells under all the windows")
    _check(N * C_out * H_out * W_out * C_in_g * kH * kW, MAX_MULTIPLY_ADDS, ("body",), "the multiply-adds")
    return H_out, W_out


def check_pool(x_shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool) -> None:
    """pool2d, forward or backward."""
    x4 = _as_4d(x_shape, IMAGE)
    if x4 is None:
        return
    N, C, H, W = x4
    (kH, kW) = _pair(kernel_size)
    (sH, sW) = (kH, kW) if stride is None else _pair(stride)
    (pH, pW) = _pair(padding)
    if min(kH, kW, sH, sW) < 1 or min(pH, pW) < 0:
        return  # not a problem the engine takes: it says why
    H_out = out_size(H, kH, sH, pH, pH, 1, ceil_mode)
    W_out = out_size(W, kW, sW, pW, pW, 1, ceil_mode)
    # the input extended by the padding and by a last ceil-mode window's overhang
    rows, cols = max(H + 2 * pH, (H_out - 1) * sH + kH), max(W + 2 * pW, (W_out - 1) * sW + kW)
    _check(N * C * rows * cols, MAX_WORKING_CELLS,
           ("body",), "the cells of the padded input")
    _check(N * C * H_out * W_out * kH * kW, MAX_WORKING_CELLS, ("body",), "the input cells under all the windows")


# --- layers: what one step adds up, and what a whole op writes -------------------------------

def _size(shape: tuple[int, ...]) -> int:
    return int(prod(shape))


def check_activation(x_shape: tuple[int, ...], function: str, dim: int, backward: bool) -> None:
    """Softmax: a row's max and sum steps add up its classes; backward writes each row's Jacobian."""
    if function != "softmax" or not 1 <= len(x_shape) <= 4 or not -len(x_shape) <= dim < len(x_shape):
        return
    C = x_shape[dim]
    _check(C, MAX_STEP_TERMS, ("body", "input"), f"the classes in one softmax row (axis {dim % len(x_shape)}), "
                                                 "each a term of the row's max and sum steps,")
    if backward and C <= JACOBIAN_LIMIT:
        _check(_size(x_shape) * C, MAX_OUTPUT_ELEMENTS, ("body", "input"), "the numbers of the rows' Jacobians")


def check_dense(x_shape: tuple[int, ...], w_shape: tuple[int, ...], backward: bool) -> None:
    """dense, forward or backward: y = W x + b costs out·in multiply-adds per sample (twice that backward)."""
    if len(w_shape) != 2 or len(x_shape) not in (1, 2) or x_shape[-1] != w_shape[1]:
        return  # not a problem the engine takes: it says why
    N = x_shape[0] if len(x_shape) == 2 else 1
    out, features = w_shape
    _check(N * out, MAX_OUTPUT_ELEMENTS, ("body",), "the numbers in the output")
    _check((2 if backward else 1) * N * out * features, MAX_MULTIPLY_ADDS, ("body",), "the multiply-adds")
    _check(features, MAX_STEP_TERMS, ("body", "input"), "the inputs of one neuron, each a term of its step,")
    if backward:
        _check(N, MAX_STEP_TERMS, ("body", "input"), "the samples a weight's gradient adds up")
        _check(out, MAX_STEP_TERMS, ("body", "weight"), "the neurons an input's gradient adds up")


def check_loss(prediction_shape: tuple[int, ...], kind: str) -> None:
    """loss: the loss step adds up every cell (MSE, binary) or every sample, and a softmax every class."""
    if kind in ("mse", "binary_cross_entropy"):
        _check(_size(prediction_shape), MAX_STEP_TERMS, ("body", "prediction"), "the cells the loss step adds up")
        return
    if len(prediction_shape) not in (1, 2):
        return
    _check(prediction_shape[-1], MAX_STEP_TERMS, ("body", "prediction"), "the classes of one sample")
    if len(prediction_shape) == 2:
        _check(prediction_shape[0], MAX_STEP_TERMS, ("body", "prediction"), "the samples the loss step adds up")


def check_parameters(sizes: dict[str, int]) -> None:
    """optimizer: every number of every parameter is a step, and comes back several times."""
    _check(sum(sizes.values()), MAX_ELEMENTS, ("body", "params"), "the numbers in all the parameters together")


def check_batchnorm(x_shape: tuple[int, ...]) -> None:
    """batchnorm, forward or backward: a channel's mean, variance and gradient sums add up its n = N·H·W cells."""
    if len(x_shape) not in (2, 3, 4):
        return
    _check(_size(x_shape) // x_shape[1], MAX_STEP_TERMS, ("body", "input"),
           "the cells of one channel (N·H·W), each a term of its mean and variance steps,")

