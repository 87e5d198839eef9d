"""The API's documentation: /docs and /redoc work offline, and the OpenAPI document tells the truth."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from app import schemas
from app.limits import DEFAULT_STEP_LIMIT, MAX_STEP_LIMIT

ROUTES = {  # path -> (request model, response model, tag)
    "/api/v1/conv2d": (schemas.Conv2dRequest, schemas.ConvTrace, "convolution"),
    "/api/v1/conv2d/backward": (schemas.Conv2dBackwardRequest, schemas.ConvBackwardTrace, "convolution"),
    "/api/v1/conv1d": (schemas.Conv1dRequest, schemas.ConvTrace, "convolution"),
    "/api/v1/conv1d/backward": (schemas.Conv1dBackwardRequest, schemas.ConvBackwardTrace, "convolution"),
    "/api/v1/pool2d": (schemas.Pool2dRequest, schemas.PoolTrace, "pooling"),
    "/api/v1/pool2d/backward": (schemas.Pool2dBackwardRequest, schemas.PoolBackwardTrace, "pooling"),
    "/api/v1/im2col": (schemas.Im2colRequest, schemas.Im2colTrace, "shapes"),
    "/api/v1/output-size": (schemas.OutputSizeRequest, schemas.OutputSizeTrace, "shapes"),
    "/api/v1/activation": (schemas.ActivationRequest, schemas.ActivationTrace, "activations"),
    "/api/v1/activation/backward": (schemas.ActivationBackwardRequest, schemas.ActivationBackwardTrace,
                                    "activations"),
    "/api/v1/dense": (schemas.DenseRequest, schemas.DenseTrace, "dense"),
    "/api/v1/dense/backward": (schemas.DenseBackwardRequest, schemas.DenseBackwardTrace, "dense"),
    "/api/v1/flatten": (schemas.FlattenRequest, schemas.FlattenTrace, "dense"),
    "/api/v1/loss": (schemas.LossRequest, schemas.LossTrace, "losses"),
    "/api/v1/optimizer": (schemas.OptimizerRequest, schemas.OptimizerTrace, "optimizers"),
    "/api/v1/batchnorm": (schemas.BatchnormRequest, schemas.BatchnormTrace, "normalization"),
    "/api/v1/batchnorm/backward": (schemas.BatchnormBackwardRequest, schemas.BatchnormBackwardTrace,
                                   "normalization"),
    "/api/v1/dropout": (schemas.DropoutRequest, schemas.DropoutTrace, "dropout"),
    "/api/v1/network": (schemas.NetworkRequest, schemas.NetworkTrace, "network"),
    "/api/v1/architecture": (schemas.ArchitectureRequest, schemas.ArchitectureTrace, "architecture"),
    "/api/v1/architecture/compare": (schemas.ArchitectureCompareRequest, schemas.ComparisonTrace, "architecture"),
}
OTHER_ROUTES = {  # path -> (method, tag): routes that answer with something other than a trace
    "/api/v1/architecture/presets": ("get", "architecture"),
    "/api/v1/architecture/summary": ("post", "architecture"),
    "/api/v1/check": ("post", "check"),
    "/api/v1/practice/{op}": ("get", "practice"),
}


class Assets(HTMLParser):
    """The URLs a page loads: scripts, stylesheets, icons, images."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def assets(html: str) -> list[str]:
    parser = Assets()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module")
def openapi(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


# --- served docs ----------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_the_internet(client, page):
    response = client.get(page)
    assert response.status_code == 200
    urls = assets(response.text)
    assert any(url.endswith(".js") for url in urls)
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", response.text)
    assert "fonts.googleapis" not in response.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_assets_are_served_by_the_app(client, page):
    for url in assets(client.get(page).text):
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 0, url


def test_swagger_ui_reads_the_local_openapi_document(client):
    html = client.get("/docs").text
    assert "'/openapi.json'" in html
    assert any(url.endswith(".css") for url in assets(html))


# --- the OpenAPI document -------------------------------------------------------------------

def test_openapi_lists_every_route_as_a_post_with_its_tag(openapi):
    api_paths = {path: ops for path, ops in openapi["paths"].items() if path.startswith("/api/v1/")}
    assert set(api_paths) == set(ROUTES) | set(OTHER_ROUTES)
    for path, (_, _, tag) in ROUTES.items():
        assert set(api_paths[path]) == {"post"}
        assert api_paths[path]["post"]["tags"] == [tag]
    for path, (method, tag) in OTHER_ROUTES.items():
        assert set(api_paths[path]) == {method}
        assert api_paths[path][method]["tags"] == [tag]


@pytest.mark.parametrize("path", ROUTES)
def test_openapi_lists_every_status_a_route_can_answer(openapi, path):
    responses = openapi["paths"][path]["post"]["responses"]
    assert set(responses) == {"200", "400", "404", "413", "414", "422"}
    for status in ("404", "413", "422"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.mark.parametrize("path", ROUTES)
def test_openapi_names_the_request_and_trace_models(openapi, path):
    request_model, response_model, _ = ROUTES[path]
    operation = openapi["paths"][path]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{request_model.__name__}"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": f"#/components/schemas/{response_model.__name__}"}


@pytest.mark.parametrize("path", ROUTES)
def test_openapi_request_bodies_refuse_unknown_fields(openapi, path):
    name = ROUTES[path][0].__name__
    assert openapi["components"]["schemas"][name]["additionalProperties"] is False


@pytest.mark.parametrize("path", ROUTES)
def test_openapi_documents_the_paging_parameters_and_their_bounds(openapi, path):
    parameters = {p["name"]: p for p in openapi["paths"][path]["post"]["parameters"]}
    assert set(parameters) == {"step_offset", "step_limit", "step_id"}
    assert all(p["in"] == "query" for p in parameters.values())
    limit = parameters["step_limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, MAX_STEP_LIMIT, DEFAULT_STEP_LIMIT)
    assert parameters["step_offset"]["schema"]["minimum"] == 0


def test_openapi_describes_a_step_and_its_kinds(openapi):
    components = openapi["components"]["schemas"]
    assert set(components["Step"]["properties"]) == {"id", "kind", "title", "message", "formula", "expansion",
                                                     "terms", "result", "target", "reads", "substeps", "function"}
    assert "multiply_add" in components["StepKind"]["enum"]
    for path, (_, response_model, _) in ROUTES.items():
        trace = components[response_model.__name__]
        assert set(trace["properties"]) == {"op", "params", "inputs", "outputs", "formula", "steps", "step_count",
                                            "step_offset", "next_step_offset", "notes", "intermediates"}
        assert trace["properties"]["steps"]["items"] == {"$ref": "#/components/schemas/Step"}


def test_openapi_padding_schema_offers_numbers_and_words(openapi):
    padding = openapi["components"]["schemas"]["Conv2dRequest"]["properties"]["padding"]
    kinds = [option.get("type") for option in padding["anyOf"]]
    assert kinds == ["integer", "array", "array", "string"]
    assert padding["anyOf"][3]["enum"] == ["same", "valid"]


# --- the documented examples and the response models ----------------------------------------

@pytest.mark.parametrize("path", ROUTES)
def test_every_documented_request_example_computes_and_matches_its_response_model(client, openapi, path):
    request_model, response_model, _ = ROUTES[path]
    examples = openapi["components"]["schemas"][request_model.__name__]["examples"]
    assert examples
    for example in examples:
        response = client.post(path, json=example)
        assert response.status_code == 200, response.text
        trace = response_model.model_validate(response.json())
        assert trace.step_count >= len(trace.steps) > 0


def test_check_route_documents_its_models_statuses_and_examples(client, openapi):
    operation = openapi["paths"]["/api/v1/check"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CheckRequest"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/CheckResponse"}
    assert set(operation["responses"]) == {"200", "400", "413", "414", "422"}
    assert "parameters" not in operation
    request = openapi["components"]["schemas"]["CheckRequest"]
    assert request["additionalProperties"] is False
    assert request["examples"]
    for example in request["examples"]:
        response = client.post("/api/v1/check", json=example)
        assert response.status_code == 200, response.text
        schemas.CheckResponse.model_validate(response.json())
