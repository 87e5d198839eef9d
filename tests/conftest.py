"""Fixtures shared by the app's tests: a TestClient over the app, and the JSON API called by op name."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import app


@pytest.fixture(scope="session")
def client() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


class Api:
    """POST /api/v1/<op> and read the answer or the refusal."""

    def __init__(self, client: TestClient):
        self.client = client

    def post(self, op: str, body: Any, **query: Any) -> httpx.Response:
        return self.client.post(f"/api/v1/{op}", json=body, params=query)

    def ok(self, op: str, body: Any, **query: Any) -> dict[str, Any]:
        response = self.post(op, body, **query)
        assert response.status_code == 200, response.text
        return response.json()

    def refused(self, op: str, body: Any, status: int = 422, **query: Any) -> list[dict[str, Any]]:
        """The ``detail`` items of a refusal with ``status``."""
        response = self.post(op, body, **query)
        assert response.status_code == status, response.text
        assert "Traceback" not in response.text
        return response.json()["detail"]

    def locs(self, op: str, body: Any, status: int = 422, **query: Any) -> list[list[Any]]:
        return [item["loc"] for item in self.refused(op, body, status, **query)]


@pytest.fixture()
def api(client: TestClient) -> Api:
    return Api(client)
