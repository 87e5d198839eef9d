"""Activations: ReLU, LeakyReLU, ReLU6, sigmoid, tanh and softmax, forward and backward.

Conventions (PyTorch's): ReLU'(0) = 0, LeakyReLU'(0) = alpha, ReLU6' is 0 at 0 and at 6;
softmax runs along ``dim`` (the last axis by default) after subtracting that row's maximum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import EngineError
from .layout import called, label
from .numfmt import factor, fmt, shown, tex, write_sum
from .tensors import as_number, as_tensor
from .trace import Combine, Factor, Segment, Step, StepKind, Trace, cell_id, term

FUNCTIONS = ("relu", "leaky_relu", "relu6", "sigmoid", "tanh", "softmax")
JACOBIAN_LIMIT = 8
"""Softmax backward writes out the Jacobian when a row has at most this many classes."""

_NAMES = {"relu": r"\mathrm{ReLU}", "leaky_relu": r"\mathrm{LeakyReLU}", "relu6": r"\mathrm{ReLU6}",
          "sigmoid": r"\sigma", "tanh": r"\tanh"}
_RULES = {
    "relu": r"\mathrm{ReLU}(x) = \max(0, x)",
    "leaky_relu": r"\mathrm{LeakyReLU}(x) = x \text{ if } x > 0 \text{, else } \alpha x",
    "relu6": r"\mathrm{ReLU6}(x) = \min(\max(0, x), 6)",
    "sigmoid": r"\sigma(x) = \frac{1}{1 + e^{-x}}",
    "tanh": r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
    "softmax": r"p_i = \frac{e^{z_i - m}}{\sum_j e^{z_j - m}},\quad m = \max_j z_j",
}
_DERIVATIVES = {
    "relu": r"\mathrm{ReLU}'(x) = 1 \text{ if } x > 0 \text{, else } 0",
    "leaky_relu": r"\mathrm{LeakyReLU}'(x) = 1 \text{ if } x > 0 \text{, else } \alpha",
    "relu6": r"\mathrm{ReLU6}'(x) = 1 \text{ if } 0 < x < 6 \text{, else } 0",
    "sigmoid": r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))",
    "tanh": r"\tanh'(x) = 1 - \tanh^2(x)",
}


def _check(x: Any, function: str, alpha: float) -> np.ndarray:
    if function not in FUNCTIONS:
        raise EngineError("function", f"{function!r} is not an activation: use one of {', '.join(FUNCTIONS)}")
    as_number(alpha, "alpha")
    return as_tensor(x, "input", (0, 1, 2, 3, 4) if function != "softmax" else (1, 2, 3, 4))


def _forward(x: np.ndarray, function: str, alpha: float) -> np.ndarray:
    match function:
        case "relu":
            return np.maximum(x, 0.0)
        case "leaky_relu":
            return np.where(x > 0, x, alpha * x)
        case "relu6":
            return np.clip(x, 0.0, 6.0)
        case "sigmoid":
            return 0.5 * (1.0 + np.tanh(0.5 * x))  # the logistic function without overflow for large |x|
        case "tanh":
            return np.tanh(x)
    raise AssertionError(function)


def _derivative(x: np.ndarray, y: np.ndarray, function: str, alpha: float) -> np.ndarray:
    match function:
        case "relu":
            return (x > 0).astype(float)
        case "leaky_relu":
            return np.where(x > 0, 1.0, alpha)
        case "relu6":
            return ((x > 0) & (x < 6)).astype(float)
        case "sigmoid":
            return y * (1.0 - y)
        case "tanh":
            return 1.0 - y * y
    raise AssertionError(function)


def _elementwise_step(function: str, alpha: float, index: tuple[int, ...], x: float, y: float,
                      digits: int) -> Step:
    name, v, out = _NAMES[function], tex(x, digits), tex(y, digits)
    cell = Factor("input", index, x)
    match function:
        case "relu":
            expansion = rf"{name}({v}) = \max(0, {v}) = {out}"
            terms, combine = (term(cell),), Combine.APPLY
        case "relu6":
            expansion = rf"{name}({v}) = \min(\max(0, {v}), 6) = {out}"
            terms, combine = (term(cell),), Combine.APPLY
        case "leaky_relu":
            slope = 1.0 if x > 0 else alpha
            expansion = (rf"{name}({v}) = {out}" if x > 0
                         else rf"{name}({v}) = {tex(alpha, digits)} \cdot {factor(x, digits)} = {out}")
            terms, combine = (term(cell, Factor("slope", None, slope)),), Combine.SUM
        case "sigmoid":
            expansion = rf"\sigma({v}) = \frac{{1}}{{1 + e^{{{tex(-x, digits)}}}}} = {out}"
            terms, combine = (term(cell),), Combine.APPLY
        case _:
            expansion = (rf"\tanh({v}) = \frac{{e^{{{v}}} - e^{{{tex(-x, digits)}}}}}"
                         rf"{{e^{{{v}}} + e^{{{tex(-x, digits)}}}}} = {out}")
            terms, combine = (term(cell),), Combine.APPLY
    if function in ("relu", "relu6", "leaky_relu"):
        kept = 0 < x < 6 if function == "relu6" else x > 0
        if kept:
            message = f"{called('x', index)} = {fmt(x, digits)} passes unchanged."
        elif function == "leaky_relu":
            message = f"{called('x', index)} = {fmt(x, digits)} is not positive, so it is scaled by α = {fmt(alpha, digits)}."
        elif function == "relu6" and x >= 6:
            message = f"{called('x', index)} = {fmt(x, digits)} is capped at 6."
        else:
            message = f"{called('x', index)} = {fmt(x, digits)} is not positive, so it becomes 0."
    else:
        message = f"Squash {called('x', index)} = {fmt(x, digits)} into ({'0' if function == 'sigmoid' else '-1'}, 1)."
    return Step(id=cell_id("output", index), kind=StepKind.ELEMENTWISE, title=called('y', index), message=message,
                formula=_RULES[function], expansion=expansion, terms=terms, result=y,
                target=("output", index), reads={"input": [index]}, combine=combine,
                function=function if combine is Combine.APPLY else "")


class _Rows:
    """Softmax's view of a tensor: rows along ``dim``, indexed by the other axes."""

    def __init__(self, shape: tuple[int, ...], dim: int):
        self.dim = dim
        self.classes = shape[dim]
        self.shape = shape[:dim] + shape[dim + 1:]

    def cell(self, row: tuple[int, ...], k: int) -> tuple[int, ...]:
        return row[:self.dim] + (k,) + row[self.dim:]

    def split(self, index: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        return index[:self.dim] + index[self.dim + 1:], index[self.dim]

    def row_label(self, row: tuple[int, ...]) -> str:
        return f" of row {label(row)}" if row else ""


def _resolve_dim(dim: Any, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -ndim <= dim < ndim:
        raise EngineError("dim", f"{dim!r} is not an axis of a {ndim}-dimensional input "
                                 f"(use {-ndim} to {ndim - 1})")
    return int(dim) % ndim


def _softmax_numbers(x: np.ndarray, dim: int) -> dict[str, np.ndarray]:
    m = x.max(axis=dim)
    e = np.exp(x - np.expand_dims(m, dim))
    s = e.sum(axis=dim)
    return {"max": m, "exp": e, "sum": s, "output": e / np.expand_dims(s, dim)}


def softmax_segments(x: np.ndarray, dim: int, numbers: dict[str, np.ndarray], output: str = "output",
                     source: str = "input", prefix: str = "") -> list[Segment]:
    """The steps of a softmax: the row maximum, the shifted exponentials, their sum, each probability.

    ``prefix`` names the intermediates (``max``, ``exp``, ``sum``) when a loss reuses these steps.
    """
    rows = _Rows(x.shape, dim)
    m, e, s, p = numbers["max"], numbers["exp"], numbers["sum"], numbers["output"]
    C = rows.classes
    names = {k: prefix + k for k in ("max", "exp", "sum")}

    def make_max(row: tuple[int, ...], digits: int) -> Step:
        cells = [rows.cell(row, k) for k in range(C)]
        parts = [tex(x[c], digits) for k, c in enumerate(cells) if shown(k, C)]
        return Step(
            id=cell_id(names["max"], row), kind=StepKind.REDUCE, title=f"m = max z{rows.row_label(row)}",
            message="Subtract the largest score before exponentiating: e^(z − m) never overflows, "
                    "and the probabilities do not change.",
            formula=r"m = \max_j z_j",
            expansion=r"m = \max(" + ", ".join(parts if C <= 36 else parts[:32] + [r"\cdots"] + parts[32:])
                      + f") = {tex(m[row], digits)}",
            terms=tuple(term(Factor(source, c, float(x[c]))) for c in cells), result=float(m[row]),
            target=(names["max"], row), reads={source: cells}, combine=Combine.MAX)

    def make_exp(index: tuple[int, ...], digits: int) -> Step:
        row, k = rows.split(index)
        z, mv = float(x[index]), float(m[row])
        return Step(
            id=cell_id(names["exp"], index), kind=StepKind.ELEMENTWISE, title=f"e^(z({label(index)}) − m)",
            message=f"Exponentiate score {k + 1} after the shift.",
            formula=r"e^{z_i - m}",
            expansion=rf"e^{{{tex(z, digits)} - {factor(mv, digits)}}} = e^{{{tex(z - mv, digits)}}} = "
                      rf"{tex(e[index], digits)}",
            terms=(term(Factor(source, index, z)), term(Factor(names["max"], row, mv), Factor("sign", None, -1.0))),
            result=float(e[index]), target=(names["exp"], index), reads={source: [index]},
            combine=Combine.APPLY, function="exp")

    def make_sum(row: tuple[int, ...], digits: int) -> Step:
        cells = [rows.cell(row, k) for k in range(C)]
        parts = [tex(e[c], digits) for k, c in enumerate(cells) if shown(k, C)]
        return Step(
            id=cell_id(names["sum"], row), kind=StepKind.REDUCE, title=f"Σ e^(z − m){rows.row_label(row)}",
            message="Add the exponentials: the softmax divides each one by this sum.",
            formula=r"S = \sum_j e^{z_j - m}",
            expansion="S = " + write_sum(parts, float(s[row]), digits, total=C),
            terms=tuple(term(Factor(names["exp"], c, float(e[c]))) for c in cells), result=float(s[row]),
            target=(names["sum"], row), reads={names["exp"]: cells})

    def make_p(index: tuple[int, ...], digits: int) -> Step:
        row, k = rows.split(index)
        return Step(
            id=cell_id(output, index), kind=StepKind.ELEMENTWISE, title=f"p({label(index)})",
            message=f"The probability of class {k + 1}: its share of the sum.",
            formula=r"p_i = \frac{e^{z_i - m}}{S}",
            expansion=rf"p_{{{label(index)}}} = \frac{{{tex(e[index], digits)}}}{{{tex(s[row], digits)}}} = "
                      rf"{tex(p[index], digits)}",
            terms=(term(Factor(names["exp"], index, float(e[index])), Factor(f"1/{names['sum']}", row, 1.0 / float(s[row]))),),
            result=float(p[index]), target=(output, index), reads={source: [index]})

    return [Segment(names["max"], rows.shape, make_max), Segment(names["exp"], x.shape, make_exp),
            Segment(names["sum"], rows.shape, make_sum), Segment(output, x.shape, make_p)]


def _notes(function: str, alpha: float, x: np.ndarray) -> list[str]:
    notes = []
    if function == "softmax":
        notes.append("Shifting every score by the row's maximum m leaves each probability unchanged "
                     "(e^(z−m)/Σe^(z−m) = e^z/Σe^z) and keeps e^(z−m) ≤ 1, so nothing overflows.")
    if function == "leaky_relu":
        notes.append(f"LeakyReLU with α = {alpha:g}: PyTorch's default slope is 0.01.")
    if function in ("relu", "leaky_relu", "relu6") and np.any(x == 0):
        notes.append({"relu": "At x = 0 ReLU's derivative is taken as 0 (PyTorch's choice).",
                      "leaky_relu": "At x = 0 LeakyReLU's derivative is taken as α (PyTorch's choice).",
                      "relu6": "At x = 0 and x = 6 ReLU6's derivative is taken as 0 (PyTorch's choice)."}[function])
    notes.append("Titles count from 1; step ids and JSON indices count from 0.")
    return notes


def activation(x, *, function, alpha=0.01, dim=-1) -> Trace:
    """An activation applied to every cell (softmax: to every row along ``dim``).

    Parameters
    ----------
    x : any shape (softmax: at least one axis)
    function : 'relu' | 'leaky_relu' | 'relu6' | 'sigmoid' | 'tanh' | 'softmax'
    alpha : LeakyReLU's slope for x <= 0.

    Notes
    -----
    y = f(x) cell by cell; softmax p_i = e^(z_i - m) / sum_j e^(z_j - m) with m = max_j z_j.
    """
    x_arr = _check(x, function, alpha)
    alpha = float(alpha)
    params: dict[str, Any] = {"function": function}
    if function == "leaky_relu":
        params["alpha"] = alpha
    if function == "softmax":
        d = _resolve_dim(dim, x_arr.ndim)
        params["dim"] = d
        numbers = _softmax_numbers(x_arr, d)
        return Trace(op="activation", params=params, inputs={"input": x_arr},
                     outputs={"output": numbers["output"]}, formula=_RULES["softmax"],
                     segments=softmax_segments(x_arr, d, numbers),
                     notes=_notes(function, alpha, x_arr),
                     intermediates={k: numbers[k] for k in ("max", "exp", "sum")})
    y = _forward(x_arr, function, alpha)

    def make(index: tuple[int, ...], digits: int) -> Step:
        return _elementwise_step(function, alpha, index, float(x_arr[index]), float(y[index]), digits)

    return Trace(op="activation", params=params, inputs={"input": x_arr}, outputs={"output": y},
                 formula=_RULES[function], segments=[Segment("output", x_arr.shape, make)],
                 notes=_notes(function, alpha, x_arr))


def _derivative_text(function: str, x: float, y: float, digits: int) -> tuple[str, str]:
    """f'(x) written symbolically, and with the forward value where it needs one (else '')."""
    v = tex(x, digits)
    match function:
        case "relu" | "leaky_relu" | "relu6":
            return rf"{_NAMES[function]}'({v})", ""
        case "sigmoid":
            return rf"\sigma({v})\,(1 - \sigma({v}))", rf"{tex(y, digits)}\,({tex(1 - y, digits)})"
        case _:
            return rf"(1 - \tanh^2({v}))", rf"(1 - {factor(y, digits)}^2)"


def activation_backward(x, grad_output, *, function, alpha=0.01, dim=-1) -> Trace:
    """∂L/∂x of an activation given δ = ∂L/∂y: δ · f'(x) per cell; softmax: the Jacobian-vector product.

    Parameters
    ----------
    x, grad_output : the same shape.

    Notes
    -----
    Element-wise: ∂L/∂x_i = δ_i f'(x_i). Softmax: ∂L/∂z_i = sum_j J_ji δ_j with J_ji = p_j(1[i=j] - p_i),
    which is p_i (δ_i - sum_j δ_j p_j).
    """
    x_arr = _check(x, function, alpha)
    alpha = float(alpha)
    g = as_tensor(grad_output, "grad_output", (x_arr.ndim,))
    if g.shape != x_arr.shape:
        raise EngineError("grad_output", f"expected the input's shape {x_arr.shape}, got {g.shape}")
    params: dict[str, Any] = {"function": function}
    if function == "leaky_relu":
        params["alpha"] = alpha
    notes = _notes(function, alpha, x_arr)
    if function == "softmax":
        d = _resolve_dim(dim, x_arr.ndim)
        params["dim"] = d
        return _softmax_backward(x_arr, g, d, params, notes)
    y = _forward(x_arr, function, alpha)
    local = _derivative(x_arr, y, function, alpha)
    grad = g * local

    def make(index: tuple[int, ...], digits: int) -> Step:
        xv, dv, lv = float(x_arr[index]), float(g[index]), float(local[index])
        at = label(index)
        symbolic = _derivative_text(function, xv, float(y[index]), digits)
        if function in ("relu", "leaky_relu", "relu6") and xv == 0:
            why = {"relu": "ReLU'(0) is taken as 0", "leaky_relu": "LeakyReLU'(0) is taken as α",
                   "relu6": "ReLU6'(0) is taken as 0"}[function]
            message = f"{called('x', index)} = 0 sits on the kink: {why}, as PyTorch does."
        elif lv == 0:
            message = f"The activation is flat at {called('x', index)} = {fmt(xv, digits)}, so no gradient passes."
        else:
            message = f"The upstream δ times the slope of the activation at {called('x', index)} = {fmt(xv, digits)}."
        return Step(
            id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=f"∂L/∂{called('x', index)}", message=message,
            formula=r"\frac{\partial L}{\partial x} = \delta \cdot f'(x),\quad " + _DERIVATIVES[function],
            expansion=rf"\frac{{\partial L}}{{\partial x_{{{at}}}}} = "
                      + "".join(f"{factor(dv, digits)} \\cdot {text} = " for text in symbolic if text)
                      + rf"{factor(dv, digits)}({tex(lv, digits)}) = {tex(grad[index], digits)}",
            terms=(term(Factor("grad_output", index, dv), Factor("derivative", index, lv)),),
            result=float(grad[index]), target=("grad_input", index),
            reads={"input": [index], "grad_output": [index]})

    return Trace(op="activation_backward", params=params, inputs={"input": x_arr, "grad_output": g},
                 outputs={"grad_input": grad},
                 formula=r"\frac{\partial L}{\partial x_i} = \delta_i \, f'(x_i)",
                 segments=[Segment("grad_input", x_arr.shape, make)], notes=notes,
                 intermediates={"output": y, "derivative": local})


def _softmax_backward(x: np.ndarray, g: np.ndarray, dim: int, params: dict[str, Any],
                      notes: list[str]) -> Trace:
    numbers = _softmax_numbers(x, dim)
    p = numbers["output"]
    rows = _Rows(x.shape, dim)
    C = rows.classes
    dot = (g * p).sum(axis=dim)
    grad = p * (g - np.expand_dims(dot, dim))
    segments = softmax_segments(x, dim, numbers, output="output")
    intermediates: dict[str, Any] = {**{k: numbers[k] for k in ("max", "exp", "sum")}, "output": p}

    if C <= JACOBIAN_LIMIT:
        p_rows = np.moveaxis(p, dim, -1)
        jac = p_rows[..., :, None] * (np.eye(C) - p_rows[..., None, :])  # J[..., i, j] = ∂p_i/∂z_j
        intermediates["jacobian"] = jac
        notes.append(f"Each row's {C}×{C} Jacobian J_ij = ∂p_i/∂z_j = p_i(1[i=j] − p_j) is written out; "
                     f"∂L/∂z = Jᵀδ.")

        def make_jac(index: tuple[int, ...], digits: int) -> Step:
            row, (i, j) = index[:-2], index[-2:]
            pi, pj = float(p[rows.cell(row, i)]), float(p[rows.cell(row, j)])
            same = i == j
            return Step(
                id=cell_id("jacobian", index), kind=StepKind.MULTIPLY_ADD,
                title=f"J({label(index)}) = ∂p{i + 1}/∂z{j + 1}",
                message="On the diagonal a score raises its own probability: p(1 − p)." if same
                else "Off the diagonal a score lowers the others' probabilities: −p_i p_j.",
                formula=r"J_{ij} = p_i\,(1[i=j] - p_j)",
                expansion=rf"J_{{{i + 1},{j + 1}}} = {tex(pi, digits)}({1 if same else 0} - {tex(pj, digits)}) = "
                          rf"{tex(jac[index], digits)}",
                terms=((term(Factor("output", rows.cell(row, i), pi)),) if same else ())
                + (term(Factor("output", rows.cell(row, i), pi), Factor("output", rows.cell(row, j), pj),
                        Factor("sign", None, -1.0)),),
                result=float(jac[index]), target=("jacobian", index),
                reads={"input": [rows.cell(row, i), rows.cell(row, j)]})

        def make_grad(index: tuple[int, ...], digits: int) -> Step:
            row, i = rows.split(index)
            cells = [rows.cell(row, j) for j in range(C)]
            terms = tuple(term(Factor("jacobian", row + (j, i), float(jac[row + (j, i)])),
                               Factor("grad_output", c, float(g[c]))) for j, c in enumerate(cells))
            parts = [f"{factor(t.factors[0].value, digits)}({tex(t.factors[1].value, digits)})" for t in terms]
            return Step(
                id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=f"∂L/∂z({label(index)})",
                message=f"Column {i + 1} of the Jacobian against δ: every probability depends on score {i + 1}.",
                formula=r"\frac{\partial L}{\partial z_i} = \sum_j J_{ji}\,\delta_j",
                expansion=rf"\frac{{\partial L}}{{\partial z_{{{label(index)}}}}} = "
                          + write_sum(parts, float(grad[index]), digits),
                terms=terms, result=float(grad[index]), target=("grad_input", index),
                reads={"grad_output": cells, "input": cells})

        jac_shape = rows.shape + (C, C)
        segments += [Segment("jacobian", jac_shape, make_jac), Segment("grad_input", x.shape, make_grad)]
    else:
        intermediates["dot"] = dot
        notes.append(f"With {C} classes the Jacobian is not written out: ∂L/∂z_i = p_i(δ_i − Σ_j δ_j p_j), "
                     f"the same product in one line.")

        def make_dot(row: tuple[int, ...], digits: int) -> Step:
            cells = [rows.cell(row, k) for k in range(C)]
            parts = [f"{factor(g[c], digits)}({tex(p[c], digits)})" for k, c in enumerate(cells) if shown(k, C)]
            return Step(
                id=cell_id("dot", row), kind=StepKind.MULTIPLY_ADD, title=f"Σ δ·p{rows.row_label(row)}",
                message="The δ each class carries, weighted by its probability.",
                formula=r"s = \sum_j \delta_j p_j", expansion="s = " + write_sum(parts, float(dot[row]), digits, total=C),
                terms=tuple(term(Factor("grad_output", c, float(g[c])), Factor("output", c, float(p[c]))) for c in cells),
                result=float(dot[row]), target=("dot", row), reads={"grad_output": cells})

        def make_grad_short(index: tuple[int, ...], digits: int) -> Step:
            row, i = rows.split(index)
            pv, dv, sv = float(p[index]), float(g[index]), float(dot[row])
            return Step(
                id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=f"∂L/∂z({label(index)})",
                message="The probability times how far this class's δ sits above the weighted mean δ.",
                formula=r"\frac{\partial L}{\partial z_i} = p_i(\delta_i - s)",
                expansion=rf"\frac{{\partial L}}{{\partial z_{{{label(index)}}}}} = {tex(pv, digits)}"
                          rf"({tex(dv, digits)} - {factor(sv, digits)}) = {tex(grad[index], digits)}",
                terms=(term(Factor("output", index, pv), Factor("grad_output", index, dv)),
                       term(Factor("output", index, pv), Factor("dot", row, sv), Factor("sign", None, -1.0))),
                result=float(grad[index]), target=("grad_input", index),
                reads={"grad_output": [index], "input": [index]})

        segments += [Segment("dot", rows.shape, make_dot), Segment("grad_input", x.shape, make_grad_short)]

    return Trace(op="activation_backward", params=params, inputs={"input": x, "grad_output": g},
                 outputs={"grad_input": grad},
                 formula=r"\frac{\partial L}{\partial z_i} = \sum_j \frac{\partial p_j}{\partial z_i}\,\delta_j"
                         r" = p_i\Big(\delta_i - \sum_j \delta_j p_j\Big)",
                 segments=segments, notes=notes, intermediates=intermediates)
