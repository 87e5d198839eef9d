"""The Python export: a script that works a walkthrough's problem again and checks cnnsteps's numbers.

``script(trace, q, page)`` writes a self-contained script: the problem's arrays as literals, the
op worked again by its definition (plain loops over NumPy arrays), the results printed and compared
with the numbers of the trace (``EXPECTED``), and, when PyTorch is installed, the same computed with
PyTorch's own functions and compared too. One template per op family (``FAMILIES``); each fills in
the problem's numbers and nothing else, so the script reads the same for every problem of its op.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from string import Template
from typing import Any

import numpy as np

from engine import EngineError
from engine.layout import IMAGE, KERNEL_1D, KERNEL_2D, SEQUENCE, shape4
from engine.trace import Trace

from .exports_text import flat
from .limits import EXPORT_SCRIPT_NUMBERS

# --- literals -----------------------------------------------------------------------------------


def number(value: Any, digits: int | None = None) -> str:
    """A number as Python source: 2, 0.1, -1e-08, np.nan; rounded to ``digits`` significant digits if given."""
    v = float(value)
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    if digits is not None:
        v = float(f"{v:.{digits}g}")
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _rows(a: np.ndarray, depth: int, digits: int | None) -> str:
    pad = "    " * (depth + 1)
    if a.ndim == 1:
        items = [number(v, digits) for v in a]
        if len(items) <= 12:
            return "[" + ", ".join(items) + "]"
        lines = [", ".join(items[k:k + 12]) for k in range(0, len(items), 12)]
        return "[\n" + ",\n".join(pad + line for line in lines) + ",\n" + "    " * depth + "]"
    return "[\n" + "".join(f"{pad}{_rows(sub, depth + 1, digits)},\n" for sub in a) + "    " * depth + "]"


def literal(value: Any, depth: int = 0, digits: int | None = None) -> str:
    """Python source for None, a flag, a word, a number, a tuple of numbers or an array (its rows on
    lines indented from ``depth``; numbers rounded to ``digits`` significant digits if given)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return repr(None if value is None else bool(value))
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (list, tuple)) and all(np.ndim(v) == 0 for v in value):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        text = number(a, digits)
        return text + ".0" if text.lstrip("-").isdigit() else text   # a float stays a float
    return f"np.array({_rows(a, depth, digits)}, dtype=float)"


def _size(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    return int(np.size(value)) if not isinstance(value, (str, type(None))) else 0


EXPECTED_DIGITS = 12
"""Significant digits of the expected numbers written into a script: enough for its 1e-7 check, without
the float noise (0.29, not 0.29000000000000004)."""


def _expected(trace: Trace) -> str:
    """EXPECTED = {...}: the trace's results, by their names in the JSON API (im2col's map of cells left out)."""
    results = {name: value for name, value in flat(trace.outputs).items() if name != "cells"}
    body = "".join(f"    {name!r}: {literal(value, 1, EXPECTED_DIGITS)},\n" for name, value in results.items())
    return "EXPECTED = {\n" + body + "}\n"


# --- the script -----------------------------------------------------------------------------------

HEADER = Template(r'''"""$title, worked again by its definition.

The problem is the one on the cnnsteps page PAGE below. This script computes it again with plain
loops over NumPy arrays, prints the results and checks them against the numbers cnnsteps computed
(EXPECTED). When PyTorch is installed it also computes them with $torch_names and checks those.
Run it with: python $filename
"""

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:   # PyTorch is optional: the NumPy check runs without it
    torch = None

PAGE = $page


def show(name, value):
    """Print a result with 6 significant digits, as cnnsteps shows it."""
    text = np.array2string(np.asarray(value, dtype=float), separator=" ",
                           formatter={"float_kind": lambda v: f"{v:.6g}"})
    print(f"{name} =\n{text}\n")


def check(name, computed, expected):
    """Stop with an error when a result differs from the one cnnsteps computed."""
    computed = np.asarray(computed, dtype=float)
    assert computed.shape == np.shape(expected), f"{name}: shape {computed.shape}, cnnsteps has {np.shape(expected)}"
    assert np.allclose(computed, expected, rtol=1e-7, atol=1e-10, equal_nan=True), f"{name} differs from cnnsteps"


# --- the problem ---------------------------------------------------------------------------------

''')

FOOTER = r'''
if torch is None:
    print("PyTorch is not installed: the PyTorch check was skipped.")
print("Every number agrees with cnnsteps" + ("." if torch is None else " and with PyTorch."))
'''


@dataclass(frozen=True)
class Part:
    """What one op family adds to the script."""

    problem: str      # the problem's numbers as assignments
    definition: str   # the op by its definition
    run: str          # the NumPy run: compute, show, check
    torch: str        # the same with PyTorch (the body of `if torch is not None:`)
    torch_names: str  # "F.conv2d", for the docstring


def script(trace: Trace, q: dict[str, str], page: str, title: str, filename: str) -> str:
    """The script for ``trace`` (the problem ``q`` of the page at ``page``)."""
    family = FAMILIES.get(trace.op)
    if family is None:
        raise EngineError("op", f"{trace.op} has no Python export")
    numbers = _size(trace.inputs) + _size({k: v for k, v in trace.outputs.items() if k != "cells"})
    if numbers > EXPORT_SCRIPT_NUMBERS:
        raise EngineError("input", f"the problem and its results hold {numbers:,} numbers; a script holds at most "
                                   f"{EXPORT_SCRIPT_NUMBERS:,}: use the JSON API for a problem this large")
    part = family(trace, q)
    torch_body = "\n".join(("    " + line) if line.strip() else "" for line in part.torch.strip("\n").split("\n"))
    return (HEADER.substitute(title=title, torch_names=part.torch_names, filename=filename, page=repr(page))
            + part.problem.strip("\n") + "\n\n" + _expected(trace) + "\n\n"
            + part.definition.strip("\n") + "\n\n\n"
            + "# --- worked by the definition ---------------------------------------------------------------\n\n"
            + part.run.strip("\n") + "\n\n"
            + "# --- worked by PyTorch ----------------------------------------------------------------------\n\n"
            + "if torch is not None:\n" + torch_body + "\n" + FOOTER)


class Code(str):
    """Python source to paste into a template as it is (any other value is written as a literal)."""


def _fill(template: str, **values: Any) -> str:
    return Template(template).substitute({k: v if isinstance(v, Code) else literal(v) for k, v in values.items()})


# --- convolution ------------------------------------------------------------------------------------

CONV_PROBLEM = r'''
# the input and the kernel, as typed
x = $x
w = $w
# the bias: None, one number shared by every filter, or one per filter
b = $b
$grad
# PyTorch's layout: the input as (N, C, H, W), the kernel as (C_out, C_in/groups, kH, kW)
x4 = x.reshape$x_shape
w4 = w.reshape$w_shape
${grad4}stride = $stride   # (rows, columns)
padding = $padding   # (top, bottom, left, right): zeros added around the input
dilation = $dilation   # (rows, columns): the step between the kernel's taps
groups = $groups
mode = $mode   # "correlation" slides the kernel as written; "convolution" rotates it 180° first
top, bottom, left, right = padding
'''

CONV_DEFINITION = r'''
def conv2d_by_definition(x, w, b, stride, padding, dilation, groups, mode):
    """z[n, o, i, j] = b[o] + the sum over c, p, q of x_padded[n, c, S i + d p, S j + d q] * w[o, c, p, q]."""
    if mode == "convolution":
        w = w[:, :, ::-1, ::-1]   # true convolution: the kernel rotated 180°
    top, bottom, left, right = padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))   # padded cells hold 0
    N, C, H, W = x_padded.shape
    C_out, C_per_group, kH, kW = w.shape
    (sH, sW), (dH, dW) = stride, dilation
    H_out = (H - dH * (kH - 1) - 1) // sH + 1
    W_out = (W - dW * (kW - 1) - 1) // sW + 1
    filters_per_group = C_out // groups
    bias = np.zeros(C_out) if b is None else np.broadcast_to(b, (C_out,))
    z = np.zeros((N, C_out, H_out, W_out))
    for n in range(N):
        for o in range(C_out):
            first = (o // filters_per_group) * C_per_group   # the first input channel of filter o's group
            for i in range(H_out):
                for j in range(W_out):
                    total = bias[o]
                    for c in range(C_per_group):
                        for p in range(kH):
                            for q in range(kW):
                                total += x_padded[n, first + c, i * sH + p * dH, j * sW + q * dW] * w[o, c, p, q]
                    z[n, o, i, j] = total
    return z
'''

CONV_BACKWARD_DEFINITION = r'''
def conv2d_backward_by_definition(x, w, grad_z, stride, padding, dilation, groups, mode):
    """Each product x * w of the forward pass hands δ = grad_z of its output cell back to both factors:
    dL/dw[o, c, p, q] += x_padded[...] * δ and dL/dx_padded[...] += w[o, c, p, q] * δ."""
    w_slid = w[:, :, ::-1, ::-1] if mode == "convolution" else w   # the kernel as it slides
    top, bottom, left, right = padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    N, C, H, W = x.shape
    C_out, C_per_group, kH, kW = w.shape
    _, _, H_out, W_out = grad_z.shape
    (sH, sW), (dH, dW) = stride, dilation
    filters_per_group = C_out // groups
    grad_x_padded = np.zeros(x_padded.shape)
    grad_w_slid = np.zeros(w.shape)
    for n in range(N):
        for o in range(C_out):
            first = (o // filters_per_group) * C_per_group
            for i in range(H_out):
                for j in range(W_out):
                    delta = grad_z[n, o, i, j]
                    for c in range(C_per_group):
                        for p in range(kH):
                            for q in range(kW):
                                r, s = i * sH + p * dH, j * sW + q * dW
                                grad_w_slid[o, c, p, q] += x_padded[n, first + c, r, s] * delta
                                grad_x_padded[n, first + c, r, s] += w_slid[o, c, p, q] * delta
    grad_x = grad_x_padded[:, :, top:top + H, left:left + W]   # the gradient of a padded cell goes nowhere
    grad_w = grad_w_slid[:, :, ::-1, ::-1] if mode == "convolution" else grad_w_slid
    grad_b = grad_z.sum(axis=(0, 2, 3))   # each filter's bias is added into every one of its output cells
    return grad_x, grad_w, grad_b
'''

CONV_RUN = r'''
z = conv2d_by_definition(x4, w4, b, stride, padding, dilation, groups, mode)
z = z.reshape(np.shape(EXPECTED["output"]))   # back to the input's layout
show("output", z)
check("output", z, EXPECTED["output"])
'''

CONV_BACKWARD_RUN = r'''
grad_x, grad_w, grad_b = conv2d_backward_by_definition(x4, w4, grad_z4, stride, padding, dilation, groups, mode)
results = {"grad_input": grad_x.reshape(x.shape), "grad_weight": grad_w.reshape(w.shape)}
if b is not None:
    results["grad_bias"] = grad_b.sum() if np.ndim(b) == 0 else grad_b   # one shared bias collects every δ
for name, value in results.items():
    show(name, value)
    check(name, value, EXPECTED[name])
'''

CONV_TORCH = r'''
x_t = torch.from_numpy(x4.copy()).requires_grad_()
w_t = torch.from_numpy(w4.copy()).requires_grad_()
b_t = None if b is None else torch.tensor(b, dtype=torch.float64).requires_grad_()
bias_t = None if b is None else b_t.expand(w4.shape[0])   # one number is shared by every filter
w_slid_t = torch.flip(w_t, dims=(2, 3)) if mode == "convolution" else w_t   # PyTorch's conv is a cross-correlation
x_padded_t = F.pad(x_t, (left, right, top, bottom))   # F.pad lists the last axis first
z_t = $call
'''

CONV_TORCH_FORWARD = r'''
z_torch = z_t.detach().numpy().reshape(np.shape(EXPECTED["output"]))
show("output (PyTorch)", z_torch)
check("output (PyTorch)", z_torch, EXPECTED["output"])
'''

CONV_TORCH_BACKWARD = r'''
z_t.backward(torch.from_numpy(grad_z4))   # δ flows back through the convolution
results_t = {"grad_input": x_t.grad.numpy().reshape(x.shape), "grad_weight": w_t.grad.numpy().reshape(w.shape)}
if b is not None:
    results_t["grad_bias"] = b_t.grad.numpy()
for name, value in results_t.items():
    show(f"{name} (PyTorch)", value)
    check(f"{name} (PyTorch)", value, EXPECTED[name])
'''


def _conv(trace: Trace, q: dict[str, str]) -> Part:
    one_d = trace.op.startswith("conv1d")
    backward = trace.op.endswith("backward")
    x, w = trace.inputs["input"], trace.inputs["kernel"]
    p = trace.params
    x_shape = shape4(x.shape, (SEQUENCE if one_d else IMAGE)[x.ndim])
    w_shape = shape4(w.shape, (KERNEL_1D if one_d else KERNEL_2D)[w.ndim])
    if one_d:
        stride, dilation, padding = (1, p["stride"]), (1, p["dilation"]), (0, 0) + tuple(p["padding"])
        call = ("F.conv1d(x_padded_t[:, :, 0], w_slid_t[:, :, 0], bias_t, stride=stride[1], dilation=dilation[1], "
                "groups=groups).unsqueeze(2)   # a sequence is a row of height 1")
        names = "F.conv1d"
    else:
        stride, dilation, padding = tuple(p["stride"]), tuple(p["dilation"]), tuple(p["padding"])
        call = "F.conv2d(x_padded_t, w_slid_t, bias_t, stride=stride, dilation=dilation, groups=groups)"
        names = "F.conv2d"
    grad, grad4 = Code(), Code()
    if backward:
        g = trace.inputs["grad_output"]
        out4 = (x_shape[0], w_shape[0]) + ((1, g.shape[-1]) if one_d else tuple(g.shape[-2:]))
        grad = Code(f"# δ = dL/dz, one number per output cell\ngrad_output = {literal(g)}\n")
        grad4 = Code(f"grad_z4 = grad_output.reshape{literal(out4)}\n")
        names += " and autograd"
    problem = _fill(CONV_PROBLEM, x=x, w=w, b=trace.inputs.get("bias"), grad=grad, grad4=grad4,
                    x_shape=Code(literal(x_shape)), w_shape=Code(literal(w_shape)), stride=stride, padding=padding,
                    dilation=dilation, groups=p["groups"], mode=p["mode"])
    torch = _fill(CONV_TORCH, call=Code(call)) + (CONV_TORCH_BACKWARD if backward else CONV_TORCH_FORWARD)
    return Part(problem, CONV_BACKWARD_DEFINITION if backward else CONV_DEFINITION,
                CONV_BACKWARD_RUN if backward else CONV_RUN, torch, names)


# --- pooling -------------------------------------------------------------------------------------------

POOL_PROBLEM = r'''
# the input, as typed
x = $x
$grad
x4 = x.reshape$x_shape   # PyTorch's layout (N, C, H, W)
${grad4}kind = $kind   # "max", "min" or "avg"
kernel_size = $kernel_size   # (rows, columns)
stride = $stride
padding = $padding   # (rows, columns) on each side; a padded cell never wins a max or a min
ceil_mode = $ceil_mode   # round the output size up, keeping a last partial window
count_include_pad = $count_include_pad   # whether an average divides by the padded cells too
'''

POOL_DEFINITION = r'''
def output_size(size, k, s, p):
    """floor((size + 2p - k) / s) + 1, rounded up instead in ceil mode (but no window may start past
    the input and its leading padding)."""
    span = size + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def window(x, n, c, i, j):
    """The window of output cell (i, j): its input cells as ((row, column), value), and how many
    cells its average divides by."""
    _, _, H, W = x.shape
    (kH, kW), (sH, sW), (pH, pW) = kernel_size, stride, padding
    cells, counted = [], 0
    for p in range(kH):
        for q in range(kW):
            r, s = i * sH - pH + p, j * sW - pW + q
            inside = 0 <= r < H and 0 <= s < W
            in_padding = -pH <= r < H + pH and -pW <= s < W + pW
            if inside:
                cells.append(((r, s), x[n, c, r, s]))
            if inside or (count_include_pad and in_padding):
                counted += 1
    return cells, counted


def winner(cells):
    """The first cell, row by row, that holds the window's max (or min): ties go to the first."""
    best = cells[0]
    for cell in cells[1:]:
        if (cell[1] > best[1]) if kind == "max" else (cell[1] < best[1]):
            best = cell
    return best


def pool2d_by_definition(x):
    N, C, H, W = x.shape
    H_out = output_size(H, kernel_size[0], stride[0], padding[0])
    W_out = output_size(W, kernel_size[1], stride[1], padding[1])
    z = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    cells, counted = window(x, n, c, i, j)
                    if kind == "avg":
                        z[n, c, i, j] = sum(value for _, value in cells) / counted   # padded cells add 0
                    else:
                        z[n, c, i, j] = winner(cells)[1]
    return z
'''

POOL_BACKWARD_DEFINITION = POOL_DEFINITION + r'''

def pool2d_backward_by_definition(x, grad_z):
    """Max and min pooling send each window's δ to the cell that won it; average pooling shares it
    out, 1/counted to each cell; overlapping windows add up."""
    grad_x = np.zeros(x.shape)
    N, C, H_out, W_out = grad_z.shape
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    cells, counted = window(x, n, c, i, j)
                    if kind == "avg":
                        for (r, s), _ in cells:
                            grad_x[n, c, r, s] += grad_z[n, c, i, j] / counted
                    else:
                        (r, s), _ = winner(cells)
                        grad_x[n, c, r, s] += grad_z[n, c, i, j]   # only the winner moved the output
    return grad_x
'''

POOL_RUN = r'''
z = pool2d_by_definition(x4).reshape(np.shape(EXPECTED["output"]))
show("output", z)
check("output", z, EXPECTED["output"])
'''

POOL_BACKWARD_RUN = r'''
grad_x = pool2d_backward_by_definition(x4, grad_z4).reshape(x.shape)
show("grad_input", grad_x)
check("grad_input", grad_x, EXPECTED["grad_input"])
'''

POOL_TORCH = r'''
x_t = torch.from_numpy(x4.copy()).requires_grad_()
if kind == "max":
    z_t = F.max_pool2d(x_t, kernel_size, stride, padding, ceil_mode=ceil_mode)
elif kind == "min":   # PyTorch has no min pooling: the max of -x, negated
    z_t = -F.max_pool2d(-x_t, kernel_size, stride, padding, ceil_mode=ceil_mode)
else:
    z_t = F.avg_pool2d(x_t, kernel_size, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
'''

POOL_TORCH_FORWARD = r'''
z_torch = z_t.detach().numpy().reshape(np.shape(EXPECTED["output"]))
show("output (PyTorch)", z_torch)
check("output (PyTorch)", z_torch, EXPECTED["output"])
'''

POOL_TORCH_BACKWARD = r'''
z_t.backward(torch.from_numpy(grad_z4))
grad_x_torch = x_t.grad.numpy().reshape(x.shape)
show("grad_input (PyTorch)", grad_x_torch)
check("grad_input (PyTorch)", grad_x_torch, EXPECTED["grad_input"])
'''


def _pool(trace: Trace, q: dict[str, str]) -> Part:
    backward = trace.op.endswith("backward")
    x = trace.inputs["input"]
    x_shape = shape4(x.shape, IMAGE[x.ndim])
    p = trace.params
    grad, grad4 = Code(), Code()
    if backward:
        g = trace.inputs["grad_output"]
        grad = Code(f"# δ = dL/dz, one number per output cell\ngrad_output = {literal(g)}\n")
        grad4 = Code(f"grad_z4 = grad_output.reshape{literal(x_shape[:2] + tuple(g.shape[-2:]))}\n")
    problem = _fill(POOL_PROBLEM, x=x, grad=grad, grad4=grad4, x_shape=Code(literal(x_shape)), kind=p["kind"],
                    kernel_size=tuple(p["kernel_size"]), stride=tuple(p["stride"]), padding=tuple(p["padding"]),
                    ceil_mode=p["ceil_mode"], count_include_pad=p["count_include_pad"])
    return Part(problem, POOL_BACKWARD_DEFINITION if backward else POOL_DEFINITION,
                POOL_BACKWARD_RUN if backward else POOL_RUN,
                POOL_TORCH + (POOL_TORCH_BACKWARD if backward else POOL_TORCH_FORWARD),
                "F.max_pool2d / F.avg_pool2d" + (" and autograd" if backward else ""))


# --- im2col ---------------------------------------------------------------------------------------------

IM2COL_PROBLEM = r'''
# the input, as typed, and the kernel (or None)
x = $x
w = $w
x4 = x.reshape$x_shape   # PyTorch's layout (N, C, H, W)
kernel_size = $kernel_size   # (rows, columns)
stride = $stride
padding = $padding   # (top, bottom, left, right)
dilation = $dilation
top, bottom, left, right = padding
'''

IM2COL_DEFINITION = r'''
def im2col_by_definition(x):
    """One column per window, windows in row-major order; each column holds the window's cells
    channel by channel, row by row (PyTorch's unfold)."""
    x_padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    N, C, H, W = x_padded.shape
    (kH, kW), (sH, sW), (dH, dW) = kernel_size, stride, dilation
    H_out = (H - dH * (kH - 1) - 1) // sH + 1
    W_out = (W - dW * (kW - 1) - 1) // sW + 1
    columns = np.zeros((N, C * kH * kW, H_out * W_out))
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                row = 0
                for c in range(C):
                    for p in range(kH):
                        for q in range(kW):
                            columns[n, row, i * W_out + j] = x_padded[n, c, i * sH + p * dH, j * sW + q * dW]
                            row += 1
    return columns
'''

IM2COL_RUN = r'''
columns = im2col_by_definition(x4)
show("columns", columns.reshape(np.shape(EXPECTED["columns"])))
check("columns", columns.reshape(np.shape(EXPECTED["columns"])), EXPECTED["columns"])
if w is not None:
    weight_rows = w.reshape(-1, columns.shape[1])   # each filter as one row
    output = np.stack([weight_rows @ columns[n] for n in range(len(columns))])   # one matrix product per sample
    output = output.reshape(np.shape(EXPECTED["output"]))
    show("weight_rows", weight_rows)
    check("weight_rows", weight_rows, EXPECTED["weight_rows"])
    show("output", output)
    check("output", output, EXPECTED["output"])
'''

IM2COL_TORCH = r'''
x_padded_t = F.pad(torch.from_numpy(x4.copy()), (left, right, top, bottom))   # F.pad lists the last axis first
columns_t = F.unfold(x_padded_t, kernel_size, dilation=dilation, stride=stride).numpy()
show("columns (PyTorch)", columns_t.reshape(np.shape(EXPECTED["columns"])))
check("columns (PyTorch)", columns_t.reshape(np.shape(EXPECTED["columns"])), EXPECTED["columns"])
if w is not None:
    kernel_t = torch.from_numpy(w.reshape(-1, x4.shape[1], *kernel_size).copy())
    output_t = F.conv2d(x_padded_t, kernel_t, stride=stride, dilation=dilation).numpy()
    show("output (PyTorch)", output_t.reshape(np.shape(EXPECTED["output"])))
    check("output (PyTorch)", output_t.reshape(np.shape(EXPECTED["output"])), EXPECTED["output"])
'''


def _im2col(trace: Trace, q: dict[str, str]) -> Part:
    x = trace.inputs["input"]
    p = trace.params
    problem = _fill(IM2COL_PROBLEM, x=x, w=trace.inputs.get("kernel"), x_shape=Code(literal(shape4(x.shape, IMAGE[x.ndim]))),
                    kernel_size=tuple(p["kernel_size"]), stride=tuple(p["stride"]), padding=tuple(p["padding"]),
                    dilation=tuple(p["dilation"]))
    return Part(problem, IM2COL_DEFINITION, IM2COL_RUN, IM2COL_TORCH, "F.unfold and F.conv2d")


# --- output size -----------------------------------------------------------------------------------------

SIZE_PROBLEM = r'''
input_size = $input_size   # (rows, columns)
kernel_size = $kernel_size
stride = $stride
padding = $padding   # (top, bottom, left, right)
dilation = $dilation
ceil_mode = $ceil_mode   # round up instead of down (pooling's ceil_mode)
'''

SIZE_DEFINITION = r'''
def output_size(size, k, s, before, after, d):
    """floor((size + before + after - d(k - 1) - 1) / s) + 1: the window's positions along one axis.
    Ceil mode rounds up, but no window may start past the input and its leading padding."""
    span = size + before + after - d * (k - 1) - 1
    if span < 0:
        return 0   # the window does not fit at all
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + before:
        out -= 1
    return out
'''

SIZE_RUN = r'''
top, bottom, left, right = padding
rows = output_size(input_size[0], kernel_size[0], stride[0], top, bottom, dilation[0])
columns = output_size(input_size[1], kernel_size[1], stride[1], left, right, dilation[1])
size = rows if np.ndim(EXPECTED["output_size"]) == 0 else (rows, columns)   # one number when the axes are alike
show("output_size", size)
check("output_size", size, EXPECTED["output_size"])
'''

SIZE_TORCH = r'''
padded = torch.zeros(1, 1, input_size[0] + top + bottom, input_size[1] + left + right)
if min(rows, columns) == 0:
    shape = None
    print("The window does not fit in the padded input: PyTorch would refuse it.")
elif not ceil_mode:   # the shape PyTorch's own convolution gives
    shape = F.conv2d(padded, torch.zeros(1, 1, *kernel_size), stride=stride, dilation=dilation).shape[2:]
elif top == bottom and left == right and 2 * top <= kernel_size[0] and 2 * left <= kernel_size[1]:
    shape = F.max_pool2d(torch.zeros(1, 1, *input_size), kernel_size, stride, (top, left), dilation,
                         ceil_mode=True).shape[2:]
else:
    shape = None
    print("PyTorch's pooling takes no uneven padding and no pad over half the window: no PyTorch check here.")
if shape is not None:
    size_torch = shape[0] if np.ndim(EXPECTED["output_size"]) == 0 else tuple(shape)
    show("output_size (PyTorch)", size_torch)
    check("output_size (PyTorch)", size_torch, EXPECTED["output_size"])
'''


def _size_of(trace: Trace, q: dict[str, str]) -> Part:
    p = trace.params
    problem = _fill(SIZE_PROBLEM, input_size=tuple(p["input_size"]), kernel_size=tuple(p["kernel_size"]),
                    stride=tuple(p["stride"]), padding=tuple(p["padding"]), dilation=tuple(p["dilation"]),
                    ceil_mode=p["ceil_mode"])
    return Part(problem, SIZE_DEFINITION, SIZE_RUN, SIZE_TORCH, "the shape of F.conv2d (F.max_pool2d in ceil mode)")


# --- activations --------------------------------------------------------------------------------------------

ACTIVATION_FUNCTIONS = {
    "relu": (r'''
def f(v):
    """ReLU: max(0, v)."""
    return max(0.0, v)


def slope(v):
    """ReLU's derivative: 1 where v > 0, else 0 (0 at v = 0, as PyTorch takes it)."""
    return 1.0 if v > 0 else 0.0
''', "F.relu(x_t)"),
    "leaky_relu": (r'''
def f(v):
    """LeakyReLU: v where v > 0, else alpha * v."""
    return v if v > 0 else alpha * v


def slope(v):
    """LeakyReLU's derivative: 1 where v > 0, else alpha (alpha at v = 0, as PyTorch takes it)."""
    return 1.0 if v > 0 else alpha
''', "F.leaky_relu(x_t, alpha)"),
    "relu6": (r'''
def f(v):
    """ReLU6: min(max(0, v), 6)."""
    return min(max(0.0, v), 6.0)


def slope(v):
    """ReLU6's derivative: 1 where 0 < v < 6, else 0 (0 at 0 and at 6, as PyTorch takes it)."""
    return 1.0 if 0 < v < 6 else 0.0
''', "F.relu6(x_t)"),
    "sigmoid": (r'''
def f(v):
    """The sigmoid 1 / (1 + e^-v), written so that no exponential overflows."""
    return 1 / (1 + np.exp(-v)) if v >= 0 else np.exp(v) / (1 + np.exp(v))


def slope(v):
    """The sigmoid's derivative: σ(v)(1 - σ(v))."""
    return f(v) * (1 - f(v))
''', "torch.sigmoid(x_t)"),
    "tanh": (r'''
def f(v):
    """tanh(v) = (e^v - e^-v) / (e^v + e^-v)."""
    return np.tanh(v)


def slope(v):
    """tanh's derivative: 1 - tanh(v)²."""
    return 1 - np.tanh(v) ** 2
''', "torch.tanh(x_t)"),
}

ACTIVATION_DEFINITION = r'''
def activation_by_definition(x):
    """f applied to each cell on its own."""
    y = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        y[index] = f(x[index])
    return y


def activation_backward_by_definition(x, grad_y):
    """dL/dx = δ times the slope of f at x, cell by cell."""
    grad_x = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        grad_x[index] = grad_y[index] * slope(x[index])
    return grad_x
'''

SOFTMAX_DEFINITION = r'''
def activation_by_definition(x):
    """Softmax along dim: p_i = e^(x_i - m) / sum_j e^(x_j - m), with m the row's max (so no e^x overflows)."""
    rows = np.moveaxis(x, dim, -1)   # each row along dim, as the last axis
    y = np.zeros(rows.shape)
    for index in np.ndindex(rows.shape[:-1]):
        shifted = rows[index] - rows[index].max()
        y[index] = np.exp(shifted) / np.exp(shifted).sum()
    return np.moveaxis(y, -1, dim)


def activation_backward_by_definition(x, grad_y):
    """Through the softmax's Jacobian J_ij = p_i (1[i = j] - p_j): dL/dx_i = p_i (δ_i - sum_j δ_j p_j)."""
    p = np.moveaxis(activation_by_definition(x), dim, -1)
    delta = np.moveaxis(grad_y, dim, -1)
    grad_x = np.zeros(p.shape)
    for index in np.ndindex(p.shape[:-1]):
        row_p, row_delta = p[index], delta[index]
        for i in range(len(row_p)):
            grad_x[index + (i,)] = sum(row_delta[j] * row_p[i] * ((i == j) - row_p[j]) for j in range(len(row_p)))
    return np.moveaxis(grad_x, -1, dim)
'''

ACTIVATION_PROBLEM = r'''
# the input, as typed
x = $x
$grad
function = $function
alpha = $alpha   # LeakyReLU's slope for v <= 0
dim = $dim     # the axis softmax runs along
'''

ACTIVATION_RUN = r'''
y = activation_by_definition(x)
show("output", y)
check("output", y, EXPECTED["output"])
'''

ACTIVATION_BACKWARD_RUN = r'''
grad_x = activation_backward_by_definition(x, grad_output)
show("grad_input", grad_x)
check("grad_input", grad_x, EXPECTED["grad_input"])
'''

ACTIVATION_TORCH = r'''
x_t = torch.from_numpy(x.copy()).requires_grad_()
y_t = $call
'''

ACTIVATION_TORCH_FORWARD = r'''
show("output (PyTorch)", y_t.detach().numpy())
check("output (PyTorch)", y_t.detach().numpy(), EXPECTED["output"])
'''

ACTIVATION_TORCH_BACKWARD = r'''
y_t.backward(torch.from_numpy(grad_output.copy()))
show("grad_input (PyTorch)", x_t.grad.numpy())
check("grad_input (PyTorch)", x_t.grad.numpy(), EXPECTED["grad_input"])
'''


def _activation(trace: Trace, q: dict[str, str]) -> Part:
    backward = trace.op.endswith("backward")
    function = trace.params["function"]
    x = trace.inputs["input"]
    if function == "softmax":
        definition, call = SOFTMAX_DEFINITION, "F.softmax(x_t, dim=dim)"
    else:
        functions, call = ACTIVATION_FUNCTIONS[function]
        definition = functions + "\n" + ACTIVATION_DEFINITION
    grad = Code(f"# δ = dL/dy, one number per cell\ngrad_output = {literal(trace.inputs['grad_output'])}\n"
                if backward else "")
    problem = _fill(ACTIVATION_PROBLEM, x=x, grad=grad, function=function, alpha=float(trace.params.get("alpha", 0.01)),
                    dim=int(trace.params.get("dim", max(x.ndim - 1, 0))))
    torch = _fill(ACTIVATION_TORCH, call=Code(call)) + (ACTIVATION_TORCH_BACKWARD if backward else ACTIVATION_TORCH_FORWARD)
    return Part(problem, definition, ACTIVATION_BACKWARD_RUN if backward else ACTIVATION_RUN, torch,
                call.split("(")[0] + (" and autograd" if backward else ""))


# --- dense and flatten ----------------------------------------------------------------------------------------

DENSE_PROBLEM = r'''
# the input: one sample (in,), or one row per sample (N, in)
x = $x
# the weights (out, in): row j holds the weights into neuron j
W = $w
# the bias: None, one number shared by every neuron, or one per neuron
b = $b
$grad'''

DENSE_DEFINITION = r'''
def dense_by_definition(x, W, b):
    """y_j = sum_i W[j, i] x_i + b_j, for each sample."""
    samples = x.reshape(-1, W.shape[1])
    bias = np.zeros(W.shape[0]) if b is None else np.broadcast_to(b, (W.shape[0],))
    y = np.zeros((len(samples), W.shape[0]))
    for n, sample in enumerate(samples):
        for j in range(W.shape[0]):
            y[n, j] = sum(W[j, i] * sample[i] for i in range(W.shape[1])) + bias[j]
    return y
'''

DENSE_BACKWARD_DEFINITION = r'''
def dense_backward_by_definition(x, W, grad_y):
    """dL/dW[j, i] = sum over samples of δ_j x_i; dL/db_j = sum of δ_j; dL/dx_i = sum_j W[j, i] δ_j."""
    samples = x.reshape(-1, W.shape[1])
    deltas = grad_y.reshape(len(samples), W.shape[0])
    grad_W = np.zeros(W.shape)
    grad_b = np.zeros(W.shape[0])
    grad_x = np.zeros(samples.shape)
    for n in range(len(samples)):
        for j in range(W.shape[0]):
            grad_b[j] += deltas[n, j]
            for i in range(W.shape[1]):
                grad_W[j, i] += deltas[n, j] * samples[n, i]
                grad_x[n, i] += W[j, i] * deltas[n, j]
    return grad_x, grad_W, grad_b
'''

DENSE_RUN = r'''
y = dense_by_definition(x, W, b).reshape(np.shape(EXPECTED["output"]))
show("output", y)
check("output", y, EXPECTED["output"])
'''

DENSE_BACKWARD_RUN = r'''
grad_x, grad_W, grad_b = dense_backward_by_definition(x, W, grad_output)
results = {"grad_input": grad_x.reshape(x.shape), "grad_weight": grad_W}
if b is not None:
    results["grad_bias"] = grad_b.sum() if np.ndim(b) == 0 else grad_b   # one shared bias collects every δ
for name, value in results.items():
    show(name, value)
    check(name, value, EXPECTED[name])
'''

DENSE_TORCH = r'''
x_t = torch.from_numpy(x.copy()).requires_grad_()
W_t = torch.from_numpy(W.copy()).requires_grad_()
b_t = None if b is None else torch.tensor(b, dtype=torch.float64).requires_grad_()
y_t = F.linear(x_t, W_t, None if b is None else b_t.expand(W.shape[0]))
'''

DENSE_TORCH_FORWARD = r'''
y_torch = y_t.detach().numpy().reshape(np.shape(EXPECTED["output"]))
show("output (PyTorch)", y_torch)
check("output (PyTorch)", y_torch, EXPECTED["output"])
'''

DENSE_TORCH_BACKWARD = r'''
y_t.backward(torch.from_numpy(grad_output.reshape(y_t.shape).copy()))
results_t = {"grad_input": x_t.grad.numpy(), "grad_weight": W_t.grad.numpy()}
if b is not None:
    results_t["grad_bias"] = b_t.grad.numpy()
for name, value in results_t.items():
    show(f"{name} (PyTorch)", value)
    check(f"{name} (PyTorch)", value, EXPECTED[name])
'''


def _dense(trace: Trace, q: dict[str, str]) -> Part:
    backward = trace.op.endswith("backward")
    grad = Code(f"# δ = dL/dy, one number per output neuron\ngrad_output = {literal(trace.inputs['grad_output'])}\n"
                if backward else "")
    bias = trace.inputs.get("bias")
    problem = _fill(DENSE_PROBLEM, x=trace.inputs["input"], w=trace.inputs["weight"], b=bias, grad=grad)
    return Part(problem, DENSE_BACKWARD_DEFINITION if backward else DENSE_DEFINITION,
                DENSE_BACKWARD_RUN if backward else DENSE_RUN,
                DENSE_TORCH + (DENSE_TORCH_BACKWARD if backward else DENSE_TORCH_FORWARD),
                "F.linear" + (" and autograd" if backward else ""))


FLATTEN_PROBLEM = r'''
# (H, W), (C, H, W), or (N, C, H, W), which keeps its batch axis
x = $x
'''

FLATTEN_DEFINITION = r'''
def flatten_by_definition(x):
    """Every cell in row-major order: channel by channel, row by row (a 4-D batch keeps its first axis)."""
    samples = x.reshape((x.shape[0], -1) if x.ndim == 4 else (1, -1))
    p = np.zeros(samples.shape)
    for n in range(len(samples)):
        k = 0
        for index in np.ndindex(x.shape[1:] if x.ndim == 4 else x.shape):
            p[n, k] = x[(n,) + index] if x.ndim == 4 else x[index]
            k += 1
    return p.reshape(np.shape(EXPECTED["output"]))
'''

FLATTEN_RUN = r'''
p = flatten_by_definition(x)
show("output", p)
check("output", p, EXPECTED["output"])
'''

FLATTEN_TORCH = r'''
x_t = torch.from_numpy(x.copy())
p_t = torch.flatten(x_t, 1) if x.ndim == 4 else torch.flatten(x_t)
show("output (PyTorch)", p_t.numpy())
check("output (PyTorch)", p_t.numpy(), EXPECTED["output"])
'''


def _flatten(trace: Trace, q: dict[str, str]) -> Part:
    return Part(_fill(FLATTEN_PROBLEM, x=trace.inputs["input"]), FLATTEN_DEFINITION, FLATTEN_RUN, FLATTEN_TORCH,
                "torch.flatten")


# --- losses ---------------------------------------------------------------------------------------------------

LOSS_PROBLEM = r'''
prediction = $prediction
# $target_words
target = $target
kind = $kind
reduction = $reduction
eps = $eps   # probabilities are clipped to [eps, 1 - eps] before a log
'''

LOSS_DEFINITIONS = {
    "mse": r'''
def loss_by_definition(y, t):
    """L = c · sum (y - t)², with c = 1/N for 'mean', 1 for 'sum', 1/2 for 'half_sum'; dL/dy = 2c (y - t)."""
    c = {"mean": 1 / y.size, "sum": 1.0, "half_sum": 0.5}[reduction]
    L = 0.0
    grad = np.zeros(y.shape)
    for index in np.ndindex(y.shape):
        L += c * (y[index] - t[index]) ** 2
        grad[index] = 2 * c * (y[index] - t[index])
    return L, grad
''',
    "cross_entropy": r'''
def loss_by_definition(p, t):
    """L = -sum_c t_c log p_c for each sample (p clipped to [eps, 1 - eps]), averaged over the samples
    with 'mean'; dL/dp_c = -t_c / p_c, 0 where p was clipped."""
    rows_p, rows_t = p.reshape(-1, p.shape[-1]), t.reshape(-1, p.shape[-1])
    samples = len(rows_p) if reduction == "mean" else 1
    L = 0.0
    grad = np.zeros(rows_p.shape)
    for n in range(len(rows_p)):
        for c in range(rows_p.shape[1]):
            clipped = min(max(rows_p[n, c], eps), 1 - eps)
            L -= rows_t[n, c] * np.log(clipped) / samples
            if eps <= rows_p[n, c] <= 1 - eps:
                grad[n, c] = -rows_t[n, c] / clipped / samples
    return L, grad.reshape(p.shape)
''',
    "softmax_cross_entropy": r'''
def loss_by_definition(z, t):
    """p = softmax(z) for each sample, L = -sum_c t_c log p_c, averaged over the samples with 'mean';
    dL/dz = p - t (p · sum t - t when the target does not add up to 1)."""
    rows_z, rows_t = z.reshape(-1, z.shape[-1]), t.reshape(-1, z.shape[-1])
    samples = len(rows_z) if reduction == "mean" else 1
    L = 0.0
    grad = np.zeros(rows_z.shape)
    for n in range(len(rows_z)):
        shifted = rows_z[n] - rows_z[n].max()                 # so that no e^z overflows
        log_p = shifted - np.log(np.exp(shifted).sum())      # log softmax, with no probability rounded to 0
        L -= (rows_t[n] * log_p).sum() / samples
        grad[n] = (np.exp(log_p) * rows_t[n].sum() - rows_t[n]) / samples
    return L, grad.reshape(z.shape)
''',
    "binary_cross_entropy": r'''
def loss_by_definition(p, t):
    """L = -[t log p + (1 - t) log(1 - p)] for each cell (p clipped to [eps, 1 - eps]), averaged over the
    cells with 'mean'; dL/dp = (p - t) / (p (1 - p)), 0 where p was clipped."""
    cells = p.size if reduction == "mean" else 1
    L = 0.0
    grad = np.zeros(p.shape)
    for index in np.ndindex(p.shape):
        q = min(max(p[index], eps), 1 - eps)
        L -= (t[index] * np.log(q) + (1 - t[index]) * np.log(1 - q)) / cells
        if eps <= p[index] <= 1 - eps:
            grad[index] = (q - t[index]) / (q * (1 - q)) / cells
    return L, grad
''',
}

LOSS_RUN = r'''
L, grad = loss_by_definition(prediction, target)
show("loss", L)
check("loss", L, EXPECTED["loss"])
show("grad_input", grad)
check("grad_input", grad, EXPECTED["grad_input"])
'''

LOSS_TORCH = {
    "mse": r'''
y_t = torch.from_numpy(prediction.copy()).requires_grad_()
t_t = torch.from_numpy(target.copy())
if reduction == "half_sum":   # PyTorch has no ½Σ: half the sum
    L_t = 0.5 * F.mse_loss(y_t, t_t, reduction="sum")
else:
    L_t = F.mse_loss(y_t, t_t, reduction=reduction)
''',
    "cross_entropy": r'''
y_t = torch.from_numpy(prediction.copy()).requires_grad_()
rows_t = torch.from_numpy(target.reshape(-1, prediction.shape[-1]).copy())
log_p_t = torch.log(y_t.clamp(eps, 1 - eps)).reshape(rows_t.shape)
if TARGET_IS_A_CLASS:   # the negative log-likelihood of the true class
    L_t = F.nll_loss(log_p_t, rows_t.argmax(dim=1), reduction=reduction)
else:
    per_sample = -(rows_t * log_p_t).sum(dim=1)
    L_t = per_sample.mean() if reduction == "mean" else per_sample.sum()
''',
    "softmax_cross_entropy": r'''
y_t = torch.from_numpy(prediction.copy()).requires_grad_()
rows_t = torch.from_numpy(target.reshape(-1, prediction.shape[-1]).copy())
classes = rows_t.argmax(dim=1) if TARGET_IS_A_CLASS else rows_t   # PyTorch takes class indices or probabilities
L_t = F.cross_entropy(y_t.reshape(rows_t.shape), classes, reduction=reduction)
''',
    "binary_cross_entropy": r'''
y_t = torch.from_numpy(prediction.copy()).requires_grad_()
L_t = F.binary_cross_entropy(y_t.clamp(eps, 1 - eps), torch.from_numpy(target.copy()), reduction=reduction)
''',
}

LOSS_TORCH_RUN = r'''
L_t.backward()
show("loss (PyTorch)", L_t.item())
check("loss (PyTorch)", L_t.item(), EXPECTED["loss"])
show("grad_input (PyTorch)", y_t.grad.numpy())
check("grad_input (PyTorch)", y_t.grad.numpy(), EXPECTED["grad_input"])
'''


def _loss(trace: Trace, q: dict[str, str]) -> Part:
    p = trace.params
    kind = p["kind"]
    index_form = p.get("target_form") == "index"
    words = ("the class index, written one-hot" if index_form else
             "values of the prediction's shape" if kind in ("mse", "binary_cross_entropy") else "class probabilities")
    problem = _fill(LOSS_PROBLEM, prediction=trace.inputs["prediction"], target=trace.inputs["target"],
                    target_words=Code(words), kind=kind, reduction=p["reduction"], eps=float(p.get("eps", 1e-12)))
    if kind in ("cross_entropy", "softmax_cross_entropy"):
        problem += f"TARGET_IS_A_CLASS = {index_form!r}   # the target was given as a class index\n"
    names = {"mse": "F.mse_loss", "cross_entropy": "F.nll_loss", "softmax_cross_entropy": "F.cross_entropy",
             "binary_cross_entropy": "F.binary_cross_entropy"}[kind]
    return Part(problem, LOSS_DEFINITIONS[kind], LOSS_RUN, LOSS_TORCH[kind] + LOSS_TORCH_RUN, names + " and autograd")


# --- optimizers ---------------------------------------------------------------------------------------------

OPTIMIZER_PROBLEM = r'''
params = $params   # before the first update
grads = $grads     # the same gradients at every update
updates = $updates
kind = $kind
lr = $lr
momentum = $momentum
beta1, beta2 = $betas
eps = $eps
weight_decay = $weight_decay   # L2: weight_decay * w joins the gradient
'''

OPTIMIZER_STEPS = {
    "sgd": r'''
            params[name] = params[name] - lr * g''',
    "momentum": r'''
            velocity[name] = momentum * velocity[name] + g   # v starts at 0, so the first update is plain SGD
            params[name] = params[name] - lr * velocity[name]''',
    "adam": r'''
            m[name] = beta1 * m[name] + (1 - beta1) * g
            v[name] = beta2 * v[name] + (1 - beta2) * g ** 2
            m_hat = m[name] / (1 - beta1 ** t)   # the bias corrections: m and v start at 0
            v_hat = v[name] / (1 - beta2 ** t)
            params[name] = params[name] - lr * m_hat / (np.sqrt(v_hat) + eps)''',
}

OPTIMIZER_DEFINITION = r'''
def run_by_definition(params, grads):
    """`updates` updates of each parameter by the same rule: $rule."""
    params = {name: np.array(value, dtype=float) for name, value in params.items()}
    velocity = {name: np.zeros(value.shape) for name, value in params.items()}
    m = {name: np.zeros(value.shape) for name, value in params.items()}
    v = {name: np.zeros(value.shape) for name, value in params.items()}
    for t in range(1, updates + 1):
        for name in params:
            g = grads[name] + weight_decay * params[name]$step
    state = {"step": updates, "velocity": velocity, "m": m, "v": v}
    return params, state
'''

OPTIMIZER_RUN = r'''
new_params, state = run_by_definition(params, grads)
for name, value in new_params.items():
    show(f"params.{name}", value)
    check(f"params.{name}", value, EXPECTED[f"params.{name}"])
for key, value in EXPECTED.items():   # the state a next update would start from
    if key.startswith("state."):
        path = key.split(".")[1:]
        computed = state[path[0]] if len(path) == 1 else state[path[0]][path[1]]
        check(key, computed, value)
'''

OPTIMIZER_TORCH = r'''
tensors = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in params.items()}
$make
for _ in range(updates):
    for name, p in tensors.items():
        p.grad = torch.tensor(grads[name], dtype=torch.float64)
    optimizer.step()
for name, p in tensors.items():
    show(f"params.{name} (PyTorch)", p.detach().numpy())
    check(f"params.{name} (PyTorch)", p.detach().numpy(), EXPECTED[f"params.{name}"])
'''

OPTIMIZER_MAKE = {
    "sgd": "optimizer = torch.optim.SGD(tensors.values(), lr=lr, weight_decay=weight_decay)",
    "momentum": "optimizer = torch.optim.SGD(tensors.values(), lr=lr, momentum=momentum, weight_decay=weight_decay)",
    "adam": "optimizer = torch.optim.Adam(tensors.values(), lr=lr, betas=(beta1, beta2), eps=eps, "
            "weight_decay=weight_decay)",
}
OPTIMIZER_RULES = {"sgd": "w <- w - lr g", "momentum": "v <- momentum v + g, then w <- w - lr v",
                   "adam": "Adam's m, v and bias corrections, then w <- w - lr m_hat / (sqrt(v_hat) + eps)"}


def _named(values: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{name!r}: {literal(value)}" for name, value in values.items()) + "}"


def _optimizer(trace: Trace, q: dict[str, str]) -> Part:
    from .pages.layers import parse_named   # the page's own reading of its parameter box

    p = trace.params
    kind = p["kind"]
    first = parse_named(q["params"], "params") if "params" in q else trace.inputs["params"]
    problem = _fill(OPTIMIZER_PROBLEM, params=Code(_named(first)), grads=Code(_named(trace.inputs["grads"])),
                    updates=p["step"],
                    kind=kind, lr=float(p["lr"]), momentum=float(p["momentum"]), betas=tuple(p["betas"]),
                    eps=float(p["eps"]), weight_decay=float(p["weight_decay"]))
    definition = _fill(OPTIMIZER_DEFINITION, rule=Code(OPTIMIZER_RULES[kind]), step=Code(OPTIMIZER_STEPS[kind]))
    torch = _fill(OPTIMIZER_TORCH, make=Code(OPTIMIZER_MAKE[kind]))
    return Part(problem, definition, OPTIMIZER_RUN, torch, "torch.optim." + ("Adam" if kind == "adam" else "SGD"))


# --- batch normalization ---------------------------------------------------------------------------------------

BATCHNORM_PROBLEM = r'''
# (N, C) or (N, C, L): one row per sample, the features along axis 1
x = $x
gamma = $gamma
beta = $beta
eps = $eps   # added to the variance inside the square root
$rest'''

BATCHNORM_DEFINITION = r'''
def batchnorm_by_definition(x):
    """Per feature c: mean μ and biased variance σ² over the batch (training) or the running ones
    (evaluation); y = γ (x - μ) / sqrt(σ² + eps) + β. Training also updates the running statistics,
    the variance with its unbiased form σ² n / (n - 1)."""
    y = np.zeros(x.shape)
    new_mean, new_var = running_mean.copy(), running_var.copy()
    for c in range(x.shape[1]):
        cells = x[:, c].ravel()
        n = len(cells)
        if training:
            mean = sum(cells) / n
            var = sum((v - mean) ** 2 for v in cells) / n
            new_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean
            new_var[c] = (1 - momentum) * running_var[c] + momentum * var * n / (n - 1)
        else:
            mean, var = running_mean[c], running_var[c]
        y[:, c] = gamma[c] * (x[:, c] - mean) / np.sqrt(var + eps) + beta[c]
    return y, new_mean, new_var
'''

BATCHNORM_BACKWARD_DEFINITION = r'''
def batchnorm_backward_by_definition(x, grad_y):
    """Per feature c, with s = 1 / sqrt(σ² + eps) and x_hat = (x - μ) s over the n cells of the batch:
    dL/dβ = sum δ, dL/dγ = sum δ x_hat, dL/dx = γ s / n (n δ - sum δ - x_hat sum δ x_hat)."""
    grad_x = np.zeros(x.shape)
    grad_gamma = np.zeros(x.shape[1])
    grad_beta = np.zeros(x.shape[1])
    for c in range(x.shape[1]):
        cells, deltas = x[:, c], grad_y[:, c]
        n = cells.size
        mean = cells.sum() / n
        s = 1 / np.sqrt(((cells - mean) ** 2).sum() / n + eps)
        x_hat = (cells - mean) * s
        grad_beta[c] = deltas.sum()
        grad_gamma[c] = (deltas * x_hat).sum()
        grad_x[:, c] = gamma[c] * s / n * (n * deltas - grad_beta[c] - x_hat * grad_gamma[c])
    return grad_x, grad_gamma, grad_beta
'''

BATCHNORM_RUN = r'''
y, new_mean, new_var = batchnorm_by_definition(x)
for name, value in (("output", y), ("running_mean", new_mean), ("running_var", new_var)):
    show(name, value)
    check(name, value, EXPECTED[name])
'''

BATCHNORM_BACKWARD_RUN = r'''
grad_x, grad_gamma, grad_beta = batchnorm_backward_by_definition(x, grad_output)
for name, value in (("grad_input", grad_x), ("grad_weight", grad_gamma), ("grad_bias", grad_beta)):
    show(name, value)
    check(name, value, EXPECTED[name])
'''

BATCHNORM_TORCH = r'''
mean_t, var_t = torch.from_numpy(running_mean.copy()), torch.from_numpy(running_var.copy())
y_t = F.batch_norm(torch.from_numpy(x.copy()), mean_t, var_t, torch.from_numpy(gamma.copy()),
                   torch.from_numpy(beta.copy()), training=training, momentum=momentum, eps=eps)
for name, value in (("output", y_t.numpy()), ("running_mean", mean_t.numpy()), ("running_var", var_t.numpy())):
    show(f"{name} (PyTorch)", value)   # F.batch_norm updates the running statistics in place
    check(f"{name} (PyTorch)", value, EXPECTED[name])
'''

BATCHNORM_BACKWARD_TORCH = r'''
x_t = torch.from_numpy(x.copy()).requires_grad_()
gamma_t = torch.from_numpy(gamma.copy()).requires_grad_()
beta_t = torch.from_numpy(beta.copy()).requires_grad_()
y_t = F.batch_norm(x_t, None, None, gamma_t, beta_t, training=True, eps=eps)
y_t.backward(torch.from_numpy(grad_output.copy()))
for name, value in (("grad_input", x_t.grad), ("grad_weight", gamma_t.grad), ("grad_bias", beta_t.grad)):
    show(f"{name} (PyTorch)", value.numpy())
    check(f"{name} (PyTorch)", value.numpy(), EXPECTED[name])
'''


def _batchnorm(trace: Trace, q: dict[str, str]) -> Part:
    backward = trace.op.endswith("backward")
    inputs, p = trace.inputs, trace.params
    if backward:
        rest = f"# δ = dL/dy, the input's shape\ngrad_output = {literal(inputs['grad_output'])}\n"
    else:
        rest = (f"training = {literal(p['training'])}   # True: this batch's statistics; False: the running ones\n"
                f"momentum = {literal(float(p['momentum']))}   # the batch statistic's share in the running update\n"
                f"# the running statistics before this batch\nrunning_mean = {literal(inputs['running_mean'])}\n"
                f"running_var = {literal(inputs['running_var'])}\n")
    problem = _fill(BATCHNORM_PROBLEM, x=inputs["input"], gamma=inputs["gamma"], beta=inputs["beta"],
                    eps=float(p["eps"]), rest=Code(rest))
    return Part(problem, BATCHNORM_BACKWARD_DEFINITION if backward else BATCHNORM_DEFINITION,
                BATCHNORM_BACKWARD_RUN if backward else BATCHNORM_RUN,
                BATCHNORM_BACKWARD_TORCH if backward else BATCHNORM_TORCH,
                "F.batch_norm" + (" and autograd" if backward else ""))


# --- dropout ---------------------------------------------------------------------------------------------------

DROPOUT_PROBLEM = r'''
x = $x
p = $p   # the probability of dropping a cell
variant = $variant   # "inverted": kept cells / (1 - p) while training; "classic": x (1 - p) at evaluation
training = $training
seed = $seed   # the seed the mask is drawn from
# 1 keeps a cell, 0 drops it (None: drawn from the seed below)
mask = $mask
'''

DROPOUT_DEFINITION = r'''
def dropout_by_definition(x, mask):
    """Training: each cell times its mask bit, scaled by 1 / (1 - p) when inverted. Evaluation: nothing
    is dropped; classic dropout scales every cell by 1 - p instead."""
    y = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        if not training:
            y[index] = x[index] * (1 - p) if variant == "classic" else x[index]
        elif variant == "inverted":
            y[index] = x[index] * mask[index] / (1 - p)   # so that the expected output is x
        else:
            y[index] = x[index] * mask[index]
    return y
'''

DROPOUT_RUN = r'''
if mask is None:   # the same seed draws the same mask: a cell is kept where its uniform draw u >= p
    mask = (np.random.default_rng(seed).random(x.shape) >= p).astype(float)
show("mask", mask)
check("mask", mask, EXPECTED["mask"])
y = dropout_by_definition(x, mask)
show("output", y)
check("output", y, EXPECTED["output"])
'''

DROPOUT_TORCH = r'''
x_t = torch.from_numpy(x.copy())
if not training:
    y_t = F.dropout(x_t, p, training=False) * ((1 - p) if variant == "classic" else 1)
else:   # PyTorch draws its own mask; with this one, its inverted dropout is x * mask / (1 - p)
    y_t = x_t * torch.from_numpy(mask.copy()) / ((1 - p) if variant == "inverted" else 1)
show("output (PyTorch)", y_t.numpy())
check("output (PyTorch)", y_t.numpy(), EXPECTED["output"])
'''


def _dropout(trace: Trace, q: dict[str, str]) -> Part:
    p = trace.params
    drawn = p["training"] and "mask" not in trace.inputs
    mask = None if drawn else trace.inputs.get("mask", trace.outputs["mask"])   # in evaluation: all ones
    problem = _fill(DROPOUT_PROBLEM, x=trace.inputs["input"], p=float(p["p"]), variant=p["variant"],
                    training=p["training"], seed=p.get("seed") if drawn else None, mask=mask)
    return Part(problem, DROPOUT_DEFINITION, DROPOUT_RUN, DROPOUT_TORCH, "F.dropout and the same mask")


FAMILIES: dict[str, Callable[[Trace, dict[str, str]], Part]] = {
    "conv2d": _conv, "conv2d_backward": _conv, "conv1d": _conv, "conv1d_backward": _conv,
    "pool2d": _pool, "pool2d_backward": _pool, "im2col": _im2col, "output_size": _size_of,
    "activation": _activation, "activation_backward": _activation,
    "dense": _dense, "dense_backward": _dense, "flatten": _flatten, "loss": _loss,
    "optimizer_step": _optimizer, "batchnorm": _batchnorm, "batchnorm_backward": _batchnorm,
    "dropout": _dropout,
}
"""The script template of each op, by the trace's op name."""
