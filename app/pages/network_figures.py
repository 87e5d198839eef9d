"""The network page's figures, built from the network's trace: the layer stack as a diagram, the loss
over the training steps, every tensor as a heatmap the step player can highlight, and the runs of
steps the server renders. Templates only print what these hold."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.network import POOLS, Layer
from engine.numfmt import fmt
from engine.trace import Trace

from ..limits import GRID_CELLS, PAGE_STEPS
from ..render import grid, step_views

HEADER_RUN = 4
"""Steps the page renders from each layer's header on, so that every diagram link lands on a step."""
LOSS_NAMES = {"mse": "squared error", "cross_entropy": "cross-entropy", "softmax_cross_entropy": "softmax + CE",
              "binary_cross_entropy": "binary CE"}
TONE_LEVELS = 8


@dataclass
class Problem:
    """A computed network, and where its steps are."""

    trace: Trace
    segment_starts: list[int]
    """The position of each segment's first step."""
    writes: dict[str, tuple[int, tuple[int, ...]]]
    """tensor -> (the position of the step that writes its first cell, the tensor's shape), for tensors
    whose cells one segment writes in order."""

    @classmethod
    def of(cls, trace: Trace) -> Problem:
        starts = [int(s) for s in np.cumsum([0] + [len(s) for s in trace.segments])]
        return cls(trace, starts, _writes(trace, starts))


def _writes(trace: Trace, starts: list[int]) -> dict[str, tuple[int, tuple[int, ...]]]:
    shapes = {name: np.shape(value) for name, value in {**trace.intermediates, "loss": trace.outputs["loss"]}.items()}
    out = {}
    for segment, start in zip(trace.segments, starts):
        count = len(segment)
        first = segment.step(0, trace.digits).target
        if first is None or first[0] not in shapes or first[0] in out:
            continue
        shape = shapes[first[0]]
        if int(np.prod(shape)) != count or any(k not in (0, None) for k in first[1]):
            continue
        last = segment.step(count - 1, trace.digits).target if count > 1 else first
        if count == 1 or (last[0] == first[0] and tuple(last[1]) == tuple(s - 1 for s in shape[-len(last[1]):])):
            out[first[0]] = (start, shape)
    return out


# --- the diagram ------------------------------------------------------------------------------

@dataclass
class Box:
    layer: int | None     # 0 for the input, None for the loss
    lines: tuple[str, str, str]
    label: str            # the link's words, for a screen reader
    href: str | None
    kind: str             # "input" | "weighted" | "pool" | "activation" | "reshape" | "loss"
    x: float = 0
    y: float = 0


@dataclass
class Diagram:
    layout: str           # "wide" | "tall"
    width: float
    height: float
    box_w: float
    box_h: float
    boxes: list[Box]
    arrows: list[str]     # SVG path data


@dataclass
class LayerRow:
    number: int
    name: str
    detail: str
    shape: str
    parameters: int
    forward: int | None
    backward: int | None


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape) if shape else "1"


def _detail(kind: str, options: dict[str, Any], weight: Any) -> str:
    if kind in ("conv2d", "conv1d"):
        w = np.shape(weight)
        kernel = _shape_text(w[-2:] if kind == "conv2d" else w[-1:])
        filters = w[0] if len(w) in (3, 4) else 1
        return f"{filters} filter{'s' * (filters != 1)} {kernel}"
    if kind == "linear":
        return f"{np.shape(weight)[1]} → {np.shape(weight)[0]}"
    if kind in POOLS:
        k = options.get("kernel_size")
        return f"window {_shape_text((k, k) if isinstance(k, int) else tuple(k))}"
    return {"flatten": "to a vector", "dropout": f"p = {fmt(options.get('p', 0.5))}"}.get(kind, "")


def _kind_class(kind: str) -> str:
    if kind in ("conv2d", "conv1d", "linear", "batchnorm2d"):
        return "weighted"
    if kind in POOLS:
        return "pool"
    if kind in ("flatten", "dropout"):
        return "reshape"
    return "activation"


def layer_rows(p: Problem) -> list[LayerRow]:
    t = p.trace
    rows = []
    for i, spec in enumerate(t.params["layers"]):
        n = i + 1
        params = t.outputs["parameters"][i]
        weight = None if params is None else params["weight"]
        count = 0 if params is None else sum(int(np.size(v)) for v in params.values() if v is not None)
        rows.append(LayerRow(n, Layer(spec["type"], {}).name, _detail(spec["type"], spec, weight),
                             _shape_text(np.shape(t.outputs["activations"][i])), count,
                             position(p, f"layer{n}.forward"), position(p, f"layer{n}.backward")))
    return rows


def position(p: Problem, segment_name: str) -> int | None:
    """The step number (from 1) of a header step, by its segment's name."""
    for segment, start in zip(p.trace.segments, p.segment_starts):
        if segment.name == segment_name:
            return start + 1
    return None


def diagrams(p: Problem, rows: list[LayerRow]) -> list[Diagram]:
    """The layer stack twice: in rows of up to six boxes for wide screens, in one column for phones."""
    t = p.trace
    loss_at = position(p, "loss.header")
    boxes = [Box(0, ("Input", "x = a0", _shape_text(np.shape(t.inputs["input"]))),
                 f"Input, {_shape_text(np.shape(t.inputs['input']))}", None, "input")]
    for r, spec in zip(rows, t.params["layers"]):
        boxes.append(Box(r.number, (f"{r.number} · {r.name}", r.detail, f"→ {r.shape}"),
                         f"Layer {r.number}: {r.name}{', ' + r.detail if r.detail else ''}, output {r.shape}. "
                         f"Open its forward steps (step {r.forward}).",
                         f"#step-{r.forward}", _kind_class(spec["type"])))
    loss_name = LOSS_NAMES[t.params["loss"]["kind"]]
    boxes.append(Box(None, ("Loss", loss_name, f"L = {fmt(t.outputs['loss'])}"),
                     f"Loss {t.params['loss']['kind']}, L = {fmt(t.outputs['loss'])}. Open its steps (step {loss_at}).",
                     f"#step-{loss_at}", "loss"))
    return [_wide(boxes), _tall(boxes)]


def _wide(source: list[Box], per_row: int = 6) -> Diagram:
    box_w, box_h, gap, row_gap, margin = 150.0, 84.0, 40.0, 44.0, 6.0
    boxes = [replace(b) for b in source]
    arrows = []
    for k, b in enumerate(boxes):
        row, col = divmod(k, per_row)
        b.x, b.y = margin + col * (box_w + gap), margin + row * (box_h + row_gap)
        if k:
            a = boxes[k - 1]
            if a.y == b.y:
                arrows.append(f"M{a.x + box_w + 3:g},{a.y + box_h / 2:g} H{b.x - 5:g}")
            else:   # down from the end of a row, back to the start of the next
                mid = a.y + box_h + row_gap / 2
                arrows.append(f"M{a.x + box_w / 2:g},{a.y + box_h + 3:g} V{mid:g} H{b.x + box_w / 2:g} V{b.y - 5:g}")
    columns = min(len(boxes), per_row)
    rows = -(-len(boxes) // per_row)
    return Diagram("wide", 2 * margin + columns * box_w + (columns - 1) * gap,
                   2 * margin + rows * box_h + (rows - 1) * row_gap, box_w, box_h, boxes, arrows)


def _tall(source: list[Box]) -> Diagram:
    box_w, box_h, gap, margin = 300.0, 84.0, 30.0, 6.0
    boxes = [replace(b) for b in source]
    arrows = []
    for k, b in enumerate(boxes):
        b.x, b.y = margin, margin + k * (box_h + gap)
        if k:
            arrows.append(f"M{margin + box_w / 2:g},{b.y - gap + 3:g} V{b.y - 5:g}")
    return Diagram("tall", 2 * margin + box_w, 2 * margin + len(boxes) * box_h + (len(boxes) - 1) * gap,
                   box_w, box_h, boxes, arrows)


# --- the loss curve -----------------------------------------------------------------------------

@dataclass
class Curve:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    points: str
    dots: list[tuple[float, float, str]]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    rows: list[tuple[int, str]]
    summary: str
    y_label_x: int = 0
    x_label_y: int = 0


def loss_curve(losses: list[float]) -> Curve:
    width, height, left, right, top, bottom = 520, 220, 64, 504, 16, 176
    high = max(max(losses), 1e-12)
    n = len(losses)
    xs = [left + (right - left) * (k / (n - 1) if n > 1 else 0.5) for k in range(n)]
    ys = [bottom - (bottom - top) * (v / high) for v in losses]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    dots = [(round(x, 1), round(y, 1), f"step {k + 1}: {fmt(v)}")
            for k, (x, y, v) in enumerate(zip(xs, ys, losses))] if n <= 60 else []
    y_ticks = [(float(bottom), "0"), (round((bottom + top) / 2, 1), fmt(float(f"{high / 2:.3g}"))),
               (float(top), fmt(high))]
    marks = sorted({0, n - 1} | ({(n - 1) // 2} if n > 2 else set()))
    x_ticks = [(round(xs[k], 1), str(k + 1)) for k in marks]
    if n == 1:
        summary = f"One training step: the loss is {fmt(losses[0])}. Ask for more steps to see it change."
    else:
        summary = f"Loss over {n} training steps, from {fmt(losses[0])} to {fmt(losses[-1])}."
    return Curve(width, height, left, right, top, bottom, points, dots, y_ticks, x_ticks,
                 [(k + 1, fmt(v)) for k, v in enumerate(losses)], summary, left - 8, bottom + 20)


# --- heatmaps -----------------------------------------------------------------------------------

@dataclass
class HeatCell:
    text: str
    index: str
    tone: str
    step: int | None


@dataclass
class Heat:
    tensor: str
    title: str
    note: str
    numbers: bool         # numbers in the cells, or small coloured cells with the value on hover/focus
    cell_px: int
    panels: list[tuple[str, list[list[HeatCell]]]]
    scale: str


def _tone(value: float, largest: float) -> str:
    """A CSS class: n8 … n1 (negative), z (zero), p1 … p8 (positive), scaled to the map's largest |value|."""
    if value == 0 or largest == 0 or not math.isfinite(value):
        return "z"
    level = min(TONE_LEVELS, max(1, math.ceil(TONE_LEVELS * abs(value) / largest - 1e-9)))
    return f"{'p' if value > 0 else 'n'}{level}"


def heat(tensor: str, title: str, note: str, array: Any, digits: int,
         writes: dict[str, tuple[int, tuple[int, ...]]], one_cell: frozenset[str]) -> Heat:
    """One tensor as coloured cells: with their numbers when the map is at most 8×8 (or a vector of at
    most 12), else small cells whose value shows on hover and focus. Each cell knows the step that writes it."""
    a = np.asarray(array, dtype=float)
    if a.size == 1 and tensor in one_cell:
        a = a.reshape(())
    wrap = a.ndim == 1 and a.size > 12
    if wrap:   # a long vector drawn row by row, so that a flattened map keeps its picture
        columns = math.ceil(math.sqrt(a.size))
        shown = np.full(columns * math.ceil(a.size / columns), np.nan)
        shown[:a.size] = a
        g = grid(tensor, title, shown.reshape(-1, columns), digits)
    else:
        g = grid(tensor, title, a, digits)
    start_shape = writes.get(tensor)
    largest = float(np.max(np.abs(a))) if a.size else 0.0
    panels = []
    filters = a.ndim == 4 and tensor.endswith(".weight")   # (C_out, C_in, kH, kW): not samples
    for panel, lead in zip(g.panels, np.ndindex(a.shape[:-2]) if a.ndim > 2 else [()]):
        rows = []
        for row in panel.rows:
            cells = []
            for c in row:
                if wrap:
                    r, col = (int(k) for k in c.index.split(","))
                    flat = r * columns + col
                    if flat >= a.size:
                        continue
                    index, value = (flat,), float(a[flat])
                else:
                    index = tuple(int(k) for k in c.index.split(",")) if c.index else ()
                    value = float(a[index])
                step = None
                if start_shape is not None:
                    start, shape = start_shape
                    if a.ndim == 0:
                        step = start + 1
                    elif len(index) == len(shape):
                        step = start + int(np.ravel_multi_index(index, shape)) + 1
                cells.append(HeatCell(fmt(value, digits), ",".join(str(k) for k in index), _tone(value, largest), step))
            rows.append(cells)
        panels.append((f"filter {lead[0] + 1}, channel {lead[1] + 1}" if filters else panel.label, rows))
    numbers = not wrap if a.ndim <= 1 else a.shape[-2] <= 8 and a.shape[-1] <= 8
    columns_drawn = max((len(r) for _, rows in panels for r in rows), default=1)
    cell_px = max(8, min(24, 336 // max(columns_drawn, 1)))
    scale = f"colour scale ±{fmt(float(f'{largest:.3g}'))}" if largest else "all zero"
    return Heat(tensor, title, note, numbers, cell_px, panels, scale)


def _symbol(kind: str) -> str:
    return "k" if kind in ("conv2d", "conv1d") else ("γ" if kind == "batchnorm2d" else "W")


TENSOR_TITLES = {"target": "Target t", "loss": "Loss L", "loss.difference": "ŷ − t", "loss.max": "m = max z",
                 "loss.exp": "e^(z − m)", "loss.sum": "Σ e^(z − m)", "loss.probabilities": "p = softmax(z)",
                 "loss.log_probabilities": "log p"}


def _tensor_title(name: str, p: Problem) -> tuple[str, str]:
    """Words for a tensor of the network, and a short note (its name in the steps, its shape)."""
    layers = p.trace.params["layers"]
    parts = name.split(".")
    if name == "act.0":
        return "Input x = a0", name
    if parts[0] == "act":
        n = int(parts[1])
        return f"a{n}: output of layer {n}", name
    if parts[0] == "delta":
        return f"δ{parts[1]} = ∂L/∂a{parts[1]}", name
    if parts[0] in ("param", "grad", "updated", "final"):
        n = int(parts[1])
        kind = layers[n - 1]["type"]
        sym = _symbol(kind) if parts[2] == "weight" else ("β" if kind == "batchnorm2d" else "b")
        words = {"param": f"{sym}{n}", "grad": f"∂L/∂{sym}{n}", "updated": f"{sym}{n} after the update",
                 "final": f"{sym}{n} after the last training step"}[parts[0]]
        return words, name
    if name in TENSOR_TITLES:
        return TENSOR_TITLES[name], name
    return name.replace("layer.", "layer ", 1).replace(".backward.", ", backward: ").replace(".", ": ", 1), name


@dataclass
class Stage:
    title: str
    anchor: str
    heats: list[Heat]


def stages(p: Problem, rows: list[LayerRow], one_cell: frozenset[str]) -> tuple[list[Stage], list[str]]:
    """The tensors grouped by where they belong: the input, each layer, the loss, the trained parameters."""
    t = p.trace
    digits = t.digits
    tensors: dict[str, Any] = {"act.0": t.inputs["input"], **t.intermediates, "target": t.inputs["target"],
                               "loss": t.outputs["loss"]}
    for i, params in enumerate(t.outputs["parameters"]):
        if params is not None and t.params["steps"] > 1:
            tensors[f"final.{i + 1}.weight"] = params["weight"]
            if params["bias"] is not None:
                tensors[f"final.{i + 1}.bias"] = params["bias"]
    groups: dict[str, list[str]] = {"input": [], **{f"layer{r.number}": [] for r in rows}, "loss": [], "update": [],
                                    "final": []}
    # a layer's tensors in the order the steps meet them: parameters, forward intermediates, output, δ,
    # backward intermediates, gradients, updated parameters
    order = {"param": 0, "layer": 1, "act": 2, "delta": 3, "grad": 5, "updated": 6, "final": 7}
    for name in tensors:
        parts = name.split(".")
        if name in ("act.0", "delta.0"):
            groups["input"].append(name)
        elif parts[0] in ("act", "delta", "param", "grad", "updated", "layer"):
            groups[f"layer{parts[1]}"].append(name)
        elif parts[0] == "final":
            groups["final"].append(name)
        elif parts[0] == "loss" or name == "target":
            groups["loss"].append(name)
        elif parts[0] == "update":
            groups["update"].append(name)

    def rank(name: str) -> tuple:
        parts = name.split(".")
        return (order.get(parts[0], 4) + (3.5 if "backward" in parts else 0), name.endswith("bias"), name)

    hidden = []
    out = []
    titles = {"input": "The input", "loss": "The loss", "update": "The optimizer's state",
              "final": f"After {t.params['steps']} training steps"}
    for r in rows:
        titles[f"layer{r.number}"] = f"Layer {r.number} · {r.name} · {r.shape}"
    for key, names in groups.items():
        heats = []
        for name in sorted(names, key=rank) if key.startswith("layer") else names:
            value = tensors[name]
            if np.size(value) > GRID_CELLS:
                hidden.append(name)
                continue
            title, note = _tensor_title(name, p)
            heats.append(heat(name, title, f"{note} · {_shape_text(np.shape(value))}", value, digits, p.writes,
                              one_cell))
        if heats:
            out.append(Stage(titles[key], key, heats))
    return out, hidden


# --- the steps ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Names:
    """How the page names the cells the steps point at, where the steps name them two ways."""

    one_cell: frozenset[str]
    """One-number tensors that a step writes as a scalar: drawn, read and written as a scalar."""
    state: frozenset[str]
    """The optimizer's state: its steps write ``update.state.m.…`` and read it back as ``update.m.…``."""


def names_of(p: Problem) -> Names:
    one_cell = set()
    for name, (start, shape) in p.writes.items():
        if int(np.prod(shape)) == 1:
            target = p.trace.steps[start].target
            if target is not None and len(target[1]) == 0:
                one_cell.add(name)
    one_cell |= {name.replace("grad.", "param.", 1) for name in one_cell if name.startswith("grad.")}
    return Names(frozenset(one_cell), frozenset(n for n in p.trace.intermediates if n.startswith("update.state.")))


def _renamed(view: dict[str, Any], names: Names) -> dict[str, Any]:
    reads: dict[str, list[str]] = {}
    for name, indices in json.loads(view["reads"]).items():
        stored = "update.state." + name.removeprefix("update.")
        name = stored if name.startswith("update.") and stored in names.state else name
        reads.setdefault(name, []).extend("" if name in names.one_cell else i for i in indices)
    target = json.loads(view["target"])
    if target and target["tensor"] in names.one_cell:
        target["index"] = ""
    return {**view, "reads": json.dumps(reads), "target": json.dumps(target),
            "substeps": [_renamed(s, names) for s in view["substeps"]]}


def views(p: Problem, start: int, stop: int, names: Names) -> list[dict[str, Any]]:
    return [_renamed(v, names) for v in step_views(p.trace, start, stop)]


@dataclass
class Run:
    steps: list[dict[str, Any]]
    gap_from: int | None     # the step number (from 1) where the next gap begins, if any
    gap_to: int | None

    @property
    def gap_offset(self) -> int | None:
        """The offset of the gap's first step, for the link that opens it."""
        return None if self.gap_from is None else self.gap_from - 1


def step_runs(p: Problem, names: Names) -> list[Run]:
    """The steps the server renders: the first page, and a few from each layer's header on, so that every
    link of the diagram lands on a step without JavaScript. Gaps between them are links to the rest."""
    total = len(p.trace.steps)
    wanted = set(range(min(PAGE_STEPS, total)))
    for segment, start in zip(p.trace.segments, p.segment_starts):
        if re.fullmatch(r"layer\d+\.(forward|backward)|loss\.header|update\.header", segment.name):
            wanted |= set(range(start, min(start + HEADER_RUN, total)))
    ordered = sorted(wanted)
    spans: list[list[int]] = []
    for k in ordered:
        if spans and k == spans[-1][1]:
            spans[-1][1] = k + 1
        else:
            spans.append([k, k + 1])
    runs = []
    for k, (a, b) in enumerate(spans):
        following = spans[k + 1][0] if k + 1 < len(spans) else total
        runs.append(Run(views(p, a, b, names), b + 1 if following > b else None,
                        following if following > b else None))
    return runs
