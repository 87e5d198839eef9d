"""An architecture table in other layouts: torchinfo's and Keras's text summaries, CSV, Markdown, JSON.

Each takes the ``outputs`` of an ``architecture`` trace (``layers`` and ``totals``); nothing is
computed again here, only laid out. Shapes are written C×H×W, or H×W×C with ``layout="hwc"``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

FORMATS = ("torchinfo", "keras", "csv", "markdown", "json")
LAYOUTS = ("chw", "hwc")

TORCH_NAMES = {
    "conv2d": "Conv2d", "linear": "Linear", "maxpool2d": "MaxPool2d", "avgpool2d": "AvgPool2d",
    "adaptive_avgpool2d": "AdaptiveAvgPool2d", "batchnorm2d": "BatchNorm2d", "relu": "ReLU", "relu6": "ReLU6",
    "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax", "dropout": "Dropout", "flatten": "Flatten",
    "sequential": "Sequential", "residual": "Residual", "add": "Add",
}
KERAS_NAMES = {
    "conv2d": "Conv2D", "linear": "Dense", "maxpool2d": "MaxPooling2D", "avgpool2d": "AveragePooling2D",
    "adaptive_avgpool2d": "AdaptiveAveragePooling2D", "batchnorm2d": "BatchNormalization", "relu": "ReLU",
    "relu6": "ReLU", "sigmoid": "Activation", "tanh": "Activation", "softmax": "Activation",
    "dropout": "Dropout", "flatten": "Flatten", "add": "Add",
}


def in_layout(shape: Sequence[int], layout: str = "chw") -> list[int]:
    """A (C, H, W) shape in the order asked for; a flat (F,) shape as it is."""
    shape = list(shape)
    return shape[1:] + shape[:1] if layout == "hwc" and len(shape) == 3 else shape


def shape_text(shape: Sequence[int], layout: str = "chw", sep: str = "×") -> str:
    """3×224×224, or 224×224×3 in H×W×C."""
    return sep.join(str(n) for n in in_layout(shape, layout))


def field_text(field: dict[str, Any] | None, key: str) -> str:
    if field is None:
        return ""
    value = field[key]
    return f"{value[0]}x{value[1]}" if isinstance(value, list) else str(value)


def summary_text(outputs: dict[str, Any], fmt: str = "torchinfo", layout: str = "chw",
                 model_name: str = "Net", input_shape: Sequence[int] | None = None) -> str:
    """The table in one of FORMATS."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    rows, totals = outputs["layers"], outputs["totals"]
    if fmt == "torchinfo":
        return torchinfo_text(rows, totals, model_name)
    if fmt == "keras":
        return keras_text(rows, totals, model_name)
    if fmt == "csv":
        return csv_text(rows, layout)
    if fmt == "markdown":
        return markdown_text(rows, totals, layout)
    return json.dumps({"input_shape": list(input_shape) if input_shape else rows[0]["input_shape"],
                       "layout": "C×H×W (PyTorch's)", "layers": rows, "totals": totals}, indent=2)


# --- torchinfo -------------------------------------------------------------------------------

def _readable(number: int) -> tuple[str, str]:
    """torchinfo's units for mult-adds: (T), (G), else (M)."""
    for limit, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if number >= limit or unit == "M":
            value = number / limit
            return f" ({unit})", f"{int(value):,}" if value.is_integer() else f"{value:,.2f}"
    raise AssertionError("unreachable")


def torchinfo_text(rows: list[dict[str, Any]], totals: dict[str, Any], model_name: str = "Net") -> str:
    """torchinfo's default summary: the layer tree with depth-index, output shape (batch 1) and parameters."""
    shown = [r for r in rows if r["type"] != "add"]  # torchinfo lists modules; the sum is not one
    kept = {r["index"] for r in shown}
    counters: dict[int, int] = {}
    labels = []
    for r in shown:
        counters[r["depth"]] = counters.get(r["depth"], 0) + 1
        labels.append(_tree_prefix(r, rows, kept) + f"{TORCH_NAMES[r['type']]}: {r['depth']}-{counters[r['depth']]}")
    width = max([40] + [len(label) + 5 for label in labels])
    width = -(-width // 5) * 5
    column = 25
    divider = "=" * (width + 2 * column)

    def line(name: str, shape: str, params: str) -> str:
        return f"{name:<{width}} {shape:<{column}} {params}".rstrip()

    last = rows[-1]["output_shape"] if rows else []
    out = [divider, line("Layer (type:depth-idx)", "Output Shape", "Param #"), divider,
           line(model_name, str([1] + list(last)), "--")]
    for r, label in zip(shown, labels):
        if not r["leaf"] or not r["params"]:
            params = "--"
        else:
            params = f"{r['params']:,}" if r["trainable"] else f"({r['params']:,})"
        out.append(line(label, str([1] + list(r["output_shape"])), params))
    unit, mult_adds = _readable(totals["mult_adds"])
    out += [divider, f"Total params: {totals['params']:,}", f"Trainable params: {totals['trainable_params']:,}",
            f"Non-trainable params: {totals['non_trainable_params']:,}", f"Total mult-adds{unit}: {mult_adds}",
            divider, f"Input size (MB): {totals['input_size_mb']:.2f}",
            f"Forward/backward pass size (MB): {totals['forward_backward_mb']:.2f}",
            f"Params size (MB): {totals['params_mb']:.2f}",
            f"Estimated Total Size (MB): {totals['total_mb']:.2f}", divider]
    return "\n".join(out) + "\n"


def _tree_prefix(row: dict[str, Any], rows: list[dict[str, Any]], kept: set[int]) -> str:
    """├─ or └─ for the row, after │ or a blank for each ancestor that has (or has not) later siblings."""
    def is_last(r: dict[str, Any]) -> bool:
        if r["parent"] is None:
            siblings = [x["index"] for x in rows if x["parent"] is None and x["index"] in kept]
        else:
            siblings = [i for i in rows[r["parent"]]["children"] if i in kept]
        return siblings[-1] == r["index"]

    parts = ["└─" if is_last(row) else "├─"]
    ancestor = row["parent"]
    while ancestor is not None:
        parts.append("     " if is_last(rows[ancestor]) else "│    ")
        ancestor = rows[ancestor]["parent"]
    return "".join(reversed(parts))


# --- Keras -----------------------------------------------------------------------------------

def keras_text(rows: list[dict[str, Any]], totals: dict[str, Any], model_name: str = "Net") -> str:
    """Keras's model.summary() layout: the layers flat, shapes (None, H, W, C), blank lines between rows.

    Keras counts a BatchNormalization's moving mean and variance as non-trainable parameters
    (4 per channel in all); the totals here follow Keras, and a line says so.
    """
    width, columns = 65, (29, 26)
    leaves = [r for r in rows if r["leaf"]]
    out = [f'Model: "{model_name.lower().replace(" ", "_")}"', "_" * width,
           f" {'Layer (type)':<{columns[0] - 1}}{'Output Shape':<{columns[1]}}Param #", "=" * width]
    extra = 0
    for k, r in enumerate(leaves):
        params = r["params"]
        if r["type"] == "batchnorm2d":
            extra += params
            params *= 2
        label = f"{r['name']} ({KERAS_NAMES[r['type']]})"
        shape = "(None, " + ", ".join(str(n) for n in in_layout(r["output_shape"], "hwc")) + ")"
        out.append(f" {label:<{columns[0] - 1}}{shape:<{columns[1]}}{params:,}".rstrip())
        if k < len(leaves) - 1:
            out.append("")
    out += ["=" * width, f"Total params: {totals['params'] + extra:,}",
            f"Trainable params: {totals['trainable_params']:,}",
            f"Non-trainable params: {totals['non_trainable_params'] + extra:,}", "_" * width]
    if extra:
        out.append(f"BatchNormalization's moving mean and variance ({extra:,} numbers) count as non-trainable "
                   "parameters here; PyTorch keeps them as buffers.")
    return "\n".join(out) + "\n"


# --- CSV and Markdown ------------------------------------------------------------------------

CSV_COLUMNS = ("index", "name", "type", "depth", "parent", "input_shape", "output_shape", "params", "trainable",
               "macs", "mult_adds", "rf_size", "rf_jump", "rf_start")


def csv_text(rows: list[dict[str, Any]], layout: str = "chw") -> str:
    """One line per row; shapes as 3x224x224 (or 224x224x3); an empty cell where a value does not apply."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        rf = r["receptive_field"]
        writer.writerow([r["index"], r["name"], r["type"], r["depth"], "" if r["parent"] is None else r["parent"],
                         shape_text(r["input_shape"], layout, "x"), shape_text(r["output_shape"], layout, "x"),
                         r["params"], "" if r["trainable"] is None else str(r["trainable"]).lower(), r["macs"],
                         r["mult_adds"], field_text(rf, "size"), field_text(rf, "jump"), field_text(rf, "start")])
    return buffer.getvalue()


def markdown_text(rows: list[dict[str, Any]], totals: dict[str, Any], layout: str = "chw") -> str:
    """A Markdown table (blocks' layers indented) and the totals."""
    order = "H×W×C" if layout == "hwc" else "C×H×W"
    out = [f"| Layer | Type | Output ({order}) | Parameters | MACs | Receptive field |",
           "|---|---|---|--:|--:|---|"]
    for r in rows:
        indent = "\u00a0\u00a0" * (r["depth"] - 1)
        rf = r["receptive_field"]
        field_ = "" if rf is None else f"{field_text(rf, 'size')} (jump {field_text(rf, 'jump')})"
        out.append(f"| {indent}{r['name']} | {r['type']} | {shape_text(r['output_shape'], layout)} | "
                   f"{r['params']:,} | {r['macs']:,} | {field_} |")
    out += ["", f"- Parameters: {totals['params']:,} ({totals['trainable_params']:,} trainable)",
            f"- MACs: {totals['macs']:,}; FLOPs (2 × MACs): {totals['flops']:,}",
            f"- Mult-adds (torchinfo): {totals['mult_adds']:,}",
            f"- Memory (MB): input {totals['input_size_mb']:.2f}, forward/backward "
            f"{totals['forward_backward_mb']:.2f}, parameters {totals['params_mb']:.2f}, "
            f"total {totals['total_mb']:.2f}"]
    return "\n".join(out) + "\n"
