"""What a request will cost, checked before the engine computes anything.

The engine computes every number of an op at once, so a request whose output, padded input,
gathered windows or multiply-adds are over the limits in ``app.limits`` is refused here with a
422 that says which number is too large. Shapes come from ``engine.shapes``; tensors of a rank
the engine does not take are let through, for the engine to refuse with its own message.
"""

from __future__ import annotations

from typing import Any

from engine.layout import IMAGE, KERNEL_1D, KERNEL_2D, SEQUENCE, shape4
from engine.shapes import out_size, resolve_padding

from ..limits import MAX_ELEMENTS, MAX_MULTIPLY_ADDS, MAX_OUTPUT_ELEMENTS, MAX_WORKING_CELLS
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
