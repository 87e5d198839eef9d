"""The usual mistakes of hand work, each a small function that works the problem the wrong way.

A mistake looks at a ``Context`` (the problem, its trace, the output being checked) and yields
``(values, sentence)`` attempts: the numbers the mistake gives for that output, and one plain
sentence that names it. ``engine.check`` keeps the first attempt whose numbers reproduce the
student's answer. ``MISTAKES`` lists, per op, the mistakes tried, in order; the ones under
"every op" follow each op's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layout import label
from .numfmt import fmt
from .pool import _prepare as pool_problem
from .trace import Combine, Step, Trace

Attempt = tuple[Any, str]


@dataclass
class Context:
    """What a mistake may read: the problem as given, its trace, and the output under check.

    ``rerun(**changes)`` works the problem again with some fields changed (a value of None removes
    the field) and returns the checked output's numbers, or None when the engine refuses the change.
    ``wrong`` lists the cells the answer got wrong (empty when its shape differs); ``step(index)``
    is the step that writes a cell of the checked output.
    """

    op: str
    problem: dict[str, Any]
    trace: Trace
    output: str
    expected: np.ndarray
    rerun: Callable[..., np.ndarray | None]
    step: Callable[[tuple[int, ...]], Step | None]
    wrong: list[tuple[int, ...]] = field(default_factory=list)

    def field(self, name: str, default: Any = None) -> Any:
        value = self.problem.get(name)
        return default if value is None else value

    def tensor(self, name: str) -> np.ndarray:
        """One of the trace's inputs as a float array."""
        return np.asarray(self.trace.inputs[name], dtype=float)


@dataclass(frozen=True)
class Mistake:
    code: str
    attempts: Callable[[Context], Iterable[Attempt]]
    outputs: tuple[str, ...] | None = None
    """The outputs it can explain; None for any."""

    def applies(self, output: str) -> bool:
        return self.outputs is None or output in self.outputs or any(
            o.endswith(".") and output.startswith(o) for o in self.outputs)


def mistake(code: str, outputs: tuple[str, ...] | None = None):
    def wrap(attempts: Callable[[Context], Iterable[Attempt]]) -> Mistake:
        return Mistake(code, attempts, outputs)
    return wrap


def _cells(n: int) -> str:
    return f"{n} cell{'s' * (n != 1)}"


# --- every op -------------------------------------------------------------------------------

@mistake("transposed")
def transposed(ctx: Context) -> Iterator[Attempt]:
    e = ctx.expected
    if e.ndim == 2 and e.shape[0] == e.shape[1]:
        yield e.T, ("Rows and columns are swapped: each number is right but sits at its mirror image "
                    "across the diagonal.")


_SYMBOLS = {"input": "x", "kernel": "k", "weight": "W", "bias": "b", "grad_output": "δ", "prediction": "ŷ",
            "target": "t"}


def _factor_name(f) -> str:
    symbol = _SYMBOLS.get(f.tensor, f.tensor)
    return f"{symbol}({label(f.index)})" if f.index else symbol


def describe_term(t) -> str:
    """'x(1,2)·k(1,2) = 0·(−1)' for a product, 'b = 0.2' for a lone factor."""
    names = "·".join(_factor_name(f) for f in t.factors)
    values = "·".join(fmt(f.value) if f.value >= 0 else f"({fmt(f.value)})" for f in t.factors)
    return f"{names} = {values}" if names else values


def _one_term(ctx: Context, least: int = 1) -> Iterator[tuple[tuple[int, ...], Step, Any, float]]:
    """For a single wrong cell written by a sum of at least ``least`` terms: each term, and what it is
    worth in the result."""
    if len(ctx.wrong) != 1:
        return
    index = ctx.wrong[0]
    step = ctx.step(index)
    if step is None or step.combine not in (Combine.SUM, Combine.MEAN) or not least <= len(step.terms) <= 400:
        return
    scale = 1.0 / step.divisor if step.combine is Combine.MEAN else 1.0
    for t in step.terms:
        if t.value != 0:
            yield index, step, t, t.value * scale


@mistake("sign_slip")
def sign_slip(ctx: Context) -> Iterator[Attempt]:
    for index, step, t, worth in _one_term(ctx):
        values = ctx.expected.copy()
        values[index] -= 2 * worth
        twins = sum(1 for other in step.terms if other.value == t.value)
        which = (f"the term {describe_term(t)}" if twins == 1 else
                 f"one of the {twins} terms worth {fmt(t.value)}, such as {describe_term(t)},")
        yield values, f"One sign slipped in {step.title}: {which} was taken as {fmt(-t.value)}."


@mistake("term_dropped")
def term_dropped(ctx: Context) -> Iterator[Attempt]:
    for index, step, t, worth in _one_term(ctx, least=2):
        values = ctx.expected.copy()
        values[index] -= worth
        twins = sum(1 for other in step.terms if other.value == t.value)
        which = describe_term(t) if twins == 1 else f"one of the {twins} terms worth {fmt(t.value)}"
        yield values, f"One term of {step.title} was left out: {which}."


EVERY_OP = (transposed, sign_slip, term_dropped)


@mistake("relu_applied", outputs=("output",))
def relu_applied(ctx: Context) -> Iterator[Attempt]:
    if np.any(ctx.expected < 0):
        yield np.maximum(ctx.expected, 0.0), ("A ReLU was applied, turning the negative cells into 0; this "
                                              "output comes before any activation, so they stay negative.")


# --- convolution ----------------------------------------------------------------------------

@mistake("kernel_flipped")
def kernel_flipped(ctx: Context) -> Iterator[Attempt]:
    correlation = ctx.field("mode", "correlation") == "correlation"
    other = "convolution" if correlation else "correlation"
    sentences = {
        "output": ("The kernel was rotated 180° before sliding, as a true convolution does; this layer is a "
                   "cross-correlation (what CNN libraries call convolution), so the kernel slides as written."
                   if correlation else
                   "The kernel slid as written (a cross-correlation); a true convolution first rotates it 180°."),
        "grad_input": ("The kernel slid over δ as written; ∂L/∂x is the full convolution of δ with the kernel, "
                       "which means rotating the kernel 180° before sliding it."
                       if correlation else
                       "The kernel was rotated for ∂L/∂x; in a true convolution the forward pass already rotated "
                       "it, so over δ it slides as written."),
        "grad_weight": ("The weight gradient came out rotated 180°: kernel cell (m, n) pairs δ with the input "
                        "cells it touched, with no rotation."
                        if correlation else
                        "The weight gradient is not rotated back: a true convolution rotated the kernel, so its "
                        "gradient must be rotated 180° too."),
    }
    if ctx.output in sentences:
        yield ctx.rerun(mode=other), sentences[ctx.output]


@mistake("kernel_transposed", outputs=("output",))
def kernel_transposed(ctx: Context) -> Iterator[Attempt]:
    kernel = np.asarray(ctx.problem["kernel"], dtype=float)
    if kernel.ndim in (2, 4) and kernel.shape[-1] == kernel.shape[-2]:
        yield ctx.rerun(kernel=np.swapaxes(kernel, -1, -2)), ("The kernel was read with its rows and columns "
                                                              "swapped: row i of the kernel is written across, "
                                                              "left to right.")


@mistake("bias_forgotten", outputs=("output",))
def bias_forgotten(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("bias") is not None:
        yield ctx.rerun(bias=None), "The bias was left out: it is added once to every output cell."


@mistake("bias_per_term", outputs=("output",))
def bias_per_term(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("bias") is None:
        return
    without = ctx.rerun(bias=None)
    first = ctx.step((0,) * ctx.expected.ndim)
    if without is None or first is None:
        return
    products = len(first.terms) - 1
    if products > 1:
        yield without + products * (ctx.expected - without), (
            f"The bias was added to each of the {products} products instead of once to their sum.")


def _nearby(value: int) -> list[int]:
    return [v for v in (1, value - 1, value + 1) if v >= 1 and v != value]


def _as_pair(value: Any) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (list, tuple)) else (int(value), int(value))


@mistake("stride_misread")
def stride_misread(ctx: Context) -> Iterator[Attempt]:
    pooling = ctx.op.startswith("pool2d")
    given = ctx.field("stride")
    if pooling and given is None:
        window = _as_pair(ctx.problem["kernel_size"])
        if window != (1, 1):
            yield ctx.rerun(stride=1), ("The window moved one cell at a time; a pooling window's stride is its "
                                        f"own size unless another is given, so here it jumps {_pair_text(window)}.")
        return
    stride = _as_pair(1 if given is None else given)
    if pooling and stride == (1, 1):
        window = _as_pair(ctx.problem["kernel_size"])
        if window != (1, 1):
            yield ctx.rerun(stride=None), (f"The window jumped its own size, {_pair_text(window)}; the stride "
                                           "given is 1, so it moves one cell at a time.")
    if stride[0] != stride[1]:
        yield ctx.rerun(stride=[stride[1], stride[0]]), ("The row and column strides were swapped: the first "
                                                         "number is the step down, the second the step across.")
    for s in _nearby(max(stride)):
        yield ctx.rerun(stride=s), (f"The window moved {s} cell{'s' * (s != 1)} at a time; the stride is "
                                    f"{_pair_text(stride)}.")


def _pair_text(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]} down and {pair[1]} across"


@mistake("padding_misread")
def padding_misread(ctx: Context) -> Iterator[Attempt]:
    padding = ctx.field("padding", 0)
    words = not ctx.op.startswith("pool2d")
    if padding == "same":
        yield ctx.rerun(padding=0), ("No padding was added; 'same' pads the input with zeros so that, at "
                                     "stride 1, the output keeps the input's size.")
        return
    if padding in ("valid", 0):
        if words:
            yield ctx.rerun(padding="same"), ("The input was padded to keep its size ('same'); this layer has no "
                                              "padding ('valid'), so the kernel stays inside the input.")
        yield ctx.rerun(padding=1), "A border of zeros was added; this layer has no padding."
        return
    if isinstance(padding, (list, tuple)):
        yield ctx.rerun(padding=0), "The padding was left out: the input gets its border of zeros first."
        return
    yield ctx.rerun(padding=0), (f"The padding was left out: the input first gets a border of {padding} "
                                 f"zero{'s' * (padding != 1)} on every side.")
    for p in (padding - 1, padding + 1):
        if p >= 1:
            yield ctx.rerun(padding=p), (f"A border of {p} zero{'s' * (p != 1)} was added; the padding is "
                                         f"{padding}.")


@mistake("dilation_ignored")
def dilation_ignored(ctx: Context) -> Iterator[Attempt]:
    dilation = ctx.field("dilation", 1)
    if dilation not in (1, [1, 1], (1, 1)):
        yield ctx.rerun(dilation=1), ("The dilation was ignored: the kernel's cells were laid side by side, but "
                                      f"with dilation {_pair_text(_as_pair(dilation))} they sit that many cells "
                                      "apart, skipping the cells between.")


@mistake("delta_averaged", outputs=("grad_bias",))
def delta_averaged(ctx: Context) -> Iterator[Attempt]:
    count = ctx.tensor("grad_output").size // max(ctx.expected.size, 1)
    if count > 1:
        yield ctx.expected / count, (f"The {count} δ values were averaged; the bias is added to every output "
                                     "cell, so its gradient is their sum.")


CONV = (kernel_flipped, kernel_transposed, bias_forgotten, bias_per_term, stride_misread, padding_misread,
        dilation_ignored, relu_applied)
CONV_BACKWARD = (kernel_flipped, delta_averaged)
"""Backward: a misread stride or padding would change δ's shape, which is given, so only these apply."""


# --- pooling --------------------------------------------------------------------------------

_POOL_WORDS = {"max": "the window's largest cell was kept", "avg": "the window was averaged",
               "min": "the window's smallest cell was kept"}
_POOL_RULES = {"max": "max pooling keeps the largest cell", "avg": "average pooling takes the mean of the cells",
               "min": "min pooling keeps the smallest cell"}


@mistake("pool_kind", outputs=("output",))
def pool_kind(ctx: Context) -> Iterator[Attempt]:
    kind = ctx.field("kind", "max")
    for other in ("max", "avg", "min"):
        if other != kind:
            yield ctx.rerun(kind=other), f"{_POOL_WORDS[other].capitalize()}; {_POOL_RULES[kind]}."


@mistake("ceil_mode_misread")
def ceil_mode_misread(ctx: Context) -> Iterator[Attempt]:
    ceil = bool(ctx.field("ceil_mode", False))
    yield ctx.rerun(ceil_mode=not ceil), (
        "The output size was rounded up, keeping a last partial window; it is rounded down (floor), so a "
        "window that would run past the input is dropped." if not ceil else
        "The output size was rounded down; with ceil_mode it is rounded up, keeping a last partial window "
        "that starts inside the input.")


@mistake("count_include_pad_misread", outputs=("output", "grad_input"))
def count_include_pad_misread(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind", "max") != "avg" or ctx.field("padding", 0) in (0, [0, 0], (0, 0)):
        return
    counted = bool(ctx.field("count_include_pad", True))
    yield ctx.rerun(count_include_pad=not counted), (
        "The padded cells were left out of the average; here they count as zeros, so every window divides "
        "by its full size." if counted else
        "The padded cells were counted in the average; here only the input's own cells are counted.")


@mistake("padding_won", outputs=("output",))
def padding_won(ctx: Context) -> Iterator[Attempt]:
    kind = ctx.field("kind", "max")
    pads = _as_pair(ctx.field("padding", 0))
    if kind == "avg" or pads == (0, 0):
        return
    x = np.asarray(ctx.problem["input"], dtype=float)
    widths = [(0, 0)] * (x.ndim - 2) + [(pads[0], pads[0]), (pads[1], pads[1])]
    yield ctx.rerun(input=np.pad(x, widths), padding=0), (
        f"A padded zero won a window; padded cells never win a {kind} pool, only the input's own cells compete.")


def _routed(ctx: Context, pick: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray | None:
    """Max/min pooling's ∂L/∂x when ``pick(values, real)`` chooses the share of each window cell."""
    p = ctx.problem
    pb = pool_problem(p["input"], p.get("kind") or "max", p["kernel_size"], p.get("stride"),
                      p.get("padding") or 0, bool(p.get("ceil_mode")), p.get("count_include_pad", True))
    values, kinds = pb.windows()
    N, C, H_out, W_out = pb.out_shape
    flat = values.reshape(N, C, H_out, W_out, -1)
    real = np.broadcast_to((kinds == 2).reshape(H_out, W_out, -1), flat.shape)
    share = pick(flat if pb.kind == "max" else -flat, real).reshape(values.shape)
    delta = np.asarray(ctx.trace.inputs["grad_output"], dtype=float).reshape(pb.out_shape)
    (kH, kW), (sH, sW), (pH, pW) = pb.kernel, pb.stride, pb.pads
    grad = np.zeros((N, C) + pb.extended()[1].shape)
    for a in range(kH):
        for b in range(kW):
            grad[:, :, a:a + sH * H_out:sH, b:b + sW * W_out:sW] += delta * share[..., a, b]
    return pb.layout.shape(grad[:, :, pH:pH + pb.x.shape[2], pW:pW + pb.x.shape[3]])


def _last_winner(flat: np.ndarray, real: np.ndarray) -> np.ndarray:
    size = flat.shape[-1]
    last = size - 1 - np.argmax(np.where(real, flat, -np.inf)[..., ::-1], axis=-1)
    share = np.zeros(flat.shape)
    np.put_along_axis(share, last[..., None], 1.0, axis=-1)
    return share


def _every_winner(flat: np.ndarray, real: np.ndarray) -> np.ndarray:
    best = np.where(real, flat, -np.inf).max(axis=-1, keepdims=True)
    return ((flat == best) & real).astype(float)


@mistake("tie_last_winner", outputs=("grad_input",))
def tie_last_winner(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind", "max") != "avg":
        yield _routed(ctx, _last_winner), ("In a window with a tie, δ went to the last of the equal cells; it goes "
                                           "to the first one in row-major order (PyTorch's rule).")


@mistake("tie_every_winner", outputs=("grad_input",))
def tie_every_winner(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind", "max") != "avg":
        yield _routed(ctx, _every_winner), ("In a window with a tie, every equal cell received δ; only one cell "
                                            "wins, the first in row-major order, and it alone gets δ.")


@mistake("pool_gradient_kind", outputs=("grad_input",))
def pool_gradient_kind(ctx: Context) -> Iterator[Attempt]:
    kind = ctx.field("kind", "max")
    if kind == "avg":
        yield ctx.rerun(kind="max"), ("All of δ went to the window's largest cell; average pooling spreads δ "
                                      "evenly, each cell getting δ divided by the window's size.")
    else:
        yield ctx.rerun(kind="avg"), (f"δ was spread evenly over the window, as average pooling does; {kind} "
                                      "pooling sends all of it to the winning cell and 0 to the rest.")


POOL = (pool_kind, stride_misread, padding_misread, ceil_mode_misread, count_include_pad_misread, padding_won)
POOL_BACKWARD = (tie_last_winner, tie_every_winner, pool_gradient_kind, count_include_pad_misread)


# --- dense ----------------------------------------------------------------------------------

def _square_weight(ctx: Context) -> np.ndarray | None:
    w = np.asarray(ctx.problem["weight"], dtype=float)
    return w if w.ndim == 2 and w.shape[0] == w.shape[1] else None


@mistake("weight_columns", outputs=("output",))
def weight_columns(ctx: Context) -> Iterator[Attempt]:
    w = _square_weight(ctx)
    if w is not None:
        yield ctx.rerun(weight=w.T), ("Each neuron used a column of W; W is (out, in), so neuron j takes row j: "
                                      "y = W x.")


@mistake("weight_not_transposed", outputs=("grad_input",))
def weight_not_transposed(ctx: Context) -> Iterator[Attempt]:
    w = _square_weight(ctx)
    if w is not None:
        yield ctx.rerun(weight=w.T), ("∂L/∂x used W δ; the gradient flows back through the transpose, Wᵀδ, so "
                                      "input i collects column i of W times δ.")


@mistake("batch_averaged", outputs=("grad_weight", "grad_bias"))
def batch_averaged(ctx: Context) -> Iterator[Attempt]:
    x = np.asarray(ctx.problem["input"], dtype=float)
    if x.ndim == 2 and x.shape[0] > 1:
        N = x.shape[0]
        yield ctx.expected / N, (f"The gradient was averaged over the {N} samples; a batch's contributions are "
                                 "added, since the loss already says how samples are weighed.")


DENSE = (weight_columns, bias_forgotten, bias_per_term, relu_applied)
DENSE_BACKWARD = (weight_not_transposed, batch_averaged)


# --- activations ----------------------------------------------------------------------------

_RECTIFIERS = {"relu": "ReLU turns every negative cell into 0",
               "leaky_relu": "LeakyReLU multiplies every negative cell by α",
               "relu6": "ReLU6 turns negative cells into 0 and caps the rest at 6"}


@mistake("activation_skipped", outputs=("output",))
def activation_skipped(ctx: Context) -> Iterator[Attempt]:
    function = ctx.field("function")
    if function in _RECTIFIERS:
        yield ctx.tensor("input"), f"The input was copied unchanged; {_RECTIFIERS[function]}."


@mistake("rectifier_confused", outputs=("output",))
def rectifier_confused(ctx: Context) -> Iterator[Attempt]:
    function = ctx.field("function")
    if function == "leaky_relu":
        yield ctx.rerun(function="relu"), ("Negative cells were set to 0; LeakyReLU keeps α times them "
                                           f"(α = {fmt(ctx.field('alpha', 0.01))}).")
    elif function == "relu6":
        yield ctx.rerun(function="relu"), "The cap at 6 was left out: ReLU6 never passes more than 6."
    elif function == "relu":
        yield ctx.rerun(function="leaky_relu"), "Negative cells were scaled by α; plain ReLU sets them to 0."


@mistake("sigmoid_sign", outputs=("output",))
def sigmoid_sign(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("function") == "sigmoid":
        yield 1.0 - ctx.expected, ("e^x was used in place of e^(−x), which gives 1 − σ(x); the sigmoid is "
                                   "1/(1 + e^(−x)).")


@mistake("squash_confused", outputs=("output",))
def squash_confused(ctx: Context) -> Iterator[Attempt]:
    function = ctx.field("function")
    if function in ("sigmoid", "tanh"):
        other = "tanh" if function == "sigmoid" else "sigmoid"
        names = {"sigmoid": "the sigmoid 1/(1 + e^(−x))", "tanh": "tanh"}
        yield ctx.rerun(function=other), f"This is {names[other]}; the function asked for is {names[function]}."


def _softmax_axis(ctx: Context) -> int:
    x = ctx.tensor("input")
    return int(ctx.field("dim", -1)) % x.ndim


@mistake("softmax_overflow", outputs=("output",))
def softmax_overflow(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("function") != "softmax":
        return
    x = ctx.tensor("input")
    axis = _softmax_axis(ctx)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(x)
        naive = e / e.sum(axis=axis, keepdims=True)
    if not np.all(np.isfinite(naive)) or np.any((naive == 0) & (x == x.max(axis=axis, keepdims=True))):
        yield naive, ("The scores were exponentiated without first subtracting the row's largest score: e^z "
                      "overflows (or underflows), leaving ∞/∞ = NaN and zeros. Subtract the maximum first; the "
                      "probabilities do not change.")


@mistake("softmax_not_normalized", outputs=("output",))
def softmax_not_normalized(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("function") == "softmax":
        x = ctx.tensor("input")
        with np.errstate(over="ignore"):
            yield np.exp(x), "The exponentials were not divided by their sum, so they do not add up to 1."
        yield np.exp(x - x.max(axis=_softmax_axis(ctx), keepdims=True)), (
            "The shifted exponentials e^(z − m) were not divided by their sum, so they do not add up to 1.")


@mistake("softmax_axis", outputs=("output", "grad_input"))
def softmax_axis(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("function") != "softmax":
        return
    x = ctx.tensor("input")
    axis = _softmax_axis(ctx)
    for other in range(x.ndim):
        if other != axis:
            yield ctx.rerun(dim=other), (f"The softmax ran along axis {other}; it runs along axis {axis}, so each "
                                         f"{'row' if axis == x.ndim - 1 else 'column'} of scores adds up to 1.")


@mistake("delta_not_applied", outputs=("grad_input",))
def delta_not_applied(ctx: Context) -> Iterator[Attempt]:
    derivative = ctx.trace.intermediates.get("derivative")
    if derivative is not None:
        yield np.asarray(derivative, dtype=float), ("The slope f'(x) was not multiplied by the incoming "
                                                    "gradient δ: ∂L/∂x = δ · f'(x).")


@mistake("derivative_from_input", outputs=("grad_input",))
def derivative_from_input(ctx: Context) -> Iterator[Attempt]:
    function = ctx.field("function")
    x, g = ctx.tensor("input"), ctx.tensor("grad_output")
    if function == "sigmoid":
        yield g * x * (1 - x), ("σ' was worked out as x(1 − x) on the input; it is σ(x)(1 − σ(x)), on the "
                                "sigmoid's output.")
    elif function == "tanh":
        yield g * (1 - x * x), "tanh' was worked out as 1 − x²; it is 1 − tanh²(x), on the output."


@mistake("output_for_derivative", outputs=("grad_input",))
def output_for_derivative(ctx: Context) -> Iterator[Attempt]:
    output = ctx.trace.intermediates.get("output")
    if ctx.field("function") in ("sigmoid", "tanh") and output is not None:
        yield ctx.tensor("grad_output") * np.asarray(output, dtype=float), (
            "δ was multiplied by the activation's value f(x); it is multiplied by its slope f'(x).")


@mistake("relu_kink", outputs=("grad_input",))
def relu_kink(ctx: Context) -> Iterator[Attempt]:
    function = ctx.field("function")
    x, g = ctx.tensor("input"), ctx.tensor("grad_output")
    if function in ("relu", "relu6") and np.any(x == 0):
        slope = ((x >= 0) & (x < 6)) if function == "relu6" else (x >= 0)
        yield g * slope, ("At x = 0 the slope was taken as 1; the kink's derivative is taken as 0, as PyTorch "
                          "does, so no gradient passes there.")


@mistake("softmax_diagonal", outputs=("grad_input",))
def softmax_diagonal(ctx: Context) -> Iterator[Attempt]:
    output = ctx.trace.intermediates.get("output")
    if ctx.field("function") == "softmax" and output is not None:
        p = np.asarray(output, dtype=float)
        yield p * (1 - p) * ctx.tensor("grad_output"), (
            "Only the Jacobian's diagonal p(1 − p) was used; every probability depends on every score, so the "
            "off-diagonal terms −p_i p_j add in too.")


ACTIVATION = (activation_skipped, rectifier_confused, sigmoid_sign, squash_confused, softmax_overflow,
              softmax_not_normalized, softmax_axis)
ACTIVATION_BACKWARD = (delta_not_applied, derivative_from_input, output_for_derivative, relu_kink,
                       softmax_diagonal, softmax_axis)


# --- losses ---------------------------------------------------------------------------------

_SCALES = {"mean": "mean (÷N)", "sum": "plain sum", "half_sum": "half sum (½Σ)"}


@mistake("mse_scale", outputs=("loss", "grad_input"))
def mse_scale(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind") != "mse":
        return
    reduction = ctx.field("reduction", "mean")
    what = "loss" if ctx.output == "loss" else "gradient"
    for other in ("mean", "sum", "half_sum"):
        if other != reduction:
            yield ctx.rerun(reduction=other), (f"The {what} used the {_SCALES[other]} of the squared errors; "
                                               f"reduction '{reduction}' takes their {_SCALES[reduction]}.")
    if ctx.output == "loss":
        count = ctx.tensor("prediction").size
        if count > 1:
            half = ctx.rerun(reduction="half_sum")
            if half is not None:
                yield half / count, (f"Both ½ and 1/N were applied (1/(2N)); reduction '{reduction}' takes the "
                                     f"{_SCALES[reduction]} of the squared errors.")


@mistake("square_derivative", outputs=("grad_input",))
def square_derivative(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind") == "mse" and ctx.field("reduction", "mean") != "half_sum":
        yield ctx.expected / 2, "The 2 from differentiating the square was dropped: d(e²)/de = 2e."


@mistake("classes_averaged", outputs=("loss", "grad_input"))
def classes_averaged(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind") in ("cross_entropy", "softmax_cross_entropy") and ctx.field("reduction", "mean") == "mean":
        z = ctx.tensor("prediction")
        C, N = z.shape[-1], (z.shape[0] if z.ndim == 2 else 1)
        yield ctx.expected / C, (f"The loss was averaged over the {C} classes; cross-entropy's mean is over the "
                                 f"{N} sample{'s' * (N != 1)}, each sample's loss being a sum over its classes.")


@mistake("reduction_swapped", outputs=("loss", "grad_input"))
def reduction_swapped(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind") == "mse":
        return
    reduction = ctx.field("reduction", "mean")
    other = "sum" if reduction == "mean" else "mean"
    yield ctx.rerun(reduction=other), ("The losses were added up; reduction 'mean' divides their sum by the "
                                       "number of " + ("elements." if ctx.field("kind") == "binary_cross_entropy"
                                                       else "samples.")
                                       if reduction == "mean" else
                                       "The losses were averaged; reduction 'sum' adds them up.")


@mistake("log_base", outputs=("loss",))
def log_base(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind") != "mse":
        yield ctx.expected / math.log(10), "Base-10 logarithms were used; cross-entropy uses the natural log, ln."
        yield ctx.expected / math.log(2), "Base-2 logarithms were used; cross-entropy uses the natural log, ln."


@mistake("minus_dropped", outputs=("loss",))
def minus_dropped(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("kind") != "mse":
        yield -ctx.expected, ("The minus sign in front of the sum was dropped: the logs of probabilities are "
                              "negative, and −Σ t log p makes the loss positive.")


LOSS = (mse_scale, square_derivative, classes_averaged, reduction_swapped, log_base, minus_dropped)


# --- output size ----------------------------------------------------------------------------

def _size_axes(ctx: Context) -> list[tuple[int, int, int, int]]:
    """(size, pad before + after, kernel span, stride) per axis, from the resolved parameters."""
    p = ctx.trace.params
    pads = p["padding"]
    return [(p["input_size"][a], pads[2 * a] + pads[2 * a + 1], p["dilation"][a] * (p["kernel_size"][a] - 1) + 1,
             p["stride"][a]) for a in range(2)]


def _like_expected(ctx: Context, values: list[float]) -> np.ndarray:
    return np.array(values[0] if ctx.expected.ndim == 0 else values, dtype=float)


@mistake("size_rounding")
def size_rounding(ctx: Context) -> Iterator[Attempt]:
    ceil = bool(ctx.field("ceil_mode", False))
    yield ctx.rerun(ceil_mode=not ceil), (
        "The division was rounded up; the output size rounds it down (floor), since a window may not run past "
        "the padded input." if not ceil else
        "The division was rounded down; with ceil_mode the output size rounds it up.")
    axes = _size_axes(ctx)
    rounded = [math.floor((n + pad - span) / s + 0.5) + 1 for n, pad, span, s in axes]
    yield _like_expected(ctx, rounded), ("The division was rounded to the nearest whole number; the output size "
                                         "rounds it down (floor): a partial window does not count.")
    exact = [(n + pad - span) / s + 1 for n, pad, span, s in axes]
    yield _like_expected(ctx, exact), ("The division was not rounded; a size is a whole number of windows, so "
                                       "(W − F + 2P)/S is rounded down before adding 1.")


@mistake("plus_one_forgotten")
def plus_one_forgotten(ctx: Context) -> Iterator[Attempt]:
    yield ctx.expected - 1, ("The + 1 was left out: (W − F + 2P)/S counts the steps the window takes, and the "
                             "first position adds one more.")


@mistake("padding_once")
def padding_once(ctx: Context) -> Iterator[Attempt]:
    axes = _size_axes(ctx)
    if any(pad for _, pad, _, _ in axes):
        once = [(n + pad // 2 - span) // s + 1 for n, pad, span, s in axes]
        yield _like_expected(ctx, once), ("The padding was counted on one side only; it is added on both sides, "
                                          "hence the 2P.")


OUTPUT_SIZE = (size_rounding, plus_one_forgotten, padding_once, dilation_ignored)


# --- flatten --------------------------------------------------------------------------------

@mistake("flatten_order", outputs=("output",))
def flatten_order(ctx: Context) -> Iterator[Attempt]:
    x = ctx.tensor("input")
    batch = x.ndim == 4
    cells = x if batch else x[None]
    rows = len(cells)

    def flat(a: np.ndarray) -> np.ndarray:
        out = a.reshape(rows, -1)
        return out if batch else out[0]

    if cells.ndim >= 3:
        yield flat(np.swapaxes(cells, -1, -2)), ("The cells were read column by column; flatten reads row by "
                                                 "row: all of row 1, then row 2.")
    if cells.ndim == 4:
        yield flat(np.moveaxis(cells, 1, -1)), ("The channels were interleaved (height, width, channel order, as "
                                                "Keras stores it); PyTorch's flatten takes all of channel 1 first.")


FLATTEN = (flatten_order,)


# --- optimizers -----------------------------------------------------------------------------

def _named(value: Any) -> dict[str, np.ndarray]:
    return {name: np.asarray(v, dtype=float) for name, v in (value or {}).items()}


def _rule(ctx: Context) -> str:
    kind = ctx.field("kind")
    return "momentum" if kind == "sgd" and ctx.field("momentum", 0.0) > 0 else kind


@mistake("update_added")
def update_added(ctx: Context) -> Iterator[Attempt]:
    state = ctx.problem.get("state")
    flipped = None
    if state is not None:
        flipped = {**state, **{b: {k: -np.asarray(v, dtype=float) for k, v in state[b].items()}
                               for b in ("velocity", "m") if state.get(b) is not None}}
    grads = {k: -v for k, v in _named(ctx.problem["grads"]).items()}
    if ctx.field("weight_decay", 0.0) == 0:
        yield ctx.rerun(grads=grads, state=flipped), ("The update was added; a step goes against the gradient, "
                                                      "w ← w − η·(update).")


@mistake("learning_rate_forgotten")
def learning_rate_forgotten(ctx: Context) -> Iterator[Attempt]:
    if ctx.field("lr") != 1:
        yield ctx.rerun(lr=1.0), (f"The learning rate was left out; the step is η = {fmt(ctx.field('lr'))} "
                                  "times the update.")


@mistake("weight_decay_forgotten")
def weight_decay_forgotten(ctx: Context) -> Iterator[Attempt]:
    decay = ctx.field("weight_decay", 0.0)
    if decay:
        yield ctx.rerun(weight_decay=0.0), (f"The weight decay was left out: λw = {fmt(decay)}·w is added to the "
                                            "gradient before the update.")


def _parameter(ctx: Context) -> str | None:
    """The parameter whose updated value is being checked."""
    return ctx.output[len("params."):] if ctx.output.startswith("params.") else None


def _gradient(ctx: Context, name: str) -> tuple[np.ndarray, np.ndarray]:
    w = _named(ctx.problem["params"])[name]
    return w, _named(ctx.problem["grads"])[name] + ctx.field("weight_decay", 0.0) * w


@mistake("learning_rate_in_velocity", outputs=("params.",))
def learning_rate_in_velocity(ctx: Context) -> Iterator[Attempt]:
    name = _parameter(ctx)
    state = ctx.problem.get("state")
    if _rule(ctx) != "momentum" or state is None or name is None:
        return
    w, g = _gradient(ctx, name)
    velocity = _named(state.get("velocity"))[name]
    lr, mu = ctx.field("lr"), ctx.field("momentum", 0.0)
    yield w - (mu * velocity + lr * g), ("The learning rate went inside the velocity (v ← μv + ηg, w ← w − v); "
                                         "PyTorch keeps it outside: v ← μv + g, then w ← w − ηv.")


@mistake("adam_uncorrected", outputs=("params.",))
def adam_uncorrected(ctx: Context) -> Iterator[Attempt]:
    name = _parameter(ctx)
    if _rule(ctx) != "adam" or name is None:
        return
    w, g = _gradient(ctx, name)
    state = ctx.problem.get("state") or {}
    m0 = _named(state.get("m")).get(name, np.zeros_like(w))
    v0 = _named(state.get("v")).get(name, np.zeros_like(w))
    beta1, beta2 = ctx.field("betas", (0.9, 0.999))
    m = beta1 * m0 + (1 - beta1) * g
    v = beta2 * v0 + (1 - beta2) * g * g
    yield w - ctx.field("lr") * m / (np.sqrt(v) + ctx.field("eps", 1e-8)), (
        "The bias correction was skipped: m and v start at 0, so Adam divides them by 1 − β₁ᵗ and 1 − β₂ᵗ "
        "before the step.")


OPTIMIZER = (update_added, learning_rate_forgotten, weight_decay_forgotten, learning_rate_in_velocity,
             adam_uncorrected)


# --- batch normalization --------------------------------------------------------------------

def _channels(ctx: Context) -> tuple[np.ndarray, tuple[int, ...], np.ndarray, np.ndarray]:
    """x, the axes a channel's statistics run over, and γ, β shaped to broadcast against x."""
    x = ctx.tensor("input")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    gamma = np.asarray(ctx.trace.inputs["gamma"], dtype=float).reshape(shape)
    beta = np.asarray(ctx.trace.inputs["beta"], dtype=float).reshape(shape)
    return x, axes, gamma, beta


@mistake("unbiased_variance", outputs=("output",))
def unbiased_variance(ctx: Context) -> Iterator[Attempt]:
    if not ctx.field("training", True):
        return
    x, axes, gamma, beta = _channels(ctx)
    n = x.size // x.shape[1]
    var = x.var(axis=axes, keepdims=True, ddof=1)
    yield gamma * (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(var + ctx.field("eps", 1e-5)) + beta, (
        f"The variance was divided by n − 1 = {n - 1}; batch norm normalizes with the biased variance, divided "
        f"by n = {n}.")


@mistake("variance_not_rooted", outputs=("output",))
def variance_not_rooted(ctx: Context) -> Iterator[Attempt]:
    if not ctx.field("training", True):
        return
    x, axes, gamma, beta = _channels(ctx)
    var = x.var(axis=axes, keepdims=True)
    yield gamma * (x - x.mean(axis=axes, keepdims=True)) / (var + ctx.field("eps", 1e-5)) + beta, (
        "The cells were divided by the variance; they are divided by the standard deviation, √(σ² + ε).")


@mistake("gamma_beta_swapped", outputs=("output",))
def gamma_beta_swapped(ctx: Context) -> Iterator[Attempt]:
    if ctx.problem.get("gamma") is not None and ctx.problem.get("beta") is not None:
        yield ctx.rerun(gamma=ctx.problem["beta"], beta=ctx.problem["gamma"]), (
            "γ and β were swapped: γ scales the normalized cell and β is added after.")


@mistake("statistics_mode", outputs=("output",))
def statistics_mode(ctx: Context) -> Iterator[Attempt]:
    training = bool(ctx.field("training", True))
    yield ctx.rerun(training=not training), (
        "The running mean and variance were used; in training each channel is normalized with the batch's own "
        "mean and variance." if training else
        "The batch's own mean and variance were used; in evaluation the running statistics normalize the input.")


@mistake("running_update", outputs=("running_mean", "running_var"))
def running_update(ctx: Context) -> Iterator[Attempt]:
    if not ctx.field("training", True):
        return
    x, axes, _, _ = _channels(ctx)
    momentum = ctx.field("momentum", 0.1)
    before = np.asarray(ctx.trace.inputs[ctx.output], dtype=float)
    batch = x.mean(axis=axes) if ctx.output == "running_mean" else x.var(axis=axes, ddof=1)
    yield momentum * before + (1 - momentum) * batch, (
        f"The momentum weighed the old running value; PyTorch's momentum = {fmt(momentum)} is the weight of the "
        "batch's statistic: running ← (1 − momentum)·running + momentum·batch.")
    if ctx.output == "running_var":
        yield (1 - momentum) * before + momentum * x.var(axis=axes), (
            "The running variance was updated with the biased variance; it takes the unbiased one, σ²·n/(n − 1).")


@mistake("statistics_constant", outputs=("grad_input",))
def statistics_constant(ctx: Context) -> Iterator[Attempt]:
    x, axes, gamma, _ = _channels(ctx)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + ctx.field("eps", 1e-5))
    yield gamma * inv_std * ctx.tensor("grad_output"), (
        "The batch's mean and variance were treated as constants; they depend on every cell, which adds the "
        "two terms −(γ/(nσ))·Σδ and −(γ/(nσ))·x̂·Σδx̂.")


BATCHNORM = (unbiased_variance, variance_not_rooted, gamma_beta_swapped, statistics_mode, running_update,
             relu_applied)
BATCHNORM_BACKWARD = (statistics_constant,)


# --- dropout --------------------------------------------------------------------------------

@mistake("dropout_scale", outputs=("output",))
def dropout_scale(ctx: Context) -> Iterator[Attempt]:
    x, keep = ctx.tensor("input"), np.asarray(ctx.trace.outputs["mask"], dtype=float)
    p = ctx.field("p")
    inverted = ctx.field("variant", "inverted") == "inverted"
    if ctx.field("training", True):
        if inverted:
            yield x * keep, ("The kept cells were not divided by 1 − p; inverted dropout scales them up while "
                             "training, so the layer's expected output stays the same.")
            yield x * keep * (1 - p), "The kept cells were multiplied by 1 − p; inverted dropout divides by it."
        else:
            yield x * keep / (1 - p), ("The kept cells were divided by 1 − p; classic dropout leaves them as they "
                                       "are while training and scales at evaluation instead.")
        yield x * (1 - keep) * (1 / (1 - p) if inverted else 1.0), (
            "The mask was read the wrong way round: a 1 keeps a cell and a 0 drops it.")
    elif inverted:
        yield x * (1 - p), ("At evaluation inverted dropout passes the input unchanged; the (1 − p) scale belongs "
                            "to classic dropout.")
    else:
        yield x, "At evaluation classic dropout multiplies every cell by 1 − p."


DROPOUT = (dropout_scale,)


MISTAKES: dict[str, tuple[Mistake, ...]] = {
    "conv2d": CONV, "conv1d": CONV,
    "conv2d/backward": CONV_BACKWARD, "conv1d/backward": CONV_BACKWARD,
    "pool2d": POOL, "pool2d/backward": POOL_BACKWARD,
    "dense": DENSE, "dense/backward": DENSE_BACKWARD,
    "activation": ACTIVATION, "activation/backward": ACTIVATION_BACKWARD,
    "loss": LOSS, "output-size": OUTPUT_SIZE, "flatten": FLATTEN,
    "optimizer": OPTIMIZER, "batchnorm": BATCHNORM, "batchnorm/backward": BATCHNORM_BACKWARD,
    "dropout": DROPOUT, "im2col": (),
}
"""The mistakes tried for each op, in order; ``EVERY_OP`` follows."""
