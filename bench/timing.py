"""Timing shared by the bench scripts."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

STEP_BUDGET_MS = 5.0
"""Reading one step of a large layer, at most."""


def best_of(function, repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


class Server:
    """``python -m uvicorn app.main:app`` on a free loopback port, stopped on exit."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                                         "--port", str(self.port), "--log-level", "warning",
                                         # longer than the client's 5 s keep-alive: with uvicorn's 5 s default
                                         # the server may close an idle connection as the client reuses it
                                         "--timeout-keep-alive", "30"],
                                        cwd=Path(__file__).resolve().parents[1])

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/static/style.css", timeout=2)
                return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("uvicorn did not start")
                time.sleep(0.1)

    def __exit__(self, *_) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def memory_kib(self) -> dict[str, int]:
        """The server process's peak (VmHWM) and current (VmRSS) resident memory, in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {name: int(fields[name].split()[0]) for name in ("VmHWM", "VmRSS")}


def in_chromium(path: str, then=None) -> dict[str, float] | None:
    """Bytes Chromium receives for ``path`` on a live server (HTML, CSS, JavaScript) and the milliseconds
    until the player is ready; ``then(page, start)`` adds figures of its own. None without chromium."""
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not found: browser figures not measured")
        return None
    from playwright.sync_api import sync_playwright

    with Server() as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        sizes: list[int] = []
        page.on("response", lambda r: sizes.append(len(r.body()) if r.ok else 0))
        start = time.perf_counter()
        page.goto(server.base + path)
        page.wait_for_selector(".player:not([hidden])")
        figures = {"interactive_ms": (time.perf_counter() - start) * 1000, "transferred_bytes": sum(sizes),
                   "files": len(sizes)}
        if then is not None:
            figures.update(then(page, start))
        browser.close()
        return figures
