"""Numbers as people write them."""

from __future__ import annotations

import math

import pytest

from engine import fmt
from engine.numfmt import factor, tex, write_sum


def test_float_noise_is_hidden():
    assert 0.1 + 0.2 * 14 != 2.9
    assert fmt(0.1 + 0.2 * 14) == "2.9"
    assert fmt(0.1 + 0.2) == "0.3"


def test_whole_numbers_print_as_integers():
    assert fmt(4.0) == "4"
    assert fmt(-12.0) == "-12"
    assert fmt(3) == "3"
    assert fmt(1e14) == "100000000000000"


def test_negative_zero_prints_as_zero():
    assert fmt(-0.0) == "0"
    assert fmt(-1e-20, 6) == "-1e-20"  # tiny but not zero: kept, in scientific notation
    assert fmt(-0.0000001 + 0.0000001) == "0"


@pytest.mark.parametrize("digits, expected", [(1, "0.7"), (2, "0.67"), (3, "0.667"), (6, "0.666667"),
                                              (10, "0.6666666667")])
def test_precision_is_significant_digits(digits, expected):
    assert fmt(2 / 3, digits) == expected


def test_precision_rounds_large_numbers_to_whole_numbers():
    assert fmt(123456.7, 3) == "123000"
    assert fmt(123456.7) == "123457"
    assert fmt(1.25e-7) == "1.25e-7"


def test_special_values():
    assert fmt(math.nan) == "nan"
    assert fmt(math.inf) == "inf" and fmt(-math.inf) == "-inf"


def test_latex_forms():
    assert tex(1.25e-7) == r"1.25 \times 10^{-7}"
    assert factor(-1.0) == "(-1)"
    assert factor(2.5) == "2.5"
    assert write_sum(["1", "2"], 3.0) == "1 + 2 = 3"
    assert write_sum([], 0.0) == "0 = 0"


def test_long_sums_are_cut_in_the_middle():
    text = write_sum([str(k) for k in range(100)], 4950.0)
    assert text.startswith("0 + 1 + ") and text.endswith("96 + 97 + 98 + 99 = 4950")
    assert r"\cdots\ (68\text{ more})" in text
