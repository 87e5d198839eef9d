"""The one error type the engine raises for bad input."""

from __future__ import annotations


class EngineError(ValueError):
    """Bad input: names the argument, and where known the row and column of the bad value.

    ``argument`` is the keyword name (``"x"``, ``"padding"``, ...); ``location`` is an index
    path into that argument (0-based), for example ``(1, 2)`` for row 2, column 3.
    """

    def __init__(self, argument: str, message: str, location: tuple[int, ...] | None = None):
        self.argument = argument
        self.problem = message
        self.location = location
        super().__init__(f"{argument}: {message}")


def where(location: tuple[int, ...]) -> str:
    """Words for a 0-based index path: (1, 2) -> 'row 2, column 3'."""
    names = {1: ("column",), 2: ("row", "column"), 3: ("channel", "row", "column"),
             4: ("sample", "channel", "row", "column")}.get(len(location))
    if names is None:
        return "index " + ", ".join(str(k) for k in location)
    return ", ".join(f"{name} {k + 1}" for name, k in zip(names, location))
