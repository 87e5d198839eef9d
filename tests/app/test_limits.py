"""The limits of app/limits.py: each listed in the README, each named in the refusal a user gets, and an
oversized body refused before it is read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import limits

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
LIMITS = {name: value for name, value in vars(limits).items() if name.isupper() and isinstance(value, int)}
RELU = {"type": "relu"}
TRAIN = {"loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.1}}


def _names_limit(text: str, value: int) -> bool:
    """``value`` written out in ``text``, with or without thousands separators, not as part of a longer number."""
    return any(re.search(rf"(?<![\d,.]){re.escape(form)}(?![\d]|,\d)", text) for form in (f"{value:,}", str(value)))


def _limits_section() -> str:
    return README.split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_readme_lists_every_limit(name):
    assert _names_limit(_limits_section(), LIMITS[name]), f"{name} = {LIMITS[name]:,} is not in the README's Limits table"


# One request over each limit that refuses, and where the refusal lands. Each message must name the limit.
REFUSALS = {
    "MAX_ELEMENTS": ("flatten", {"input": [0] * (limits.MAX_ELEMENTS + 1)}, {}, ["body", "input"]),
    "MAX_PARAMETER": ("conv2d", {"input": [[1]], "kernel": [[1]], "stride": limits.MAX_PARAMETER + 1}, {},
                      ["body", "stride"]),
    "MAX_STEP_LIMIT": ("flatten", {"input": [1]}, {"step_limit": limits.MAX_STEP_LIMIT + 1}, ["query", "step_limit"]),
    "MAX_OUTPUT_ELEMENTS": ("conv2d", {"input": [[0] * 2001], "kernel": [[[[1]]]] * 2001}, {}, ["body"]),
    "MAX_MULTIPLY_ADDS": ("dense", {"input": [[0] * 1000] * 400, "weight": [[0] * 1000] * 600}, {}, ["body"]),
    "MAX_WORKING_CELLS": ("conv2d", {"input": [[1]], "kernel": [[1]], "padding": 5000}, {}, ["body", "padding"]),
    "MAX_STEP_TERMS": ("dense", {"input": [0] * (limits.MAX_STEP_TERMS + 1), "weight": [[0] * (limits.MAX_STEP_TERMS + 1)]},
                       {}, ["body", "input"]),
    "MAX_NAMED_TENSORS": ("optimizer", {"params": {f"w{i}": 1 for i in range(33)}, "grads": {f"w{i}": 1 for i in range(33)},
                                        "kind": "sgd", "lr": 0.1}, {}, ["body", "params"]),
    "MAX_NAME_LENGTH": ("optimizer", {"params": {"w" * 41: 1}, "grads": {"w" * 41: 1}, "kind": "sgd", "lr": 0.1}, {},
                        ["body", "params"]),
    "MAX_UPDATE_COUNT": ("optimizer", {"params": {"w": 1}, "grads": {"w": 1}, "kind": "adam", "lr": 0.1,
                                       "state": {"step": limits.MAX_UPDATE_COUNT + 1}}, {}, ["body", "state", "step"]),
    "MAX_SEED": ("dropout", {"input": [1, 2], "p": 0.5, "seed": limits.MAX_SEED + 1}, {}, ["body", "seed"]),
    "MAX_NETWORK_LAYERS": ("network", {"input": [1, 2], "layers": [RELU] * (limits.MAX_NETWORK_LAYERS + 1),
                                       "target": [0, 0], **TRAIN}, {}, ["body", "layers"]),
    "MAX_TRAINING_STEPS": ("network", {"input": [1, 2], "layers": [RELU], "target": [0, 0], **TRAIN,
                                       "steps": limits.MAX_TRAINING_STEPS + 1}, {}, ["body", "steps"]),
    "MAX_NETWORK_CELLS": ("network", {"input": [[0] * 500] * 300, "layers": [RELU], "target": [[0] * 500] * 300, **TRAIN},
                          {}, ["body", "layers", 0]),
    "MAX_NETWORK_WORK": ("network", {"input": [0] * 1000, "layers": [{"type": "linear", "out_features": 1000}],
                                     "target": [0] * 1000, **TRAIN, "steps": 100}, {}, ["body", "steps"]),
    "MAX_ARCHITECTURE_ROWS": ("architecture", {"input_shape": [3, 8, 8], "layers": "relu / " * 2000 + "relu"}, {},
                              ["body", "layers"]),
    "MAX_LAYER_TEXT": ("architecture", {"input_shape": [3, 8, 8], "layers": "relu / " * 20_000}, {}, ["body", "layers"]),
}




@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_every_refusal_names_its_limit(api, name):
    op, body, query, where = REFUSALS[name]
    detail = api.refused(op, body, **query)
    named = [d for d in detail if d["loc"][:len(where)] == where and _names_limit(d["msg"], LIMITS[name])]
    assert named, (name, detail)


def test_every_refusing_limit_is_exercised():
    not_refusals = {"DEFAULT_STEP_LIMIT", "PAGE_STEPS", "GRID_CELLS", "MAX_RESPONSE_TERMS", "EXPORT_STEPS",
                    "EXPORT_PRINTED_CELLS", "EXPORT_SCRIPT_NUMBERS"}  # they shorten what is shown, refuse nothing
    by_other_tests = {"MAX_BODY_BYTES", "MAX_QUERY_CHARS", "PAGE_UPDATES", "WORKSHEET_PROBLEMS"}
    missing = set(LIMITS) - set(REFUSALS) - not_refusals - by_other_tests
    assert not missing, f"add a refusal case for {sorted(missing)}"


def test_worksheet_names_its_problem_limit(client):
    html = client.get("/practice/worksheet", params={"op": "conv2d", "difficulty": "easy", "seed": 1,
                                                       "count": limits.WORKSHEET_PROBLEMS + 1}).text
    assert f"1 to {limits.WORKSHEET_PROBLEMS}" in html


def test_page_names_the_update_limit(client):
    html = client.get("/optimizer", params={"steps": limits.PAGE_UPDATES + 1}).text
    assert 'id="e-steps"' in html and f"{limits.PAGE_UPDATES}" in html.split('id="e-steps"', 1)[1][:300]


# --- the body and the query string ----------------------------------------------------------

BIG = 36 * 1024 * 1024


def test_declared_36_mb_body_is_refused_without_reading_it(asgi):
    answer = asgi("POST", "/api/v1/conv2d", size=BIG, length=BIG)
    assert answer.status == 413
    assert answer.reads == 0
    assert f"{limits.MAX_BODY_BYTES:,}" in answer.body.decode()
    assert answer.headers["content-type"] == "application/json"


def test_undeclared_36_mb_body_is_refused_once_it_passes_the_limit(asgi):
    chunk = 65536
    answer = asgi("POST", "/api/v1/conv2d", size=BIG, chunk=chunk)
    assert answer.status == 413
    assert answer.reads == limits.MAX_BODY_BYTES // chunk + 1  # stops at the first chunk past the limit
    assert f"{limits.MAX_BODY_BYTES:,}" in answer.body.decode()


def test_body_at_the_limit_is_read(asgi):
    answer = asgi("POST", "/api/v1/conv2d", size=limits.MAX_BODY_BYTES, length=limits.MAX_BODY_BYTES)
    assert answer.status in (400, 422)  # read and parsed: 8 MiB of digits is no conv2d body


def test_understated_length_is_still_counted(asgi):
    answer = asgi("POST", "/api/v1/conv2d", size=BIG, length=10)
    assert answer.status == 413


def test_long_query_string_is_refused_naming_its_limit(asgi):
    answer = asgi("GET", "/conv2d", query=b"input=" + b"1" * limits.MAX_QUERY_CHARS)
    assert answer.status == 414
    assert f"{limits.MAX_QUERY_CHARS:,}" in answer.body.decode()
    assert asgi("GET", "/conv2d", query=b"input=1&kernel=1").status == 200


def test_too_large_is_documented_on_every_post_route(client):
    openapi = client.get("/openapi.json").json()
    for path, methods in openapi["paths"].items():
        if "post" in methods:
            assert "413" in methods["post"]["responses"], path


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000,
                                  '{"input": ' + "[" * 5000 + "1" + "]" * 5000 + ', "kernel": [[1]]}',
                                  '{"input": [[1' + "0" * 5000 + ']], "kernel": [[1]]}'],
                         ids=["nested 100,000 deep", "input nested 5,000 deep", "integer of 5,000 digits"])
def test_bodies_json_cannot_hold_are_a_documented_400(client, body):
    response = client.post("/api/v1/conv2d", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
    documented = client.get("/openapi.json").json()["paths"]["/api/v1/conv2d"]["post"]["responses"]
    assert "400" in documented
