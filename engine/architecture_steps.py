"""The steps of an architecture table, written out with their numbers: each row's output size,
'same' padding, parameters, multiply-accumulates and receptive field, a block's sums, and the totals
(torchvision's MACs, torchinfo's mult-adds and memory)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .numfmt import tex, write_sum
from .shapes import ReceptiveField, effective_kernel
from .trace import Combine, Factor, Step, StepKind, Term, term

if TYPE_CHECKING:
    from .architecture import Field, Row

Shape = tuple[int, ...]
Make = Callable[[tuple[int, ...], int], Step]

FLOAT32_BYTES = 4
"""Bytes per number in the memory figures: float32, as torchinfo assumes."""
MEGABYTE = 10**6
"""Bytes per MB in the memory figures (torchinfo divides by 10^6, not 2^20)."""


def count_tex(n: int) -> str:
    r"""A whole number in LaTeX with thousands separators: 1\text{,}450 (a text comma, so that MathML
    does not space it like a list separator)."""
    return f"{n:,}".replace(",", r"\text{,}")


def shape_words(shape: Sequence[int]) -> str:
    """(16, 3, 3), or (144,) for a flat shape, as Python writes a tuple."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _const(name: str, value: float) -> Factor:
    return Factor(name, None, value)


def conv_params_step(name: str, C: int, C_out: int, kernel: tuple[int, int], groups: int, bias: bool,
                      params: int) -> Make:
    per_group = C // groups

    def make(index: tuple[int, ...], digits: int) -> Step:
        weights = kernel[0] * kernel[1] * per_group
        channels = str(C) if groups == 1 else rf"\frac{{{C}}}{{{groups}}}"
        plus = " + 1" if bias else ""
        formula = (r"P = (k_H\,k_W\," + (r"\frac{C_{in}}{g}" if groups > 1 else "C_{in}") + ("+ 1" if bias else "")
                   + r")\,C_{out}")
        expansion = (rf"({kernel[0]} \cdot {kernel[1]} \cdot {channels}{plus}) \cdot {C_out} = "
                     rf"{count_tex(weights + int(bias))} \cdot {C_out} = {count_tex(params)}")
        each = f"{kernel[0]}·{kernel[1]}·{per_group} = {weights:,} weights" + (" and one bias" if bias else "")
        grouped = (f" The {C} input channels are split into {groups} groups, so a filter sees {per_group} "
                   f"channel{'s' * (per_group > 1)}." if groups > 1 else "")
        terms = [term(_const("kernel rows", kernel[0]), _const("kernel columns", kernel[1]),
                      _const("input channels per filter", per_group), _const("filters", C_out))]
        if bias:
            terms.append(term(_const("filters", C_out)))
        return Step(id="", kind=StepKind.PARAMETER_COUNT, title=f"{name}: parameters",
                    message=f"{C_out} filters, each with {each}: {params:,} parameters.{grouped}",
                    formula=formula, expansion=expansion, terms=tuple(terms), result=params)
    return make


def conv_macs_step(name: str, C: int, C_out: int, kernel: tuple[int, int], groups: int,
                    out_hw: tuple[int, int], macs: int) -> Make:
    per_group = C // groups

    def make(index: tuple[int, ...], digits: int) -> Step:
        outputs = out_hw[0] * out_hw[1] * C_out
        window = kernel[0] * kernel[1] * per_group
        formula = r"\text{MACs} = H_{out}\,W_{out}\,C_{out} \cdot k_H\,k_W\," + (
            r"\frac{C_{in}}{g}" if groups > 1 else "C_{in}")
        expansion = (rf"{out_hw[0]} \cdot {out_hw[1]} \cdot {C_out} \cdot ({kernel[0]} \cdot {kernel[1]} \cdot "
                     rf"{per_group}) = {count_tex(outputs)} \cdot {count_tex(window)} = {count_tex(macs)}")
        return Step(id="", kind=StepKind.MAC_COUNT, title=f"{name}: multiply-accumulates",
                    message=f"Each of the {out_hw[0]}·{out_hw[1]}·{C_out} = {outputs:,} output numbers is a sum of "
                            f"{window:,} products: {macs:,} multiply-accumulates (the bias adds are not counted).",
                    formula=formula, expansion=expansion,
                    terms=(term(_const("output rows", out_hw[0]), _const("output columns", out_hw[1]),
                                _const("filters", C_out), _const("weights per filter", window)),), result=macs)
    return make


def linear_params_step(name: str, n_in: int, n_out: int, bias: bool, params: int) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        plus = " + 1" if bias else ""
        terms = [term(_const("inputs", n_in), _const("outputs", n_out))]
        if bias:
            terms.append(term(_const("outputs", n_out)))
        return Step(id="", kind=StepKind.PARAMETER_COUNT, title=f"{name}: parameters",
                    message=f"Each of the {n_out:,} outputs has a weight for every one of the {n_in:,} inputs"
                            + (" and a bias" if bias else "") + f": {params:,} parameters.",
                    formula=r"P = (N_{in}" + ("+ 1" if bias else "") + r")\,N_{out}",
                    expansion=(rf"({count_tex(n_in)}{plus}) \cdot {count_tex(n_out)} = "
                               rf"{count_tex(n_in + int(bias))} \cdot {count_tex(n_out)} = {count_tex(params)}"),
                    terms=tuple(terms), result=params)
    return make


def linear_macs_step(name: str, n_in: int, n_out: int, macs: int) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        return Step(id="", kind=StepKind.MAC_COUNT, title=f"{name}: multiply-accumulates",
                    message=f"One multiply-accumulate per weight: {macs:,}.",
                    formula=r"\text{MACs} = N_{in}\,N_{out}",
                    expansion=rf"{count_tex(n_in)} \cdot {count_tex(n_out)} = {count_tex(macs)}",
                    terms=(term(_const("inputs", n_in), _const("outputs", n_out)),), result=macs)
    return make


def batchnorm_step(name: str, C: int, params: int) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        return Step(id="", kind=StepKind.PARAMETER_COUNT, title=f"{name}: parameters",
                    message=f"A scale γ and a shift β for each of the {C:,} channels. The running mean and "
                            "variance are kept too, as buffers, not parameters.",
                    formula=r"P = 2\,C", expansion=rf"2 \cdot {count_tex(C)} = {count_tex(params)}",
                    terms=(term(_const("per channel", 2), _const("channels", C)),), result=params)
    return make


def flatten_step(name: str, shape: Shape, features: int) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        C, H, W = shape
        return Step(id="", kind=StepKind.SIZE, title=f"{name}: features",
                    message=f"The {C} maps of {H}×{W} are laid out in one row, channel after channel: "
                            f"{features:,} numbers.",
                    formula=r"F = C\,H\,W", expansion=rf"{C} \cdot {H} \cdot {W} = {count_tex(features)}",
                    result=features, combine=Combine.VALUE)
    return make


def adaptive_step(name: str, size: tuple[int, int], out: tuple[int, int],
                   windows: tuple[int | None, int | None]) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        parts, words = [], []
        for axis, n, o, k in (("rows", size[0], out[0], windows[0]), ("columns", size[1], out[1], windows[1])):
            if k is not None:
                parts.append(rf"\frac{{{n}}}{{{o}}} = {k}")
                words.append(f"{o} output {axis} of {k} input {axis} each")
            else:
                sizes = sorted({math.ceil((i + 1) * n / o) - (i * n) // o for i in range(o)})
                parts.append(rf"\frac{{{n}}}{{{o}}} \notin \mathbb{{Z}}")
                words.append(f"{o} output {axis} from windows of {' or '.join(str(s) for s in sizes)} input {axis}")
        return Step(id="", kind=StepKind.SIZE, title=f"{name}: output size {out[0]}×{out[1]} (given)",
                    message="The output size is given; each window covers rows ⌊i·H/H_out⌋ to "
                            "⌈(i+1)·H/H_out⌉ − 1: " + "; ".join(words) + ".",
                    formula=r"\text{window} = \frac{H}{H_{out}}", expansion=r",\quad ".join(parts),
                    result=out[0], combine=Combine.VALUE)
    return make


def same_step(name: str, same) -> Make:
    rows, cols = same

    def make(index: tuple[int, ...], digits: int) -> Step:
        def part(p) -> str:
            return (rf"\max((\lceil {p.size}/{p.stride} \rceil - 1) \cdot {p.stride} + "
                    rf"{effective_kernel(p.kernel, p.dilation)} - {p.size}, 0) = {p.total}")
        axes = [part(rows)] if rows == cols else [part(rows), part(cols)]
        return Step(id="", kind=StepKind.PADDING, title=f"{name}: 'same' padding",
                    message=f"'same' keeps ⌈W/S⌉ outputs: pad {rows.total} rows ({rows.before} above, {rows.after} "
                            f"below) and {cols.total} columns ({cols.before} left, {cols.after} right); an odd total "
                            "puts the extra cell after.",
                    formula=r"P = \max((\lceil W/S \rceil - 1)\,S + d(F - 1) + 1 - W,\ 0)",
                    expansion=r",\quad ".join(axes), result=rows.total, combine=Combine.VALUE)
    return make


def _field_axis_tex(before: ReceptiveField, after: ReceptiveField, k: int, s: int, p: int, d: int) -> str:
    spread = f"{d}({k} - 1)" if d > 1 else f"({k} - 1)"
    return (rf"r = {before.size} + {spread} \cdot {before.jump} = {after.size},\ "
            rf"j = {before.jump} \cdot {s} = {after.jump},\ "
            rf"u = {before.start} - {p} \cdot {before.jump} = {after.start}")


def field_step(name: str, before: Field, after: Field, kernel: tuple[int, int], stride: tuple[int, int],
                pad_before: tuple[int, int], dilation: tuple[int, int]) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        rows = _field_axis_tex(before.rows, after.rows, kernel[0], stride[0], pad_before[0], dilation[0])
        cols = _field_axis_tex(before.cols, after.cols, kernel[1], stride[1], pad_before[1], dilation[1])
        square = rows == cols
        expansion = rows if square else rf"\text{{rows: }} {rows};\quad \text{{columns: }} {cols}"
        r, j, u = after.rows.size, after.rows.jump, after.rows.start
        size = f"{r}×{r}" if square else f"{after.rows.size}×{after.cols.size}"
        where = (f"starts {-u} cell{'s' * (-u > 1)} before the input, in the padding" if u < 0
                 else "starts at the input's first cell" if u == 0 else f"starts at input index {u}")
        return Step(id="", kind=StepKind.RECEPTIVE_FIELD, title=f"{name}: receptive field {size}",
                    message=f"Each output cell depends on a {size} region of the input; neighbouring cells' regions "
                            f"are {j} input cell{'s' * (j > 1)} apart; the first cell's region {where} "
                            f"(u = {u}, counting from 0).",
                    formula=(r"r_\ell = r_{\ell-1} + d(F - 1)\,j_{\ell-1},\quad j_\ell = j_{\ell-1} S,\quad "
                             r"u_\ell = u_{\ell-1} - P\,j_{\ell-1}"),
                    expansion=expansion, result=r, combine=Combine.VALUE)
    return make


def union_step(name: str, body: Field, short: Field, out: Field) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        a, b, o = body.rows, short.rows, out.rows
        expansion = (rf"u = \min({a.start}, {b.start}) = {o.start},\ "
                     rf"r = \max({a.start} + {a.size}, {b.start} + {b.size}) - ({o.start}) = {o.size},\ j = {o.jump}")
        return Step(id="", kind=StepKind.RECEPTIVE_FIELD, title=f"{name}: receptive field {o.size}×{out.cols.size}",
                    message="A cell of the sum depends on what either branch saw: the region covering both "
                            f"the body's ({a.size} wide) and the shortcut's ({b.size} wide).",
                    formula=r"u = \min(u_1, u_2),\quad r = \max(u_1 + r_1,\ u_2 + r_2) - u",
                    expansion=expansion, result=o.size, combine=Combine.VALUE)
    return make


def add_step(name: str, shape: Shape, explicit: bool) -> Make:
    def make(index: tuple[int, ...], digits: int) -> Step:
        other = "the shortcut's output" if explicit else "the block's input (the identity shortcut)"
        text = r" \times ".join(str(n) for n in shape)
        return Step(id="", kind=StepKind.SIZE, title=f"{name}: body + shortcut",
                    message=f"The body's output and {other} are both {shape_words(shape)}, so they add cell by cell; "
                            "the sum has no parameters.",
                    formula=r"y = F(x) + \text{shortcut}(x)", expansion=rf"{text} + {text} \to {text}",
                    result=math.prod(shape), combine=Combine.VALUE)
    return make


def block_sum_step(row: Row, children: list[Row], key: str) -> Make:
    parts = [c for c in children if getattr(c, key)]
    total = getattr(row, key)

    def make(index: tuple[int, ...], digits: int) -> Step:
        values = [getattr(c, key) for c in parts]
        what = "parameters" if key == "params" else "multiply-accumulates"
        expansion = count_tex(total) if len(values) < 2 else (
            write_sum([count_tex(v) for v in values], 0).rsplit(" = ", 1)[0] + f" = {count_tex(total)}")
        return Step(id="", kind=StepKind.PARAMETER_COUNT if key == "params" else StepKind.MAC_COUNT,
                    title=f"{row.name}: {what}",
                    message=f"The block's {what} are its layers': " + ", ".join(
                        f"{c.name} {getattr(c, key):,}" for c in parts) + f"; {total:,} in all.",
                    formula=(r"P" if key == "params" else r"\text{MACs}") + r" = \sum_{\text{layers}}",
                    expansion=expansion,
                    terms=tuple(Term((Factor(key, (c.index,), getattr(c, key)),), getattr(c, key)) for c in parts),
                    result=total, target=(key, (row.index,)))
    return make


# --- totals ----------------------------------------------------------------------------------

def totals_and_steps(rows: list[Row], input_shape: Shape) -> tuple[dict[str, Any], list[tuple[str, Make]]]:
    leaves = [r for r in rows if r.leaf]
    top = [r for r in rows if r.parent is None]
    params = sum(r.params for r in leaves)
    trainable = sum(r.trainable_params for r in leaves)
    macs = sum(r.macs for r in leaves)
    mult_adds = sum(r.mult_adds for r in leaves)
    saved = sum(r.saved_outputs for r in leaves)
    input_numbers = math.prod(input_shape)
    mb = lambda numbers, times=1: term(_const("times", times), _const("bytes per number", FLOAT32_BYTES),
                                       _const("numbers", numbers), _const("MB per byte", 1 / MEGABYTE))
    input_term, saved_term, params_term = mb(input_numbers), mb(saved, 2), mb(params)
    totals = {
        "params": params, "trainable_params": trainable, "non_trainable_params": params - trainable,
        "macs": macs, "flops": 2 * macs, "mult_adds": mult_adds,
        "input_size_mb": input_term.value, "forward_backward_mb": saved_term.value,
        "params_mb": params_term.value,
        "total_mb": float(sum([input_term.value, saved_term.value, params_term.value])),
    }

    def sum_step(key: str, title: str, message: str, formula: str, total_key: str | None = None) -> Make:
        parts = [r for r in top if getattr(r, key)]

        def make(index: tuple[int, ...], digits: int) -> Step:
            values = [getattr(r, key) for r in parts]
            total = sum(values)
            expansion = write_sum([count_tex(v) for v in values], 0).rsplit(" = ", 1)[0] + f" = {count_tex(total)}"
            return Step(id="", kind=StepKind.REDUCE, title=title, message=message, formula=formula,
                        expansion=expansion, result=total, target=(f"totals.{total_key or key}", ()),
                        terms=tuple(Term((Factor(key, (r.index,), getattr(r, key)),), getattr(r, key)) for r in parts))
        return make

    def mb_step(key: str, title: str, message: str, formula: str, numbers_tex: str, one: Term) -> Make:
        def make(index: tuple[int, ...], digits: int) -> Step:
            times = one.factors[0].value
            head = f"{times:g} \\cdot " if times != 1 else ""
            expansion = (rf"{head}4\,\text{{B}} \cdot {numbers_tex} / 10^6 = {tex(one.value, digits)}\ \text{{MB}}")
            return Step(id="", kind=StepKind.REDUCE, title=title, message=message, formula=formula,
                        expansion=expansion, terms=(one,), result=one.value, target=(f"totals.{key}", ()))
        return make

    def total_mb(index: tuple[int, ...], digits: int) -> Step:
        values = [input_term.value, saved_term.value, params_term.value]
        return Step(id="", kind=StepKind.REDUCE, title="Estimated total size",
                    message="Input, saved outputs and parameters together, as torchinfo estimates it.",
                    formula=r"\text{total} = \text{input} + \text{forward/backward} + \text{params}",
                    expansion=" + ".join(tex(v, digits) for v in values) + f" = {tex(totals['total_mb'], digits)}"
                              r"\ \text{MB}",
                    terms=tuple(Term((Factor(name, None, v),), v) for name, v in
                                zip(("input", "forward/backward", "params"), values)),
                    result=totals["total_mb"], target=("totals.total_mb", ()))

    def flops(index: tuple[int, ...], digits: int) -> Step:
        return Step(id="", kind=StepKind.REDUCE, title="FLOPs",
                    message="A multiply-accumulate is two operations, a multiply and an add.",
                    formula=r"\text{FLOPs} = 2\,\text{MACs}",
                    expansion=rf"2 \cdot {count_tex(macs)} = {count_tex(2 * macs)}",
                    terms=(term(_const("operations per MAC", 2), Factor("macs", None, macs)),), result=2 * macs,
                    target=("totals.flops", ()))

    plans: list[tuple[str, Make]] = [
        ("totals.params", sum_step("params", "Total parameters", "The parameters of every layer, added up.",
                                   r"P = \sum_{\text{layers}} P_\ell")),
    ]
    if params != trainable:
        plans.append(("totals.non_trainable_params", sum_step(
            "non_trainable", "Non-trainable parameters", "The parameters of the frozen layers.",
            r"P_{\text{frozen}} = \sum_{\text{frozen}} P_\ell", "non_trainable_params")))
    plans += [
        ("totals.macs", sum_step("macs", "Total multiply-accumulates",
                                 "The multiply-accumulates of the convolutions and linear layers (torchvision's "
                                 "GFLOPS counts these).", r"\text{MACs} = \sum_{\text{layers}} \text{MACs}_\ell")),
        ("totals.flops", flops),
        ("totals.mult_adds", sum_step("mult_adds", "Total mult-adds (torchinfo)",
                                      "torchinfo's count: every layer's weights and biases, times the output "
                                      "positions for a convolution.",
                                      r"\text{mult-adds} = \sum_{\text{layers}} P_\ell \cdot (H_{out} W_{out})")),
        ("totals.input_size_mb", mb_step("input_size_mb", "Input size", "The input, 4 bytes per number.",
                                         r"\text{input} = 4\,\text{B} \cdot C\,H\,W / 10^6",
                                         r" \cdot ".join(str(n) for n in input_shape), input_term)),
        ("totals.forward_backward_mb", mb_step(
            "forward_backward_mb", "Forward/backward pass size",
            "The outputs of the layers that have parameters, kept for the backward pass, and as much again "
            "for their gradients (torchinfo's estimate).",
            r"\text{forward/backward} = 2 \cdot 4\,\text{B} \cdot \sum_{\ell:\,P_\ell > 0} |y_\ell| / 10^6",
            count_tex(saved), saved_term)),
        ("totals.params_mb", mb_step("params_mb", "Parameters size", "Every parameter as a 4-byte float.",
                                     r"\text{params} = 4\,\text{B} \cdot P / 10^6", count_tex(params), params_term)),
        ("totals.total_mb", total_mb),
    ]
    return totals, plans


CONVENTIONS = (
    "MACs count the multiply-accumulates of convolutions and linear layers, bias excluded, the count "
    "torchvision publishes as GFLOPS; FLOPs = 2 × MACs.",
    "Mult-adds follow torchinfo: each layer's weights and biases times its output positions for a "
    "convolution, once for other layers (a batch norm counts 2 per channel).",
    "Memory follows torchinfo: 4-byte floats, 1 MB = 10^6 bytes; forward/backward = 2 × the outputs of the "
    "layers that have parameters.",
    "Receptive fields (Araujo et al., Distill 2019): r is the region's size, j the input distance between "
    "neighbouring output cells, u the input index where output cell 0's region starts (0-based; negative in "
    "the padding). Output cell i sees input u + i·j to u + i·j + r − 1.",
)
