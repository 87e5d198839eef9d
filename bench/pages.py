"""Server time for the seed 000 page and API call; page weight and render time in headless
Chromium for seed 003's first layer (28x28 input, 6x6 kernel). Budgets: page under 1 MB,
interactive under 1 s.

    python bench/pages.py
"""

from __future__ import annotations

import statistics
import time
import urllib.parse
import urllib.request

import numpy as np
from fastapi.testclient import TestClient

from app.main import app
from timing import in_chromium

SEED000 = {"input": "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1", "kernel": "1 -1 0; 0 1 -1; 1 0 1"}


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
    def end_key(page, start: float) -> dict[str, float]:
        before = time.perf_counter()
        page.keyboard.press("End")
        page.wait_for_selector("li#step-529.current")
        return {"end_key_ms": (time.perf_counter() - before) * 1000}

    f = in_chromium(path, end_key)
    if f is not None:
        print(f"28x28 * 6x6 in Chromium: {f['transferred_bytes'] / 1024:.0f} KiB transferred (budget 1024 KiB), "
              f"interactive after {f['interactive_ms']:.0f} ms (budget 1000 ms), "
              f"End key to step 529: {f['end_key_ms']:.0f} ms")
    return f


if __name__ == "__main__":
    main()
