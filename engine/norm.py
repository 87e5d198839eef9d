"""Batch normalization, forward and backward, with every statistic as its own step.

Conventions (PyTorch's): statistics per channel over the batch and the positions; the variance
that normalizes is biased (divide by n), the one that updates running_var is unbiased
(n / (n - 1)); running = (1 - momentum) running + momentum batch; eps inside the square root.

Step ids, forward (training): ``mean[c]``, ``var[c]``, ``inv_std[c]``, ``x_hat[n,c,h,w]``,
``output[n,c,h,w]``, ``running_mean[c]``, ``running_var[c]``; inference: ``inv_std[c]``,
``x_hat[...]``, ``output[...]``. Backward: ``grad_bias[c]``, ``grad_weight[c]``, then
``grad_input[...]``, which reads the two sums before it. Indices are the caller's: (n, f) for (N, F).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import EngineError
from .layout import Layout, label
from .numfmt import factor, fmt, shown, tex, write_sum
from .tensors import as_number, as_tensor
from .trace import Combine, Factor, Segment, Step, StepKind, Trace, cell_id, term

LAYOUTS = {2: (0, 1), 3: (0, 1, 3), 4: (0, 1, 2, 3)}   # (N, F) | (N, C, L) | (N, C, H, W) among (N, C, H, W)


@dataclass(frozen=True)
class NormProblem:
    """x: (N, C, H, W); gamma, beta: (C,); statistics over N, H and W, n = N H W cells per channel."""

    x: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: float
    layout: Layout

    @property
    def n(self) -> int:
        N, _, H, W = self.x.shape
        return N * H * W

    @property
    def word(self) -> str:
        return "feature" if self.layout.keep == LAYOUTS[2] else "channel"

    def channel_cells(self, c: int):
        """The 4-D index of every cell of channel c, in row-major order."""
        N, _, H, W = self.x.shape
        for n, h, w in np.ndindex(N, H, W):
            yield n, c, h, w

    def batch_statistics(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, biased variance, x - mean) of each channel."""
        mean = self.x.sum(axis=(0, 2, 3)) / self.n
        centered = self.x - mean[None, :, None, None]
        var = (centered * centered).sum(axis=(0, 2, 3)) / self.n
        return mean, var, centered


def _per_channel(value: Any, name: str, C: int, default: float, word: str) -> np.ndarray:
    if value is None:
        return np.full(C, default)
    array = as_tensor(value, name, (1,))
    if array.shape != (C,):
        raise EngineError(name, f"expected {C} number{'s' * (C != 1)}, one per {word}, got {array.shape[0]}")
    return array


def _prepare(x: Any, gamma: Any, beta: Any, eps: Any, training: bool) -> NormProblem:
    x_arr = as_tensor(x, "input", (2, 3, 4))
    layout = Layout(LAYOUTS[x_arr.ndim])
    x4 = layout.lift_array(x_arr)
    word = "feature" if x_arr.ndim == 2 else "channel"
    C = x4.shape[1]
    eps_ = as_number(eps, "eps")
    if eps_ <= 0:
        raise EngineError("eps", f"must be above 0, got {fmt(eps_)}")
    pb = NormProblem(x4, _per_channel(gamma, "gamma", C, 1.0, word), _per_channel(beta, "beta", C, 0.0, word),
                     eps_, layout)
    if training and pb.n == 1:
        raise EngineError("input", f"training needs more than 1 value per {word} to measure a variance, and "
                                   f"this input has 1 (a batch of one with no positions); use training=False "
                                   f"to normalize with the running statistics")
    return pb


def _sum_text(parts: list[str], total: int, digits: int) -> str:
    """'a + b + ... + z' for the shown parts of a sum of ``total`` terms (write_sum without its '= r')."""
    return write_sum(parts, 0.0, digits, total).rsplit(" = ", 1)[0]


def _mean_step(pb: NormProblem, mean: np.ndarray, index: tuple[int, ...], digits: int) -> Step:
    (c,) = index
    total = pb.n
    terms, parts, reads = [], [], []
    for k, cell in enumerate(pb.channel_cells(c)):
        user, v = pb.layout.user(cell), float(pb.x[cell])
        terms.append(term(Factor("input", user, v)))
        if shown(k, total):
            parts.append(factor(v, digits))
        reads.append(user)
    value = float(mean[c])
    return Step(
        id=cell_id("mean", index), kind=StepKind.REDUCE, title=f"Mean of {pb.word} {c + 1}",
        message=f"Average the {total} values of {pb.word} {c + 1} across the batch"
                + ("." if pb.word == "feature" else " and its positions."),
        formula=rf"\mu_{{{c + 1}}} = \frac{{1}}{{n}} \sum x",
        expansion=rf"\mu_{{{c + 1}}} = \frac{{{_sum_text(parts, total, digits)}}}{{{total}}} = {tex(value, digits)}",
        terms=tuple(terms), result=value, target=("mean", index), reads={"input": reads},
        combine=Combine.MEAN, divisor=float(total),
    )


def _var_step(pb: NormProblem, mean: np.ndarray, var: np.ndarray, centered: np.ndarray,
              index: tuple[int, ...], digits: int) -> Step:
    (c,) = index
    total = pb.n
    mu = float(mean[c])
    terms, parts, reads = [], [], []
    for k, cell in enumerate(pb.channel_cells(c)):
        user, d = pb.layout.user(cell), float(centered[cell])
        terms.append(term(Factor("input-mean", user, d), Factor("input-mean", user, d)))
        if shown(k, total):
            parts.append(f"({tex(pb.x[cell], digits)} - {factor(mu, digits)})^2")
        reads.append(user)
    value = float(var[c])
    return Step(
        id=cell_id("var", index), kind=StepKind.REDUCE, title=f"Variance of {pb.word} {c + 1}",
        message=(f"Average the squared distances from the mean μ = {fmt(mu, digits)} over the {total} values, "
                 f"dividing by n = {total}, not n − 1."),
        formula=rf"\sigma^2_{{{c + 1}}} = \frac{{1}}{{n}} \sum (x - \mu_{{{c + 1}}})^2",
        expansion=(rf"\sigma^2_{{{c + 1}}} = \frac{{{_sum_text(parts, total, digits)}}}{{{total}}} "
                   f"= {tex(value, digits)}"),
        terms=tuple(terms), result=value, target=("var", index), reads={"input": reads, "mean": [index]},
        combine=Combine.MEAN, divisor=float(total),
    )


def _inv_std_step(pb: NormProblem, var: np.ndarray, inv_std: np.ndarray, var_name: str,
                  index: tuple[int, ...], digits: int) -> Step:
    (c,) = index
    v, value = float(var[c]), float(inv_std[c])
    symbol = rf"\sigma^2_{{{c + 1}}}"
    return Step(
        id=cell_id("inv_std", index), kind=StepKind.ELEMENTWISE, title=f"1/√(σ² + ε) of {pb.word} {c + 1}",
        message=(f"Add ε = {fmt(pb.eps, digits)} to the {'running ' if var_name == 'running_var' else ''}variance, "
                 f"so that a constant {pb.word} never divides by 0, and take one over the square root."),
        formula=rf"s_{{{c + 1}}} = \frac{{1}}{{\sqrt{{{symbol} + \epsilon}}}}",
        expansion=(rf"s_{{{c + 1}}} = \frac{{1}}{{\sqrt{{{tex(v, digits)} + {tex(pb.eps, digits)}}}}} "
                   f"= {tex(value, digits)}"),
        terms=(term(Factor(var_name, index, v)), term(Factor("eps", None, pb.eps))), result=value,
        target=("inv_std", index), reads={var_name: [index]}, combine=Combine.APPLY, function="rsqrt",
    )


def _x_hat_step(pb: NormProblem, mean: np.ndarray, inv_std: np.ndarray, centered: np.ndarray,
                x_hat: np.ndarray, mean_name: str, index: tuple[int, ...], digits: int) -> Step:
    c = index[1]
    user = pb.layout.user(index)
    x, d, s, value = float(pb.x[index]), float(centered[index]), float(inv_std[c]), float(x_hat[index])
    return Step(
        id=cell_id("x_hat", user), kind=StepKind.ELEMENTWISE, title=f"x̂({label(user)})",
        message=(f"Subtract the {pb.word}'s {'running ' if mean_name == 'running_mean' else ''}mean from "
                 f"x({label(user)}) and multiply by s = 1/√(σ² + ε): the value in standard deviations "
                 f"from the mean."),
        formula=rf"\hat x_{{{label(user)}}} = (x_{{{label(user)}}} - \mu_{{{c + 1}}})\, s_{{{c + 1}}}",
        expansion=(rf"\hat x_{{{label(user)}}} = ({tex(x, digits)} - {factor(float(mean[c]), digits)})"
                   f"({tex(s, digits)}) = {tex(value, digits)}"),
        terms=(term(Factor(f"input-{mean_name}", user, d), Factor("inv_std", (c,), s)),), result=value,
        target=("x_hat", user), reads={"input": [user], mean_name: [(c,)], "inv_std": [(c,)]},
    )


def _output_step(pb: NormProblem, x_hat: np.ndarray, out: np.ndarray, index: tuple[int, ...], digits: int) -> Step:
    c = index[1]
    user = pb.layout.user(index)
    g, b, xh, value = float(pb.gamma[c]), float(pb.beta[c]), float(x_hat[index]), float(out[index])
    return Step(
        id=cell_id("output", user), kind=StepKind.ELEMENTWISE, title=f"Output y({label(user)})",
        message=f"Scale x̂ by the {pb.word}'s γ and shift it by its β, both learned.",
        formula=rf"y_{{{label(user)}}} = \gamma_{{{c + 1}}}\, \hat x_{{{label(user)}}} + \beta_{{{c + 1}}}",
        expansion=(rf"y_{{{label(user)}}} = "
                   + write_sum([f"{factor(g, digits)}({tex(xh, digits)})", factor(b, digits)], value, digits)),
        terms=(term(Factor("gamma", (c,), g), Factor("x_hat", user, xh)), term(Factor("beta", (c,), b))),
        result=value, target=("output", user), reads={"x_hat": [user], "gamma": [(c,)], "beta": [(c,)]},
    )


def _running_step(pb: NormProblem, momentum: float, before: np.ndarray, batch: np.ndarray, after: np.ndarray,
                  name: str, index: tuple[int, ...], digits: int) -> Step:
    """running_mean (from the batch mean) or running_var (from the unbiased batch variance)."""
    (c,) = index
    old, stat, value = float(before[c]), float(batch[c]), float(after[c])
    keep = term(Factor("1-momentum", None, 1 - momentum), Factor(name, index, old))
    if name == "running_mean":
        new = term(Factor("momentum", None, momentum), Factor("mean", index, stat))
        lhs = rf"\mu^{{\mathrm{{run}}}}_{{{c + 1}}}"
        formula = rf"{lhs} \leftarrow (1 - m)\, {lhs} + m\, \mu_{{{c + 1}}}"
        numbers = f"{tex(1 - momentum, digits)}({tex(old, digits)}) + {tex(momentum, digits)}({tex(stat, digits)})"
        message = f"Move the running mean {fmt(momentum, digits)} of the way towards this batch's mean."
    else:
        correction = pb.n / (pb.n - 1)
        new = term(Factor("momentum", None, momentum), Factor("n/(n-1)", None, correction),
                   Factor("var", index, stat))
        lhs = rf"\sigma^{{2,\mathrm{{run}}}}_{{{c + 1}}}"
        formula = rf"{lhs} \leftarrow (1 - m)\, {lhs} + m\, \frac{{n}}{{n - 1}}\, \sigma^2_{{{c + 1}}}"
        numbers = (rf"{tex(1 - momentum, digits)}({tex(old, digits)}) + {tex(momentum, digits)} \cdot "
                   rf"\frac{{{pb.n}}}{{{pb.n - 1}}}({tex(stat, digits)})")
        message = (f"Move the running variance {fmt(momentum, digits)} of the way towards this batch's unbiased "
                   f"variance, σ² · n/(n − 1) with n = {pb.n}.")
    return Step(
        id=cell_id(name, index), kind=StepKind.UPDATE,
        title=f"{'Running mean' if name == 'running_mean' else 'Running variance'} of {pb.word} {c + 1}",
        message=message, formula=formula, expansion=f"{lhs} = {numbers} = {tex(value, digits)}",
        terms=(keep, new), result=value, target=(name, index),
        reads={name: [index], "mean" if name == "running_mean" else "var": [index]},
    )


def batchnorm(x, gamma=None, beta=None, *, eps=1e-5, training=True, running_mean=None, running_var=None,
              momentum=0.1) -> Trace:
    """Batch normalization, one step per statistic and per cell.

    Parameters
    ----------
    x : (N, F) | (N, C, L) | (N, C, H, W)
    gamma, beta : (C,), default ones and zeros
    running_mean, running_var : (C,), default zeros and ones; updated in training, used in inference
    momentum : in [0, 1], the weight of the batch statistic in the running update

    Notes
    -----
    training:  mu_c = mean of x over N, H, W;  var_c = mean of (x - mu_c)^2 (biased, divide by n = N H W)
    x_hat = (x - mu_c) / sqrt(var_c + eps),  y = gamma_c x_hat + beta_c
    running_mean <- (1 - momentum) running_mean + momentum mu_c
    running_var  <- (1 - momentum) running_var + momentum var_c n / (n - 1)
    inference: mu_c, var_c are running_mean, running_var, and nothing is updated.
    """
    training = bool(training)
    pb = _prepare(x, gamma, beta, eps, training)
    C = pb.x.shape[1]
    before_mean = _per_channel(running_mean, "running_mean", C, 0.0, pb.word)
    before_var = _per_channel(running_var, "running_var", C, 1.0, pb.word)
    negative = np.argwhere(before_var < 0)
    if len(negative):
        (c,) = negative[0]
        raise EngineError("running_var", f"{fmt(before_var[c])} for {pb.word} {c + 1} is negative, and a "
                                         f"variance cannot be", (int(c),))
    momentum_ = as_number(momentum, "momentum")
    if not 0 <= momentum_ <= 1:
        raise EngineError("momentum", f"must be between 0 and 1, got {fmt(momentum_)}")

    if training:
        mean, var, centered = pb.batch_statistics()
        mean_name, var_name = "mean", "var"
    else:
        mean, var = before_mean, before_var
        centered = pb.x - mean[None, :, None, None]
        mean_name, var_name = "running_mean", "running_var"
    inv_std = 1 / np.sqrt(var + pb.eps)
    x_hat = centered * inv_std[None, :, None, None]
    out = pb.gamma[None, :, None, None] * x_hat + pb.beta[None, :, None, None]
    if training:
        after_mean = (1 - momentum_) * before_mean + momentum_ * mean
        after_var = (1 - momentum_) * before_var + momentum_ * (pb.n / (pb.n - 1)) * var
    else:
        after_mean, after_var = before_mean.copy(), before_var.copy()

    lift = pb.layout.lift
    x_shape = pb.layout.user(pb.x.shape)
    segments = []
    if training:
        segments += [Segment("mean", (C,), lambda index, digits: _mean_step(pb, mean, index, digits)),
                     Segment("var", (C,), lambda index, digits: _var_step(pb, mean, var, centered, index, digits))]
    segments += [
        Segment("inv_std", (C,), lambda index, digits: _inv_std_step(pb, var, inv_std, var_name, index, digits)),
        Segment("x_hat", x_shape, lift(lambda index, digits: _x_hat_step(pb, mean, inv_std, centered, x_hat,
                                                                          mean_name, index, digits))),
        Segment("output", x_shape, lift(lambda index, digits: _output_step(pb, x_hat, out, index, digits))),
    ]
    if training:
        segments += [
            Segment("running_mean", (C,), lambda index, digits: _running_step(
                pb, momentum_, before_mean, mean, after_mean, "running_mean", index, digits)),
            Segment("running_var", (C,), lambda index, digits: _running_step(
                pb, momentum_, before_var, var, after_var, "running_var", index, digits)),
        ]
        intermediates = {"mean": mean, "var": var, "inv_std": inv_std, "x_hat": pb.layout.shape(x_hat)}
        notes = [f"Training mode: each {pb.word} is normalized with its own batch mean and biased variance "
                 f"(divided by n = {pb.n}).",
                 "The running variance is updated with the unbiased variance, σ² · n/(n − 1), as PyTorch does.",
                 f"running = (1 − momentum) · running + momentum · batch, with momentum = {fmt(momentum_)} "
                 f"(PyTorch's convention; Keras's momentum is 1 minus this)."]
        formula = (r"\mu_c = \frac{1}{n} \sum x, \quad \sigma^2_c = \frac{1}{n} \sum (x - \mu_c)^2, \quad "
                   r"\hat x = \frac{x - \mu_c}{\sqrt{\sigma^2_c + \epsilon}}, \quad y = \gamma_c \hat x + \beta_c")
    else:
        intermediates = {"inv_std": inv_std, "x_hat": pb.layout.shape(x_hat)}
        notes = ["Inference mode: the running mean and variance normalize the input, and they are not updated."]
        formula = (r"\hat x = \frac{x - \mu^{\mathrm{run}}_c}{\sqrt{\sigma^{2,\mathrm{run}}_c + \epsilon}}, \quad "
                   r"y = \gamma_c \hat x + \beta_c")
    notes.append(f"ε = {fmt(pb.eps)} is added inside the square root.")
    notes.append("Titles count from 1; step ids and JSON indices count from 0.")
    return Trace(
        op="batchnorm", params={"eps": pb.eps, "training": training, "momentum": momentum_},
        inputs={"input": pb.layout.shape(pb.x), "gamma": pb.gamma, "beta": pb.beta, "running_mean": before_mean,
                "running_var": before_var},
        outputs={"output": pb.layout.shape(out), "running_mean": after_mean, "running_var": after_var},
        formula=formula, segments=segments, notes=notes, intermediates=intermediates,
    )


def batchnorm_backward(x, gamma, beta, grad_output, *, eps=1e-5) -> Trace:
    """Gradients of training-mode batchnorm given δ = ∂L/∂y (grad_output, the input's shape).

    Parameters
    ----------
    x, grad_output : (N, F) | (N, C, L) | (N, C, H, W)
    gamma, beta : (C,) or None (ones, zeros); beta does not change any gradient

    Returns grad_input (x's shape), grad_weight = ∂L/∂γ and grad_bias = ∂L/∂β, each (C,).

    Notes
    -----
    s_c = 1 / sqrt(var_c + eps), over each channel's n = N H W cells:
    grad_bias_c = sum delta,  grad_weight_c = sum delta x_hat,
    grad_input = gamma_c s_c delta - (gamma_c s_c / n) grad_bias_c - (gamma_c s_c / n) x_hat grad_weight_c
    """
    pb = _prepare(x, gamma, beta, eps, True)
    g = as_tensor(grad_output, "grad_output", (2, 3, 4))
    expected = pb.layout.shape(pb.x).shape
    if g.shape != expected:
        raise EngineError("grad_output", f"expected the input's shape {expected}, got {g.shape}")
    delta = pb.layout.lift_array(g)
    C, n_cells = pb.x.shape[1], pb.n
    mean, var, centered = pb.batch_statistics()
    inv_std = 1 / np.sqrt(var + pb.eps)
    x_hat = centered * inv_std[None, :, None, None]
    grad_b = delta.sum(axis=(0, 2, 3))
    grad_w = (delta * x_hat).sum(axis=(0, 2, 3))
    scale = pb.gamma * inv_std            # gamma_c s_c
    share = -scale / n_cells              # -gamma_c s_c / n
    scale4, share4, grad_b4, grad_w4 = (v[None, :, None, None] for v in (scale, share, grad_b, grad_w))
    # summed in the order of the steps' three terms, so that the steps rebuild it exactly
    grad_x = (scale4 * delta + share4 * grad_b4) + share4 * x_hat * grad_w4

    def make_sum(name: str, index: tuple[int, ...], digits: int) -> Step:
        (c,) = index
        weighted = name == "grad_weight"
        terms, parts, reads_d, reads_xh = [], [], [], []
        for k, cell in enumerate(pb.channel_cells(c)):
            user, d = pb.layout.user(cell), float(delta[cell])
            if weighted:
                xh = float(x_hat[cell])
                terms.append(term(Factor("grad_output", user, d), Factor("x_hat", user, xh)))
                part = f"{factor(d, digits)}({tex(xh, digits)})"
                reads_xh.append(user)
            else:
                terms.append(term(Factor("grad_output", user, d)))
                part = factor(d, digits)
            if shown(k, n_cells):
                parts.append(part)
            reads_d.append(user)
        value = float((grad_w if weighted else grad_b)[c])
        symbol = r"\gamma" if weighted else r"\beta"
        reads = {"grad_output": reads_d} | ({"x_hat": reads_xh} if weighted else {})
        return Step(
            id=cell_id(name, index), kind=StepKind.GRADIENT_SUM,
            title=f"∂L/∂{'γ' if weighted else 'β'}({c + 1})",
            message=(f"γ multiplies x̂ in every cell of {pb.word} {c + 1}, so its gradient adds δ · x̂ over those "
                     f"{n_cells} cells." if weighted else
                     f"β is added to every cell of {pb.word} {c + 1}, so its gradient adds their {n_cells} δ."),
            formula=(rf"\frac{{\partial L}}{{\partial {symbol}_{{{c + 1}}}}} = \sum \delta"
                     + (r"\, \hat x" if weighted else "")),
            expansion=(rf"\frac{{\partial L}}{{\partial {symbol}_{{{c + 1}}}}} = "
                       + write_sum(parts, value, digits, n_cells)),
            terms=tuple(terms), result=value, target=(name, index), reads=reads,
        )

    def make_input(index: tuple[int, ...], digits: int) -> Step:
        c = index[1]
        user = pb.layout.user(index)
        gamma_c, s, d, xh = float(pb.gamma[c]), float(inv_std[c]), float(delta[index]), float(x_hat[index])
        k, sum_d, sum_dx = float(share[c]), float(grad_b[c]), float(grad_w[c])
        value = float(grad_x[index])
        terms = (term(Factor("gamma", (c,), gamma_c), Factor("inv_std", (c,), s), Factor("grad_output", user, d)),
                 term(Factor("-gamma*inv_std/n", (c,), k), Factor("grad_bias", (c,), sum_d)),
                 term(Factor("-gamma*inv_std/n", (c,), k), Factor("x_hat", user, xh),
                      Factor("grad_weight", (c,), sum_dx)))
        # k is negative: written as a subtraction of its size
        numbers = (f"{tex(gamma_c, digits)}({tex(s, digits)})({tex(d, digits)}) - {factor(-k, digits)}"
                   f"({tex(sum_d, digits)}) - {factor(-k, digits)}({tex(xh, digits)})({tex(sum_dx, digits)})")
        dx = rf"\frac{{\partial L}}{{\partial x_{{{label(user)}}}}}"
        return Step(
            id=cell_id("grad_input", user), kind=StepKind.GRADIENT_SUM, title=f"∂L/∂x({label(user)})",
            message=(f"x({label(user)}) reaches the loss directly, through γ·s·δ, and through the {pb.word}'s "
                     f"mean and variance, which all {n_cells} of its cells share: those paths take away γs/n "
                     f"times Σδ and times x̂·Σδx̂."),
            formula=(rf"{dx} = \gamma_{{{c + 1}}} s_{{{c + 1}}}\, \delta_{{{label(user)}}} - "
                     rf"\frac{{\gamma_{{{c + 1}}} s_{{{c + 1}}}}}{{n}} \sum \delta - "
                     rf"\frac{{\gamma_{{{c + 1}}} s_{{{c + 1}}}}}{{n}}\, \hat x_{{{label(user)}}} \sum \delta \hat x"),
            expansion=f"{dx} = {numbers} = {tex(value, digits)}",
            terms=terms, result=value, target=("grad_input", user),
            reads={"grad_output": [user], "x_hat": [user], "gamma": [(c,)], "inv_std": [(c,)],
                   "grad_bias": [(c,)], "grad_weight": [(c,)]},
        )

    x_shape = pb.layout.user(pb.x.shape)
    return Trace(
        op="batchnorm_backward", params={"eps": pb.eps, "training": True},
        inputs={"input": pb.layout.shape(pb.x), "gamma": pb.gamma, "beta": pb.beta, "grad_output": g},
        outputs={"grad_input": pb.layout.shape(grad_x), "grad_weight": grad_w, "grad_bias": grad_b},
        formula=(r"s_c = \frac{1}{\sqrt{\sigma^2_c + \epsilon}}, \quad "
                 r"\frac{\partial L}{\partial \beta_c} = \sum \delta, \quad "
                 r"\frac{\partial L}{\partial \gamma_c} = \sum \delta \hat x, \quad "
                 r"\frac{\partial L}{\partial x} = \frac{\gamma_c s_c}{n}\Big(n \delta - \sum \delta - "
                 r"\hat x \sum \delta \hat x\Big)"),
        segments=[Segment("grad_bias", (C,), lambda index, digits: make_sum("grad_bias", index, digits)),
                  Segment("grad_weight", (C,), lambda index, digits: make_sum("grad_weight", index, digits)),
                  Segment("grad_input", x_shape, pb.layout.lift(make_input))],
        notes=[f"Training-mode gradients: the batch mean and variance depend on every cell of a {pb.word} "
               f"(n = {n_cells}), so each cell's gradient carries the two shared sums.",
               "β shifts every output equally, so it changes no gradient but its own.",
               "Titles count from 1; step ids and JSON indices count from 0."],
        intermediates={"mean": mean, "var": var, "inv_std": inv_std, "x_hat": pb.layout.shape(x_hat)},
    )
