"""JSON route of the network: one example through a small network, trained for a few steps.

Every layer's tensors are read cell by cell, so a bad cell is named down to its place:
``['body', 'layers', 0, 'weight', 1, 2]``. Before the engine computes anything, the example's
shape is followed through the layers to price the request: each layer within its op's own limits
(``app.api.budget``), all activations together within MAX_NETWORK_CELLS, and the multiply-adds of a
training step times the steps within MAX_NETWORK_WORK. Where the walk meets a layer that does not
fit the shape it gets, it stops: the engine refuses that layer, naming it, before computing it.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import numpy as np
from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

import engine
from engine.layout import IMAGE, KERNEL_1D, KERNEL_2D, SEQUENCE, shape4
from engine.network import POOLS
from engine.shapes import out_size, resolve_padding

from ..limits import MAX_ELEMENTS, MAX_NETWORK_CELLS, MAX_NETWORK_WORK, MAX_OUTPUT_ELEMENTS
from ..schemas import NetworkRequest, NetworkTrace
from .budget import check_activation, check_batchnorm, check_conv, check_dense, check_loss, check_pool
from .tensors import invalid, read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["network"])

LAYER_TENSORS = ("weight", "bias", "mask")
Shape = tuple[int, ...]


# --- reading the body -----------------------------------------------------------------------

def _read(body: NetworkRequest) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """The input, the target and each layer as the engine takes it; every bad cell is reported."""
    errors: list[dict[str, Any]] = []

    def read(where: tuple[str | int, ...], fields: dict[str, Any]) -> dict[str, Any]:
        try:
            return read_tensors(fields)
        except RequestValidationError as error:  # ('body', name, cell...) -> ('body', *where, name, cell...)
            errors.extend({**e, "loc": ("body", *where, *tuple(e["loc"])[1:])} for e in error.errors())
            return fields

    top = read((), {"input": body.input, "target": body.target})
    layers = []
    for i, layer in enumerate(body.layers):
        spec = layer.model_dump(exclude_none=True)
        tensors = {name: spec[name] for name in LAYER_TENSORS if name in spec and spec[name] is not False}
        spec.update(read(("layers", i), tensors))
        layers.append(spec)
    if errors:
        raise RequestValidationError(errors)
    return top["input"], top["target"], layers


# --- what the request costs -----------------------------------------------------------------

def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _over(count: int, limit: int, loc: tuple[str | int, ...], what: str) -> None:
    if count > limit:
        raise invalid(loc, f"{what} would be {count:,}; the limit is {limit:,}", "over_limit")


def _on_layer(i: int, spec: dict[str, Any], check: Callable[[], Any]) -> Any:
    """``check()``, with a refusal placed on layer i (on its field, when the field is the layer's)."""
    try:
        return check()
    except RequestValidationError as error:
        problems = []
        for e in error.errors():
            rest = tuple(e["loc"])[1:]
            rest = rest if rest and rest[0] in spec else ()
            problems.append({**e, "loc": ("body", "layers", i, *rest),
                             "msg": f"layer {i + 1} ({spec['type']}): {e['msg']}"})
        raise RequestValidationError(problems) from None


def _conv(spec: dict[str, Any], x: Shape, one_d: bool) -> tuple[Shape, int] | None:
    """A convolution's output shape and multiply-adds, forward; None when it does not fit x."""
    plain_rank = 1 if one_d else 2
    if len(x) not in (plain_rank, plain_rank + 1):
        return None
    if "weight" in spec:
        w = tuple(np.shape(spec["weight"]))
    else:
        if "out_channels" not in spec or "kernel_size" not in spec:
            return None
        k = (spec["kernel_size"],) if one_d else _pair(spec["kernel_size"])
        C_in = x[0] if len(x) > plain_rank else 1
        w = k if len(x) == plain_rank and spec["out_channels"] == 1 else (spec["out_channels"], C_in) + k
        _over(prod(w), MAX_ELEMENTS, ("body",), "the numbers of the drawn weight")
    x_layout, w_layout = (SEQUENCE, KERNEL_1D) if one_d else (IMAGE, KERNEL_2D)
    if len(w) not in w_layout:
        return None
    stride, padding, dilation = spec["stride"], spec["padding"], spec["dilation"]
    check_conv(x, w, stride, padding, dilation, one_d)
    _, C, H, W = shape4(x, x_layout[len(x)])
    C_out, C_in_group, kH, kW = shape4(w, w_layout[len(w)])
    if C_in_group * spec["groups"] != C:
        return None
    if one_d:
        stride, dilation = (1, stride), (1, dilation)
        if isinstance(padding, (list, tuple)):
            padding = (0, 0, padding[0], padding[1])
        elif not isinstance(padding, str):
            padding = (0, padding)
    else:
        stride, dilation = _pair(stride), _pair(dilation)
    (top, bottom, left, right), _ = resolve_padding(padding, (kH, kW), stride, dilation, (H, W))
    H_out = out_size(H, kH, stride[0], top, bottom, dilation[0])
    W_out = out_size(W, kW, stride[1], left, right, dilation[1])
    if H_out < 1 or W_out < 1:
        return None
    spatial = (W_out,) if one_d else (H_out, W_out)
    out = spatial if len(x) == len(w) == plain_rank else (C_out, *spatial)
    return out, C_out * H_out * W_out * C_in_group * kH * kW


def _pool(spec: dict[str, Any], x: Shape) -> tuple[Shape, int] | None:
    if len(x) not in (2, 3):
        return None
    stride = spec.get("stride")
    check_pool(x, spec["kernel_size"], stride, spec["padding"], False)
    (kH, kW), (pH, pW) = _pair(spec["kernel_size"]), _pair(spec["padding"])
    (sH, sW) = (kH, kW) if stride is None else _pair(stride)
    H_out, W_out = out_size(x[-2], kH, sH, pH, pH), out_size(x[-1], kW, sW, pW, pW)
    if H_out < 1 or W_out < 1:
        return None
    out = (*x[:-2], H_out, W_out)
    return out, prod(out) * kH * kW


def _linear(spec: dict[str, Any], x: Shape) -> tuple[Shape, int] | None:
    if len(x) != 1:
        return None
    if "weight" in spec:
        w = tuple(np.shape(spec["weight"]))
        if len(w) != 2 or w[1] != x[0]:
            return None
    elif "out_features" in spec:
        w = (spec["out_features"], x[0])
        _over(prod(w), MAX_ELEMENTS, ("body",), "the numbers of the drawn weight")
    else:
        return None
    check_dense(x, w, backward=True)
    return (w[0],), prod(w)


def _layer(spec: dict[str, Any], x: Shape) -> tuple[Shape, int] | None:
    """The layer's output shape and its multiply-adds in one training step (forward and backward)."""
    kind, size = spec["type"], prod(x)
    if kind in ("conv2d", "conv1d", "linear"):
        found = _linear(spec, x) if kind == "linear" else _conv(spec, x, one_d=kind == "conv1d")
        if found is None:
            return None
        out, forward = found
        return out, 3 * forward  # forward, the input's gradient, the weight's gradient
    if kind in POOLS:
        found = _pool(spec, x)
        return None if found is None else (found[0], 2 * found[1])
    if kind == "flatten":
        return (size,), 2 * size
    if kind == "batchnorm2d":
        if len(x) not in (2, 3):
            return None
        check_batchnorm((1, *x) if len(x) == 3 else (1, 1, *x))
        return x, 10 * size
    if kind == "softmax":
        check_activation(x, "softmax", -1, backward=True)
        return x, 2 * size * (x[-1] + 1)
    return x, 2 * size  # an activation or dropout: one cell at a time


def _check_cost(x: Shape, layers: list[dict[str, Any]], steps: int, loss_kind: str) -> None:
    """Refuse, before any number is computed, a network whose layers or training would cost too much."""
    shape, cells, per_step = x, prod(x), 0
    for i, spec in enumerate(layers):
        found = _on_layer(i, spec, lambda: _layer(spec, shape))
        if found is None:
            return  # this layer does not fit the shape it gets: the engine says so before computing it
        shape, work = found
        _on_layer(i, spec, lambda: _over(prod(shape), MAX_OUTPUT_ELEMENTS, ("body",), "the numbers in its output"))
        cells += prod(shape)
        _over(cells, MAX_NETWORK_CELLS, ("body", "layers", i),
              f"the numbers in the input and the activations up to layer {i + 1}")
        per_step += work
    try:
        check_loss(shape, loss_kind)
    except RequestValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", "loss")} for e in error.errors()]) from None
    _over(per_step * steps, MAX_NETWORK_WORK, ("body", "steps") if steps > 1 else ("body", "layers"),
          f"the multiply-adds of {steps} training step{'s' * (steps != 1)} ({per_step:,} each, forward and "
          "backward)")


# --- the route ------------------------------------------------------------------------------

def _network(body: NetworkRequest) -> engine.Trace:
    x, target, layers = _read(body)
    _check_cost(x.shape, layers, body.steps, body.loss.kind)
    return engine.network(x, layers, target=target, loss=body.loss.model_dump(),
                          optimizer=body.optimizer.model_dump(), steps=body.steps, seed=body.seed)


@router.post("/network", response_model=NetworkTrace, responses=ERROR_RESPONSES,
             summary="A small network trained on one example: every forward, backward and update step")
def network(body: NetworkRequest, page: PagingQuery) -> Response:
    """Forward layer by layer, the loss, backward layer by layer (last first), and the update of every
    parameter, repeated ``steps`` times. The steps shown are the first training step's; ``outputs.losses``
    holds the loss before each step's update, and the notes point out a loss that went up, a dead ReLU,
    vanishing or exploding gradients and frozen layers. A layer that does not fit the shape it gets is
    a 422 at ``['body', 'layers', i]``."""
    return respond(lambda: _network(body), page)
