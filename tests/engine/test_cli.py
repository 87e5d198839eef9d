"""The terminal walkthrough: `cnnsteps conv2d --input ... --kernel ...`."""

from __future__ import annotations

import io


from app.cli import main, print_trace
from engine import conv2d

X000 = "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1"
K000 = "1 -1 0; 0 1 -1; 1 0 1"

def test_cli_conv2d_prints_every_step_and_the_output(capsys):
    assert main(["conv2d", "--input", X000, "--kernel", K000]) == 0
    out = capsys.readouterr().out
    assert out.startswith("conv2d: 4 steps")
    assert "z(1,1) = 2(1) + 0(-1) + 1(0) + 1(0) + 1(1) + 0(-1) + 0(1) + 2(0) + 1(1) = 4" in out
    assert "output =\n  4 0\n  4 3" in out


def test_cli_commands_return_0():
    assert main(["conv2d", "--input", X000, "--kernel", K000]) == 0
    assert main(["conv2d", "--input", X000, "--kernel", K000, "--padding", "same", "--stride", "2,1"]) == 0
    assert main(["conv2d-backward", "--input", "3 4 5", "--kernel", "1 2", "--grad-output", "1 -1"]) == 0
    assert main(["pool2d", "--input", "1 3 2 9; 4 6 1 5; 7 2 8 3; 0 4 3 6", "--kernel-size", "2"]) == 0
    assert main(["output-size", "--input-size", "224", "--kernel-size", "7", "--stride", "2", "--padding", "3"]) == 0


def test_print_trace_writes_every_step_then_the_output_grid():
    out = io.StringIO()
    print_trace(conv2d([[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]],
                       [[1, -1, 0], [0, 1, -1], [1, 0, 1]]), out=out)
    text = out.getvalue()
    assert text.startswith("conv2d: 4 steps")
    for step_id in ("[output[0,0]]", "[output[0,1]]", "[output[1,0]]", "[output[1,1]]"):
        assert step_id in text
    # the LaTeX expansion made readable in a terminal
    assert "z(1,1) = 2(1) + 0(-1) + 1(0) + 1(0) + 1(1) + 0(-1) + 0(1) + 2(0) + 1(1) = 4" in text
    assert "output =\n  4 0\n  4 3" in text
    assert "Notes:" in text


def test_cli_bad_token_exits_2_with_row_and_column(capsys):
    assert main(["conv2d", "--input", "1 2; 3 x", "--kernel", "1"]) == 2
    captured = capsys.readouterr()
    assert "input: 'x' at row 2, column 2 is not a number" in captured.err


def test_cli_engine_error_exits_2_naming_the_argument(capsys):
    assert main(["conv2d", "--input", "1 2; 3 4", "--kernel", "1 1 1; 1 1 1; 1 1 1"]) == 2
    assert "cnnsteps: kernel:" in capsys.readouterr().err
