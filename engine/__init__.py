"""cnnsteps engine: CNN operations that show every intermediate term.

Every op is a pure function returning a :class:`Trace`; ``trace.steps`` is a lazy sequence.
"""

from .conv import conv1d, conv1d_backward, conv2d, conv2d_backward, im2col
from .errors import EngineError
from .numfmt import fmt
from .parse import parse_matrix
from .pool import pool2d, pool2d_backward
from .shapes import output_size
from .trace import Factor, Step, StepKind, Term, Trace

__all__ = [
    "EngineError", "Factor", "Step", "StepKind", "Term", "Trace",
    "conv1d", "conv1d_backward", "conv2d", "conv2d_backward", "fmt", "im2col",
    "output_size", "parse_matrix", "pool2d", "pool2d_backward",
]
