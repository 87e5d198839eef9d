"""Pooling: max, average and min over windows, forward and backward.

Conventions (PyTorch's): padded cells never win a max or a min; ties go to the first cell
in row-major order; ``count_include_pad`` decides whether padded cells count in an average;
``ceil_mode`` keeps a last partial window only if it starts inside the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import EngineError
from .layout import IMAGE, Layout, label
from .numfmt import factor, tex, write_sum
from .shapes import out_size
from .tensors import as_pair, as_tensor
from .trace import Combine, Factor, Segment, Step, StepKind, Trace, cell_id, term

KINDS = ("max", "avg", "min")
REAL, PAD, BEYOND = 2, 1, 0  # what a cell of the extended input is: input, padding, past the padding


@dataclass(frozen=True)
class PoolProblem:
    """x: (N, C, H, W); the windows cover the input extended by padding and the ceil-mode overhang."""

    x: np.ndarray
    kind: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int]
    ceil_mode: bool
    count_include_pad: bool
    layout: Layout
    out_shape: tuple[int, int, int, int]

    def extended(self) -> tuple[np.ndarray, np.ndarray]:
        """The input with padding and overhang, and the map of which cells are real."""
        N, C, H, W = self.x.shape
        _, _, H_out, W_out = self.out_shape
        (kH, kW), (sH, sW), (pH, pW) = self.kernel, self.stride, self.pads
        extra_h = max((H_out - 1) * sH + kH - (H + 2 * pH), 0)
        extra_w = max((W_out - 1) * sW + kW - (W + 2 * pW), 0)
        fill = {"max": -np.inf, "min": np.inf, "avg": 0.0}[self.kind]
        xe = np.pad(self.x, ((0, 0), (0, 0), (pH, pH + extra_h), (pW, pW + extra_w)), constant_values=fill)
        kind = np.full((H + 2 * pH + extra_h, W + 2 * pW + extra_w), BEYOND, dtype=np.int8)
        kind[:H + 2 * pH, :W + 2 * pW] = PAD
        kind[pH:pH + H, pW:pW + W] = REAL
        return xe, kind

    def windows(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, C, H_out, W_out, kH, kW) views of the values and (H_out, W_out, kH, kW) of the cell kinds."""
        xe, kind = self.extended()
        (sH, sW) = self.stride
        _, _, H_out, W_out = self.out_shape
        values = sliding_window_view(xe, self.kernel, axis=(2, 3))[:, :, ::sH, ::sW][:, :, :H_out, :W_out]
        kinds = sliding_window_view(kind, self.kernel)[::sH, ::sW][:H_out, :W_out]
        return values, kinds

    def divisors(self, kinds: np.ndarray) -> np.ndarray:
        """(H_out, W_out): how many cells each average divides by."""
        counted = kinds >= (PAD if self.count_include_pad else REAL)
        return counted.sum(axis=(2, 3))

    def cell(self, i: int, j: int, p: int, q: int) -> tuple[int, int]:
        return i * self.stride[0] - self.pads[0] + p, j * self.stride[1] - self.pads[1] + q


def _prepare(x: Any, kind: str, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
             count_include_pad: bool) -> PoolProblem:
    x_arr = as_tensor(x, "input", (2, 3, 4))
    keep = IMAGE[x_arr.ndim]
    x4 = Layout(keep).lift_array(x_arr)
    if kind not in KINDS:
        raise EngineError("kind", f"{kind!r} is not a pooling kind: use 'max', 'avg' or 'min'")
    kernel = as_pair(kernel_size, "kernel_size", minimum=1)
    stride_ = kernel if stride is None else as_pair(stride, "stride", minimum=1)
    if isinstance(padding, str):
        raise EngineError("padding", "pooling takes a number of cells (or two), not a word")
    pads = as_pair(padding, "padding", minimum=0)
    for axis, k, p in (("rows", kernel[0], pads[0]), ("columns", kernel[1], pads[1])):
        if 2 * p > k:
            raise EngineError("padding", f"a pad of {p} {axis if p != 1 else axis[:-1]} is more than half the {k}-wide window: "
                                         f"a window could hold only padding")
    N, C, H, W = x4.shape
    H_out = out_size(H, kernel[0], stride_[0], pads[0], pads[0], 1, ceil_mode)
    W_out = out_size(W, kernel[1], stride_[1], pads[1], pads[1], 1, ceil_mode)
    if kernel[0] > H + 2 * pads[0] or kernel[1] > W + 2 * pads[1]:
        raise EngineError("kernel_size", f"the {kernel[0]}x{kernel[1]} window is larger than the padded "
                                         f"input ({H + 2 * pads[0]}x{W + 2 * pads[1]})")
    return PoolProblem(x4, kind, kernel, stride_, pads, bool(ceil_mode), bool(count_include_pad),
                       Layout(keep), (N, C, H_out, W_out))


def _forward_numbers(pb: PoolProblem) -> tuple[np.ndarray, np.ndarray]:
    """The pooled values, and for max/min the flat window position of the first winner."""
    values, kinds = pb.windows()
    N, C, H_out, W_out = pb.out_shape
    flat = values.reshape(N, C, H_out, W_out, -1)
    if pb.kind == "avg":
        return flat.sum(axis=-1) / pb.divisors(kinds), np.empty(0, dtype=int)
    winner = flat.argmax(axis=-1) if pb.kind == "max" else flat.argmin(axis=-1)
    return np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0], winner


def _params(pb: PoolProblem) -> dict[str, Any]:
    return {"kind": pb.kind, "kernel_size": list(pb.kernel), "stride": list(pb.stride),
            "padding": list(pb.pads), "ceil_mode": pb.ceil_mode, "count_include_pad": pb.count_include_pad}


def _notes(pb: PoolProblem) -> list[str]:
    notes = []
    if pb.kind in ("max", "min") and any(pb.pads):
        notes.append(f"Padded cells never win a {pb.kind} pool.")
    if pb.kind in ("max", "min"):
        notes.append("A tie goes to the first cell in row-major order (PyTorch's rule).")
    if pb.kind == "avg" and any(pb.pads):
        notes.append("Padded cells count as 0 in the average." if pb.count_include_pad
                     else "Padded cells are left out of the average (count_include_pad=False).")
    if pb.ceil_mode:
        notes.append("ceil_mode: a last partial window is kept when it starts inside the input.")
    _, _, H, W = pb.x.shape
    if pb.kernel == (H, W) and pb.out_shape[2:] == (1, 1):
        notes.append("The window covers the whole input: global pooling.")
    notes.append("Titles count rows and columns from 1; step ids and JSON indices count from 0.")
    return notes


_SYMBOL = {"max": r"\max", "min": r"\min"}


def _window_cells(pb: PoolProblem, kinds: np.ndarray, n: int, c: int, i: int, j: int):
    """(p, q, user index, cell kind) for each cell of window (i, j)."""
    kH, kW = pb.kernel
    for p in range(kH):
        for q in range(kW):
            h, w = pb.cell(i, j, p, q)
            yield p, q, pb.layout.user((n, c, h, w)), int(kinds[i, j, p, q])


def pool_trace(pb: PoolProblem) -> Trace:
    out, winner = _forward_numbers(pb)
    values, kinds = pb.windows()
    divisors = pb.divisors(kinds)

    def make(index: tuple[int, ...], digits: int) -> Step:
        n, c, i, j = index
        user = pb.layout.user(index)
        value = float(out[index])
        terms, shown, reads = [], [], []
        for p, q, cell, k in _window_cells(pb, kinds, n, c, i, j):
            if k == BEYOND or (k == PAD and pb.kind != "avg") or (k == PAD and not pb.count_include_pad):
                continue
            v = float(values[n, c, i, j, p, q])
            terms.append(term(Factor("input", cell, v)))
            shown.append(factor(v, digits) if pb.kind == "avg" else tex(v, digits))
            reads.append(cell)
        if pb.kind == "avg":
            count = int(divisors[i, j])
            expansion = (rf"z_{{{label(user)}}} = \frac{{{' + '.join(shown)}}}{{{count}}} = {tex(value, digits)}")
            message = f"Average the {count} counted cells of the window at row {i + 1}, column {j + 1}."
            combine, divisor = Combine.MEAN, float(count)
            formula = rf"z_{{{label(user)}}} = \frac{{1}}{{{count}}} \sum_{{m,n}} x_{{m,n}}"
        else:
            kH, kW = pb.kernel
            w_p, w_q = divmod(int(winner[index]), kW)
            win_cell = pb.layout.user((n, c) + pb.cell(i, j, w_p, w_q))
            ties = sum(1 for t in terms if t.value == value)
            expansion = rf"z_{{{label(user)}}} = {_SYMBOL[pb.kind]}({', '.join(shown)}) = {tex(value, digits)}"
            message = (f"The {pb.kind} of the window at row {i + 1}, column {j + 1} is {tex(value, digits)}, "
                       f"from x({label(win_cell)}).")
            if ties > 1:
                message += f" {ties} cells tie; the first in row-major order, x({label(win_cell)}), wins."
            combine, divisor = (Combine.MAX if pb.kind == "max" else Combine.MIN), 1.0
            formula = rf"z_{{{label(user)}}} = {_SYMBOL[pb.kind]}_{{m,n}} x_{{m,n}}"
        return Step(
            id=cell_id("output", user), kind=StepKind.POOL, title=f"Output z({label(user)})",
            message=message, formula=formula, expansion=expansion, terms=tuple(terms), result=value,
            target=("output", user), reads={"input": reads}, combine=combine, divisor=divisor,
        )

    return Trace(
        op="pool2d", params=_params(pb), inputs={"input": pb.layout.shape(pb.x)},
        outputs={"output": pb.layout.shape(out)},
        formula={"max": r"z_{i,j} = \max_{m,n} x_{S_h i + m - P_h,\ S_w j + n - P_w}",
                 "min": r"z_{i,j} = \min_{m,n} x_{S_h i + m - P_h,\ S_w j + n - P_w}",
                 "avg": r"z_{i,j} = \frac{1}{|\text{window}|} \sum_{m,n} x_{S_h i + m - P_h,\ S_w j + n - P_w}"}[pb.kind],
        segments=[Segment("output", pb.layout.user(out.shape), pb.layout.lift(make))],
        notes=_notes(pb),
    )




def pool2d(x, *, kind="max", kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True) -> Trace:
    """2-D pooling, one step per output cell.

    Parameters
    ----------
    x : (H, W) | (C, H, W) | (N, C, H, W)
    kind : 'max' | 'avg' | 'min'
    stride : defaults to kernel_size.

    Notes
    -----
    z[i, j] = max / min / mean of x over rows S_h i - P_h ... + kH - 1 and the matching columns.
    """
    return pool_trace(_prepare(x, kind, kernel_size, stride, padding, ceil_mode, count_include_pad))


def pool2d_backward(x, grad_output, *, kind="max", kernel_size, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True) -> Trace:
    """∂L/∂x of pool2d given δ = ∂L/∂z: max and min route δ to each window's winner,
    avg spreads δ/|window| over the counted cells; overlapping windows add up.
    One step per input cell."""
    pb = _prepare(x, kind, kernel_size, stride, padding, ceil_mode, count_include_pad)
    g = as_tensor(grad_output, "grad_output", (2, 3, 4))
    expected = pb.layout.shape(np.empty(pb.out_shape)).shape
    if g.shape != expected:
        raise EngineError("grad_output", f"expected the output's shape {expected}, got {g.shape}")
    delta = g.reshape(pb.out_shape)
    _, winner = _forward_numbers(pb)
    _, kinds = pb.windows()
    divisors = pb.divisors(kinds)
    N, C, H, W = pb.x.shape
    _, _, H_out, W_out = pb.out_shape
    (kH, kW), (sH, sW), (pH, pW) = pb.kernel, pb.stride, pb.pads

    # share[n, c, i, j, p, q]: the fraction of delta[n, c, i, j] that window cell (p, q) receives
    share = np.zeros(pb.out_shape + pb.kernel)
    if pb.kind == "avg":
        counted = kinds >= (PAD if pb.count_include_pad else REAL)
        share[:] = counted / divisors[:, :, None, None]
    else:
        np.put_along_axis(share.reshape(pb.out_shape + (-1,)), winner[..., None], 1.0, axis=-1)
    grad_xe = np.zeros((N, C) + pb.extended()[1].shape)
    for p in range(kH):
        for q in range(kW):
            grad_xe[:, :, p:p + sH * H_out:sH, q:q + sW * W_out:sW] += delta * share[..., p, q]
    grad_x = grad_xe[:, :, pH:pH + H, pW:pW + W]

    def make(index: tuple[int, ...], digits: int) -> Step:
        n, c, h, w = index
        terms, parts, reads_d, won = [], [], [], []
        for p in range(kH):
            i, rem_i = divmod(h + pH - p, sH)
            if rem_i or not 0 <= i < H_out:
                continue
            for q in range(kW):
                j, rem_j = divmod(w + pW - q, sW)
                if rem_j or not 0 <= j < W_out:
                    continue
                d_index = pb.layout.user((n, c, i, j))
                dv, sv = float(delta[n, c, i, j]), float(share[n, c, i, j, p, q])
                terms.append(term(Factor("grad_output", d_index, dv), Factor("share", None, sv)))
                parts.append(f"{factor(dv, digits)}"
                             + (rf"\cdot\frac{{1}}{{{int(divisors[i, j])}}}" if pb.kind == "avg"
                                else f"({tex(sv, digits)})"))
                reads_d.append(d_index)
                if sv and pb.kind != "avg":
                    won.append(f"({label(pb.layout.user((n, c, i, j))[-2:])})")
        user = pb.layout.user(index)
        value = float(grad_x[index])
        if pb.kind == "avg":
            message = (f"x({label(user)}) sits in {len(terms)} window{'s' * (len(terms) != 1)}; each passes back "
                       f"its δ divided by the number of cells it averaged.")
        elif won:
            lost = len(terms) - len(won)
            message = (f"x({label(user)}) won window{'s' * (len(won) > 1)} {', '.join(won)}, so it receives "
                       f"{'their' if len(won) > 1 else 'its'} δ"
                       + (f"; it gets 0 from the {lost} other window{'s' * (lost != 1)} it sits in." if lost else "."))
        else:
            message = f"x({label(user)}) won no window, so no gradient reaches it."
        return Step(
            id=cell_id("grad_input", user), kind=StepKind.GRADIENT_ROUTE, title=f"∂L/∂x({label(user)})",
            message=message,
            formula=rf"\frac{{\partial L}}{{\partial x_{{{label(user)}}}}} = \sum_{{\text{{windows}} \ni x}} "
                    + (r"\frac{\delta}{|\text{window}|}" if pb.kind == "avg" else r"\delta\,[x \text{ won}]"),
            expansion=rf"\frac{{\partial L}}{{\partial x_{{{label(user)}}}}} = " + write_sum(parts, value, digits),
            terms=tuple(terms), result=value, target=("grad_input", user),
            reads={"grad_output": reads_d, "input": [user]},
        )

    notes = _notes(pb)
    notes.append("Max and min pooling send each window's δ to its winning cell only; average pooling "
                 "spreads it evenly." if pb.kind != "avg" else "Average pooling spreads each window's δ evenly.")
    return Trace(
        op="pool2d_backward", params=_params(pb),
        inputs={"input": pb.layout.shape(pb.x), "grad_output": g},
        outputs={"grad_input": pb.layout.shape(grad_x)},
        formula=r"\frac{\partial L}{\partial x} = \sum_{\text{windows}} \delta \cdot \frac{\partial z}{\partial x}",
        segments=[Segment("grad_input", pb.layout.user(pb.x.shape), pb.layout.lift(make))],
        notes=notes,
    )
