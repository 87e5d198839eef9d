"""Numbers as people write them: 2.9, not 2.9000000000000004; 4, not 4.0."""

from __future__ import annotations

import math

DEFAULT_DIGITS = 6


def fmt(value: float, digits: int = DEFAULT_DIGITS) -> str:
    """Plain text for a number with at most ``digits`` significant digits."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    rounded = float(f"{value:.{digits}g}")
    if rounded == 0:
        return "0"
    if rounded.is_integer() and abs(rounded) < 1e15:
        return str(int(rounded))
    text = f"{rounded:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text


def tex(value: float, digits: int = DEFAULT_DIGITS) -> str:
    """LaTeX for a number: scientific notation as a power of ten, a real minus sign."""
    text = fmt(value, digits)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = rf"{mantissa} \times 10^{{{exponent}}}"
    return text


def factor(value: float, digits: int = DEFAULT_DIGITS) -> str:
    """A leading factor in a worked sum, bracketed when negative: 2, (-1)."""
    text = tex(value, digits)
    return f"({text})" if value < 0 else text


SUM_LIMIT = 36
"""Terms written out in one expansion; a longer sum shows its first and last terms."""


def shown(k: int, total: int, limit: int = SUM_LIMIT) -> bool:
    """Whether term k of ``total`` is written out (so long sums format only what they show)."""
    return total <= limit or k < limit - 4 or k >= total - 4


def write_sum(parts: list[str], result: float, digits: int = DEFAULT_DIGITS, total: int | None = None,
              limit: int = SUM_LIMIT) -> str:
    """'a + b + ... = r', with a long sum cut in the middle.

    ``parts`` holds every term, or, with ``total``, only the ones ``shown`` keeps.
    """
    total = len(parts) if total is None else total
    if total > limit:
        if len(parts) == total:
            parts = parts[: limit - 4] + parts[-4:]
        parts = parts[: limit - 4] + [rf"\cdots\ ({total - limit + 4}\text{{ more}})"] + parts[-4:]
    return " + ".join(parts or ["0"]) + f" = {tex(result, digits)}"
