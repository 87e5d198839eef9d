"""Shape arithmetic, written once: output sizes, padding, and the size walkthrough op.

Every op, table and test calls these; nothing else in the project computes an output size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import EngineError
from .numfmt import tex
from .tensors import as_pair
from .trace import Combine, Segment, Step, StepKind, Trace


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """The span a dilated kernel covers: d(F - 1) + 1."""
    return dilation * (kernel - 1) + 1


def out_size(size: int, kernel: int, stride: int = 1, pad_before: int = 0, pad_after: int = 0,
             dilation: int = 1, ceil_mode: bool = False) -> int:
    """floor((W + P_before + P_after - d(F-1) - 1) / S) + 1, or ceil with ``ceil_mode``.

    In ceil mode a last window that would start past the input and its leading padding is
    dropped (PyTorch's rule), so every window holds at least one real cell.
    """
    span = size + pad_before + pad_after - effective_kernel(kernel, dilation)
    if span < 0:
        return 0
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_before:
        out -= 1
    return out


@dataclass(frozen=True)
class SamePadding:
    """'same' padding for one axis: out = ceil(W / S), total = max((out - 1)S + d(F-1) + 1 - W, 0)."""

    size: int
    kernel: int
    stride: int
    dilation: int
    out: int
    total: int
    before: int
    after: int


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> SamePadding:
    """The pad that makes out = ceil(W / S); an odd total puts the extra cell after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return SamePadding(size, kernel, stride, dilation, out, total, total // 2, total - total // 2)


Padding4 = tuple[int, int, int, int]


def resolve_padding(padding: Any, kernel: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int], size: tuple[int, int],
                    name: str = "padding") -> tuple[Padding4, tuple[SamePadding, SamePadding] | None]:
    """(top, bottom, left, right) from an int, a pair, four numbers, 'valid' or 'same'.

    Returns the padding and, for 'same', the per-axis derivation to show as a step.
    """
    if isinstance(padding, str):
        word = padding.strip().lower()
        if word == "valid":
            return (0, 0, 0, 0), None
        if word == "same":
            rows = same_padding(size[0], kernel[0], stride[0], dilation[0])
            cols = same_padding(size[1], kernel[1], stride[1], dilation[1])
            return (rows.before, rows.after, cols.before, cols.after), (rows, cols)
        raise EngineError(name, f"{padding!r} is not a padding: use a number, two, four, 'valid' or 'same'")
    if isinstance(padding, (list, tuple)) and len(padding) == 4:
        values = [as_pair(p, name, minimum=0)[0] for p in padding]
        return (values[0], values[1], values[2], values[3]), None
    ph, pw = as_pair(padding, name, minimum=0)
    return (ph, ph, pw, pw), None


def size_step(axis: str, size: int, kernel: int, stride: int, pad_before: int, pad_after: int,
              dilation: int, ceil_mode: bool, digits: int, step_id: str,
              target: tuple[str, tuple[int, ...]] | None = None) -> Step:
    """One axis of the output-size formula with the numbers in it."""
    eff = effective_kernel(kernel, dilation)
    span = size + pad_before + pad_after - eff
    out = out_size(size, kernel, stride, pad_before, pad_after, dilation, ceil_mode)
    rounding = (r"\left\lceil", r"\right\rceil") if ceil_mode else (r"\left\lfloor", r"\right\rfloor")
    pad_tex = (f"2({pad_before})" if pad_before == pad_after else f"({pad_before} + {pad_after})")
    kernel_tex = f"{kernel}" if dilation == 1 else f"({dilation}({kernel} - 1) + 1)"
    if ceil_mode and (-(-span // stride) + 1) != out:
        note = " The last window would start in the padding after the input, so it is dropped."
    else:
        note = ""
    exact = span % stride == 0
    message = (f"{axis.capitalize()}: {size} cells, a kernel spanning {eff}, padding {pad_before + pad_after}, "
               f"stride {stride} give {out} output {axis}s.")
    if not exact:
        message += (f" The division {span}/{stride} is not exact: "
                    f"{'ceil' if ceil_mode else 'floor'} mode {'rounds up' if ceil_mode else 'drops the remainder'}.")
    message += note
    expansion = (f"{rounding[0]} \\frac{{{size} - {kernel_tex} + {pad_tex}}}{{{stride}}} {rounding[1]} + 1 = "
                 f"{rounding[0]} {tex(span / stride, digits)} {rounding[1]} + 1 = {out}")
    return Step(
        id=step_id, kind=StepKind.SIZE, title=f"Output {axis}s",
        message=message,
        formula=(rf"{axis[0].upper()}_{{out}} = {rounding[0]} \frac{{{axis[0].upper()}_{{in}} - F + 2P}}{{S}} "
                 rf"{rounding[1]} + 1"),
        expansion=expansion, result=out, target=target, combine=Combine.VALUE,
    )


def output_size(input_size: Any, kernel_size: Any, *, stride: Any = 1, padding: Any = 0,
                dilation: Any = 1, ceil_mode: bool = False) -> Trace:
    """The output size of a convolution or pooling window, one step per axis.

    Sizes, kernels, strides, dilations and paddings are an int (square) or a pair (rows, columns).
    Padding also takes four numbers (top, bottom, left, right), 'valid' or 'same'.

    Notes
    -----
    out = floor((W - d(F - 1) - 1 + P_before + P_after) / S) + 1 per axis.
    """
    size = as_pair(input_size, "input_size", minimum=1)
    kernel = as_pair(kernel_size, "kernel_size", minimum=1)
    stride_ = as_pair(stride, "stride", minimum=1)
    dilation_ = as_pair(dilation, "dilation", minimum=1)
    pads, same = resolve_padding(padding, kernel, stride_, dilation_, size)
    square = not any(isinstance(v, (list, tuple)) for v in (input_size, kernel_size, stride, dilation, padding))
    notes: list[str] = []
    result = []
    for axis, n, k, s, d, before, after in (("row", size[0], kernel[0], stride_[0], dilation_[0], pads[0], pads[1]),
                                            ("column", size[1], kernel[1], stride_[1], dilation_[1], pads[2], pads[3])):
        eff = effective_kernel(k, d)
        if eff > n + before + after:
            raise EngineError("kernel_size", f"the kernel spans {eff} {axis}s but the padded input has only "
                                             f"{n + before + after}")
        out = out_size(n, k, s, before, after, d, ceil_mode)
        result.append(out)
        if square and axis == "column":
            continue  # the same arithmetic as the rows: said once
        span = n + before + after - eff
        if span % s and not ceil_mode:
            last = (out - 1) * s + eff  # padded cells covered, counting from the first padded cell
            unvisited = [i - before for i in range(last, n + before + after) if 0 <= i - before < n]
            if unvisited:
                listed = ", ".join(str(i + 1) for i in unvisited)
                many = len(unvisited) > 1
                notes.append(f"{span}/{s} is not exact: input {axis}{'s' * many} {listed} "
                             f"{'are' if many else 'is'} never visited by any window.")
            else:
                notes.append(f"{span}/{s} is not exact: the remainder falls in the padding.")
        keep = same_padding(n, k, 1, d)
        if s == 1:
            notes.append(f"To keep {n} {axis}s at stride 1, pad {keep.total} in all "
                         f"({keep.before} before, {keep.after} after).")
    if same is not None:
        notes.insert(0, "'same' padding: " + "; ".join(
            f"{axis}s pad {p.total} = max(({p.out} - 1){p.stride} + {effective_kernel(p.kernel, p.dilation)} - {p.size}, 0)"
            for axis, p in (("row", same[0]), ("column", same[1]))))

    def make_axis(axis: int):
        names = ("row", "column")

        def make(index: tuple[int, ...], digits: int) -> Step:
            target_index = () if square else (axis,)
            return size_step(names[axis], size[axis], kernel[axis], stride_[axis], pads[2 * axis],
                             pads[2 * axis + 1], dilation_[axis], ceil_mode, digits,
                             f"output_size.{names[axis]}s", ("output_size", target_index))
        return make

    segments = [Segment("output_size.rows", (), make_axis(0))]
    if not square:
        segments.append(Segment("output_size.columns", (), make_axis(1)))
    output: Any = result[0] if square else tuple(result)
    return Trace(
        op="output_size",
        params={"input_size": list(size), "kernel_size": list(kernel), "stride": list(stride_),
                "padding": list(pads), "dilation": list(dilation_), "ceil_mode": bool(ceil_mode)},
        inputs={},
        outputs={"output_size": output},
        formula=r"W_{out} = \left\lfloor \frac{W_{in} - d(F - 1) - 1 + 2P}{S} \right\rfloor + 1",
        segments=segments,
        notes=notes,
    )


# --- parameter counts, multiply-accumulates and receptive fields (architecture tables) -------

def conv_params(in_channels: int, out_channels: int, kernel: tuple[int, int], groups: int = 1,
                bias: bool = True) -> int:
    """(kH·kW·C_in/groups + 1)·C_out; without the 1 when the layer has no bias."""
    return (kernel[0] * kernel[1] * (in_channels // groups) + int(bias)) * out_channels


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """(N_in + 1)·N_out; without the 1 when the layer has no bias."""
    return (in_features + int(bias)) * out_features


def batchnorm_params(channels: int) -> int:
    """2·C: a scale γ and a shift β per channel. The running mean and variance are buffers, not
    parameters (PyTorch's count; Keras counts them as non-trainable parameters)."""
    return 2 * channels


def conv_macs(in_channels: int, out_channels: int, kernel: tuple[int, int], groups: int,
              out_hw: tuple[int, int]) -> int:
    """H_out·W_out·C_out·(kH·kW·C_in/groups): one multiply-accumulate per weight per output position.
    The bias adds are not counted (torchvision's GFLOPS convention)."""
    return out_hw[0] * out_hw[1] * out_channels * kernel[0] * kernel[1] * (in_channels // groups)


def linear_macs(in_features: int, out_features: int) -> int:
    """N_in·N_out: one multiply-accumulate per weight."""
    return in_features * out_features


def torchinfo_mult_adds(params: int, out_hw: tuple[int, int] | None = None) -> int:
    """torchinfo's mult-adds of one layer: its parameters (weights and biases) times the output
    positions for a convolution (``out_hw``), or its parameters once for any other layer."""
    return params * out_hw[0] * out_hw[1] if out_hw is not None else params


@dataclass(frozen=True)
class ReceptiveField:
    """One axis of the input region that an output cell sees (Araujo et al., Distill 2019).

    ``size`` r: cells of the input that cell 0 depends on; ``jump`` j: input cells between two
    neighbouring output cells; ``start`` u: the input index where cell 0's region begins (negative
    when it reaches into the padding; the effective padding is -u).
    """

    size: int
    jump: int
    start: int


INPUT_FIELD = ReceptiveField(1, 1, 0)
"""The input sees itself: each cell one cell wide, one cell apart, starting at 0."""


def receptive_field_next(field: ReceptiveField, kernel: int, stride: int = 1, pad_before: int = 0,
                         dilation: int = 1) -> ReceptiveField:
    """The field after a window: r + (d(F - 1) + 1 - 1)·j, j·S, u - P·j."""
    return ReceptiveField(field.size + (effective_kernel(kernel, dilation) - 1) * field.jump,
                          field.jump * stride, field.start - pad_before * field.jump)


def receptive_field_union(a: ReceptiveField, b: ReceptiveField) -> ReceptiveField:
    """The field of a sum of two branches: the region covering both (their jumps are equal when the
    shapes match; the larger is kept otherwise)."""
    start = min(a.start, b.start)
    end = max(a.start + a.size, b.start + b.size)
    return ReceptiveField(end - start, max(a.jump, b.jump), start)


def receptive_region(field: ReceptiveField, index: int) -> tuple[int, int]:
    """The first and last input index that output cell ``index`` sees: u + i·j to u + i·j + r - 1."""
    first = field.start + index * field.jump
    return first, first + field.size - 1


def adaptive_window(size: int, out: int) -> int | None:
    """Adaptive pooling's window, when all windows are equal: size/out (window and stride alike).

    Window i covers floor(i·W/out) to ceil((i + 1)·W/out) - 1; unless ``out`` divides ``size`` the
    windows differ in size, and None is returned.
    """
    return size // out if size % out == 0 else None
