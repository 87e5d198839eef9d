"""The trace model: every op returns a Trace whose steps explain, and rebuild, its outputs.

A ``Trace`` holds the op's numbers, computed once and vectorized. Its ``steps`` are a lazy
sequence: ``trace.steps[i]`` builds step *i* from those arrays, so a layer with a hundred
million multiply-adds answers for one output cell in the time that cell's terms take.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .numfmt import DEFAULT_DIGITS


class StepKind(str, enum.Enum):
    """Every kind of step the engine writes. Closed: a new kind is a new member here."""

    PADDING = "padding"
    """How the pad was chosen: 'same' with W=5, F=3, S=2 -> total 2 -> top 1, bottom 1."""
    KERNEL_FLIP = "kernel_flip"
    """True convolution: the kernel rotated 180 degrees before sliding, K'(m,n) = K(F-1-m, F-1-n)."""
    MULTIPLY_ADD = "multiply_add"
    """A weighted sum: z(1,1) = 2(1) + 0(-1) + 1(0) + ... + b = 4."""
    POOL = "pool"
    """One pooling window: max(1, 3, 4, 6) = 6, or (1 + 3 + 4 + 6)/4 = 3.5."""
    GRADIENT_SUM = "gradient_sum"
    """A gradient cell as a sum of delta terms: dL/dK(1,1) = 1(3) + (-1)(4) = -1."""
    GRADIENT_ROUTE = "gradient_route"
    """Pooling backward: dL/dx(2,2) = 0.8, since x(2,2) = 5 won window (1,1)."""
    SIZE = "size"
    """Output size: floor((6 - 3 + 2*0)/2) + 1 = 2."""
    GATHER = "gather"
    """im2col: column 1 holds x(1,1), x(1,2), x(2,1), x(2,2)."""
    ELEMENTWISE = "elementwise"
    """One cell through a function: ReLU(-2) = max(0, -2) = 0; σ(1) = 1/(1 + e^{-1}) = 0.731."""
    REDUCE = "reduce"
    """Many cells into one number: μ = (1 + 2 + 3)/3 = 2; L = ½(2.9 - 0)² = 4.205."""
    RESHAPE = "reshape"
    """A cell moved, not changed: flatten puts z(2,1) at p(3)."""
    UPDATE = "update"
    """An optimizer's new value: w = 0.2 - 0.1(11.6) = -0.96."""
    PARAMETER_COUNT = "parameter_count"
    """A layer's parameters: (3·3·3 + 1)·8 = 224; a block's: 36,864 + 128 + 36,864 + 128 = 73,984."""
    MAC_COUNT = "mac_count"
    """A layer's multiply-accumulates: 16·16·8 · (3·3·3) = 55,296."""
    RECEPTIVE_FIELD = "receptive_field"
    """The input region an output cell sees: r = 3 + (3 - 1)·1 = 5, j = 1·1 = 1, u = -1 - 1·1 = -2."""
    RATIO = "ratio"
    """Two counts compared: 73,856 / 102,464 = 0.721, so 27.9% fewer parameters."""
    LAYER = "layer"
    """A network's layer entered: layer 2 (ReLU), forward, 2×2 -> 2×2; its op's steps follow."""


class Factor(NamedTuple):
    """One factor of a term: a tensor cell (``index`` in the user's layout) or a constant.

    A named tuple, not a dataclass: a large layer's step builds tens of thousands of them.
    """

    tensor: str
    index: tuple[int, ...] | None
    value: float

    def as_dict(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "index": list(self.index) if self.index is not None else None,
                "value": self.value}


class Term(NamedTuple):
    """A product of factors and its value (a lone factor is a term too)."""

    factors: tuple[Factor, ...]
    value: float

    def as_dict(self) -> dict[str, Any]:
        return {"factors": [f.as_dict() for f in self.factors], "value": self.value}


def term(*factors: Factor) -> Term:
    value = 1.0
    for f in factors:
        value *= f.value
    return Term(tuple(factors), value)


class Combine(str, enum.Enum):
    """How a step's terms make its result (``Step.evaluate``)."""

    SUM = "sum"
    MAX = "max"
    MIN = "min"
    MEAN = "mean"
    VALUE = "value"   # the result is stated (a size, a flipped kernel), not a reduction of terms
    STACK = "stack"   # the term values, in order, form a vector (an im2col column)
    APPLY = "apply"   # FUNCTIONS[step.function] of the sum of the terms: exp, log, sigmoid, ...


FUNCTIONS: dict[str, Callable[[float], float]] = {
    "relu": lambda v: max(v, 0.0),
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v)),
    "tanh": math.tanh,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "rsqrt": lambda v: 1.0 / math.sqrt(v),
    "reciprocal": lambda v: 1.0 / v,
    "square": lambda v: v * v,
}
"""The functions an APPLY step may name: its result is the function of its terms' sum."""


@dataclass(frozen=True)
class Step:
    """One explained result: what is computed, with which numbers, written where."""

    id: str
    kind: StepKind
    title: str
    message: str
    formula: str
    expansion: str
    terms: tuple[Term, ...] = ()
    result: Any = None
    target: tuple[str, tuple[int | None, ...]] | None = None
    reads: dict[str, list[tuple[int, ...]]] = field(default_factory=dict)
    substeps: tuple["Step", ...] = ()
    combine: Combine = Combine.SUM
    divisor: float = 1.0
    function: str = ""   # with Combine.APPLY: a key of FUNCTIONS

    def evaluate(self) -> Any:
        """The result rebuilt from the terms alone."""
        values = [t.value for t in self.terms]
        match self.combine:
            case Combine.SUM:
                return float(np.sum(values)) if values else 0.0
            case Combine.MAX:
                return max(values)
            case Combine.MIN:
                return min(values)
            case Combine.MEAN:
                return float(np.sum(values)) / self.divisor
            case Combine.STACK:
                return np.array(values, dtype=float)
            case Combine.VALUE:
                return self.result
            case Combine.APPLY:
                return FUNCTIONS[self.function](float(np.sum(values)) if values else 0.0)

    def as_dict(self) -> dict[str, Any]:
        result = self.result
        if isinstance(result, np.ndarray):
            result = result.tolist()
        elif isinstance(result, (np.floating, np.integer)):
            result = result.item()
        target = None
        if self.target is not None:
            target = {"tensor": self.target[0], "index": list(self.target[1])}
        return {
            "id": self.id,
            "kind": self.kind.value,
            "title": self.title,
            "message": self.message,
            "formula": self.formula,
            "expansion": self.expansion,
            "terms": [t.as_dict() for t in self.terms],
            "result": result,
            "target": target,
            "reads": {name: [list(i) for i in idx] for name, idx in self.reads.items()},
            "substeps": [s.as_dict() for s in self.substeps],
            "function": self.function or None,
        }


@dataclass(frozen=True)
class Segment:
    """A run of steps of one shape: one step per cell of ``shape``, made on demand.

    ``make(index, digits)`` builds the step for the cell at ``index`` (a tuple in ``shape``).
    ``name`` is the prefix of the ids, ``name[i,j]``; a segment of shape ``()`` has the id ``name``.
    """

    name: str
    shape: tuple[int, ...]
    make: Callable[[tuple[int, ...], int], Step]

    def __len__(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    def step(self, i: int, digits: int) -> Step:
        index = tuple(int(k) for k in np.unravel_index(i, self.shape)) if self.shape else ()
        return self.make(index, digits)

    def find(self, step_id: str) -> int | None:
        if not self.shape:
            return 0 if step_id == self.name else None
        match = re.fullmatch(re.escape(self.name) + r"\[([0-9, ]+)\]", step_id)
        if match is None:
            return None
        try:
            index = tuple(int(k) for k in match.group(1).split(","))
        except ValueError:  # an id such as 'output[,]'
            return None
        if len(index) != len(self.shape) or any(not 0 <= k < n for k, n in zip(index, self.shape)):
            return None
        return int(np.ravel_multi_index(index, self.shape))


def cell_id(name: str, index: Sequence[int]) -> str:
    return f"{name}[{','.join(str(k) for k in index)}]" if len(index) else name


class Steps(Sequence[Step]):
    """A lazy sequence of steps over segments: ``len``, ``[i]``, ``[a:b]``, ``by_id``."""

    def __init__(self, segments: Sequence[Segment], digits: int = DEFAULT_DIGITS):
        self._segments = tuple(segments)
        self._starts = np.cumsum([0] + [len(s) for s in self._segments])
        self.digits = digits

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"step {i} out of range: the trace has {len(self)} steps")
        s = int(np.searchsorted(self._starts, i, side="right")) - 1
        return self._segments[s].step(i - int(self._starts[s]), self.digits)

    def __iter__(self) -> Iterator[Step]:
        for i in range(len(self)):
            yield self[i]

    def position(self, step_id: str) -> int | None:
        """The position of the step with this id, or None."""
        for start, segment in zip(self._starts, self._segments):
            local = segment.find(step_id)
            if local is not None:
                return int(start) + local
        return None

    def by_id(self, step_id: str) -> Step | None:
        i = self.position(step_id)
        return None if i is None else self[i]


@dataclass
class Trace:
    """The result of one op and everything needed to explain it."""

    op: str
    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    outputs: dict[str, Any]
    formula: str
    segments: Sequence[Segment]
    notes: list[str] = field(default_factory=list)
    digits: int = DEFAULT_DIGITS
    intermediates: dict[str, Any] = field(default_factory=dict)
    """Tensors between input and output that steps write (softmax's exponentials, a batch mean)."""

    @property
    def steps(self) -> Steps:
        return Steps(self.segments, self.digits)

    def flat_outputs(self) -> dict[str, Any]:
        """Outputs and intermediates by dotted name: ``{"params": {"w": ...}}`` gives ``"params.w"``."""
        return _flatten({**self.intermediates, **self.outputs})

    def evaluate(self) -> dict[str, Any]:
        """Rebuild every output from the steps alone: each step writes its evaluated terms
        at its target. Keys are ``flat_outputs()`` names; outputs no step targets are absent."""
        rebuilt: dict[str, Any] = {}
        references = self.flat_outputs()
        for step in self.steps:
            if step.target is None:
                continue
            name, index = step.target
            value = step.evaluate()
            reference = references[name]
            if np.ndim(reference) == 0 and not isinstance(reference, tuple):
                rebuilt[name] = value
                continue
            array = rebuilt.setdefault(name, np.zeros(np.shape(reference)))
            array[tuple(slice(None) if k is None else k for k in index)] = value
        return rebuilt

    def as_dict(self, step_offset: int = 0, step_limit: int | None = None) -> dict[str, Any]:
        steps = self.steps
        stop = len(steps) if step_limit is None else min(len(steps), step_offset + step_limit)
        return {
            "op": self.op,
            "params": _plain(self.params),
            "inputs": _plain(self.inputs),
            "outputs": _plain(self.outputs),
            "intermediates": _plain(self.intermediates),
            "formula": self.formula,
            "steps": [s.as_dict() for s in steps[step_offset:stop]],
            "step_count": len(steps),
            "step_offset": step_offset,
            "notes": list(self.notes),
        }


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _plain(value: Any) -> Any:
    """Arrays and NumPy scalars as JSON-ready lists and numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
