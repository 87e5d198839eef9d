"""Losses and their gradient with respect to the prediction: MSE, cross-entropy on probabilities,
softmax cross-entropy on logits, binary cross-entropy.

Conventions (PyTorch's): ``mean`` averages MSE and binary cross-entropy over elements and
cross-entropy over samples (not classes); ``half_sum`` (½Σ, MSE only) makes the gradient ŷ − t.
Probabilities are clipped to [eps, 1 − eps] before a log; a clipped cell passes no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import softmax_segments
from .errors import EngineError
from .layout import called, label
from .numfmt import factor, fmt, shown, tex, write_sum
from .tensors import as_tensor
from .trace import Combine, Factor, Segment, Step, StepKind, Trace, cell_id, term

KINDS = ("mse", "cross_entropy", "softmax_cross_entropy", "binary_cross_entropy")
REDUCTIONS = ("mean", "sum", "half_sum")
HAT_Y = r"\hat{y}"


def _d(symbol: str, at: str) -> str:
    """LaTeX for ∂L/∂symbol_at (no subscript for a scalar)."""
    return rf"\frac{{\partial L}}{{\partial {symbol}{'_{' + at + '}' if at else ''}}}"


def _check(kind: str, reduction: str, eps: Any) -> float:
    if kind not in KINDS:
        raise EngineError("kind", f"{kind!r} is not a loss: use one of {', '.join(KINDS)}")
    if reduction not in REDUCTIONS:
        raise EngineError("reduction", f"{reduction!r} is not a reduction: use 'mean', 'sum' or 'half_sum'")
    if reduction == "half_sum" and kind != "mse":
        raise EngineError("reduction", "'half_sum' (½Σ) is a scaling of the squared error: use 'mean' or 'sum' "
                                       "for a cross-entropy")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 0.5:
        raise EngineError("eps", f"expected a small positive number below 0.5, got {eps!r}")
    return float(eps)


def loss(prediction, target, *, kind, reduction="mean", eps=1e-12) -> Trace:
    """A loss and its gradient with respect to the prediction.

    Parameters
    ----------
    prediction : mse, binary_cross_entropy: any shape. cross_entropy (probabilities) and
        softmax_cross_entropy (logits): (C,) for one sample or (N, C).
    target : the prediction's shape (values; one-hot or class probabilities), or for the
        cross-entropies a class index (one number for (C,), (N,) numbers for (N, C)).
    kind : 'mse' | 'cross_entropy' | 'softmax_cross_entropy' | 'binary_cross_entropy'
    reduction : 'mean' | 'sum' | 'half_sum' (MSE only)

    Notes
    -----
    MSE: L = c Σ (ŷ − t)², c = ½, 1 or 1/N. Cross-entropy: L = −Σ_c t_c log p_c per sample.
    Softmax cross-entropy: p = softmax(z), ∂L/∂z = p − t. Binary: L = −[t log p + (1 − t) log(1 − p)].
    Outputs ``loss`` (a number) and ``grad_input`` (∂L/∂prediction).
    """
    eps = _check(kind, reduction, eps)
    if kind == "mse":
        return _mse(prediction, target, reduction)
    if kind == "binary_cross_entropy":
        return _binary(prediction, target, reduction, eps)
    return _categorical(prediction, target, kind, reduction, eps)


# --- mean squared error ---------------------------------------------------------------------

def _mse(prediction: Any, target: Any, reduction: str) -> Trace:
    y = as_tensor(prediction, "prediction", (0, 1, 2, 3, 4))
    t = as_tensor(target, "target", (0, 1, 2, 3, 4))
    t = _like(t, y)
    count = y.size
    scale = {"mean": 1.0 / count, "sum": 1.0, "half_sum": 0.5}[reduction]
    diff = y - t
    value = float(scale * np.sum(diff * diff))
    grad = 2.0 * scale * diff
    scale_tex = {"mean": rf"\frac{{1}}{{{count}}}", "sum": "", "half_sum": r"\frac{1}{2}"}[reduction]
    cells = list(np.ndindex(y.shape)) if count <= 10_000 else None

    def make_loss(index: tuple[int, ...], digits: int) -> Step:
        every = cells if cells is not None else list(np.ndindex(y.shape))
        terms = tuple(term(Factor("difference", c, float(diff[c])), Factor("difference", c, float(diff[c])),
                           Factor("scale", None, scale)) for c in every)
        parts = [rf"({tex(y[c], digits)} - {factor(t[c], digits)})^2" for k, c in enumerate(every) if shown(k, count)]
        inner = write_sum(parts, value / scale if scale else 0.0, digits, total=count).rsplit(" = ", 1)[0]
        bracket = rf"\left[{inner}\right]" if count > 1 or scale_tex else inner
        return Step(
            id="loss", kind=StepKind.REDUCE, title="Loss L",
            message={"mean": f"Square each error and average over the {count} element{'s' * (count != 1)} "
                             "(PyTorch's mean).",
                     "sum": "Square each error and add them up.",
                     "half_sum": "Half the sum of squared errors: the ½ cancels the 2 of the derivative."}[reduction],
            formula=_MSE_RULES[reduction],
            expansion=f"L = {scale_tex}{bracket} = {tex(value, digits)}",
            terms=terms, result=value, target=("loss", ()), reads={"prediction": every, "target": every})

    def make_grad(index: tuple[int, ...], digits: int) -> Step:
        yv, tv = float(y[index]), float(t[index])
        at = label(index)
        coefficient = {"mean": rf"\frac{{2}}{{{count}}}", "sum": "2", "half_sum": ""}[reduction]
        return Step(
            id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=called('∂L/∂ŷ', index),
            message="The derivative of the square: the error, times 2 and the scale of the reduction.",
            formula={"mean": r"\frac{\partial L}{\partial \hat{y}_i} = \frac{2}{N}(\hat{y}_i - t_i)",
                     "sum": r"\frac{\partial L}{\partial \hat{y}_i} = 2(\hat{y}_i - t_i)",
                     "half_sum": r"\frac{\partial L}{\partial \hat{y}_i} = \hat{y}_i - t_i"}[reduction],
            expansion=rf"{_d(HAT_Y, at)} = {coefficient}({tex(yv, digits)} - {factor(tv, digits)}) = "
                      rf"{tex(grad[index], digits)}",
            terms=(term(Factor("prediction", index, yv), Factor("scale", None, 2 * scale)),
                   term(Factor("target", index, tv), Factor("scale", None, -2 * scale))),
            result=float(grad[index]), target=("grad_input", index),
            reads={"prediction": [index], "target": [index]})

    notes = [{"mean": f"reduction='mean': L = (1/N) Σ (ŷ − t)² with N = {count} elements, PyTorch's default; "
                      "the gradient is (2/N)(ŷ − t).",
              "sum": "reduction='sum': L = Σ (ŷ − t)²; the gradient is 2(ŷ − t).",
              "half_sum": "reduction='half_sum': L = ½ Σ (ŷ − t)², the textbook form whose gradient is ŷ − t. "
                          "PyTorch's MSELoss divides by N instead (reduction='mean')."}[reduction]]
    return Trace(op="loss", params={"kind": "mse", "reduction": reduction},
                 inputs={"prediction": y, "target": t}, outputs={"loss": value, "grad_input": _out(grad)},
                 formula=_MSE_RULES[reduction],
                 segments=[Segment("loss", (), make_loss), Segment("grad_input", y.shape, make_grad)],
                 notes=notes, intermediates={"difference": diff})


_MSE_RULES = {"mean": r"L = \frac{1}{N} \sum_i (\hat{y}_i - t_i)^2",
              "sum": r"L = \sum_i (\hat{y}_i - t_i)^2",
              "half_sum": r"L = \frac{1}{2} \sum_i (\hat{y}_i - t_i)^2"}


def _like(t: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """The target in the prediction's shape: equal shapes, or one number each ([[0]] for 0)."""
    if t.shape == prediction.shape:
        return t
    if t.size == prediction.size == 1:
        return t.reshape(prediction.shape)
    raise EngineError("target", f"expected the prediction's shape {prediction.shape}, got {t.shape}")


def _out(array: np.ndarray) -> Any:
    return float(array) if array.ndim == 0 else array


# --- cross-entropies over classes -------------------------------------------------------------

def _targets(t_raw: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """The target as class probabilities of ``shape``, and whether it was given as 'index' or 'probabilities'."""
    t = as_tensor(t_raw, "target", (0, 1, 2))
    C = shape[-1]
    if t.shape == shape:
        if np.any(t < 0):
            at = tuple(int(k) for k in np.argwhere(t < 0)[0])
            raise EngineError("target", f"{t[at]:g} at {_where(at)} is negative: a target is a probability", at)
        return t, "probabilities"
    if t.shape == shape[:-1] or (t.size == 1 and len(shape) == 1):
        classes = t.reshape(shape[:-1])
        for at in np.ndindex(classes.shape):
            c = classes[at]
            if c != int(c) or not 0 <= c < C:
                raise EngineError("target", f"class {c:g}{' of sample ' + str(at[0] + 1) if at else ''} is not one of "
                                            f"the {C} classes, numbered 0 to {C - 1}", at)
        one_hot = np.zeros(shape)
        for at in np.ndindex(classes.shape):
            one_hot[at + (int(classes[at]),)] = 1.0
        return one_hot, "index"
    raise EngineError("target", f"expected class probabilities of shape {shape} or "
                                f"{'one class index' if len(shape) == 1 else f'{shape[0]} class indices'}, "
                                f"got shape {t.shape}")


def _where(at: tuple[int, ...]) -> str:
    return ", ".join(f"{name} {k + 1}" for name, k in zip(("sample", "class")[-len(at):], at)) or "the top"


def _categorical(prediction: Any, target: Any, kind: str, reduction: str, eps: float) -> Trace:
    logits = kind == "softmax_cross_entropy"
    z = as_tensor(prediction, "prediction", (1, 2))
    t, form = _targets(target, z.shape)
    samples = z.shape[0] if z.ndim == 2 else 1
    divisor = samples if reduction == "mean" else 1
    segments: list[Segment] = []
    intermediates: dict[str, Any] = {}
    notes: list[str] = []
    rows = z if z.ndim == 2 else z[None]
    t_rows = t if t.ndim == 2 else t[None]
    if logits:
        m = z.max(axis=-1)
        e = np.exp(z - m[..., None])
        s = e.sum(axis=-1)
        p = e / s[..., None]
        log_p = z - m[..., None] - np.log(s)[..., None]
        numbers = {"max": m, "exp": e, "sum": s, "output": p}
        segments += softmax_segments(z, z.ndim - 1, numbers, output="probabilities", source="prediction")
        intermediates.update(max=m, exp=e, sum=s, probabilities=p, log_probabilities=log_p)
        mass = t.sum(axis=-1, keepdims=True)  # 1 for a one-hot or probability target
        grad = (p * mass - t) / divisor
        notes.append("Softmax and cross-entropy together: log p_c = z_c − m − log S, so no probability is "
                     "rounded to 0 before its log, and ∂L/∂z = p − t (p·Σt − t when the target does not add up to 1).")
    else:
        p = z
        clipped = np.clip(p, eps, 1 - eps)
        log_p = np.log(clipped)
        inside = (p >= eps) & (p <= 1 - eps)
        grad = np.where(inside, -t / clipped, 0.0) / divisor + 0.0  # + 0.0: no -0 in the output
        intermediates.update(log_probabilities=log_p)
        if np.any((~inside) & (t != 0)):
            notes.append(f"A probability the target needs is outside [ε, 1 − ε] with ε = {eps:g}: it is clipped "
                         "before the log (log 0 is −∞), and a clipped cell passes no gradient.")
        notes.append("Cross-entropy on probabilities: the input must already be a softmax's output. "
                     "For raw scores use softmax_cross_entropy.")
    per_sample = -(t_rows * (log_p if log_p.ndim == 2 else log_p[None])).sum(axis=-1)
    value = float(per_sample.sum() / divisor)
    log_rows = log_p if log_p.ndim == 2 else log_p[None]
    p_rows = p if p.ndim == 2 else p[None]

    def log_step(n: int, c: int, digits: int) -> Step:
        """log p_c of sample n, for a class the target weighs."""
        cell = (n, c) if z.ndim == 2 else (c,)
        at = label(cell)
        if logits:
            return Step(
                id=cell_id("log_probabilities", cell), kind=StepKind.ELEMENTWISE, title=f"log p({at})",
                message="The log of a softmax probability, straight from the score: no rounding to 0.",
                formula=r"\log p_c = z_c - m - \log S",
                expansion=rf"\log p_{{{at}}} = {tex(rows[n, c], digits)} - {factor(m[(n,) if z.ndim == 2 else ()], digits)}"
                          rf" - \log {tex(s[(n,) if z.ndim == 2 else ()], digits)} = {tex(log_rows[n, c], digits)}",
                terms=(), result=float(log_rows[n, c]), reads={"prediction": [cell]}, combine=Combine.VALUE)
        pv = float(p_rows[n, c])
        low, high = pv < eps, pv > 1 - eps
        shown_p = eps if low else (1 - eps if high else pv)
        expansion = rf"\log {tex(shown_p, digits)} = {tex(log_rows[n, c], digits)}"
        message = f"The log of the probability of class {c + 1}."
        if low or high:
            expansion = (rf"\log \min(\max({tex(pv, digits)}, \varepsilon), 1 - \varepsilon) = " + expansion)
            message = (f"p = {fmt(pv, digits)} is {'below ε' if low else 'above 1 − ε'}, so it is clipped to "
                       f"{fmt(shown_p, digits)} before the log.")
        return Step(
            id=cell_id("log_probabilities", cell), kind=StepKind.ELEMENTWISE, title=f"log p({at})", message=message,
            formula=r"\log \min(\max(p, \varepsilon), 1 - \varepsilon)", expansion=expansion,
            terms=(term(Factor("clipped", cell, shown_p)),), result=float(log_rows[n, c]),
            reads={"prediction": [cell]}, combine=Combine.APPLY, function="log")

    def sample_terms(n: int, digits: int) -> tuple[tuple, list[str], tuple]:
        weighed = [c for c in range(z.shape[-1]) if t_rows[n, c] != 0]
        terms = tuple(term(Factor("target", (n, c) if z.ndim == 2 else (c,), float(t_rows[n, c])),
                           Factor("log_probabilities", (n, c) if z.ndim == 2 else (c,), float(log_rows[n, c])),
                           Factor("sign", None, -1.0)) for c in weighed)
        parts = [rf"{tex(t_rows[n, c], digits)} \cdot {factor(log_rows[n, c], digits)}" for c in weighed]
        return terms, parts, tuple(log_step(n, c, digits) for c in weighed[:36])

    def make_sample(index: tuple[int, ...], digits: int) -> Step:
        (n,) = index
        terms, parts, subs = sample_terms(n, digits)
        return Step(
            id=cell_id("sample_loss", index), kind=StepKind.REDUCE, title=f"Loss of sample {n + 1}",
            message="Minus the log probability of the true class (weighted by the target, which is one-hot "
                    "for a class index).",
            formula=r"L_n = -\sum_c t_{n,c} \log p_{n,c}",
            expansion=rf"L_{{{n + 1}}} = -\left[{' + '.join(parts) or '0'}\right] = {tex(per_sample[n], digits)}",
            terms=terms, result=float(per_sample[n]), target=("sample_loss", index), substeps=subs,
            reads={"target": [t.factors[0].index for t in terms], "prediction": [t.factors[0].index for t in terms]})

    def make_loss(index: tuple[int, ...], digits: int) -> Step:
        if z.ndim == 1:
            terms, parts, subs = sample_terms(0, digits)
            return Step(
                id="loss", kind=StepKind.REDUCE, title="Loss L",
                message="Minus the log probability the prediction gives the true class.",
                formula=r"L = -\sum_c t_c \log p_c",
                expansion=rf"L = -\left[{' + '.join(parts) or '0'}\right] = {tex(value, digits)}",
                terms=terms, result=value, target=("loss", ()), substeps=subs,
                reads={"target": [t.factors[0].index for t in terms],
                       "prediction": [t.factors[0].index for t in terms]})
        terms = tuple(term(Factor("sample_loss", (n,), float(per_sample[n]))) for n in range(samples))
        parts = [tex(per_sample[n], digits) for n in range(samples) if shown(n, samples)]
        total = write_sum(parts, float(per_sample.sum()), digits, total=samples).rsplit(" = ", 1)[0]
        return Step(
            id="loss", kind=StepKind.REDUCE, title="Loss L",
            message=(f"Average the {samples} samples' losses (mean over samples, not classes)." if divisor > 1
                     else "Add the samples' losses."),
            formula=r"L = \frac{1}{N} \sum_n L_n" if divisor > 1 else r"L = \sum_n L_n",
            expansion=(rf"L = \frac{{{total}}}{{{samples}}} = {tex(value, digits)}" if divisor > 1
                       else rf"L = {total} = {tex(value, digits)}"),
            terms=terms, result=value, target=("loss", ()), combine=Combine.MEAN if divisor > 1 else Combine.SUM,
            divisor=float(divisor))

    def make_grad(index: tuple[int, ...], digits: int) -> Step:
        at = label(index)
        tv = float(t[index])
        scale = 1.0 / divisor
        over = rf"\frac{{1}}{{{divisor}}}" if divisor > 1 else ""
        if logits:
            pv = float(p[index])
            row_mass = float(mass[index[:-1] + (0,)])
            whole = abs(row_mass - 1) < 1e-12
            p_text = tex(pv, digits) if whole else rf"{tex(pv, digits)} \cdot {tex(row_mass, digits)}"
            return Step(
                id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=f"∂L/∂z({at})",
                message="The softmax's Jacobian times −t/p collapses to p − t: the predicted probability minus "
                        "the target" + (f", divided by the {divisor} samples." if divisor > 1 else ".")
                        + ("" if whole else " The target row adds up to " + fmt(row_mass, digits)
                           + ", so p is weighted by that sum."),
                formula=r"\frac{\partial L}{\partial z_c} = " + (r"\frac{1}{N}" if divisor > 1 else "")
                        + (r"(p_c - t_c)" if whole else r"(p_c \textstyle\sum_k t_k - t_c)") + " = "
                        + (r"\frac{1}{N}" if divisor > 1 else "")
                        + r"\sum_k \frac{-t_k}{p_k}\, p_k(1[k=c] - p_c)",
                expansion=rf"\frac{{\partial L}}{{\partial z_{{{at}}}}} = {over}({p_text} - {factor(tv, digits)})"
                          rf" = {tex(grad[index], digits)}",
                terms=(term(Factor("probabilities", index, pv), Factor("scale", None, scale * row_mass)),
                       term(Factor("target", index, tv), Factor("scale", None, -scale))),
                result=float(grad[index]), target=("grad_input", index),
                reads={"prediction": [index], "target": [index]})
        pv = float(z[index])
        inside = eps <= pv <= 1 - eps
        if tv == 0 or not inside:
            message = ("The target gives this class no weight, so its probability does not enter the loss."
                       if tv == 0 else "The probability was clipped, so the loss does not change with it here.")
            terms: tuple = ()
            expansion = rf"{_d('p', at)} = 0"
        else:
            message = "The derivative of −t log p is −t/p" + (f", divided by the {divisor} samples." if divisor > 1 else ".")
            terms = (term(Factor("target", index, tv), Factor("1/p", index, 1.0 / pv), Factor("scale", None, -scale)),)
            expansion = (rf"{_d('p', at)} = -{over}\frac{{{tex(tv, digits)}}}{{{tex(pv, digits)}}} = "
                         rf"{tex(grad[index], digits)}")
        return Step(
            id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=called('∂L/∂p', index), message=message,
            formula=r"\frac{\partial L}{\partial p_c} = -" + (r"\frac{1}{N}" if divisor > 1 else "") + r"\frac{t_c}{p_c}",
            expansion=expansion, terms=terms, result=float(grad[index]), target=("grad_input", index),
            reads={"prediction": [index], "target": [index]})

    if z.ndim == 2:
        segments.append(Segment("sample_loss", (samples,), make_sample))
        intermediates["sample_loss"] = per_sample
    segments += [Segment("loss", (), make_loss), Segment("grad_input", z.shape, make_grad)]
    if reduction == "mean" and samples > 1:
        notes.append(f"reduction='mean' divides by the {samples} samples, not by the classes (PyTorch's rule).")
    if form == "index":
        notes.append("The target was given as class indices: each is a one-hot row.")
    elif np.any(np.abs(t_rows.sum(axis=-1) - 1) > 1e-9):
        notes.append("A target row does not add up to 1: it is used as given.")
    notes.append("Titles count from 1; step ids and JSON indices count from 0.")
    formula = (r"L = -\frac{1}{N}\sum_n \sum_c t_{n,c} \log p_{n,c}" if divisor > 1
               else r"L = -\sum_c t_c \log p_c")
    if logits:
        formula += r",\quad p = \operatorname{softmax}(z)"
    return Trace(op="loss", params={"kind": kind, "reduction": reduction, "eps": eps, "target_form": form},
                 inputs={"prediction": z, "target": t}, outputs={"loss": value, "grad_input": grad},
                 formula=formula, segments=segments, notes=notes, intermediates=intermediates)


# --- binary cross-entropy ---------------------------------------------------------------------

def _binary(prediction: Any, target: Any, reduction: str, eps: float) -> Trace:
    p = as_tensor(prediction, "prediction", (0, 1, 2, 3, 4))
    t = as_tensor(target, "target", (0, 1, 2, 3, 4))
    t = _like(t, p)
    for name, a in (("prediction", p), ("target", t)):
        bad = np.argwhere((a < 0) | (a > 1))
        if len(bad):
            at = tuple(int(k) for k in bad[0])
            raise EngineError(name, f"{a[at]:g} at {label(at) or 'the top'} is not a probability between 0 and 1", at)
    count = p.size
    divisor = count if reduction == "mean" else 1
    clipped = np.clip(p, eps, 1 - eps)
    log_p, log_q = np.log(clipped), np.log(1 - clipped)
    elementwise = -(t * log_p + (1 - t) * log_q)
    value = float(elementwise.sum() / divisor)
    inside = (p >= eps) & (p <= 1 - eps)
    grad = np.where(inside, (clipped - t) / (clipped * (1 - clipped)), 0.0) / divisor

    def make_element(index: tuple[int, ...], digits: int) -> Step:
        pv, tv = float(clipped[index]), float(t[index])
        at = label(index)
        return Step(
            id=cell_id("elementwise_loss", index), kind=StepKind.REDUCE, title=f"Loss of cell {at}" if at else "Loss of the cell",
            message="The log of the probability given to what happened: p if the target is 1, 1 − p if it is 0."
                    + (" The probability was clipped to [ε, 1 − ε]." if not inside[index] else ""),
            formula=r"\ell = -\left[t \log p + (1 - t) \log(1 - p)\right]",
            expansion=rf"\ell_{{{at}}} = -\left[{tex(tv, digits)} \log {tex(pv, digits)} + {tex(1 - tv, digits)} "
                      rf"\log {tex(1 - pv, digits)}\right] = {tex(elementwise[index], digits)}",
            terms=(term(Factor("target", index, tv), Factor("log p", index, float(log_p[index])), Factor("sign", None, -1.0)),
                   term(Factor("1 - target", index, 1 - tv), Factor("log(1 - p)", index, float(log_q[index])),
                        Factor("sign", None, -1.0))),
            result=float(elementwise[index]), target=("elementwise_loss", index),
            reads={"prediction": [index], "target": [index]})

    def make_loss(index: tuple[int, ...], digits: int) -> Step:
        cells = list(np.ndindex(p.shape))
        terms = tuple(term(Factor("elementwise_loss", c, float(elementwise[c]))) for c in cells)
        parts = [tex(elementwise[c], digits) for k, c in enumerate(cells) if shown(k, count)]
        total = write_sum(parts, float(elementwise.sum()), digits, total=count).rsplit(" = ", 1)[0]
        return Step(
            id="loss", kind=StepKind.REDUCE, title="Loss L",
            message=f"Average over the {count} cells (PyTorch's mean)." if divisor > 1 else "Add the cells' losses.",
            formula=r"L = \frac{1}{N}\sum_i \ell_i" if divisor > 1 else r"L = \sum_i \ell_i",
            expansion=(rf"L = \frac{{{total}}}{{{count}}} = {tex(value, digits)}" if divisor > 1
                       else rf"L = {total} = {tex(value, digits)}"),
            terms=terms, result=value, target=("loss", ()),
            combine=Combine.MEAN if divisor > 1 else Combine.SUM, divisor=float(divisor))

    def make_grad(index: tuple[int, ...], digits: int) -> Step:
        pv, tv = float(p[index]), float(t[index])
        at = label(index)
        over = rf"\frac{{1}}{{{divisor}}}" if divisor > 1 else ""
        if not inside[index]:
            return Step(
                id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=called('∂L/∂p', index),
                message="The probability was clipped, so the loss does not change with it here.",
                formula=r"\frac{\partial L}{\partial p} = \frac{p - t}{p(1 - p)}", expansion=rf"{_d('p', at)} = 0",
                terms=(), result=0.0, target=("grad_input", index), reads={"prediction": [index]})
        weight = 1.0 / (pv * (1 - pv) * divisor)
        return Step(
            id=cell_id("grad_input", index), kind=StepKind.GRADIENT_SUM, title=called('∂L/∂p', index),
            message="The derivative of the binary cross-entropy: the error over p(1 − p).",
            formula=r"\frac{\partial L}{\partial p} = " + (r"\frac{1}{N}" if divisor > 1 else "") + r"\frac{p - t}{p(1 - p)}",
            expansion=rf"{_d('p', at)} = {over}\frac{{{tex(pv, digits)} - {factor(tv, digits)}}}"
                      rf"{{{tex(pv, digits)}({tex(1 - pv, digits)})}} = {tex(grad[index], digits)}",
            terms=(term(Factor("prediction", index, pv), Factor("1/(p(1-p))", index, weight)),
                   term(Factor("target", index, tv), Factor("1/(p(1-p))", index, -weight))),
            result=float(grad[index]), target=("grad_input", index), reads={"prediction": [index], "target": [index]})

    notes = ["reduction='mean' averages over every cell, as PyTorch's BCELoss does." if divisor > 1
             else "reduction='sum' adds the cells' losses."]
    if not np.all(inside):
        notes.append(f"Some probabilities are outside [ε, 1 − ε] with ε = {eps:g}: they are clipped before the log, "
                     "and pass no gradient.")
    notes.append("Titles count from 1; step ids and JSON indices count from 0.")
    return Trace(op="loss", params={"kind": "binary_cross_entropy", "reduction": reduction, "eps": eps},
                 inputs={"prediction": p, "target": t}, outputs={"loss": value, "grad_input": _out(grad)},
                 formula=r"L = -\frac{1}{N}\sum_i \left[t_i \log p_i + (1 - t_i)\log(1 - p_i)\right]" if divisor > 1
                 else r"L = -\sum_i \left[t_i \log p_i + (1 - t_i)\log(1 - p_i)\right]",
                 segments=[Segment("elementwise_loss", p.shape, make_element), Segment("loss", (), make_loss),
                           Segment("grad_input", p.shape, make_grad)],
                 notes=notes, intermediates={"elementwise_loss": _out(elementwise)})

