"""The ``cnnsteps`` command: serve the app, or print a walkthrough in the terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from engine import EngineError, conv2d, conv2d_backward, output_size, parse_matrix, pool2d
from engine.numfmt import fmt
from engine.trace import Trace

from .render import plain


def _pair_or_word(text: str):
    """'1' -> 1, '1,2' -> (1, 2), 'same' -> 'same'."""
    text = text.strip()
    if text.lower() in ("same", "valid"):
        return text.lower()
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or a list of them") from None
    return numbers[0] if len(numbers) == 1 else tuple(numbers)


def print_trace(trace: Trace, out=None) -> None:
    out = out or sys.stdout
    print(f"{trace.op}: {len(trace.steps)} steps", file=out)
    for step in trace.steps:
        print(f"\n[{step.id}] {step.title}", file=out)
        print(f"  {step.message}", file=out)
        print(f"  {plain(step.expansion)}", file=out)
    for name, value in trace.outputs.items():
        if name == "cells":
            continue
        print(f"\n{name} =", file=out)
        print(_grid(value), file=out)
    if trace.notes:
        print("\nNotes:", file=out)
        for note in trace.notes:
            print(f"  - {note}", file=out)


def _grid(value) -> str:
    array = np.atleast_1d(np.asarray(value, dtype=float))
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim > 2:
        return "\n\n".join(_grid(a) for a in array)
    cells = [[fmt(v) for v in row] for row in array]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("  " + " ".join(c.rjust(width) for c in row) for row in cells)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnsteps", description="Step-by-step CNN mathematics.")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the web app (the default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    def conv_args(p):
        p.add_argument("--input", required=True, help='matrix text, e.g. "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1"')
        p.add_argument("--kernel", required=True)
        p.add_argument("--bias", type=float)
        p.add_argument("--stride", type=_pair_or_word, default=1)
        p.add_argument("--padding", type=_pair_or_word, default=0)
        p.add_argument("--dilation", type=_pair_or_word, default=1)
        p.add_argument("--mode", choices=("correlation", "convolution"), default="correlation")

    conv_args(sub.add_parser("conv2d", help="walk through a 2-D convolution"))
    back = sub.add_parser("conv2d-backward", help="walk through a convolution's gradients")
    conv_args(back)
    back.add_argument("--grad-output", required=True, help="δ = dL/dz, the output's shape")
    pool = sub.add_parser("pool2d", help="walk through a pooling layer")
    pool.add_argument("--input", required=True)
    pool.add_argument("--kind", choices=("max", "avg", "min"), default="max")
    pool.add_argument("--kernel-size", type=_pair_or_word, required=True)
    pool.add_argument("--stride", type=_pair_or_word)
    pool.add_argument("--padding", type=_pair_or_word, default=0)
    pool.add_argument("--ceil-mode", action="store_true")
    size = sub.add_parser("output-size", help="the output size formula with the numbers")
    size.add_argument("--input-size", type=_pair_or_word, required=True)
    size.add_argument("--kernel-size", type=_pair_or_word, required=True)
    size.add_argument("--stride", type=_pair_or_word, default=1)
    size.add_argument("--padding", type=_pair_or_word, default=0)
    size.add_argument("--dilation", type=_pair_or_word, default=1)
    size.add_argument("--ceil-mode", action="store_true")
    from .architecture_cli import add_summary_parser
    add_summary_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        if command == "serve":
            return _serve(getattr(args, "host", "127.0.0.1"), getattr(args, "port", 8000))
        if command == "summary":
            from .architecture_cli import run_summary
            return run_summary(args)
        if command in ("conv2d", "conv2d-backward"):
            x = parse_matrix(args.input, "input")
            w = parse_matrix(args.kernel, "kernel")
            keywords = dict(stride=args.stride, padding=args.padding, dilation=args.dilation, mode=args.mode)
            if command == "conv2d":
                trace = conv2d(x, w, args.bias, **keywords)
            else:
                trace = conv2d_backward(x, w, parse_matrix(args.grad_output, "grad_output"), args.bias, **keywords)
        elif command == "pool2d":
            trace = pool2d(parse_matrix(args.input, "input"), kind=args.kind, kernel_size=args.kernel_size,
                           stride=args.stride, padding=args.padding, ceil_mode=args.ceil_mode)
        else:
            trace = output_size(args.input_size, args.kernel_size, stride=args.stride, padding=args.padding,
                                dilation=args.dilation, ceil_mode=args.ceil_mode)
    except EngineError as error:
        print(f"cnnsteps: {error}", file=sys.stderr)
        return 2
    print_trace(trace)
    return 0


def _serve(host: str, port: int) -> int:
    import uvicorn

    print(f"cnnsteps is running at http://{host}:{port}/  (Ctrl+C stops it)", flush=True)
    uvicorn.run("app.main:app", host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
