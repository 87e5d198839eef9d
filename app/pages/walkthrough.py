"""The walkthrough pages: a GET form whose query string is the problem, the grids, the steps."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse

from engine import (EngineError, conv1d, conv1d_backward, conv2d, conv2d_backward, im2col, output_size,
                    parse_matrix, pool2d, pool2d_backward)
from engine.trace import Trace, cell_id

from ..api import budget
from ..limits import GRID_CELLS, PAGE_STEPS
from ..render import grid, step_views, templates
from .answers import check_view

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str            # "matrix" | "text" | "choice" | "check"
    default: str = ""
    choices: tuple[str, ...] = ()
    help: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Preset:
    title: str
    source: str
    query: dict[str, str]


@dataclass(frozen=True)
class Walkthrough:
    slug: str
    title: str
    api: str
    intro: str
    fields: tuple[Field, ...]
    run: Callable[[dict[str, Any]], Trace]
    presets: tuple[Preset, ...] = ()
    random_fields: dict[str, tuple[int, int] | range | Callable[[random.Random], str]] = field(default_factory=dict)
    """Fields the random button fills: a matrix shape (rows, columns), a range of whole numbers, or a
    function of the random generator that writes the field's text."""
    pair: str | None = None  # the forward/backward page that goes with this one
    picture: Callable[[Trace, dict[str, str]], Any] | None = None
    """(trace, query) -> a picture's view model for templates/partials/picture.html, or None."""
    grids: Callable[[Trace], tuple[list, list[str]]] | None = None
    """trace -> ([(heading, [Grid])], names too large to draw); None draws inputs and outputs."""
    problem: Callable[[dict[str, str]], dict[str, Any]] | None = None
    """query -> the op's API body, to check an answer against; None reads the body back from the trace
    (right when the trace keeps the parameters as given)."""


SEED000 = {"input": "2 0 1 2\n1 1 0 1\n0 2 1 0\n1 0 2 1", "kernel": "1 -1 0\n0 1 -1\n1 0 1"}
EDGE001 = {"input": "1 0 1 2\n0 2 1 0\n1 1 0 1\n2 0 1 1", "kernel": "-1 0 1\n-1 0 1\n-1 0 1"}
POOL001 = "1 3 2 9\n4 6 1 5\n7 2 8 3\n0 4 3 6"
POOL004 = "1 3 2 4\n5 6 7 8\n9 2 1 0\n4 5 6 7"


def _ints(text: str, name: str) -> Any:
    """'2' -> 2, '2 1' or '2,1' -> (2, 1)."""
    parts = [p for p in str(text).replace(",", " ").split() if p]
    if not parts:
        raise EngineError(name, "is empty: type a whole number")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise EngineError(name, f"{text.strip()!r} is not a whole number (or two, or four)") from None
    return numbers[0] if len(numbers) == 1 else tuple(numbers)


def _padding(text: str) -> Any:
    word = str(text).strip().lower()
    return word if word in ("same", "valid") else _ints(text, "padding")


def _vector(text: str, name: str) -> np.ndarray:
    """A sequence: one row, or one number per row."""
    a = parse_matrix(text, name)
    if a.ndim == 2 and 1 in a.shape:
        return a.reshape(-1)
    return a


def _bias(text: str) -> Any:
    if not str(text).strip():
        return None
    b = parse_matrix(text, "bias")
    return float(b.reshape(-1)[0]) if b.size == 1 else b.reshape(-1)


CONV_FIELDS = (
    Field("input", "Input x", "matrix", SEED000["input"], help="Rows on lines or separated by ;, channels by a blank line."),
    Field("kernel", "Kernel k", "matrix", SEED000["kernel"], help="For several filters, use the JSON API."),
    Field("bias", "Bias b", "text", "", help="Optional: one number, or one per filter.", optional=True),
    Field("stride", "Stride S", "text", "1"),
    Field("padding", "Padding P", "text", "0", help="A number, two (rows, columns), four (top bottom left right), same or valid."),
    Field("dilation", "Dilation d", "text", "1"),
    Field("mode", "Operation", "choice", "correlation", ("correlation", "convolution"),
          help="Cross-correlation slides the kernel as written (what CNN libraries call convolution); "
               "true convolution rotates it 180° first."),
)
GRAD = Field("grad_output", "Upstream gradient δ = ∂L/∂z", "matrix", "1 2; 3 4",
             help="One number per output cell.")


def _conv_args(q: dict[str, Any], one_d: bool) -> dict[str, Any]:
    read = _vector if one_d else parse_matrix
    w = read(q["kernel"], "kernel")
    if not one_d and w.ndim == 3:
        w = w[None]  # channels typed in the box are the slices of one filter
    args = dict(x=read(q["input"], "input"), w=w, b=_bias(q.get("bias", "")),
                stride=_ints(q["stride"], "stride"), padding=_padding(q["padding"]),
                dilation=_ints(q["dilation"], "dilation"), mode=q["mode"])
    budget.check_conv(args["x"].shape, w.shape, args["stride"], args["padding"], args["dilation"], one_d)
    return args


def _run_conv(q):
    return conv2d(**_conv_args(q, False))


def _run_conv_back(q):
    a = _conv_args(q, False)
    return conv2d_backward(a.pop("x"), a.pop("w"), parse_matrix(q["grad_output"], "grad_output"), a.pop("b"), **a)


def _run_conv1d(q):
    return conv1d(**_conv_args(q, True))


def _run_conv1d_back(q):
    a = _conv_args(q, True)
    return conv1d_backward(a.pop("x"), a.pop("w"), _vector(q["grad_output"], "grad_output"), a.pop("b"), **a)


def _conv_problem(one_d: bool, backward: bool) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The page's problem as the API body, padding and stride as typed ("same" stays "same")."""
    def problem(q):
        a = _conv_args(q, one_d)
        body = {"input": a.pop("x"), "kernel": a.pop("w"), "bias": a.pop("b"), **a}
        if backward:
            body["grad_output"] = (_vector if one_d else parse_matrix)(q["grad_output"], "grad_output")
        return body
    return problem


POOL_FIELDS = (
    Field("input", "Input x", "matrix", POOL001),
    Field("kind", "Pooling", "choice", "max", ("max", "avg", "min")),
    Field("kernel_size", "Window size", "text", "2"),
    Field("stride", "Stride", "text", "", help="Empty: the window size.", optional=True),
    Field("padding", "Padding", "text", "0", help="At most half the window."),
    Field("ceil_mode", "Ceil mode", "choice", "false", ("false", "true"),
          help="Round the output size up, keeping a last partial window."),
    Field("count_include_pad", "Average counts padding", "choice", "true", ("true", "false")),
)


def _pool_args(q, x: np.ndarray):
    stride = q.get("stride", "")
    args = dict(kind=q["kind"], kernel_size=_ints(q["kernel_size"], "kernel_size"),
                stride=_ints(stride, "stride") if str(stride).strip() else None,
                padding=_ints(q["padding"], "padding"), ceil_mode=q["ceil_mode"] == "true",
                count_include_pad=q["count_include_pad"] == "true")
    budget.check_pool(x.shape, args["kernel_size"], args["stride"], args["padding"], args["ceil_mode"])
    return args


def _run_pool(q):
    x = parse_matrix(q["input"], "input")
    return pool2d(x, **_pool_args(q, x))


def _run_pool_back(q):
    x = parse_matrix(q["input"], "input")
    return pool2d_backward(x, parse_matrix(q["grad_output"], "grad_output"), **_pool_args(q, x))


def _pool_problem(q):
    x = parse_matrix(q["input"], "input")
    body = {"input": x, **_pool_args(q, x)}
    if "grad_output" in q:
        body["grad_output"] = parse_matrix(q["grad_output"], "grad_output")
    return body


def _run_im2col(q):
    kernel = q.get("kernel", "")
    w = parse_matrix(kernel, "kernel") if str(kernel).strip() else None
    x = parse_matrix(q["input"], "input")
    args = dict(kernel_size=_ints(q["kernel_size"], "kernel_size"), stride=_ints(q["stride"], "stride"),
                padding=_padding(q["padding"]), dilation=_ints(q["dilation"], "dilation"))
    budget.check_im2col(x.shape, None if w is None else w.shape, **args)
    return im2col(x, w=w, **args)


def _im2col_problem(q):
    kernel = q.get("kernel", "")
    return {"input": parse_matrix(q["input"], "input"),
            "kernel": parse_matrix(kernel, "kernel") if str(kernel).strip() else None,
            "kernel_size": _ints(q["kernel_size"], "kernel_size"), "stride": _ints(q["stride"], "stride"),
            "padding": _padding(q["padding"]), "dilation": _ints(q["dilation"], "dilation")}


def _size_problem(q):
    return {"input_size": _ints(q["input_size"], "input_size"), "kernel_size": _ints(q["kernel_size"], "kernel_size"),
            "stride": _ints(q["stride"], "stride"), "padding": _padding(q["padding"]),
            "dilation": _ints(q["dilation"], "dilation"), "ceil_mode": q["ceil_mode"] == "true"}


def _run_size(q):
    p = _size_problem(q)
    return output_size(p.pop("input_size"), p.pop("kernel_size"), **p)


WALKTHROUGHS: dict[str, Walkthrough] = {w.slug: w for w in [
    Walkthrough(
        "conv2d", "2-D convolution", "/api/v1/conv2d",
        "Slide the kernel over the input; each output cell is the sum of the products under the window, plus the bias.",
        CONV_FIELDS, _run_conv,
        (Preset("Seed 000: the 4×4 toy network's convolution", "Lecture notes, section II", SEED000),
         Preset("Seed 001: vertical edge detector", "Seed 001 §3.3 (its printed output is wrong: see the steps)", EDGE001),
         Preset("Seed 001, exercise 2", "2×2 kernel on a 3×3 input", {"input": "2 4 1; 3 1 5; 0 2 1", "kernel": "0 1; -1 0"}),
         Preset("'same' padding, stride 2", "Any stride, even kernel", {"input": "1 2 3 4 5; 6 7 8 9 10; 11 12 13 14 15; 16 17 18 19 20; 21 22 23 24 25",
                                                                          "kernel": "1 0; 0 -1", "stride": "2", "padding": "same"}),
         Preset("Two channels", "One grid per channel", {"input": "1 2 0; 0 1 2; 2 0 1\n\n0 1 1; 1 0 1; 1 1 0", "kernel": "1 0; 0 1\n\n0 1; 1 0", "bias": "1"})),
        {"input": (4, 4), "kernel": (3, 3)}, "conv2d/backward", problem=_conv_problem(False, False)),
    Walkthrough(
        "conv2d/backward", "2-D convolution: backward pass", "/api/v1/conv2d/backward",
        "Given δ = ∂L/∂z for every output cell, find ∂L/∂x (a full convolution of δ with the rotated kernel) "
        "and ∂L/∂k (a cross-correlation of the input with δ).",
        CONV_FIELDS + (GRAD,), _run_conv_back,
        (Preset("Seed 000's convolution, δ from the dense layer", "δ = 2.9 × w, reshaped",
                {**SEED000, "grad_output": "0.58 -1.45; 1.16 0.29"}),
         Preset("Stride 2: a transposed convolution", "", {"input": "1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16",
                                                           "kernel": "1 0; 0 1", "stride": "2", "grad_output": "1 -1; 2 0"})),
        {"input": (4, 4), "kernel": (3, 3), "grad_output": (2, 2)}, "conv2d", problem=_conv_problem(False, True)),
    Walkthrough(
        "conv1d", "1-D convolution", "/api/v1/conv1d",
        "The same sliding sum on a sequence.",
        (Field("input", "Input x", "matrix", "3 4 5", help="One sequence, or one channel per row."),
         Field("kernel", "Kernel k", "matrix", "1 2"),) + CONV_FIELDS[2:], _run_conv1d,
        (Preset("Seed 004, example 3", "K = [1, 2] over [3, 4, 5]", {"input": "3 4 5", "kernel": "1 2"}),),
        {"input": (1, 8), "kernel": (1, 3)}, "conv1d/backward", problem=_conv_problem(True, False)),
    Walkthrough(
        "conv1d/backward", "1-D convolution: backward pass", "/api/v1/conv1d/backward",
        "∂L/∂k and ∂L/∂x for a sequence.",
        (Field("input", "Input x", "matrix", "3 4 5"), Field("kernel", "Kernel k", "matrix", "1 2"))
        + CONV_FIELDS[2:] + (Field("grad_output", "Upstream gradient δ", "matrix", "1 -1"),), _run_conv1d_back,
        (Preset("Seed 004, example 3", "∂L/∂Y = [1, -1]", {"input": "3 4 5", "kernel": "1 2", "grad_output": "1 -1"}),),
        {"input": (1, 6), "kernel": (1, 3), "grad_output": (1, 4)}, "conv1d", problem=_conv_problem(True, True)),
    Walkthrough(
        "pool2d", "Pooling", "/api/v1/pool2d",
        "Each window gives one number: its largest, its smallest, or its average.",
        POOL_FIELDS, _run_pool,
        (Preset("Seed 001: max pooling", "2×2, stride 2", {"input": POOL001}),
         Preset("Seed 001: average pooling", "", {"input": POOL001, "kind": "avg"}),
         Preset("Seed 001, exercise 3", "", {"input": "3 8 2 4; 1 6 5 3; 7 2 9 1; 4 5 3 6"}),
         Preset("Seed 004, problem 3", "", {"input": POOL004}),
         Preset("Overlapping windows with a tie", "3×3 window, stride 1", {"input": "1 5 5 2; 3 1 0 5; 4 4 2 1; 0 1 3 3", "kernel_size": "3", "stride": "1"})),
        {"input": (4, 4)}, "pool2d/backward", problem=_pool_problem),
    Walkthrough(
        "pool2d/backward", "Pooling: backward pass", "/api/v1/pool2d/backward",
        "Max and min pooling send each window's δ to the cell that won; average pooling shares it out.",
        POOL_FIELDS + (Field("grad_output", "Upstream gradient δ", "matrix", "1 2; 3 4"),), _run_pool_back,
        (Preset("Seed 004, problem 4", "Routing to the winners", {"input": POOL004, "grad_output": "1 2; 3 4"}),
         Preset("Seed 003: route 0.8 through one window", "", {"input": "1 5; 2 3", "grad_output": "0.8"}),
         Preset("Overlapping windows add up", "", {"input": "1 5 5 2; 3 1 0 5; 4 4 2 1; 0 1 3 3", "kernel_size": "3",
                                                     "stride": "1", "grad_output": "1 2; 3 4"})),
        {"input": (4, 4), "grad_output": (2, 2)}, "pool2d", problem=_pool_problem),
    Walkthrough(
        "im2col", "im2col: convolution as a matrix product", "/api/v1/im2col",
        "Unfold each window into a column; one matrix product then does the whole convolution.",
        (Field("input", "Input x", "matrix", "1 2 3; 4 5 6; 7 8 9"),
         Field("kernel", "Kernel (optional)", "matrix", "1 0; 0 1", optional=True),
         Field("kernel_size", "Window size", "text", "2"), Field("stride", "Stride", "text", "1"),
         Field("padding", "Padding", "text", "0"), Field("dilation", "Dilation", "text", "1")), _run_im2col,
        (Preset("Seed 001 §11.1: 3×3 input, 2×2 window", "", {"input": "1 2 3; 4 5 6; 7 8 9"}),),
        {"input": (3, 3)}, problem=_im2col_problem),
    Walkthrough(
        "output-size", "Output size", "/api/v1/output-size",
        "How many positions the window takes along each axis.",
        (Field("input_size", "Input size W", "text", "6"), Field("kernel_size", "Kernel size F", "text", "3"),
         Field("stride", "Stride S", "text", "2"), Field("padding", "Padding P", "text", "0"),
         Field("dilation", "Dilation d", "text", "1"),
         Field("ceil_mode", "Rounding", "choice", "false", ("false", "true"), help="true: ceil mode (pooling)")),
        _run_size,
        (Preset("Seed 001: 6×6, 3×3, stride 2", "printed as 2.5 → 2", {"input_size": "6", "kernel_size": "3", "stride": "2"}),
         Preset("Seed 004: ResNet's first layer", "224, 7×7, stride 2, pad 3", {"input_size": "224", "kernel_size": "7", "stride": "2", "padding": "3"}),
         Preset("Seed 003: MNIST 28×28 with a 6×6 filter", "", {"input_size": "28", "kernel_size": "6", "stride": "1"}),
         Preset("Seed 001, exercise 1.2", "100, 3×3, stride 2, pad 1", {"input_size": "100", "kernel_size": "3", "stride": "2", "padding": "1"})),
        {"input_size": range(5, 33), "kernel_size": range(1, 8), "stride": range(1, 4), "padding": range(0, 3)},
        problem=_size_problem),
]}


def _query(w: Walkthrough, request: Request) -> dict[str, str]:
    given = request.query_params
    q = {f.name: given.get(f.name, f.default) for f in w.fields}
    for f in w.fields:
        if f.kind == "choice" and q[f.name] not in f.choices:
            raise EngineError(f.name, f"{q[f.name]!r} is not one of: {', '.join(f.choices)}")
    return q


def _random_query(w: Walkthrough, seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    q = {f.name: f.default for f in w.fields}
    for name, spec in w.random_fields.items():
        if isinstance(spec, range):  # a whole number field
            q[name] = str(rng.choice(spec))
        elif callable(spec):
            q[name] = spec(rng)
        else:
            rows, cols = spec
            q[name] = "\n".join(" ".join(str(rng.randint(-3, 5)) for _ in range(cols)) for _ in range(rows))
    return q


def _grids(w: Walkthrough, trace: Trace) -> list:
    steps = trace.steps
    digits = trace.digits

    def positions(name: str, array: Any) -> dict[str, int]:
        out = {}
        for index in np.ndindex(np.shape(array)):
            p = steps.position(cell_id(name, index))
            if p is not None:
                out[",".join(str(k) for k in index)] = p + 1
        return out

    pads = tuple(trace.params.get("padding", (0, 0, 0, 0)))
    if trace.op.startswith("pool"):
        pads = (pads[0], pads[0], pads[1], pads[1])
    elif trace.op.startswith("conv1d"):
        pads = (0, 0, pads[0], pads[1])
    elif len(pads) != 4:
        pads = (0, 0, 0, 0)
    names = {"input": "Input x", "kernel": "Kernel k", "bias": "Bias b", "grad_output": "δ = ∂L/∂z",
             "output": "Output z", "grad_input": "∂L/∂x", "grad_weight": "∂L/∂k", "grad_bias": "∂L/∂b",
             "columns": "Columns (one window each)", "weight_rows": "Kernel as a row",
             "output_size": "Output size"}
    def drawable(name: str, value: Any) -> bool:
        rows, cols = (np.shape(value) + (1, 1))[:2] if np.ndim(value) < 2 else np.shape(value)[-2:]
        padded = (rows + pads[0] + pads[1]) * (cols + pads[2] + pads[3]) if name == "input" else rows * cols
        return np.size(value) <= GRID_CELLS and padded <= GRID_CELLS

    inputs = [grid(name, names.get(name, name), value, digits, pads if name == "input" else (0, 0, 0, 0))
              for name, value in trace.inputs.items() if drawable(name, value)]
    outputs = [grid(name, names.get(name, name), value, digits, steps_of=positions(name, value))
               for name, value in trace.outputs.items()
               if name != "cells" and np.ndim(value) <= 4 and drawable(name, value)]
    hidden = [names.get(name, name) for name, value in list(trace.inputs.items()) + list(trace.outputs.items())
              if name != "cells" and not drawable(name, value)]
    return [("Given", inputs), ("Computed", outputs)], hidden


def render_page(request: Request, w: Walkthrough) -> HTMLResponse:
    seed_text = request.query_params.get("random")
    seed = None
    if seed_text is not None:
        seed = int(seed_text) if seed_text.isdigit() else random.randrange(1000)
        q = _random_query(w, seed)
    else:
        q = {f.name: request.query_params.get(f.name, f.default) for f in w.fields}
    present = request.query_params.get("present") == "1"
    error = None
    trace = None
    try:
        trace = w.run(_query(w, request) if seed is None else q)
    except EngineError as e:
        error = {"field": e.argument if any(f.name == e.argument for f in w.fields) else None,
                 "message": e.problem, "argument": e.argument}
    except RequestValidationError as e:  # a size budget of app.limits
        problem = e.errors()[0]
        name = str(problem["loc"][-1])
        error = {"field": name if any(f.name == name for f in w.fields) else None,
                 "message": problem["msg"], "argument": "" if name == "body" else name}
    except (ValueError, TypeError, KeyError, MemoryError, ArithmeticError) as e:
        error = {"field": None, "message": f"this problem cannot be computed: {e}", "argument": ""}
    context = {
        "w": w, "q": q, "error": error, "trace": trace, "seed": seed, "present": present,
        "walkthroughs": WALKTHROUGHS, "presets": [(p, urlencode({**{f.name: f.default for f in w.fields}, **p.query}))
                                                 for p in w.presets],
        "query_string": urlencode(q), "page_steps": PAGE_STEPS,
    }
    if trace is not None:
        grids, hidden = w.grids(trace) if w.grids else _grids(w, trace)
        notes = trace.notes + [f"{name} has more than {GRID_CELLS:,} cells to draw; the steps list every number."
                               for name in hidden]
        context["check"] = check_view(request.query_params, w.api.removeprefix("/api/v1/"), trace, grids,
                                      w.problem(q) if w.problem else None)
        context.update(grids=grids, steps=step_views(trace, 0, PAGE_STEPS), step_count=len(trace.steps),
                       formula=trace.formula, notes=notes, picture=w.picture(trace, q) if w.picture else None)
    html = templates.get_template("walkthrough.html").render(request=request, **context)
    return HTMLResponse(html, status_code=200)


def render_steps(request: Request, w: Walkthrough) -> HTMLResponse:
    """More steps as an HTML fragment, for the player on large problems."""
    q = _query(w, request)
    try:
        offset = max(int(request.query_params.get("offset", "0")), 0)
        trace = w.run(q)
    except (EngineError, RequestValidationError, ValueError, MemoryError):
        return HTMLResponse("", status_code=422)
    views = step_views(trace, offset, offset + PAGE_STEPS)
    return HTMLResponse(templates.get_template("partials/steps.html").render(steps=views))


def _register(w: Walkthrough) -> None:
    async def page(request: Request) -> HTMLResponse:
        return render_page(request, w)

    async def more(request: Request) -> HTMLResponse:
        return render_steps(request, w)

    router.add_api_route(f"/{w.slug}", page, methods=["GET"], response_class=HTMLResponse, name=f"page {w.slug}")
    router.add_api_route(f"/{w.slug}/steps", more, methods=["GET"], response_class=HTMLResponse,
                         name=f"steps {w.slug}")


for _w in WALKTHROUGHS.values():
    _register(_w)


def register(*walkthroughs: Walkthrough) -> None:
    """Add another module's pages to the registry (so the home page lists them) and to the routes."""
    for w in walkthroughs:
        WALKTHROUGHS[w.slug] = w
        _register(w)
