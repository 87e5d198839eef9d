"""Seed 003's MNIST-style network (a 28×28 digit, one 6×6 filter, 2×2 max pool, 121 → 10, softmax with
cross-entropy): the engine's time for one forward pass, backward pass and update, the page's server
time, and the page's weight as HTML and as transferred to headless Chromium. Budget: page under 1.5 MB.

    python bench/network.py
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
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
from timing import best_of  # noqa: E402

PAGE_BUDGET = 1_500_000
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


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
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not found: browser figures not measured")
        return None
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
                               "--log-level", "warning"])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/static/style.css")
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            sizes = []
            page.on("response", lambda r: sizes.append(len(r.body()) if r.ok else 0))
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}{path}")
            page.wait_for_selector(".player:not([hidden])")
            interactive = (time.perf_counter() - start) * 1000
            loaded = sum(sizes)
            print(f"seed 003 page in Chromium: {loaded / 1024:.0f} KiB transferred ({len(sizes)} files), "
                  f"player ready after {interactive:.0f} ms")
            browser.close()
            return {"transferred_bytes": loaded, "interactive_ms": interactive}
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
