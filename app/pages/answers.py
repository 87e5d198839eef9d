"""Check my answer on a walkthrough page: the answer typed under the walkthrough is checked against the
page's own trace by ``engine.check_answer``, and the page marks the wrong cells in the output's grid,
says which usual mistake explains them, and links the steps to study.

The form is a GET form: the page's problem travels with ``answer`` (one number, or the whole output
as matrix text), ``answer_output`` (which output, when the op has several) and ``answer_cell`` (the
row and column of one cell, counted from 1 as the steps name cells), so a checked answer is a link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import EngineError, check_answer, parse_matrix
from engine.check import CHECKABLE
from engine.layout import label
from engine.numfmt import fmt
from engine.trace import Trace

from ..render import Grid, mathml

ANSWER, OUTPUT, CELL = "answer", "answer_output", "answer_cell"
MAX_LISTED = 12
"""Wrong cells listed by name; the rest are counted (the grid marks them all)."""


@dataclass
class CheckView:
    """What the check form shows: the answer as typed, the choices, an error beside a box, the result."""

    text: str = ""
    output: str = ""
    cell: str = ""
    outputs: list[tuple[str, str]] = field(default_factory=list)
    """(output name, its title) of every output that can be checked, the op's first output first."""
    error: dict[str, str] | None = None
    """{"field": "answer" | "answer_output" | "answer_cell", "message": ...} when the answer cannot be checked."""
    result: dict[str, Any] | None = None


def problem_of(api: str, trace: Trace) -> dict[str, Any]:
    """The op's API body read back from its trace: the inputs, and the parameters the op's route takes.

    Right for ops whose parameters the trace keeps as given; a page whose parameters are resolved
    (padding "same" as four numbers) gives its own ``Walkthrough.problem`` instead."""
    spec = CHECKABLE[api]
    fields = set(spec.required + spec.optional)
    body = {name: value for name, value in trace.inputs.items() if name in fields}
    body.update({name: value for name, value in trace.params.items() if name in fields and name not in body})
    return body


def _checkable_outputs(trace: Trace, grids: list) -> list[tuple[str, str]]:
    """The outputs, then the intermediates, that the page draws with numbers, in the page's order; the
    op's first output even when it is too large to draw."""
    numeric = {name for name, value in trace.flat_outputs().items() if _numeric(value)}
    outputs = [name for name in _flat_names(trace.outputs) if name in numeric]
    drawn = [(g.tensor, g.title) for heading, group in grids if heading == "Computed" for g in group
             if g.tensor in numeric]
    titles = dict(drawn)
    first = [(name, titles[name]) for name in outputs if name in titles] or [(name, name) for name in outputs[:1]]
    return first + [pair for pair in drawn if pair[0] not in outputs]


def _flat_names(values: dict[str, Any], prefix: str = "") -> list[str]:
    names: list[str] = []
    for key, value in values.items():
        if isinstance(value, dict):
            names += _flat_names(value, f"{prefix}{key}.")
        else:
            names.append(f"{prefix}{key}")
    return names


def _numeric(value: Any) -> bool:
    try:
        return np.issubdtype(np.asarray(value).dtype, np.number)
    except (TypeError, ValueError):
        return False


def _cell(text: str, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """'2, 1' (counted from 1) -> (1, 0); empty -> None (the whole output)."""
    words = text.replace(",", " ").replace("(", " ").replace(")", " ").split()
    if not words:
        return None
    try:
        numbers = [int(w) for w in words]
    except ValueError:
        raise EngineError(CELL, f"{text.strip()!r}: give the row and column as whole numbers, such as 2, 1") from None
    if not shape:
        raise EngineError(CELL, "this output is a single number: leave the cell empty")
    if len(numbers) != len(shape):
        what = {1: "one number (the position)", 2: "two numbers (row, column)",
                3: "three numbers (channel, row, column)"}.get(len(shape), f"{len(shape)} numbers")
        raise EngineError(CELL, f"this output has shape {shape}: give {what}")
    if any(not 1 <= k <= n for k, n in zip(numbers, shape)):
        raise EngineError(CELL, f"({', '.join(map(str, numbers))}) is outside the output, whose shape is {shape} "
                                "(counted from 1)")
    return tuple(k - 1 for k in numbers)


def check_view(query: Any, api: str, trace: Trace, grids: list,
               problem: dict[str, Any] | None = None) -> CheckView | None:
    """The check form for a page's query (None when the op cannot be checked); with an ``answer`` in the
    query, the answer checked against ``problem`` (by default read back from the trace) and the wrong
    cells marked in ``grids`` (the td of each gets the class ``wrong``)."""
    if api not in CHECKABLE:
        return None
    problem = problem_of(api, trace) if problem is None else problem
    view = CheckView(text=query.get(ANSWER, ""), output=query.get(OUTPUT, ""), cell=query.get(CELL, ""),
                     outputs=_checkable_outputs(trace, grids))
    if ANSWER not in query or not view.outputs:
        return view
    titles = dict(view.outputs)
    if view.output and view.output not in titles:
        view.error = {"field": OUTPUT if len(titles) > 1 else ANSWER,   # one output: no choice is shown
                      "message": f"{view.output!r} is not an output here: choose one of {', '.join(titles)}"}
        return view
    output = view.output = view.output or view.outputs[0][0]
    values = trace.flat_outputs()[output]
    try:
        cell = _cell(view.cell, tuple(np.shape(values)))
        if not view.text.strip():
            raise EngineError(ANSWER, "is empty: type one number, or the whole output as rows such as 1 2; 3 4")
        answer = parse_matrix(view.text, ANSWER)
    except EngineError as error:
        view.error = _refusal(error)
        return view
    try:
        result = check_answer(api, problem, answer, output=output, cell=cell, trace=trace)
    except EngineError as error:
        view.error = _refusal(error, one_number=answer.size == 1 and cell is None and np.size(values) > 1)
        return view
    except (ValueError, TypeError, KeyError, IndexError, ArithmeticError) as error:   # never an error page
        view.error = {"field": ANSWER, "message": f"this answer could not be checked ({type(error).__name__})"}
        return view
    view.result = _result(result, trace, grids, titles[output])
    return view


def _refusal(error: EngineError, one_number: bool = False) -> dict[str, str]:
    """An answer the check refused, as the message beside the box it is about."""
    if error.argument in (CELL, "cell"):
        return {"field": CELL, "message": error.problem}
    if error.argument not in (ANSWER, "output"):
        return {"field": ANSWER, "message": f"this problem cannot be checked: {error.problem}"}
    hint = "; to check one cell, give its row and column below" if one_number else ""
    return {"field": ANSWER, "message": error.problem + hint}


def _result(result: Any, trace: Trace, grids: list, title: str) -> dict[str, Any]:
    steps = trace.steps

    def number(step_id: str | None) -> int | None:
        at = None if step_id is None else steps.position(step_id)
        return None if at is None else at + 1

    wrong = [c for c in result.cells if not c.correct]
    listed = []
    for c in wrong[:MAX_LISTED]:
        n = number(c.step_id)
        name = steps[n - 1].title if n is not None else f"{title} ({label(c.index)})" if c.index else title
        listed.append({"name": name, "given": fmt(c.given), "expected": fmt(c.expected), "step": n})
    study = None
    first = result.first_wrong_term
    if first is not None and number(first["step_id"]) is not None:
        study = {"step": number(first["step_id"]), "title": first["title"], "expansion": mathml(first["expansion"]),
                 "terms": first["term_count"]}
    _mark(grids, result.output, {",".join(str(k) for k in c.index) for c in wrong})
    return {"correct": result.correct, "diagnosis": result.diagnosis, "mistake": result.mistake,
            "wrong": listed, "more": len(wrong) - len(listed), "wrong_count": len(wrong),
            "checked": len(result.cells), "output": title, "study": study}


def _mark(grids: list, tensor: str, wrong: set[str]) -> None:
    for heading, group in grids:
        if heading != "Computed":
            continue
        for g in group:
            if isinstance(g, Grid) and g.tensor == tensor:
                for panel in g.panels:
                    for row in panel.rows:
                        for c in row:
                            if c.index in wrong and c.kind != "pad":
                                c.kind = (c.kind + " wrong").strip()
