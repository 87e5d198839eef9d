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
