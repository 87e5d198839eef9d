"""The walkthrough pages of the layers after the convolutions: activations, dense, flatten, losses,
optimizers, batch normalization and dropout.

The pages use the same form, grids, steps and player as the convolution pages (``walkthrough.py``);
this module holds what they read from the form, the one engine call each makes, and their worked
examples. What they draw besides the steps (every tensor a step writes, the pictures) is in
``layer_views.py``.
"""

from __future__ import annotations

import functools
import random
import re
from typing import Any

import numpy as np

from engine import (EngineError, activation, activation_backward, batchnorm, batchnorm_backward, dense,
                    dense_backward, dropout, flatten, loss, optimizer_step, parse_matrix)
from engine.numfmt import fmt
from engine.trace import Trace

from ..limits import MAX_ELEMENTS, PAGE_UPDATES
from .layer_views import activation_picture, layer_grids, loss_picture, optimizer_picture
from .walkthrough import Field, Preset, Walkthrough, register

# ---------------------------------------------------------------- reading the form


def _number(text: str, name: str) -> float:
    words = str(text).strip().replace("−", "-")
    try:
        value = float(words)
    except ValueError:
        raise EngineError(name, f"{words!r} is not a number" if words else "is empty: type a number") from None
    if not np.isfinite(value):
        raise EngineError(name, f"{words!r} is not a finite number")
    return value


def _whole(text: str, name: str, low: int, high: int) -> int:
    words = str(text).strip()
    if not re.fullmatch(r"[+-]?\d+", words):
        raise EngineError(name, f"{words!r} is not a whole number" if words else "is empty: type a whole number")
    value = int(words)
    if not low <= value <= high:
        raise EngineError(name, f"must be from {low} to {high}, got {value}")
    return value


def _tensor(text: str, name: str) -> np.ndarray:
    """Matrix text; a single row or a single column is a vector (one sample's numbers)."""
    a = parse_matrix(text, name)
    if a.ndim == 2 and 1 in a.shape:
        return a.reshape(-1)
    return a


def _optional(text: str, name: str) -> np.ndarray | None:
    return _tensor(text, name) if str(text).strip() else None


def _flag(text: str) -> bool:
    return text == "true"


_LINE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*[:=]\s*(.*)")


def parse_named(text: str, name: str) -> dict[str, Any]:
    """Named tensors, one per line: ``w: 0.2 -0.5 0.4 0.1`` and ``b: 0.2``.

    A matrix goes on one line with ``;`` between its rows (``W: 1 2; 3 4``) or as JSON.
    A single number is a scalar, a single row a vector. Errors name the line.
    """
    named: dict[str, Any] = {}
    lines = str(text).splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise EngineError(name, f"line {number}: {line.strip()!r} is not 'name: numbers', such as 'w: 0.2 -0.5'")
        key, numbers = match.groups()
        if key in named:
            raise EngineError(name, f"line {number}: {key!r} is given twice")
        try:
            array = parse_matrix(numbers.replace(";", "\n"), key)
        except EngineError as error:
            raise EngineError(name, f"line {number}: {key}: {error.problem}") from None
        if array.ndim == 2 and array.shape[0] == 1:
            array = array[0]
        named[key] = float(array[0]) if array.shape == (1,) else array
    if not named:
        raise EngineError(name, "is empty: type one line per parameter, such as 'w: 0.2 -0.5'")
    return named


# ---------------------------------------------------------------- activations

ACTIVATIONS = ("relu", "leaky_relu", "relu6", "sigmoid", "tanh", "softmax")
ACTIVATION_FIELDS = (
    Field("input", "Input x", "matrix", "-2 -0.5 0 0.5 2",
          help="One row is one vector; for softmax each row is one sample's scores."),
    Field("function", "Activation", "choice", "relu", ACTIVATIONS),
    Field("alpha", "LeakyReLU slope α", "text", "0.01", help="The slope for x ≤ 0 (LeakyReLU only)."),
)


def _activation_args(q: dict[str, str]) -> dict[str, Any]:
    function = q["function"]
    alpha = _number(q["alpha"], "alpha") if function == "leaky_relu" else 0.01
    return dict(function=function, alpha=alpha)


def _run_activation(q):
    return activation(_tensor(q["input"], "input"), **_activation_args(q))


def _run_activation_back(q):
    return activation_backward(_tensor(q["input"], "input"), _tensor(q["grad_output"], "grad_output"),
                               **_activation_args(q))


# ---------------------------------------------------------------- dense and flatten

SEED000_DENSE = {"input": "4 0 4 3", "weight": "0.2 -0.5 0.4 0.1", "bias": "0.2"}
DENSE_FIELDS = (
    Field("input", "Input x", "matrix", SEED000_DENSE["input"],
          help="One row (or one column) is one sample; several rows are a batch."),
    Field("weight", "Weights W (out × in)", "matrix", SEED000_DENSE["weight"],
          help="Row j holds the weights into neuron j, as in PyTorch's Linear."),
    Field("bias", "Bias b", "text", SEED000_DENSE["bias"], help="Optional: one number, or one per neuron.",
          optional=True),
)


def _dense_args(q: dict[str, str]) -> tuple[np.ndarray, np.ndarray, Any]:
    x = _tensor(q["input"], "input")
    w = parse_matrix(q["weight"], "weight")
    if w.ndim != 2:
        raise EngineError("weight", "expected one matrix (out × in), not several channels")
    b = _optional(q.get("bias", ""), "bias")
    return x, w, float(b[0]) if b is not None and b.size == 1 else b   # one number: shared by every neuron


def _grad_output(text: str, x: np.ndarray) -> np.ndarray:
    """δ in the output's layout: a vector for one sample, one row per sample for a batch."""
    g = parse_matrix(text, "grad_output")
    if x.ndim == 1:
        return g.reshape(-1) if g.ndim == 2 and 1 in g.shape else g
    return g.reshape(-1, 1) if g.ndim == 2 and g.shape == (1, x.shape[0]) else g


def _run_dense(q):
    x, w, b = _dense_args(q)
    return dense(x, w, b)


def _run_dense_back(q):
    x, w, b = _dense_args(q)
    return dense_backward(x, w, _grad_output(q["grad_output"], x), b)


def _run_flatten(q):
    return flatten(parse_matrix(q["input"], "input"))


# ---------------------------------------------------------------- losses

LOSSES = ("mse", "cross_entropy", "softmax_cross_entropy", "binary_cross_entropy")
LOSS_FIELDS = (
    Field("prediction", "Prediction", "matrix", "2.9",
          help="Values (MSE), probabilities (cross-entropy, binary), or raw scores (softmax cross-entropy). "
               "Several rows are a batch of samples."),
    Field("target", "Target", "matrix", "0",
          help="The prediction's shape, or for a cross-entropy one class index per sample, counted from 0."),
    Field("kind", "Loss", "choice", "mse", LOSSES),
    Field("reduction", "Reduction", "choice", "mean", ("mean", "sum", "half_sum"),
          help="mean: PyTorch's default (MSE over elements, cross-entropy over samples); "
               "half_sum: ½Σ, the textbook MSE whose gradient is ŷ − t."),
    Field("eps", "Clip ε", "text", "1e-12", help="Probabilities are clipped to [ε, 1 − ε] before a log."),
)
SEED003_P = "0.01 0.03 0.02 0.10 0.05 0.05 0.01 0.70 0.01 0.02"


def _run_loss(q):
    return loss(_tensor(q["prediction"], "prediction"), _tensor(q["target"], "target"), kind=q["kind"],
                reduction=q["reduction"], eps=_number(q["eps"], "eps"))


# ---------------------------------------------------------------- optimizers

SEED000_PARAMS = "w: 0.2 -0.5 0.4 0.1\nb: 0.2"
SEED000_GRADS = "w: 11.6 0 11.6 8.7\nb: 2.9"
OPTIMIZER_FIELDS = (
    Field("params", "Parameters", "matrix", SEED000_PARAMS,
          help="One line per parameter: a name, a colon, its numbers (a matrix with ; between rows)."),
    Field("grads", "Gradients ∂L/∂parameter", "matrix", SEED000_GRADS, help="The same names and shapes."),
    Field("kind", "Rule", "choice", "sgd", ("sgd", "momentum", "adam")),
    Field("lr", "Learning rate η", "text", "0.1"),
    Field("momentum", "Momentum μ", "text", "0.9", help="The momentum rule only."),
    Field("betas", "Adam β1 β2", "text", "0.9 0.999", help="Adam only: PyTorch's defaults."),
    Field("eps", "Adam ε", "text", "1e-8"),
    Field("weight_decay", "Weight decay λ", "text", "0", help="L2: g + λw is the gradient used."),
    Field("steps", "Updates taken", "text", "1",
          help=f"Repeat the update with the same gradients, the state carried along (1 to {PAGE_UPDATES}); "
               "the steps shown are the last update's."),
    Field("watch", "Cell to chart", "text", "", optional=True,
          help="A name and a position counted from 1, such as 'w 3'. Empty: the first cell."),
)


def _watch(text: str, params: dict[str, Any]) -> tuple[str, tuple[int, ...]]:
    words = str(text).replace(",", " ").replace("(", " ").replace(")", " ").replace("[", " ").replace("]", " ").split()
    name = words[0] if words else next(iter(params))
    if name not in params:
        raise EngineError("watch", f"{name!r} is not one of the parameters ({', '.join(params)})")
    shape = np.shape(params[name])
    try:
        position = [int(k) for k in words[1:]]
    except ValueError:
        raise EngineError("watch", f"{text.strip()!r}: the position is whole numbers counted from 1") from None
    if not position:
        return name, (0,) * len(shape)
    if len(position) == 1 and len(shape) > 1:
        if not 1 <= position[0] <= int(np.prod(shape)):
            raise EngineError("watch", f"{name} has {int(np.prod(shape))} cells, so {position[0]} is not one of them")
        return name, tuple(int(k) for k in np.unravel_index(position[0] - 1, shape))
    if len(position) != len(shape) or any(not 1 <= k <= n for k, n in zip(position, shape)):
        where = "a single number: give no position" if not shape else f"shape {shape}, counted from 1"
        raise EngineError("watch", f"{name} has {where}")
    return name, tuple(k - 1 for k in position)


def _optimizer_args(q: dict[str, str]) -> dict[str, Any]:
    kind = q["kind"]
    words = str(q["betas"]).replace(",", " ").split()
    if len(words) != 2:
        raise EngineError("betas", "expected two numbers, β1 and β2, such as '0.9 0.999'")
    return dict(kind=kind, lr=_number(q["lr"], "lr"),
                momentum=_number(q["momentum"], "momentum") if kind == "momentum" else 0.0,
                betas=(_number(words[0], "betas"), _number(words[1], "betas")),
                eps=_number(q["eps"], "eps"), weight_decay=_number(q["weight_decay"], "weight_decay"))


@functools.lru_cache(maxsize=16)
def _optimizer_run(key: tuple[tuple[str, str], ...]) -> tuple[list[Trace], str, tuple[int, ...]]:
    """Every update of the run (the state carried from one to the next) and the watched cell."""
    q = dict(key)
    params, grads = parse_named(q["params"], "params"), parse_named(q["grads"], "grads")
    updates = _whole(q["steps"], "steps", 1, PAGE_UPDATES)
    cells = sum(int(np.size(v)) for v in params.values())
    if cells * updates > MAX_ELEMENTS:
        raise EngineError("steps", f"{cells:,} cells × {updates} updates is over the limit of {MAX_ELEMENTS:,}")
    args = _optimizer_args(q)
    traces, state = [], None
    for _ in range(updates):
        trace = optimizer_step(params, grads, state=state, **args)
        traces.append(trace)
        params, state = trace.outputs["params"], trace.outputs["state"]
    name, index = _watch(q.get("watch", ""), traces[0].inputs["params"])
    return traces, name, index


def _run_optimizer(q):
    return _optimizer_run(tuple(sorted(q.items())))[0][-1]


def _optimizer_picture(trace: Trace, q: dict[str, str]):
    """The run behind the shown update (kept by _optimizer_run), charted for the watched cell."""
    return optimizer_picture(*_optimizer_run(tuple(sorted(q.items()))))


def _optimizer_grids(trace: Trace) -> tuple[list, list[str]]:
    fresh = trace.params["step"] == 1   # the state before the first update is all zeros: not drawn
    return layer_grids(trace, hide=lambda name, given: given and fresh and name.startswith("state."))


def _random_named(rng: random.Random) -> str:
    return "\n".join(f"{name}: " + " ".join(fmt(rng.randint(-20, 20) / 10) for _ in range(size))
                     for name, size in (("w", 4), ("b", 1)))


# ---------------------------------------------------------------- batch normalization and dropout

BATCH = "1 10 0\n2 20 1\n3 30 0\n6 40 3"
BATCHNORM_FIELDS = (
    Field("input", "Input x (samples × features)", "matrix", BATCH,
          help="Rows are samples, columns features; blocks separated by a blank line are samples of (C, L)."),
    Field("gamma", "Scale γ", "text", "", help="Optional: one per feature; empty is 1.", optional=True),
    Field("beta", "Shift β", "text", "", help="Optional: one per feature; empty is 0.", optional=True),
    Field("eps", "ε", "text", "1e-5", help="Added to the variance inside the square root."),
)
BATCHNORM_MODE = (
    Field("training", "Training mode", "choice", "true", ("true", "false"),
          help="true: normalize with this batch's statistics; false: with the running ones."),
    Field("momentum", "Momentum", "text", "0.1", help="The batch statistic's share in the running update."),
    Field("running_mean", "Running mean", "text", "", help="Optional: one per feature; empty is 0.", optional=True),
    Field("running_var", "Running variance", "text", "", help="Optional: one per feature; empty is 1.", optional=True),
)


def _run_batchnorm(q):
    return batchnorm(parse_matrix(q["input"], "input"), _optional(q["gamma"], "gamma"), _optional(q["beta"], "beta"),
                     eps=_number(q["eps"], "eps"), training=_flag(q["training"]),
                     running_mean=_optional(q["running_mean"], "running_mean"),
                     running_var=_optional(q["running_var"], "running_var"),
                     momentum=_number(q["momentum"], "momentum"))


def _run_batchnorm_back(q):
    return batchnorm_backward(parse_matrix(q["input"], "input"), _optional(q["gamma"], "gamma"), _optional(q["beta"], "beta"),
                              parse_matrix(q["grad_output"], "grad_output"), eps=_number(q["eps"], "eps"))


DROPOUT_FIELDS = (
    Field("input", "Input x", "matrix", "1 2 3 4\n5 6 7 8"),
    Field("p", "Drop probability p", "text", "0.5"),
    Field("variant", "Scaling", "choice", "inverted", ("inverted", "classic"),
          help="inverted: divide the kept cells by 1 − p while training (PyTorch); "
               "classic: multiply by 1 − p at evaluation instead."),
    Field("training", "Training mode", "choice", "true", ("true", "false"),
          help="false: evaluation, nothing dropped."),
    Field("seed", "Seed", "text", "0", help="The mask is drawn from this seed; empty draws a new one.", optional=True),
    Field("mask", "Mask (optional)", "matrix", "", help="1 keeps a cell, 0 drops it; when given, the seed is not used.",
          optional=True),
)


def _run_dropout(q):
    mask = parse_matrix(q["mask"], "mask") if str(q.get("mask", "")).strip() else None
    x = parse_matrix(q["input"], "input")
    seed_text = str(q.get("seed", "")).strip()
    seed = None if mask is not None or not seed_text else _whole(seed_text, "seed", 0, 2**32 - 1)
    training = _flag(q["training"])
    return dropout(x, p=_number(q["p"], "p"), mask=mask if training else None, seed=seed if training else None,
                   variant=q["variant"], training=training)


def _dropout_grids(trace: Trace) -> tuple[list, list[str]]:
    given_mask = "mask" in trace.inputs   # drawn once, as given; in evaluation the mask is all ones
    return layer_grids(trace, hide=lambda name, given: name == "mask" and not given
                       and (given_mask or not trace.params["training"]))


# ---------------------------------------------------------------- the pages

DROPOUT_MASK = "1 0 1 1\n0 1 1 0"

LAYERS: list[Walkthrough] = [
    Walkthrough(
        "activation", "Activation functions", "/api/v1/activation",
        "Each cell through a function that bends the line: ReLU, LeakyReLU, ReLU6, sigmoid, tanh; softmax turns "
        "a row of scores into probabilities.",
        ACTIVATION_FIELDS, _run_activation,
        (Preset("Seed 001: softmax of the scores 2, 1, 0.1", "Its sums are rounded; the steps keep 6 digits",
                {"input": "2 1 0.1", "function": "softmax"}),
         Preset("Seed 000: ReLU on the 2×2 feature map", "Nothing negative, so nothing changes",
                {"input": "4 0\n4 3", "function": "relu"}),
         Preset("LeakyReLU with α = 0.1", "Negative inputs keep a tenth", {"function": "leaky_relu", "alpha": "0.1"}),
         Preset("Sigmoid", "", {"input": "-2 -1 0 1 2", "function": "sigmoid"}),
         Preset("tanh", "", {"input": "-2 -1 0 1 2", "function": "tanh"}),
         Preset("Softmax of a batch: one row per sample", "", {"input": "1 2 3\n1 1 1", "function": "softmax"})),
        {"input": (2, 4)}, "activation/backward",
        picture=activation_picture, grids=layer_grids),
    Walkthrough(
        "activation/backward", "Activation functions: backward pass", "/api/v1/activation/backward",
        "Given δ = ∂L/∂y, each cell's gradient is δ times the slope of the activation at x; softmax mixes the "
        "row through its Jacobian.",
        ACTIVATION_FIELDS + (Field("grad_output", "Upstream gradient δ = ∂L/∂y", "matrix", "1 1 1 1 1",
                                   help="One number per input cell."),), _run_activation_back,
        (Preset("Seed 000: ReLU backward of the feature map", "δ from the dense layer; z = 0 blocks its δ",
                {"input": "4 0\n4 3", "grad_output": "0.58 -1.45\n1.16 0.29", "function": "relu"}),
         Preset("Sigmoid backward", "σ′ = σ(1 − σ) is at most 0.25",
                {"input": "-2 0 2", "grad_output": "1 1 1", "function": "sigmoid"}),
         Preset("LeakyReLU at 0: the slope is α", "", {"input": "-1 0 1", "grad_output": "1 1 1",
                                                      "function": "leaky_relu", "alpha": "0.1"}),
         Preset("Softmax with cross-entropy's δ for class 1", "δ = −1/p₁: the result is p − t",
                {"input": "2 1 0.1", "grad_output": "-1.51745 0 0", "function": "softmax"})),
        {"input": (2, 4), "grad_output": (2, 4)}, "activation",
        picture=activation_picture, grids=layer_grids),
    Walkthrough(
        "dense", "Dense (fully connected) layer", "/api/v1/dense",
        "Every output neuron is a weighted sum of every input, plus its bias: y = Wx + b.",
        DENSE_FIELDS, _run_dense,
        (Preset("Seed 000: the fully connected layer", "p = (4, 0, 4, 3) from the flattened feature map",
                SEED000_DENSE),
         Preset("Two neurons, three inputs", "", {"input": "1 2 3", "weight": "1 0 -1\n0.5 0.5 0.5", "bias": "0 1"}),
         Preset("A batch of two samples", "One row per sample", {**SEED000_DENSE, "input": "4 0 4 3\n1 1 1 1"})),
        {"input": (1, 4), "weight": (2, 4)}, "dense/backward", grids=layer_grids),
    Walkthrough(
        "dense/backward", "Dense layer: backward pass", "/api/v1/dense/backward",
        "From δ = ∂L/∂y: ∂L/∂W = δxᵀ, ∂L/∂b = δ, and ∂L/∂x = Wᵀδ for the layer below.",
        DENSE_FIELDS + (Field("grad_output", "Upstream gradient δ = ∂L/∂y", "matrix", "2.9",
                              help="One number per output neuron (per sample)."),), _run_dense_back,
        (Preset("Seed 000: δ = 2.9 from the ½Σ squared error", "ŷ − t = 2.9 − 0",
                {**SEED000_DENSE, "grad_output": "2.9"}),
         Preset("A batch of two samples", "The weight gradients add up over the samples",
                {**SEED000_DENSE, "input": "4 0 4 3\n1 1 1 1", "grad_output": "2.9\n-1"})),
        {"input": (1, 4), "weight": (2, 4), "grad_output": (1, 2)}, "dense", grids=layer_grids),
    Walkthrough(
        "flatten", "Flatten", "/api/v1/flatten",
        "A feature map laid out as one row, channel by channel and row by row, to feed a dense layer.",
        (Field("input", "Input x", "matrix", "4 0\n4 3", help="Channels separated by a blank line."),), _run_flatten,
        (Preset("Seed 000: the 2×2 feature map", "Gives p = (4, 0, 4, 3)", {"input": "4 0\n4 3"}),
         Preset("Two channels", "All of channel 1 first", {"input": "1 2\n3 4\n\n5 6\n7 8"})),
        {"input": (3, 3)}, grids=layer_grids),
    Walkthrough(
        "loss", "Loss functions", "/api/v1/loss",
        "How far the prediction is from the target, as one number, and its gradient ∂L/∂prediction, where "
        "backpropagation starts.",
        LOSS_FIELDS, _run_loss,
        (Preset("Seed 000: squared error with ½Σ", "ŷ = 2.9, t = 0",
                {"prediction": "2.9", "target": "0", "kind": "mse", "reduction": "half_sum"}),
         Preset("The same error with PyTorch's mean", "No ½, so twice the loss", {"reduction": "mean"}),
         Preset("Seed 003: cross-entropy, true class 7", "Classes counted from 0",
                {"prediction": SEED003_P, "target": "7", "kind": "cross_entropy"}),
         Preset("Seed 003, changed: the true class has probability 0", "log 0 is clipped to log ε",
                {"prediction": "0 0.03 0.02 0.10 0.05 0.05 0.02 0.70 0.01 0.02", "target": "0",
                 "kind": "cross_entropy"}),
         Preset("Seed 001's scores with softmax cross-entropy", "Class 0: ∂L/∂z = p − t",
                {"prediction": "2 1 0.1", "target": "0", "kind": "softmax_cross_entropy"}),
         Preset("Binary cross-entropy", "", {"prediction": "0.9 0.2", "target": "1 0",
                                             "kind": "binary_cross_entropy"})),
        {"prediction": (1, 4), "target": (1, 4)},
        picture=loss_picture, grids=layer_grids),
    Walkthrough(
        "optimizer", "Optimizer update", "/api/v1/optimizer",
        "One training step: each parameter moves against its gradient, by SGD, SGD with momentum or Adam.",
        OPTIMIZER_FIELDS, _run_optimizer,
        (Preset("Seed 000: one SGD step", "η = 0.1", {"kind": "sgd", "lr": "0.1", "steps": "1"}),
         Preset("Seed 002: Adam with PyTorch's defaults, 5 updates", "β1 = 0.9, β2 = 0.999, ε = 1e-8, η = 0.001",
                {"kind": "adam", "lr": "0.001", "steps": "5"}),
         Preset("Seed 002: Adam with L2 weight decay", "λ = 0.01 added to the gradient",
                {"kind": "adam", "lr": "0.001", "weight_decay": "0.01", "steps": "5"}),
         Preset("Momentum 0.9 over 5 updates", "", {"kind": "momentum", "lr": "0.01", "steps": "5"}),
         Preset("SGD with weight decay", "", {"weight_decay": "0.01"})),
        {"params": _random_named, "grads": _random_named, "steps": range(1, 6)},
        picture=_optimizer_picture, grids=_optimizer_grids),
    Walkthrough(
        "batchnorm", "Batch normalization", "/api/v1/batchnorm",
        "Each feature is shifted to mean 0 and scaled to variance 1 over the batch, then scaled by γ and shifted "
        "by β.",
        BATCHNORM_FIELDS + BATCHNORM_MODE, _run_batchnorm,
        (Preset("Four samples, three features", "Training mode", {"input": BATCH, "training": "true"}),
         Preset("γ and β scale and shift", "", {"gamma": "2 1 0.5", "beta": "0 1 -1"}),
         Preset("Evaluation with running statistics", "Nothing is measured on the batch",
                {"training": "false", "running_mean": "3 25 1", "running_var": "4 100 1"})),
        {"input": (4, 3)}, "batchnorm/backward", grids=layer_grids),
    Walkthrough(
        "batchnorm/backward", "Batch normalization: backward pass", "/api/v1/batchnorm/backward",
        "∂L/∂γ and ∂L/∂β are sums over the batch; ∂L/∂x also passes through the batch mean and variance.",
        BATCHNORM_FIELDS + (Field("grad_output", "Upstream gradient δ = ∂L/∂y", "matrix", "1 0 1\n0 1 0\n1 0 -1\n0 1 0",
                                  help="The input's shape."),), _run_batchnorm_back,
        (Preset("Four samples, three features", "", {"input": BATCH}),
         Preset("With γ", "", {"gamma": "2 1 0.5"})),
        {"input": (4, 3), "grad_output": (4, 3)}, "batchnorm", grids=layer_grids),
    Walkthrough(
        "dropout", "Dropout", "/api/v1/dropout",
        "While training, each cell is dropped with probability p; the survivors are rescaled so that the "
        "expected output matches the input.",
        DROPOUT_FIELDS, _run_dropout,
        (Preset("Seed 002: inverted dropout while training, p = 0.5", "Kept cells doubled",
                {"mask": DROPOUT_MASK}),
         Preset("Seed 002: classic dropout while training", "Kept cells unchanged",
                {"mask": DROPOUT_MASK, "variant": "classic"}),
         Preset("Seed 002: classic dropout at test time", "Every cell times 1 − p",
                {"variant": "classic", "training": "false"}),
         Preset("Inverted dropout at test time", "The input passes unchanged", {"training": "false"}),
         Preset("p = 0.2 from seed 7", "", {"p": "0.2", "seed": "7", "input": "1 2 3 4 5\n6 7 8 9 10"})),
        {"input": (3, 4), "seed": range(0, 1000)}, grids=_dropout_grids),
]

register(*LAYERS)
