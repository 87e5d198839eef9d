"""A walkthrough's problem as a document: the LaTeX and the Markdown exports.

``document(w, trace, url)`` gathers what the page shows: the problem's tensors and settings, the rule,
the first EXPORT_STEPS steps, the results and the notes. ``latex(doc)`` writes it as a standalone
article for pdflatex, ``markdown(doc)`` as Markdown with ``$$...$$`` equations. The engine's LaTeX
(formulas, expansions) goes in as it is; every plain sentence goes through ``latex_text`` or
``markdown_text``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.numfmt import fmt, tex
from engine.trace import Step, StepKind, Trace

from .limits import EXPORT_PRINTED_CELLS, EXPORT_STEPS
from .pages.walkthrough import Walkthrough

MATRIX_COLUMNS = 16
"""Columns a printed matrix may have (amsmath's MaxMatrixCols is set to this); a wider one is described."""

FORMULA_KINDS = frozenset(StepKind) - {StepKind.POOL, StepKind.GRADIENT_ROUTE, StepKind.GATHER, StepKind.RESHAPE,
                                       StepKind.LAYER}
"""The kinds of step whose symbolic rule the page prints above the numbers (templates/partials/steps.html)."""

SPACED = {"stride", "padding", "dilation", "kernel_size", "input_size"}
"""Settings given per axis, whose numbers are labelled (rows, columns) or (top, bottom, left, right)."""


# --- the document -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    """A tensor or a number, under the label it is printed with."""

    label: str
    value: Any


@dataclass(frozen=True)
class Document:
    title: str
    intro: str
    url: str
    given: tuple[Shown, ...]
    settings: tuple[tuple[str, str], ...]
    formula: str
    steps: tuple[Step, ...]
    step_count: int
    results: tuple[Shown, ...]
    notes: tuple[str, ...]
    digits: int

    @property
    def steps_left(self) -> int:
        return self.step_count - len(self.steps)


def flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tensors by dotted name, as the JSON API names them: {"params": {"w": ...}} as {"params.w": ...}."""
    named: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            named.update(flat(value, f"{prefix}{key}."))
        else:
            named[f"{prefix}{key}"] = value
    return named


def _setting(name: str, value: Any) -> tuple[str, str]:
    if isinstance(value, (list, tuple)):
        axes = {2: " (rows, columns)", 4: " (top, bottom, left, right)"}.get(len(value), "") if name in SPACED else ""
        return name + axes, ", ".join(_setting("", v)[1] for v in value)
    if isinstance(value, bool):
        return name, "true" if value else "false"
    if value is None:
        return name, "none"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return name, fmt(value)
    return name, str(value)


def document(w: Walkthrough, trace: Trace, url: str) -> Document:
    """What the walkthrough page shows of ``trace``, to be written as LaTeX or Markdown."""
    labels = {f.name: f.label for f in w.fields}

    def label(name: str) -> str:
        head, _, rest = name.partition(".")
        return f"{labels.get(head, head)}: {rest}" if rest else labels.get(name, name)

    given = tuple(Shown(label(name), value) for name, value in flat(trace.inputs).items())
    results = tuple(Shown(name, value) for name, value in flat(trace.outputs).items()
                    if name != "cells")   # im2col's map of which input cell each column holds
    steps = trace.steps
    return Document(
        title=w.title, intro=w.intro, url=url, given=given,
        settings=tuple(_setting(name, value) for name, value in trace.params.items()),
        formula=trace.formula, steps=tuple(steps[:EXPORT_STEPS]), step_count=len(steps), results=results,
        notes=tuple(trace.notes), digits=trace.digits)


def step_heading(step: Step, number: int, digits: int) -> str:
    """'Step 3. Output z(1,2) = 0', as the page titles a step."""
    result = f" = {fmt(step.result, digits)}" if isinstance(step.result, (int, float)) else ""
    return f"Step {number}. {step.title}{result}"


def _panels(value: Any) -> list[tuple[str, np.ndarray]]:
    """A tensor as (label, matrix) panels: one per channel, or per sample and channel, as the page draws it."""
    a = np.asarray(value, dtype=float)
    if a.ndim <= 2:
        return [("", a)]
    names = {1: ("channel",), 2: ("sample", "channel")}.get(a.ndim - 2, ())
    return [(", ".join(f"{n} {k + 1}" for n, k in zip(names, lead)) if names else
             "[" + ", ".join(str(k) for k in lead) + "]", a[lead]) for lead in np.ndindex(a.shape[:-2])]


def _printable(value: Any) -> bool:
    a = np.asarray(value)
    wide = a.ndim >= 2 and a.shape[-1] > MATRIX_COLUMNS
    return a.size <= EXPORT_PRINTED_CELLS and not wide


def _shape_words(a: np.ndarray) -> str:
    """'4 × 4', or '3 numbers' for a vector."""
    return f"{a.size} numbers" if a.ndim == 1 else " × ".join(str(n) for n in a.shape)


def _size_words(value: Any) -> str:
    shape = np.shape(value)
    return f"a {' × '.join(str(n) for n in shape)} tensor ({np.size(value):,} numbers)"


# --- LaTeX ------------------------------------------------------------------------------------------

_TEXT_SPECIALS = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_TEXT_UNICODE = {
    "…": r"\ldots{}", "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~",
    "•": r"\textbullet{}", "§": r"\S{}", "¶": r"\P{}", "©": r"\copyright{}",
}
_GREEK = dict(zip("αβγδεζηθικλμνξπρστυφχψω",
                  r"\alpha \beta \gamma \delta \varepsilon \zeta \eta \theta \iota \kappa \lambda \mu \nu \xi \pi "
                  r"\rho \sigma \tau \upsilon \varphi \chi \psi \omega".split()))
_GREEK.update(dict(zip("ΓΔΘΛΞΠΣΥΦΨΩ", r"\Gamma \Delta \Theta \Lambda \Xi \Pi \Sigma \Upsilon \Phi \Psi \Omega".split())))
_MATH_UNICODE = {
    **_GREEK, "ϵ": r"\epsilon", "ϕ": r"\phi", "∂": r"\partial", "∇": r"\nabla", "−": "-", "·": r"\cdot",
    "×": r"\times", "÷": r"\div", "±": r"\pm", "≤": r"\le", "≥": r"\ge", "≠": r"\ne", "≈": r"\approx",
    "→": r"\to", "←": r"\leftarrow", "↔": r"\leftrightarrow", "⇒": r"\Rightarrow", "∞": r"\infty",
    "√": r"\surd", "°": r"^{\circ}", "∑": r"\Sigma", "∏": r"\Pi", "⊙": r"\odot", "∘": r"\circ", "∗": r"\ast",
    "⋆": r"\star", "∈": r"\in", "⌊": r"\lfloor", "⌋": r"\rfloor", "⌈": r"\lceil", "⌉": r"\rceil",
    "′": r"^{\prime}", "½": r"\tfrac{1}{2}", "¼": r"\tfrac{1}{4}", "¾": r"\tfrac{3}{4}", "ᵀ": r"^{\mathsf{T}}",
    "⋅": r"\cdot", "ℓ": r"\ell", "∣": r"\mid",
    **{c: f"^{{{d}}}" for c, d in zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")},
    **{c: f"_{{{d}}}" for c, d in zip("₀₁₂₃₄₅₆₇₈₉", "0123456789")},
}
_ACCENTS = {"\u0300": "`", "\u0301": "'", "\u0303": "~", "\u0308": '"', "\u0327": "c", "\u0304": "="}
"""Combining marks written as LaTeX text accents on a letter; U+0302 (a hat, as in x̂) is math's \\hat."""


class UnknownCharacter(ValueError):
    pass


def latex_text(text: str, *, strict: bool = False) -> str:
    """Plain text as LaTeX text: the specials escaped, Greek and math signs as math, accents as accents.

    The result is ASCII. A character with no LaTeX spelling here becomes '?', or with ``strict``
    raises UnknownCharacter (the tests use it to keep the tables complete).
    """
    out: list[str] = []
    chars = unicodedata.normalize("NFD", str(text))
    i = 0
    while i < len(chars):
        c = chars[i]
        marks = ""
        while i + 1 < len(chars) and unicodedata.combining(chars[i + 1]):
            i += 1
            marks += chars[i]
        out.append(_latex_char(c, marks, strict))
        i += 1
    return "".join(out)


def _latex_char(c: str, marks: str, strict: bool) -> str:
    if "\u0302" in marks:   # a hat: x̂, ŷ, σ̂
        base = _GREEK.get(c, c if c.isascii() and c.isalpha() else None)
        if base is not None and marks == "\u0302":
            return rf"\ensuremath{{\hat{{{base}}}}}"
    if marks:
        if c.isascii() and c.isalpha() and all(m in _ACCENTS for m in marks):
            word = c
            for m in marks:
                word = f"\\{_ACCENTS[m]}{{{word}}}"
            return word
        return _unknown(c + marks, strict)
    if c in "\n\r\t":
        return " "
    if c in _TEXT_SPECIALS:
        return _TEXT_SPECIALS[c]
    if c.isascii() and c.isprintable():
        return c
    if c in _TEXT_UNICODE:
        return _TEXT_UNICODE[c]
    if c in _MATH_UNICODE:
        return rf"\ensuremath{{{_MATH_UNICODE[c]}}}"
    return _unknown(c, strict)


def _unknown(c: str, strict: bool) -> str:
    if strict:
        raise UnknownCharacter(f"no LaTeX spelling for {c!r} ({', '.join(f'U+{ord(x):04X}' for x in c)})")
    return "?"


_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|.", re.S)
_OPENERS, _CLOSERS = {"{", r"\left", r"\begin"}, {"}", r"\right", r"\end"}


def _split(latex: str, separators: set[str], parentheses: bool = False) -> list[tuple[str, str]]:
    """The pieces of ``latex`` between top-level separator tokens (outside braces, \\left...\\right and
    environments, and with ``parentheses`` outside ( ) and [ ] too), each with the separator that ends
    it ('' for the last)."""
    openers = _OPENERS | ({"(", "["} if parentheses else set())
    closers = _CLOSERS | ({")", "]"} if parentheses else set())
    pieces, current, depth = [], [], 0
    for token in _TOKEN.findall(latex):
        if depth == 0 and token in separators:
            pieces.append(("".join(current).strip(), token))
            current = []
            continue
        depth += (token in openers) - (token in closers)
        current.append(token)
    pieces.append(("".join(current).strip(), ""))
    return pieces


WRAP = 90
"""Characters of a worked sum per line of an aligned equation before it wraps at a + or a −."""


def _wrapped(piece: str) -> list[str]:
    """A long top-level sum as lines of about WRAP characters, each later line starting with its sign."""
    if len(piece) <= WRAP:
        return [piece]
    lines, line = [], ""
    for term, sign in _split(piece, {"+", "-"}, parentheses=True):
        line = f"{line} {term}".strip()
        if sign and len(line) >= WRAP:
            lines.append(line)
            line = ""
        line = f"{line} {sign}".strip()
    return [text for text in lines + [line] if text]


def equation_rows(latex: str) -> list[str]:
    """LaTeX as rows of an align environment: one row per relation (=, ←), aligned at it. Lines
    (\\\\) and equations side by side (\\quad) each start a new row; a long sum wraps."""
    rows: list[str] = []
    for line, _ in _split(latex, {"\\\\"}):
        for equation, _ in _split(line, {r"\quad", r"\qquad"}):
            if not equation:
                continue
            parts = _split(equation, {"=", r"\leftarrow", r"\approx"})
            if len(parts) == 1:
                parts = [("", "")] + parts   # no relation: the whole equation right of the alignment
            left = parts[0][0]
            for (_, relation), (piece, _) in zip(parts, parts[1:]):
                lines = _wrapped(piece)
                rows.append(f"{left} &{relation} {lines[0]}".strip())
                rows += [rf"&\quad {more}" for more in lines[1:]]
                left = ""
    return rows


def _latex_matrix(a: np.ndarray, digits: int) -> str:
    if a.ndim == 0:
        return tex(float(a), digits)
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    body = r" \\ ".join(" & ".join(tex(v, digits) for v in row) for row in rows)
    return rf"\begin{{pmatrix}} {body} \end{{pmatrix}}"


def _latex_value(shown: Shown, digits: int) -> str:
    name = latex_text(shown.label)
    value = shown.value
    if np.ndim(value) == 0:
        return rf"{name}: $ {tex(float(value), digits)} $"
    if not _printable(value):
        return (rf"{name}: {latex_text(_size_words(value))}, too large to print here; "
                "the Python export lists every number.")
    a = np.asarray(value, dtype=float)
    if a.ndim == 1 and a.size > MATRIX_COLUMNS:   # a long vector: a row that breaks across lines
        items = r",\allowbreak\ ".join(tex(v, digits) for v in a)
        return rf"{name} ({a.size} numbers): $ ( {items} ) $"
    shape = _shape_words(a)
    panels = [(rf"\text{{{latex_text(label)}: }} " if label else "") + _latex_matrix(m, digits)
              for label, m in _panels(a)]
    return rf"{name} ({latex_text(shape)}):" + "".join(rf"\[ {p} \]" for p in panels)


PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[utf8]{inputenc}
\usepackage{amsmath}
\usepackage[margin=2cm]{geometry}
\setcounter{MaxMatrixCols}{%d}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6em}
""" % MATRIX_COLUMNS


def _breakable(address: str) -> str:
    """An escaped address that may break across lines after each & of its query."""
    return address.replace(r"\&", r"\&\allowbreak{}")


def latex(doc: Document) -> str:
    """A standalone LaTeX article: the problem, the rule, each step as an aligned equation, the results."""
    out = [PREAMBLE, rf"\title{{{latex_text(doc.title)}}}", r"\author{cnnsteps}", r"\date{}", r"\begin{document}",
           r"\maketitle", "", latex_text(doc.intro), "",
           rf"Open this problem in cnnsteps: \texttt{{{_breakable(latex_text(doc.url))}}}", "",
           r"\section*{The problem}", r"\begin{itemize}"]
    out += [rf"\item {_latex_value(s, doc.digits)}" for s in doc.given]
    out += [rf"\item {latex_text(name)}: {latex_text(value)}" for name, value in doc.settings]
    out += [r"\end{itemize}", "", r"\section*{The rule}", _display(doc.formula), "",
            r"\section*{Step by step}"]
    if doc.steps_left:
        out.append(latex_text(f"The first {len(doc.steps):,} of {doc.step_count:,} steps; the other "
                              f"{doc.steps_left:,} are on the page and in the JSON API."))
    for number, step in enumerate(doc.steps, start=1):
        out += ["", rf"\subsection*{{{latex_text(step_heading(step, number, doc.digits))}}}", latex_text(step.message)]
        rows = _step_rows(step)
        if rows:
            out += [r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"]
    out += ["", r"\section*{Results}", r"\begin{itemize}"]
    out += [rf"\item {_latex_value(s, doc.digits)}" for s in doc.results]
    out += [r"\end{itemize}"]
    if doc.notes:
        out += ["", r"\section*{Notes}", r"\begin{itemize}"] + [rf"\item {latex_text(n)}" for n in doc.notes]
        out += [r"\end{itemize}"]
    out += ["", r"\end{document}", ""]
    return "\n".join(out)


def _display(formula: str) -> str:
    parts = [piece for piece, _ in _split(formula, {r"\quad", r"\qquad"}) if piece]
    return r"\begin{gather*}" + "\n" + " \\\\\n".join(parts) + "\n" + r"\end{gather*}"


def _step_rows(step: Step) -> list[str]:
    rows = equation_rows(step.formula) if step.kind in FORMULA_KINDS and step.formula else []
    for sub in step.substeps:
        rows += equation_rows(sub.expansion)
    return rows + equation_rows(step.expansion)


# --- Markdown ---------------------------------------------------------------------------------------

_MARKDOWN_SPECIALS = {"\\": r"\\", "*": r"\*", "_": r"\_", "`": r"\`", "[": r"\[", "]": r"\]", "#": r"\#",
                      "|": r"\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "$": r"\$"}


def markdown_text(text: str) -> str:
    """Plain text for Markdown: the characters that would start markup escaped, on one line."""
    return "".join(_MARKDOWN_SPECIALS.get(c, " " if c in "\n\r" else c) for c in str(text))


def _markdown_block(a: np.ndarray, digits: int) -> list[str]:
    lines = []
    for label, m in _panels(a):
        if label:
            lines.append(f"{label}:")
        rows = m.reshape(1, -1) if m.ndim == 1 else m
        cells = [[fmt(v, digits) for v in row] for row in rows]
        width = max(len(c) for row in cells for c in row)
        lines += ["  ".join(c.rjust(width) for c in row) for row in cells]
    return lines


def _markdown_value(shown: Shown, digits: int) -> list[str]:
    name = markdown_text(shown.label)
    value = shown.value
    if np.ndim(value) == 0:
        return [f"- **{name}**: {fmt(float(value), digits)}"]
    if np.size(value) > EXPORT_PRINTED_CELLS:
        return [f"- **{name}**: {markdown_text(_size_words(value))}, too large to print here; "
                "the Python export lists every number."]
    a = np.asarray(value, dtype=float)
    return [f"- **{name}** ({_shape_words(a)}):", "", "  ```text"] + [f"  {line}" for line in _markdown_block(a, digits)] \
        + ["  ```", ""]


def _markdown_equation(rows: list[str]) -> list[str]:
    return ["$$", r"\begin{aligned}", " \\\\\n".join(rows), r"\end{aligned}", "$$"]


def markdown(doc: Document) -> str:
    """The same content as ``latex``, in Markdown: matrices as code blocks, equations as $$...$$."""
    out = [f"# {markdown_text(doc.title)}", "", markdown_text(doc.intro), "",
           f"Open this problem in cnnsteps: <{doc.url}>", "", "## The problem", ""]
    for s in doc.given:
        out += _markdown_value(s, doc.digits)
    out += [f"- {markdown_text(name)}: {markdown_text(value)}" for name, value in doc.settings]
    rule = [piece for piece, _ in _split(doc.formula, {r"\quad", r"\qquad"}) if piece]
    out += ["", "## The rule", "", "$$", r"\begin{gathered}", " \\\\\n".join(rule), r"\end{gathered}", "$$", "",
            "## Step by step", ""]
    if doc.steps_left:
        out += [f"The first {len(doc.steps):,} of {doc.step_count:,} steps; the other {doc.steps_left:,} are on "
                "the page and in the JSON API.", ""]
    for number, step in enumerate(doc.steps, start=1):
        out += [f"### {markdown_text(step_heading(step, number, doc.digits))}", "", markdown_text(step.message), ""]
        rows = _step_rows(step)
        if rows:
            out += _markdown_equation(rows) + [""]
    out += ["## Results", ""]
    for s in doc.results:
        out += _markdown_value(s, doc.digits)
    if doc.notes:
        out += ["", "## Notes", ""] + [f"- {markdown_text(n)}" for n in doc.notes]
    out.append("")
    return "\n".join(out)
