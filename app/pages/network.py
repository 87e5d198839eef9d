"""The network page: a layer list typed as text, one example followed forward, through the loss,
backward and through the update, with the layer stack drawn as a diagram, the loss over the
training steps, and the feature maps as heatmaps."""

from __future__ import annotations

import functools
import math
import random
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse

from engine import EngineError, network, parse_matrix
from engine.network import MAX_STEPS, POOLS
from engine.numfmt import fmt
from engine.shapes import out_size, resolve_padding

from ..api import budget
from ..limits import GRID_CELLS, MAX_MULTIPLY_ADDS, PAGE_STEPS
from ..render import templates
from .network_figures import (Problem, diagrams, layer_rows, loss_curve, names_of, position, stages, step_runs,
                              views)
from .walkthrough import Field, Preset

router = APIRouter(include_in_schema=False)

LOSSES = ("mse", "cross_entropy", "softmax_cross_entropy", "binary_cross_entropy")
REDUCTIONS = ("mean", "sum", "half_sum")
OPTIMIZERS = ("sgd", "momentum", "adam")
MAX_LAYERS = 32

# --- the problem: fields, presets, generated digits ----------------------------------------------

SEED000_INPUT = "2 0 1 2\n1 1 0 1\n0 2 1 0\n1 0 2 1"
SEED000_LAYERS = "conv2d weight=1 -1 0; 0 1 -1; 1 0 1\nrelu\nflatten\nlinear weight=0.2 -0.5 0.4 0.1 bias=0.2"
MNIST_LAYERS = "conv2d out=1 k=6\nmaxpool2d 2\nflatten\nlinear out=10"
TWO_CONV_INPUT = "1 2 0 0 1 0\n0 2 1 0 0 1\n1 3 1 0 0 0\n0 2 2 1 0 1\n1 2 0 2 1 0\n0 1 0 0 2 1"
TWO_CONV_LAYERS = ("conv2d weight=1 0 -1; 2 0 -2; 1 0 -1\nrelu\nconv2d weight=1 0 -1; 0 1 0; -1 0 1 bias=-1\nrelu\n"
                   "flatten\nlinear weight=0.5 -0.25 0.25 0.1 bias=0")

FIELDS = (
    Field("input", "Input x (a0)", "matrix", SEED000_INPUT,
          help="Rows on lines or separated by ;, channels by a blank line. Or digit 0 … digit 9: "
               "a generated 28×28 handwritten-style digit."),
    Field("layers", "Layers, one per line", "matrix", SEED000_LAYERS,
          help="A type, then options as name=value. The full list is under ‘How to write layers’."),
    Field("target", "Target t", "text", "0",
          help="One number per output, or a class index (0, 1, …) for the cross-entropies."),
    Field("loss", "Loss", "choice", "mse", LOSSES),
    Field("reduction", "Reduction", "choice", "half_sum", REDUCTIONS,
          help="half_sum is ½Σ (MSE only); mean averages MSE over cells, cross-entropy over samples."),
    Field("optimizer", "Optimizer", "choice", "sgd", OPTIMIZERS),
    Field("lr", "Learning rate η", "text", "0.1"),
    Field("momentum", "Momentum μ", "text", "0.9", help="Used by the momentum optimizer only."),
    Field("steps", "Training steps", "text", "1",
          help=f"1 to {MAX_STEPS}. The steps below follow the first; the loss curve shows them all."),
    Field("seed", "Seed", "text", "0", help="Draws the weights of layers written with out= (and k=).",
          optional=True),
)
DEFAULTS = {f.name: f.default for f in FIELDS}
MNIST = {"input": "digit 7", "layers": MNIST_LAYERS, "target": "7", "loss": "softmax_cross_entropy",
         "reduction": "mean", "optimizer": "sgd", "lr": "0.05", "steps": "10", "seed": "3"}
PRESETS = (
    Preset("Seed 000: the toy network", "4×4 input, 3×3 kernel, ReLU, flatten, a linear layer; prediction 2.9, "
           "loss 4.205", {}),
    Preset("Seed 000, ten training steps", "the first update overshoots (η = 0.1), then the loss falls",
           {"steps": "10"}),
    Preset("Seed 003: an MNIST-style network", "28×28 digit, one 6×6 filter, 2×2 max pool, 121 → 10, "
           "softmax with cross-entropy", MNIST),
    Preset("Two convolutions", "a vertical-edge filter, ReLU, a second 3×3 filter; ten steps with η = 0.001",
           {"input": TWO_CONV_INPUT, "layers": TWO_CONV_LAYERS, "target": "1", "lr": "0.001", "steps": "10"}),
)

LAYER_HELP = (
    ("conv2d weight=1 -1 0; 0 1 -1; 1 0 1", "a 3×3 kernel, rows split by ;"),
    ("conv2d out=2 k=3", "two 3×3 filters, weights drawn from the seed"),
    ("conv2d weight=1 0; 0 1 | 0 1; 1 0", "one filter over two input channels (| between channels; / between filters)"),
    ("conv2d … bias=0.5 stride=2 padding=1", "also padding=same, dilation=2, groups=2; bias=none drops a drawn bias"),
    ("maxpool2d 2", "2×2 windows, stride 2; also avgpool2d, minpool2d, stride=1, padding=1"),
    ("relu", "also sigmoid, tanh, softmax, leaky_relu alpha=0.1"),
    ("flatten", "(C, H, W) to one vector, row by row"),
    ("linear weight=0.2 -0.5 0.4 0.1 bias=0.2", "one row of weights per output, rows split by ;"),
    ("linear out=10", "ten outputs, weights drawn from the seed"),
    ("batchnorm2d", "normalise each channel over its cells, then scale and shift"),
    ("dropout p=0.5 seed=1", "zero each cell with probability p (the mask drawn from seed), scale the rest"),
    ("linear out=10 frozen", "frozen keeps a layer's parameters as they are"),
)

# Strokes of the generated digits, in (column, row) on a 28×28 canvas: polylines, and ellipse arcs
# (cx, cy, rx, ry, from°, to°) with angles clockwise from the right, as rows grow downwards.
_DIGIT_STROKES: dict[int, list[Any]] = {
    0: [(14, 14, 6, 9, 0, 360)],
    1: [[(11, 8), (15, 5), (14, 23)]],
    2: [(14, 10, 5.5, 5, 180, 360), [(19.5, 10), (18.5, 13.5), (9, 23), (20.5, 23)]],
    3: [(13.5, 9.5, 5, 4.5, 200, 450), (13.5, 18.5, 5.5, 4.5, 270, 520)],
    4: [[(16, 5), (7, 17), (21, 17)], [(17, 9), (17, 23)]],
    5: [[(19, 5), (10, 5), (9.5, 13)], (14, 17.5, 5.5, 5, 232, 500)],
    6: [[(18, 5), (12, 10), (9, 16)], (14, 17.5, 5, 5.5, 0, 360)],
    7: [[(7, 6), (21, 6), (12, 23)]],
    8: [(14, 9.5, 4.5, 4.5, 0, 360), (14, 18.5, 5.5, 4.5, 0, 360)],
    9: [(14, 10, 5, 4.5, 0, 360), [(19, 10), (18, 17), (16, 23)]],
}


def digit_image(d: int) -> np.ndarray:
    """A 28×28 handwritten-style digit in 0..1 (two decimals), drawn from strokes with a soft pen."""
    segments = []
    for stroke in _DIGIT_STROKES[d]:
        if isinstance(stroke, tuple):
            cx, cy, rx, ry, a0, a1 = stroke
            angles = np.radians(np.linspace(a0, a1, 48))
            stroke = list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles)))
        segments += list(zip(stroke[:-1], stroke[1:]))
    p = np.array([s[0] for s in segments], dtype=float)
    q = np.array([s[1] for s in segments], dtype=float)
    rows, cols = np.mgrid[0:28, 0:28]
    points = np.stack([cols.ravel(), rows.ravel()], axis=1)[:, None, :]   # (784, 1, 2) as (x, y)
    along = q - p
    t = np.clip(np.sum((points - p) * along, axis=2) / np.maximum(np.sum(along * along, axis=1), 1e-9), 0, 1)
    distance = np.linalg.norm(points - (p + t[..., None] * along), axis=2).min(axis=1)
    return np.round(np.clip(1.9 - distance, 0, 1), 2).reshape(28, 28) + 0.0


# --- reading the layer list ---------------------------------------------------------------------

_TYPE_ALIASES = {"conv": "conv2d", "maxpool": "maxpool2d", "avgpool": "avgpool2d", "minpool": "minpool2d",
                 "dense": "linear", "fc": "linear", "batchnorm": "batchnorm2d", "bn": "batchnorm2d"}
_INTS = {"k": "kernel_size", "kernel_size": "kernel_size", "stride": "stride", "dilation": "dilation",
         "groups": "groups", "seed": "seed"}
_FLOATS = ("alpha", "p", "eps")
_KEYS = sorted({"weight", "bias", "out", "padding", "variant", *_INTS, *_FLOATS})
_OPTION = re.compile(r"(?:^|\s)([A-Za-z_]+)\s*=")


@dataclass(frozen=True)
class LayerLine:
    number: int   # the line in the text box, from 1
    text: str


def _line_error(line: LayerLine, message: str, layer: int) -> EngineError:
    shown = line.text if len(line.text) <= 60 else line.text[:57] + "…"
    return EngineError("layers", f"line {line.number} ({shown}): {message}", (layer,))


def _whole_numbers(text: str, line: LayerLine, key: str, layer: int) -> int | tuple[int, ...]:
    parts = text.replace(",", " ").split()
    if not parts or not all(re.fullmatch(r"-?\d+", p) for p in parts):
        raise _line_error(line, f"{key}={text.strip()} is not a whole number (or two)", layer)
    numbers = tuple(int(p) for p in parts)
    return numbers[0] if len(numbers) == 1 else numbers


def _numbers(text: str, line: LayerLine, key: str, layer: int) -> np.ndarray:
    try:
        return parse_matrix(text, key)
    except EngineError as error:
        raise _line_error(line, f"{key}: {error.problem}", layer) from None


def _conv_weight(text: str, line: LayerLine, layer: int) -> np.ndarray:
    """Rows split by ';', input channels by '|', filters by '/'; or bracketed JSON of any rank."""
    if text.strip().startswith("["):
        return _numbers(text, line, "weight", layer)
    filters = [[_numbers(c, line, "weight", layer) for c in f.split("|")] for f in text.split("/")]
    if len(filters) == 1 and len(filters[0]) == 1:
        return filters[0][0]
    shapes = {c.shape for f in filters for c in f}
    if len(shapes) > 1 or len({len(f) for f in filters}) > 1:
        raise _line_error(line, "every filter needs the same number of channels, each of the same size", layer)
    return np.array([np.stack(f) for f in filters])


def parse_layers(text: str) -> tuple[list[dict[str, Any]], list[LayerLine]]:
    """The layer text as the engine's layer list, and the line each layer came from."""
    specs: list[dict[str, Any]] = []
    lines: list[LayerLine] = []
    for number, raw in enumerate(str(text).splitlines(), start=1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        line = LayerLine(number, body)
        i = len(specs)
        if i == MAX_LAYERS:
            raise _line_error(line, f"a page takes at most {MAX_LAYERS} layers", i)
        head, _, rest = body.partition(" ")
        rest, frozen = re.subn(r"(?<!\S)frozen(?!\S)", " ", rest)
        kind = _TYPE_ALIASES.get(head.lower(), head.lower())
        starts = [m.start(1) for m in _OPTION.finditer(" " + rest)]
        leading = (" " + rest)[:starts[0]] if starts else " " + rest
        spec: dict[str, Any] = {"type": kind, **({"frozen": True} if frozen else {})}
        words = leading.split()
        if words and kind in POOLS:
            spec["kernel_size"] = _whole_numbers(" ".join(words), line, "window", i)
        elif words:
            raise _line_error(line, f"{' '.join(words)!r} is not an option: write name=value, such as k=3", i)
        chunks = [(" " + rest)[a:b] for a, b in zip(starts, starts[1:] + [len(rest) + 1])]
        for chunk in chunks:
            key, _, value = chunk.partition("=")
            key = key.strip().lower()
            value = value.strip()
            if key not in _KEYS:
                raise _line_error(line, f"{key!r} is not an option: use {', '.join(_KEYS)}", i)
            if not value:
                raise _line_error(line, f"{key}= has no value", i)
            if key == "weight":
                spec["weight"] = (_conv_weight(value, line, i) if kind in ("conv2d", "conv1d")
                                  else _numbers(value, line, "weight", i))
                if kind == "conv1d" and spec["weight"].ndim == 2 and spec["weight"].shape[0] == 1:
                    spec["weight"] = spec["weight"].reshape(-1)
            elif key == "bias":
                spec["bias"] = False if value.lower() == "none" else _numbers(value, line, "bias", i).reshape(-1)
            elif key == "out":
                spec["out_features" if kind == "linear" else "out_channels"] = _whole_numbers(value, line, key, i)
            elif key == "padding":
                spec["padding"] = (value.lower() if value.lower() in ("same", "valid")
                                   else _whole_numbers(value, line, key, i))
            elif key in _INTS:
                spec[_INTS[key]] = _whole_numbers(value, line, key, i)
            elif key in _FLOATS:
                try:
                    spec[key] = float(value)
                except ValueError:
                    raise _line_error(line, f"{key}={value} is not a number", i) from None
            else:
                spec[key] = value
        if spec.get("bias") is False and spec.get("weight") is not None:
            del spec["bias"]   # a given weight with no bias given has none already
        specs.append(spec)
        lines.append(line)
    if not specs:
        raise EngineError("layers", "is empty: write one layer per line, such as relu")
    return specs, lines


def _input(text: str) -> np.ndarray:
    match = re.fullmatch(r"\s*digit\s+(\S+)\s*", str(text), flags=re.IGNORECASE)
    if match:
        if not re.fullmatch(r"[0-9]", match.group(1)):
            raise EngineError("input", f"digit {match.group(1)}: a generated digit is one figure, 0 to 9")
        return digit_image(int(match.group(1)))
    return parse_matrix(text, "input")


def _target(text: str) -> Any:
    t = parse_matrix(text, "target")
    if t.size == 1:
        return float(t.reshape(-1)[0])
    return t.reshape(-1) if t.ndim == 2 and t.shape[0] == 1 else t


def _number(text: str, name: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise EngineError(name, f"{str(text).strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise EngineError(name, "must be a finite number")
    return value


def _whole(text: str, name: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", str(text)):
        raise EngineError(name, f"{str(text).strip()!r} is not a whole number")
    return int(text)


# --- what a problem costs, before the engine computes it -----------------------------------------

def _check_cost(x_shape: tuple[int, ...], specs: list[dict[str, Any]], steps: int) -> None:
    """Each convolution and pooling within the app's budgets, and every training step's multiply-adds
    (forward, and about twice that backward) within MAX_MULTIPLY_ADDS. Shapes that do not chain stop the
    walk: the engine then says which layer."""
    shape = tuple(x_shape)
    macs = 0
    for spec in specs:
        kind = spec["type"]
        size = int(np.prod(shape)) if shape else 1
        try:
            if kind == "conv2d":
                H, W = shape[-2:]
                C = shape[0] if len(shape) == 3 else 1
                if spec.get("weight") is not None:
                    w = np.shape(spec["weight"])
                    w4 = w if len(w) == 4 else (1, 1) + tuple(w[-2:])
                else:
                    k = spec["kernel_size"]
                    k2 = (k, k) if isinstance(k, int) else tuple(k)
                    w4 = (spec["out_channels"], C // spec.get("groups", 1)) + k2
                stride = spec.get("stride", 1)
                dilation = spec.get("dilation", 1)
                padding = spec.get("padding", 0)
                budget.check_conv(shape, w4, stride, padding, dilation, False)
                pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
                (top, bottom, left, right), _ = resolve_padding(padding, w4[2:], pair(stride), pair(dilation), (H, W))
                H_out = out_size(H, w4[2], pair(stride)[0], top, bottom, pair(dilation)[0])
                W_out = out_size(W, w4[3], pair(stride)[1], left, right, pair(dilation)[1])
                macs += w4[0] * H_out * W_out * int(np.prod(w4[1:]))
                shape = (w4[0], H_out, W_out)
            elif kind in POOLS:
                k = spec["kernel_size"]
                (kH, kW) = (k, k) if isinstance(k, int) else tuple(k)
                stride = spec.get("stride", (kH, kW))
                (sH, sW) = (stride, stride) if isinstance(stride, int) else tuple(stride)
                p = spec.get("padding", 0)
                (pH, pW) = (p, p) if isinstance(p, int) else tuple(p)
                budget.check_pool(shape, (kH, kW), (sH, sW), (pH, pW), False)
                shape = shape[:-2] + (out_size(shape[-2], kH, sH, pH, pH), out_size(shape[-1], kW, sW, pW, pW))
                macs += int(np.prod(shape)) * kH * kW
            elif kind == "flatten":
                shape = (size,)
            elif kind == "linear":
                out = (np.shape(spec["weight"])[0] if spec.get("weight") is not None
                       else spec["out_features"])
                macs += out * shape[-1]
                shape = shape[:-1] + (out,)
            else:
                macs += size
        except (KeyError, TypeError, ValueError, IndexError):
            break
    if 3 * macs * steps > MAX_MULTIPLY_ADDS:
        raise EngineError("steps", f"{steps} training steps of this network take about {3 * macs * steps:,} "
                                   f"multiply-adds; the limit is {MAX_MULTIPLY_ADDS:,}")


# --- running it ----------------------------------------------------------------------------------

def _query(request: Request) -> dict[str, str]:
    given = request.query_params
    q = {f.name: given.get(f.name, f.default) for f in FIELDS}
    for f in FIELDS:
        if f.kind == "choice" and q[f.name] not in f.choices:
            raise EngineError(f.name, f"{q[f.name]!r} is not one of: {', '.join(f.choices)}")
    return q


def _random_query(seed: int) -> dict[str, str]:
    """A small random problem: a 5×5 or 6×6 input, a drawn 3×3 filter, perhaps a pool, one output."""
    rng = random.Random(seed)
    n = rng.choice((5, 6))
    rows = "\n".join(" ".join(str(rng.randint(0, 3)) for _ in range(n)) for _ in range(n))
    layers = ["conv2d out=1 k=3", rng.choice(("relu", "tanh", "sigmoid"))]
    if n == 6:
        layers.append("maxpool2d 2")
    layers += ["flatten", "linear out=1"]
    return {**DEFAULTS, "input": rows, "layers": "\n".join(layers), "target": str(rng.randint(0, 2)),
            "lr": "0.05", "steps": "10", "seed": str(seed)}


@functools.lru_cache(maxsize=16)
def _compute(key: tuple[tuple[str, str], ...]) -> Problem:
    """The network for one query (cached: the page and the step fragments it fetches ask again)."""
    q = dict(key)
    x = _input(q["input"])
    specs, lines = parse_layers(q["layers"])
    steps = _whole(q["steps"], "steps")
    seed = None if not q["seed"].strip() else _whole(q["seed"], "seed")
    optimizer: dict[str, Any] = {"kind": q["optimizer"], "lr": _number(q["lr"], "lr")}
    if q["optimizer"] == "momentum":
        optimizer["momentum"] = _number(q["momentum"], "momentum")
    _check_cost(x.shape, specs, min(max(steps, 1), MAX_STEPS))
    try:
        trace = network(x, specs, target=_target(q["target"]),
                        loss={"kind": q["loss"], "reduction": q["reduction"]}, optimizer=optimizer,
                        steps=steps, seed=seed)
    except EngineError as error:
        if error.argument == "layers" and error.location and error.location[0] < len(lines):
            i = error.location[0]
            raise _line_error(lines[i], error.problem.removeprefix(f"layer {i + 1}: "), i) from None
        if error.argument in ("prediction", "kind"):
            raise EngineError("layers", f"the last layer's output does not suit the loss: {error.problem}") from None
        raise
    return Problem.of(trace)


# --- the pages -----------------------------------------------------------------------------------

def _rows(text: str, most: int) -> int:
    return max(3, min(str(text).count("\n") + 1, most))


def _pixels(text: str) -> str | None:
    """A 28×28 input as 784 numbers, for the drawing pad to start from."""
    try:
        x = _input(text)
    except EngineError:
        return None
    return " ".join(fmt(v) for v in x.ravel()) if x.shape == (28, 28) else None


def render_page(request: Request) -> HTMLResponse:
    seed_text = request.query_params.get("random")
    seed = None
    error = None
    problem = None
    q = {f.name: request.query_params.get(f.name, f.default) for f in FIELDS}
    try:
        if seed_text is not None:
            seed = int(seed_text) if seed_text.isdigit() else random.randrange(1000)
            q = _random_query(seed)
        else:
            q = _query(request)
        problem = _compute(tuple(q.items()))
    except EngineError as e:
        field = e.argument if any(f.name == e.argument for f in FIELDS) else None
        error = {"field": field, "message": e.problem, "argument": e.argument}
    except RequestValidationError as e:   # a convolution or pooling over the budgets of app.limits
        error = {"field": "layers", "message": e.errors()[0]["msg"], "argument": "layers"}
    except (ValueError, TypeError, KeyError, MemoryError, ArithmeticError) as e:
        error = {"field": None, "message": f"this problem cannot be computed: {e}", "argument": ""}
    context: dict[str, Any] = {
        "fields": FIELDS, "q": q, "error": error, "seed": seed, "next_random": (seed or 0) + 1,
        "present": request.query_params.get("present") == "1", "problem": problem,
        "rows": {f.name: _rows(q[f.name], 8 if f.name == "input" else 12) for f in FIELDS},
        "presets": [(p, urlencode({**DEFAULTS, **p.query})) for p in PRESETS],
        "digits": [(d, urlencode({**MNIST, "input": f"digit {d}", "target": str(d)})) for d in range(10)],
        "layer_help": LAYER_HELP, "query_string": urlencode(q), "pixels": _pixels(q["input"]),
    }
    if problem is not None:
        t = problem.trace
        names = names_of(problem)
        rows = layer_rows(problem)
        stage_list, hidden = stages(problem, rows, names.one_cell)
        context.update(
            step_count=len(t.steps), runs=step_runs(problem, names), diagrams=diagrams(problem, rows),
            layer_rows=rows, loss_at=position(problem, "loss.header"), update_at=position(problem, "update.header"),
            curve=loss_curve(t.outputs["losses"]), curve_first=len(t.outputs["losses"]) > 1, stages=stage_list,
            notes=list(t.notes) + [f"{name} has more than {GRID_CELLS:,} numbers to draw; the steps list each one."
                                   for name in hidden],
            prediction=" ".join(fmt(v) for v in np.ravel(t.outputs["prediction"])), loss=fmt(t.outputs["loss"]),
            drawn_seed=t.params["seed"] if any(spec["drawn"] for spec in t.params["layers"]) else None,
        )
    return HTMLResponse(templates.get_template("network.html").render(request=request, **context))


@router.get("/network", response_class=HTMLResponse, name="page network")
async def network_page(request: Request) -> HTMLResponse:
    return render_page(request)


@router.get("/network/steps", response_class=HTMLResponse, name="steps network")
async def network_steps(request: Request) -> HTMLResponse:
    """More steps as an HTML fragment, for the player and for the links in the gaps of the list."""
    try:
        problem = _compute(tuple(_query(request).items()))
        offset = max(int(request.query_params.get("offset", "0")), 0)
    except (EngineError, RequestValidationError, ValueError, MemoryError):
        return HTMLResponse("", status_code=422)
    steps = views(problem, offset, offset + PAGE_STEPS, names_of(problem))
    return HTMLResponse(templates.get_template("partials/steps.html").render(steps=steps))
