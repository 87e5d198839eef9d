"""The ResNet-50 architecture table: building it (rows, totals, the lazy steps), reading every step,
the JSON API call, the page and the torchinfo export. Budget: the table in under 100 ms.

    python bench/architecture.py

Exits with 1 when the table takes longer than the budget.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi.testclient import TestClient  # noqa: E402
from timing import best_of  # noqa: E402

from app.main import app  # noqa: E402
from engine import architecture  # noqa: E402
from engine.tables import summary_text  # noqa: E402

BUDGET_MS = 100.0


def figures() -> dict[str, float]:
    """Milliseconds (best of several runs) for the ResNet-50 table and what is built from it; its sizes."""
    trace = architecture(preset="resnet50")
    steps = len(trace.steps)
    client = TestClient(app)
    return {
        "rows": len(trace.outputs["layers"]), "steps": steps,
        "table_ms": best_of(lambda: architecture(preset="resnet50"), 20) * 1000,
        "every_step_ms": best_of(lambda: [s for s in architecture(preset="resnet50").steps], 5) * 1000,
        "middle_step_ms": best_of(lambda: trace.steps[steps // 2], 50) * 1000,
        "torchinfo_ms": best_of(lambda: summary_text(trace.outputs, "torchinfo", model_name="ResNet"), 20) * 1000,
        "api_ms": best_of(lambda: client.post("/api/v1/architecture", json={"preset": "resnet50"}), 10) * 1000,
        "page_ms": best_of(lambda: client.get("/architecture?preset=resnet50"), 5) * 1000,
        "page_bytes": len(client.get("/architecture?preset=resnet50").content),
    }


def main() -> int:
    f = figures()
    rows, steps, table, read, middle, text, api, page = (f["rows"], f["steps"], f["table_ms"], f["every_step_ms"],
                                                         f["middle_step_ms"], f["torchinfo_ms"], f["api_ms"],
                                                         f["page_ms"])
    print(f"ResNet-50 at 3x224x224: {rows} rows, {steps} steps (best of several runs)")
    print(f"  table: rows, totals, lazy steps   {table:7.2f} ms   budget {BUDGET_MS:.0f} ms: "
          f"{'within' if table <= BUDGET_MS else 'OVER BUDGET'}")
    print(f"  table and every step built        {read:7.2f} ms")
    print(f"  one step (the middle one)         {middle:7.3f} ms")
    print(f"  torchinfo text                    {text:7.2f} ms")
    print(f"  POST /api/v1/architecture         {api:7.2f} ms   (first 50 steps)")
    print(f"  GET /architecture?preset=resnet50 {page:7.2f} ms   ({f['page_bytes'] / 1024:.0f} KiB of HTML)")
    return 0 if table <= BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
