"""Practice worksheets as text: a standalone LaTeX document and Markdown.

Both take the problems as ``app.pages.practice`` lays them out (a prompt, labelled tensors, settings,
the answer) and write the problems first, then the answer key on a page of its own. Every piece of
text a reader sees is escaped for the format: LaTeX's special characters, and the Greek letters and
symbols of the prompts as math (the document compiles with pdflatex, no Unicode engine needed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from engine.numfmt import fmt, tex


class Problem(Protocol):
    number: int
    seed: int
    prompt: str
    tensors: list[tuple[str, np.ndarray]]
    settings: list[tuple[str, str]]
    answer_label: str
    answer: Any


# --- LaTeX ------------------------------------------------------------------------------------

TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
               "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
               ">": r"\textgreater{}", '"': "''"}
TEX_MATH = {"×": r"\times", "−": "-", "–": "-", "δ": r"\delta", "∂": r"\partial", "σ": r"\sigma", "α": r"\alpha",
            "β": r"\beta", "γ": r"\gamma", "η": r"\eta", "λ": r"\lambda", "ε": r"\varepsilon", "μ": r"\mu",
            "Σ": r"\Sigma", "·": r"\cdot", "²": "^{2}", "′": "'", "½": r"\tfrac{1}{2}", "°": r"^{\circ}",
            "ᵀ": r"^{\mathsf{T}}", "≥": r"\geq", "≤": r"\leq", "→": r"\to", "⋆": r"\star", "…": r"\dots",
            "ŷ": r"\hat{y}", "√": r"\surd", "≈": r"\approx"}
"""The symbols the prompts and labels use, each written as math."""
_HATTED = re.compile(r"(\w)\u0302")


def tex_text(text: str) -> str:
    """Plain text as LaTeX text: special characters escaped, symbols as math; anything else
    outside ASCII (which the prompts do not use) becomes '?' rather than an error in pdflatex."""
    text = _HATTED.sub(lambda m: "\0" + m.group(1), unicodedata.normalize("NFC", text))
    out = []
    hat = False
    for char in text:
        if char == "\0":
            hat = True
            continue
        if hat:
            out.append(rf"\ensuremath{{\hat{{{char}}}}}")
            hat = False
        elif char in TEX_SPECIAL:
            out.append(TEX_SPECIAL[char])
        elif char in TEX_MATH:
            out.append(rf"\ensuremath{{{TEX_MATH[char]}}}")
        elif ord(char) < 128:
            out.append(char)
        else:
            out.append("?")
    return "".join(out)


def tex_matrix(value: Any) -> str:
    """A number, or a tensor as pmatrix (a vector as one row; channels side by side, numbered)."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return tex(float(a))
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim == 2:
        rows = r" \\ ".join(" & ".join(tex(v) for v in row) for row in a)
        return rf"\begin{{pmatrix}} {rows} \end{{pmatrix}}"
    blocks = a.reshape((-1,) + a.shape[-2:])
    if len(blocks) == 1:
        return tex_matrix(blocks[0])
    return r",\ ".join(rf"\underset{{{k + 1}}}{{{tex_matrix(block)}}}" for k, block in enumerate(blocks))


def _tex_tensor(label: str, value: Any) -> str:
    return rf"$\text{{{tex_text(label)}}} = {tex_matrix(value)}$"


TEX_PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[T1]{fontenc}
\usepackage{amsmath}
\usepackage[margin=2cm]{geometry}
\setcounter{MaxMatrixCols}{40}
\setlength{\parindent}{0pt}
"""


def latex(title: str, subtitle: str, problems: Sequence[Problem]) -> str:
    """A standalone LaTeX document: the problems, then the answer key on a new page."""
    lines = [TEX_PREAMBLE, r"\begin{document}", rf"\section*{{{tex_text(title)}}}", tex_text(subtitle), "",
             r"\begin{enumerate}"]
    for p in problems:
        lines.append(rf"\item {tex_text(p.prompt)} \hfill {{\small (seed {p.seed})}}")
        lines.append("")
        lines.append(r"\medskip")
        lines.append(r"\qquad ".join(_tex_tensor(label, value) for label, value in p.tensors))
        if p.settings:
            lines.append("")
            lines.append(r"\smallskip")
            lines.append("; ".join(f"{tex_text(label)}: {tex_text(text)}" for label, text in p.settings) + ".")
        lines.append(r"\vspace{5\baselineskip}")
        lines.append("")
    lines += [r"\end{enumerate}", "", r"\newpage", r"\section*{Answer key}", r"\begin{enumerate}"]
    for p in problems:
        lines.append(rf"\item {_tex_tensor(p.answer_label, p.answer)}")
        lines.append(r"\medskip")
    lines += [r"\end{enumerate}", r"\end{document}", ""]
    return "\n".join(lines)


# --- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_text(text: str) -> str:
    """Plain text whose Markdown characters are taken literally."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def text_matrix(value: Any) -> str:
    """A tensor as aligned columns of plain text; channels after a numbered line."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return fmt(float(a))
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim == 2:
        cells = [[fmt(v) for v in row] for row in a]
        width = max(len(c) for row in cells for c in row)
        return "\n".join("  ".join(c.rjust(width) for c in row) for row in cells)
    blocks = a.reshape((-1,) + a.shape[-2:])
    if len(blocks) == 1:
        return text_matrix(blocks[0])
    return "\n\n".join(f"[{k + 1}]\n{text_matrix(block)}" for k, block in enumerate(blocks))


def _md_tensor(label: str, value: Any) -> list[str]:
    return [f"{md_text(label)}:", "", "```text", text_matrix(value), "```", ""]


def markdown(title: str, subtitle: str, problems: Sequence[Problem]) -> str:
    """The worksheet in Markdown: the problems, then the answer key after a rule."""
    lines = [f"# {md_text(title)}", "", md_text(subtitle), "", "## Problems", ""]
    for p in problems:
        lines += [f"### Problem {p.number} (seed {p.seed})", "", md_text(p.prompt), ""]
        for label, value in p.tensors:
            lines += _md_tensor(label, value)
        lines += [f"- {md_text(label)}: {md_text(text)}" for label, text in p.settings]
        if p.settings:
            lines.append("")
    lines += ["---", "", "## Answer key", ""]
    for p in problems:
        lines += [f"### Problem {p.number}", ""] + _md_tensor(p.answer_label, p.answer)
    return "\n".join(lines)
