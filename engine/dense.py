"""Dense (fully connected) layers, forward and backward, and flatten, which feeds them.

Weights are (out, in) and y = W x + b, as in PyTorch's Linear. Flatten is row-major over (C, H, W).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import EngineError
from .layout import label
from .numfmt import factor, shown, tex, write_sum
from .tensors import as_tensor
from .trace import Factor, Segment, Step, StepKind, Trace, cell_id, term


def _prepare(x: Any, w: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """x, w, the bias as one number per neuron, and whether it was one number shared by all."""
    x_arr = as_tensor(x, "input", (1, 2))
    w_arr = as_tensor(w, "weight", (2,))
    features = x_arr.shape[-1]
    out, inputs = w_arr.shape
    if inputs != features:
        hint = (f"; its transpose ({inputs}, {out}) would fit: weights are (out, in)"
                if out == features else "")
        raise EngineError("weight", f"is ({out}, {inputs}): {inputs} inputs per neuron, but the input has "
                                    f"{features} features{hint}")
    b_arr, shared = None, False
    if b is not None:
        given = as_tensor(b, "bias", (0, 1))
        b_arr = given.reshape(-1)
        shared = given.ndim == 0 and out != 1
        if shared:
            b_arr = np.full(out, b_arr[0])
        if b_arr.shape != (out,):
            raise EngineError("bias", f"expected one number per output neuron ({out}), got {b_arr.size}")
    return x_arr, w_arr, b_arr, shared


def _sample(x: np.ndarray, index: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """(the sample prefix of an output index, the neuron)."""
    return index[:-1], index[-1]


def dense(x, w, b=None) -> Trace:
    """A fully connected layer: one step per output neuron (per sample).

    Parameters
    ----------
    x : (in,) or (N, in)
    w : (out, in)
    b : (out,), one number, or None

    Notes
    -----
    y_j = sum_i W_ji x_i + b_j.
    """
    x_arr, w_arr, b_arr, shared = _prepare(x, w, b)
    y = x_arr @ w_arr.T + (b_arr if b_arr is not None else 0.0)
    features = w_arr.shape[1]

    def make(index: tuple[int, ...], digits: int) -> Step:
        n, j = _sample(x_arr, index)
        terms, parts, reads_x, reads_w = [], [], [], []
        for i in range(features):
            xv, wv = float(x_arr[n + (i,)]), float(w_arr[j, i])
            terms.append(term(Factor("weight", (j, i), wv), Factor("input", n + (i,), xv)))
            if shown(i, features):
                parts.append(f"{factor(wv, digits)}({tex(xv, digits)})")
            reads_x.append(n + (i,))
            reads_w.append((j, i))
        reads = {"input": reads_x, "weight": reads_w}
        if b_arr is not None:
            terms.append(term(Factor("bias", () if shared else (j,), float(b_arr[j]))))
            parts.append(factor(float(b_arr[j]), digits))
            reads["bias"] = [() if shared else (j,)]
        total = features + (b_arr is not None)
        at = label(index)
        return Step(
            id=cell_id("output", index), kind=StepKind.MULTIPLY_ADD, title=f"y({at})",
            message=f"Neuron {j + 1}: every input times its weight in row {j + 1} of W"
                    + (", plus the bias." if b_arr is not None else "."),
            formula=rf"y_{{{j + 1}}} = \sum_i W_{{{j + 1},i}}\, x_i" + (rf" + b_{{{j + 1}}}" if b_arr is not None else ""),
            expansion=rf"y_{{{at}}} = " + write_sum(parts, float(y[index]), digits, total=total),
            terms=tuple(terms), result=float(y[index]), target=("output", index), reads=reads)

    inputs: dict[str, Any] = {"input": x_arr, "weight": w_arr}
    if b_arr is not None:
        inputs["bias"] = float(b_arr[0]) if shared else b_arr
    return Trace(op="dense", params={"in_features": features, "out_features": int(w_arr.shape[0])},
                 inputs=inputs, outputs={"output": y},
                 formula=r"y = W x + b,\quad y_j = \sum_i W_{j,i}\, x_i + b_j",
                 segments=[Segment("output", y.shape, make)],
                 notes=["Weights are (out, in), so row j of W feeds neuron j (PyTorch's Linear).",
                        "Titles count from 1; step ids and JSON indices count from 0."])


def dense_backward(x, w, grad_output, b=None) -> Trace:
    """The gradients of a dense layer from δ = ∂L/∂y.

    Parameters
    ----------
    x : (in,) or (N, in); w : (out, in); grad_output : y's shape, (out,) or (N, out).

    Notes
    -----
    ∂L/∂x = Wᵀδ; ∂L/∂W = δ xᵀ (summed over samples); ∂L/∂b = δ (summed over samples).
    """
    x_arr, w_arr, b_arr, shared = _prepare(x, w, b)
    out, features = w_arr.shape
    expected = x_arr.shape[:-1] + (out,)
    g = as_tensor(grad_output, "grad_output", (0, 1, 2))
    if g.size == 1 and expected == (1,):
        g = g.reshape(expected)
    if g.shape != expected:
        raise EngineError("grad_output", f"expected the output's shape {expected}, got {g.shape}")
    x2, g2 = x_arr.reshape(-1, features), g.reshape(-1, out)
    samples = x2.shape[0]
    batched = x_arr.ndim == 2
    grad_x = g @ w_arr
    grad_w = g2.T @ x2
    grad_b = g2.sum(axis=0)
    if shared:  # one number feeds every neuron, so its gradient collects every δ
        grad_b = float(g2.sum())

    def sample_index(n: int, k: int) -> tuple[int, ...]:
        return (n, k) if batched else (k,)

    def make_grad_w(index: tuple[int, ...], digits: int) -> Step:
        j, i = index
        terms = tuple(term(Factor("grad_output", sample_index(n, j), float(g2[n, j])),
                           Factor("input", sample_index(n, i), float(x2[n, i]))) for n in range(samples))
        parts = [f"{factor(t.factors[0].value, digits)}({tex(t.factors[1].value, digits)})"
                 for n, t in enumerate(terms) if shown(n, samples)]
        return Step(
            id=cell_id("grad_weight", index), kind=StepKind.GRADIENT_SUM, title=f"∂L/∂W({label(index)})",
            message=f"Weight ({j + 1}, {i + 1}) scales input {i + 1} into neuron {j + 1}, so its gradient is "
                    f"neuron {j + 1}'s δ times input {i + 1}" + (", summed over the samples." if batched else "."),
            formula=r"\frac{\partial L}{\partial W_{j,i}} = " + (r"\sum_n " if batched else "") + r"\delta_j\, x_i",
            expansion=rf"\frac{{\partial L}}{{\partial W_{{{label(index)}}}}} = "
                      + write_sum(parts, float(grad_w[index]), digits, total=samples),
            terms=terms, result=float(grad_w[index]), target=("grad_weight", index),
            reads={"grad_output": [t.factors[0].index for t in terms], "input": [t.factors[1].index for t in terms],
                   "weight": [index]})

    def make_grad_b(index: tuple[int, ...], digits: int) -> Step:
        if shared:
            cells = [sample_index(n, j) for n in range(samples) for j in range(out)]
        else:
            cells = [sample_index(n, index[0]) for n in range(samples)]
        terms = tuple(term(Factor("grad_output", c, float(g[c]))) for c in cells)
        parts = [tex(t.value, digits) for k, t in enumerate(terms) if shown(k, len(terms))]
        value = float(grad_b) if shared else float(grad_b[index[0]])
        who = "every neuron" if shared else f"neuron {index[0] + 1}"
        symbol = "b" if shared else f"b_{{{index[0] + 1}}}"
        return Step(
            id=cell_id("grad_bias", index), kind=StepKind.GRADIENT_SUM,
            title="∂L/∂b" if shared else f"∂L/∂b({index[0] + 1})",
            message=f"The bias adds straight into {who}, so its gradient is the δ there"
                    + (", summed." if shared or batched else "."),
            formula=(r"\frac{\partial L}{\partial b} = \sum_j \delta_j" if shared else
                     r"\frac{\partial L}{\partial b_j} = " + (r"\sum_n " if batched else "") + r"\delta_j"),
            expansion=rf"\frac{{\partial L}}{{\partial {symbol}}} = " + write_sum(parts, value, digits, total=len(terms)),
            terms=terms, result=value, target=("grad_bias", index), reads={"grad_output": cells})

    def make_grad_x(index: tuple[int, ...], digits: int) -> Step:
        n, i = _sample(x_arr, index)
        terms = tuple(term(Factor("weight", (j, i), float(w_arr[j, i])), Factor("grad_output", n + (j,), float(g[n + (j,)])))
                      for j in range(out))
        parts = [f"{factor(t.factors[0].value, digits)}({tex(t.factors[1].value, digits)})"
                 for j, t in enumerate(terms) if shown(j, out)]
        return Step(
            id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=f"∂L/∂x({label(index)})",
            message=f"Input {i + 1} feeds every neuron through column {i + 1} of W; its gradient collects "
                    f"each neuron's δ times that weight.",
            formula=r"\frac{\partial L}{\partial x_i} = \sum_j W_{j,i}\, \delta_j",
            expansion=rf"\frac{{\partial L}}{{\partial x_{{{label(index)}}}}} = "
                      + write_sum(parts, float(grad_x[index]), digits, total=out),
            terms=terms, result=float(grad_x[index]), target=("grad_input", index),
            reads={"weight": [(j, i) for j in range(out)], "grad_output": [n + (j,) for j in range(out)],
                   "input": [index]})

    segments = [Segment("grad_weight", w_arr.shape, make_grad_w)]
    outputs: dict[str, Any] = {"grad_input": grad_x, "grad_weight": grad_w}
    inputs = {"input": x_arr, "weight": w_arr, "grad_output": g}
    if b_arr is not None:
        segments.append(Segment("grad_bias", () if shared else (out,), make_grad_b))
        outputs["grad_bias"] = grad_b
        inputs["bias"] = float(b_arr[0]) if shared else b_arr
    segments.append(Segment("grad_input", x_arr.shape, make_grad_x))
    return Trace(op="dense_backward", params={"in_features": features, "out_features": out},
                 inputs=inputs, outputs=outputs,
                 formula=r"\frac{\partial L}{\partial W} = \delta\, x^{\mathsf{T}},\quad "
                         r"\frac{\partial L}{\partial b} = \delta,\quad \frac{\partial L}{\partial x} = W^{\mathsf{T}} \delta",
                 segments=segments,
                 notes=["The weight gradients come first: they are what the update needs; ∂L/∂x is the δ "
                        "handed to the layer below."]
                       + (["With a batch, ∂L/∂W and ∂L/∂b add up every sample's contribution."] if batched else [])
                       + ["Titles count from 1; step ids and JSON indices count from 0."])


def flatten(x) -> Trace:
    """The cells of a feature map in one row, row-major over (C, H, W): channel, then row, then column.

    Parameters
    ----------
    x : (H, W), (C, H, W) or (N, C, H, W); a batch keeps its first axis: (N, C·H·W).

    Notes
    -----
    p[c·H·W + h·W + w] = x[c, h, w].
    """
    x_arr = as_tensor(x, "input", (1, 2, 3, 4))
    batched = x_arr.ndim == 4
    out = x_arr.reshape(x_arr.shape[0], -1) if batched else x_arr.reshape(-1)
    cell_shape = x_arr.shape[1:] if batched else x_arr.shape
    dims = {1: "column", 2: "(row, column)", 3: "(channel, row, column)"}[len(cell_shape)]

    def make(index: tuple[int, ...], digits: int) -> Step:
        n, k = index[:-1], index[-1]
        cell = n + tuple(int(v) for v in np.unravel_index(k, cell_shape))
        value = float(x_arr[cell])
        strides = [int(np.prod(cell_shape[a + 1:])) for a in range(len(cell_shape))]
        position = " + ".join(f"{c}·{s}" if s != 1 else f"{c}" for c, s in zip(cell[len(n):], strides))
        return Step(
            id=cell_id("output", index), kind=StepKind.RESHAPE, title=f"p({label(index)}) = x({label(cell)})",
            message=f"Position {k + 1} holds x({label(cell)}): counting from 0, {dims} {tuple(cell[len(n):])} "
                    f"lands at {position} = {k}.",
            formula=r"p_{c H W + h W + w} = x_{c,h,w}",
            expansion=rf"p_{{{label(index)}}} = x_{{{label(cell)}}} = {tex(value, digits)}",
            terms=(term(Factor("input", cell, value)),), result=value, target=("output", index),
            reads={"input": [cell]})

    return Trace(op="flatten", params={"input_shape": list(x_arr.shape), "output_shape": list(out.shape)},
                 inputs={"input": x_arr}, outputs={"output": out},
                 formula=r"p_{c H W + h W + w} = x_{c,h,w}",
                 segments=[Segment("output", out.shape, make)],
                 notes=["Row-major over (channel, row, column), as PyTorch's flatten: all of channel 1 row by row, "
                        "then channel 2."]
                       + (["The first axis is the batch and is kept: (N, C·H·W)."] if batched else [])
                       + ["Titles count from 1; step ids and JSON indices count from 0."])


def flatten_backward(x, grad_output) -> Trace:
    """∂L/∂x of flatten: each δ goes back to the cell it came from (an un-flatten).

    Parameters
    ----------
    x : the flattened input, (H, W), (C, H, W) or (N, C, H, W); grad_output : flatten's output shape.
    """
    x_arr = as_tensor(x, "input", (1, 2, 3, 4))
    batched = x_arr.ndim == 4
    expected = (x_arr.shape[0], x_arr[0].size) if batched else (x_arr.size,)
    g = as_tensor(grad_output, "grad_output", (1, 2))
    if g.shape != expected:
        raise EngineError("grad_output", f"expected flatten's output shape {expected}, got {g.shape}")
    grad = g.reshape(x_arr.shape)
    cell_shape = x_arr.shape[1:] if batched else x_arr.shape

    def make(index: tuple[int, ...], digits: int) -> Step:
        n, cell = (index[:1], index[1:]) if batched else ((), index)
        k = int(np.ravel_multi_index(cell, cell_shape))
        source = n + (k,)
        value = float(g[source])
        return Step(
            id=cell_id("grad_input", index), kind=StepKind.RESHAPE,
            title=f"∂L/∂x({label(index)}) = δ({label(source)})",
            message=f"x({label(index)}) went to position {k + 1} of the flat vector, so its δ comes back from there.",
            formula=r"\frac{\partial L}{\partial x_{c,h,w}} = \delta_{c H W + h W + w}",
            expansion=rf"\frac{{\partial L}}{{\partial x_{{{label(index)}}}}} = \delta_{{{label(source)}}} = {tex(value, digits)}",
            terms=(term(Factor("grad_output", source, value)),), result=value, target=("grad_input", index),
            reads={"grad_output": [source], "input": [index]})

    return Trace(op="flatten_backward", params={"input_shape": list(x_arr.shape)},
                 inputs={"input": x_arr, "grad_output": g}, outputs={"grad_input": grad},
                 formula=r"\frac{\partial L}{\partial x} = \operatorname{reshape}(\delta)",
                 segments=[Segment("grad_input", x_arr.shape, make)],
                 notes=["Flatten only moves numbers, so its backward pass moves each δ back to where its cell came from."])
