"""Practice problems: an op, a seed and a difficulty give one problem small enough to work by hand.

``practice("conv2d", seed=7)`` draws the numbers with ``numpy.random.default_rng(seed)`` (so the same
seed and difficulty always give the same problem), works the problem with the op itself, and returns

    {"op", "difficulty", "seed", "prompt", "problem", "output", "answer"}

``problem`` is the op's JSON body (the API's field names, tensors as nested lists), ``output`` names the
output the question asks for (the one ``check_answer`` checks by default) and ``answer`` is its value,
exactly as the op's route computes it.

Difficulty:

- easy: whole numbers from −3 to 5 and the plainest form of the op (stride 1, no padding, ReLU, SGD);
- medium: numbers with one decimal, and the op's second rule (average pooling, sigmoid, weight decay);
- hard: a stride, padding, bias, a second channel or sample, or the op's hardest variant (true
  convolution, ceil mode, softmax, Adam, evaluation-mode batch norm).

Sizes keep every cell of the answer to at most 18 terms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .check import CHECKABLE, TRACE_NAMES
from .errors import EngineError
from .trace import Trace
from .trace import _flatten as _flat

DIFFICULTIES = ("easy", "medium", "hard")
MAX_SEED = 2**32 - 1

Rng = np.random.Generator
Problem = tuple[dict[str, Any], str]
"""(the op's body, the one-sentence question)."""


# --- numbers a person can work with -----------------------------------------------------------

def _listed(a: np.ndarray) -> Any:
    """An array as JSON-ready nested lists: whole numbers as ints, the rest to one decimal."""
    if np.issubdtype(a.dtype, np.integer):
        return a.tolist()
    return np.round(a, 1).tolist()


def _ints(rng: Rng, shape: Sequence[int], low: int = -3, high: int = 5) -> Any:
    return _listed(rng.integers(low, high + 1, size=tuple(shape)))


def _tenths(rng: Rng, shape: Sequence[int], low: float = -2.0, high: float = 3.0) -> Any:
    return _listed(rng.integers(round(low * 10), round(high * 10) + 1, size=tuple(shape)) / 10)


def _values(rng: Rng, shape: Sequence[int], level: str, low: int = -3, high: int = 5) -> Any:
    """Whole numbers from ``low`` to ``high``, or at medium one decimal within about the same range."""
    if level == "medium":
        return _tenths(rng, shape, max(low, -2), min(high, 3))
    return _ints(rng, shape, low, high)


def _distinct(rng: Rng, shape: Sequence[int], level: str) -> Any:
    """Different numbers in every cell, so no pooling window has a tie."""
    cells = int(np.prod(shape))
    if level == "medium":
        pool = np.arange(-20, max(51, cells - 19)) / 10
    else:
        pool = np.arange(-3, max(6, cells - 2))
    return _listed(rng.choice(pool, size=cells, replace=False).reshape(tuple(shape)))


def _pick(rng: Rng, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _size(shape: Sequence[int]) -> str:
    return "×".join(str(n) for n in shape)


def _num(value: float) -> str:
    text = f"{value:g}"
    return text.replace("-", "−")


# --- convolution ------------------------------------------------------------------------------

def _conv_words(stride: int, padding: int, dilation: int = 1) -> str:
    parts = [f"stride {stride}", f"padding {padding}" if padding else "no padding"]
    if dilation > 1:
        parts.append(f"dilation {dilation}")
    return ", ".join(parts)


def _conv2d_setup(rng: Rng, level: str, backward: bool = False) -> tuple[dict[str, Any], str]:
    """A 2-D convolution's body (without grad_output) and the words that describe it.

    A backward problem has no second channel: its δ would need a filter axis the walkthrough page
    cannot take, so it pads instead."""
    if level != "hard":
        k = int(_pick(rng, (2, 3)))
        n = k + int(rng.integers(1, 3))
        body = {"input": _values(rng, (n, n), level), "kernel": _ints(rng, (k, k), -2, 2)}
        return body, f"the {n}×{n} input x cross-correlated with the {k}×{k} kernel k ({_conv_words(1, 0)})"
    variant = _pick(rng, ("stride", "padding" if backward else "channels", "flipped"))
    bias = int(rng.integers(-2, 3)) or 1
    if variant == "padding":
        body = {"input": _ints(rng, (3, 3)), "kernel": _ints(rng, (2, 2), -2, 2), "bias": bias, "padding": 1}
        words = f"the 3×3 input x cross-correlated with the 2×2 kernel k ({_conv_words(1, 1)}) plus the bias"
    elif variant == "stride":
        n = int(_pick(rng, (4, 5)))
        body = {"input": _ints(rng, (n, n)), "kernel": _ints(rng, (3, 3), -2, 2), "bias": bias,
                "stride": 2, "padding": 1}
        words = f"the {n}×{n} input x cross-correlated with the 3×3 kernel k ({_conv_words(2, 1)}) plus the bias"
    elif variant == "channels":
        n = int(_pick(rng, (3, 4)))
        body = {"input": _ints(rng, (2, n, n)), "kernel": _ints(rng, (1, 2, 2, 2), -2, 2), "bias": bias}
        words = (f"the 2-channel {n}×{n} input x cross-correlated with the kernel k, one 2×2 slice per channel "
                 f"({_conv_words(1, 0)}), both channels added, plus the bias")
    else:
        k = int(_pick(rng, (2, 3)))
        n = k + int(rng.integers(1, 3))
        body = {"input": _ints(rng, (n, n)), "kernel": _ints(rng, (k, k), -2, 2), "bias": bias,
                "mode": "convolution"}
        words = (f"the {n}×{n} input x convolved in the true sense with the {k}×{k} kernel k (rotated 180° first; "
                 f"{_conv_words(1, 0)}) plus the bias")
    return body, words + f" b = {_num(bias)}"


def _conv2d(rng: Rng, level: str) -> Problem:
    body, words = _conv2d_setup(rng, level)
    return body, f"Write the output z: {words}."


def _grad_output(rng: Rng, op: Callable[[dict[str, Any]], Trace], body: dict[str, Any], level: str) -> Any:
    """δ = ∂L/∂z in the shape of the forward output of ``body``."""
    shape = np.shape(op(body).outputs["output"])
    return _values(rng, shape, level, -2, 3)


def _conv2d_backward(rng: Rng, level: str) -> Problem:
    body, words = _conv2d_setup(rng, level, backward=True)
    body["grad_output"] = _grad_output(rng, CHECKABLE["conv2d"].run, body, level)
    return body, f"The output z is {words}; given δ = ∂L/∂z, find ∂L/∂x for every input cell."


def _conv1d_setup(rng: Rng, level: str) -> tuple[dict[str, Any], str]:
    if level != "hard":
        k = int(_pick(rng, (2, 3)))
        n = k + int(rng.integers(2, 5))
        body = {"input": _values(rng, (n,), level), "kernel": _ints(rng, (k,), -2, 2)}
        return body, f"the sequence x of {n} numbers cross-correlated with the kernel k of {k} ({_conv_words(1, 0)})"
    variant = _pick(rng, ("stride", "dilation", "flipped"))
    bias = int(rng.integers(-2, 3)) or 1
    k = 3 if variant != "dilation" else 2
    n = int(rng.integers(5, 8))
    body = {"input": _ints(rng, (n,)), "kernel": _ints(rng, (k,), -2, 2), "bias": bias}
    if variant == "stride":
        body.update(stride=2, padding=1)
        words = f"the sequence x of {n} numbers cross-correlated with the kernel k of {k} ({_conv_words(2, 1)})"
    elif variant == "dilation":
        body.update(dilation=2)
        words = (f"the sequence x of {n} numbers cross-correlated with the kernel k of {k} "
                 f"({_conv_words(1, 0, 2)}: the taps are 2 cells apart)")
    else:
        body.update(mode="convolution")
        words = (f"the sequence x of {n} numbers convolved in the true sense with the kernel k of {k} "
                 f"(reversed first; {_conv_words(1, 0)})")
    return body, words + f" plus the bias b = {_num(bias)}"


def _conv1d(rng: Rng, level: str) -> Problem:
    body, words = _conv1d_setup(rng, level)
    return body, f"Write the output z: {words}."


def _conv1d_backward(rng: Rng, level: str) -> Problem:
    body, words = _conv1d_setup(rng, level)
    body["grad_output"] = _grad_output(rng, CHECKABLE["conv1d"].run, body, level)
    return body, f"The output z is {words}; given δ = ∂L/∂z, find ∂L/∂x for every input cell."


def _im2col(rng: Rng, level: str) -> Problem:
    if level == "easy":
        n, options, words = 3, {}, "stride 1, no padding"
    elif level == "medium":
        n, options, words = 4, {"stride": 2}, "stride 2, no padding"
    else:
        variant = _pick(rng, ("padding", "dilation"))
        n, options, words = ((3, {"stride": 2, "padding": 1}, "stride 2, padding 1") if variant == "padding"
                             else (4, {"dilation": 2}, "stride 1, dilation 2: the window's taps are 2 cells apart"))
    body = {"input": _values(rng, (n, n), level), "kernel_size": 2, **options}
    return body, (f"Unfold every 2×2 window of the {n}×{n} input x ({words}) into one column, windows in "
                  "row-major order and each window's cells row by row, and write the matrix of columns.")


# --- pooling ----------------------------------------------------------------------------------

POOL_VERBS = {"max": "Max-pool", "avg": "Average-pool", "min": "Min-pool"}


def _pool_setup(rng: Rng, level: str) -> tuple[dict[str, Any], str]:
    if level == "easy":
        body = {"input": _distinct(rng, (4, 4), level), "kind": "max", "kernel_size": 2}
        return body, "max-pooled with 2×2 windows and stride 2"
    if level == "medium":
        kind = _pick(rng, ("max", "avg", "min"))
        body = {"input": _distinct(rng, (4, 4), level), "kind": kind, "kernel_size": 2}
        return body, f"{POOL_VERBS[kind].lower()}ed with 2×2 windows and stride 2"
    variant = _pick(rng, ("padding", "ceil", "overlap"))
    if variant == "padding":
        n = int(_pick(rng, (4, 5)))
        body = {"input": _distinct(rng, (n, n), level), "kind": "max", "kernel_size": 3, "stride": 2, "padding": 1}
        return body, "max-pooled with 3×3 windows, stride 2 and padding 1 (a padded cell never wins)"
    if variant == "ceil":
        body = {"input": _distinct(rng, (5, 5), level), "kind": "max", "kernel_size": 2, "ceil_mode": True}
        return body, "max-pooled with 2×2 windows, stride 2 and ceil mode (the last, partial windows are kept)"
    body = {"input": _distinct(rng, (4, 4), level), "kind": "max", "kernel_size": 3, "stride": 1}
    return body, "max-pooled with overlapping 3×3 windows and stride 1"


def _pool2d(rng: Rng, level: str) -> Problem:
    body, words = _pool_setup(rng, level)
    n = np.shape(body["input"])[0]
    return body, f"Write the output: the {n}×{n} input x {words}."


def _pool2d_backward(rng: Rng, level: str) -> Problem:
    body, words = _pool_setup(rng, level)
    body["grad_output"] = _grad_output(rng, CHECKABLE["pool2d"].run, body, level)
    n = np.shape(body["input"])[0]
    return body, f"The {n}×{n} input x was {words}; given δ = ∂L/∂z for every window, find ∂L/∂x."


# --- output size ------------------------------------------------------------------------------

def _output_size(rng: Rng, level: str) -> Problem:
    if level == "easy":
        k = int(rng.integers(2, 6))
        w = int(rng.integers(k + 2, 13))
        s = int(rng.integers(1, 3))
        body = {"input_size": w, "kernel_size": k, "stride": s}
        return body, (f"A {k}×{k} kernel slides over a {w}×{w} input with stride {s} and no padding: how many "
                      "positions does it take along each side (the output size)?")
    if level == "medium":
        k = int(rng.integers(1, 8))
        w = int(rng.integers(max(k, 8), 65))
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, 4))
        body = {"input_size": w, "kernel_size": k, "stride": s, "padding": p}
        return body, (f"A {k}×{k} kernel slides over a {w}×{w} input with stride {s} and padding {p}: how many "
                      "positions does it take along each side (the output size)?")
    variant = _pick(rng, ("dilation", "ceil", "same"))
    rows, cols = int(rng.integers(7, 33)), int(rng.integers(7, 33))
    if variant == "dilation":
        k_rows, k_cols = int(rng.integers(2, 4)), int(rng.integers(2, 4))
        body = {"input_size": [rows, cols], "kernel_size": [k_rows, k_cols], "stride": int(rng.integers(1, 3)),
                "padding": 1, "dilation": 2}
        return body, (f"A {k_rows}×{k_cols} kernel with dilation 2 slides over a {rows}×{cols} input with stride "
                      f"{body['stride']} and padding 1: give the output's rows and columns.")
    if variant == "ceil":
        k = int(rng.integers(2, 4))
        body = {"input_size": [rows, cols], "kernel_size": k, "stride": 2, "ceil_mode": True}
        return body, (f"A {k}×{k} pooling window slides over a {rows}×{cols} input with stride 2 in ceil mode "
                      "(a last partial window counts): give the output's rows and columns.")
    k = int(_pick(rng, (3, 4, 5)))
    body = {"input_size": [rows, cols], "kernel_size": k, "stride": 2, "padding": "same"}
    return body, (f"A {k}×{k} kernel slides over a {rows}×{cols} input with stride 2 and 'same' padding: give the "
                  "output's rows and columns.")


# --- activations ------------------------------------------------------------------------------

ACTIVATION_WORDS = {
    "relu": "ReLU, max(0, x),",
    "leaky_relu": "LeakyReLU with slope α = 0.1 below 0",
    "relu6": "ReLU6, min(max(0, x), 6),",
    "sigmoid": "the sigmoid σ(x) = 1/(1 + exp(−x))",
    "tanh": "tanh",
}
DERIVATIVE_NOTES = {
    "relu": ", taking ReLU′(0) = 0", "leaky_relu": ", taking the slope at 0 to be α",
    "relu6": ", taking the slope at 0 and at 6 to be 0", "sigmoid": ", using σ′ = σ(1 − σ)",
    "tanh": ", using tanh′ = 1 − tanh²",
}


def _activation_setup(rng: Rng, level: str) -> tuple[dict[str, Any], str]:
    if level == "easy":
        function = _pick(rng, ("relu", "leaky_relu", "relu6"))
        high = 9 if function == "relu6" else 5
        body = {"input": _ints(rng, (int(rng.integers(4, 7)),), -3, high), "function": function}
    elif level == "medium":
        function = _pick(rng, ("sigmoid", "tanh", "leaky_relu"))
        body = {"input": _tenths(rng, (4,), -2, 2), "function": function}
    else:
        rows = int(_pick(rng, (1, 2)))
        body = {"input": _ints(rng, (3,) if rows == 1 else (2, 3), -1, 3), "function": "softmax"}
        return body, "softmax"
    if body["function"] == "leaky_relu":
        body["alpha"] = 0.1
    return body, body["function"]


def _activation(rng: Rng, level: str) -> Problem:
    body, function = _activation_setup(rng, level)
    if function == "softmax":
        rows = "the row" if np.ndim(body["input"]) == 1 else "each row (one sample each)"
        return body, f"Turn {rows} of scores x into probabilities with softmax (3 significant figures are enough)."
    digits = " (3 significant figures are enough)" if function in ("sigmoid", "tanh") else ""
    return body, f"Apply {ACTIVATION_WORDS[function]} to every cell of x and write the output y{digits}."


def _activation_backward(rng: Rng, level: str) -> Problem:
    body, function = _activation_setup(rng, level)
    body["grad_output"] = _values(rng, np.shape(body["input"]), level, -2, 3)
    if function == "softmax":
        return body, ("The output y is the softmax of each row of x; given δ = ∂L/∂y, find ∂L/∂x through the "
                      "softmax's Jacobian (3 significant figures are enough).")
    digits = " (3 significant figures are enough)" if function in ("sigmoid", "tanh") else ""
    return body, (f"Each cell of x went through {ACTIVATION_WORDS[function]} to give y; given δ = ∂L/∂y, "
                  f"find ∂L/∂x{DERIVATIVE_NOTES[function]}{digits}.")


# --- dense and flatten ------------------------------------------------------------------------

def _dense_setup(rng: Rng, level: str) -> tuple[dict[str, Any], int]:
    inputs = int(rng.integers(3, 5)) if level == "medium" else 3
    outputs = int(_pick(rng, (2, 3))) if level == "hard" else 2
    samples = 2 if level == "hard" else 1
    body: dict[str, Any] = {"input": _values(rng, (samples, inputs) if samples > 1 else (inputs,), level),
                            "weight": _ints(rng, (outputs, inputs), -2, 3)}
    if level != "easy":
        body["bias"] = _values(rng, (outputs,), level, -2, 3)
    return body, samples


def _dense(rng: Rng, level: str) -> Problem:
    body, samples = _dense_setup(rng, level)
    plus = " + b" if "bias" in body else ""
    if samples > 1:
        return body, (f"Each row of x is one sample: write y = Wx{plus} for each, one row per sample (row j of W "
                      "holds neuron j's weights).")
    return body, f"Write the dense layer's output y = Wx{plus} (row j of W holds neuron j's weights)."


def _dense_backward(rng: Rng, level: str) -> Problem:
    body, samples = _dense_setup(rng, level)
    outputs = len(body["weight"])
    body["grad_output"] = _values(rng, (samples, outputs) if samples > 1 else (outputs,), level, -2, 3)
    if samples > 1:
        return body, ("The dense layer y = Wx + b took one sample per row of x; given δ = ∂L/∂y (one row per "
                      "sample), find ∂L/∂x = Wᵀδ for each sample.")
    return body, "Given δ = ∂L/∂y at the output of the dense layer y = Wx, find ∂L/∂x = Wᵀδ."


def _flatten_problem(rng: Rng, level: str) -> Problem:
    if level == "easy":
        shape = (int(rng.integers(2, 4)), 3)
    elif level == "medium":
        shape = (2, 2, 2)
    else:
        shape = (int(_pick(rng, (2, 3))), 2, 3)
    body = {"input": _values(rng, shape, level)}
    what = f"the {_size(shape)} matrix x" if len(shape) == 2 else \
        f"the feature map x of {shape[0]} channels, each {_size(shape[1:])},"
    return body, f"Flatten {what} into one row, channel by channel and row by row (PyTorch's order)."


# --- losses -----------------------------------------------------------------------------------

def _probabilities(rng: Rng, classes: int) -> list[float]:
    """One-decimal probabilities of ``classes`` classes, each at least 0.1, adding up to 1."""
    tenths = 1 + rng.multinomial(10 - classes, [1 / classes] * classes)
    return _listed(tenths / 10)


MSE_WORDS = {"mean": "the mean squared error (1/N)Σ(ŷ − t)² over the N elements",
             "sum": "the summed squared error Σ(ŷ − t)²",
             "half_sum": "half the summed squared error, ½Σ(ŷ − t)²"}


def _loss(rng: Rng, level: str) -> Problem:
    if level == "easy" or (level == "medium" and rng.integers(2)):
        reduction = _pick(rng, ("mean", "sum", "half_sum"))
        n = int(rng.integers(2, 5))
        body = {"prediction": _values(rng, (n,), level), "target": _values(rng, (n,), level),
                "kind": "mse", "reduction": reduction}
        return body, f"Compute {MSE_WORDS[reduction]} between the prediction ŷ and the target t."
    if level == "medium":
        classes = int(rng.integers(3, 5))
        target = int(rng.integers(classes))
        body = {"prediction": _probabilities(rng, classes), "target": target, "kind": "cross_entropy"}
        return body, (f"The prediction holds probabilities and the true class is {target} (counted from 0): compute "
                      "the cross-entropy −ln p of the true class (3 significant figures are enough).")
    if rng.integers(2):
        targets = [int(t) for t in rng.integers(0, 3, size=2)]
        body = {"prediction": _ints(rng, (2, 3), -1, 3), "target": targets, "kind": "softmax_cross_entropy"}
        return body, (f"Each row of scores is one sample, with true classes {targets[0]} and {targets[1]} (counted "
                      "from 0): compute the softmax cross-entropy averaged over the samples (3 significant figures are enough).")
    n = int(rng.integers(2, 4))
    body = {"prediction": _listed(rng.integers(1, 10, size=n) / 10), "target": _ints(rng, (n,), 0, 1),
            "kind": "binary_cross_entropy", "reduction": "sum"}
    return body, ("The prediction holds probabilities and the target labels 0 or 1: compute the binary "
                  "cross-entropy −[t ln ŷ + (1 − t) ln(1 − ŷ)], summed over the elements (3 significant figures are enough).")


# --- optimizer --------------------------------------------------------------------------------

def _optimizer(rng: Rng, level: str) -> Problem:
    n = int(rng.integers(3, 5))
    if level == "easy":
        lr = float(_pick(rng, (0.1, 0.5, 1.0)))
        body = {"params": {"w": _ints(rng, (n,))}, "grads": {"w": _ints(rng, (n,))}, "kind": "sgd", "lr": lr}
        return body, f"Take one SGD step with learning rate η = {_num(lr)}: write w after the update w − η·∂L/∂w."
    if level == "medium":
        decay = float(_pick(rng, (0.1, 0.5)))
        body = {"params": {"w": _tenths(rng, (n,))}, "grads": {"w": _ints(rng, (n,), -2, 3)}, "kind": "sgd",
                "lr": 0.1, "weight_decay": decay}
        return body, (f"Take one SGD step with learning rate η = 0.1 and weight decay λ = {_num(decay)} (λw is added "
                      "to the gradient first): write w after the update.")
    lr = float(_pick(rng, (0.1, 0.01)))
    body = {"params": {"w": _ints(rng, (n,))}, "grads": {"w": _values(rng, (n,), "medium")}, "kind": "adam",
            "lr": lr}
    return body, (f"Take Adam's first update with learning rate η = {_num(lr)} and PyTorch's defaults (β1 = 0.9, "
                  "β2 = 0.999, ε = 1e-8), bias correction included: write w after the update.")


# --- batch normalization ----------------------------------------------------------------------

BATCHNORM_EPS = 1e-8
"""ε of the batch-norm problems: PyTorch's 1e-5 would move an answer of 0 to about 1e-5, which a person
working by hand would rightly write as 0."""
CENTRED = ((-1, -1, 1, 1), (-2, -2, 2, 2), (-5, 1, 1, 3), (-3, -3, 3, 3), (-3, -1, -1, 5))
"""Four whole numbers with mean 0 whose biased variance is a perfect square (1, 4 or 9)."""


def _column(rng: Rng) -> np.ndarray:
    """Four samples of one feature: a shuffled CENTRED pattern plus a whole-number mean, within −3 to 5."""
    pattern = np.array(_pick(rng, CENTRED))
    return rng.permutation(pattern) + int(rng.integers(-3 - pattern.min(), 6 - pattern.max()))


def _varied(rng: Rng, shape: Sequence[int]) -> Any:
    """Whole numbers that are not all equal along the batch axis of each feature."""
    while True:
        x = rng.integers(-3, 6, size=tuple(shape))
        spread = x.reshape(shape[0], shape[1], -1).transpose(1, 0, 2).reshape(shape[1], -1)
        if all(len(set(row)) > 1 for row in spread.tolist()):
            return _listed(x)


def _batchnorm_setup(rng: Rng, level: str, backward: bool) -> tuple[dict[str, Any], str]:
    features = 1 if level == "easy" else 2
    if level != "hard":
        x = np.stack([_column(rng) for _ in range(features)], axis=1)
        body: dict[str, Any] = {"input": _listed(x)}
        words = f"x (4 samples × {features} feature{'s' * (features > 1)})"
        if level == "medium":
            body.update(gamma=_tenths(rng, (features,), 0.5, 2), beta=_tenths(rng, (features,), -1, 1))
        return body, words
    if not backward and rng.integers(2):
        body = {"input": _ints(rng, (3, 2)), "gamma": _tenths(rng, (2,), 0.5, 2), "beta": _tenths(rng, (2,), -1, 1),
                "training": False, "running_mean": _ints(rng, (2,), -1, 3),
                "running_var": [float(_pick(rng, (0.25, 1, 4, 9))) for _ in range(2)]}
        return body, "x (3 samples × 2 features)"
    body = {"input": _varied(rng, (2, 2, 2)), "gamma": _tenths(rng, (2,), 0.5, 2)}
    if not backward:
        body["beta"] = _tenths(rng, (2,), -1, 1)
    return body, "x (2 samples, each 2 channels × 2 positions)"


def _batchnorm(rng: Rng, level: str) -> Problem:
    body, words = _batchnorm_setup(rng, level, backward=False)
    body["eps"] = BATCHNORM_EPS
    scale = ", then scale by γ and shift by β" if "gamma" in body else " (γ = 1, β = 0)"
    if body.get("training") is False:
        return body, (f"In evaluation mode, normalize {words} with the running mean and variance given (ε = 1e-8, too small to matter by hand)"
                      f"{scale}, and write the output.")
    over = "the samples and positions" if np.ndim(body["input"]) == 3 else "the samples"
    return body, (f"Batch-normalize {words} in training mode, each feature over {over} with the biased variance "
                  f"and ε = 1e-8 (too small to matter by hand){scale}, and write the output.")


def _batchnorm_backward(rng: Rng, level: str) -> Problem:
    body, words = _batchnorm_setup(rng, level, backward=True)
    body["grad_output"] = _ints(rng, np.shape(body["input"]), -2, 3)
    body["eps"] = BATCHNORM_EPS
    scale = " and scaled by γ" if "gamma" in body else ""
    return body, (f"The input {words} was batch-normalized in training mode (biased variance, ε = 1e-8){scale}; "
                  "given δ = ∂L/∂y, find ∂L/∂x, which also flows through the batch mean and variance.")


# --- dropout ----------------------------------------------------------------------------------

def _mask(rng: Rng, shape: Sequence[int], p: float) -> Any:
    """1 keeps a cell (probability 1 − p), 0 drops it; at least one of each."""
    while True:
        mask = (rng.random(tuple(shape)) >= p).astype(int)
        if 0 < mask.sum() < mask.size:
            return _listed(mask)


def _dropout(rng: Rng, level: str) -> Problem:
    shape = (2, int(rng.integers(3, 5)))
    if level == "easy":
        body = {"input": _ints(rng, shape), "p": 0.5, "mask": _mask(rng, shape, 0.5)}
        return body, ("Apply inverted dropout with p = 0.5 while training, with the mask m given (1 keeps a cell): "
                      "write the output.")
    if level == "medium":
        p = float(_pick(rng, (0.2, 0.5, 0.75)))
        body = {"input": _tenths(rng, shape), "p": p, "mask": _mask(rng, shape, p)}
        return body, (f"Apply inverted dropout with p = {_num(p)} while training, with the mask m given (1 keeps a "
                      "cell): write the output.")
    p = float(_pick(rng, (0.2, 0.3, 0.4)))
    if rng.integers(2):
        body = {"input": _ints(rng, shape), "p": p, "variant": "classic", "training": False}
        return body, f"Apply classic dropout with p = {_num(p)} at evaluation time and write the output."
    body = {"input": _ints(rng, shape), "p": p, "mask": _mask(rng, shape, p), "variant": "classic"}
    return body, (f"Apply classic dropout with p = {_num(p)} while training, with the mask m given (1 keeps a "
                  "cell): write the output.")


# --- the registry -----------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[Rng, str], Problem]] = {
    "conv2d": _conv2d, "conv2d/backward": _conv2d_backward, "conv1d": _conv1d, "conv1d/backward": _conv1d_backward,
    "pool2d": _pool2d, "pool2d/backward": _pool2d_backward, "im2col": _im2col, "output-size": _output_size,
    "activation": _activation, "activation/backward": _activation_backward, "dense": _dense,
    "dense/backward": _dense_backward, "flatten": _flatten_problem, "loss": _loss, "optimizer": _optimizer,
    "batchnorm": _batchnorm, "batchnorm/backward": _batchnorm_backward, "dropout": _dropout,
}
"""One problem generator per op, by its API name: every op ``check_answer`` can check."""

PRACTICE_OPS = tuple(GENERATORS)

UNRELATED = {"dense_backward": ("grad_weight", "grad_bias")}
"""Outputs whose steps come before the answer's in a trace but are not needed to work it out."""


def _op_name(op: Any) -> str:
    name = TRACE_NAMES.get(op, op) if isinstance(op, str) else op
    if name not in GENERATORS:
        raise EngineError("op", f"{op!r} has no practice problems: use one of {', '.join(PRACTICE_OPS)}")
    return name


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise EngineError("seed", f"expected a whole number from 0 to {MAX_SEED:,}, got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise EngineError("seed", f"must be from 0 to {MAX_SEED:,}, got {int(seed):,}")
    return int(seed)


def work(op: str, problem: dict[str, Any]) -> Trace:
    """The trace of ``problem`` (the op's body), computed as ``check_answer`` computes it."""
    with np.errstate(all="ignore"):
        return CHECKABLE[_op_name(op)].run(problem)


def answered_output(trace: Trace) -> str:
    """The output a practice question asks for: the trace's first numeric output (``check_answer``'s default)."""
    for name, value in _flat(trace.outputs).items():
        if np.issubdtype(np.asarray(value).dtype, np.number):
            return name
    raise EngineError("op", f"{trace.op} has no numeric output")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return value


def hint_steps(trace: Trace, output: str) -> list[int]:
    """Positions of the steps that work out ``output``, in order: the hints, one step at a time.

    Every step up to the last one that writes ``output``, leaving out the steps that write the op's
    other outputs when the answer does not need them (a dense layer's weight gradient)."""
    steps = trace.steps
    unrelated = UNRELATED.get(trace.op, ())
    positions: list[int] = []
    end = None
    for i in range(len(steps)):
        target = steps[i].target
        name = None if target is None else target[0]
        if name in unrelated and name != output:
            continue
        positions.append(i)
        if name == output:
            end = len(positions)
    return positions if end is None else positions[:end]


def practice(op: str, *, seed: int, difficulty: str = "easy") -> dict[str, Any]:
    """One practice problem of ``op``, drawn from ``seed``, worked by the op itself.

    Parameters
    ----------
    op : an API op name ('conv2d', 'pool2d/backward', 'output-size', ...), see ``PRACTICE_OPS``.
    seed : a whole number from 0 to 2**32 − 1; the same seed and difficulty give the same problem.
    difficulty : 'easy' | 'medium' | 'hard'.

    Returns {"op", "difficulty", "seed", "prompt", "problem", "output", "answer"}: ``problem`` is
    the op's JSON body, ``answer`` the value of ``output`` as a number or nested lists.
    """
    name = _op_name(op)
    seed = _seed(seed)
    if difficulty not in DIFFICULTIES:
        raise EngineError("difficulty", f"{difficulty!r} is not a difficulty: use easy, medium or hard")
    problem, prompt = GENERATORS[name](np.random.default_rng(seed), difficulty)
    trace = work(name, problem)
    output = answered_output(trace)
    return {"op": name, "difficulty": difficulty, "seed": seed, "prompt": prompt, "problem": problem,
            "output": output, "answer": _plain(trace.flat_outputs()[output])}
