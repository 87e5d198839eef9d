"""Convolution: conv2d and conv1d, forward and backward, and im2col.

Numbers are computed once over sliding-window views; each step reads its own window.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import EngineError
from .layout import IMAGE, KERNEL_1D, KERNEL_2D, SEQUENCE, Layout, affine, label
from .numfmt import factor, shown, tex, write_sum
from .shapes import Padding4, SamePadding, effective_kernel, out_size, resolve_padding
from .tensors import as_pair, as_tensor
from .trace import Combine, Factor, Segment, Step, StepKind, Term, Trace, cell_id, term

MODES = ("correlation", "convolution")


@dataclass(frozen=True)
class ConvProblem:
    """A convolution's resolved arguments, in the engine's 4-D layout.

    x: (N, C_in, H, W); w: (C_out, C_in/groups, kH, kW), as the caller gave it;
    w_eff: the kernel that slides (rotated 180 degrees in 'convolution' mode); b: (C_out,) or None.
    """

    x: np.ndarray
    w: np.ndarray
    w_eff: np.ndarray
    b: np.ndarray | None
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: Padding4
    same: tuple[SamePadding, SamePadding] | None
    groups: int
    mode: str
    x_layout: Layout
    w_layout: Layout
    out_layout: Layout
    b_layout: Layout
    one_d: bool

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        N, _, H, W = self.x.shape
        C_out, _, kH, kW = self.w.shape
        top, bottom, left, right = self.pads
        return (N, C_out,
                out_size(H, kH, self.stride[0], top, bottom, self.dilation[0]),
                out_size(W, kW, self.stride[1], left, right, self.dilation[1]))

    def windows(self) -> np.ndarray:
        """(N, C_in, H_out, W_out, kH, kW): a view of the padded input under each window."""
        top, bottom, left, right = self.pads
        xp = np.pad(self.x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        _, _, kH, kW = self.w.shape
        (sH, sW), (dH, dW) = self.stride, self.dilation
        view = sliding_window_view(xp, (effective_kernel(kH, dH), effective_kernel(kW, dW)), axis=(2, 3))
        _, _, H_out, W_out = self.out_shape
        return view[:, :, ::sH, ::sW, ::dH, ::dW][:, :, :H_out, :W_out]

    def kernel_index(self, o: int, c: int, p: int, q: int) -> tuple[int, ...]:
        """The caller's kernel cell that slides at (p, q) of the window."""
        _, _, kH, kW = self.w.shape
        if self.mode == "convolution":
            p, q = kH - 1 - p, kW - 1 - q
        return self.w_layout.user((o, c, p, q))

    def input_cell(self, n: int, c: int, i: int, j: int, p: int, q: int) -> tuple[int, int, int, int]:
        """The input cell (maybe in the padding) under window (i, j) at kernel offset (p, q)."""
        return (n, c, i * self.stride[0] - self.pads[0] + p * self.dilation[0],
                j * self.stride[1] - self.pads[2] + q * self.dilation[1])

    def input_value(self, cell: tuple[int, int, int, int]) -> float:
        n, c, h, w = cell
        _, _, H, W = self.x.shape
        return float(self.x[n, c, h, w]) if 0 <= h < H and 0 <= w < W else 0.0

    def channels(self, o: int) -> range:
        """The input channels that filter o reads: its group's."""
        C_in_g = self.w.shape[1]
        g = o // (self.w.shape[0] // self.groups)
        return range(g * C_in_g, (g + 1) * C_in_g)


def _prepare(x: Any, w: Any, b: Any, stride: Any, padding: Any, dilation: Any, groups: Any,
             mode: str, one_d: bool) -> ConvProblem:
    if one_d:
        x_arr = as_tensor(x, "input", (1, 2, 3))
        w_arr = as_tensor(w, "kernel", (1, 3))
        x_keep, w_keep = SEQUENCE[x_arr.ndim], KERNEL_1D[w_arr.ndim]
        out_keep = (0, 1, 3) if x_arr.ndim == 3 else ((1, 3) if x_arr.ndim == 2 or w_arr.ndim == 3 else (3,))
        for name, value in (("stride", stride), ("dilation", dilation)):
            if isinstance(value, (list, tuple)):
                raise EngineError(name, "a sequence takes one number, not a pair")
        stride_ = (1, as_pair(stride, "stride", minimum=1)[1])
        dilation_ = (1, as_pair(dilation, "dilation", minimum=1)[1])
        if isinstance(padding, str):
            pad_arg: Any = padding
        elif isinstance(padding, (list, tuple)):
            if len(padding) != 2:
                raise EngineError("padding", "a sequence takes one number or two (left, right)")
            pad_arg = (0, 0, padding[0], padding[1])
        else:
            pad_arg = (0, padding)
    else:
        x_arr = as_tensor(x, "input", (2, 3, 4))
        w_arr = as_tensor(w, "kernel", (2, 4))
        x_keep, w_keep = IMAGE[x_arr.ndim], KERNEL_2D[w_arr.ndim]
        out_keep = (0, 1, 2, 3) if x_arr.ndim == 4 else ((1, 2, 3) if x_arr.ndim == 3 or w_arr.ndim == 4 else (2, 3))
        stride_ = as_pair(stride, "stride", minimum=1)
        dilation_ = as_pair(dilation, "dilation", minimum=1)
        pad_arg = padding
    x4, w4 = Layout(x_keep).lift_array(x_arr), Layout(w_keep).lift_array(w_arr)
    if mode not in MODES:
        raise EngineError("mode", f"{mode!r} is not a mode: use 'correlation' or 'convolution'")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise EngineError("groups", f"must be a whole number of at least 1, got {groups!r}")
    groups = int(groups)
    N, C_in, H, W = x4.shape
    C_out, C_in_g, kH, kW = w4.shape
    if C_in % groups or C_out % groups:
        raise EngineError("groups", f"{groups} groups must divide both the {C_in} input channels "
                                    f"and the {C_out} filters")
    if C_in_g * groups != C_in:
        raise EngineError("kernel", f"each filter has {C_in_g} channel{'s' * (C_in_g != 1)} but the input has {C_in} "
                                    f"channels in {groups} group{'s' * (groups > 1)} "
                                    f"(expected {C_in // groups} per filter)")
    pads, same = resolve_padding(pad_arg, (kH, kW), stride_, dilation_, (H, W))
    for axis, size, k, d, before, after in (("rows", H, kH, dilation_[0], pads[0], pads[1]),
                                            ("columns", W, kW, dilation_[1], pads[2], pads[3])):
        if effective_kernel(k, d) > size + before + after:
            raise EngineError("kernel", f"the kernel spans {effective_kernel(k, d)} {axis} but the padded "
                                        f"input has only {size + before + after}")
    b_arr = None
    b_keep: tuple[int, ...] = (0,)
    if b is not None:
        b_raw = as_tensor(b, "bias", (0, 1))
        if b_raw.ndim == 0:
            b_keep = ()
            b_arr = np.full(C_out, float(b_raw))
        elif b_raw.shape != (C_out,):
            raise EngineError("bias", f"expected one bias per filter ({C_out}), got {b_raw.shape[0]}")
        else:
            b_arr = b_raw
    w_eff = w4[:, :, ::-1, ::-1] if mode == "convolution" else w4
    return ConvProblem(x4, w4, np.ascontiguousarray(w_eff), b_arr, stride_, dilation_, pads, same, groups,
                       mode, Layout(x_keep), Layout(w_keep), Layout(out_keep), Layout(b_keep), one_d)


def _forward_numbers(pb: ConvProblem) -> np.ndarray:
    """(N, C_out, H_out, W_out) by tensordot over the window view, group by group."""
    win = pb.windows()
    C_out = pb.w.shape[0]
    per_group = C_out // pb.groups
    C_in_g = pb.w.shape[1]
    out = np.empty(pb.out_shape)
    for g in range(pb.groups):
        part = win[:, g * C_in_g:(g + 1) * C_in_g]
        filters = pb.w_eff[g * per_group:(g + 1) * per_group]
        out[:, g * per_group:(g + 1) * per_group] = np.tensordot(
            part, filters, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    if pb.b is not None:
        out += pb.b[None, :, None, None]
    return out


def _params(pb: ConvProblem) -> dict[str, Any]:
    top, bottom, left, right = pb.pads
    if pb.one_d:
        return {"stride": pb.stride[1], "padding": [left, right], "dilation": pb.dilation[1],
                "groups": pb.groups, "mode": pb.mode}
    return {"stride": list(pb.stride), "padding": [top, bottom, left, right], "dilation": list(pb.dilation),
            "groups": pb.groups, "mode": pb.mode}


def _notes(pb: ConvProblem) -> list[str]:
    notes = []
    if pb.mode == "correlation":
        notes.append("Cross-correlation (PyTorch's conv2d): the kernel slides as written, not flipped.")
    else:
        notes.append("True convolution: the kernel is rotated 180 degrees before it slides.")
    if any(pb.pads):
        notes.append("Padded cells hold 0.")
    _, _, H, W = pb.x.shape
    _, _, kH, kW = pb.w.shape
    for axis, size, k, s, d, before, after in (("row", H, kH, pb.stride[0], pb.dilation[0], pb.pads[0], pb.pads[1]),
                                               ("column", W, kW, pb.stride[1], pb.dilation[1], pb.pads[2], pb.pads[3])):
        if pb.one_d and axis == "row":
            continue
        span = size + before + after - effective_kernel(k, d)
        if span % s:
            notes.append(f"({size} + {before + after} - {effective_kernel(k, d)})/{s} is not a whole number: "
                         f"the last {span % s} padded {axis}{'s' * (span % s > 1)} {'are' if span % s > 1 else 'is'} never visited.")
    notes.append("Titles count rows and columns from 1; step ids and JSON indices count from 0.")
    return notes


def _setup_segments(pb: ConvProblem) -> list[Segment]:
    """The steps before the cells: how 'same' chose its pad, and the flipped kernel."""
    segments = []
    if pb.same is not None:
        segments.append(Segment("padding", (), lambda index, digits: _same_step(pb)))
    if pb.mode == "convolution":
        segments.append(Segment("kernel_flip", (), lambda index, digits: _flip_step(pb, digits)))
    return segments


def _same_step(pb: ConvProblem) -> Step:
    parts = []
    axes = (("columns", pb.same[1]),) if pb.one_d else (("rows", pb.same[0]), ("columns", pb.same[1]))
    for axis, p in axes:
        parts.append(
            rf"\text{{{axis}: }} P = \max((\lceil {p.size}/{p.stride} \rceil - 1)\cdot {p.stride} + "
            rf"{effective_kernel(p.kernel, p.dilation)} - {p.size},\, 0) = {p.total}"
            rf" \Rightarrow {p.before} + {p.after}")
    return Step(
        id="padding", kind=StepKind.PADDING, title="'same' padding",
        message=("'same' pads so that the output has ceil(size / stride) cells per axis; "
                 "an odd total puts the extra cell at the bottom or right."),
        formula=r"P = \max\left((\lceil W/S \rceil - 1) S + d(F - 1) + 1 - W,\ 0\right)",
        expansion=r" \\ ".join(parts), result=list(pb.pads), combine=Combine.VALUE,
    )


def _flip_step(pb: ConvProblem, digits: int) -> Step:
    C_out, C_in_g, kH, kW = pb.w.shape
    rows = [" & ".join(tex(v, digits) for v in row) for row in pb.w_eff[0, 0]]
    return Step(
        id="kernel_flip", kind=StepKind.KERNEL_FLIP, title="Flip the kernel",
        message=("True convolution rotates the kernel 180 degrees (flip rows and columns), "
                 "then slides it like a cross-correlation."),
        formula=r"K'(m, n) = K(F_h - 1 - m,\ F_w - 1 - n)",
        expansion=r"K' = \begin{pmatrix}" + r" \\ ".join(rows) + r"\end{pmatrix}",
        result=pb.w_eff[0, 0].copy() if C_out * C_in_g == 1 else None,
        reads={"kernel": [pb.w_layout.user((0, 0, p, q)) for p in range(kH) for q in range(kW)]},
        combine=Combine.VALUE,
    )


def _cell_formula(pb: ConvProblem, n: int, o: int, i: int, j: int) -> str:
    """z(i,j) = sum over the window, written with this cell's row and column offsets."""
    _, _, kH, kW = pb.w.shape
    r0 = i * pb.stride[0] - pb.pads[0]
    c0 = j * pb.stride[1] - pb.pads[2]
    multi = pb.w.shape[1] > 1
    col = affine(c0 + 1 - pb.dilation[1], pb.dilation[1], "n")
    row = affine(r0 + 1 - pb.dilation[0], pb.dilation[0], "m")
    sub_x = (col if pb.one_d else f"{row},\\,{col}")
    sub_k = "n" if pb.one_d else "m,n"
    sums = ("" if not multi else r"\sum_{c}") + ("" if pb.one_d else rf"\sum_{{m=1}}^{{{kH}}}") + rf"\sum_{{n=1}}^{{{kW}}}"
    if multi:
        sub_x, sub_k = "c," + sub_x, "c," + sub_k
    kernel = "k'" if pb.mode == "convolution" else "k"
    bias = " + b" if pb.b is not None else ""
    out_label = label(pb.out_layout.user((n, o, i, j)))
    return rf"z_{{{out_label}}} = {sums} x_{{{sub_x}}}\, {kernel}_{{{sub_k}}}{bias}"


def conv_forward_trace(pb: ConvProblem, op: str) -> Trace:
    out = _forward_numbers(pb)
    C_in_g, kH, kW = pb.w.shape[1:]

    def make(index: tuple[int, ...], digits: int) -> Step:
        n, o, i, j = index
        terms, parts, reads_x, reads_k = [], [], [], []
        for c_local, c in enumerate(pb.channels(o)):
            for p in range(kH):
                for q in range(kW):
                    cell = pb.input_cell(n, c, i, j, p, q)
                    xv = pb.input_value(cell)
                    k_index = pb.kernel_index(o, c_local, p, q)
                    x_index = pb.x_layout.user(cell)
                    terms.append(term(Factor("input", x_index, xv),
                                      Factor("kernel", k_index, float(pb.w_eff[o, c_local, p, q]))))
                    parts.append(f"{factor(xv, digits)}{'(' + tex(pb.w_eff[o, c_local, p, q], digits) + ')'}")
                    reads_x.append(x_index)
                    reads_k.append(k_index)
        reads = {"input": reads_x, "kernel": reads_k}
        if pb.b is not None:
            b_index = pb.b_layout.user((o,))
            terms.append(term(Factor("bias", b_index, float(pb.b[o]))))
            parts.append(factor(float(pb.b[o]), digits))
            reads["bias"] = [b_index]
        user = pb.out_layout.user(index)
        value = float(out[index])
        padded = sum(1 for t in terms if t.factors[0].tensor == "input" and _outside(pb, t.factors[0].index))
        message = (f"Lay the kernel over the window at row {i + 1}, column {j + 1}, multiply cell by cell, "
                   f"add the {len(terms) - (pb.b is not None)} products"
                   + (" and the bias" if pb.b is not None else "") + ".")
        if padded:
            message += f" {padded} of the window's cells are padding (0)."
        return Step(
            id=cell_id("output", user), kind=StepKind.MULTIPLY_ADD, title=f"Output z({label(user)})",
            message=message, formula=_cell_formula(pb, n, o, i, j),
            expansion=rf"z_{{{label(user)}}} = " + write_sum(parts, value, digits),
            terms=tuple(terms), result=value, target=("output", user), reads=reads,
        )

    segments = _setup_segments(pb) + [Segment("output", pb.out_layout.user(out.shape), pb.out_layout.lift(make))]
    return Trace(
        op=op, params=_params(pb), inputs=_inputs(pb), outputs={"output": pb.out_layout.shape(out)},
        formula=(r"z_{o,i,j} = b_o + \sum_{c}\sum_{m}\sum_{n} x_{c,\ S_h i + d_h m - P_t,\ S_w j + d_w n - P_l}\ "
                 r"k_{o,c,m,n}" if not pb.one_d else
                 r"z_{o,j} = b_o + \sum_{c}\sum_{n} x_{c,\ S j + d n - P_l}\ k_{o,c,n}"),
        segments=segments, notes=_notes(pb),
    )


def _outside(pb: ConvProblem, user_index: tuple[int, ...]) -> bool:
    _, _, H, W = pb.x.shape
    if pb.one_d:
        return not 0 <= user_index[-1] < W
    return not (0 <= user_index[-2] < H and 0 <= user_index[-1] < W)




def _inputs(pb: ConvProblem, grad_output: np.ndarray | None = None) -> dict[str, np.ndarray]:
    inputs = {"input": pb.x_layout.shape(pb.x), "kernel": pb.w_layout.shape(pb.w)}
    if pb.b is not None:
        inputs["bias"] = pb.b if pb.b_layout.keep else np.float64(pb.b[0])
    if grad_output is not None:
        inputs["grad_output"] = pb.out_layout.shape(grad_output)
    return inputs


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, mode="correlation") -> Trace:
    """2-D convolution (cross-correlation by default), one step per output cell.

    Parameters
    ----------
    x : (H, W) | (C_in, H, W) | (N, C_in, H, W)
    w : (kH, kW) | (C_out, C_in/groups, kH, kW)
    b : scalar | (C_out,) | None

    Notes
    -----
    z[n, o, i, j] = b[o] + sum_{c, m, n'} x_pad[n, c, S_h i + d_h m, S_w j + d_w n'] k[o, c, m, n'],
    with k rotated 180 degrees when ``mode="convolution"``. Output (H_out, W_out) for a 2-D x and w,
    otherwise (C_out, H_out, W_out) or (N, C_out, H_out, W_out) following x.
    """
    return conv_forward_trace(_prepare(x, w, b, stride, padding, dilation, groups, mode, False), "conv2d")


def conv1d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, mode="correlation") -> Trace:
    """1-D convolution over a sequence: x (L,) | (C_in, L) | (N, C_in, L), w (k,) | (C_out, C_in/groups, k)."""
    return conv_forward_trace(_prepare(x, w, b, stride, padding, dilation, groups, mode, True), "conv1d")


def _grad_output(pb: ConvProblem, grad_output: Any) -> np.ndarray:
    g = as_tensor(grad_output, "grad_output", (1, 2, 3, 4))
    expected = tuple(pb.out_layout.shape(np.empty(pb.out_shape)).shape)
    if g.shape != expected:
        raise EngineError("grad_output", f"expected the output's shape {expected}, got {g.shape}")
    return g.reshape(pb.out_shape)


def _backward_numbers(pb: ConvProblem, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """grad of the padded input by scattering delta * w per kernel offset; grad of w_eff by tensordot."""
    N, C_in, H, W = pb.x.shape
    C_out, C_in_g, kH, kW = pb.w.shape
    top, bottom, left, right = pb.pads
    (sH, sW), (dH, dW) = pb.stride, pb.dilation
    _, _, H_out, W_out = pb.out_shape
    per_group = C_out // pb.groups
    win = pb.windows()
    grad_w_eff = np.empty_like(pb.w_eff)
    grad_xp = np.zeros((N, C_in, H + top + bottom, W + left + right))
    for g in range(pb.groups):
        outs = slice(g * per_group, (g + 1) * per_group)
        ins = slice(g * C_in_g, (g + 1) * C_in_g)
        grad_w_eff[outs] = np.tensordot(delta[:, outs], win[:, ins], axes=([0, 2, 3], [0, 2, 3]))
        for p in range(kH):
            for q in range(kW):
                rows = slice(p * dH, p * dH + sH * (H_out - 1) + 1, sH)
                cols = slice(q * dW, q * dW + sW * (W_out - 1) + 1, sW)
                grad_xp[:, ins, rows, cols] += np.einsum("noij,oc->ncij", delta[:, outs], pb.w_eff[outs, :, p, q])
    grad_x = grad_xp[:, :, top:top + H, left:left + W]
    grad_w = grad_w_eff[:, :, ::-1, ::-1] if pb.mode == "convolution" else grad_w_eff
    return grad_x, np.ascontiguousarray(grad_w)


def conv_backward_trace(pb: ConvProblem, grad_output: Any, op: str) -> Trace:
    delta = _grad_output(pb, grad_output)
    grad_x, grad_w = _backward_numbers(pb, delta)
    N, C_in, H, W = pb.x.shape
    C_out, C_in_g, kH, kW = pb.w.shape
    _, _, H_out, W_out = pb.out_shape
    per_group = C_out // pb.groups
    strided = pb.stride != (1, 1)
    out_layout = pb.out_layout
    windows = functools.cache(pb.windows)  # padded once, when the first weight-gradient step is read

    def make_grad_input(index: tuple[int, ...], digits: int) -> Step:
        n, c, h, w_ = index
        g = c // C_in_g
        c_local = c - g * C_in_g
        terms, parts, reads_d, reads_k = [], [], [], []
        for o in range(g * per_group, (g + 1) * per_group):
            for p in range(kH):
                i, rem_i = divmod(h + pb.pads[0] - p * pb.dilation[0], pb.stride[0])
                if rem_i or not 0 <= i < H_out:
                    continue
                for q in range(kW):
                    j, rem_j = divmod(w_ + pb.pads[2] - q * pb.dilation[1], pb.stride[1])
                    if rem_j or not 0 <= j < W_out:
                        continue
                    d_index = out_layout.user((n, o, i, j))
                    k_index = pb.kernel_index(o, c_local, p, q)
                    dv, kv = float(delta[n, o, i, j]), float(pb.w_eff[o, c_local, p, q])
                    terms.append(term(Factor("grad_output", d_index, dv), Factor("kernel", k_index, kv)))
                    parts.append(f"{factor(dv, digits)}({tex(kv, digits)})")
                    reads_d.append(d_index)
                    reads_k.append(k_index)
        user = pb.x_layout.user(index)
        value = float(grad_x[index])
        identity = ("a transposed convolution: δ spread out by the stride, then a full convolution with the kernel "
                    "rotated 180°" if strided else "the full convolution of δ with the kernel rotated 180°")
        return Step(
            id=cell_id("grad_input", user), kind=StepKind.GRADIENT_SUM,
            title=f"∂L/∂x({label(user)})",
            message=(f"Input cell {label(user)} was read by {len(terms)} window position"
                     f"{'s' * (len(terms) != 1)}; each passes back δ times the kernel weight that touched it. "
                     f"Together this is {identity}."),
            formula=rf"\frac{{\partial L}}{{\partial x_{{{label(user)}}}}} = \sum_{{o,i,j}} \delta_{{o,i,j}}\,"
                    rf" k_{{o,\, x - S i,\, y - S j}}",
            expansion=rf"\frac{{\partial L}}{{\partial x_{{{label(user)}}}}} = " + write_sum(parts, value, digits),
            terms=tuple(terms), result=value, target=("grad_input", user),
            reads={"grad_output": reads_d, "kernel": reads_k, "input": [user]},
        )

    def make_grad_weight(index: tuple[int, ...], digits: int) -> Step:
        o, c_local, p_user, q_user = index
        # the caller's kernel cell (p_user, q_user) slides at (p, q) of the window
        p, q = (kH - 1 - p_user, kW - 1 - q_user) if pb.mode == "convolution" else (p_user, q_user)
        c = pb.channels(o)[c_local]
        total = N * H_out * W_out
        # every window at once: the input cell under tap (p, q) and the δ of that window, as index lists
        n_, i_, j_ = np.indices((N, H_out, W_out)).reshape(3, -1)
        h_ = i_ * pb.stride[0] - pb.pads[0] + p * pb.dilation[0]
        w_ = j_ * pb.stride[1] - pb.pads[2] + q * pb.dilation[1]
        d_axes = (n_, np.full_like(n_, o), i_, j_)
        x_axes = (n_, np.full_like(n_, c), h_, w_)
        reads_d = list(zip(*(d_axes[a].tolist() for a in out_layout.keep)))
        reads_x = list(zip(*(x_axes[a].tolist() for a in pb.x_layout.keep)))
        xs = windows()[:, c, :, :, p, q].ravel().tolist()
        ds = delta[:, o].ravel().tolist()
        terms = [Term((Factor("grad_output", d_index, dv), Factor("input", x_index, xv)), dv * xv)
                 for d_index, x_index, dv, xv in zip(reads_d, reads_x, ds, xs)]
        parts = [f"{factor(ds[k], digits)}({tex(xs[k], digits)})" for k in range(total) if shown(k, total)]
        user = pb.w_layout.user(index)
        value = float(grad_w[index])
        return Step(
            id=cell_id("grad_weight", user), kind=StepKind.GRADIENT_SUM,
            title=f"∂L/∂k({label(user)})",
            message=(f"Kernel weight {label(user)} touched one input cell in every window; its gradient adds "
                     f"δ times that cell over all {len(terms)} windows: a valid cross-correlation of the input "
                     f"with δ."),
            formula=rf"\frac{{\partial L}}{{\partial k_{{{label(user)}}}}} = \sum_{{i,j}} \delta_{{i,j}}\,"
                    rf" x_{{S i + m,\, S j + n}}",
            expansion=rf"\frac{{\partial L}}{{\partial k_{{{label(user)}}}}} = " + write_sum(parts, value, digits, total),
            terms=tuple(terms), result=value, target=("grad_weight", user),
            reads={"grad_output": reads_d, "input": reads_x, "kernel": [user]},
        )

    grad_b = delta.sum(axis=(0, 2, 3))
    # a scalar bias is one number added by every filter: its gradient sums the δ of all of them
    shared_bias = pb.b is not None and not pb.b_layout.keep

    def make_grad_bias(index: tuple[int, ...], digits: int) -> Step:
        (o,) = index
        filters = range(C_out) if shared_bias else (o,)
        value = float(grad_b.sum()) if shared_bias else float(grad_b[o])
        total = N * len(filters) * H_out * W_out
        terms, parts, reads_d = [], [], []
        for n in range(N):
            for f in filters:
                for i in range(H_out):
                    for j in range(W_out):
                        d_index = out_layout.user((n, f, i, j))
                        dv = float(delta[n, f, i, j])
                        if shown(len(terms), total):
                            parts.append(factor(dv, digits))
                        terms.append(term(Factor("grad_output", d_index, dv)))
                        reads_d.append(d_index)
        user = pb.b_layout.user((o,))
        return Step(
            id=cell_id("grad_bias", user), kind=StepKind.GRADIENT_SUM,
            title=f"∂L/∂b{'(' + label(user) + ')' if user else ''}",
            message=("The bias is added to every output cell of "
                     + ("every filter" if shared_bias and C_out > 1 else "its filter")
                     + ", so its gradient is the sum of their δ."),
            formula=r"\frac{\partial L}{\partial b} = \sum_{i,j} \delta_{i,j}",
            expansion=r"\frac{\partial L}{\partial b} = " + write_sum(parts, value, digits, total),
            terms=tuple(terms), result=value, target=("grad_bias", user), reads={"grad_output": reads_d},
        )

    x_user_shape = pb.x_layout.user(pb.x.shape)
    w_user_shape = pb.w_layout.user(pb.w.shape)
    segments = _setup_segments(pb) + [
        Segment("grad_input", x_user_shape, pb.x_layout.lift(make_grad_input)),
        Segment("grad_weight", w_user_shape, pb.w_layout.lift(make_grad_weight)),
    ]
    outputs: dict[str, Any] = {"grad_input": pb.x_layout.shape(grad_x), "grad_weight": pb.w_layout.shape(grad_w)}
    if pb.b is not None:
        segments.append(Segment("grad_bias", pb.b_layout.user((C_out,)),
                                lambda index, digits: make_grad_bias(index or (0,), digits)))
        outputs["grad_bias"] = np.float64(grad_b.sum()) if shared_bias else grad_b
    notes = _notes(pb) + [
        "∂L/∂k is a valid cross-correlation of the input with δ.",
        "∂L/∂x is the full convolution of δ with the kernel rotated 180°"
        + (" (a transposed convolution, since the stride is above 1)." if strided else "."),
    ]
    return Trace(
        op=op, params=_params(pb), inputs=_inputs(pb, delta), outputs=outputs,
        formula=(r"\frac{\partial L}{\partial k} = x \star \delta, \quad "
                 r"\frac{\partial L}{\partial x} = \delta \ast \mathrm{rot180}(k), \quad "
                 r"\frac{\partial L}{\partial b} = \textstyle\sum \delta"),
        segments=segments, notes=notes,
    )


def conv2d_backward(x, w, grad_output, b=None, *, stride=1, padding=0, dilation=1, groups=1,
                    mode="correlation") -> Trace:
    """Gradients of conv2d given δ = ∂L/∂z (grad_output, the output's shape).

    Returns outputs ``grad_input`` (x's shape), ``grad_weight`` (w's shape), and ``grad_bias``
    when b is given. One step per cell of each gradient.
    """
    pb = _prepare(x, w, b, stride, padding, dilation, groups, mode, False)
    return conv_backward_trace(pb, grad_output, "conv2d_backward")


def conv1d_backward(x, w, grad_output, b=None, *, stride=1, padding=0, dilation=1, groups=1,
                    mode="correlation") -> Trace:
    """Gradients of conv1d given δ = ∂L/∂z."""
    pb = _prepare(x, w, b, stride, padding, dilation, groups, mode, True)
    return conv_backward_trace(pb, grad_output, "conv1d_backward")


def im2col(x, *, kernel_size, stride=1, padding=0, dilation=1, w=None) -> Trace:
    """Unfold every window into a column, so a convolution becomes one matrix product.

    Parameters
    ----------
    x : (H, W) | (C, H, W) | (N, C, H, W)
    w : optional kernel (kH, kW) | (C_out, C, kH, kW); when given, ``output`` = W_row @ columns.

    Returns outputs ``columns`` of shape (C kH kW, L) per sample (PyTorch's unfold; L = H_out W_out,
    windows in row-major order), ``cells``: for each column the input cells it holds, and with w
    ``weight_rows`` (C_out, C kH kW) and ``output``, the convolution rebuilt by the product.
    """
    kernel = as_pair(kernel_size, "kernel_size", minimum=1)
    x_arr = as_tensor(x, "input", (2, 3, 4))
    C = 1 if x_arr.ndim == 2 else x_arr.shape[-3]
    kernel_arr = np.zeros((1, C) + kernel) if w is None else w
    pb = _prepare(x_arr, kernel_arr, None, stride, padding, dilation, 1, "correlation", False)
    if w is not None and pb.w.shape[2:] != kernel:
        raise EngineError("kernel", f"kernel_size is {kernel} but the kernel is {pb.w.shape[2:]}")
    N, C, H, W = pb.x.shape
    _, _, H_out, W_out = pb.out_shape
    kH, kW = kernel
    win = pb.windows()  # (N, C, H_out, W_out, kH, kW)
    columns = win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kH * kW, H_out * W_out)
    batched = x_arr.ndim == 4
    cells = [[list(pb.x_layout.user(pb.input_cell(0, c, l // W_out, l % W_out, p, q)))
              for c in range(C) for p in range(kH) for q in range(kW)] for l in range(H_out * W_out)]

    def make_column(index: tuple[int, ...], digits: int) -> Step:
        n, l = index if batched else (0,) + index
        i, j = divmod(l, W_out)
        terms, shown, reads = [], [], []
        for c in range(C):
            for p in range(kH):
                for q in range(kW):
                    cell = pb.input_cell(n, c, i, j, p, q)
                    user = pb.x_layout.user(cell)
                    v = pb.input_value(cell)
                    terms.append(term(Factor("input", user, v)))
                    shown.append(tex(v, digits))
                    reads.append(user)
        target = ("columns", (n, None, l) if batched else (None, l))
        return Step(
            id=cell_id("columns", index), kind=StepKind.GATHER, title=f"Column {l + 1}",
            message=(f"Column {l + 1} holds the window at row {i + 1}, column {j + 1}, read row by row"
                     + (" and channel by channel." if C > 1 else ".")),
            formula=rf"\mathrm{{col}}_{{{l + 1}}} = \mathrm{{vec}}(x_{{\text{{window }}{i + 1},{j + 1}}})",
            expansion=rf"\mathrm{{col}}_{{{l + 1}}} = \begin{{pmatrix}}" + r" \\ ".join(shown) + r"\end{pmatrix}",
            terms=tuple(terms), result=columns[n, :, l].copy(), target=target, reads={"input": reads},
            combine=Combine.STACK,
        )

    outputs: dict[str, Any] = {"columns": columns if batched else columns[0], "cells": cells}
    segments = [Segment("columns", (N, H_out * W_out) if batched else (H_out * W_out,), make_column)]
    notes = ["Each column is one window, flattened channel by channel, row by row (PyTorch's unfold)."]
    if w is not None:
        rows = pb.w.reshape(pb.w.shape[0], -1)
        product = np.einsum("ok,nkl->nol", rows, columns)
        out4 = product.reshape(N, -1, H_out, W_out)
        outputs["weight_rows"] = rows
        outputs["output"] = pb.out_layout.shape(out4)

        def make_product(index: tuple[int, ...], digits: int) -> Step:
            n, o, i, j = index
            l = i * W_out + j
            terms = tuple(term(Factor("weight_rows", (o, k), float(rows[o, k])),
                               Factor("columns", (n, k, l) if batched else (k, l), float(columns[n, k, l])))
                          for k in range(rows.shape[1]))
            user = pb.out_layout.user(index)
            parts = [f"{factor(t.factors[0].value, digits)}({tex(t.factors[1].value, digits)})" for t in terms]
            return Step(
                id=cell_id("output", user), kind=StepKind.MULTIPLY_ADD, title=f"Output z({label(user)})",
                message=f"Row {o + 1} of the weights times column {l + 1} gives the same number as the sliding window.",
                formula=rf"z_{{{label(user)}}} = W_{{{o + 1},:}} \cdot \mathrm{{col}}_{{{l + 1}}}",
                expansion=rf"z_{{{label(user)}}} = " + write_sum(parts, float(out4[index]), digits),
                terms=terms, result=float(out4[index]), target=("output", user),
                reads={"weight_rows": [(o, k) for k in range(rows.shape[1])],
                       "columns": [((n, k, l) if batched else (k, l)) for k in range(rows.shape[1])]},
            )

        segments.append(Segment("output", pb.out_layout.user(out4.shape), pb.out_layout.lift(make_product)))
        notes.append("output = weight_rows @ columns, reshaped to (C_out, H_out, W_out): the convolution as one "
                     "matrix product.")
    params = _params(pb)
    params.pop("groups")
    params.pop("mode")
    params["kernel_size"] = list(kernel)
    return Trace(op="im2col", params=params, inputs=_inputs(pb) if w is not None else {"input": x_arr},
                 outputs=outputs, formula=r"Z = W_{\text{rows}} \cdot \mathrm{im2col}(X)",
                 segments=segments, notes=notes)
