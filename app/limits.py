"""Every size limit of the app, in one place (the README lists them)."""

MAX_BODY_BYTES = 8 * 1024 * 1024
"""A request body larger than this is refused with 413 before it is read as JSON."""

MAX_ELEMENTS = 1_000_000
"""Numbers in one tensor of a request (a 3x224x224 image is 150,528)."""

MAX_STEP_LIMIT = 500
"""Steps in one response, at most."""

DEFAULT_STEP_LIMIT = 50
"""Steps in a response when step_limit is not given (keeps responses well under 1 MB)."""

PAGE_STEPS = 30
"""Steps a page renders on the server; the player fetches the rest from the API."""

MAX_QUERY_CHARS = 200_000
"""Characters in a request's query string (where a page keeps its problem): a longer one is refused with 414."""

MAX_PARAMETER = 100_000
"""A stride, padding, dilation, groups, kernel size or input size, at most."""

MAX_OUTPUT_ELEMENTS = 4_000_000
"""Numbers in an op's output, which every response carries (64 x 224 x 224 is 3.2 million, ~55 MB
of JSON). An im2col matrix, listed cell by cell beside its numbers, stays within MAX_ELEMENTS."""

MAX_MULTIPLY_ADDS = 200_000_000
"""Multiply-adds of one request (a 3x224x224 input through 64 3x3 filters is 86.7 million)."""

MAX_WORKING_CELLS = 10_000_000
"""Cells an op holds at once: the padded input, or the input cells under every window (im2col)."""

MAX_RESPONSE_TERMS = 100_000
"""Terms in one response's steps: a page ends early rather than pass it (one step always goes)."""

MAX_STEP_TERMS = MAX_RESPONSE_TERMS
"""Terms in one step of a layer op: a dense neuron's inputs, the cells a loss adds up, a softmax row's
classes, a batch-norm channel's cells. A page always carries at least one step, so this keeps any
one step within what a whole page may carry (MAX_RESPONSE_TERMS)."""

MAX_NAMED_TENSORS = 32
"""Parameters in one optimizer request (each name maps to one tensor)."""

MAX_NAME_LENGTH = 40
"""Characters in a parameter's name ('fc1.weight')."""

MAX_UPDATE_COUNT = 1_000_000_000
"""An optimizer state's update counter t, at most (Adam raises its betas to the power t)."""

MAX_SEED = 2**32 - 1
"""A random seed is a whole number from 0 to this (what NumPy's generators take from one 32-bit word)."""

PAGE_UPDATES = 100
"""Updates the optimizer page repeats with the same gradients ("updates taken"), at most."""

MAX_NETWORK_LAYERS = 32
"""Layers in one network request."""

MAX_TRAINING_STEPS = 100
"""Training steps (forward, loss, backward, update) one network request may take."""

MAX_NETWORK_CELLS = 250_000
"""Numbers in the input and all of a network's activations together: the response carries each of them
several times (the activation, its gradient, an op's own tensors): 250,000 is about 50 MB of JSON."""

MAX_NETWORK_WORK = 100_000_000
"""Multiply-adds of a network request: those of one training step (forward and backward) times the steps."""

MAX_ARCHITECTURE_ROWS = 2_000
"""Rows of one architecture table: layers and blocks, counting a residual block's sum and activation
(ResNet-50 has 199, MobileNetV2 224)."""

MAX_LAYER_TEXT = 100_000
"""Characters of a layer list in the compact text form."""

GRID_CELLS = 4096
"""Cells a page draws in one grid; a larger tensor is described, and its steps still listed."""

WORKSHEET_PROBLEMS = 30
"""Problems on one practice worksheet (HTML, LaTeX or Markdown), at most."""

EXPORT_STEPS = 200
"""Steps a LaTeX or Markdown export writes out; a sentence says how many more the page has."""

EXPORT_PRINTED_CELLS = 1024
"""Numbers of one tensor the LaTeX and Markdown exports print; a larger tensor is described by its shape."""

EXPORT_SCRIPT_NUMBERS = 200_000
"""Numbers a Python export writes as literals (its inputs and the expected results, ~3 MB of text)."""
