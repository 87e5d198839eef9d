"""Load: bounded bursts against a real server, and a 36 MB body refused.

Starts uvicorn (one process) on a free loopback port, warms it up, then sends two bursts of seed 000's
conv2d API call and of its page (/conv2d with the seed's problem), alternating, at a fixed concurrency.
Prints the throughput, p50 and p99 latency, the errors (anything but a 200: there must be none) and the
server's peak memory (VmHWM of its process) after each burst: the second burst must not raise it by more
than 10% (caches are bounded, nothing accumulates). Then sends the headers of a 36 MB body and its first
64 KiB, and times the 413.

    python bench/load.py                      # 5,000 requests per burst at concurrency 32
    python bench/load.py --requests 1000      # a shorter run

Exits with 1 on any error, on a memory rise, or when the 413 takes longer than a second.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from app.limits import MAX_BODY_BYTES  # noqa: E402
from timing import Server  # noqa: E402

SEED000_BODY = {"input": [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]],
                "kernel": [[1, -1, 0], [0, 1, -1], [1, 0, 1]]}
SEED000_PAGE = {"input": "2 0 1 2; 1 1 0 1; 0 2 1 0; 1 0 2 1", "kernel": "1 -1 0; 0 1 -1; 1 0 1"}
MEMORY_RISE = 0.10
"""The second burst may raise the server's peak memory by at most this fraction."""
BIG_BODY = 36 * 1024 * 1024


async def _burst(base: str, requests: int, concurrency: int) -> dict:
    """``requests`` requests, API call and page alternating, ``concurrency`` at a time."""
    latencies: dict[str, list[float]] = {"api": [], "page": []}
    errors: list[str] = []
    next_request = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def worker() -> None:
            for i in next_request:
                kind = "api" if i % 2 == 0 else "page"
                start = time.perf_counter()
                try:
                    if kind == "api":
                        response = await client.post("/api/v1/conv2d", json=SEED000_BODY)
                    else:
                        response = await client.get("/conv2d", params=SEED000_PAGE)
                    if response.status_code != 200:
                        errors.append(f"{kind}: {response.status_code}")
                except httpx.HTTPError as error:
                    errors.append(f"{kind}: {type(error).__name__} {error!r}"[:200])
                latencies[kind].append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    every = latencies["api"] + latencies["page"]
    return {"requests": requests, "seconds": seconds, "throughput": requests / seconds,
            "p50_ms": _percentile(every, 50), "p99_ms": _percentile(every, 99),
            "api_p50_ms": _percentile(latencies["api"], 50), "page_p50_ms": _percentile(latencies["page"], 50),
            "errors": len(errors), "error_kinds": sorted(set(errors))[:5]}


def _percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000 if len(samples) > 1 else 0.0


def refuse_big_body(port: int) -> tuple[int, float]:
    """The status and the seconds until the answer, for the headers of a 36 MB POST and its first 64 KiB."""
    head = (f"POST /api/v1/conv2d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {BIG_BODY}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        start = time.perf_counter()
        connection.sendall(head + b"[" * 65536)
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = connection.recv(65536)
            if not piece:
                break
            answer += piece
        seconds = time.perf_counter() - start
    return int(answer.split(b" ", 2)[1]), seconds


def run(requests: int = 5000, concurrency: int = 32) -> dict:
    """Warm-up, two bursts with the server's memory after each, and the 36 MB refusal."""
    with Server() as server:
        asyncio.run(_burst(server.base, 200, concurrency))
        bursts, memory = [], []
        for _ in range(2):
            bursts.append(asyncio.run(_burst(server.base, requests, concurrency)))
            memory.append(server.memory_kib())
        status, refusal_s = refuse_big_body(server.port)
    return {"bursts": bursts, "memory": memory, "big_body_status": status, "big_body_ms": refusal_s * 1000,
            "concurrency": concurrency}


def report(result: dict) -> bool:
    ok = True
    for n, (burst, memory) in enumerate(zip(result["bursts"], result["memory"]), start=1):
        print(f"burst {n}: {burst['requests']:,} requests at concurrency {result['concurrency']} in "
              f"{burst['seconds']:.1f} s: {burst['throughput']:.0f} requests/s, p50 {burst['p50_ms']:.1f} ms, "
              f"p99 {burst['p99_ms']:.1f} ms (API p50 {burst['api_p50_ms']:.1f} ms, page p50 "
              f"{burst['page_p50_ms']:.1f} ms), errors {burst['errors']}"
              + (f" {burst['error_kinds']}" if burst["errors"] else ""))
        print(f"         server memory: peak {memory['VmHWM'] / 1024:.1f} MiB, now {memory['VmRSS'] / 1024:.1f} MiB")
        ok &= burst["errors"] == 0
    first, second = (m["VmHWM"] for m in result["memory"])
    rise = second / first - 1
    print(f"peak memory after the second burst: {rise:+.1%} (at most {MEMORY_RISE:+.0%})")
    print(f"36 MB body: {result['big_body_status']} after {result['big_body_ms']:.1f} ms "
          f"(limit {MAX_BODY_BYTES:,} bytes; budget 1 s)")
    return ok and rise <= MEMORY_RISE and result["big_body_status"] == 413 and result["big_body_ms"] < 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests in each burst (default 5,000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at once (default 32)")
    args = parser.parse_args()
    return 0 if report(run(args.requests, args.concurrency)) else 1


if __name__ == "__main__":
    sys.exit(main())
