"""The caller's layout and the engine's: ops work on (N, C, H, W); steps speak the caller's rank.

A 2-D matrix is one sample, one channel; a sequence is a row of height 1. ``Layout.keep``
lists which of the four axes the caller's array has, so an index (n, c, h, w) is shown to
the user as (h, w) for a plain matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    keep: tuple[int, ...]

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


def affine(offset: int, coefficient: int, var: str) -> str:
    """LaTeX for offset + coefficient*var: 'm', '1+m', 'm-1', '2m-1'."""
    head = var if coefficient == 1 else f"{coefficient}{var}"
    if offset == 0:
        return head
    return f"{offset}+{head}" if offset > 0 else f"{head}{offset}"
