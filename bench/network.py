"""Seed 003's MNIST-style network (a 28×28 digit, one 6×6 filter, 2×2 max pool, 121 → 10, softmax with
cross-entropy): the engine's time for one forward pass, backward pass and update, the page's server
time, and the page's weight as HTML and as transferred to headless Chromium. Budget: page under 1.5 MB.

    python bench/network.py
"""

from __future__ import annotations

import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from app.main import app  # noqa: E402
from app.pages.network import MNIST, _compute, _input, _target, parse_layers  # noqa: E402
from app.render import mathml  # noqa: E402
from engine import network  # noqa: E402
from timing import best_of, in_chromium  # noqa: E402

PAGE_BUDGET = 1_500_000


def engine_time() -> tuple[float, int]:
    """Best of 20: one call of the engine with steps=1 (forward, loss, backward, update), and its step count."""
    x = _input(MNIST["input"])
    layers, _ = parse_layers(MNIST["layers"])
    target = _target(MNIST["target"])

    def run():
        return network(x, layers, target=target, loss={"kind": MNIST["loss"], "reduction": MNIST["reduction"]},
                       optimizer={"kind": MNIST["optimizer"], "lr": float(MNIST["lr"])}, steps=1,
                       seed=int(MNIST["seed"]))
    return best_of(run, 20) * 1000, len(run().steps)


def page_time(client: TestClient, path: str, repeat: int = 9) -> float:
    """Median server time for the page, each time from cold: the page caches a problem it has seen, the
    MathML of a formula it has converted."""
    samples = []
    for _ in range(repeat):
        _compute.cache_clear()
        mathml.cache_clear()
        start = time.perf_counter()
        client.get(path)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> int:
    client = TestClient(app)
    path = "/network?" + urllib.parse.urlencode(MNIST)
    ms, count = engine_time()
    print(f"seed 003 network, engine forward + backward + one update: {ms:.1f} ms (best of 20; {count:,} steps, "
          "each built when read)")
    query = {**MNIST, "steps": "1"}
    one_step = "/network?" + urllib.parse.urlencode(query)
    print(f"seed 003 page, 1 training step, server time (median, cold): {page_time(client, one_step):.0f} ms")
    print(f"seed 003 page, {MNIST['steps']} training steps, server time (median, cold): "
          f"{page_time(client, path):.0f} ms")
    html = client.get(path).content
    print(f"seed 003 page: {len(html) / 1024:.0f} KiB of HTML ({len(html):,} bytes; budget {PAGE_BUDGET:,})")
    transferred = browser_weight(path)
    within = len(html) < PAGE_BUDGET and (transferred is None or transferred < PAGE_BUDGET)
    print(f"budget 1.5 MB: {'within' if within else 'OVER'}")
    return 0 if within else 1


def browser_weight(path: str) -> int | None:
    """Bytes the browser receives for the page (HTML, CSS, JavaScript)."""
    figures = browser_figures(path)
    return None if figures is None else figures["transferred_bytes"]


def browser_figures(path: str) -> dict[str, float] | None:
    """Bytes the browser receives for the page (HTML, CSS, JavaScript), and the time until the player is ready."""
    f = in_chromium(path)
    if f is not None:
        print(f"seed 003 page in Chromium: {f['transferred_bytes'] / 1024:.0f} KiB transferred ({f['files']} files), "
              f"player ready after {f['interactive_ms']:.0f} ms")
    return f


if __name__ == "__main__":
    sys.exit(main())
