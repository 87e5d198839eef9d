"""Two architectures on the same input, side by side: their totals and the ratios, worked out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .architecture import ARGUMENT, Table, build_table, with_id
from .architecture_steps import Make, count_tex, shape_words
from .errors import EngineError
from .numfmt import DEFAULT_DIGITS, tex
from .presets import COMPARISONS
from .trace import Combine, Factor, Segment, Step, StepKind, Term, Trace

def compare_architectures(input_shape: Any = None, left: Any = None, right: Any = None, *,
                          preset: str | None = None, labels: Sequence[str] | None = None,
                          digits: int = DEFAULT_DIGITS) -> Trace:
    """Two layer lists on the same input, side by side: their totals and the ratios right/left.

    ``left`` and ``right`` are layer specs or their text form; ``preset`` names a comparison of
    ``engine.presets.COMPARISONS`` (one 5×5 against two 3×3, standard against depthwise-separable,
    a convolution against the dense layer with the same input and output).
    """
    chosen = None
    if preset is not None:
        chosen = COMPARISONS.get(preset)
        if chosen is None:
            raise EngineError("preset", f"{preset!r} is not a comparison: use one of {', '.join(COMPARISONS)}")
        if left is not None or right is not None:
            raise EngineError("left", "give a preset or two layer lists, not both")
        left, right = chosen.left, chosen.right
        input_shape = chosen.input_shape if input_shape is None else input_shape
        labels = labels or chosen.labels
    if input_shape is None:
        raise EngineError("input_shape", "is missing: give (C, H, W) such as 64x56x56, or a preset")
    for side, layers in (("left", left), ("right", right)):
        if layers is None:
            raise EngineError(side, "is missing: give a list of layers or their text form")
    labels = tuple(labels) if labels else ("A", "B")
    if len(labels) != 2 or not all(isinstance(x, str) for x in labels):
        raise EngineError("labels", "give two labels, one per side")
    tables = []
    for side, layers in (("left", left), ("right", right)):
        try:
            tables.append(build_table(input_shape, layers))
        except EngineError as error:
            raise EngineError(side if error.argument == ARGUMENT else error.argument, error.problem,
                              error.location) from None
    a, b = tables
    sides = {}
    for side, label, table in (("left", labels[0], a), ("right", labels[1], b)):
        sides[side] = {"label": label, "layers": [r.as_dict() for r in table.rows], "totals": table.totals,
                       "output_shape": list(table.rows[-1].output_shape), "receptive_field": _last_field(table)}
    ratios = {key: (b.totals[key] / a.totals[key] if a.totals[key] else None) for key in ("params", "macs")}
    plans: list[tuple[str, Make]] = []
    for side, label, table in (("left", labels[0], a), ("right", labels[1], b)):
        for key in ("params", "macs"):
            plans.append((f"{side}.{key}", _side_total_step(side, label, table, key)))
    for key in ("params", "macs"):
        if ratios[key] is not None:
            plans.append((f"ratio.{key}", _ratio_step(key, labels, a.totals[key], b.totals[key],
                                                      chosen.formula if chosen and key == "params" else None)))
    notes = []
    if chosen is not None:
        notes.append(chosen.explanation)
        notes += list(chosen.claims)
    for side, label in (("left", labels[0]), ("right", labels[1])):
        field_ = sides[side]["receptive_field"]
        if field_ is not None:
            notes.append(f"{label}: each output cell sees a {_size_words(field_['size'])} region of the input.")
    shapes = sides["left"]["output_shape"], sides["right"]["output_shape"]
    if shapes[0] != shapes[1]:
        same = math.prod(shapes[0]) == math.prod(shapes[1])
        notes.append(f"The outputs are {shape_words(shapes[0])} and {shape_words(shapes[1])}"
                     + (f": the same {math.prod(shapes[0]):,} numbers, arranged differently." if same else "."))
    notes += [n for n in a.notes + b.notes if n not in notes]
    return Trace(
        op="architecture_comparison",
        params={"input_shape": list(a.input_shape), "preset": preset, "labels": list(labels)},
        inputs={},
        outputs={"left": sides["left"], "right": sides["right"], "ratios": ratios},
        formula=chosen.formula if chosen else r"\text{ratio} = \frac{\text{right}}{\text{left}}",
        segments=[Segment(step_id, (), with_id(step_id, make)) for step_id, make in plans],
        notes=notes,
        digits=digits,
    )


def _size_words(size: Any) -> str:
    return f"{size[0]}×{size[1]}" if isinstance(size, list) else f"{size}×{size}"


def _last_field(table: Table) -> dict[str, Any] | None:
    spatial = [r for r in table.rows if r.rf is not None and r.parent is None]
    return spatial[-1].rf.as_dict() if spatial else None


def _side_total_step(side: str, label: str, table: Table, key: str) -> Make:
    top = [r for r in table.rows if r.parent is None and getattr(r, key)]
    total = table.totals[key]

    def make(index: tuple[int, ...], digits: int) -> Step:
        what = "parameters" if key == "params" else "multiply-accumulates"
        values = [getattr(r, key) for r in top]
        expansion = count_tex(total) if len(values) < 2 else " + ".join(count_tex(v) for v in values) + (
            f" = {count_tex(total)}")
        return Step(id="", kind=StepKind.PARAMETER_COUNT if key == "params" else StepKind.MAC_COUNT,
                    title=f"{label}: {what}",
                    message=f"{label}: " + (", ".join(f"{r.name} {getattr(r, key):,}" for r in top) or "none")
                            + f"; {total:,} in all.",
                    formula=(r"P" if key == "params" else r"\text{MACs}") + r" = \sum_{\text{layers}}",
                    expansion=expansion,
                    terms=tuple(Term((Factor(key, (r.index,), getattr(r, key)),), getattr(r, key)) for r in top),
                    result=total, target=(f"{side}.totals.{key}", ()))
    return make


def _ratio_step(key: str, labels: Sequence[str], left: int, right: int, formula: str | None) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        ratio = right / left
        what = "parameters" if key == "params" else "multiply-accumulates"
        times = f"{ratio:,.0f}" if ratio >= 1000 else f"{ratio:.3g}"
        if ratio < 1:
            verdict = f"{times} times the {what}: {(1 - ratio) * 100:.3g}% fewer, about 1/{1 / ratio:.3g}"
        else:
            verdict = f"{times} times the {what}" if ratio > 1 else f"as many {what}"
        value = count_tex(int(ratio)) if float(ratio).is_integer() else tex(ratio, digits)
        return Step(id="", kind=StepKind.RATIO, title=f"{what.capitalize()}: {labels[1]} / {labels[0]}",
                    message=f"Right ({labels[1]}) over left ({labels[0]}): {verdict}.",
                    formula=formula or r"\text{ratio} = \frac{\text{right}}{\text{left}}",
                    expansion=rf"\frac{{{count_tex(right)}}}{{{count_tex(left)}}} = {value}",
                    terms=(Term((Factor(f"right {key}", None, right),), right),), result=ratio,
                    combine=Combine.MEAN, divisor=left, target=(f"ratios.{key}", ()))
    return make
