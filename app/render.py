"""Trace -> view helpers: LaTeX as MathML, numbers without float noise, grids of cells."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from latex2mathml.converter import convert
from markupsafe import Markup

from engine.numfmt import DEFAULT_DIGITS, fmt
from engine.trace import Step, Trace

from .resources import folder


@functools.lru_cache(maxsize=4096)
def mathml(latex: str) -> Markup:
    """Server-rendered MathML; the LaTeX stays as the accessible alternative text."""
    try:
        return Markup(convert(latex).replace("<math ", f'<math alttext="{_attr(latex)}" ', 1))
    except Exception:  # a formula the converter cannot read is shown as its source, never an error page
        return Markup(f"<code>{_attr(latex)}</code>")


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))


def plain(latex: str) -> str:
    """LaTeX as plain words and symbols, for the aria-live line and the terminal."""
    out = latex
    for old, new in [(r"\text{,}", ","), (r"\left\lfloor", "floor("), (r"\right\rfloor", ")"), (r"\left\lceil", "ceil("),
                     (r"\right\rceil", ")"), (r"\cdots", "..."), (r"\cdot", " times "), (r"\times", " times "),
                     (r"\frac{\partial L}{\partial ", "dL/d"), (r"\,", " "), (r"\ ", " "), ("\\\\", "; "),
                     (r"\Rightarrow", "gives"), (r"\max", "max"), (r"\min", "min"), (r"\sum", "sum")]:
        out = out.replace(old, new)
    out = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", out)
    out = re.sub(r"\\(?:text|mathrm)\{([^{}]*)\}", r"\1", out)
    out = re.sub(r"\\(begin|end)\{pmatrix\}", "", out)
    out = re.sub(r"_\{([^{}]*)\}", r"(\1)", out)
    out = out.replace("{", "").replace("}", "").replace("\\", "")
    return re.sub(r"\s+", " ", out).strip()


@dataclass
class Cell:
    text: str
    index: str          # the caller-layout index, "r,c" (may be outside the tensor for padding)
    kind: str = ""      # "pad" for padding cells
    step: int | None = None   # the step that writes this cell, for output and gradient grids


@dataclass
class Panel:
    label: str
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Grid:
    tensor: str
    title: str
    panels: list[Panel]


def grid(tensor: str, title: str, array: Any, digits: int = DEFAULT_DIGITS,
         pads: tuple[int, int, int, int] = (0, 0, 0, 0), steps_of: dict[str, int] | None = None) -> Grid:
    """A tensor as one panel per leading index (channel, or sample and channel), padding drawn around it."""
    a = np.asarray(array, dtype=float)
    if a.ndim == 0:
        a2, lead = a.reshape(1, 1), [()]
        scalar = True
    else:
        scalar = False
        if a.ndim == 1:
            a = a[None, :]
            one_d = True
        else:
            one_d = False
        lead = list(np.ndindex(a.shape[:-2]))
    top, bottom, left, right = pads
    panels = []
    for prefix in lead:
        m = a2 if scalar else a[prefix]
        H, W = m.shape
        names = {1: ["channel"], 2: ["sample", "channel"]}.get(len(prefix), [])
        label = ", ".join(f"{n} {k + 1}" for n, k in zip(names, prefix))
        panel = Panel(label)
        for r in range(-top, H + bottom):
            row = []
            for c in range(-left, W + right):
                inside = 0 <= r < H and 0 <= c < W
                if scalar:
                    index: tuple = ()
                elif one_d:
                    index = (c,)
                else:
                    index = tuple(prefix) + (r, c)
                key = ",".join(str(k) for k in index)
                cell = Cell(fmt(m[r, c], digits) if inside else "0", key, "" if inside else "pad")
                if steps_of is not None and inside:
                    cell.step = steps_of.get(key)
                row.append(cell)
            panel.rows.append(row)
        panels.append(panel)
    return Grid(tensor, title, panels)


def step_view(step: Step, number: int, digits: int) -> dict[str, Any]:
    """What a template needs of a step: MathML, the plain sentence, and what to highlight."""
    reads = {name: [",".join(str(k) for k in idx) for idx in indices] for name, indices in step.reads.items()}
    target = None
    if step.target is not None:
        target = {"tensor": step.target[0], "index": ",".join("" if k is None else str(k) for k in step.target[1])}
    say = f"Step {number}: {step.title}. {step.message} {plain(step.expansion)}"
    return {
        "number": number, "id": step.id, "kind": step.kind.value, "message": step.message,
        "title": step.title + (f" = {fmt(step.result, digits)}" if isinstance(step.result, (int, float)) else ""),
        "formula": mathml(step.formula), "expansion": mathml(step.expansion),
        "reads": json.dumps(reads), "target": json.dumps(target), "say": say,
        "substeps": [step_view(s, number, digits) for s in step.substeps],
    }


def step_views(trace: Trace, start: int, stop: int) -> list[dict[str, Any]]:
    steps = trace.steps
    return [step_view(steps[i], i + 1, trace.digits) for i in range(start, min(stop, len(steps)))]


def templates_env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(folder("templates"))),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["mathml"] = mathml
    env.filters["num"] = fmt
    return env


templates = templates_env()
