"""``cnnsteps summary``: a network's table in the terminal, in torchinfo's layout by default.

    cnnsteps summary vgg16
    cnnsteps summary --input 3x32x32 --layers "conv 32 3x3 p1 / relu / maxpool 2 / flatten / linear 10"
    cnnsteps summary resnet18 --input 3x64x64 --format keras
    cnnsteps summary --compare five_vs_two_threes
"""

from __future__ import annotations

import argparse
import sys

from engine import architecture, compare_architectures
from engine.presets import COMPARISONS, NETWORKS
from engine.tables import FORMATS, LAYOUTS, summary_text

from .render import plain


def add_summary_parser(sub) -> None:
    summary = sub.add_parser("summary", help="a network's table: shapes, parameters, MACs, memory, receptive fields",
                             description="Print a network's table. Name a preset, or give --input and --layers.")
    summary.add_argument("preset", nargs="?", choices=tuple(NETWORKS), metavar="PRESET",
                         help=f"one of: {', '.join(NETWORKS)}")
    summary.add_argument("--input", help="the input shape C×H×W, e.g. 3x32x32 (a preset's own when left out)")
    summary.add_argument("--layers", help='the layers as text, e.g. "conv 8 3x3 p1 / relu / flatten / linear 10"')
    summary.add_argument("--format", choices=FORMATS, default="torchinfo", help="the layout (default torchinfo)")
    summary.add_argument("--layout", choices=LAYOUTS, default="chw", help="shapes in CSV and Markdown")
    summary.add_argument("--steps", action="store_true", help="print the arithmetic of every row too")
    summary.add_argument("--compare", choices=tuple(COMPARISONS), metavar="NAME",
                         help=f"a comparison instead: {', '.join(COMPARISONS)}")
    summary.add_argument("--list", action="store_true", help="list the presets and comparisons")


def print_steps(trace, out) -> None:
    """Every step: its id, title, sentence and the arithmetic as plain text."""
    print(f"{trace.op}: {len(trace.steps)} steps", file=out)
    for step in trace.steps:
        print(f"\n[{step.id}] {step.title}", file=out)
        print(f"  {step.message}", file=out)
        print(f"  {plain(step.expansion)}", file=out)


def run_summary(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    if args.list:
        for name, network in NETWORKS.items():
            shape = "x".join(str(n) for n in network.input_shape)
            print(f"{name:18} {shape:10} {network.title}", file=out)
        for name, comparison in COMPARISONS.items():
            print(f"--compare {name:22} {comparison.title}", file=out)
        return 0
    if args.compare:
        trace = compare_architectures(args.input, preset=args.compare)
        print_steps(trace, out)
        print("", file=out)
        for note in trace.notes:
            print(f"- {note}", file=out)
        return 0
    if args.preset is None and args.layers is None:
        print("cnnsteps summary: name a preset (see --list) or give --input and --layers", file=sys.stderr)
        return 2
    trace = architecture(args.input, args.layers, preset=args.preset)
    name = NETWORKS[args.preset].class_name if args.preset else "Net"
    print(summary_text(trace.outputs, args.format, args.layout, model_name=name,
                       input_shape=trace.params["input_shape"]), end="", file=out)
    if args.format in ("torchinfo", "keras"):
        print("", file=out)
        for note in trace.notes:
            print(f"- {note}", file=out)
    if args.steps:
        print("", file=out)
        print_steps(trace, out)
    return 0
