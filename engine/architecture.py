"""Architecture tables: every layer's shapes, parameters, multiply-accumulates and receptive field,
the network's totals and memory, each number with the arithmetic behind it.

    t = architecture((3, 16, 16), "conv 8 3x3 p1 / relu / maxpool 2 / conv 16 3x3 / relu / maxpool 2 "
                                  "/ flatten / linear 10")
    t.outputs["layers"][0]["params"]                      # 224
    t.outputs["totals"]["params"]                         # 2842
    t.steps.by_id("layers[0].params").expansion           # '(3 \\cdot 3 \\cdot 3 + 1) \\cdot 8 = ...'

Layer specs use PyTorch's names (``conv2d`` with ``out_channels``, ``kernel_size``, ``stride``,
``padding``, ``dilation``, ``groups``, ``bias``; ``linear`` with ``out_features``; ...) and nest:
``{"type": "residual", "body": [...], "shortcut": [...], "activation": "relu"}`` and
``{"type": "sequential", "name": ..., "layers": [...]}``. Rows are listed like torchinfo lists
them: a block first, its layers after it one level deeper.

The arithmetic is ``engine.shapes``'; the steps that write it out are ``engine.architecture_steps``';
two tables side by side are ``engine.comparison``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .architecture_steps import (CONVENTIONS, Make, Shape, adaptive_step, add_step, batchnorm_step, block_sum_step,
                                 conv_macs_step, conv_params_step, field_step, flatten_step, linear_macs_step,
                                 linear_params_step, same_step, shape_words, totals_and_steps, union_step)
from .errors import EngineError
from .layer_text import parse_layers
from .numfmt import DEFAULT_DIGITS
from .presets import NETWORKS, check_claims
from .shapes import (INPUT_FIELD, ReceptiveField, adaptive_window, batchnorm_params, conv_macs, conv_params,
                     effective_kernel, linear_macs, linear_params, out_size, receptive_field_next,
                     receptive_field_union, receptive_region, resolve_padding, size_step,
                     torchinfo_mult_adds)
from .trace import Combine, Segment, Step, StepKind, Trace

ARGUMENT = "layers"

LEAF_TYPES = ("conv2d", "linear", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "batchnorm2d",
              "relu", "relu6", "sigmoid", "tanh", "softmax", "dropout", "flatten")
BLOCK_TYPES = ("residual", "sequential")
ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "softmax")
_OPTIONS = {
    "conv2d": ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "in_channels"),
    "linear": ("out_features", "bias", "in_features"),
    "maxpool2d": ("kernel_size", "stride", "padding", "ceil_mode"),
    "avgpool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "adaptive_avgpool2d": ("output_size",),
    "batchnorm2d": ("num_features",),
    "dropout": ("p",),
    "residual": ("body", "shortcut", "activation"),
    "sequential": ("layers",),
}
_REQUIRED = {"conv2d": ("out_channels", "kernel_size"), "linear": ("out_features",),
             "maxpool2d": ("kernel_size",), "avgpool2d": ("kernel_size",),
             "adaptive_avgpool2d": ("output_size",), "residual": ("body",), "sequential": ("layers",)}
_COMMON = ("type", "name", "trainable")
_TYPES = {t.replace("_", ""): t for t in LEAF_TYPES + BLOCK_TYPES}
_AUTO = {"conv2d": "conv", "linear": "fc", "maxpool2d": "pool", "avgpool2d": "pool",
         "adaptive_avgpool2d": "avgpool", "batchnorm2d": "bn", "relu6": "relu6_", "residual": "block",
         "sequential": "stage"}


@dataclass(frozen=True)
class Field:
    """The receptive field of a spatial output: one ReceptiveField for the rows, one for the columns."""

    rows: ReceptiveField
    cols: ReceptiveField

    def as_dict(self) -> dict[str, Any]:
        """One number per quantity when rows and columns agree, else [rows, columns]."""
        def pick(a: int, b: int) -> Any:
            return a if a == b else [a, b]
        return {"size": pick(self.rows.size, self.cols.size), "jump": pick(self.rows.jump, self.cols.jump),
                "start": pick(self.rows.start, self.cols.start)}


INPUT = Field(INPUT_FIELD, INPUT_FIELD)


@dataclass
class Row:
    """One line of the table: a layer, or a block (its layers follow it, one level deeper)."""

    index: int
    name: str
    type: str
    depth: int
    depth_index: int
    parent: int | None
    leaf: bool
    input_shape: Shape
    output_shape: Shape = ()
    params: int = 0
    trainable: bool | None = None
    macs: int = 0
    mult_adds: int = 0
    rf: Field | None = None
    options: dict[str, Any] = field(default_factory=dict)
    children: list[int] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    saved_outputs: int = 0
    """Numbers this row keeps for the backward pass, torchinfo's way: the output of a layer that has
    parameters (a block adds up its layers')."""
    trainable_params: int = 0

    @property
    def non_trainable(self) -> int:
        return self.params - self.trainable_params

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "name": self.name, "type": self.type, "depth": self.depth,
            "depth_index": self.depth_index, "parent": self.parent, "leaf": self.leaf,
            "input_shape": list(self.input_shape), "output_shape": list(self.output_shape),
            "params": self.params, "trainable": self.trainable, "macs": self.macs, "mult_adds": self.mult_adds,
            "receptive_field": None if self.rf is None else self.rf.as_dict(),
            "options": self.options, "children": list(self.children), "steps": list(self.steps),
        }


@dataclass(frozen=True)
class _Leaf:
    """What a layer computes: its output, its counts, and the makers of its steps."""

    output_shape: Shape
    rf: Field | None
    params: int = 0
    macs: int = 0
    mult_adds: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    plans: tuple[tuple[str, Make], ...] = ()


class _Builder:
    """Walks the layer specs once, in order, writing rows and the plans of their steps."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.plans: list[tuple[str, Make]] = []
        self.notes: list[str] = []
        self.counters: dict[str, int] = {}
        self.depth_counts: dict[int, int] = {}

    # --- errors and reading ------------------------------------------------------------------

    @staticmethod
    def fail(where: tuple, label: str, message: str) -> EngineError:
        return EngineError(ARGUMENT, f"{label}: {message}", where)

    def whole(self, value: Any, key: str, where: tuple, label: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) and not (
                isinstance(value, float) and value.is_integer()):
            raise self.fail(where, label, f"{key} must be a whole number, got {value!r}")
        if int(value) < minimum:
            raise self.fail(where, label, f"{key} must be at least {minimum}, got {int(value)}")
        return int(value)

    def pair(self, value: Any, key: str, where: tuple, label: str, minimum: int = 1) -> tuple[int, int]:
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise self.fail(where, label, f"{key} takes one number or two [rows, columns], got {len(value)}")
            return (self.whole(value[0], key, where, label, minimum), self.whole(value[1], key, where, label, minimum))
        n = self.whole(value, key, where, label, minimum)
        return n, n

    def flag(self, value: Any, key: str, where: tuple, label: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, label, f"{key} must be true or false, got {value!r}")
        return value

    def name(self, spec: dict[str, Any], kind: str, where: tuple) -> str:
        name = spec.get("name")
        if name is None:
            prefix = _AUTO.get(kind, kind)
            self.counters[prefix] = self.counters.get(prefix, 0) + 1
            return f"{prefix}{self.counters[prefix]}"
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise self.fail(where, f"layer {_position(where)}", f"name must be a short text, got {name!r}")
        return name.strip()

    # --- the walk ---------------------------------------------------------------------------

    def run(self, layers: Any, shape: Shape, rf: Field | None, depth: int, parent: Row | None,
            where: tuple, trainable: bool) -> tuple[Shape, Field | None]:
        if not isinstance(layers, (list, tuple)):
            raise EngineError(ARGUMENT, f"expected a list of layers, got {type(layers).__name__}", where)
        for k, spec in enumerate(layers):
            shape, rf = self.layer(spec, shape, rf, depth, parent, where + (k,), trainable)
        return shape, rf

    def new_row(self, name: str, kind: str, depth: int, parent: Row | None, shape: Shape, leaf: bool) -> Row:
        self.depth_counts[depth] = self.depth_counts.get(depth, 0) + 1
        full = f"{parent.name}.{name}" if parent is not None else name
        row = Row(len(self.rows), full, kind, depth, self.depth_counts[depth],
                  None if parent is None else parent.index, leaf, shape)
        self.rows.append(row)
        if parent is not None:
            parent.children.append(row.index)
        return row

    def layer(self, spec: Any, shape: Shape, rf: Field | None, depth: int, parent: Row | None,
              where: tuple, trainable: bool) -> tuple[Shape, Field | None]:
        position = f"layer {_position(where)}"
        if not isinstance(spec, dict):
            raise self.fail(where, position, f"expected a layer like {{'type': 'relu'}}, got {spec!r}")
        # null means the default, except a residual block's activation, where it means none
        spec = {k: v for k, v in spec.items() if v is not None or k == "activation"}
        raw = spec.get("type")
        kind = _TYPES.get(str(raw).lower().replace("_", "")) if isinstance(raw, str) else None
        if kind is None:
            raise self.fail(where, position, f"type {raw!r} is not one of: {', '.join(LEAF_TYPES + BLOCK_TYPES)}")
        unknown = sorted(set(spec) - set(_COMMON) - set(_OPTIONS.get(kind, ())))
        name = self.name(spec, kind, where)
        label = f"{parent.name + '.' if parent is not None else ''}{name} ({kind})"
        if unknown:
            allowed = ", ".join(_OPTIONS.get(kind, ())) or "only name and trainable"
            raise self.fail(where, label, f"unknown option {unknown[0]!r}; {kind} takes {allowed}")
        missing = [key for key in _REQUIRED.get(kind, ()) if key not in spec]
        if missing:
            raise self.fail(where, label, f"missing {' and '.join(missing)}")
        if "trainable" in spec:
            trainable = trainable and self.flag(spec["trainable"], "trainable", where, label)
        if kind in BLOCK_TYPES:
            return self.block(spec, kind, name, label, shape, rf, depth, parent, where, trainable)
        row = self.new_row(name, kind, depth, parent, shape, True)
        leaf = _LEAVES[kind](self, spec, row, shape, rf, where, label)
        row.output_shape, row.rf = leaf.output_shape, leaf.rf
        row.params, row.macs, row.mult_adds, row.options = leaf.params, leaf.macs, leaf.mult_adds, leaf.options
        if leaf.params:
            row.trainable = trainable
            row.trainable_params = leaf.params if trainable else 0
            row.saved_outputs = math.prod(leaf.output_shape)
        for suffix, make in leaf.plans:
            self.plan(row, suffix, make)
        return leaf.output_shape, leaf.rf

    def plan(self, row: Row, suffix: str, make: Make) -> None:
        step_id = f"layers[{row.index}].{suffix}"
        row.steps.append(step_id)

        target = (suffix, (row.index,)) if suffix in ("params", "macs") else None

        def made(index: tuple[int, ...], digits: int, make: Make = make, step_id: str = step_id) -> Step:
            step = make(index, digits)
            return replace(step, id=step_id, target=step.target or target)
        self.plans.append((step_id, made))

    def block(self, spec: dict[str, Any], kind: str, name: str, label: str, shape: Shape, rf: Field | None,
              depth: int, parent: Row | None, where: tuple, trainable: bool) -> tuple[Shape, Field | None]:
        row = self.new_row(name, kind, depth, parent, shape, False)
        if kind == "sequential":
            out, out_rf = self.run(spec["layers"], shape, rf, depth + 1, row, where + ("layers",), trainable)
        else:
            activation = spec.get("activation", "relu")
            if activation is not None and activation not in ACTIVATIONS:
                raise self.fail(where, label, f"activation {activation!r} is not one of: "
                                              f"{', '.join(ACTIVATIONS)}, or null for none")
            body, body_rf = self.run(spec["body"], shape, rf, depth + 1, row, where + ("body",), trainable)
            short, short_rf = self.run(spec.get("shortcut") or [], shape, rf, depth + 1, row,
                                       where + ("shortcut",), trainable)
            if body != short:
                what = "the shortcut" if spec.get("shortcut") else "the block's input (the identity shortcut)"
                raise self.fail(where, label, f"the body gives {shape_words(body)} but {what} is "
                                              f"{shape_words(short)}: they cannot be added")
            out = body
            out_rf = None if body_rf is None or short_rf is None else Field(
                receptive_field_union(body_rf.rows, short_rf.rows), receptive_field_union(body_rf.cols, short_rf.cols))
            add = self.new_row("add", "add", depth + 1, row, body, True)
            add.output_shape, add.rf = body, out_rf
            self.plan(add, "shape", add_step(add.name, body, bool(spec.get("shortcut"))))
            if out_rf is not None and body_rf is not None and short_rf is not None:
                self.plan(add, "receptive_field", union_step(add.name, body_rf, short_rf, out_rf))
            if activation is not None:
                act = self.new_row(activation, activation, depth + 1, row, body, True)
                act.output_shape, act.rf = body, out_rf
        row.output_shape, row.rf = out, out_rf
        children = [self.rows[i] for i in row.children]
        row.params = sum(c.params for c in children)
        row.trainable_params = sum(c.trainable_params for c in children)
        row.macs = sum(c.macs for c in children)
        row.mult_adds = sum(c.mult_adds for c in children)
        row.saved_outputs = sum(c.saved_outputs for c in children)
        if row.params:
            row.trainable = row.trainable_params == row.params
            self.plan(row, "params", block_sum_step(row, children, "params"))
        if row.macs:
            self.plan(row, "macs", block_sum_step(row, children, "macs"))
        return out, out_rf

    def not_exact(self, label: str, axes: str, size: int, eff: int, stride: int, before: int, after: int,
                  out: int, ceil_mode: bool) -> None:
        """A note when the window's last position leaves input cells unread (floor), or hangs past the
        input (ceil). ``axes`` is 'row', 'column' or 'row and column'."""
        span = size + before + after - eff
        if span % stride == 0:
            return
        head = f"{label}: ({size} - {eff} + {before + after})/{stride} = {span}/{stride} is not exact"
        if ceil_mode:
            plural = axes.replace(" and ", "s and ") + "s"
            self.notes.append(f"{head}; ceil mode rounds up to {out} {plural}, the last window reaching past "
                              "the input.")
            return
        unread = before + size - ((out - 1) * stride + eff)
        if unread > 0:
            both = " and " in axes
            cells = (f"input {axes} {'are' if both else 'is'}" if unread == 1
                     else f"{unread} input {axes.replace(' and ', 's and ')}s are")
            self.notes.append(f"{head}; floor keeps {out}, so the last {cells} never read.")


def _position(where: tuple) -> str:
    """A spec's place for a message: 3, or 5 > body > 2 for a nested one (1-based)."""
    parts = []
    for part in where:
        parts.append(str(part + 1) if isinstance(part, int) else part)
    return " > ".join(parts) or "?"


# --- the layers ------------------------------------------------------------------------------

def _spatial(builder: _Builder, shape: Shape, where: tuple, label: str, kind: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise builder.fail(where, label, f"{kind} needs a (C, H, W) input, got {shape_words(shape)}"
                           + (": it comes after a flatten or a linear layer" if len(shape) == 1 else ""))
    return shape  # type: ignore[return-value]


def _window(builder: _Builder, label: str, where: tuple, row: Row, H: int, W: int, kernel: tuple[int, int],
            stride: tuple[int, int], pads: tuple[int, int, int, int], dilation: tuple[int, int],
            ceil_mode: bool) -> tuple[tuple[int, int], list[tuple[str, Make]]]:
    """Output rows and columns of a sliding window, the fit checked, one size step per axis
    (the columns only when their arithmetic differs from the rows')."""
    out = []
    for axis, n, k, s, d, before, after in (("row", H, kernel[0], stride[0], dilation[0], pads[0], pads[1]),
                                            ("column", W, kernel[1], stride[1], dilation[1], pads[2], pads[3])):
        eff = effective_kernel(k, d)
        if eff > n + before + after:
            spans = f"a {kernel[0]}×{kernel[1]} window" + (f" dilated by {d}" if d > 1 else "")
            padded = "padded " if before + after else ""
            raise builder.fail(where, label, f"{spans} spans {eff} {axis}s but the {padded}input has only "
                                             f"{n + before + after}: the layer does not fit")
        out.append(out_size(n, k, s, before, after, d, ceil_mode))
    same_axes = (H, kernel[0], stride[0], pads[0], pads[1], dilation[0]) == (W, kernel[1], stride[1], pads[2],
                                                                               pads[3], dilation[1])
    for axis, n, k, s, d, before, after, o in (("row", H, kernel[0], stride[0], dilation[0], pads[0], pads[1], out[0]),
                                               ("column", W, kernel[1], stride[1], dilation[1], pads[2], pads[3],
                                                out[1]))[:1 if same_axes else 2]:
        builder.not_exact(label, "row and column" if same_axes else axis, n, effective_kernel(k, d), s, before,
                          after, o, ceil_mode)

    def axis_step(axis: int) -> Make:
        names = ("row", "column")

        def make(index: tuple[int, ...], digits: int) -> Step:
            n = (H, W)[axis]
            step = size_step(names[axis], n, kernel[axis], stride[axis], pads[2 * axis], pads[2 * axis + 1],
                             dilation[axis], ceil_mode, digits, "")
            return replace(step, title=f"{row.name}: output {names[axis]}s{' and columns' * same_axes}")
        return make

    plans = [("rows", axis_step(0))]
    if not same_axes:
        plans.append(("columns", axis_step(1)))
    return (out[0], out[1]), plans


def _conv2d(b: _Builder, spec: dict, row: Row, shape: Shape, rf: Field | None, where: tuple, label: str) -> _Leaf:
    C, H, W = _spatial(b, shape, where, label, "conv2d")
    out_channels = b.whole(spec["out_channels"], "out_channels", where, label)
    kernel = b.pair(spec["kernel_size"], "kernel_size", where, label)
    stride = b.pair(spec.get("stride", 1), "stride", where, label)
    dilation = b.pair(spec.get("dilation", 1), "dilation", where, label)
    groups = b.whole(spec.get("groups", 1), "groups", where, label)
    bias = b.flag(spec.get("bias", True), "bias", where, label)
    if "in_channels" in spec and b.whole(spec["in_channels"], "in_channels", where, label) != C:
        raise b.fail(where, label, f"in_channels is {spec['in_channels']} but the input has {C} channels")
    if C % groups or out_channels % groups:
        raise b.fail(where, label, f"groups = {groups} must divide the {C} input channels and the "
                                   f"{out_channels} output channels")
    try:
        pads, same = resolve_padding(spec.get("padding", 0), kernel, stride, dilation, (H, W))
    except EngineError as error:
        raise b.fail(where, label, error.problem) from None
    if same is not None and max(stride) > 1:
        b.notes.append(f"{label}: 'same' padding with a stride is TensorFlow's rule (out = ceil(W/S)); "
                       "PyTorch accepts 'same' only at stride 1.")
    (H_out, W_out), plans = _window(b, label, where, row, H, W, kernel, stride, pads, dilation, False)
    params = conv_params(C, out_channels, kernel, groups, bias)
    macs = conv_macs(C, out_channels, kernel, groups, (H_out, W_out))
    if same is not None:
        plans.insert(0, ("padding", same_step(row.name, same)))
    plans.append(("params", conv_params_step(row.name, C, out_channels, kernel, groups, bias, params)))
    plans.append(("macs", conv_macs_step(row.name, C, out_channels, kernel, groups, (H_out, W_out), macs)))
    field_out = _next_field(b, plans, row, rf, kernel, stride, (pads[0], pads[2]), dilation)
    options = {"out_channels": out_channels, "kernel_size": list(kernel), "stride": list(stride),
               "padding": list(pads), "dilation": list(dilation), "groups": groups, "bias": bias}
    return _Leaf((out_channels, H_out, W_out), field_out, params, macs,
                 torchinfo_mult_adds(params, (H_out, W_out)), options, tuple(plans))


def _pool(b: _Builder, spec: dict, row: Row, shape: Shape, rf: Field | None, where: tuple, label: str) -> _Leaf:
    C, H, W = _spatial(b, shape, where, label, row.type)
    kernel = b.pair(spec["kernel_size"], "kernel_size", where, label)
    stride = b.pair(spec["stride"], "stride", where, label) if spec.get("stride") is not None else kernel
    pad = b.pair(spec.get("padding", 0), "padding", where, label, minimum=0)
    ceil_mode = b.flag(spec.get("ceil_mode", False), "ceil_mode", where, label)
    if "count_include_pad" in spec:
        b.flag(spec["count_include_pad"], "count_include_pad", where, label)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise b.fail(where, label, f"padding {pad[0]} is more than half the {kernel[0]}×{kernel[1]} window "
                                   "(PyTorch refuses it)")
    pads = (pad[0], pad[0], pad[1], pad[1])
    (H_out, W_out), plans = _window(b, label, where, row, H, W, kernel, stride, pads, (1, 1), ceil_mode)
    field_out = _next_field(b, plans, row, rf, kernel, stride, (pad[0], pad[1]), (1, 1))
    options = {"kernel_size": list(kernel), "stride": list(stride), "padding": list(pad), "ceil_mode": ceil_mode}
    return _Leaf((C, H_out, W_out), field_out, options=options, plans=tuple(plans))


def _adaptive(b: _Builder, spec: dict, row: Row, shape: Shape, rf: Field | None, where: tuple, label: str) -> _Leaf:
    C, H, W = _spatial(b, shape, where, label, "adaptive_avgpool2d")
    out = b.pair(spec["output_size"], "output_size", where, label)
    windows = (adaptive_window(H, out[0]), adaptive_window(W, out[1]))
    plans: list[tuple[str, Make]] = [("rows", adaptive_step(row.name, (H, W), out, windows))]
    field_out = None
    if rf is not None and None not in windows:
        kernel = (windows[0], windows[1])
        field_out = _next_field(b, plans, row, rf, kernel, kernel, (0, 0), (1, 1))  # type: ignore[arg-type]
    elif rf is not None:
        b.notes.append(f"{label}: {H}×{W} to {out[0]}×{out[1]} uses windows of different sizes, so receptive "
                       "fields are not followed past this layer.")
    return _Leaf((C, out[0], out[1]), field_out, options={"output_size": list(out)}, plans=tuple(plans))


def _batchnorm(b: _Builder, spec: dict, row: Row, shape: Shape, rf: Field | None, where: tuple, label: str) -> _Leaf:
    C, _, _ = _spatial(b, shape, where, label, "batchnorm2d")
    if "num_features" in spec and b.whole(spec["num_features"], "num_features", where, label) != C:
        raise b.fail(where, label, f"num_features is {spec['num_features']} but the input has {C} channels")
    params = batchnorm_params(C)
    return _Leaf(shape, rf, params, 0, torchinfo_mult_adds(params), {"num_features": C},
                 (("params", batchnorm_step(row.name, C, params)),))


def _elementwise(b: _Builder, spec: dict, row: Row, shape: Shape, rf: Field | None, where: tuple,
                 label: str) -> _Leaf:
    options: dict[str, Any] = {}
    if row.type == "dropout":
        p = spec.get("p", 0.5)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise b.fail(where, label, f"p must be a probability from 0 to 1, got {p!r}")
        options["p"] = float(p)
    return _Leaf(shape, rf, options=options)


def _flatten(b: _Builder, spec: dict, row: Row, shape: Shape, rf: Field | None, where: tuple, label: str) -> _Leaf:
    features = math.prod(shape)
    plans: tuple[tuple[str, Make], ...] = ()
    if len(shape) == 3:
        plans = (("shape", flatten_step(row.name, shape, features)),)
    return _Leaf((features,), None, plans=plans)


def _linear(b: _Builder, spec: dict, row: Row, shape: Shape, rf: Field | None, where: tuple, label: str) -> _Leaf:
    if len(shape) != 1:
        raise b.fail(where, label, f"linear needs a flat input (F,), got {shape_words(shape)}: put a flatten "
                                   "before it")
    n_in = shape[0]
    n_out = b.whole(spec["out_features"], "out_features", where, label)
    bias = b.flag(spec.get("bias", True), "bias", where, label)
    if "in_features" in spec and b.whole(spec["in_features"], "in_features", where, label) != n_in:
        raise b.fail(where, label, f"in_features is {spec['in_features']} but the input has {n_in} features")
    params = linear_params(n_in, n_out, bias)
    macs = linear_macs(n_in, n_out)
    plans = (("params", linear_params_step(row.name, n_in, n_out, bias, params)),
             ("macs", linear_macs_step(row.name, n_in, n_out, macs)))
    return _Leaf((n_out,), None, params, macs, torchinfo_mult_adds(params),
                 {"out_features": n_out, "bias": bias}, plans)


_LEAVES: dict[str, Callable[..., _Leaf]] = {
    "conv2d": _conv2d, "maxpool2d": _pool, "avgpool2d": _pool, "adaptive_avgpool2d": _adaptive,
    "batchnorm2d": _batchnorm, "linear": _linear, "flatten": _flatten,
    **{kind: _elementwise for kind in ACTIVATIONS + ("dropout",)},
}


def _next_field(b: _Builder, plans: list, row: Row, rf: Field | None, kernel: tuple[int, int],
                stride: tuple[int, int], pad_before: tuple[int, int], dilation: tuple[int, int]) -> Field | None:
    if rf is None:
        return None
    out = Field(receptive_field_next(rf.rows, kernel[0], stride[0], pad_before[0], dilation[0]),
                receptive_field_next(rf.cols, kernel[1], stride[1], pad_before[1], dilation[1]))
    plans.append(("receptive_field", field_step(row.name, rf, out, kernel, stride, pad_before, dilation)))
    return out


# --- the op ----------------------------------------------------------------------------------

def read_shape(value: Any, name: str = "input_shape") -> Shape:
    """(C, H, W) or (F,) from a list, a tuple, or text such as '3x32x32' (C×H×W)."""
    if isinstance(value, str):
        if not value.strip():
            raise EngineError(name, "is empty: write C×H×W such as 3x32x32, or one number of features")
        text = value.strip().strip("()[]").replace("×", "x").replace("*", "x").replace(",", "x")
        parts = [p for p in text.replace(" ", "x").split("x") if p]
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise EngineError(name, f"{value.strip()!r} is not a shape: write C×H×W such as 3x32x32, "
                                    "or one number of features") from None
    if not isinstance(value, (list, tuple)) or len(value) not in (1, 3):
        raise EngineError(name, "expected (C, H, W), e.g. 3x32x32, or (F,) for a flat input")
    shape = []
    for k, n in enumerate(value):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise EngineError(name, f"entry {k + 1} must be a whole number of at least 1, got {n!r}", (k,))
        shape.append(int(n))
    return tuple(shape)


@dataclass(frozen=True)
class Table:
    """The rows and totals of a network, before they become a Trace."""

    input_shape: Shape
    rows: list[Row]
    totals: dict[str, Any]
    plans: list[tuple[str, Make]]
    notes: list[str]


def build_table(input_shape: Any, layers: Any) -> Table:
    """Rows, totals and step makers; ``architecture`` wraps them in a Trace."""
    shape = read_shape(input_shape)
    if isinstance(layers, str):
        layers = parse_layers(layers)
    if not isinstance(layers, (list, tuple)) or not layers:
        raise EngineError(ARGUMENT, "expected a non-empty list of layers (or their text form)")
    builder = _Builder()
    rf = INPUT if len(shape) == 3 else None
    builder.run(layers, shape, rf, 1, None, (), True)
    totals, total_plans = totals_and_steps(builder.rows, shape)
    notes = list(builder.notes)
    if len(shape) == 3 and shape[0] > 4 and shape[2] in (1, 3, 4) and shape[1] > shape[2]:
        notes.insert(0, f"The input reads as C×H×W: {shape[0]} channels of {shape[1]}×{shape[2]}. An image "
                        f"{shape[0]}×{shape[1]} with {shape[2]} channels is {shape[2]}×{shape[0]}×{shape[1]}.")
    return Table(shape, builder.rows, totals, builder.plans + total_plans, notes)


def architecture(input_shape: Any = None, layers: Any = None, *, preset: str | None = None,
                 digits: int = DEFAULT_DIGITS) -> Trace:
    """The table of a network: one row per layer and block, the totals, and the arithmetic.

    ``input_shape`` is (C, H, W) or (F,), or text such as ``"3x224x224"``; ``layers`` a list of
    layer specs or their compact text form. ``preset`` names a network of ``engine.presets``
    (its input shape unless ``input_shape`` is given).

    Notes
    -----
    Output size: floor((W + 2P - d(F - 1) - 1)/S) + 1. Parameters: (F·F·C_in/g + 1)·C_out for a
    convolution, (N_in + 1)·N_out for a linear layer, 2C for a batch norm. MACs: H_out·W_out·C_out·
    F·F·C_in/g and N_in·N_out. Receptive field, layer by layer: r = r + d(F - 1)·j, then u = u - P·j,
    then j = j·S (each with the previous layer's j).
    """
    chosen = None
    if preset is not None:
        chosen = NETWORKS.get(preset)
        if chosen is None:
            raise EngineError("preset", f"{preset!r} is not a preset: use one of {', '.join(NETWORKS)}")
        if layers is not None:
            raise EngineError("layers", "give a preset or layers, not both")
        layers = chosen.layers
        input_shape = chosen.input_shape if input_shape is None else input_shape
    if input_shape is None:
        raise EngineError("input_shape", "is missing: give (C, H, W) such as 3x32x32, or a preset")
    if layers is None:
        raise EngineError("layers", "is missing: give a list of layers, their text form, or a preset")
    table = build_table(input_shape, layers)
    notes = list(table.notes)
    if chosen is not None:
        notes = check_claims(chosen, table) + notes
    notes += list(CONVENTIONS)
    rows = table.rows
    segments = [Segment(step_id, (), with_id(step_id, make)) for step_id, make in table.plans]
    return Trace(
        op="architecture",
        params={"input_shape": list(table.input_shape), "preset": preset, "layer_count": len(rows)},
        inputs={},
        outputs={"layers": [r.as_dict() for r in rows], "totals": table.totals},
        formula=r"P_{conv} = (k_H k_W C_{in}/g + 1)\,C_{out},\quad \text{MACs}_{conv} = H_{out} W_{out} C_{out}"
                r"\, k_H k_W C_{in}/g,\quad r_\ell = r_{\ell-1} + d(F - 1)\,j_{\ell-1}",
        segments=segments,
        notes=notes,
        digits=digits,
        intermediates={"params": [r.params for r in rows], "macs": [r.macs for r in rows]},
    )


def field_region(row: dict[str, Any], cell: tuple[int, int]) -> dict[str, Any]:
    """The input region that output cell ``cell`` (row, column; 0-based) of a table row sees.

    Returns the first and last input row and column (they may lie in the padding, outside
    0..H-1), and a Step with the arithmetic.
    """
    rf = row["receptive_field"]
    if rf is None:
        raise EngineError("cell", f"{row['name']} has no receptive field: its output is not a map")
    _, H, W = row["output_shape"]
    i, j = cell
    if not (0 <= i < H and 0 <= j < W):
        raise EngineError("cell", f"({i + 1}, {j + 1}) is outside {row['name']}'s {H}×{W} output "
                                  f"(rows and columns count from 1)")
    axes = []
    for k, n in enumerate((i, j)):
        pick = lambda v: v[k] if isinstance(v, list) else v
        field_axis = ReceptiveField(pick(rf["size"]), pick(rf["jump"]), pick(rf["start"]))
        axes.append((field_axis, n, receptive_region(field_axis, n)))
    (fr, i, (top, bottom)), (fc, j, (left, right)) = axes

    def span(f: ReceptiveField, k: int, first: int, last: int) -> str:
        return rf"{f.start} + {k} \cdot {f.jump} = {first}\ \text{{to}}\ {first} + {f.size} - 1 = {last}"
    if (fr, i) == (fc, j):
        expansion = rf"\text{{rows and columns: }} {span(fr, i, top, bottom)}"
    else:
        expansion = (rf"\text{{rows: }} {span(fr, i, top, bottom)};\quad "
                     rf"\text{{columns: }} {span(fc, j, left, right)}")
    step = Step(id=f"field[{i},{j}]", kind=StepKind.RECEPTIVE_FIELD,
                title=f"{row['name']}: the region output cell ({i + 1}, {j + 1}) sees",
                message=f"Output cell ({i + 1}, {j + 1}) of {row['name']} depends on input rows {top} to {bottom} "
                        f"and columns {left} to {right} (0-based; outside 0 to the input's size is padding).",
                formula=r"\text{first} = u + i\,j,\quad \text{last} = \text{first} + r - 1",
                expansion=expansion, result=fr.size, combine=Combine.VALUE)
    return {"rows": (top, bottom), "cols": (left, right), "step": step}


def count_layers(layers: Any) -> int:
    """How many rows a layer list makes (blocks, their layers and a residual's sum and activation),
    counted before any checking; used to refuse huge requests cheaply."""
    if not isinstance(layers, (list, tuple)):
        return 0
    total = 0
    for spec in layers:
        total += 1
        if isinstance(spec, dict):
            kind = str(spec.get("type", "")).lower().replace("_", "")
            if kind == "residual":
                total += count_layers(spec.get("body")) + count_layers(spec.get("shortcut")) + 2
            elif kind == "sequential":
                total += count_layers(spec.get("layers"))
    return total


def with_id(step_id: str, make: Make) -> Make:
    """A step maker whose steps carry the id of their segment."""
    return lambda index, digits: replace(make(index, digits), id=step_id)
