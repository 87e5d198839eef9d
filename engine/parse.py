"""The forgiving matrix text format, one parser for the terminal and the pages.

Accepted: ``1 2; 3 4``; rows on lines; commas, spaces or ``&`` between numbers; JSON
``[[1, 2], [3, 4]]``; a NumPy ``array([[1., 2.], [3., 4.]])`` repr; a LaTeX ``pmatrix`` or
``bmatrix``; channels separated by a blank line. Fractions such as ``1/2`` and the minus sign
``−`` are read too. A bad token is reported by its row and column.
"""

from __future__ import annotations

import re

import numpy as np

from .errors import EngineError, where
from .tensors import as_tensor

_LATEX_ENV = re.compile(r"\\(begin|end)\{[a-zA-Z]*matrix\*?\}")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DTYPE = re.compile(r",\s*dtype\s*=\s*[\w.]+\s*$")


def _number(token: str, name: str, location: tuple[int, ...]) -> float:
    text = token.strip().replace("−", "-").replace("–", "-")
    value = None
    if "/" in text:
        top, _, bottom = text.partition("/")
        if _NUMBER.fullmatch(top.strip()) and _NUMBER.fullmatch(bottom.strip()) and float(bottom) != 0:
            value = float(top) / float(bottom)
    elif _NUMBER.fullmatch(text):
        value = float(text)
    if value is None:
        raise EngineError(name, f"{token.strip()!r} at {where(location)} is not a number", location)
    if not np.isfinite(value):  # 1e400 reads as infinity
        raise EngineError(name, f"{token.strip()!r} at {where(location)} is too large", location)
    return value


def parse_matrix(text: str, name: str = "input") -> np.ndarray:
    """A float array from matrix text: 2-D, or 3-D (C, H, W) when channels are separated by a blank line.

    Bracketed text (JSON or a NumPy repr) keeps the rank its brackets give.
    """
    if not isinstance(text, str) or not text.strip():
        raise EngineError(name, "is empty: type numbers such as 1 2; 3 4")
    body = text.strip()
    if body.startswith("array(") and body.endswith(")"):
        body = _DTYPE.sub("", body[len("array("):-1])
    if body.startswith("["):
        return _parse_brackets(body, name)
    body = _LATEX_ENV.sub("", body).replace(r"\\", ";")
    channels = [c for c in re.split(r"\n\s*\n", body.strip()) if c.strip()]
    grids = [_parse_grid(c, name, k if len(channels) > 1 else None) for k, c in enumerate(channels)]
    for k, g in enumerate(grids[1:], start=1):
        if g.shape != grids[0].shape:
            raise EngineError(name, f"channel {k + 1} is {g.shape[0]}x{g.shape[1]} but channel 1 is "
                                    f"{grids[0].shape[0]}x{grids[0].shape[1]}", (k,))
    return grids[0] if len(grids) == 1 else np.stack(grids)


def _count(n: int) -> str:
    return f"{n} number{'s' * (n != 1)}"


def _parse_grid(text: str, name: str, channel: int | None) -> np.ndarray:
    rows = [r for r in re.split(r"[;\n]", text) if r.strip()]
    values: list[list[float]] = []
    for r, row in enumerate(rows):
        tokens = [t for t in re.split(r"[,\s&]+", row.strip()) if t]
        at = (lambda c: (r, c)) if channel is None else (lambda c: (channel, r, c))
        values.append([_number(t, name, at(c)) for c, t in enumerate(tokens)])
        if values[-1] and len(values[-1]) != len(values[0]):
            where_row = f"row {r + 1}" + (f" of channel {channel + 1}" if channel is not None else "")
            raise EngineError(name, f"{where_row} has {_count(len(values[-1]))} but row 1 has {_count(len(values[0]))}",
                              (r,) if channel is None else (channel, r))
    return np.array(values, dtype=float)


def _parse_brackets(text: str, name: str) -> np.ndarray:
    """Nested brackets read by hand, so that a bad token still has its index path."""
    pos = 0

    def skip() -> None:
        nonlocal pos
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1

    def value(path: tuple[int, ...]):
        nonlocal pos
        skip()
        if pos < len(text) and text[pos] == "[":
            pos += 1
            items = []
            skip()
            if pos < len(text) and text[pos] == "]":
                pos += 1
                return items
            while True:
                items.append(value(path + (len(items),)))
                skip()
                if pos < len(text) and text[pos] == ",":
                    pos += 1
                    continue
                if pos < len(text) and text[pos] == "]":
                    pos += 1
                    return items
                if pos < len(text) and text[pos] == "[":  # NumPy prints rows without commas
                    continue
                if pos >= len(text):
                    raise EngineError(name, "a ']' is missing at the end")
                if text[pos] not in ",]":  # numbers separated by spaces
                    continue
        match = re.compile(r"[^,\[\]\s]+").match(text, pos)
        if match is None:
            raise EngineError(name, f"expected a number at {where(path) if path else 'the start'}", path)
        pos = match.end()
        return _number(match.group(), name, path)

    result = value(())
    skip()
    if pos != len(text):
        raise EngineError(name, f"unexpected text after the closing bracket: {text[pos:pos + 10]!r}")
    # ragged nesting is reported by as_tensor, with its position
    return as_tensor(result, name, (0, 1, 2, 3, 4))
