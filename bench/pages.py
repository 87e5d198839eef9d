"""Server time for the seed 000 page and API call; page weight and render time in headless
Chromium for seed 003's first layer (28x28 input, 6x6 kernel). Budgets: page under 1 MB,
interactive under 1 s.

    python bench/pages.py
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

import numpy as np
from fastapi.testclient import TestClient

from app.main import app

SEED000 = {"input": "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1", "kernel": "1 -1 0; 0 1 -1; 1 0 1"}
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def timed(fn, repeat: int = 30) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def mnist_query() -> str:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 10, size=(28, 28))
    kernel = rng.integers(-2, 3, size=(6, 6))
    as_text = lambda a: "; ".join(" ".join(str(v) for v in row) for row in a)  # noqa: E731
    return urllib.parse.urlencode({"input": as_text(image), "kernel": as_text(kernel)})


SEED000_BODY = {"input": [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]],
                "kernel": [[1, -1, 0], [0, 1, -1], [1, 0, 1]]}
SEED000_PAGE = "/conv2d?" + urllib.parse.urlencode(SEED000)


def server_figures(client: TestClient) -> dict[str, float]:
    """Milliseconds (median) for seed 000's page and API call; the 28x28 page's HTML bytes and milliseconds."""
    mnist = "/conv2d?" + mnist_query()
    return {"seed_page_ms": timed(lambda: client.get(SEED000_PAGE)),
            "seed_api_ms": timed(lambda: client.post("/api/v1/conv2d", json=SEED000_BODY)),
            "mnist_html_bytes": len(client.get(mnist).content),
            "mnist_page_ms": timed(lambda: client.get(mnist), repeat=5)}


def main() -> None:
    f = server_figures(TestClient(app))
    print(f"seed 000 page, server time (median): {f['seed_page_ms']:.1f} ms")
    print(f"seed 000 API call, server time (median): {f['seed_api_ms']:.1f} ms")
    print(f"28x28 * 6x6 page: {f['mnist_html_bytes'] / 1024:.0f} KiB of HTML (budget 1024 KiB), "
          f"server time {f['mnist_page_ms']:.0f} ms")
    browser_figures("/conv2d?" + mnist_query())


def browser_figures(path: str) -> dict[str, float] | None:
    """Bytes transferred, milliseconds until the player is ready and for the End key's jump to step 529."""
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
            page.keyboard.press("End")
            page.wait_for_selector("li#step-529.current")
            to_last = (time.perf_counter() - start) * 1000 - interactive
            print(f"28x28 * 6x6 in Chromium: {loaded / 1024:.0f} KiB transferred (budget 1024 KiB), "
                  f"interactive after {interactive:.0f} ms (budget 1000 ms), End key to step 529: {to_last:.0f} ms")
            browser.close()
            return {"transferred_bytes": loaded, "interactive_ms": interactive, "end_key_ms": to_last}
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
