"""What the layer pages draw besides the steps: a grid for every tensor a step reads or writes, and
the pictures (an activation's curve, a loss as one number moves, an optimizer's state over the updates),
as view models for templates/partials/grid.html and picture.html. Every coordinate is computed here
or in ``app.pictures``; the templates only place them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from engine import EngineError, activation, activation_backward, loss
from engine.numfmt import fmt
from engine.trace import Trace

from .. import pictures as pic
from ..limits import GRID_CELLS
from ..render import grid

# ---------------------------------------------------------------- grids of every tensor a step writes

def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Tensors by dotted name, {"params": {"w": ...}} as "params.w"; settings that are not tensors left out."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif value is not None and np.ndim(value) <= 4 and not isinstance(value, (str, bool)):
            out[f"{prefix}{key}"] = value
    return out


def _step_numbers(trace: Trace, tensors: dict[str, Any]) -> dict[str, dict[str, int]]:
    """For each tensor some run of steps writes cell by cell: {cell index "i,j": step number}."""
    numbers: dict[str, dict[str, int]] = {}
    start = 0
    for segment in trace.segments:
        size = len(segment)
        first = segment.step(0, trace.digits)
        if first.target is not None:
            name, index = first.target
            shape = np.shape(tensors.get(name, ()))
            if name in tensors and None not in index and tuple(segment.shape) == shape and size <= GRID_CELLS:
                cells = numbers.setdefault(name, {})
                for k, at in enumerate(np.ndindex(shape) if shape else [()]):
                    cells[",".join(str(i) for i in at)] = start + k + 1
        start += size
    return numbers


TITLES = {
    "input": "Input x", "output": "Output y", "weight": "Weights W", "bias": "Bias b",
    "grad_output": "δ = ∂L/∂y", "grad_input": "∂L/∂x", "grad_weight": "∂L/∂W", "grad_bias": "∂L/∂b",
    "prediction": "Prediction ŷ", "target": "Target t", "loss": "Loss L", "difference": "ŷ − t",
    "max": "m = max z", "exp": "e^(z − m)", "sum": "S = Σ e^(z − m)", "probabilities": "Probabilities p",
    "jacobian": "Jacobian J = ∂p/∂z", "dot": "Σ δ·p", "sample_loss": "Loss of each sample",
    "elementwise_loss": "Loss of each cell", "mean": "Batch mean μ", "var": "Batch variance σ²",
    "inv_std": "1/√(σ² + ε)", "x_hat": "Normalized x̂", "gamma": "Scale γ", "beta": "Shift β",
    "running_mean": "Running mean", "running_var": "Running variance", "mask": "Mask m (1 keeps)",
    "derivative": "f′(x)", "log_probabilities": "log p",
}


def _title(trace: Trace, name: str, given: bool) -> str:
    kind = trace.params.get("kind", "")
    if trace.op in ("activation", "activation_backward") and trace.params.get("function") == "softmax":
        name_titles = {"input": "Scores z", "output": "Probabilities p", "grad_output": "δ = ∂L/∂p",
                       "grad_input": "∂L/∂z"}
        if name in name_titles:
            return name_titles[name]
    if trace.op == "loss" and name == "grad_input":
        return {"mse": "∂L/∂ŷ", "softmax_cross_entropy": "∂L/∂z"}.get(kind, "∂L/∂p")
    if trace.op == "loss" and name == "prediction" and kind != "mse":
        return "Scores z" if kind == "softmax_cross_entropy" else "Probabilities p"
    if trace.op == "batchnorm_backward":
        name = {"grad_weight": "∂L/∂γ", "grad_bias": "∂L/∂β"}.get(name, name)
    if trace.op == "batchnorm" and name.startswith("running_"):
        return TITLES[name] + (" before" if given else " after")
    if trace.op == "flatten" and name == "output":
        return "Flattened p"
    head, _, param = name.partition(".")
    if head == "params":
        return f"{param} {'before' if given else 'after'}"
    if head == "grads":
        return f"∂L/∂{param}"
    if head == "state":
        buffer, _, param = param.partition(".")
        if buffer == "step":
            return "t, updates taken" + (" before" if given else "")
        words = {"m": "m", "v": "v", "velocity": "velocity"}[buffer]
        return f"{words} of {param}" + (" before" if given else "")
    if head in ("m_hat", "v_hat"):
        return f"{'m̂' if head == 'm_hat' else 'v̂'} of {param}"
    return TITLES.get(name, name)


def _drawable(value: Any) -> bool:
    return np.size(value) <= GRID_CELLS


def layer_grids(trace: Trace, hide: Callable[[str, bool], bool] = lambda name, given: False) -> tuple[list, list[str]]:
    """Given tensors, then the computed ones (intermediates and outputs) in the order the steps write
    them; a tensor given and computed under one name (an optimizer's parameters, a running mean) is
    drawn twice, and the player tells the copies apart by their group."""
    given = {k: v for k, v in _flat(trace.inputs).items() if not hide(k, True)}
    written = _flat({**trace.intermediates, **trace.outputs})
    numbers = _step_numbers(trace, written)
    computed = {k: v for k, v in written.items() if not hide(k, False)}
    order = sorted(computed, key=lambda k: min(numbers[k].values()) if numbers.get(k) else 10**12)
    digits = trace.digits
    inputs = [grid(k, _title(trace, k, True), v, digits) for k, v in given.items() if _drawable(v)]
    outputs = [grid(k, _title(trace, k, False), computed[k], digits, steps_of=numbers.get(k, {}))
               for k in order if _drawable(computed[k])]
    hidden = [_title(trace, k, True) for k, v in given.items() if not _drawable(v)]
    hidden += [_title(trace, k, False) for k in order if not _drawable(computed[k])]
    return [("Given", inputs), ("Computed", outputs)], hidden


# ---------------------------------------------------------------- pictures

NAMES = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "relu6": "ReLU6", "sigmoid": "Sigmoid σ", "tanh": "tanh",
         "softmax": "Softmax"}


def drawn(draw: Callable[..., pic.Picture | None]) -> Callable[..., pic.Picture | None]:
    """A picture function that says so in words when its numbers cannot be drawn (overflowing, not finite)."""
    @functools.wraps(draw)
    def picture(*args: Any) -> pic.Picture | None:
        try:
            return draw(*args)
        except (pic.Unchartable, EngineError):   # the engine refusing a curve point that overflowed
            return pic.Picture("No picture for these numbers",
                               "They are too large, or not finite, to draw; the grids and the steps show them.", [])
    return picture


def _engine_curve(function: str, alpha: float, backward: bool) -> Callable[[list[float]], list[float]]:
    """f (or f') over many points, by the engine itself, so the picture keeps its conventions."""
    def values(xs: list[float]) -> list[float]:
        x = np.array(xs)
        if backward:
            return list(activation_backward(x, np.ones_like(x), function=function, alpha=alpha).outputs["grad_input"])
        return list(activation(x, function=function, alpha=alpha).outputs["output"])
    return values


@drawn
def activation_picture(trace: Trace, q: dict[str, str]) -> pic.Picture:
    function = trace.params["function"]
    x = np.asarray(trace.inputs["input"])
    backward = trace.op == "activation_backward"
    name = NAMES[function]
    if function == "softmax":
        row = x.reshape(-1, x.shape[-1])[0]
        p = activation(row, function="softmax").outputs["output"]
        classes = [str(k + 1) for k in range(len(row))]
        which = " of the first row" if x.ndim > 1 and x.shape[0] > 1 else ""
        listing = ", ".join(f"class {c}: z = {fmt(z)}, p = {fmt(v, 3)}" for c, z, v in zip(classes, row, p))
        charts = [pic.bar_chart(f"Softmax probabilities{which}", f"A bar for each class: {listing}.",
                                "class", "probability p", classes, list(p))]
        caption = ("Each bar is one class's share of Σ e^(z − m); the bars add up to 1, and the largest score takes "
                   "the largest share.")
        if backward:
            grad = np.asarray(trace.outputs["grad_input"]).reshape(-1, x.shape[-1])[0]
            charts.append(pic.bar_chart(f"∂L/∂z{which}", "A bar for each class: " + ", ".join(
                f"class {c}: {fmt(v, 3)}" for c, v in zip(classes, grad)) + ".", "class", "∂L/∂z", classes, list(grad)))
            caption += (" Backward, each score's gradient is p_i(δ_i − Σ_j δ_j p_j): every class's δ reaches every "
                        "score, weighted by the probabilities, and the gradients add up to 0.")
        return pic.Picture(f"The probabilities{which}" + (" and the gradient" if backward else ""), caption, charts)
    alpha = float(trace.params.get("alpha", 0.01))
    points = sorted({float(v) for v in x.reshape(-1)})
    marked = points[:24]
    lo, hi = pic.padded(min(min(points), -2.0), max(max(points), 2.0), 0.12)
    if function == "relu6" and max(points) > 4:
        hi = max(hi, 7.0)
    chart, xs, ys = pic.curve_chart(
        f"{name} with the inputs marked", "", "x", "f(x)", _engine_curve(function, alpha, False), (lo, hi))
    fx = _engine_curve(function, alpha, False)(marked)
    slopes = _engine_curve(function, alpha, True)(marked) if backward else []
    for k, (xv, yv) in enumerate(zip(marked, fx)):
        chart.dots.append(pic.dot(chart, xs(xv), ys(yv), "point"))
        if backward:
            chart.lines.append(pic.tangent(xv, yv, slopes[k], xs, ys))
    pairs = [f"x = {fmt(a)} gives {fmt(b)}" + (f" with slope {fmt(s)}" if backward else "")
             for a, b, s in zip(marked, fx, slopes or [0.0] * len(marked))]
    more = f" (the first {len(marked)} of {len(points)} distinct values)" if len(points) > len(marked) else ""
    chart.desc = (f"The curve of {name} from x = {fmt(lo, 3)} to {fmt(hi, 3)}, with the input values marked{more}: "
                  + "; ".join(pairs) + ".")
    legend = [("curve", f"f(x) = {name}(x)"), ("point", "an input value x and f(x)")]
    if backward:
        legend.append(("tangent", "the slope f′(x) there: δ is multiplied by it"))
        caption = ("Each short line touches the curve at an input; its slope is f′(x), the factor the upstream δ "
                   "is multiplied by. A flat line lets no gradient through.")
    else:
        caption = "Each dot is one input value x, drawn at height f(x): the output cell it becomes."
    if function in ("relu", "leaky_relu", "relu6"):
        caption += f" At the kink x = 0 the slope is taken as {'α' if function == 'leaky_relu' else '0'}."
    table = None
    if len(marked) <= 12:
        headers = ["x", "f(x)"] + (["f′(x)"] if backward else [])
        rows = [[fmt(a), fmt(b)] + ([fmt(s)] if backward else []) for a, b, s in
                zip(marked, fx, slopes or [0.0] * len(marked))]
        table = pic.Table(f"The marked points of {name}", headers, rows)
    return pic.Picture(f"{name}: the curve and the inputs{more}", caption, [chart], legend, table)


@drawn
def loss_picture(trace: Trace, q: dict[str, str]) -> pic.Picture | None:
    """L as one prediction cell moves, the others held: the current point and the gradient's tangent."""
    kind, reduction, eps = trace.params["kind"], trace.params["reduction"], trace.params.get("eps", 1e-12)
    prediction = np.asarray(trace.inputs["prediction"], dtype=float)
    target = np.asarray(trace.inputs["target"], dtype=float)
    if prediction.size > GRID_CELLS:
        return None
    categorical = kind in ("cross_entropy", "softmax_cross_entropy")
    if categorical:
        first = target.reshape(-1, target.shape[-1])[0]
        cell = (int(np.argmax(first)),) if prediction.ndim == 1 else (0, int(np.argmax(first)))
    else:
        cell = (0,) * prediction.ndim
    at = ", ".join(str(k + 1) for k in cell)
    counted = f" (class {cell[-1]} counting from 0)" if categorical else ""
    v0 = float(prediction[cell])
    L0 = float(trace.outputs["loss"])
    slope = float(np.asarray(trace.outputs["grad_input"])[cell])

    def curve(values: list[float]) -> list[float]:
        out = []
        for v in values:
            moved = prediction.copy()
            moved[cell] = v
            out.append(float(loss(moved, target, kind=kind, reduction=reduction, eps=eps).outputs["loss"]))
        return out

    symbol = {"mse": "ŷ", "softmax_cross_entropy": "z"}.get(kind, "p")
    if kind == "mse":
        t0 = float(target[cell])
        spread = max(abs(v0 - t0), 0.5)
        x_range = (min(v0, t0) - 0.6 * spread, max(v0, t0) + 0.6 * spread)
    elif kind == "softmax_cross_entropy":
        x_range = (v0 - 4.0, v0 + 4.0)
    else:
        x_range = (0.0, 1.0)
    samples = 161
    grid_x = [x_range[0] + (x_range[1] - x_range[0]) * k / (samples - 1) for k in range(samples)]
    grid_y = curve(grid_x)
    inner = grid_y[samples // 20: samples - samples // 20]
    top = max(inner)
    if L0 <= 1.5 * top:
        top = max(top, L0)
    y_range = pic.padded(min(0.0, min(grid_y)), top, 0.06)
    y_range = (min(0.0, min(grid_y)), y_range[1])
    cell_words = f"{symbol}({at})"
    chart, xs, ys = pic.curve_chart(f"Loss as {cell_words} moves", "", cell_words, "L", lambda _: grid_y,
                                    x_range, y_range, samples)
    off = L0 > y_range[1]
    if off:   # drawn on the top edge, its value written in the empty corner across the chart
        here = pic.dot(chart, xs(v0), chart.top, "point here", f"↑ L = {fmt(L0, 4)}, above the chart")
        corner = here.anchor == "start"
        here.anchor, here.label_x, here.label_y = ("end" if corner else "start"), (
            chart.right - 4 if corner else chart.left + 4), chart.top + 14
        chart.dots.append(here)
    else:
        chart.dots.append(pic.dot(chart, xs(v0), ys(L0), "point here", f"L = {fmt(L0, 4)}",
                                  side="right" if slope < 0 else "left"))
        chart.lines.append(pic.tangent(v0, L0, slope, xs, ys))
    if kind == "mse":
        chart.dots.append(pic.dot(chart, xs(float(target[cell])), ys(min(curve([float(target[cell])]))), "target-mark",
                                  "t"))
    what = {"mse": f"the prediction ŷ({at})", "softmax_cross_entropy": f"the score z({at}) of the true class{counted}",
            "cross_entropy": f"the probability p({at}) of the true class{counted}",
            "binary_cross_entropy": f"the probability p({at})"}[kind]
    chart.desc = (f"The loss L as {what} moves from {fmt(x_range[0], 3)} to {fmt(x_range[1], 3)}, every other "
                  f"number held fixed. The current value {cell_words} = {fmt(v0)} gives L = {fmt(L0)}; the "
                  f"gradient there is {fmt(slope)}.")
    caption = (f"L as {what} alone changes. The dot is the current value; the orange line's slope is "
               f"∂L/∂{cell_words} = {fmt(slope)}, the gradient: a step against it lowers the loss.")
    if kind == "mse":
        caption += f" The lowest point is at the target t = {fmt(float(target[cell]))}."
    if off:
        clipped = categorical or kind == "binary_cross_entropy"
        caption = (f"L as {what} alone changes. The current value {cell_words} = {fmt(v0)} gives L = {fmt(L0, 4)}, "
                   f"far above the chart" + (f": the probability is clipped to ε = {fmt(eps)} before the log, and "
                                              f"the gradient there is {fmt(slope)}." if clipped else "."))
    legend = [("curve", "L as this one number moves"), ("point", "the current value")]
    if not off:
        legend.append(("tangent", "slope = the gradient"))
    return pic.Picture("The loss as one number moves", caption, [chart], legend)


@drawn
def optimizer_picture(traces: list[Trace], name: str, index: tuple[int, ...]) -> pic.Picture:
    """The watched cell of parameter ``name`` over a run of updates (``traces``, one per update),
    from t = 0, before the first update (the buffers start at 0; m̂ and v̂ are not defined there)."""
    state = traces[-1].outputs["state"]
    rule = "adam" if "m" in state else ("momentum" if "velocity" in state else "sgd")
    at = ", ".join(str(k + 1) for k in index)
    cell = f"{name}({at})" if at else name
    steps = [int(t.params["step"]) for t in traces]
    ts = [steps[0] - 1] + steps
    start = _flat(traces[0].inputs)

    def series(key: str, before: bool = True) -> list[float | None]:
        first = [float(np.asarray(start[f"{key}.{name}"])[index]) if before else None]
        return first + [float(np.asarray(t.flat_outputs()[f"{key}.{name}"])[index]) for t in traces]

    w = series("params")
    charts, legend, columns = [], [], [("t", ts)]
    words = f"over {len(steps)} update{'s' * (len(steps) != 1)}"
    if rule == "adam":
        m, m_hat, v, v_hat = series("state.m"), series("m_hat", False), series("state.v"), series("v_hat", False)
        charts.append(pic.history_chart(f"m and m̂ of {cell}", f"m of {cell} {words}: " + _listing(ts, m)
                                        + "; m̂: " + _listing(ts, m_hat) + ".", "m",
                                        [("s-m", "m", ts, m), ("s-hat", "m̂", ts, m_hat)]))
        charts.append(pic.history_chart(f"v and v̂ of {cell}", f"v of {cell} {words}: " + _listing(ts, v)
                                        + "; v̂: " + _listing(ts, v_hat) + ".", "v",
                                        [("s-v", "v", ts, v), ("s-vhat", "v̂", ts, v_hat)]))
        legend = [("s-m", "m: running mean of the gradient"), ("s-hat", "m̂ = m/(1 − β1^t)"),
                  ("s-v", "v: running mean of the squared gradient"), ("s-vhat", "v̂ = v/(1 − β2^t)")]
        columns += [("m", m), ("m̂", m_hat), ("v", v), ("v̂", v_hat)]
        caption = (f"Adam's two running means for {cell}, {words}. m and v start at 0, so early on they are too "
                   f"small; dividing by 1 − β^t (m̂ and v̂) undoes that, and the update uses m̂/(√v̂ + ε).")
    elif rule == "momentum":
        velocity = series("state.velocity")
        charts.append(pic.history_chart(f"Velocity of {cell}", f"The velocity of {cell} {words}: "
                                        + _listing(ts, velocity) + ".", "velocity",
                                        [("s-m", "velocity", ts, velocity)]))
        legend = [("s-m", "velocity v = μv + g")]
        columns += [("velocity", velocity)]
        caption = (f"The velocity of {cell} {words}: each update keeps μ of it and adds the gradient, so with the "
                   f"same gradient it grows towards g/(1 − μ).")
    else:
        caption = f"{cell} {words}: plain SGD moves it by η times the gradient each time."
    charts.append(pic.history_chart(f"{cell} after each update", f"{cell} from t = {ts[0]} (before the first "
                                    f"update) {words}: " + _listing(ts, w) + ".", name, [("s-w", cell, ts, w)]))
    legend.append(("s-w", f"{cell}; t = {ts[0]} is its value before the first update"))
    columns.append((cell, w))
    rows_at = list(range(len(ts))) if len(ts) <= 13 else list(range(5)) + [-1] + list(range(len(ts) - 5, len(ts)))
    rows = [["…"] * len(columns) if k < 0 else [_cell(values[k]) for _, values in columns] for k in rows_at]
    table = pic.Table(f"The numbers for {cell}, update by update", [head for head, _ in columns], rows)
    return pic.Picture(f"{cell} {words}", caption, charts, legend, table)


def _cell(value: float | None) -> str:
    return "—" if value is None else fmt(value)


def _listing(steps: list[int], values: list[float | None]) -> str:
    pairs = [f"t = {s}: {'not defined' if v is None else fmt(v, 4)}" for s, v in zip(steps, values)]
    return ", ".join(pairs if len(pairs) <= 12 else pairs[:5] + ["…"] + pairs[-5:])


