"""A small network followed through one training step: forward, loss, backward, update.

Each layer's steps are its op's own trace (conv2d, pool2d, activation, dense, ...), with the
tensors renamed into the network's: ``act.2`` is the output of layer 2 (``act.0`` the input),
``delta.2`` is ∂L/∂act.2, ``param.1.weight`` and ``grad.1.weight`` a layer's weight and its
gradient, ``layer.3.exp`` an intermediate of layer 3. Layers count from 1 in titles and ids.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .activations import activation, activation_backward
from .conv import conv1d, conv1d_backward, conv2d, conv2d_backward
from .dense import dense, dense_backward, flatten, flatten_backward
from .dropout import dropout
from .errors import EngineError
from .losses import loss as loss_op
from .norm import batchnorm, batchnorm_backward
from .numfmt import fmt
from .optim import optimizer_step
from .pool import pool2d, pool2d_backward
from .tensors import as_tensor
from .trace import Combine, Factor, Segment, Step, StepKind, Term, Trace

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax")
POOLS = {"maxpool2d": "max", "avgpool2d": "avg", "minpool2d": "min"}
WEIGHTED = ("conv2d", "conv1d", "linear", "batchnorm2d")
TYPES = ("conv2d", "conv1d") + tuple(POOLS) + ACTIVATIONS + ("flatten", "linear", "batchnorm2d", "dropout")
LAYER_FIELDS = {"kernel": "weight", "gamma": "weight", "beta": "bias"}
"""An op's argument by the name the layer gives it."""
MAX_STEPS = 1000
"""Training steps one call may take."""

_OPTIONS = {
    "conv2d": {"weight", "bias", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"},
    "conv1d": {"weight", "bias", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"},
    "maxpool2d": {"kernel_size", "stride", "padding"},
    "avgpool2d": {"kernel_size", "stride", "padding"},
    "minpool2d": {"kernel_size", "stride", "padding"},
    "leaky_relu": {"alpha"},
    "linear": {"weight", "bias", "out_features"},
    "batchnorm2d": {"weight", "bias", "eps"},
    "dropout": {"p", "mask", "seed", "variant"},
}


@dataclass(frozen=True)
class Layer:
    """One layer as resolved: its type, its options for the op, and its parameters."""

    type: str
    options: dict[str, Any]
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    frozen: bool = False
    drawn: bool = False   # weights drawn from the seed, not given

    @property
    def name(self) -> str:
        return {"conv2d": "Conv2d", "conv1d": "Conv1d", "maxpool2d": "MaxPool2d", "avgpool2d": "AvgPool2d",
                "minpool2d": "MinPool2d", "relu": "ReLU", "leaky_relu": "LeakyReLU", "sigmoid": "Sigmoid",
                "tanh": "Tanh", "softmax": "Softmax", "flatten": "Flatten", "linear": "Linear",
                "batchnorm2d": "BatchNorm2d", "dropout": "Dropout"}[self.type]


def _refuse(i: int, message: str) -> EngineError:
    return EngineError("layers", f"layer {i + 1}: {message}", (i,))


def _whole(spec: dict, key: str, i: int, default: Any = None, minimum: int = 0) -> Any:
    value = spec.get(key, default)
    items = value if isinstance(value, (list, tuple)) else [value]
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            if key == "padding" and isinstance(v, str) and v in ("same", "valid"):
                continue
            raise _refuse(i, f"{key} must be a whole number of at least {minimum}, got {v!r}")
    return value


def _tensor(value: Any, i: int, what: str, ranks: Sequence[int]) -> np.ndarray:
    try:
        return as_tensor(value, what, ranks)
    except EngineError as error:
        raise _refuse(i, f"{what}: {error.problem}") from None


def _draw(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """PyTorch's default range, ±1/√fan_in, rounded to two decimals so it can be worked by hand."""
    bound = 1.0 / np.sqrt(max(fan_in, 1))
    return np.round(rng.uniform(-bound, bound, shape), 2)


def _resolve(specs: Any, x: np.ndarray, seed: int | None) -> tuple[list[Layer], list[np.ndarray], int | None]:
    """The layers with their parameters (drawn where missing) and the shape after each, checked to chain."""
    if not isinstance(specs, (list, tuple)) or not specs:
        raise EngineError("layers", "expected a list of at least one layer")
    rng = None
    if any(_draws(spec) for spec in specs):
        seed = secrets.randbelow(2 ** 31) if seed is None else seed
        rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    a = np.zeros(x.shape)
    shapes = [a]
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or "type" not in spec:
            raise _refuse(i, "expected an object with a 'type'")
        kind = spec["type"]
        if kind not in TYPES:
            raise _refuse(i, f"{kind!r} is not a layer type: use one of {', '.join(TYPES)}")
        unknown = set(spec) - {"type", "frozen"} - _OPTIONS.get(kind, set())
        if unknown:
            raise _refuse(i, f"{kind} takes no {', '.join(sorted(unknown))}")
        frozen = spec.get("frozen", False)
        if not isinstance(frozen, bool):
            raise _refuse(i, "frozen must be true or false")
        if frozen and kind not in WEIGHTED:
            raise _refuse(i, f"{kind} has no parameters to freeze")
        options = {k: v for k, v in spec.items() if k not in ("type", "frozen", "weight", "bias",
                                                              "out_channels", "out_features", "kernel_size")
                   or (k == "kernel_size" and kind in POOLS)}
        if kind == "linear" and a.ndim != 1:
            raise _refuse(i, f"linear takes one example's features as a vector, but gets a {_shape_text(a)} input: "
                             "put a flatten before it")
        if kind == "conv1d" and a.ndim not in (1, 2):
            raise _refuse(i, f"conv1d takes a sequence, (L,) or (C, L), but gets a {_shape_text(a)} input: a third "
                             "axis would be read as a batch")
        if kind == "batchnorm2d" and a.ndim not in (2, 3):
            raise _refuse(i, f"batchnorm2d normalizes the channels of a (C, H, W) input or one (H, W) matrix, "
                             f"but gets a {a.ndim}-D input ({_shape_text(a)})")
        weight = bias = None
        drawn = False
        if kind in ("conv2d", "conv1d", "linear") and spec.get("weight") is None:
            drawn = True
            weight, bias = _drawn_weights(kind, spec, a.shape, rng, i)
        elif kind in ("conv2d", "conv1d", "linear"):
            ranks = {"conv2d": (2, 4), "conv1d": (1, 3), "linear": (2,)}[kind]
            weight = _tensor(spec["weight"], i, "weight", ranks)
            bias = None if spec.get("bias") is None or spec.get("bias") is False else \
                _tensor(spec["bias"], i, "bias", (0, 1)).reshape(-1)
        elif kind == "batchnorm2d":
            C = a.shape[0] if a.ndim == 3 else 1
            weight = np.ones(C) if spec.get("weight") is None else _tensor(spec["weight"], i, "weight", (0, 1)).reshape(-1)
            bias = np.zeros(C) if spec.get("bias") is None else _tensor(spec["bias"], i, "bias", (0, 1)).reshape(-1)
        if kind == "dropout" and spec.get("mask") is None and spec.get("seed") is None:
            options["seed"] = int(rng.integers(2 ** 31))  # one mask for every step, reproducible from the seed
            drawn = True
        for key in ("stride", "padding", "dilation", "groups"):
            if key in options:
                _whole(spec, key, i, minimum=0 if key == "padding" else 1)
        if kind in POOLS:
            _whole(spec, "kernel_size", i, minimum=1)
        layer = Layer(kind, options, weight, bias, frozen, drawn)
        try:
            a = _forward(layer, a).outputs["output"]
        except EngineError as error:
            field = LAYER_FIELDS.get(error.argument, error.argument)
            raise _refuse(i, f"{kind} does not fit the {'×'.join(map(str, shapes[-1].shape))} input it gets: "
                             f"{field}: {error.problem}") from None
        layers.append(layer)
        shapes.append(np.zeros(np.shape(a)))
    return layers, shapes, seed


def _draws(spec: Any) -> bool:
    """Whether the layer takes numbers from the seed: weights or a dropout mask not given."""
    if not isinstance(spec, dict):
        return False
    kind = spec.get("type")
    return (kind in ("conv2d", "conv1d", "linear") and spec.get("weight") is None
            or kind == "dropout" and spec.get("mask") is None and spec.get("seed") is None)


def _drawn_weights(kind: str, spec: dict, shape: tuple[int, ...], rng: np.random.Generator,
                   i: int) -> tuple[np.ndarray, np.ndarray | None]:
    bias_wanted = spec.get("bias", None) is not False
    if kind == "linear":
        out = _whole(spec, "out_features", i, minimum=1)
        if out is None:
            raise _refuse(i, "give a weight or out_features")
        fan_in = shape[-1]
        return _draw(rng, (out, fan_in), fan_in), _draw(rng, (out,), fan_in) if bias_wanted else None
    out = _whole(spec, "out_channels", i, minimum=1)
    k = _whole(spec, "kernel_size", i, minimum=1)
    if out is None or k is None:
        raise _refuse(i, "give a weight, or out_channels and kernel_size")
    k2 = tuple(k) if isinstance(k, (list, tuple)) else ((k, k) if kind == "conv2d" else (k,))
    spatial = 2 if kind == "conv2d" else 1
    C_in = shape[0] if len(shape) > spatial else 1
    w_shape = (out, C_in) + k2
    fan_in = int(np.prod(w_shape[1:]))
    w = _draw(rng, w_shape, fan_in)
    if len(shape) == spatial and out == 1:
        w = w.reshape(k2)  # a plain matrix input keeps a plain kernel
    return w, _draw(rng, (out,), fan_in) if bias_wanted else None


def _bias(layer: Layer) -> Any:
    if layer.bias is None:
        return None
    return float(layer.bias[0]) if layer.bias.size == 1 and np.ndim(layer.weight) in (1, 2) and layer.type != "linear" \
        else layer.bias


def _forward(layer: Layer, a: np.ndarray) -> Trace:
    o = layer.options
    match layer.type:
        case "conv2d" | "conv1d":
            op = conv2d if layer.type == "conv2d" else conv1d
            return op(a, layer.weight, _bias(layer), **{k: o[k] for k in ("stride", "padding", "dilation", "groups") if k in o})
        case "maxpool2d" | "avgpool2d" | "minpool2d":
            return pool2d(a, kind=POOLS[layer.type], **{k: o[k] for k in ("kernel_size", "stride", "padding") if k in o})
        case "relu" | "sigmoid" | "tanh" | "softmax":
            return activation(a, function=layer.type)
        case "leaky_relu":
            return activation(a, function="leaky_relu", alpha=o.get("alpha", 0.01))
        case "flatten":
            return flatten(a)
        case "linear":
            return dense(a, layer.weight, layer.bias)
        case "batchnorm2d":
            t = batchnorm(_batch(a), layer.weight, layer.bias, eps=o.get("eps", 1e-5), training=True)
            t.outputs = {**t.outputs, "output": t.outputs["output"].reshape(a.shape)}
            return t
        case "dropout":
            return dropout(a, p=o.get("p", 0.5), mask=o.get("mask"), seed=o.get("seed"),
                           variant=o.get("variant", "inverted"))
    raise AssertionError(layer.type)


def _backward(layer: Layer, a: np.ndarray, forward: Trace, delta: np.ndarray) -> Trace:
    o = layer.options
    match layer.type:
        case "conv2d" | "conv1d":
            op = conv2d_backward if layer.type == "conv2d" else conv1d_backward
            return op(a, layer.weight, delta, _bias(layer),
                      **{k: o[k] for k in ("stride", "padding", "dilation", "groups") if k in o})
        case "maxpool2d" | "avgpool2d" | "minpool2d":
            return pool2d_backward(a, delta, kind=POOLS[layer.type],
                                   **{k: o[k] for k in ("kernel_size", "stride", "padding") if k in o})
        case "relu" | "sigmoid" | "tanh" | "softmax":
            return activation_backward(a, delta, function=layer.type)
        case "leaky_relu":
            return activation_backward(a, delta, function="leaky_relu", alpha=o.get("alpha", 0.01))
        case "flatten":
            return flatten_backward(a, delta)
        case "linear":
            return dense_backward(a, layer.weight, delta, layer.bias)
        case "batchnorm2d":
            t = batchnorm_backward(_batch(a), layer.weight, layer.bias, _batch(delta), eps=o.get("eps", 1e-5))
            t.outputs = {**t.outputs, "grad_input": t.outputs["grad_input"].reshape(a.shape)}
            return t
        case "dropout":
            # the same mask and scale again, applied to δ: dropout is linear in its input
            t = dropout(delta, p=o.get("p", 0.5), mask=forward.outputs["mask"], variant=o.get("variant", "inverted"))
            t.outputs = {"grad_input": t.outputs["output"], "mask": t.outputs["mask"]}
            return t
    raise AssertionError(layer.type)


# --- renaming an op's trace into the network's --------------------------------------------------

SAMPLE_TENSORS = ("input", "output", "grad_output", "grad_input", "x_hat")
"""Batch norm's per-sample tensors: the op sees a batch of one, the network one (C, H, W) example."""


def _batch(a: np.ndarray) -> np.ndarray:
    """One example as batch norm's batch of one: (C, H, W) -> (1, C, H, W); a plain (H, W) matrix is one
    channel, (1, 1, H, W)."""
    return a.reshape((1,) * (4 - a.ndim) + a.shape)


def _lead(layer: Layer, a: np.ndarray) -> int:
    """The leading axes batch norm's tensors have that the network's example does not."""
    return 4 - a.ndim if layer.type == "batchnorm2d" else 0


def _rename_step(step: Step, rename: Callable[[str, tuple | None], tuple[str, tuple | None]], id_prefix: str,
                 rename_target: Callable[[str, tuple | None], tuple[str, tuple | None]]) -> Step:
    terms = tuple(Term(tuple(Factor(*rename(f.tensor, f.index), f.value) if f.index is not None else f
                             for f in t.factors), t.value) for t in step.terms)
    target = None if step.target is None else rename_target(*step.target)
    reads: dict[str, list] = {}
    for name, indices in step.reads.items():
        for index in indices:
            new, at = rename(name, tuple(index))
            reads.setdefault(new, []).append(at)
    return replace(step, id=id_prefix + step.id, terms=terms, target=target, reads=reads,
                   substeps=tuple(_rename_step(s, rename, id_prefix, rename_target) for s in step.substeps))


def _renamer(names: dict[str, str], prefix: str, squeeze: int) -> Callable:
    def rename(name: str, index: tuple | None) -> tuple[str, tuple | None]:
        if squeeze and name in SAMPLE_TENSORS and index:
            index = index[squeeze:]
        return names.get(name, prefix + name), index
    return rename


def _nest(trace: Trace, names: dict[str, str], prefix: str, id_prefix: str, skip: Sequence[str] = (),
          targets: dict[str, str] | None = None, squeeze: int = 0) -> list[Segment]:
    """The op's segments, writing into the network's tensors (``targets`` renames what a step writes
    where it differs from what the op's steps read under the same name; ``squeeze`` drops that many
    leading indices, the batch (and channel) axes of a batch-of-one op)."""
    rename = _renamer(names, prefix, squeeze)
    rename_target = _renamer({**names, **(targets or {})}, prefix, squeeze)
    out = []
    for segment in trace.segments:
        if segment.name in skip:
            continue
        def make(index, digits, segment=segment):
            return _rename_step(segment.make(index, digits), rename, id_prefix, rename_target)
        out.append(Segment(id_prefix + segment.name, segment.shape, make))
    return out


def _shape_text(a: Any) -> str:
    shape = np.shape(a)
    return "×".join(map(str, shape)) if shape else "1"


def _header(step_id: str, title: str, message: str, line: str) -> Segment:
    step = Step(id=step_id, kind=StepKind.LAYER, title=title, message=message, formula="",
                expansion=rf"\text{{{line}}}", combine=Combine.VALUE)
    return Segment(step_id, (), lambda index, digits: step)


# --- the network --------------------------------------------------------------------------------

def _parameters(layers: list[Layer]) -> dict[str, np.ndarray]:
    out = {}
    for i, layer in enumerate(layers):
        if layer.weight is not None and not layer.frozen:
            out[f"layer{i + 1}.weight"] = layer.weight
            if layer.bias is not None:
                out[f"layer{i + 1}.bias"] = layer.bias
    return out


def _with(layers: list[Layer], params: dict[str, np.ndarray]) -> list[Layer]:
    return [replace(layer, weight=params.get(f"layer{i + 1}.weight", layer.weight),
                    bias=params.get(f"layer{i + 1}.bias", layer.bias)) for i, layer in enumerate(layers)]


@dataclass
class _Pass:
    forwards: list[Trace]
    acts: list[np.ndarray]
    loss: Trace
    backwards: list[Trace | None]
    deltas: dict[int, np.ndarray]


def _run(layers: list[Layer], x: np.ndarray, target: Any, loss_spec: dict) -> _Pass:
    forwards, acts = [], [x]
    for layer in layers:
        forwards.append(_forward(layer, acts[-1]))
        acts.append(np.asarray(forwards[-1].outputs["output"], dtype=float))
    lt = _within("loss", ("kind", "reduction", "eps"), lambda: loss_op(acts[-1], target, **loss_spec))
    deltas = {len(layers): np.asarray(lt.outputs["grad_input"], dtype=float).reshape(acts[-1].shape)}
    backwards: list[Trace | None] = [None] * len(layers)
    first = next((i for i, layer in enumerate(layers) if layer.weight is not None and not layer.frozen), None)
    for i in range(len(layers) - 1, -1, -1):
        if first is None or i < first:
            break  # nothing below needs a gradient
        backwards[i] = _backward(layers[i], acts[i], forwards[i], deltas[i + 1])
        deltas[i] = np.asarray(backwards[i].outputs["grad_input"], dtype=float)
    return _Pass(forwards, acts, lt, backwards, deltas)


def _within(argument: str, keys: tuple[str, ...], call: Callable[[], Trace]) -> Trace:
    """``call()``; an op's refusal of one of ``keys`` is reported under ``argument`` ("loss: kind: ...")."""
    try:
        return call()
    except EngineError as error:
        if error.argument not in keys:
            raise
        raise EngineError(argument, f"{error.argument}: {error.problem}") from None


_OPTIMIZER_KEYS = ("kind", "lr", "momentum", "betas", "eps", "weight_decay")


def _loss_spec(loss: Any) -> dict:
    if not isinstance(loss, dict) or "kind" not in loss:
        raise EngineError("loss", "expected an object with a 'kind' (mse, cross_entropy, softmax_cross_entropy, "
                                  "binary_cross_entropy)")
    unknown = set(loss) - {"kind", "reduction", "eps"}
    if unknown:
        raise EngineError("loss", f"takes no {', '.join(sorted(unknown))}")
    return dict(loss)


def _optimizer_spec(optimizer: Any) -> dict:
    if not isinstance(optimizer, dict) or "kind" not in optimizer or "lr" not in optimizer:
        raise EngineError("optimizer", "expected an object with a 'kind' (sgd, momentum, adam) and an 'lr'")
    unknown = set(optimizer) - set(_OPTIMIZER_KEYS)
    if unknown:
        raise EngineError("optimizer", f"takes no {', '.join(sorted(unknown))}")
    return dict(optimizer)


def network(x, layers, *, target, loss, optimizer, steps=1, seed=None) -> Trace:
    """One example through a small network: forward, loss, backward and update, ``steps`` times.

    Parameters
    ----------
    x : one example, in the first layer's layout ((H, W) or (C, H, W) for conv2d, (L,) or (C, L) for
        conv1d, (in,) for linear); no batch axis.
    layers : a list of {"type": ..., options}; conv2d/conv1d/linear take "weight" and "bias" (or
        out_channels and kernel_size / out_features to draw them from ``seed``; "bias": false for none);
        "frozen": true keeps a layer's parameters as they are. linear takes a vector (flatten first);
        batchnorm2d a (C, H, W) map or one (H, W) matrix.
    target, loss, optimizer : as for ``loss`` ({"kind", "reduction"}) and ``optimizer_step`` ({"kind", "lr", ...}).

    Notes
    -----
    The steps are the first training step's: each layer's forward op, the loss, each layer's backward op in
    reverse, and the optimizer's update. ``losses`` holds each step's loss, measured before its update.
    """
    x_arr = as_tensor(x, "input", (1, 2, 3))  # one example: a batch axis has no place here
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise EngineError("steps", f"expected a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32):
        raise EngineError("seed", f"expected a whole number from 0 to 2^32 − 1, got {seed!r}")
    loss_spec, opt_spec = _loss_spec(loss), _optimizer_spec(optimizer)
    resolved, _, seed = _resolve(layers, x_arr, seed)
    first = _run(resolved, x_arr, target, loss_spec)
    params = _parameters(resolved)
    if not params:
        raise EngineError("layers", "no layer has parameters to train (all are frozen or have none)")
    grads = _gradients(resolved, first)
    update = _within("optimizer", _OPTIMIZER_KEYS, lambda: optimizer_step(params, grads, **opt_spec))
    losses = [float(first.loss.outputs["loss"])]
    current, state = _with(resolved, update.outputs["params"]), update.outputs["state"]
    for _ in range(1, steps):
        run = _run(current, x_arr, target, loss_spec)
        losses.append(float(run.loss.outputs["loss"]))
        later = optimizer_step(_parameters(current), _gradients(current, run), **opt_spec, state=state)
        current, state = _with(current, later.outputs["params"]), later.outputs["state"]
    return _trace(x_arr, resolved, current, first, update, losses, grads, seed, loss_spec, opt_spec, steps)


def _layer_gradients(layer: Layer, bt: Trace) -> dict[str, np.ndarray]:
    """{"weight": ..., "bias": ...} of one layer's backward trace, in its parameters' shapes."""
    out = {"weight": np.asarray(bt.outputs["grad_weight"], dtype=float).reshape(layer.weight.shape)}
    if layer.bias is not None:
        out["bias"] = np.asarray(bt.outputs["grad_bias"], dtype=float).reshape(layer.bias.shape)
    return out


def _gradients(layers: list[Layer], run: _Pass) -> dict[str, np.ndarray]:
    grads = {}
    for i, layer in enumerate(layers):
        if layer.weight is None or layer.frozen:
            continue
        for key, value in _layer_gradients(layer, run.backwards[i]).items():
            grads[f"layer{i + 1}.{key}"] = value
    return grads


def _trace(x: np.ndarray, layers: list[Layer], final: list[Layer], run: _Pass, update: Trace, losses: list[float],
           grads: dict[str, np.ndarray], seed: int | None, loss_spec: dict, opt_spec: dict, steps: int) -> Trace:
    L = len(layers)
    segments: list[Segment] = []
    inter: dict[str, Any] = {}
    for i, (layer, ft) in enumerate(zip(layers, run.forwards)):
        n = i + 1
        names = {"input": f"act.{i}", "output": f"act.{n}", "kernel": f"param.{n}.weight",
                 "weight": f"param.{n}.weight", "bias": f"param.{n}.bias", "gamma": f"param.{n}.weight",
                 "beta": f"param.{n}.bias"}
        segments.append(_header(f"layer{n}.forward", f"Layer {n}: {layer.name}, forward",
                                f"{layer.name} turns the {_shape_text(run.acts[i])} input into a "
                                f"{_shape_text(run.acts[n])} output.",
                                f"{_shape_text(run.acts[i])} → {_shape_text(run.acts[n])}"))
        lead = _lead(layer, run.acts[i])
        segments += _nest(ft, names, f"layer.{n}.", f"layer{n}.forward.", squeeze=lead)
        inter[f"act.{n}"] = run.acts[n]
        for key, value in {**ft.intermediates, **{k: v for k, v in ft.outputs.items() if k != "output"}}.items():
            inter[f"layer.{n}.{key}"] = value[(0,) * lead] if lead and key in SAMPLE_TENSORS else value
    inter["act.0"] = x
    loss_names = {"prediction": f"act.{L}", "grad_input": f"delta.{L}", "loss": "loss", "target": "target"}
    segments.append(_header("loss.header", "The loss", "Compare the prediction with the target.",
                            f"{loss_spec['kind']}, reduction {loss_spec.get('reduction', 'mean')}"))
    segments += _nest(run.loss, loss_names, "loss.", "loss.")
    for key, value in run.loss.intermediates.items():
        inter[f"loss.{key}"] = value
    inter[f"delta.{L}"] = run.deltas[L]
    for i in range(L - 1, -1, -1):
        bt = run.backwards[i]
        if bt is None:
            continue
        n = i + 1
        layer = layers[i]
        names = {"input": f"act.{i}", "grad_output": f"delta.{n}", "grad_input": f"delta.{i}",
                 "kernel": f"param.{n}.weight", "weight": f"param.{n}.weight", "bias": f"param.{n}.bias",
                 "gamma": f"param.{n}.weight", "beta": f"param.{n}.bias",
                 "grad_weight": f"grad.{n}.weight", "grad_bias": f"grad.{n}.bias", "mask": f"layer.{n}.mask"}
        if layer.type == "dropout":
            names.update({"input": f"delta.{n}", "output": f"delta.{i}"})
        needs_input = any(run.backwards[k] is not None for k in range(i))
        skip = () if needs_input else ("grad_input",)
        segments.append(_header(f"layer{n}.backward", f"Layer {n}: {layer.name}, backward",
                                f"δ arrives with the {_shape_text(run.acts[n])} output's shape"
                                + ("; it leaves with the input's shape." if needs_input
                                   else "; no layer below needs it, so only the parameter gradients are found.")
                                + (" The layer is frozen: its gradients are found but not applied."
                                   if layer.frozen else ""),
                                f"δ {_shape_text(run.acts[n])} → " + (f"δ {_shape_text(run.acts[i])}" if needs_input
                                                                     else "parameter gradients")))
        lead = _lead(layer, run.acts[i])
        segments += _nest(bt, names, f"layer.{n}.backward.", f"layer{n}.backward.", skip, squeeze=lead)
        if needs_input:
            inter[f"delta.{i}"] = run.deltas[i]
        for key, value in bt.intermediates.items():
            inter[f"layer.{n}.backward.{key}"] = value[(0,) * lead] if lead and key in SAMPLE_TENSORS else value
        if layer.weight is not None:  # a frozen layer's too: its steps write them, the update skips them
            for key, value in _layer_gradients(layer, bt).items():
                inter[f"grad.{n}.{key}"] = value
    segments.append(_header("update.header", "The update", f"{opt_spec['kind']} with learning rate "
                            f"{fmt(opt_spec['lr'])} moves every trainable parameter against its gradient.",
                            f"{opt_spec['kind']}, lr = {fmt(opt_spec['lr'])}"))
    update_names: dict[str, str] = {}
    update_targets: dict[str, str] = {}
    for name in update.outputs["params"]:
        short = name.removeprefix("layer")
        update_names[f"params.{name}"] = f"param.{short}"
        update_names[f"grads.{name}"] = f"grad.{short}"
        update_targets[f"params.{name}"] = f"updated.{short}"
    segments += _nest(update, update_names, "update.", "update.", targets=update_targets)
    for key, value in update.flat_outputs().items():
        inter[update_targets.get(key, f"update.{key}")] = value
    for i, layer in enumerate(layers):
        if layer.weight is not None:
            inter[f"param.{i + 1}.weight"] = layer.weight
            if layer.bias is not None:
                inter[f"param.{i + 1}.bias"] = layer.bias

    outputs = {
        "prediction": run.acts[-1],
        "loss": float(run.loss.outputs["loss"]),
        "losses": losses,
        "gradients": [None if layer.weight is None or layer.frozen else
                      {"weight": grads[f"layer{i + 1}.weight"], "bias": grads.get(f"layer{i + 1}.bias")}
                      for i, layer in enumerate(layers)],
        "parameters": [None if layer.weight is None else {"weight": layer.weight, "bias": layer.bias}
                       for layer in final],
        "activations": run.acts[1:],
    }
    params = {"layers": [{"type": layer.type, "frozen": layer.frozen, "drawn": layer.drawn,
                          **{k: v for k, v in layer.options.items() if k != "mask"}} for layer in layers],
              "loss": loss_spec, "optimizer": opt_spec, "steps": steps, "seed": seed}
    inputs = {"input": x, "target": np.asarray(run.loss.inputs["target"])}
    return Trace(op="network", params=params, inputs=inputs, outputs=outputs,
                 formula=r"\hat{y} = f_L(\cdots f_2(f_1(x))),\quad \delta_{l-1} = \frac{\partial f_l}{\partial a_{l-1}}^{\mathsf{T}} "
                         r"\delta_l,\quad \theta \leftarrow \theta - \eta\, \frac{\partial L}{\partial \theta}",
                 segments=segments, notes=_teacher_notes(layers, run, losses, grads, opt_spec, seed),
                 intermediates=inter)


def _teacher_notes(layers: list[Layer], run: _Pass, losses: list[float], grads: dict[str, np.ndarray],
                   opt_spec: dict, seed: int | None) -> list[str]:
    notes = []
    if seed is not None and any(layer.drawn and layer.type != "dropout" for layer in layers):
        notes.append(f"Weights not given were drawn with seed {seed} from ±1/√fan_in (PyTorch's range), "
                     "rounded to two decimals.")
    for i, layer in enumerate(layers):
        if layer.type == "dropout" and layer.drawn:
            notes.append(f"Layer {i + 1} (Dropout) draws its mask with seed {layer.options['seed']}, taken from "
                         f"seed {seed}; every training step uses the same mask.")
        if layer.frozen:
            notes.append(f"Layer {i + 1} ({layer.name}) is frozen: its gradient is not applied, its weights stay.")
        if layer.type in ("relu",):
            out = run.acts[i + 1]
            dead = int(np.sum(out == 0))
            if dead == out.size:
                notes.append(f"Every output of layer {i + 1} (ReLU) is 0: no gradient passes back through it "
                             "(a dead ReLU), so the layers below cannot learn from this example.")
            elif dead:
                notes.append(f"{dead} of {out.size} outputs of layer {i + 1} (ReLU) are 0: no gradient flows "
                             "back through those cells.")
    norms = {name: float(np.sqrt(np.sum(g * g))) for name, g in grads.items() if name.endswith("weight")}
    if norms:
        small = [n for n, v in norms.items() if 0 < v < 1e-6]
        large = [n for n, v in norms.items() if v > 1e3]
        if small:
            notes.append(f"The gradient of {', '.join(n.split('.')[0].replace('layer', 'layer ') for n in small)} is below 1e-6: "
                         "it has all but vanished on the way back.")
        if large:
            notes.append(f"The gradient of {', '.join(n.split('.')[0].replace('layer', 'layer ') for n in large)} is above 1000: "
                         "it is exploding; a smaller learning rate or normalisation helps.")
    for k in range(1, len(losses)):
        if losses[k] > losses[k - 1]:
            notes.append(f"Step {k} raised the loss from {fmt(losses[k - 1])} to {fmt(losses[k])}: the learning "
                         f"rate {fmt(opt_spec['lr'])} is too large for this example here, so the update overshot "
                         "the minimum.")
            break
    if len(losses) > 1 and losses[-1] < losses[0]:
        notes.append(f"Over {len(losses)} steps the loss went from {fmt(losses[0])} to {fmt(losses[-1])}.")
    notes.append("Layers count from 1. act.0 is the input, act.l the output of layer l, delta.l = ∂L/∂act.l.")
    return notes
