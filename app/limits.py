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
"""Length of a page's query string, at most."""

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

GRID_CELLS = 4096
"""Cells a page draws in one grid; a larger tensor is described, and its steps still listed."""
