"""Every speed and size figure of the project in one run, each against its budget.

    python bench/run_all.py                 # the whole run (about two minutes on two cores)
    python bench/run_all.py --requests 1000 # shorter load bursts
    python bench/run_all.py --markdown      # the table as Markdown, for the README

A figure within its budget is "within"; over it, but by at most 2x, "over" (CI machines are shared and
noisy, so this only warns); more than 2x over, "FAIL", and the run exits with 1. The load burst's errors
have no slack: one error fails the run. The figures come from the other scripts of bench/, which print
more detail each.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import architecture as architecture_bench  # noqa: E402
import conv_speed  # noqa: E402
import load  # noqa: E402
import network as network_bench  # noqa: E402
import pages  # noqa: E402
import step_budget  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from timing import STEP_BUDGET_MS  # noqa: E402

from app.main import app  # noqa: E402
from app.pages.network import MNIST  # noqa: E402

SLACK = 2.0
"""A figure fails when it misses its budget by more than this factor."""


@dataclass
class Figure:
    group: str
    name: str
    value: float | None
    unit: str
    budget: float | None = None
    at_least: bool = False  # the budget is a floor (throughput), not a ceiling
    strict: bool = False  # no slack: over the budget fails

    @property
    def miss(self) -> float:
        """How many times over the budget (1 is exactly on it)."""
        if self.value is None or self.budget is None:
            return 0.0
        if self.at_least:
            return self.budget / self.value if self.value else float("inf")
        return self.value / self.budget if self.budget else (0.0 if self.value == 0 else float("inf"))

    @property
    def status(self) -> str:
        if self.value is None:
            return "not measured"
        if self.budget is None:
            return ""
        if self.miss <= 1:
            return "within"
        return "FAIL" if self.strict or self.miss > SLACK else "over"

    def shown(self, number: float | None) -> str:
        if number is None:
            return "-"
        if self.unit == "%":
            return f"{number:+.1f} %"
        if isinstance(number, int):
            return f"{number:,} {self.unit}".strip()
        digits = 0 if abs(number) >= 100 else (1 if abs(number) >= 10 else 2)
        return f"{number:,.{digits}f} {self.unit}".strip()

    def budget_text(self) -> str:
        if self.budget is None:
            return ""
        return ("≥ " if self.at_least else "≤ ") + self.shown(self.budget)


def engine_figures() -> list[Figure]:
    group = "engine"
    engine_s, numpy_s = conv_speed.forward_times()
    rng = np.random.default_rng(1)
    stem = conv_speed.step_times(*conv_speed.stem_layer(rng), **conv_speed.STEM)
    middle = conv_speed.step_times(*conv_speed.middle_layer(rng), padding=1)
    rng = np.random.default_rng(2)
    back_build, back_steps, back_reads = step_budget.measure(step_budget.backward_middle_layer(rng),
                                                             ["grad_input", "grad_weight", "grad_bias"])
    _, _, stem_reads = step_budget.measure(step_budget.backward_stem(rng), ["grad_weight"], repeats=3)
    (_, input_s, input_terms), (_, weight_s, weight_terms), _ = back_reads
    _, stem_weight_s, stem_weight_terms = stem_reads[0]
    return [
        Figure(group, "conv2d, ResNet stem (3×224×224, 64 filters 7×7, stride 2)", engine_s * 1e3, "ms"),
        Figure(group, "  the same with bare NumPy (im2col + one matmul)", numpy_s * 1e3, "ms"),
        Figure(group, "  engine / NumPy", engine_s / numpy_s, "×", 2.0),
        Figure(group, f"build the stem's trace ({stem['steps']:,} lazy steps)", stem["build_s"] * 1e3, "ms", 50),
        Figure(group, f"read one step of the stem ({len(stem['step'].terms)} terms)", stem["read_s"] * 1e3, "ms",
               STEP_BUDGET_MS),
        Figure(group, f"read one step of a 64×56×56 layer, 3×3 ({len(middle['step'].terms)} terms)",
               middle["read_s"] * 1e3, "ms", STEP_BUDGET_MS),
        Figure(group, f"build that layer's backward trace ({back_steps:,} steps)", back_build * 1e3, "ms", 100),
        Figure(group, f"  read one grad_input step ({input_terms} terms)", input_s * 1e3, "ms", STEP_BUDGET_MS),
        Figure(group, f"  read one grad_weight step ({weight_terms:,} terms)", weight_s * 1e3, "ms", STEP_BUDGET_MS),
        Figure(group, f"stem's grad_weight step ({stem_weight_terms:,} terms), per term",
               stem_weight_s / stem_weight_terms * 1e6, "µs", 5),
    ]


def page_figures() -> list[Figure]:
    group = "pages"
    server = pages.server_figures(TestClient(app))
    browser = pages.browser_figures("/conv2d?" + pages.mnist_query()) or {}
    return [
        Figure(group, "seed 000 page, server time", server["seed_page_ms"], "ms", 50),
        Figure(group, "seed 000 API call, server time", server["seed_api_ms"], "ms", 20),
        Figure(group, "28×28 ∗ 6×6 page (529 steps): HTML", server["mnist_html_bytes"] / 1024, "KiB", 1024),
        Figure(group, "  server time", server["mnist_page_ms"], "ms", 250),
        Figure(group, "  transferred to Chromium", _kib(browser.get("transferred_bytes")), "KiB", 1024),
        Figure(group, "  player ready in Chromium", browser.get("interactive_ms"), "ms", 1000),
        Figure(group, "  End key to step 529", browser.get("end_key_ms"), "ms", 500),
    ]


def network_figures() -> list[Figure]:
    group = "network page"
    client = TestClient(app)
    path = "/network?" + urllib.parse.urlencode(MNIST)
    engine_ms, steps = network_bench.engine_time()
    html = client.get(path).content
    browser = network_bench.browser_figures(path) or {}
    return [
        Figure(group, f"seed 003 network, one training step in the engine ({steps:,} lazy steps)", engine_ms, "ms", 50),
        Figure(group, f"seed 003 page, {MNIST['steps']} training steps, server time (cold)",
               network_bench.page_time(client, path, repeat=5), "ms", 500),
        Figure(group, "  HTML", len(html) / 1024, "KiB", network_bench.PAGE_BUDGET / 1024),
        Figure(group, "  transferred to Chromium", _kib(browser.get("transferred_bytes")), "KiB",
               network_bench.PAGE_BUDGET / 1024),
        Figure(group, "  player ready in Chromium", browser.get("interactive_ms"), "ms", 1500),
    ]


def architecture_figures() -> list[Figure]:
    group = "architecture"
    f = architecture_bench.figures()
    return [
        Figure(group, f"ResNet-50 table ({f['rows']} rows, {f['steps']} lazy steps)", f["table_ms"], "ms",
               architecture_bench.BUDGET_MS),
        Figure(group, "  with every step built", f["every_step_ms"], "ms", 250),
        Figure(group, "  POST /api/v1/architecture", f["api_ms"], "ms", 100),
        Figure(group, "  GET /architecture?preset=resnet50", f["page_ms"], "ms", 200),
    ]


def load_figures(requests: int) -> list[Figure]:
    group = "load"
    result = load.run(requests)
    load.report(result)
    first, second = result["bursts"]
    memory = [m["VmHWM"] / 1024 for m in result["memory"]]
    return [
        Figure(group, f"burst of {requests:,} (API call and page) at concurrency 32: throughput",
               second["throughput"], "req/s", 200, at_least=True),
        Figure(group, "  p50 latency", second["p50_ms"], "ms", 100),
        Figure(group, "  p99 latency", second["p99_ms"], "ms", 500),
        Figure(group, "  errors, both bursts", first["errors"] + second["errors"], "", 0, strict=True),
        Figure(group, "  server's peak memory after the first burst", memory[0], "MiB", 200),
        Figure(group, "  rise of the peak over the second burst", (memory[1] / memory[0] - 1) * 100, "%",
               load.MEMORY_RISE * 100, strict=True),
        Figure(group, "36 MB body refused (413, unread)", result["big_body_ms"], "ms", 100),
    ]


def _kib(size: float | None) -> float | None:
    return None if size is None else size / 1024


def table(figures: list[Figure], markdown: bool) -> str:
    if markdown:
        lines = ["| | figure | measured | budget | |", "|---|---|---:|---:|---|"]
        group = None
        for f in figures:
            shown_group, group = (f.group if f.group != group else ""), f.group
            name = f.name.strip() if f.name == f.name.lstrip() else f"· {f.name.strip()}"
            lines.append(f"| {shown_group} | {name} | {f.shown(f.value)} | {f.budget_text()} | {f.status} |")
        return "\n".join(lines)
    width = max(len(f.name) for f in figures)
    lines, group = [], None
    for f in figures:
        if f.group != group:
            group = f.group
            lines.append(f"\n{group}")
        lines.append(f"  {f.name:<{width}}  {f.shown(f.value):>13}  {f.budget_text():>13}  {f.status}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests in each load burst (default 5,000)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    figures: list[Figure] = []
    for measure in (engine_figures, page_figures, network_figures, architecture_figures):
        figures += measure()
    figures += load_figures(args.requests)
    print(table(figures, args.markdown))
    failed = [f for f in figures if f.status == "FAIL"]
    over = [f for f in figures if f.status == "over"]
    print(f"\n{len(figures)} figures: {len(failed)} more than {SLACK:g}× over budget, {len(over)} over but within "
          f"{SLACK:g}×.")
    for f in failed:
        print(f"FAIL: {f.name.strip()}: {f.shown(f.value)}, budget {f.budget_text()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
