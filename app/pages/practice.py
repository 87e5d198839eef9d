"""The practice page and the worksheets.

``/practice?op=conv2d&difficulty=easy&seed=7`` shows a problem drawn by ``engine.practice``;
``&answer=...`` checks the typed answer with ``engine.check_answer``; ``&hints=k`` shows the first k
steps that work it out; ``&reveal=1`` shows the answer. An address without a seed draws one and
redirects, so the address always holds the problem.

``/practice/worksheet?op=...&difficulty=...&seed=...&count=N`` (N up to 30) prints the problems of
seeds seed, seed + 1, ... with an answer key on a page of its own; ``/practice/worksheet.tex`` and
``/practice/worksheet.md`` are the same worksheet as LaTeX and Markdown.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine import EngineError, Tolerance, check_answer, parse_matrix, practice
from engine.check import CheckResult
from engine.layout import label
from engine.numfmt import fmt
from engine.practice import DIFFICULTIES, MAX_SEED, PRACTICE_OPS, hint_steps, work
from engine.trace import Trace

from ..limits import WORKSHEET_PROBLEMS
from ..render import Grid, grid, step_view, templates
from . import layers  # noqa: F401  (the layer ops' walkthroughs, which practice links to)
from . import worksheets
from .walkthrough import WALKTHROUGHS

log = logging.getLogger("cnnsteps.pages")
router = APIRouter(include_in_schema=False)

WORKSHEET_COUNT = 10
"""Problems on a worksheet when the address does not say."""

# --- what the problem's fields are called on the page ------------------------------------------

TENSOR_LABELS = {
    "input": "Input x", "kernel": "Kernel k", "bias": "Bias b", "weight": "Weights W", "gamma": "Scale γ",
    "beta": "Shift β", "running_mean": "Running mean", "running_var": "Running variance", "mask": "Mask m",
    "prediction": "Prediction ŷ", "target": "Target t",
}
SETTING_LABELS = {
    "bias": "Bias b", "stride": "Stride", "padding": "Padding", "dilation": "Dilation", "mode": "Operation",
    "kind": "Kind", "kernel_size": "Window", "ceil_mode": "Ceil mode", "count_include_pad": "Average counts padding",
    "function": "Activation", "alpha": "Slope α", "reduction": "Reduction", "lr": "Learning rate η",
    "weight_decay": "Weight decay λ", "p": "Drop probability p", "variant": "Scaling", "training": "Training mode",
    "input_size": "Input size", "target": "True class (from 0)", "eps": "ε",
}
"""Fields shown as a line of text: everything a problem holds that is not a tensor."""
OP_LABELS = {("pool2d", "kind"): "Pooling", ("pool2d/backward", "kind"): "Pooling", ("loss", "kind"): "Loss",
             ("optimizer", "kind"): "Rule", ("output-size", "kernel_size"): "Kernel size"}
"""Settings whose name depends on the op."""
OUTPUT_LABELS = {
    "output": "Output", "grad_input": "∂L/∂x", "loss": "Loss L", "output_size": "Output size",
    "columns": "Columns", "params.w": "w after the update",
}
CLASS_TARGETS = ("cross_entropy", "softmax_cross_entropy")


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " × ".join(_setting_text(v) for v in value)
    if isinstance(value, (int, float)):
        return fmt(value)
    return str(value)


def _squeezed(value: Any) -> np.ndarray:
    """A tensor without the leading axes of length 1 above two (one filter's output is one grid)."""
    a = np.asarray(value, dtype=float)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    return a


def _name_samples(grids: list[Grid]) -> None:
    """Batch norm's (N, C, L) blocks are samples, each a grid of channels × positions."""
    for g in grids:
        if len(g.panels) > 1:
            for k, panel in enumerate(g.panels):
                panel.label = f"sample {k + 1}"


def _grad_label(op: str) -> str:
    return "δ = ∂L/∂z" if op.startswith(("conv", "pool")) else "δ = ∂L/∂y"


@dataclass
class Shown:
    """A problem laid out for a page or a worksheet: tensors to draw, settings to list, the answer."""

    number: int
    op: str
    title: str
    drawn: dict[str, Any]
    tensors: list[tuple[str, np.ndarray]] = field(default_factory=list)
    settings: list[tuple[str, str]] = field(default_factory=list)
    answer_label: str = ""
    answer: np.ndarray | float | None = None
    grids: list[Grid] = field(default_factory=list)
    answer_grid: Grid | None = None
    link: str = ""

    @property
    def prompt(self) -> str:
        return self.drawn["prompt"]

    @property
    def seed(self) -> int:
        return self.drawn["seed"]


def shown(drawn: dict[str, Any], number: int = 1) -> Shown:
    """The tensors, settings and answer of a drawn problem, labelled as the page shows them."""
    op, problem = drawn["op"], drawn["problem"]
    view = Shown(number, op, WALKTHROUGHS[op].title, drawn)
    for name, value in problem.items():
        if name in ("params", "grads"):
            for key, tensor in value.items():
                text = f"Parameter {key}" if name == "params" else f"Gradient ∂L/∂{key}"
                view.tensors.append((text, np.asarray(tensor, dtype=float)))
        elif name == "grad_output":
            view.tensors.append((_grad_label(op), _squeezed(value)))
        elif name == "target" and problem.get("kind") in CLASS_TARGETS:
            view.settings.append((SETTING_LABELS["target"], ", ".join(fmt(v) for v in np.atleast_1d(value))))
        elif name in TENSOR_LABELS and isinstance(value, list):
            array = np.asarray(value, dtype=float)
            if name == "kernel" and array.ndim == 4 and array.shape[0] == 1:
                array = array[0]   # one filter: its slices, one per input channel
            view.tensors.append((TENSOR_LABELS[name], array))
        else:
            text = OP_LABELS.get((op, name), SETTING_LABELS.get(name, name))
            view.settings.append((text, _setting_text(value)))
    view.answer_label = OUTPUT_LABELS.get(drawn["output"], drawn["output"])
    # a cell within the check's absolute tolerance of 0 (ε's trace in a batch norm) is shown as the 0 it
    # is by hand; the JSON keeps the op's exact numbers
    answer = np.where(np.abs(_squeezed(drawn["answer"])) < Tolerance().absolute, 0.0, _squeezed(drawn["answer"]))
    view.answer = float(answer) if answer.ndim == 0 else answer
    view.grids = [grid(f"given{k}", text, array) for k, (text, array) in enumerate(view.tensors)]
    view.answer_grid = grid("answer", view.answer_label, view.answer)
    if op.startswith("batchnorm"):
        _name_samples(view.grids + [view.answer_grid])
    view.link = practice_url(op, drawn["difficulty"], drawn["seed"])
    return view


# --- addresses --------------------------------------------------------------------------------

def practice_url(op: str, difficulty: str, seed: int, **more: Any) -> str:
    query = {"op": op, "difficulty": difficulty, "seed": seed}
    query.update({k: v for k, v in more.items() if v not in (None, "", 0, False)})
    return "/practice?" + urlencode(query)


def worksheet_url(op: str, difficulty: str, seed: int, count: int, suffix: str = "") -> str:
    return f"/practice/worksheet{suffix}?" + urlencode({"op": op, "difficulty": difficulty, "seed": seed,
                                                         "count": count})


def tensor_text(value: Any) -> str:
    """A tensor as the walkthrough pages' matrix text: rows on lines, channels after a blank line."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 0:
        return fmt(float(a))
    if a.ndim == 1:
        return " ".join(fmt(v) for v in a)
    if a.ndim == 2:
        return "\n".join(tensor_text(row) for row in a)
    return "\n\n".join(tensor_text(block) for block in a)


PAGE_NEUTRAL = {
    "bias": "", "stride": "1", "padding": "0", "dilation": "1", "mode": "correlation", "ceil_mode": "false",
    "count_include_pad": "true", "gamma": "", "beta": "", "running_mean": "", "running_var": "",
    "training": "true", "mask": "", "seed": "", "alpha": "0.01", "weight_decay": "0", "reduction": "mean",
    "steps": "1", "watch": "",
}
"""What a walkthrough field holds when the problem leaves it out: the op's own default, which is not
always the page's preset (the dense page starts with a bias of 0.2)."""


def walkthrough_query(op: str, problem: dict[str, Any]) -> dict[str, str]:
    """The walkthrough page's fields for ``problem`` (the op's body), so the page works the same problem."""
    w = WALKTHROUGHS[op]
    query = {}
    for f in w.fields:
        if f.name in problem:
            value = problem[f.name]
        elif f.name == "stride" and op.startswith("pool"):
            value = ""   # pooling's stride is the window unless given
        elif f.name == "kernel" and op == "im2col":
            value = ""
        else:
            query[f.name] = PAGE_NEUTRAL.get(f.name, f.default)
            continue
        if isinstance(value, dict):   # an optimizer's named tensors
            query[f.name] = "\n".join(f"{name}: {tensor_text(v)}" for name, v in value.items())
        elif isinstance(value, bool):
            query[f.name] = "true" if value else "false"
        elif isinstance(value, str):
            query[f.name] = value
        elif f.kind == "matrix" or isinstance(value, list) and f.name not in ("stride", "padding", "dilation",
                                                                                "kernel_size", "input_size"):
            query[f.name] = tensor_text(value)
        else:
            query[f.name] = " ".join(fmt(v) for v in np.atleast_1d(value))
    return query


def walkthrough_url(op: str, problem: dict[str, Any], step: int | None = None) -> str:
    url = f"/{op}?" + urlencode(walkthrough_query(op, problem))
    return url if step is None else f"{url}#step-{step}"


# --- the page ---------------------------------------------------------------------------------

@dataclass
class Checked:
    """A typed answer, checked: the verdict, the diagnosis, the answer drawn with its wrong cells marked."""

    result: CheckResult | None = None
    error: str | None = None
    marked: Grid | None = None
    study: str = ""
    study_step: int | None = None
    wrong: list[str] = field(default_factory=list)


def _seed(text: str | None) -> int:
    words = (text or "").strip()
    if not words.isdigit() or int(words) > MAX_SEED:
        raise EngineError("seed", f"{words!r} is not a seed: use a whole number from 0 to {MAX_SEED:,}")
    return int(words)


def _read(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    """op, difficulty and seed from the address, and the message beside each field that is wrong."""
    params = request.query_params
    values: dict[str, Any] = {"op": params.get("op", "conv2d"), "difficulty": params.get("difficulty", "easy")}
    errors: dict[str, str] = {}
    if values["op"] not in PRACTICE_OPS:
        errors["op"] = f"{values['op']!r} has no practice problems: pick one from the list"
    if values["difficulty"] not in DIFFICULTIES:
        errors["difficulty"] = f"{values['difficulty']!r} is not a difficulty: use easy, medium or hard"
    try:
        values["seed"] = _seed(params.get("seed"))
    except EngineError as error:
        errors["seed"] = error.problem
    return values, errors


def _whole(text: str | None, default: int) -> int:
    words = (text or "").strip()
    return int(words) if words.isdigit() and len(words) < 6 else default


_TOKEN = re.compile(r"[+\-−]?(?:\d+\.?\d*|\.\d+)(?:[eE][+\-]?\d+)?")


def typed(text: str, values: np.ndarray) -> Any:
    """The answer's cells as the numbers were typed ("2.90" keeps its two decimals, which decide how
    closely it must match), when the text's number tokens are exactly the parsed cells, in order;
    otherwise (fractions, say) the parsed numbers."""
    tokens = _TOKEN.findall(text)
    if len(tokens) != values.size:
        return values.tolist()
    for token, value in zip(tokens, values.flat):
        if float(token.replace("−", "-")) != value:
            return values.tolist()
    return np.array(tokens, dtype=object).reshape(values.shape).tolist()


def _check(drawn: dict[str, Any], trace: Trace, text: str, hints: list[int]) -> Checked:
    op, problem = drawn["op"], drawn["problem"]
    try:
        given = parse_matrix(text, "answer")
        result = check_answer(op, problem, typed(text, given), trace=trace)
    except EngineError as error:
        return Checked(error=error.problem)
    except Exception:  # an engine bug must not become an error page
        log.exception("the engine failed to check a practice answer")
        return Checked(error="this answer could not be checked; please report the problem's address")
    checked = Checked(result)
    if result.cells:
        values = np.zeros(result.shape)
        for cell in result.cells:
            values[cell.index] = cell.given
        shown_values = _squeezed(values)
        lead = values.ndim - shown_values.ndim   # the axes of length 1 left out of the drawing
        checked.marked = grid("typed", "Your answer", shown_values if shown_values.ndim else float(shown_values))
        verdicts = {",".join(str(k) for k in c.index[lead:]): c.correct for c in result.cells}
        for panel in checked.marked.panels:
            for row in panel.rows:
                for cell in row:
                    cell.kind = "right" if verdicts.get(cell.index, True) else "wrong"
        checked.wrong = [f"({label(c.index)})" if c.index else "the value" for c in result.cells if not c.correct]
        if op.startswith("batchnorm"):
            _name_samples([checked.marked])
    wrong = [c for c in result.cells if not c.correct]
    position = trace.steps.position(wrong[0].step_id) if wrong and wrong[0].step_id else None
    if position is None and hints:
        position = hints[0]
    if position is not None:
        checked.study_step = position + 1
        checked.study = walkthrough_url(op, problem, position + 1)
    return checked


def _options() -> list[tuple[str, str]]:
    return [(op, WALKTHROUGHS[op].title) for op in PRACTICE_OPS]


@router.get("/practice", response_class=HTMLResponse)
async def practice_page(request: Request) -> Response:
    params = request.query_params
    if not params.get("seed", "").strip():
        query = {"op": params.get("op", "conv2d"), "difficulty": params.get("difficulty", "easy"),
                 "seed": secrets.randbelow(MAX_SEED + 1)}
        return RedirectResponse("/practice?" + urlencode(query), status_code=303)
    values, errors = _read(request)
    context: dict[str, Any] = {"values": values, "errors": errors, "ops": _options(), "difficulties": DIFFICULTIES,
                               "present": False, "max_worksheet": WORKSHEET_PROBLEMS, "worksheet_count": WORKSHEET_COUNT,
                               "another": practice_url(values["op"] if "op" not in errors else "conv2d",
                                                       values["difficulty"] if "difficulty" not in errors else "easy",
                                                       secrets.randbelow(MAX_SEED + 1))}
    if not errors:
        context.update(_problem_context(request, values))
    html = templates.get_template("practice.html").render(request=request, **context)
    return HTMLResponse(html)


def _problem_context(request: Request, values: dict[str, Any]) -> dict[str, Any]:
    """The drawn problem, the checked answer, the hints shown and the links around them."""
    params = request.query_params
    op, difficulty, seed = values["op"], values["difficulty"], values["seed"]
    try:
        drawn = practice(op, seed=seed, difficulty=difficulty)
        trace = work(op, drawn["problem"])
    except Exception:  # an engine bug must not become an error page
        log.exception("the engine failed to draw a practice problem")
        return {"errors": {"op": f"this problem could not be drawn; please report {op}, {difficulty}, seed {seed}"}}
    hints = hint_steps(trace, drawn["output"])
    shown_hints = min(_whole(params.get("hints"), 0), len(hints))
    answer_text = params.get("answer", "")
    reveal = params.get("reveal") == "1"
    keep = {"answer": answer_text, "hints": shown_hints, "reveal": "1" if reveal else None}
    return dict(
        p=shown(drawn), answer_text=answer_text, reveal=reveal,
        checked=_check(drawn, trace, answer_text, hints) if answer_text.strip() else None,
        hint_total=len(hints), hint_count=shown_hints,
        hints=[step_view(trace.steps[i], i + 1, trace.digits) for i in hints[:shown_hints]],
        next_hint=(practice_url(op, difficulty, seed, **{**keep, "hints": shown_hints + 1})
                   + f"#step-{hints[shown_hints] + 1}") if shown_hints < len(hints) else None,
        reveal_url=practice_url(op, difficulty, seed, **{**keep, "reveal": "1"}) + "#answer-key",
        walkthrough=walkthrough_url(op, drawn["problem"], hints[0] + 1 if hints else None),
        worksheets={suffix: worksheet_url(op, difficulty, seed, WORKSHEET_COUNT, suffix)
                    for suffix in ("", ".tex", ".md")},
        others=[(d, practice_url(op, d, seed)) for d in DIFFICULTIES if d != difficulty],
        answer_shape=_shape_words(drawn["answer"]),
    )


def _shape_words(answer: Any) -> str:
    shape = np.shape(answer)
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"{shape[0]} numbers in a row"
    if len(shape) == 2:
        return f"{shape[0]} rows of {shape[1]} numbers, one row per line (or rows separated by ;)"
    blocks = int(np.prod(shape[:-2]))
    if blocks == 1:
        return f"{shape[-2]} rows of {shape[-1]} numbers, one row per line (or rows separated by ;)"
    return f"{blocks} blocks of {shape[-2]} rows of {shape[-1]} numbers, a blank line between blocks"


# --- worksheets -------------------------------------------------------------------------------

@dataclass
class Worksheet:
    op: str
    difficulty: str
    seed: int
    count: int
    problems: list[Shown]

    @property
    def title(self) -> str:
        return f"Practice: {WALKTHROUGHS[self.op].title}"

    @property
    def subtitle(self) -> str:
        last = (self.seed + self.count - 1) % (MAX_SEED + 1)
        return (f"{self.count} problem{'s' * (self.count != 1)}, {self.difficulty}; seeds {self.seed} to {last}. "
                "The answer key follows the problems.")


def _worksheet(request: Request) -> Worksheet | str:
    """The worksheet the address asks for, or the message saying what is wrong with the address."""
    values, errors = _read(request)
    if "seed" in errors and not request.query_params.get("seed", "").strip():
        errors.pop("seed")
        values["seed"] = 0
    count_text = request.query_params.get("count", str(WORKSHEET_COUNT)).strip()
    if not count_text.isdigit() or not 1 <= int(count_text) <= WORKSHEET_PROBLEMS:
        errors["count"] = f"{count_text!r} is not a number of problems: use 1 to {WORKSHEET_PROBLEMS}"
    if errors:
        return "; ".join(f"{name}: {message}" for name, message in errors.items())
    op, difficulty, seed, count = values["op"], values["difficulty"], values["seed"], int(count_text)
    try:
        problems = [shown(practice(op, seed=(seed + i) % (MAX_SEED + 1), difficulty=difficulty), i + 1)
                    for i in range(count)]
    except Exception:  # an engine bug must not become an error page
        log.exception("the engine failed to draw a worksheet")
        return f"op: these problems could not be drawn; please report {op}, {difficulty}, seed {seed}"
    return Worksheet(op, difficulty, seed, count, problems)


@router.get("/practice/worksheet", response_class=HTMLResponse)
async def worksheet_page(request: Request) -> Response:
    sheet = _worksheet(request)
    if isinstance(sheet, str):
        html = templates.get_template("worksheet.html").render(error=sheet, present=False)
        return HTMLResponse(html, status_code=422)
    links = {suffix: worksheet_url(sheet.op, sheet.difficulty, sheet.seed, sheet.count, suffix)
             for suffix in (".tex", ".md")}
    html = templates.get_template("worksheet.html").render(sheet=sheet, links=links, present=False,
                                                           back=practice_url(sheet.op, sheet.difficulty, sheet.seed))
    return HTMLResponse(html)


@router.get("/practice/worksheet.tex")
async def worksheet_tex(request: Request) -> Response:
    sheet = _worksheet(request)
    if isinstance(sheet, str):
        return Response(sheet + "\n", status_code=422, media_type="text/plain; charset=utf-8")
    text = worksheets.latex(sheet.title, sheet.subtitle, sheet.problems)
    return Response(text, media_type="application/x-tex; charset=utf-8", headers=_attachment(sheet, "tex"))


@router.get("/practice/worksheet.md")
async def worksheet_md(request: Request) -> Response:
    sheet = _worksheet(request)
    if isinstance(sheet, str):
        return Response(sheet + "\n", status_code=422, media_type="text/plain; charset=utf-8")
    text = worksheets.markdown(sheet.title, sheet.subtitle, sheet.problems)
    return Response(text, media_type="text/markdown; charset=utf-8", headers=_attachment(sheet, "md"))


def _attachment(sheet: Worksheet, suffix: str) -> dict[str, str]:
    name = f"practice-{sheet.op.replace('/', '-')}-{sheet.difficulty}-{sheet.seed}.{suffix}"
    return {"Content-Disposition": f'inline; filename="{name}"'}
