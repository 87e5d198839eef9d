"""Dropout: a random mask zeroes cells while training; inverted or classic scaling.

The mask is either given or drawn from a seed: with u ~ U[0, 1) from
``numpy.random.default_rng(seed).random(x.shape)``, a cell is kept where u >= p, so with
probability 1 - p. Without a mask or a seed, a seed is drawn and recorded in ``params["seed"]``,
so that the same mask can be drawn again. Step ids: ``output[i,j]`` in the input's layout.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from .errors import EngineError, where
from .layout import label
from .numfmt import factor, fmt, tex
from .tensors import as_number, as_tensor
from .trace import Factor, Segment, Step, StepKind, Trace, cell_id, term

VARIANTS = ("inverted", "classic")
TIMES = r" \cdot "


def _probability(p: Any) -> float:
    p_ = as_number(p, "p")
    if not 0 <= p_ <= 1:
        raise EngineError("p", f"the drop probability must be at least 0 and below 1, got {fmt(p_)}")
    if p_ == 1:
        raise EngineError("p", "p = 1 would drop every cell, leaving nothing to pass on (and inverted dropout "
                               "would divide by 1 − p = 0): use a p below 1")
    return p_


def _seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not (isinstance(seed, (int, np.integer)) or
                                                  isinstance(seed, float) and seed.is_integer()):
        raise EngineError("seed", f"{seed!r} is not a whole number")
    if seed < 0:
        raise EngineError("seed", f"must be 0 or more, got {int(seed)}")
    return int(seed)


def _given_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(mask, np.ndarray) and mask.dtype == bool:
        mask = mask.astype(float)
    array = as_tensor(mask, "mask", (1, 2, 3, 4))
    if array.shape != shape:
        raise EngineError("mask", f"expected the input's shape {shape}, got {array.shape}")
    bad = np.argwhere((array != 0) & (array != 1))
    if len(bad):
        index = tuple(int(k) for k in bad[0])
        raise EngineError("mask", f"{fmt(array[index])} at {where(index)} is not 0 (drop) or 1 (keep)", index)
    return array


def dropout(x, *, p, mask=None, seed=None, variant="inverted", training=True) -> Trace:
    """Dropout, one step per cell.

    Parameters
    ----------
    x : any shape of rank 1 to 4
    p : the probability of dropping a cell, in [0, 1)
    mask : x's shape, 1 keeps and 0 drops; or None to draw one from ``seed``
    seed : a whole number >= 0 for numpy.random.default_rng; drawn and recorded when neither is given
    variant : 'inverted' (scale while training) | 'classic' (scale at evaluation)

    Returns outputs {"output": x's shape, "mask": x's shape (all ones in evaluation)}.

    Notes
    -----
    inverted:  training y = x m / (1 - p),  evaluation y = x
    classic:   training y = x m,            evaluation y = x (1 - p)
    """
    x_arr = as_tensor(x, "input", (1, 2, 3, 4))
    p_ = _probability(p)
    if variant not in VARIANTS:
        raise EngineError("variant", f"{variant!r} is not a dropout variant: use 'inverted' or 'classic'")
    training = bool(training)
    notes = []
    if not training:
        if mask is not None:
            raise EngineError("mask", "evaluation mode drops nothing, so a mask has no place here; "
                                      "leave it out or set training=True")
        seed_ = None if seed is None else _seed(seed)
        if seed_ is not None:
            notes.append("Evaluation mode draws no mask, so the seed is not used.")
        keep = np.ones_like(x_arr)
    elif mask is not None:
        if seed is not None:
            raise EngineError("seed", "a mask was given, so there is nothing to draw: give a mask or a seed, "
                                      "not both")
        keep, seed_ = _given_mask(mask, x_arr.shape), None
    else:
        drawn = seed is None
        seed_ = secrets.randbelow(2**31) if drawn else _seed(seed)
        keep = (np.random.default_rng(seed_).random(x_arr.shape) >= p_).astype(float)
        notes.append(f"The mask keeps a cell where u ≥ p = {fmt(p_)} for u drawn uniformly from [0, 1) by "
                     f"numpy.random.default_rng({seed_}), so each cell is kept with probability {fmt(1 - p_)}."
                     + (f" No seed was given; seed {seed_} was drawn: pass it back to get the same mask."
                        if drawn else ""))

    inverted = variant == "inverted"
    if training:
        scale = 1 / (1 - p_) if inverted else 1.0
        out = x_arr * keep * scale if inverted else x_arr * keep
    else:
        scale = 1.0 if inverted else 1 - p_
        out = x_arr.copy() if inverted else x_arr * scale

    def make(index: tuple[int, ...], digits: int) -> Step:
        xv, m, value = float(x_arr[index]), float(keep[index]), float(out[index])
        cell = label(index)
        factors = [Factor("input", index, xv)]
        numbers = [factor(xv, digits)]
        if training:
            factors.append(Factor("mask", index, m))
            numbers.append(fmt(m))
            if inverted:
                factors.append(Factor("1/(1-p)", None, scale))
                numbers.append(rf"\frac{{1}}{{1 - {tex(p_, digits)}}}")
            formula = (rf"y_{{{cell}}} = x_{{{cell}}}\, m_{{{cell}}}" + (r" \cdot \frac{1}{1 - p}" if inverted else ""))
            if m:
                message = (f"x({cell}) is kept" + (f" and scaled by 1/(1 − p) = {fmt(scale, digits)}, so that the "
                                                   f"expected output equals the input." if inverted else "."))
            else:
                message = f"x({cell}) is dropped: the mask holds 0 there."
        elif inverted:
            formula = rf"y_{{{cell}}} = x_{{{cell}}}"
            message = (f"Evaluation mode: x({cell}) passes through unchanged; inverted dropout did its "
                       f"scaling while training.")
        else:
            factors.append(Factor("1-p", None, scale))
            numbers.append(f"(1 - {tex(p_, digits)})")
            formula = rf"y_{{{cell}}} = x_{{{cell}}} (1 - p)"
            message = (f"Evaluation mode: nothing is dropped, and classic dropout scales x({cell}) by "
                       f"1 − p = {fmt(scale, digits)}, the share of cells that training kept on average.")
        return Step(
            id=cell_id("output", index), kind=StepKind.ELEMENTWISE, title=f"Output y({cell})", message=message,
            formula=formula, expansion=rf"y_{{{cell}}} = {TIMES.join(numbers)} = {tex(value, digits)}",
            terms=(term(*factors),), result=value, target=("output", index),
            reads={"input": [index]} | ({"mask": [index]} if training else {}),
        )

    if training:
        kept = int(keep.sum())
        notes.append(f"Kept {kept} of {keep.size} cells ({fmt(100 * kept / keep.size, 3)}%); the expected share "
                     f"is {fmt(100 * (1 - p_), 3)}%.")
        notes.append("Inverted dropout: kept cells are divided by 1 − p while training, so evaluation uses the "
                     "input as it is." if inverted else
                     "Classic dropout: kept cells pass unscaled while training, and evaluation multiplies by 1 − p.")
    else:
        notes.append("Evaluation mode: the mask is all ones; nothing is dropped."
                     + (" Inverted dropout leaves the input unchanged." if inverted else
                        " Classic dropout multiplies every cell by 1 − p."))
    notes.append("Titles count from 1; step ids and JSON indices count from 0.")
    inputs = {"input": x_arr} | ({"mask": keep} if mask is not None else {})
    return Trace(
        op="dropout", params={"p": p_, "variant": variant, "training": training, "seed": seed_},
        inputs=inputs, outputs={"output": out, "mask": keep},
        formula=({"inverted": r"y = \frac{x \odot m}{1 - p}", "classic": r"y = x \odot m"} if training else
                 {"inverted": r"y = x", "classic": r"y = (1 - p)\, x"})[variant],
        segments=[Segment("output", x_arr.shape, make)], notes=notes,
    )
