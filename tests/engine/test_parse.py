"""The forgiving matrix text format: every accepted spelling, and bad tokens located by row and column."""

from __future__ import annotations

import numpy as np
import pytest

from engine import EngineError, parse_matrix

TWO_BY_TWO = [[1, 2], [3, 4]]


@pytest.mark.parametrize("text", [
    "1 2; 3 4",
    "1 2;3 4;",
    "1 2\n3 4",
    "  1   2  \n\t3\t4  \n",
    "1\t2\r\n3\t4",
    "1, 2\n3, 4",
    "1,2;3,4",
    "1 & 2 \\\\ 3 & 4",
    "[[1, 2], [3, 4]]",
    "[[1,2],\n [3,4]]",
    "[[1. 2.]\n [3. 4.]]",                       # NumPy's str() of an array: no commas
    "array([[1., 2.],\n       [3., 4.]])",       # NumPy's repr()
    "array([[1, 2], [3, 4]], dtype=int64)",
    r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
    r"\begin{bmatrix}1&2\\3&4\end{bmatrix}",
    "2/2 4/2; 6/2 8/2",                          # fractions
])
def test_parse_accepts_every_documented_spelling(text):
    parsed = parse_matrix(text)
    assert parsed.dtype == np.float64
    np.testing.assert_array_equal(parsed, TWO_BY_TWO)


def test_parse_reads_signs_decimals_exponents_and_the_unicode_minus():
    np.testing.assert_array_equal(parse_matrix("-1 +2 −3; .5 3. 2.5e-1"), [[-1, 2, -3], [0.5, 3, 0.25]])
    assert parse_matrix("1/3")[0, 0] == pytest.approx(1 / 3)


def test_parse_blank_line_separates_channels():
    parsed = parse_matrix("1 2\n3 4\n\n5 6\n7 8")
    assert parsed.shape == (2, 2, 2)
    np.testing.assert_array_equal(parsed[1], [[5, 6], [7, 8]])
    assert parse_matrix("1 2\n\n\n3 4\n  \n5 6").shape == (3, 1, 2)


def test_parse_brackets_keep_their_rank():
    assert parse_matrix("[1, 2, 3]").shape == (3,)
    assert parse_matrix("[1 2 3]").shape == (3,)
    assert parse_matrix("[[[1,2],[3,4]],[[5,6],[7,8]]]").shape == (2, 2, 2)
    assert parse_matrix("5").shape == (1, 1)


@pytest.mark.parametrize("text, location, words", [
    ("1 2; 3 x", (1, 1), "'x' at row 2, column 2"),
    ("1 2 3\n4 5 x6", (1, 2), "'x6' at row 2, column 3"),
    ("1 2\n3 4\n\n5 6\n7 y", (1, 1, 1), "'y' at channel 2, row 2, column 2"),
    ("[[1, 2], [3, x]]", (1, 1), "'x' at row 2, column 2"),
    ("array([[1., 2.], [oops, 4.]])", (1, 0), "'oops' at row 2, column 1"),
    (r"\begin{pmatrix}1 & a\end{pmatrix}", (0, 1), "'a' at row 1, column 2"),
    ("1/0 2", (0, 0), "'1/0' at row 1, column 1"),
    ("1 1e400", (0, 1), "'1e400' at row 1, column 2 is too large"),
    ("[[1,,2]]", (0, 1), "row 1, column 2"),
])
def test_parse_bad_token_is_reported_with_row_and_column(text, location, words):
    with pytest.raises(EngineError) as info:
        parse_matrix(text, "kernel")
    assert info.value.argument == "kernel"
    assert info.value.location == location
    assert words in str(info.value)


@pytest.mark.parametrize("text, location, words", [
    ("1 2; 3", (1,), "row 2 has 1 number but row 1 has 2 numbers"),
    ("1 2\n\n1 2 3", (1,), "channel 2 is 1x3 but channel 1 is 1x2"),
    ("[[1,2],[3]]", (1,), "ragged"),
])
def test_parse_ragged_rows_and_channels_are_located(text, location, words):
    with pytest.raises(EngineError) as info:
        parse_matrix(text)
    assert info.value.location == location
    assert words in info.value.problem


@pytest.mark.parametrize("text", ["", "   \n ", "[[1,2],[3,4]", "[[1,2]] extra", "[[]]", "[", "(1, 2)"])
def test_parse_malformed_text_is_an_engine_error(text):
    with pytest.raises(EngineError) as info:
        parse_matrix(text)
    assert info.value.argument == "input"


def test_parse_refuses_non_text():
    with pytest.raises(EngineError):
        parse_matrix(None)  # type: ignore[arg-type]
