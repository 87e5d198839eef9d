"""Optimizer updates: SGD, SGD with momentum and Adam, one step per parameter cell.

Conventions (PyTorch's): momentum keeps v <- mu v + g and steps w <- w - lr v, with the learning
rate outside the velocity; Adam adds eps outside the square root of the bias-corrected v_hat;
weight decay lambda is L2 added to the gradient, g' = g + lambda w, before any rule sees it.

Step ids: ``step`` (the counter t), then for each parameter, in the order ``params`` gives them,
``velocity.<name>[i,j]`` (momentum) or ``m.<name>``, ``v.<name>``, ``m_hat.<name>``, ``v_hat.<name>``
(Adam), then ``params.<name>[i,j]``. Steps write to the dotted output names ``state.step``,
``state.velocity.<name>``, ``state.m.<name>``, ``state.v.<name>``, ``params.<name>`` and the
intermediates ``m_hat.<name>``, ``v_hat.<name>``. A factor named ``params.w``, ``grads.w`` or
``state.m.w`` reads the arguments (the state before this update); one named ``velocity.w``,
``m.w``, ``m_hat.w`` or ``v_hat.w`` reads what an earlier step of the trace wrote.
Values kept in ``params`` or ``state`` are UPDATE steps; Adam's bias corrections are ELEMENTWISE.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .errors import EngineError
from .layout import label
from .numfmt import factor, fmt, tex
from .tensors import as_number, as_tensor
from .trace import Factor, Segment, Step, StepKind, Term, Trace, cell_id, term

KINDS = ("sgd", "momentum", "adam")
BUFFERS = {"sgd": (), "momentum": ("velocity",), "adam": ("m", "v")}
RULE_NAMES = {"sgd": "plain SGD", "momentum": "SGD with momentum", "adam": "Adam"}
RANKS = (0, 1, 2, 3, 4)
HATS = {"m": "m\u0302", "v": "v\u0302"}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


@dataclass(frozen=True)
class Update:
    """The validated arguments: ``rule`` is the update applied ('sgd' with momentum is 'momentum')."""

    kind: str
    rule: str
    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    before: dict[str, dict[str, np.ndarray]]   # the state's buffers before the update, by buffer name
    t: int
    lr: float
    momentum: float
    betas: tuple[float, float]
    eps: float
    weight_decay: float


def _fraction(value: Any, name: str) -> float:
    """A number in [0, 1)."""
    number = as_number(value, name)
    if not 0 <= number < 1:
        raise EngineError(name, f"must be at least 0 and below 1, got {fmt(number)}")
    return number


def _tensors(value: Any, argument: str, buffer: str = "") -> dict[str, np.ndarray]:
    """{name: float64 array} from a mapping of names to numbers or nested lists."""
    inside = f"{buffer}: " if buffer else ""
    if not isinstance(value, Mapping):
        raise EngineError(argument, f"{inside}expected names mapped to arrays, such as {{'w': [0.2, -0.5]}}")
    if not value:
        raise EngineError(argument, f"{inside}no parameters given")
    arrays = {}
    for name, array in value.items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise EngineError(argument, f"{inside}{name!r} is not a usable name: use letters, digits, '_' "
                                        f"and dots between words")
        try:
            arrays[name] = as_tensor(array, argument, RANKS)
        except EngineError as error:
            raise EngineError(argument, f"{inside}{name!r}: {error.problem}", error.location) from None
    return arrays


def _shape_text(shape: tuple[int, ...]) -> str:
    return "a single number" if not shape else f"shape {shape}"


def _same_names(arrays: dict[str, np.ndarray], params: dict[str, np.ndarray], argument: str,
                buffer: str = "") -> None:
    inside = f"{buffer}: " if buffer else ""
    for name in params:
        if name not in arrays:
            raise EngineError(argument, f"{inside}no value for the parameter {name!r}")
    for name, array in arrays.items():
        if name not in params:
            raise EngineError(argument, f"{inside}{name!r} is not one of the parameters "
                                        f"({', '.join(map(repr, params))})")
        if array.shape != params[name].shape:
            raise EngineError(argument, f"{inside}{name!r} has {_shape_text(array.shape)}, but the parameter has "
                                        f"{_shape_text(params[name].shape)}")


def _state(state: Any, rule: str, params: dict[str, np.ndarray]) -> tuple[int, dict[str, dict[str, np.ndarray]]]:
    """The number of updates already taken and the buffers they left."""
    if state is None:
        return 0, {b: {name: np.zeros_like(w) for name, w in params.items()} for b in BUFFERS[rule]}
    if not isinstance(state, Mapping):
        raise EngineError("state", "expected the 'state' output of a previous update, or nothing for the first one")
    expected = ("step",) + BUFFERS[rule]
    for key in state:
        if key not in expected:
            raise EngineError("state", f"{key!r} is not part of {RULE_NAMES[rule]}'s state, which holds "
                                       f"{', '.join(map(repr, expected))}")
    for key in expected:
        if key not in state:
            raise EngineError("state", f"{key!r} is missing: {RULE_NAMES[rule]}'s state holds "
                                       f"{', '.join(map(repr, expected))}")
    step = state["step"]
    if isinstance(step, (bool, np.bool_)) or not (isinstance(step, (int, np.integer)) or
                                                  isinstance(step, float) and step.is_integer()):
        raise EngineError("state", f"step: {step!r} is not a whole number")
    if step < 0:
        raise EngineError("state", f"step: the number of updates taken cannot be negative, got {int(step)}")
    buffers = {}
    for buffer in BUFFERS[rule]:
        buffers[buffer] = _tensors(state[buffer], "state", buffer)
        _same_names(buffers[buffer], params, "state", buffer)
    return int(step), buffers


def _prepare(params, grads, kind, lr, momentum, betas, eps, weight_decay, state) -> Update:
    if kind not in KINDS:
        raise EngineError("kind", f"{kind!r} is not an optimizer: use 'sgd', 'momentum' or 'adam'")
    w = _tensors(params, "params")
    g = _tensors(grads, "grads")
    _same_names(g, w, "grads")
    lr_ = as_number(lr, "lr")
    if lr_ <= 0:
        raise EngineError("lr", f"the learning rate must be above 0, got {fmt(lr_)}")
    mu = _fraction(momentum, "momentum")
    if kind == "adam" and mu:
        raise EngineError("momentum", "Adam has no momentum argument: its betas play that part")
    if not isinstance(betas, (list, tuple)) or len(betas) != 2:
        raise EngineError("betas", "expected two numbers, (beta1, beta2)")
    beta1, beta2 = _fraction(betas[0], "betas"), _fraction(betas[1], "betas")
    eps_ = as_number(eps, "eps")
    if eps_ <= 0:
        raise EngineError("eps", f"must be above 0, got {fmt(eps_)}")
    wd = as_number(weight_decay, "weight_decay")
    if wd < 0:
        raise EngineError("weight_decay", f"cannot be negative, got {fmt(wd)}")
    rule = "momentum" if kind == "momentum" or (kind == "sgd" and mu > 0) else kind
    taken, before = _state(state, rule, w)
    return Update(kind, rule, w, g, before, taken + 1, lr_, mu, (beta1, beta2), eps_, wd)


def _numbers(u: Update) -> dict[str, dict[str, np.ndarray]]:
    """Every tensor the update writes, by what it is and then by parameter name."""
    beta1, beta2 = u.betas
    out: dict[str, dict[str, np.ndarray]] = {key: {} for key in ("params", *BUFFERS[u.rule])}
    if u.rule == "adam":
        out.update(m_hat={}, v_hat={}, inv_denominator={})
    for name, w in u.params.items():
        g = u.grads[name] + u.weight_decay * w
        if u.rule == "sgd":
            out["params"][name] = w - u.lr * g
        elif u.rule == "momentum":
            velocity = u.momentum * u.before["velocity"][name] + g
            out["velocity"][name] = velocity
            out["params"][name] = w - u.lr * velocity
        else:
            m = beta1 * u.before["m"][name] + (1 - beta1) * g
            v = beta2 * u.before["v"][name] + (1 - beta2) * g * g
            m_hat = m * (1 / (1 - beta1 ** u.t))
            v_hat = v * (1 / (1 - beta2 ** u.t))
            inv_denominator = 1 / (np.sqrt(v_hat) + u.eps)
            out["m"][name], out["v"][name], out["m_hat"][name], out["v_hat"][name] = m, v, m_hat, v_hat
            out["inv_denominator"][name] = inv_denominator
            out["params"][name] = w + (-u.lr) * m_hat * inv_denominator
    return out


def _caller(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Arrays as returned to the caller: a 0-d array as a plain float."""
    return {name: float(a) if a.ndim == 0 else a for name, a in arrays.items()}


# ---- how a cell is written ---------------------------------------------------------------------------

def _symbol(name: str, index: tuple[int, ...]) -> str:
    """LaTeX for a parameter cell: w_{1,2}; a longer name upright, \\mathrm{fc\\_w}_{1}."""
    base = name if len(name) == 1 else r"\mathrm{" + name.replace("_", r"\_") + "}"
    return f"{base}_{{{label(index)}}}" if index else base


def _title(name: str, index: tuple[int, ...]) -> str:
    return f"{name}({label(index)})" if index else name


def _grad_symbol(u: Update, W: str) -> str:
    """g for W, with the weight-decay term when there is one."""
    return rf"(g_{{{W}}} + \lambda {W})" if u.weight_decay else f"g_{{{W}}}"


def _grad_text(u: Update, g: float, w: float, digits: int) -> str:
    """The gradient g' in numbers, bracketed to follow a coefficient: (11.6) or (11.6 + 0.01(0.2))."""
    if u.weight_decay:
        return f"({tex(g, digits)} + {tex(u.weight_decay, digits)}({tex(w, digits)}))"
    return f"({tex(g, digits)})"


def _times_grad(u: Update, coefficient: tuple[Factor, ...], name: str, index: tuple[int, ...],
                g: float, w: float) -> list[Term]:
    """Terms of coefficient * g', g' = g + lambda w."""
    grad = Factor(f"grads.{name}", index, g)
    terms = [term(*coefficient, grad)]
    if u.weight_decay:
        terms.append(term(*coefficient, Factor("weight_decay", None, u.weight_decay),
                          Factor(f"params.{name}", index, w)))
    return terms


def _times_grad_squared(u: Update, coefficient: tuple[Factor, ...], name: str, index: tuple[int, ...],
                        g: float, w: float) -> list[Term]:
    """Terms of coefficient * g'^2, multiplied out: (g + lambda w)(g + lambda w)."""
    grad = Factor(f"grads.{name}", index, g)
    if not u.weight_decay:
        return [term(*coefficient, grad, grad)]
    decay = (Factor("weight_decay", None, u.weight_decay), Factor(f"params.{name}", index, w))
    return [term(*coefficient, grad, grad), term(*coefficient, grad, *decay), term(*coefficient, *decay, grad),
            term(*coefficient, *decay, *decay)]


def _count_step(u: Update, index: tuple[int, ...], digits: int) -> Step:
    message = ("No state was given, so this is the first update: t = 1." if u.t == 1 else
               f"{u.t - 1} update{'s' * (u.t != 2)} came before this one, so this is update number {u.t}.")
    return Step(
        id="step", kind=StepKind.UPDATE, title="Update count t", message=message,
        formula=r"t \leftarrow t + 1", expansion=f"t = {u.t - 1} + 1 = {u.t}",
        terms=(term(Factor("state.step", (), float(u.t - 1))), term(Factor("one", None, 1.0))),
        result=u.t, target=("state.step", ()), reads={"state.step": [()]},
    )


def _params_step(u: Update, out: dict, name: str, index: tuple[int, ...], digits: int) -> Step:
    w, g = float(u.params[name][index]), float(u.grads[name][index])
    new = float(out["params"][name][index])
    W = _symbol(name, index)
    lr = Factor("-lr", None, -u.lr)
    old = term(Factor(f"params.{name}", index, w))
    reads: dict[str, list[tuple[int, ...]]] = {f"params.{name}": [index]}
    if u.rule == "sgd":
        terms = [old, *_times_grad(u, (lr,), name, index, g, w)]
        formula = rf"{W} \leftarrow {W} - \eta\, {_grad_symbol(u, W)}"
        numbers = f"{tex(w, digits)} - {tex(u.lr, digits)}{_grad_text(u, g, w, digits)}"
        message = f"Subtract the learning rate times the gradient from {_title(name, index)}"
        reads[f"grads.{name}"] = [index]
    elif u.rule == "momentum":
        velocity = float(out["velocity"][name][index])
        terms = [old, term(lr, Factor(f"velocity.{name}", index, velocity))]
        formula = rf"{W} \leftarrow {W} - \eta\, v_{{{W}}}"
        numbers = f"{tex(w, digits)} - {tex(u.lr, digits)}({tex(velocity, digits)})"
        message = f"Subtract the learning rate times the new velocity from {_title(name, index)}"
        reads[f"velocity.{name}"] = [index]
    else:
        m_hat, v_hat = float(out["m_hat"][name][index]), float(out["v_hat"][name][index])
        inv = float(out["inv_denominator"][name][index])
        terms = [old, term(lr, Factor(f"m_hat.{name}", index, m_hat), Factor("1/(sqrt(v_hat)+eps)", None, inv))]
        formula = rf"{W} \leftarrow {W} - \eta\, \frac{{\hat m_{{{W}}}}}{{\sqrt{{\hat v_{{{W}}}}} + \epsilon}}"
        numbers = (rf"{tex(w, digits)} - {tex(u.lr, digits)} \cdot \frac{{{tex(m_hat, digits)}}}"
                   rf"{{\sqrt{{{tex(v_hat, digits)}}} + {tex(u.eps, digits)}}}")
        message = (f"Step {_title(name, index)} against m̂ divided by √v̂ + ε: the division takes out the "
                   f"gradient's scale, so the learning rate sets the size of the step")
        reads[f"m_hat.{name}"] = [index]
        reads[f"v_hat.{name}"] = [index]
    if u.weight_decay and u.rule == "sgd":
        message += " (the gradient with weight decay included)"
    return Step(
        id=cell_id(f"params.{name}", index), kind=StepKind.UPDATE, title=f"{_title(name, index)} after the update",
        message=message + ".", formula=formula, expansion=f"{W} = {numbers} = {tex(new, digits)}",
        terms=tuple(terms), result=new, target=(f"params.{name}", index), reads=reads,
    )


def _velocity_step(u: Update, out: dict, name: str, index: tuple[int, ...], digits: int) -> Step:
    w, g = float(u.params[name][index]), float(u.grads[name][index])
    before = float(u.before["velocity"][name][index])
    velocity = float(out["velocity"][name][index])
    W = _symbol(name, index)
    terms = [term(Factor("momentum", None, u.momentum), Factor(f"state.velocity.{name}", index, before)),
             *_times_grad(u, (), name, index, g, w)]
    grad_text = _grad_text(u, g, w, digits) if u.weight_decay else factor(g, digits)
    message = (f"Keep {fmt(u.momentum, digits)} of {_title(name, index)}'s velocity and add its gradient"
               + (" (weight decay included)" if u.weight_decay else "") + "."
               + (" The run starts from a velocity of 0." if u.t == 1 else ""))
    return Step(
        id=cell_id(f"velocity.{name}", index), kind=StepKind.UPDATE, title=f"Velocity of {_title(name, index)}",
        message=message, formula=rf"v_{{{W}}} \leftarrow \mu\, v_{{{W}}} + {_grad_symbol(u, W)}",
        expansion=(f"v_{{{W}}} = {tex(u.momentum, digits)}({tex(before, digits)}) + {grad_text} "
                   f"= {tex(velocity, digits)}"),
        terms=tuple(terms), result=velocity, target=(f"state.velocity.{name}", index),
        reads={f"state.velocity.{name}": [index], f"grads.{name}": [index]}
        | ({f"params.{name}": [index]} if u.weight_decay else {}),
    )


def _moment_step(u: Update, out: dict, moment: str, name: str, index: tuple[int, ...], digits: int) -> Step:
    """Adam's m (moment 'm', beta1, the gradient) or v (moment 'v', beta2, the squared gradient)."""
    w, g = float(u.params[name][index]), float(u.grads[name][index])
    first = moment == "m"
    beta = u.betas[0] if first else u.betas[1]
    k = 1 if first else 2
    before = float(u.before[moment][name][index])
    value = float(out[moment][name][index])
    W = _symbol(name, index)
    keep = term(Factor(f"beta{k}", None, beta), Factor(f"state.{moment}.{name}", index, before))
    blend = (Factor(f"1-beta{k}", None, 1 - beta),)
    new = (_times_grad if first else _times_grad_squared)(u, blend, name, index, g, w)
    power = "" if first else "^2"
    message = ((f"Blend {_title(name, index)}'s running mean of the gradient: {fmt(beta, digits)} of the old "
                f"value plus {fmt(1 - beta, digits)} of the gradient") if first else
               (f"Blend {_title(name, index)}'s running mean of the squared gradient: {fmt(beta, digits)} of the "
                f"old value plus {fmt(1 - beta, digits)} of the gradient squared"))
    message += (" (weight decay included)" if u.weight_decay else "") + "."
    if u.t == 1:
        message += " The run starts from 0."
    return Step(
        id=cell_id(f"{moment}.{name}", index), kind=StepKind.UPDATE,
        title=f"{'First' if first else 'Second'} moment {moment} of {_title(name, index)}", message=message,
        formula=(rf"{moment}_{{{W}}} \leftarrow \beta_{k}\, {moment}_{{{W}}} + (1 - \beta_{k})\, "
                 rf"{_grad_symbol(u, W)}{power}"),
        expansion=(f"{moment}_{{{W}}} = {tex(beta, digits)}({tex(before, digits)}) + {tex(1 - beta, digits)}"
                   f"{_grad_text(u, g, w, digits)}{power} = {tex(value, digits)}"),
        terms=(keep, *new), result=value, target=(f"state.{moment}.{name}", index),
        reads={f"state.{moment}.{name}": [index], f"grads.{name}": [index]}
        | ({f"params.{name}": [index]} if u.weight_decay else {}),
    )


def _corrected_step(u: Update, out: dict, moment: str, name: str, index: tuple[int, ...], digits: int) -> Step:
    """Adam's bias correction: m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)."""
    k = 1 if moment == "m" else 2
    beta = u.betas[k - 1]
    value = float(out[moment][name][index])
    corrected = float(out[f"{moment}_hat"][name][index])
    W = _symbol(name, index)
    scale = 1 / (1 - beta ** u.t)
    return Step(
        id=cell_id(f"{moment}_hat.{name}", index), kind=StepKind.ELEMENTWISE,
        title=f"Bias-corrected {HATS[moment]} of {_title(name, index)}",
        message=(f"Divide by 1 − β{k}^t = {fmt(1 - beta ** u.t, digits)} to undo the pull towards 0 that the "
                 f"zero start leaves in {moment} after {u.t} update{'s' * (u.t != 1)}."),
        formula=rf"\hat {moment}_{{{W}}} = \frac{{{moment}_{{{W}}}}}{{1 - \beta_{k}^{{t}}}}",
        expansion=(rf"\hat {moment}_{{{W}}} = \frac{{{tex(value, digits)}}}{{1 - {tex(beta, digits)}^{{{u.t}}}}} "
                   f"= {tex(corrected, digits)}"),
        terms=(term(Factor(f"{moment}.{name}", index, value), Factor(f"1/(1-beta{k}^t)", None, scale)),),
        result=corrected, target=(f"{moment}_hat.{name}", index), reads={f"{moment}.{name}": [index]},
    )


def _segments(u: Update, out: dict) -> list[Segment]:
    segments = [Segment("step", (), partial(_count_step, u))]
    for name, w in u.params.items():
        if u.rule == "momentum":
            segments.append(Segment(f"velocity.{name}", w.shape, partial(_velocity_step, u, out, name)))
        elif u.rule == "adam":
            segments += [Segment(f"m.{name}", w.shape, partial(_moment_step, u, out, "m", name)),
                         Segment(f"v.{name}", w.shape, partial(_moment_step, u, out, "v", name)),
                         Segment(f"m_hat.{name}", w.shape, partial(_corrected_step, u, out, "m", name)),
                         Segment(f"v_hat.{name}", w.shape, partial(_corrected_step, u, out, "v", name))]
        segments.append(Segment(f"params.{name}", w.shape, partial(_params_step, u, out, name)))
    return segments


def _formula(u: Update) -> str:
    g = r"(g + \lambda w)" if u.weight_decay else "g"
    return {
        "sgd": rf"w \leftarrow w - \eta\, {g}",
        "momentum": rf"v \leftarrow \mu v + {g}, \quad w \leftarrow w - \eta\, v",
        "adam": (rf"m \leftarrow \beta_1 m + (1 - \beta_1) {g}, \quad v \leftarrow \beta_2 v + (1 - \beta_2) {g}^2, "
                 r"\quad \hat m = \frac{m}{1 - \beta_1^t}, \quad \hat v = \frac{v}{1 - \beta_2^t}, "
                 r"\quad w \leftarrow w - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}"),
    }[u.rule]


def _notes(u: Update) -> list[str]:
    notes = []
    if u.kind == "sgd" and u.rule == "momentum":
        notes.append("SGD with momentum above 0 follows the momentum rule, as torch.optim.SGD does.")
    if u.rule == "momentum":
        notes.append("Momentum in PyTorch's form: v = μv + g, then w = w − lr·v. Some texts write "
                     "v = μv + lr·g; the two agree only while the learning rate stays the same.")
    if u.rule == "adam":
        notes.append("Adam as in PyTorch: m and v start at 0 and are bias-corrected by 1 − β^t; ε is added "
                     "outside the square root, √v̂ + ε.")
    if u.weight_decay:
        notes.append(f"Weight decay λ = {fmt(u.weight_decay)} is L2 regularization added to the gradient, "
                     f"g' = g + λw, before the update rule (PyTorch's weight_decay"
                     + ("; AdamW's decoupled decay is a different rule)." if u.rule == "adam" else ")."))
    notes.append(f"This is update t = {u.t} of the run" + (", starting from a fresh state." if u.t == 1 else ".")
                 + f" Pass the returned state back to take update {u.t + 1}.")
    notes.append("Titles count cells from 1; step ids and JSON indices count from 0.")
    return notes


def optimizer_step(params, grads, *, kind, lr, momentum=0.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   state=None) -> Trace:
    """One optimizer update of every parameter, one step per cell.

    Parameters
    ----------
    params, grads : {name: array of rank 0 to 4}, the same names and shapes
    kind : 'sgd' | 'momentum' | 'adam'; 'sgd' with momentum > 0 is the momentum rule
    state : None for the first update, or ``outputs["state"]`` of the previous one:
        {"step": t} (sgd), {"step": t, "velocity": {name: array}} (momentum),
        {"step": t, "m": {name: array}, "v": {name: array}} (adam)

    Returns outputs {"params": {name: array}, "state": {...}} in the callers' shapes (a 0-d parameter
    as a float); for Adam, intermediates {"m_hat": {name: array}, "v_hat": {name: array}}.

    Notes
    -----
    g' = g + lambda w (weight_decay); t counts the updates including this one.
    sgd:       w <- w - lr g'
    momentum:  v <- mu v + g',  w <- w - lr v
    adam:      m <- beta1 m + (1 - beta1) g',  v <- beta2 v + (1 - beta2) g'^2,
               m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t),  w <- w - lr m_hat / (sqrt(v_hat) + eps)
    """
    u = _prepare(params, grads, kind, lr, momentum, betas, eps, weight_decay, state)
    out = _numbers(u)
    new_state: dict[str, Any] = {"step": u.t}
    for buffer in BUFFERS[u.rule]:
        new_state[buffer] = _caller(out[buffer])
    before: dict[str, Any] = {"step": u.t - 1}
    for buffer in BUFFERS[u.rule]:
        before[buffer] = _caller(u.before[buffer])
    intermediates = ({"m_hat": _caller(out["m_hat"]), "v_hat": _caller(out["v_hat"])} if u.rule == "adam" else {})
    return Trace(
        op="optimizer_step",
        params={"kind": u.kind, "lr": u.lr, "momentum": u.momentum, "betas": list(u.betas), "eps": u.eps,
                "weight_decay": u.weight_decay, "step": u.t},
        inputs={"params": _caller(u.params), "grads": _caller(u.grads), "state": before},
        outputs={"params": _caller(out["params"]), "state": new_state},
        formula=_formula(u), segments=_segments(u, out), notes=_notes(u), intermediates=intermediates,
    )
