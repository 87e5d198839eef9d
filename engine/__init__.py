"""cnnsteps engine: CNN operations that show every intermediate term.

Every op is a pure function returning a :class:`Trace`; ``trace.steps`` is a lazy sequence.
"""

from .activations import activation, activation_backward
from .check import CheckResult, Tolerance, check_answer
from .architecture import architecture
from .comparison import compare_architectures
from .conv import conv1d, conv1d_backward, conv2d, conv2d_backward, im2col
from .dense import dense, dense_backward, flatten, flatten_backward
from .dropout import dropout
from .errors import EngineError
from .losses import loss
from .network import network
from .norm import batchnorm, batchnorm_backward
from .numfmt import fmt
from .optim import optimizer_step
from .parse import parse_matrix
from .pool import pool2d, pool2d_backward
from .practice import practice
from .shapes import output_size
from .trace import Factor, Step, StepKind, Term, Trace

__all__ = [
    "architecture", "compare_architectures",
    "EngineError", "Factor", "Step", "StepKind", "Term", "Trace",
    "activation", "activation_backward", "dense", "dense_backward", "flatten", "loss",
    "conv1d", "conv1d_backward", "conv2d", "conv2d_backward", "fmt", "im2col",
    "output_size", "parse_matrix", "pool2d", "pool2d_backward",
    "batchnorm", "batchnorm_backward", "dropout", "optimizer_step",
    "flatten_backward", "network", "check_answer", "CheckResult", "Tolerance",
    "practice",
]
