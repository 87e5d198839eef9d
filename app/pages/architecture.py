"""The architecture page: a network typed as text or picked from the presets, its table with
collapsible blocks, the totals, a diagram of the shapes, a receptive-field view, exports, and
comparisons. Every state is in the query string; the page works without JavaScript."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from engine import EngineError, architecture, compare_architectures
from engine.architecture import count_layers, field_region, read_shape
from engine.layer_text import layers_to_text, parse_layers
from engine.presets import COMPARISONS, NETWORKS
from engine.tables import FORMATS, in_layout, shape_text, summary_text
from engine.trace import Step, StepKind, Trace

from ..limits import MAX_ARCHITECTURE_ROWS, MAX_LAYER_TEXT
from ..render import step_view, templates

router = APIRouter(include_in_schema=False)

DEFAULT_PRESET = "seed000_rgb16"
INLINE_STEPS = 150
"""A table with at most this many steps shows every row's arithmetic in the page; a larger one
shows the chosen row's and links the others (the script fetches them when a row opens)."""
LAYOUTS = {"chw": "C×H×W", "hwc": "H×W×C"}
EXPORTS = {"torchinfo": ("torchinfo", "txt", "text/plain"), "keras": ("Keras", "txt", "text/plain"),
           "csv": ("CSV", "csv", "text/csv"), "markdown": ("Markdown", "md", "text/markdown"),
           "json": ("JSON", "json", "application/json")}
GROUPS = (("Textbook networks", ("lenet5",)),
          ("torchvision, 3×224×224", ("alexnet", "vgg11", "vgg16", "resnet18", "resnet34", "resnet50",
                                      "mobilenet_v2")),
          ("From the seed documents", ("seed000_rgb16", "seed000_toy", "seed001_cifar", "seed001_cats_dogs",
                                       "seed001_mlp", "seed003_mnist")))
TYPE_NAMES = {"conv2d": "Conv2d", "linear": "Linear", "maxpool2d": "MaxPool2d", "avgpool2d": "AvgPool2d",
              "adaptive_avgpool2d": "AdaptiveAvgPool2d", "batchnorm2d": "BatchNorm2d", "relu": "ReLU",
              "relu6": "ReLU6", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax", "dropout": "Dropout",
              "flatten": "Flatten", "sequential": "Sequential", "residual": "Residual", "add": "Add (sum)"}


@functools.lru_cache(maxsize=64)
def preset_text(name: str) -> str:
    return layers_to_text(NETWORKS[name].layers)


@functools.lru_cache(maxsize=64)
def _preset_parsed(name: str) -> str:
    return repr(parse_layers(preset_text(name)))


def _which_preset(shape: tuple[int, ...], layers: list[dict[str, Any]]) -> str | None:
    """The preset whose input and layers these are, so its published figures are checked too."""
    text = repr(layers)
    for name, network in NETWORKS.items():
        if network.input_shape == shape and _preset_parsed(name) == text:
            return name
    return None


# --- the problem in the query string -------------------------------------------------------------

@dataclass
class Problem:
    """What the query string asks for, read forgivingly; ``error`` says what could not be read."""

    layout: str = "chw"
    preset: str | None = None
    input_text: str = ""
    layers_text: str = ""
    custom: bool = False
    row: int | None = None
    rf: int | None = None
    cell: tuple[int, int] | None = None
    expand: bool = False
    error: dict[str, str] | None = None
    state: dict[str, str] = field(default_factory=dict)
    """The query that reopens this problem (preset or input and layers, layout)."""


def read_problem(query) -> Problem:
    p = Problem()
    layout = query.get("layout", "chw")
    p.layout = layout if layout in LAYOUTS else "chw"
    p.expand = query.get("expand") == "all"
    layers = query.get("layers")
    preset = query.get("preset")
    if layers is not None and layers.strip():
        p.custom = True
        p.input_text = query.get("input", "").strip()
        p.layers_text = layers
        p.state = {"input": p.input_text, "layers": layers, "layout": p.layout}
    else:
        if preset not in NETWORKS:
            if preset is not None:
                p.error = {"field": "preset", "message": f"{preset!r} is not a preset"}
            preset = DEFAULT_PRESET
        p.preset = preset
        p.input_text = shape_text(NETWORKS[preset].input_shape, p.layout, "x")
        p.layers_text = preset_text(preset)
        p.state = {"preset": preset, "layout": p.layout}
    for key in ("row", "rf"):
        value = query.get(key, "")
        if value.isdigit():
            setattr(p, key, int(value))
    cell = query.get("cell", "")
    parts = [x for x in cell.replace(",", " ").split() if x]
    if len(parts) == 2 and all(x.isdigit() and int(x) >= 1 for x in parts):
        p.cell = (int(parts[0]) - 1, int(parts[1]) - 1)
    elif cell.strip():
        p.error = p.error or {"field": "cell", "message": f"{cell!r} is not a cell: write its row and column, "
                                                          "counting from 1, e.g. 4, 4"}
    return p


def input_shape(p: Problem) -> tuple[int, ...]:
    """The input shape typed in the page's layout, as (C, H, W)."""
    shape = read_shape(p.input_text or "", "input")
    if p.layout == "hwc" and len(shape) == 3:
        shape = (shape[2], shape[0], shape[1])
    return shape


def compute(p: Problem) -> Trace:
    if not p.custom:
        return architecture(preset=p.preset)
    if len(p.layers_text) > MAX_LAYER_TEXT:
        raise EngineError("layers", f"is {len(p.layers_text):,} characters long; the limit is {MAX_LAYER_TEXT:,}")
    shape = input_shape(p)
    layers = parse_layers(p.layers_text)
    rows = count_layers(layers)
    if rows > MAX_ARCHITECTURE_ROWS:
        raise EngineError("layers", f"the table would have {rows:,} rows; the limit is {MAX_ARCHITECTURE_ROWS:,}")
    preset = _which_preset(shape, layers)
    if preset is not None:
        return architecture(preset=preset)
    return architecture(shape, layers)


def url(path: str, state: dict[str, str], **changes: Any) -> str:
    query = {**state, **{k: str(v) for k, v in changes.items() if v is not None}}
    return f"{path}?{urlencode(query)}"


# --- views ---------------------------------------------------------------------------------------

def views(trace: Trace, ids: list[str]) -> list[dict[str, Any]]:
    """Template views of the steps with these ids, numbered by their place in the trace."""
    steps = trace.steps
    out = []
    for step_id in ids:
        position = steps.position(step_id)
        if position is None:
            continue
        out.append(_view(steps[position], position + 1, trace.digits))
    return out


def _view(step: Step, number: int, digits: int) -> dict[str, Any]:
    view = step_view(step, number, digits)
    if step.kind in (StepKind.PARAMETER_COUNT, StepKind.MAC_COUNT, StepKind.REDUCE) and isinstance(step.result, int):
        view["title"] = f"{step.title} = {step.result:,}"  # a count, exact
    elif step.kind in (StepKind.RECEPTIVE_FIELD, StepKind.SIZE, StepKind.PADDING, StepKind.RATIO):
        view["title"] = step.title  # the title already names the result
    return view


@dataclass
class Node:
    row: dict[str, Any]
    children: list[Node]
    steps: list[dict[str, Any]] | None   # None: not rendered here (a link opens them)
    open: bool


def tree(trace: Trace, p: Problem, inline: bool) -> list[Node]:
    rows = trace.outputs["layers"]
    opened: set[int] = set()
    if p.row is not None and p.row < len(rows):
        parent = rows[p.row]["parent"]
        while parent is not None:
            opened.add(parent)
            parent = rows[parent]["parent"]

    def node(row: dict[str, Any]) -> Node:
        shown = inline or row["index"] == p.row
        steps = views(trace, row["steps"]) if shown else None
        is_open = p.expand or row["index"] in opened or (row["index"] == p.row and not row["leaf"])
        return Node(row, [node(rows[i]) for i in row["children"]], steps, is_open)

    return [node(r) for r in rows if r["parent"] is None]


def diagram(rows: list[dict[str, Any]], input_shape: tuple[int, ...], layout: str) -> list[dict[str, Any]]:
    """The shapes from input to output, one box each time the shape changes, at most two levels deep."""
    points = [("input", list(input_shape))]

    def walk(indices: list[int]) -> None:
        for i in indices:
            row = rows[i]
            if row["type"] == "add":
                continue
            if not row["leaf"] and row["depth"] < 2:
                walk(row["children"])
            else:
                points.append((row["name"], row["output_shape"]))

    walk([r["index"] for r in rows if r["parent"] is None])
    kept: list[tuple[str, list[int]]] = []
    for name, shape in points:
        if kept and kept[-1][1] == shape:
            continue
        kept.append((name, shape))
    spatial = [s for _, s in kept if len(s) == 3]
    flat = [s for _, s in kept if len(s) == 1]
    top_hw = max([max(s[1], s[2]) for s in spatial] + [2])
    top_c = max([s[0] for s in spatial] + [2])
    top_f = max([s[0] for s in flat] + [2])
    boxes = []
    for name, shape in kept:
        if len(shape) == 3:
            C, H, W = shape
            side = lambda n: 10 + 62 * math.log2(max(n, 1) + 1) / math.log2(top_hw + 1)
            h, w = side(H), side(W)
            d = 4 + 34 * math.log2(C + 1) / math.log2(top_c + 1)
            o = d * 0.6  # the depth drawn obliquely, up and to the right
            boxes.append({"name": name, "shape": shape_text(shape, layout), "kind": "map", "label": _shape_words(shape),
                          "x": 1, "y": _r(o + 1), "w": _r(w), "h": _r(h),
                          "width": _r(w + o + 2), "height": _r(h + o + 2),
                          "top": _points((1, o + 1), (o + 1, 1), (w + o + 1, 1), (w + 1, o + 1)),
                          "side": _points((w + 1, o + 1), (w + o + 1, 1), (w + o + 1, h + 1), (w + 1, h + o + 1))})
        else:
            h = 10 + 62 * math.log2(shape[0] + 1) / math.log2(top_f + 1)
            boxes.append({"name": name, "shape": shape_text(shape, layout), "kind": "vector", "x": 2, "y": 2,
                          "w": 8, "h": _r(h), "width": 12, "height": _r(h + 4), "top": None, "side": None,
                          "label": f"a vector of {shape[0]:,} numbers"})
    return boxes


def _r(value: float) -> float:
    return round(value, 1)


def _points(*corners: tuple[float, float]) -> str:
    return " ".join(f"{_r(x)},{_r(y)}" for x, y in corners)


def _shape_words(shape: list[int]) -> str:
    C, H, W = shape
    return f"{C:,} channel{'s' * (C > 1)} of {H}×{W}"


def field_view(trace: Trace, p: Problem) -> dict[str, Any] | None:
    """The receptive-field panel: the chosen row (default: the last map larger than 1×1), the chosen
    output cell (default: the centre), the input region it sees."""
    rows = trace.outputs["layers"]
    candidates = [r for r in rows if r["receptive_field"] is not None and r["type"] != "add"
                  and (r["leaf"] and r["type"] in ("conv2d", "maxpool2d", "avgpool2d", "adaptive_avgpool2d")
                       or not r["leaf"])]
    if not candidates:
        return None
    by_index = {r["index"]: r for r in candidates}
    maps = [r for r in candidates if r["output_shape"][1] > 1 or r["output_shape"][2] > 1] or candidates
    default = [r for r in maps if r["parent"] is None] or maps
    row = by_index.get(p.rf) if p.rf is not None else None
    error = None
    if p.rf is not None and row is None:
        error = f"row {p.rf} has no receptive field to show"
    row = row or default[-1]
    _, H_out, W_out = row["output_shape"]
    cell = p.cell if p.cell is not None else ((H_out - 1) // 2, (W_out - 1) // 2)
    try:
        region = field_region(row, cell)
    except EngineError as e:
        error = e.problem
        cell = ((H_out - 1) // 2, (W_out - 1) // 2)
        region = field_region(row, cell)
    _, H, W = trace.params["input_shape"]
    (top, bottom), (left, right) = region["rows"], region["cols"]
    # the drawing: the input (and the padding the region reaches into), scaled to about 260 units
    lo_r, hi_r, lo_c, hi_c = min(top, 0), max(bottom, H - 1), min(left, 0), max(right, W - 1)
    span = max(hi_r - lo_r + 1, hi_c - lo_c + 1)
    scale = 260 / span
    inside = (max(top, 0), min(bottom, H - 1), max(left, 0), min(right, W - 1))
    overlaps = inside[0] <= inside[1] and inside[2] <= inside[3]
    sees = (inside[1] - inside[0] + 1) * (inside[3] - inside[2] + 1) if overlaps else 0
    cell_size = max(180 / max(H_out, W_out), 1)
    out_lines = _grid_lines(H_out, W_out, cell_size, 0, 0) if max(H_out, W_out) <= 32 else []
    in_lines = _grid_lines(H, W, scale, 1 - lo_c * scale, 1 - lo_r * scale) if max(H, W) <= 32 else []
    return {
        "row": row, "cell": cell, "error": error, "candidates": candidates,
        "out_lines": out_lines, "in_lines": in_lines,
        "out_cell": {"x": round(cell[1] * cell_size, 2), "y": round(cell[0] * cell_size, 2),
                     "s": round(cell_size, 2), "w": round(W_out * cell_size, 2), "h": round(H_out * cell_size, 2),
                     "box": f"-1 -1 {round(W_out * cell_size + 2, 2)} {round(H_out * cell_size + 2, 2)}",
                     "width": round(W_out * cell_size + 2, 2), "height": round(H_out * cell_size + 2, 2)},
        "cell_label": f"{cell[0] + 1}, {cell[1] + 1}", "positions": H * W,
        "padding": top < 0 or left < 0 or bottom >= H or right >= W,
        "rows": region["rows"], "cols": region["cols"], "step": _view(region["step"], 0, trace.digits),
        "input": {"H": H, "W": W}, "out": {"H": H_out, "W": W_out},
        "svg": {"size": round((hi_c - lo_c + 1) * scale + 2, 1), "height": round((hi_r - lo_r + 1) * scale + 2, 1),
                "input": _rect(0, H - 1, 0, W - 1, lo_r, lo_c, scale),
                "region": _rect(top, bottom, left, right, lo_r, lo_c, scale),
                "inside": _rect(*inside, lo_r, lo_c, scale) if sees else None},
        "sees": sees, "whole": sees == H * W,
    }


def _grid_lines(H: int, W: int, size: float, x0: float, y0: float) -> list[dict[str, float]]:
    """The lines between the cells of an H×W grid drawn with cells ``size`` wide from (x0, y0)."""
    lines = [{"x1": round(x0 + k * size, 2), "y1": round(y0, 2), "x2": round(x0 + k * size, 2),
              "y2": round(y0 + H * size, 2)} for k in range(1, W)]
    lines += [{"x1": round(x0, 2), "y1": round(y0 + k * size, 2), "x2": round(x0 + W * size, 2),
               "y2": round(y0 + k * size, 2)} for k in range(1, H)]
    return lines


def _rect(top: int, bottom: int, left: int, right: int, lo_r: int, lo_c: int, scale: float) -> dict[str, float]:
    return {"x": round((left - lo_c) * scale + 1, 2), "y": round((top - lo_r) * scale + 1, 2),
            "w": round((right - left + 1) * scale, 2), "h": round((bottom - top + 1) * scale, 2)}


# --- routes --------------------------------------------------------------------------------------

@router.get("/architecture", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    p = read_problem(request.query_params)
    trace = None
    error = p.error
    try:
        trace = compute(p)
    except EngineError as e:
        error = {"field": e.argument if e.argument in ("input", "layers") else None,
                 "message": e.problem, "argument": e.argument}
    context: dict[str, Any] = {"p": p, "error": error, "trace": trace, "layouts": LAYOUTS, "groups": GROUPS,
                               "networks": NETWORKS, "comparisons": COMPARISONS, "exports": EXPORTS,
                               "url": url, "present": False, "type_names": TYPE_NAMES,
                               "layout_links": _layout_links(p)}
    if trace is not None:
        rows = trace.outputs["layers"]
        inline = len(trace.steps) <= INLINE_STEPS
        shape = tuple(trace.params["input_shape"])
        total_ids = [f"totals.{k}" for k in ("params", "non_trainable_params", "macs", "flops", "mult_adds",
                                             "input_size_mb", "forward_backward_mb", "params_mb", "total_mb")]
        context.update(
            nodes=tree(trace, p, inline), inline=inline, totals=trace.outputs["totals"],
            total_steps=views(trace, total_ids), boxes=diagram(rows, shape, p.layout),
            macs_short=_short(trace.outputs["totals"]["macs"]),
            megabytes={k: _mb(v) for k, v in trace.outputs["totals"].items() if k.endswith("_mb")},
            rf=field_view(trace, p), network=NETWORKS.get(trace.params["preset"] or ""),
            shape=lambda s: shape_text(s, p.layout), in_layout=lambda s: in_layout(s, p.layout),
            claims=[n for n in trace.notes if " gives " in n],
            notes=[n for n in trace.notes if " gives " not in n],
        )
    html = templates.get_template("architecture.html").render(request=request, **context)
    return HTMLResponse(html)


def _ratio_words(ratio: float | None) -> str:
    """0.13×, 87% fewer; 460,177,408×."""
    if ratio is None:
        return "–"
    if ratio < 1:
        return f"{ratio:.3g}×, {(1 - ratio) * 100:.3g}% fewer"
    return f"{ratio:,.0f}×" if ratio >= 1000 else f"{ratio:.3g}×"


def _short(n: int) -> str:
    """4.09 G, 98.2 K: a count in the units people quote."""
    for limit, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= limit:
            return f"{n / limit:.3g} {unit}"
    return ""


def _mb(value: float) -> str:
    """Two decimals, as torchinfo prints; two significant digits below 0.01 MB."""
    return f"{value:.2f}" if value >= 0.01 or value == 0 else f"{value:.2g}"


def _layout_links(p: Problem) -> list[dict[str, Any]]:
    """The H×W×C / C×H×W switch: the same problem with the input written in the other order."""
    links = []
    for layout, label in LAYOUTS.items():
        state = dict(p.state, layout=layout)
        if p.custom:
            try:
                shape = input_shape(p)
                state["input"] = shape_text(shape, layout, "x")
            except EngineError:
                pass
        extras = {k: v for k, v in (("row", p.row), ("rf", p.rf)) if v is not None}
        if p.cell is not None:
            extras["cell"] = f"{p.cell[0] + 1},{p.cell[1] + 1}"
        links.append({"layout": layout, "label": label, "current": layout == p.layout,
                      "href": url("/architecture", state, **extras)})
    return links


@router.get("/architecture/steps", response_class=HTMLResponse)
async def row_steps(request: Request) -> HTMLResponse:
    """One row's steps as an HTML fragment, for the script when a row of a large table opens."""
    p = read_problem(request.query_params)
    try:
        trace = compute(p)
    except EngineError:
        return HTMLResponse("", status_code=422)
    rows = trace.outputs["layers"]
    if p.row is None or p.row >= len(rows):
        return HTMLResponse("", status_code=404)
    return HTMLResponse(templates.get_template("partials/steps.html").render(steps=views(trace, rows[p.row]["steps"])))


@router.get("/architecture/export")
async def export(request: Request) -> Response:
    """The table as a download: torchinfo's or Keras's text, CSV, Markdown or JSON."""
    p = read_problem(request.query_params)
    fmt = request.query_params.get("format", "torchinfo")
    if fmt not in FORMATS:
        return Response(f"format must be one of {', '.join(FORMATS)}\n", status_code=422, media_type="text/plain")
    try:
        trace = compute(p)
    except EngineError as e:
        return Response(f"{e}\n", status_code=422, media_type="text/plain")
    preset = trace.params["preset"]
    name = NETWORKS[preset].class_name if preset else "Net"
    text = summary_text(trace.outputs, fmt, p.layout, model_name=name, input_shape=trace.params["input_shape"])
    _, ext, media = EXPORTS[fmt]
    filename = f"{preset or 'architecture'}-{fmt}.{ext}"
    return Response(text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/architecture/compare", response_class=HTMLResponse)
async def compare(request: Request) -> HTMLResponse:
    q = request.query_params
    preset = q.get("preset")
    left, right = q.get("left", ""), q.get("right", "")
    custom = bool(left.strip() or right.strip())
    error = None
    trace = None
    chosen = None
    shape_text_value = q.get("input", "")
    if not custom:
        chosen = COMPARISONS.get(preset or "") or next(iter(COMPARISONS.values()))
        left, right = layers_to_text(chosen.left), layers_to_text(chosen.right)
        shape_text_value = shape_text(chosen.input_shape, "chw", "x")
    try:
        if chosen is not None:
            trace = compare_architectures(preset=chosen.name)
        else:
            for text in (left, right):
                if len(text) > MAX_LAYER_TEXT:
                    raise EngineError("left", f"a side is over {MAX_LAYER_TEXT:,} characters")
            sides = [parse_layers(left) if left.strip() else None, parse_layers(right) if right.strip() else None]
            for name, side in zip(("left", "right"), sides):
                if side is not None and count_layers(side) > MAX_ARCHITECTURE_ROWS:
                    raise EngineError(name, f"the table would have more than {MAX_ARCHITECTURE_ROWS:,} rows")
            trace = compare_architectures(read_shape(shape_text_value or "", "input"), sides[0], sides[1],
                                          labels=(q.get("left_label") or "Left", q.get("right_label") or "Right"))
    except EngineError as e:
        error = {"field": e.argument if e.argument in ("input", "left", "right") else None, "message": e.problem,
                 "argument": e.argument}
    context = {"trace": trace, "error": error, "chosen": chosen, "comparisons": COMPARISONS, "present": False,
               "form": {"input": shape_text_value, "left": left, "right": right},
               "shape": lambda s: shape_text(s, "chw"), "type_names": TYPE_NAMES}
    if trace is not None:
        context["steps"] = views(trace, [s.id for s in trace.steps])
        context["ratios"] = {key: _ratio_words(value) for key, value in trace.outputs["ratios"].items()}
    return HTMLResponse(templates.get_template("architecture_compare.html").render(request=request, **context))
