"""Check a student's answer against an op's trace, and name the usual mistake behind a wrong one.

``check_answer("conv2d", {"input": X, "kernel": K}, [[4, 0], [4, 3]])`` works the problem (the
op's own JSON body, with the API's field names), compares the answer cell by cell, and, when it
is wrong, works the problem again under each usual mistake of ``engine.mistakes``: the first one
that reproduces every cell of the answer is named in one sentence. When none does, the result
lists the wrong cells and the terms of the first wrong cell's step, to compare one by one.

Tolerance (``Tolerance``): a cell is right when |given − expected| is at most the largest of
1e-6, 1e-3·|expected|, and half a unit in the last decimal place the student wrote: 0.33 is
right for 1/3, 2.9 and "2.90" are right for 2.9, 3 is not right for 2.9 (a whole number allows
no rounding). A number passed as a float counts the decimals of its shortest form (2.9 has one);
passed as text ("2.90") it keeps the decimals as typed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from .activations import activation, activation_backward
from .conv import conv1d, conv1d_backward, conv2d, conv2d_backward, im2col
from .dense import dense, dense_backward, flatten
from .dropout import dropout
from .errors import EngineError, where
from .layout import label
from .losses import loss
from .mistakes import EVERY_OP, MISTAKES, Context
from .norm import batchnorm, batchnorm_backward
from .numfmt import fmt
from .optim import optimizer_step
from .pool import pool2d, pool2d_backward
from .shapes import output_size
from .trace import Step, Trace, cell_id

MAX_CHECKED_CELLS = 10_000
"""Cells one check compares; a larger output is checked a cell at a time (``cell=``)."""
MAX_DIAGNOSED_NUMBERS = 50_000
"""Numbers in a problem (its tensors and outputs) up to which the usual mistakes are worked out."""
MAX_SHOWN_TERMS = 100
"""Terms of the first wrong cell's step given back to compare."""


# --- the ops that can be checked --------------------------------------------------------------

@dataclass(frozen=True)
class Checkable:
    """An op as the API names it: the engine call for its body, and the body's fields."""

    run: Callable[[dict[str, Any]], Trace]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    refuse: Callable[[dict[str, Any]], None] | None = None
    """Refuses a problem that can be worked but not checked."""


def _options(problem: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: problem[name] for name in names if problem.get(name) is not None}


CONV_OPTIONS = ("stride", "padding", "dilation", "groups", "mode")
POOL_OPTIONS = ("kind", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")


def _conv(op: Callable[..., Trace], backward: bool) -> Callable[[dict[str, Any]], Trace]:
    def run(p: dict[str, Any]) -> Trace:
        tensors = (p["input"], p["kernel"]) + ((p["grad_output"],) if backward else ())
        return op(*tensors, p.get("bias"), **_options(p, CONV_OPTIONS))
    return run


def _undrawn_mask(p: dict[str, Any]) -> None:
    if p.get("training", True) and p.get("mask") is None and p.get("seed") is None:
        raise EngineError("seed", "give the mask, or the seed that drew it: without either a new mask is drawn, "
                                  "and the answer cannot be checked against it")


CHECKABLE: dict[str, Checkable] = {
    "conv2d": Checkable(_conv(conv2d, False), ("input", "kernel"), ("bias",) + CONV_OPTIONS),
    "conv2d/backward": Checkable(_conv(conv2d_backward, True), ("input", "kernel", "grad_output"),
                                 ("bias",) + CONV_OPTIONS),
    "conv1d": Checkable(_conv(conv1d, False), ("input", "kernel"), ("bias",) + CONV_OPTIONS),
    "conv1d/backward": Checkable(_conv(conv1d_backward, True), ("input", "kernel", "grad_output"),
                                 ("bias",) + CONV_OPTIONS),
    "pool2d": Checkable(lambda p: pool2d(p["input"], **_options(p, POOL_OPTIONS)), ("input", "kernel_size"),
                        POOL_OPTIONS[:1] + POOL_OPTIONS[2:]),
    "pool2d/backward": Checkable(lambda p: pool2d_backward(p["input"], p["grad_output"], **_options(p, POOL_OPTIONS)),
                                 ("input", "kernel_size", "grad_output"), POOL_OPTIONS[:1] + POOL_OPTIONS[2:]),
    "im2col": Checkable(lambda p: im2col(p["input"], w=p.get("kernel"),
                                         **_options(p, ("kernel_size", "stride", "padding", "dilation"))),
                        ("input", "kernel_size"), ("stride", "padding", "dilation", "kernel")),
    "output-size": Checkable(lambda p: output_size(p["input_size"], p["kernel_size"],
                                                   **_options(p, ("stride", "padding", "dilation", "ceil_mode"))),
                             ("input_size", "kernel_size"), ("stride", "padding", "dilation", "ceil_mode")),
    "activation": Checkable(lambda p: activation(p["input"], **_options(p, ("function", "alpha", "dim"))),
                            ("input", "function"), ("alpha", "dim")),
    "activation/backward": Checkable(lambda p: activation_backward(p["input"], p["grad_output"],
                                                                   **_options(p, ("function", "alpha", "dim"))),
                                     ("input", "function", "grad_output"), ("alpha", "dim")),
    "dense": Checkable(lambda p: dense(p["input"], p["weight"], p.get("bias")), ("input", "weight"), ("bias",)),
    "dense/backward": Checkable(lambda p: dense_backward(p["input"], p["weight"], p["grad_output"], p.get("bias")),
                                ("input", "weight", "grad_output"), ("bias",)),
    "flatten": Checkable(lambda p: flatten(p["input"]), ("input",), ()),
    "loss": Checkable(lambda p: loss(p["prediction"], p["target"], **_options(p, ("kind", "reduction", "eps"))),
                      ("prediction", "target", "kind"), ("reduction", "eps")),
    "optimizer": Checkable(lambda p: optimizer_step(p["params"], p["grads"], **_options(
        p, ("kind", "lr", "momentum", "betas", "eps", "weight_decay", "state"))),
        ("params", "grads", "kind", "lr"), ("momentum", "betas", "eps", "weight_decay", "state")),
    "batchnorm": Checkable(lambda p: batchnorm(p["input"], p.get("gamma"), p.get("beta"), **_options(
        p, ("eps", "training", "running_mean", "running_var", "momentum"))),
        ("input",), ("gamma", "beta", "eps", "training", "running_mean", "running_var", "momentum")),
    "batchnorm/backward": Checkable(lambda p: batchnorm_backward(p["input"], p.get("gamma"), p.get("beta"),
                                                                 p["grad_output"], **_options(p, ("eps",))),
                                    ("input", "grad_output"), ("gamma", "beta", "eps")),
    "dropout": Checkable(lambda p: dropout(p["input"], **_options(p, ("p", "mask", "seed", "variant", "training"))),
                         ("input", "p"), ("mask", "seed", "variant", "training"), refuse=_undrawn_mask),
}
"""Every op whose answer can be checked, by its API name."""

TRACE_NAMES = {"conv2d_backward": "conv2d/backward", "conv1d_backward": "conv1d/backward",
               "pool2d_backward": "pool2d/backward", "activation_backward": "activation/backward",
               "dense_backward": "dense/backward", "batchnorm_backward": "batchnorm/backward",
               "output_size": "output-size"}
"""A trace's ``op`` where it differs from the API name, so ``trace.op`` can be passed as the op."""


def _checkable(op: str) -> tuple[str, Checkable]:
    name = TRACE_NAMES.get(op, op)
    if name not in CHECKABLE:
        raise EngineError("op", f"{op!r} cannot be checked: use one of {', '.join(CHECKABLE)}")
    return name, CHECKABLE[name]


def _problem(op: str, spec: Checkable, problem: Any) -> dict[str, Any]:
    if not isinstance(problem, Mapping):
        raise EngineError("problem", f"expected the {op} body as an object of fields, such as {{'input': ...}}")
    for name in problem:
        if name not in spec.required + spec.optional:
            raise EngineError(str(name), f"is not a field of {op}: use {', '.join(spec.required + spec.optional)}")
    for name in spec.required:
        if problem.get(name) is None:
            raise EngineError(name, f"is missing: {op} needs {', '.join(spec.required)}")
    if spec.refuse is not None:
        spec.refuse(dict(problem))
    return dict(problem)


# --- the answer as written --------------------------------------------------------------------

@dataclass(frozen=True)
class Tolerance:
    """When a written number counts as right (see the module's docstring)."""

    absolute: float = 1e-6
    relative: float = 1e-3
    rounding: bool = True
    """Allow half a unit in the last decimal place written."""

    def allows(self, given: np.ndarray, places: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Cell by cell: is ``given`` (written with ``places`` decimals) right for ``expected``?

        A non-finite value (an overflow worked by hand) matches only a non-finite one."""
        finite = np.isfinite(given) & np.isfinite(expected)
        with np.errstate(invalid="ignore", over="ignore"):
            room = np.maximum(self.absolute, self.relative * np.abs(expected))
            if self.rounding:
                room = np.maximum(room, np.where(places > 0, 0.5 * 10.0 ** -places.astype(float), 0.0))
            close = np.abs(given - expected) <= room * (1 + 1e-12)
        return np.where(finite, close, ~np.isfinite(given) & ~np.isfinite(expected))


TOLERANCE = Tolerance()


def _decimals(value: float) -> int:
    """Decimal places of a float's shortest form; a whole number has none."""
    if not math.isfinite(value) or value.is_integer():
        return 0
    return max(0, -Decimal(repr(value)).as_tuple().exponent)


def _cell(value: Any, at: tuple[int, ...]) -> tuple[float, int]:
    """(the number, its decimal places) of one written cell."""
    if isinstance(value, (bool, np.bool_)):
        raise EngineError("answer", f"true/false at {_at(at)} is not a number", at)
    if isinstance(value, (int, np.integer)):
        try:
            return float(value), 0
        except OverflowError:
            raise EngineError("answer", f"the number at {_at(at)} is too large", at) from None
    if isinstance(value, (float, np.floating)):
        return float(value), _decimals(float(value))
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-").replace(" ", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise EngineError("answer", f"{value!r} at {_at(at)} is not a number", at) from None
        if number.is_nan() or number.is_infinite():
            return float(number), 0
        exponent = number.as_tuple().exponent
        return float(number), max(0, -int(exponent))
    raise EngineError("answer", f"{value!r} at {_at(at)} is not a number", at)


def _at(at: tuple[int, ...]) -> str:
    return where(at) if at else "the top"


def read_answer(answer: Any) -> tuple[np.ndarray, np.ndarray]:
    """The written answer as (numbers, decimal places), arrays of one shape.

    Takes a number, a numeric text, nested lists of them, or an array; refuses ragged rows,
    booleans and words, each with its position."""
    if isinstance(answer, np.ndarray):
        if answer.dtype == bool or not (np.issubdtype(answer.dtype, np.number) or answer.dtype == object):
            raise EngineError("answer", f"expected numbers, got an array of {answer.dtype}")
        answer = answer.tolist()
    values: list[float] = []
    places: list[int] = []

    def walk(value: Any, at: tuple[int, ...]) -> tuple[int, ...]:
        if not isinstance(value, (list, tuple)):
            number, decimals = _cell(value, at)
            values.append(number)
            places.append(decimals)
            return ()
        if not value:
            raise EngineError("answer", f"is empty at {_at(at)}: expected numbers", at)
        if len(at) >= 4:
            raise EngineError("answer", "is nested more than 4 lists deep", at)
        shapes = [walk(item, at + (i,)) for i, item in enumerate(value)]
        for i, shape in enumerate(shapes[1:], start=1):
            if shape != shapes[0]:
                raise EngineError("answer", f"ragged: item {i + 1}{' of ' + where(at) if at else ''} has "
                                            f"{_shape_words(shape)}, item 1 has {_shape_words(shapes[0])}",
                                  at + (i,))
        return (len(value),) + shapes[0]

    shape = walk(answer, ())
    return np.array(values, dtype=float).reshape(shape), np.array(places, dtype=int).reshape(shape)


def _shape_words(shape: tuple[int, ...]) -> str:
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"{shape[0]} number{'s' * (shape[0] != 1)}"
    if len(shape) == 2:
        return f"{shape[0]} row{'s' * (shape[0] != 1)} of {shape[1]}"
    return "shape (" + ", ".join(map(str, shape)) + ")"


# --- the result -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckedCell:
    index: tuple[int, ...]
    given: float
    expected: float
    step_id: str | None
    correct: bool

    def as_dict(self) -> dict[str, Any]:
        return {"index": list(self.index), "given": self.given, "expected": self.expected,
                "step_id": self.step_id, "correct": self.correct}


@dataclass(frozen=True)
class CheckResult:
    """What a check found. ``cells`` holds every cell compared (empty when the answer's shape is a
    mistake's, not the output's); ``mistake`` is the code of the mistake named in ``diagnosis``."""

    op: str
    output: str
    shape: tuple[int, ...]
    correct: bool
    cells: tuple[CheckedCell, ...]
    diagnosis: str
    mistake: str | None = None
    first_wrong_term: dict[str, Any] | None = None

    @property
    def wrong_cells(self) -> list[list[int]]:
        return [list(c.index) for c in self.cells if not c.correct]

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "output": self.output, "shape": list(self.shape), "correct": self.correct,
                "wrong_cells": self.wrong_cells, "cells": [c.as_dict() for c in self.cells],
                "diagnosis": self.diagnosis, "mistake": self.mistake, "first_wrong_term": self.first_wrong_term}


# --- checking ---------------------------------------------------------------------------------

class _Outputs:
    """The checked output of a trace: its numbers, and the step that writes each cell."""

    SCAN_LIMIT = 5_000

    def __init__(self, trace: Trace, name: str | None):
        self.trace = trace
        outputs = [k for k, v in _flat(trace.outputs).items() if _numeric(v)]
        others = [k for k, v in trace.flat_outputs().items() if k not in outputs and _numeric(v)]
        self.name = outputs[0] if name is None else name
        if self.name not in outputs + others:
            raise EngineError("output", f"{self.name!r} is not an output of {trace.op}: use "
                                        f"{', '.join(outputs + others)}")
        self.values = np.asarray(trace.flat_outputs()[self.name], dtype=float)
        self._targets: dict[tuple[bool, ...], dict[tuple[int, ...], str]] | None = None

    def step_id(self, index: tuple[int, ...]) -> str | None:
        direct = cell_id(self.name, index)
        if self.trace.steps.position(direct) is not None:
            return direct
        # ids that are not name[i,j] ('output_size.rows', 'velocity.w[0]', 'columns[3]'), found by the
        # steps' targets; a None in a target spans that axis (an im2col column)
        for spans, ids in self._by_target().items():
            if len(spans) == len(index):
                found = ids.get(tuple(k for k, span in zip(index, spans) if not span))
                if found is not None:
                    return found
        return None

    def _by_target(self) -> dict[tuple[bool, ...], dict[tuple[int, ...], str]]:
        if self._targets is None:
            self._targets = {}
            steps = self.trace.steps
            if len(steps) <= self.SCAN_LIMIT:
                for step in steps:
                    if step.target is not None and step.target[0] == self.name:
                        target = tuple(step.target[1])
                        spans = tuple(k is None for k in target)
                        self._targets.setdefault(spans, {})[tuple(k for k in target if k is not None)] = step.id
        return self._targets

    def step(self, index: tuple[int, ...]) -> Step | None:
        step_id = self.step_id(index)
        return None if step_id is None else self.trace.steps.by_id(step_id)


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _numeric(value: Any) -> bool:
    try:
        return np.issubdtype(np.asarray(value).dtype, np.number)
    except (ValueError, TypeError):
        return False


def _index(cell: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool):
        cell = (cell,)
    if not isinstance(cell, (list, tuple)) or any(isinstance(k, bool) or not isinstance(k, (int, np.integer))
                                                  for k in cell):
        raise EngineError("cell", f"expected the cell's index as whole numbers counted from 0, got {cell!r}")
    index = tuple(int(k) for k in cell)
    if len(index) != len(shape) or any(not 0 <= k < n for k, n in zip(index, shape)):
        raise EngineError("cell", f"{list(index)} is not a cell of an output of shape {shape} "
                                  "(indices count from 0)")
    return index


def check_answer(op: str, problem: Mapping[str, Any], answer: Any, *, output: str | None = None,
                 cell: Sequence[int] | None = None, tolerance: Tolerance = TOLERANCE,
                 trace: Trace | None = None) -> CheckResult:
    """Check ``answer`` against the ``output`` of ``op`` worked on ``problem``.

    Parameters
    ----------
    op : an API op name ('conv2d', 'pool2d/backward', 'output-size', ...) or a trace's op name.
    problem : the op's JSON body as a dict (tensors as nested lists or arrays).
    answer : a number, a numeric text, or nested lists of them, in the output's shape (its
        transpose is read as rows and columns swapped); with ``cell``, one number.
    output : which output to check ('grad_weight', 'loss', 'params.w', 'running_var', ...);
        by default the op's first output.
    cell : check one cell of the output only, by its 0-based index.
    trace : the op's trace of this very problem, when the caller has it already.

    Returns a CheckResult; an answer of a shape neither the output's nor any mistake's raises
    EngineError('answer', ...) naming the shape expected.
    """
    name, spec = _checkable(op)
    problem = _problem(name, spec, problem)
    if trace is None:
        with np.errstate(all="ignore"):
            trace = spec.run(problem)
    out = _Outputs(trace, output)
    given, places = read_answer(answer)
    expected = out.values
    index = None if cell is None else _index(cell, expected.shape)
    target_shape = () if index is not None else expected.shape
    if index is None and expected.size > MAX_CHECKED_CELLS:
        raise EngineError("answer", f"the output has {expected.size:,} cells; check at most "
                                    f"{MAX_CHECKED_CELLS:,} at once, or one cell at a time")
    checker = _Checker(name, problem, trace, out, index, tolerance)
    if given.shape != target_shape:
        if given.size == int(np.prod(target_shape)) and given.squeeze().shape == np.empty(target_shape).squeeze().shape:
            given, places = given.reshape(target_shape), places.reshape(target_shape)
        elif index is None and expected.ndim == 2 and given.shape == expected.shape[::-1]:
            return checker.transposed(given.T, places.T)
        else:
            return checker.misshapen(given, places)
    return checker.compare(given, places)


class _Checker:
    """One check: compares, and searches the usual mistakes."""

    def __init__(self, op: str, problem: dict[str, Any], trace: Trace, out: _Outputs,
                 index: tuple[int, ...] | None, tolerance: Tolerance):
        self.op, self.problem, self.trace, self.out = op, problem, trace, out
        self.index, self.tolerance = index, tolerance

    @property
    def expected(self) -> np.ndarray:
        return self.out.values if self.index is None else self.out.values[self.index]

    def cells(self, given: np.ndarray, places: np.ndarray, ok: np.ndarray) -> tuple[CheckedCell, ...]:
        if self.index is not None:
            return (CheckedCell(self.index, float(given), float(self.expected), self.out.step_id(self.index),
                                bool(ok)),)
        return tuple(CheckedCell(i, float(given[i]), float(self.out.values[i]), self.out.step_id(i), bool(ok[i]))
                     for i in np.ndindex(given.shape))

    def result(self, correct: bool, cells: tuple[CheckedCell, ...], diagnosis: str, mistake: str | None = None,
               first_wrong_term: dict[str, Any] | None = None) -> CheckResult:
        return CheckResult(self.op, self.out.name, tuple(self.out.values.shape), correct, cells, diagnosis,
                           mistake, first_wrong_term)

    def compare(self, given: np.ndarray, places: np.ndarray) -> CheckResult:
        ok = self.tolerance.allows(given, places, self.expected)
        cells = self.cells(given, places, ok)
        if ok.all():
            return self.result(True, cells, _right(cells))
        wrong = [c.index for c in cells if not c.correct]
        found = self.diagnose(given, places, wrong)
        if found is not None:
            return self.result(False, cells, found[1], found[0])
        _refuse_non_finite(given)
        first = wrong[0]
        return self.result(False, cells, self.unexplained(cells, wrong), None, self.first_wrong_term(first, cells))

    def transposed(self, given: np.ndarray, places: np.ndarray) -> CheckResult:
        """An answer of the output's shape turned on its side: compared after turning it back."""
        _refuse_non_finite(given)
        ok = self.tolerance.allows(given, places, self.expected)
        cells = self.cells(given, places, ok)
        rows, cols = self.expected.shape
        sentence = (f"Rows and columns are swapped: the output has {rows} rows of {cols}, and the answer "
                    f"{cols} rows of {rows}.")
        wrong = [c for c in cells if not c.correct]
        if wrong:
            verb = "differs" if len(wrong) == 1 else "differ"
            sentence += (f" Turned back, {_count_cells(len(wrong))} still {verb}: "
                         f"{_list_cells([c.index for c in wrong])}.")
        else:
            sentence += " Turned back, every number is right."
        return self.result(False, cells, sentence, "transposed")

    def misshapen(self, given: np.ndarray, places: np.ndarray) -> CheckResult:
        """An answer of another shape: right only if a usual mistake gives that shape."""
        found = self.diagnose(given, places, [])
        if found is not None:
            return self.result(False, (), found[1], found[0])
        shape = self.expected.shape
        if self.index is not None:
            raise EngineError("answer", f"expected one number for the cell {list(self.index)}, got "
                                        f"{_shape_words(given.shape)}")
        raise EngineError("answer", f"expected {_shape_words(shape)} (shape {shape}), the shape of {self.out.name}; "
                                    f"got {_shape_words(given.shape)} (shape {given.shape})")

    def diagnose(self, given: np.ndarray, places: np.ndarray,
                 wrong: list[tuple[int, ...]]) -> tuple[str, str] | None:
        """(code, sentence) of the first usual mistake that reproduces the answer, or None."""
        if self._size() > MAX_DIAGNOSED_NUMBERS:
            return None
        context = Context(self.op, self.problem, self.trace, self.out.name, self.out.values, self._rerun,
                          self.out.step, wrong if self.index is None else [self.index])
        for mistake in MISTAKES.get(self.op, ()) + EVERY_OP:
            if not mistake.applies(self.out.name):
                continue
            try:
                with np.errstate(all="ignore"):
                    for values, sentence in mistake.attempts(context):
                        if self._reproduces(values, given, places):
                            return mistake.code, sentence
            except (EngineError, ValueError, KeyError, TypeError, IndexError, ArithmeticError):
                continue  # the mistake does not apply to a problem of this form
        return None

    def _reproduces(self, values: Any, given: np.ndarray, places: np.ndarray) -> bool:
        if values is None:
            return False
        values = np.asarray(values, dtype=float)
        if self.index is not None:
            if values.shape != self.out.values.shape:
                return False
            values = values[self.index]
        if values.shape != given.shape:
            return False
        return bool(self.tolerance.allows(given, places, values).all())

    def _rerun(self, **changes: Any) -> np.ndarray | None:
        problem = {**self.problem, **changes}
        problem = {k: v for k, v in problem.items() if v is not None}
        try:
            trace = CHECKABLE[self.op].run(problem)
            return np.asarray(_flat(trace.outputs).get(self.out.name, trace.flat_outputs().get(self.out.name)),
                              dtype=float)
        except (EngineError, ValueError, TypeError):
            return None

    def _size(self) -> int:
        tensors = list(_flat(self.trace.inputs).values()) + list(self.trace.flat_outputs().values())
        return sum(int(np.size(v)) for v in tensors if _numeric(v))

    def unexplained(self, cells: tuple[CheckedCell, ...], wrong: list[tuple[int, ...]]) -> str:
        if len(cells) == 1:
            cell = cells[0]
            what = f"The cell {_label(cell.index)}" if cell.index else "The answer"
            return (f"{what} is {fmt(cell.expected)}, not {fmt(cell.given)}, and no usual mistake gives "
                    f"{fmt(cell.given)}: compare your working with the step, term by term.")
        many = self._size() > MAX_DIAGNOSED_NUMBERS
        return (f"{_count_cells(len(wrong)).capitalize()} of {len(cells):,} "
                f"{'is' if len(wrong) == 1 else 'are'} wrong: {_list_cells(wrong)}. "
                + ("The problem is too large to search for a usual mistake; " if many else
                   "No usual mistake gives these numbers; ")
                + f"compare your terms for {_label(wrong[0])} with its step.")

    def first_wrong_term(self, index: tuple[int, ...], cells: tuple[CheckedCell, ...]) -> dict[str, Any] | None:
        """The first wrong cell's step: its expected terms, to compare one by one."""
        step = self.out.step(index)
        if step is None:
            return None
        given = next(c.given for c in cells if c.index == index)
        return {"step_id": step.id, "index": list(index), "title": step.title, "expansion": step.expansion,
                "given": given, "expected": float(self.out.values[index]),
                "terms": [t.as_dict() for t in step.terms[:MAX_SHOWN_TERMS]], "term_count": len(step.terms)}


def _refuse_non_finite(given: np.ndarray) -> None:
    """NaN and infinity are answers only where a mistake (an overflow) explains them."""
    bad = np.argwhere(~np.isfinite(given))
    if len(bad):
        at = tuple(int(k) for k in bad[0])
        value = float(given[at])
        word = "NaN" if math.isnan(value) else ("infinity" if value > 0 else "-infinity")
        raise EngineError("answer", f"{word} at {_at(at)} is not a finite number", at)


def _label(index: tuple[int, ...]) -> str:
    return f"({label(index)})" if index else "the value"


def _count_cells(n: int) -> str:
    return f"{n} cell{'s' * (n != 1)}" if n != 1 else "one cell"


def _list_cells(cells: list[tuple[int, ...]], limit: int = 6) -> str:
    shown = [_label(c) for c in cells[:limit]]
    if len(cells) > limit:
        shown.append(f"and {len(cells) - limit} more")
    elif len(shown) > 1:
        shown[-1] = "and " + shown[-1]
    return (", " if len(shown) > 2 else " ").join(shown)


def _right(cells: tuple[CheckedCell, ...]) -> str:
    if len(cells) == 1:
        return f"Right: {fmt(cells[0].expected)}."
    return f"Right: all {len(cells)} cells match."
