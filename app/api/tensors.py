"""JSON tensors to float64 arrays, strictly: every refusal names the field and the cell.

Nested lists come from the JSON parser as lists of int, float, bool, str, None and dict.
Only int and float are numbers here (``true`` is not 1); NaN and infinity, which Python's
JSON parser accepts, are refused; rows must agree in length; a tensor may hold at most
``MAX_ELEMENTS`` numbers, counted while walking so an oversized one is refused before any
array is built.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
from fastapi.exceptions import RequestValidationError

from ..limits import MAX_ELEMENTS

MAX_RANK = 4
_NUMBER_TYPES = {int, float}


def invalid(loc: tuple[str | int, ...], msg: str, kind: str) -> RequestValidationError:
    """FastAPI's standard 422 for one problem at ``loc``."""
    return RequestValidationError([{"type": kind, "loc": loc, "msg": msg}])


def read_tensors(fields: dict[str, Any]) -> dict[str, np.ndarray | None]:
    """Each field's value as a float64 array (None stays None); every bad field is reported."""
    arrays: dict[str, np.ndarray | None] = {}
    errors: list[dict[str, Any]] = []
    for name, value in fields.items():
        if value is None:
            arrays[name] = None
            continue
        try:
            arrays[name] = read_tensor(value, name)
        except RequestValidationError as error:
            errors.extend(error.errors())
    if errors:
        raise RequestValidationError(errors)
    return arrays


def read_tensor(value: Any, name: str) -> np.ndarray:
    """A float64 array of ``value``, a number or nested lists of numbers."""
    shape = _Walk(name).shape(value, ())
    try:
        array = np.array(value, dtype=float)
    except OverflowError:  # an integer beyond float64's range
        at = _first(value, (), lambda v: type(v) is int and abs(v) > sys.float_info.max)
        raise invalid(("body", name) + at, "the number is too large for float64", "number_too_large") from None
    array = array.reshape(shape)
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        at = tuple(int(k) for k in bad[0])
        raise invalid(("body", name) + at, f"{_word(float(array[at]))} is not a finite number", "finite_number")
    return array


class _Walk:
    """The shape of nested lists, counting numbers as it goes."""

    def __init__(self, name: str):
        self.name = name
        self.count = 0

    def refuse(self, at: tuple[int, ...], msg: str, kind: str) -> RequestValidationError:
        return invalid(("body", self.name) + at, msg, kind)

    def add(self, count: int) -> None:
        self.count += count
        if self.count > MAX_ELEMENTS:
            raise self.refuse((), f"more than {MAX_ELEMENTS:,} numbers; the limit is {MAX_ELEMENTS:,}",
                              "too_many_elements")

    def shape(self, value: Any, at: tuple[int, ...]) -> tuple[int, ...]:
        kind = type(value)
        if kind in _NUMBER_TYPES:
            self.add(1)
            return ()
        if kind is not list:
            raise self.refuse(at, f"expected a number, got {_shown(value)}", "number_type")
        if not value:
            raise self.refuse(at, "is empty: expected numbers", "empty")
        if len(at) >= MAX_RANK:
            raise self.refuse(at, f"nested more than {MAX_RANK} lists deep", "too_deep")
        if set(map(type, value)) <= _NUMBER_TYPES:  # a row of numbers: the common case, checked fast
            self.add(len(value))
            return (len(value),)
        first = self.shape(value[0], at + (0,))
        for i in range(1, len(value)):
            item = self.shape(value[i], at + (i,))
            if item != first:
                raise self.refuse(at + (i,), f"ragged: item {i} has shape {_shape(item)} but item 0 has shape "
                                             f"{_shape(first)}", "ragged")
        return (len(value),) + first


def _first(value: Any, at: tuple[int, ...], test) -> tuple[int, ...]:
    """The index path of the first leaf passing ``test`` (the caller knows there is one)."""
    if type(value) is list:
        for i, item in enumerate(value):
            found = _first(item, at + (i,), test)
            if found is not None:
                return found
        return None  # type: ignore[return-value]
    return at if test(value) else None  # type: ignore[return-value]


def _shape(shape: tuple[int, ...]) -> str:
    return "a number" if not shape else "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _word(value: float) -> str:
    return "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _shown(value: Any) -> str:
    if type(value) is bool:
        return f"{json.dumps(value)} (a boolean)"
    if value is None:
        return "null"
    if type(value) is dict:
        return "an object"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
