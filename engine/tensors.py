"""Bringing caller data into the engine: float64 arrays of a known rank, checked once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import EngineError, where


def as_tensor(value: Any, name: str, ranks: Sequence[int]) -> np.ndarray:
    """A float64 copy of ``value`` whose rank is one of ``ranks``.

    Refuses booleans, text, ragged nesting, NaN and infinity, each with the position.
    """
    if isinstance(value, np.ndarray):
        if not _real_dtype(value.dtype):
            raise EngineError(name, f"expected numbers, got an array of {value.dtype}")
        array = value.astype(float, copy=True)
    else:
        shape = _nested_shape(value, name, ())
        array = np.array(value, dtype=float).reshape(shape)
    if array.ndim not in ranks:
        expected = " or ".join(str(r) for r in ranks)
        raise EngineError(name, f"expected {expected} dimensions, got {array.ndim} (shape {array.shape})")
    if array.size == 0:
        raise EngineError(name, "is empty")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        index = tuple(int(k) for k in bad[0])
        raise EngineError(name, f"{fmt_bad(array[index])} at {where(index)} is not a finite number", index)
    return array


def fmt_bad(value: float) -> str:
    return "NaN" if np.isnan(value) else ("infinity" if value > 0 else "-infinity")


def _real_dtype(dtype: np.dtype) -> bool:
    """Whole or real numbers; not booleans, text, objects, or complex numbers (casting those
    would silently drop the imaginary part)."""
    return dtype != bool and (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating))


def _nested_shape(value: Any, name: str, at: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of a nested list of numbers, or an error naming the first ragged row."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        raise EngineError(name, f"true/false at {where(at) if at else 'the top'} is not a number", at)
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise EngineError(name, f"the whole number at {where(at) if at else 'the top'} is too large",
                              at) from None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return ()
    if isinstance(value, np.ndarray):
        if not _real_dtype(value.dtype):
            raise EngineError(name, f"expected numbers, got an array of {value.dtype}", at)
        return value.shape
    if not isinstance(value, (list, tuple)):
        raise EngineError(name, f"{value!r} at {where(at) if at else 'the top'} is not a number", at)
    if len(value) == 0:
        return (0,)
    shapes = [_nested_shape(v, name, at + (i,)) for i, v in enumerate(value)]
    for i, s in enumerate(shapes[1:], start=1):
        if s != shapes[0]:
            raise EngineError(
                name,
                f"ragged: item {i + 1}{' of ' + where(at) if at else ''} has shape {s or 'scalar'}, "
                f"item 1 has shape {shapes[0] or 'scalar'}",
                at + (i,),
            )
    return (len(value),) + shapes[0]


def as_number(value: Any, name: str) -> float:
    """A finite real number (not a boolean, not text)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise EngineError(name, f"{value!r} is not a number")
    number = float(value)
    if not np.isfinite(number):
        raise EngineError(name, f"must be a finite number, got {number}")
    return number


def as_pair(value: Any, name: str, *, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each at least ``minimum``."""
    items = value if isinstance(value, (list, tuple)) else (value, value)
    if len(items) != 2:
        raise EngineError(name, f"expected one number or two, got {len(items)}")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)) and not (
                isinstance(item, float) and item.is_integer()):
            raise EngineError(name, f"{item!r} is not a whole number")
        if int(item) < minimum:
            raise EngineError(name, f"must be at least {minimum}, got {int(item)}")
        out.append(int(item))
    return out[0], out[1]
