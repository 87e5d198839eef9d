"""The caller's layout and the engine's: ops work on (N, C, H, W); steps speak the caller's rank.

A 2-D matrix is one sample, one channel; a sequence is a row of height 1. ``Layout.keep``
lists which of the four axes the caller's array has, so an index (n, c, h, w) is shown to
the user as (h, w) for a plain matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# Where each axis of a caller's array goes among (N, C, H, W), by the array's rank.
IMAGE = {2: (2, 3), 3: (1, 2, 3), 4: (0, 1, 2, 3)}   # (H, W) | (C, H, W) | (N, C, H, W)
KERNEL_2D = {2: (2, 3), 4: (0, 1, 2, 3)}           # (kH, kW) | (C_out, C_in/groups, kH, kW)
SEQUENCE = {1: (3,), 2: (1, 3), 3: (0, 1, 3)}      # (L,) | (C, L) | (N, C, L)
KERNEL_1D = {1: (3,), 3: (0, 1, 3)}                # (k,) | (C_out, C_in/groups, k)


def shape4(shape: tuple[int, ...], keep: tuple[int, ...]) -> tuple[int, ...]:
    """The 4-D shape of a caller's shape, with 1 for the axes it does not have."""
    out = [1, 1, 1, 1]
    for axis, n in zip(keep, shape):
        out[axis] = int(n)
    return tuple(out)


@dataclass(frozen=True)
class Layout:
    keep: tuple[int, ...]

    def lift_array(self, array: np.ndarray) -> np.ndarray:
        """The caller's array as (N, C, H, W)."""
        return array.reshape(shape4(array.shape, self.keep))

    def user(self, index4: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(int(index4[a]) for a in self.keep)

    def lift(self, make):
        """Adapt a step maker on 4-D indices to the caller-rank index a Segment enumerates."""
        def make_user(user_index: tuple[int, ...], digits: int):
            index4 = [0, 0, 0, 0]
            for axis, k in zip(self.keep, user_index):
                index4[axis] = k
            return make(tuple(index4), digits)
        return make_user

    def shape(self, array4: np.ndarray) -> np.ndarray:
        """The 4-D array in the caller's rank (dropping the axes the caller did not have)."""
        drop = tuple(a for a in range(array4.ndim) if a not in self.keep)
        return array4.reshape([n for a, n in enumerate(array4.shape) if a not in drop])


def label(index: tuple[int, ...]) -> str:
    """A 1-based subscript as printed in a title: (0, 1) -> '1,2'."""
    return ",".join(str(k + 1) for k in index)


def called(symbol: str, index: tuple[int, ...]) -> str:
    """A cell's name in a title or sentence: ('x', (0, 1)) -> 'x(1,2)'; a scalar is just 'x'."""
    return f"{symbol}({label(index)})" if len(index) else symbol


def affine(offset: int, coefficient: int, var: str) -> str:
    """LaTeX for offset + coefficient*var: 'm', '1+m', 'm-1', '2m-1'."""
    head = var if coefficient == 1 else f"{coefficient}{var}"
    if offset == 0:
        return head
    return f"{offset}+{head}" if offset > 0 else f"{head}{offset}"
