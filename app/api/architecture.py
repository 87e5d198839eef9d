"""JSON routes of architecture tables: a network's table, its presets, comparisons, and exports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

import engine
from engine.architecture import count_layers
from engine.layer_text import layers_to_text, parse_layers
from engine.presets import COMPARISONS, NETWORKS
from engine.tables import summary_text

from ..limits import MAX_ARCHITECTURE_ROWS
from ..schemas import (ArchitectureCompareRequest, ArchitecturePresets, ArchitectureRequest, ArchitectureTrace,
                       ComparisonTrace)
from .tensors import invalid
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["architecture"])

MEDIA = {"torchinfo": "text/plain", "keras": "text/plain", "csv": "text/csv", "markdown": "text/markdown",
         "json": "application/json"}


def read_layers(value: Any, field: str) -> Any:
    """Specs as plain dicts (text parsed), refused when they would make more rows than the limit."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            layers = parse_layers(value)
        except engine.EngineError as error:
            raise engine.EngineError(field, error.problem, error.location) from None
    else:
        layers = [spec.model_dump(exclude_unset=True) for spec in value]
    rows = count_layers(layers)
    if rows > MAX_ARCHITECTURE_ROWS:
        raise invalid(("body", field), f"the table would have {rows:,} rows; the limit is "
                                       f"{MAX_ARCHITECTURE_ROWS:,}", "over_limit")
    return layers


def _architecture(body: ArchitectureRequest) -> engine.Trace:
    return engine.architecture(body.input_shape, read_layers(body.layers, "layers"), preset=body.preset)


def _compare(body: ArchitectureCompareRequest) -> engine.Trace:
    return engine.compare_architectures(body.input_shape, read_layers(body.left, "left"),
                                        read_layers(body.right, "right"), preset=body.preset, labels=body.labels)


@router.post("/architecture", response_model=ArchitectureTrace, responses=ERROR_RESPONSES,
             summary="A network's table: shapes, parameters, MACs, memory and receptive fields")
def architecture(body: ArchitectureRequest, page: PagingQuery) -> Response:
    """One row per layer and block (blocks first, their layers one level deeper, as torchinfo lists
    them), the totals, and the steps: output sizes, parameter and MAC counts, receptive fields.
    A layer that does not fit is a 422 whose `loc` points at it."""
    return respond(lambda: _architecture(body), page)


@router.get("/architecture/presets", response_model=ArchitecturePresets,
            summary="The networks and comparisons that can be asked for by name")
def presets() -> JSONResponse:
    """torchvision's networks (with their documented parameter counts and GFLOPS), LeNet-5, the
    seeds' networks, and the comparisons, each with its layers in both forms."""
    return JSONResponse({
        "networks": [{"name": n.name, "title": n.title, "input_shape": list(n.input_shape), "source": n.source,
                      "published": n.published or None, "layers": n.layers, "text": layers_to_text(n.layers)}
                     for n in NETWORKS.values()],
        "comparisons": [{"name": c.name, "title": c.title, "input_shape": list(c.input_shape),
                         "labels": list(c.labels), "left": layers_to_text(c.left), "right": layers_to_text(c.right),
                         "explanation": c.explanation} for c in COMPARISONS.values()],
    })


@router.post("/architecture/compare", response_model=ComparisonTrace, responses=ERROR_RESPONSES,
             summary="Two architectures side by side, with the ratio of their parameters and MACs")
def compare(body: ArchitectureCompareRequest, page: PagingQuery) -> Response:
    """Each side's totals and the ratios right / left, explained; presets: one 5×5 against two 3×3,
    standard against depthwise-separable, a convolution against the dense layer with the same input
    and output."""
    return respond(lambda: _compare(body), page)


@router.post("/architecture/summary", responses={**ERROR_RESPONSES, 200: {
    "content": {media: {} for media in set(MEDIA.values())},
    "description": "The table as text: torchinfo's or Keras's layout, CSV, Markdown or JSON."}},
    summary="The table as torchinfo or Keras print it, or as CSV, Markdown or JSON")
def summary(body: ArchitectureRequest,
            format: Annotated[Literal["torchinfo", "keras", "csv", "markdown", "json"],
                              Query(description="The layout of the text.")] = "torchinfo",
            layout: Annotated[Literal["chw", "hwc"], Query(description="Shapes as C×H×W or H×W×C "
                                                                       "(CSV and Markdown).")] = "chw") -> Response:
    trace = _architecture(body)
    name = NETWORKS[body.preset].class_name if body.preset else "Net"
    text = summary_text(trace.outputs, format, layout, model_name=name,
                        input_shape=trace.params["input_shape"])
    return Response(text, media_type=MEDIA[format])
