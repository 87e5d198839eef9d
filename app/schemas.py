"""The JSON API's pydantic models: strict request bodies and the trace a route answers with.

Request bodies refuse unknown fields and take the engine's keyword names. Whole-number
parameters are strict (``true`` and ``2.0`` are not a stride). Tensors are nested lists of
numbers; their cells are checked in ``app.api.tensors`` so an error can point at one cell.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictBool, WithJsonSchema
from pydantic_core import PydanticCustomError

from engine import StepKind

from .limits import MAX_ELEMENTS, MAX_PARAMETER

SEED_INPUT = [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]]
SEED_KERNEL = [[1, -1, 0], [0, 1, -1], [1, 0, 1]]


# --- request field types --------------------------------------------------------------------

def _shown(value: Any) -> str:
    """A value as the caller wrote it in JSON, cut short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)  # no context: the message is final, braces and all


def _whole(value: Any, minimum: int, what: str = "") -> int:
    """A JSON integer from ``minimum`` to MAX_PARAMETER; booleans and 2.0 are refused."""
    if type(value) is not int:
        raise _refuse("whole_number", f"{what}expected a whole number, got {_shown(value)}")
    if value < minimum:
        raise _refuse("too_small", f"{what}must be at least {minimum}, got {value}")
    if value > MAX_PARAMETER:
        raise _refuse("too_large", f"{what}must be at most {MAX_PARAMETER:,}, got {value:,}")
    return value


def _numbers(value: list, minimum: int, names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(_whole(v, minimum, f"{name}: ") for v, name in zip(value, names))


def _int_schema(minimum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": MAX_PARAMETER}


def _list_schema(minimum: int, count: int, names: str) -> dict[str, Any]:
    return {"type": "array", "items": _int_schema(minimum), "minItems": count, "maxItems": count,
            "description": names}


def _count(minimum: int):
    """One whole number."""
    return Annotated[int, PlainValidator(lambda v: _whole(v, minimum)), WithJsonSchema(_int_schema(minimum))]


def _count_or_pair(minimum: int, optional: bool = False):
    """One whole number (both axes) or [rows, columns]; with ``optional``, null too."""
    def check(value: Any) -> int | tuple[int, int] | None:
        if optional and value is None:
            return None
        if type(value) is list:
            if len(value) != 2:
                raise _refuse("pair", f"expected one whole number or two [rows, columns], got {len(value)} numbers")
            return _numbers(value, minimum, ("rows", "columns"))  # type: ignore[return-value]
        return _whole(value, minimum)
    schema = {"anyOf": [_int_schema(minimum), _list_schema(minimum, 2, "[rows, columns]")]
              + ([{"type": "null"}] if optional else [])}
    return Annotated[Any, PlainValidator(check), WithJsonSchema(schema)]


_WORDS = ("same", "valid")
_WORD_SCHEMA = {"type": "string", "enum": list(_WORDS)}


def _padding(sides: tuple[tuple[str, ...], ...], words: bool):
    """A number of cells, or a list with one number per entry of ``sides``, or 'same'/'valid'."""
    lengths = {len(names): names for names in sides}

    def check(value: Any):
        if words and type(value) is str:
            if value not in _WORDS:
                raise _refuse("padding_word", f"expected a number, 'same' or 'valid', got {_shown(value)}")
            return value
        if type(value) is list:
            if len(value) not in lengths:
                expected = " or ".join(f"{len(n)} [{', '.join(n)}]" for n in sides)
                raise _refuse("padding_length", f"expected one number, {expected}; got {len(value)} numbers")
            return _numbers(value, 0, lengths[len(value)])
        return _whole(value, 0)

    options = [_int_schema(0)] + [_list_schema(0, len(n), f"[{', '.join(n)}]") for n in sides]
    if words:
        options.append(_WORD_SCHEMA)
    return Annotated[Any, PlainValidator(check), WithJsonSchema({"anyOf": options})]


Count = _count(1)
CountOrPair = _count_or_pair(1)
OptionalCountOrPair = _count_or_pair(1, optional=True)
Padding2d = _padding((("rows", "columns"), ("top", "bottom", "left", "right")), words=True)
Padding1d = _padding((("left", "right"),), words=True)
PoolPadding = _padding((("rows", "columns"),), words=False)

_TENSOR_SCHEMA = {
    "type": "array",
    "items": {"anyOf": [{"type": "number"}, {"type": "array", "items": {}}]},
    "description": f"nested lists of numbers, at most {MAX_ELEMENTS:,} of them",
}
Tensor = Annotated[Any, WithJsonSchema(_TENSOR_SCHEMA)]
"""Nested lists of numbers. Checked cell by cell by ``app.api.tensors.read_tensors``."""

Bias = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "number"},
                                                {"type": "array", "items": {"type": "number"}}]})]


def _tensor(description: str, example: Any = None) -> Any:
    return Field(description=description, examples=[example] if example is not None else None)


# --- request bodies -------------------------------------------------------------------------

class Body(BaseModel):
    """A request body: unknown fields are refused, so a typo is an error, not a default."""

    model_config = ConfigDict(extra="forbid")


_GROUPS_DESCRIPTION = "Input channels and filters split into this many groups."
_MODE_DESCRIPTION = ("'correlation' slides the kernel as written (PyTorch's conv); "
                     "'convolution' rotates it 180 degrees first.")
Mode = Literal["correlation", "convolution"]


class Conv2dRequest(Body):
    """A 2-D convolution."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"input": SEED_INPUT, "kernel": SEED_KERNEL}]})

    input: Tensor = _tensor("(H, W), (C_in, H, W) or (N, C_in, H, W).", SEED_INPUT)
    kernel: Tensor = _tensor("(kH, kW), or (C_out, C_in/groups, kH, kW).", SEED_KERNEL)
    bias: Bias | None = Field(None, description="One number, or one per filter (C_out,).")
    stride: CountOrPair = Field(1, description="Step of the window: one number or [rows, columns].")
    padding: Padding2d = Field(0, description="Zeros around the input: a number, [rows, columns], "
                                              "[top, bottom, left, right], 'valid' or 'same'.")
    dilation: CountOrPair = Field(1, description="Spacing between kernel taps: one number or [rows, columns].")
    groups: Count = Field(1, description=_GROUPS_DESCRIPTION)
    mode: Mode = Field("correlation", description=_MODE_DESCRIPTION)


class Conv2dBackwardRequest(Conv2dRequest):
    """A 2-D convolution's gradients, given the output's gradient."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": SEED_INPUT, "kernel": SEED_KERNEL, "grad_output": [[1, 0], [0, -1]]}]})

    grad_output: Tensor = _tensor("δ = ∂L/∂z, in the output's shape.", [[1, 0], [0, -1]])


class Conv1dRequest(Body):
    """A 1-D convolution over a sequence."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"input": [3, 4, 5, 1], "kernel": [1, 2]}]})

    input: Tensor = _tensor("(L,), (C_in, L) or (N, C_in, L).", [3, 4, 5, 1])
    kernel: Tensor = _tensor("(k,), or (C_out, C_in/groups, k).", [1, 2])
    bias: Bias | None = Field(None, description="One number, or one per filter (C_out,).")
    stride: Count = Field(1, description="Step of the window.")
    padding: Padding1d = Field(0, description="Zeros at both ends: a number, [left, right], 'valid' or 'same'.")
    dilation: Count = Field(1, description="Spacing between kernel taps.")
    groups: Count = Field(1, description=_GROUPS_DESCRIPTION)
    mode: Mode = Field("correlation", description=_MODE_DESCRIPTION)


class Conv1dBackwardRequest(Conv1dRequest):
    """A 1-D convolution's gradients, given the output's gradient."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": [3, 4, 5], "kernel": [1, 2], "grad_output": [1, -1]}]})

    grad_output: Tensor = _tensor("δ = ∂L/∂z, in the output's shape.", [1, -1])


POOL_INPUT = [[1, 3, 2, 9], [4, 6, 1, 5], [7, 2, 8, 3], [0, 4, 3, 6]]


class Pool2dRequest(Body):
    """2-D pooling."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"input": POOL_INPUT, "kernel_size": 2}]})

    input: Tensor = _tensor("(H, W), (C, H, W) or (N, C, H, W).", POOL_INPUT)
    kind: Literal["max", "avg", "min"] = Field("max", description="What a window keeps.")
    kernel_size: CountOrPair = Field(description="The window: one number or [rows, columns].")
    stride: OptionalCountOrPair = Field(None, description="Step of the window; by default the window's size.")
    padding: PoolPadding = Field(0, description="Cells around the input, at most half the window: "
                                                "a number or [rows, columns].")
    ceil_mode: StrictBool = Field(False, description="Round the output size up: keep a last partial window "
                                                     "that starts inside the input.")
    count_include_pad: StrictBool = Field(True, description="Average pooling: count padded cells (as 0) "
                                                            "in the divisor.")


class Pool2dBackwardRequest(Pool2dRequest):
    """2-D pooling's input gradient, given the output's gradient."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": POOL_INPUT, "kernel_size": 2, "grad_output": [[1, 2], [3, 4]]}]})

    grad_output: Tensor = _tensor("δ = ∂L/∂z, in the output's shape.", [[1, 2], [3, 4]])


class Im2colRequest(Body):
    """Windows unfolded into columns; with a kernel, the convolution as one matrix product."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": SEED_INPUT, "kernel_size": 3, "kernel": SEED_KERNEL}]})

    input: Tensor = _tensor("(H, W), (C, H, W) or (N, C, H, W).", SEED_INPUT)
    kernel_size: CountOrPair = Field(description="The window: one number or [rows, columns].")
    stride: CountOrPair = Field(1, description="Step of the window: one number or [rows, columns].")
    padding: Padding2d = Field(0, description="Zeros around the input: a number, [rows, columns], "
                                              "[top, bottom, left, right], 'valid' or 'same'.")
    dilation: CountOrPair = Field(1, description="Spacing between window taps: one number or [rows, columns].")
    kernel: Tensor | None = Field(None, description="Optional (kH, kW) or (C_out, C, kH, kW); then the "
                                                    "product weight_rows @ columns is computed too.")


class OutputSizeRequest(Body):
    """The output size of a convolution or pooling window."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input_size": 224, "kernel_size": 7, "stride": 2, "padding": 3}]})

    input_size: CountOrPair = Field(description="Input height and width: one number or [rows, columns].")
    kernel_size: CountOrPair = Field(description="The window: one number or [rows, columns].")
    stride: CountOrPair = Field(1, description="One number or [rows, columns].")
    padding: Padding2d = Field(0, description="A number, [rows, columns], [top, bottom, left, right], "
                                              "'valid' or 'same'.")
    dilation: CountOrPair = Field(1, description="One number or [rows, columns].")
    ceil_mode: StrictBool = Field(False, description="Round up instead of down.")


# --- responses ------------------------------------------------------------------------------

NestedNumbers = Annotated[Any, WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "array", "items": {}}],
     "description": "a number or nested lists of numbers"})]


class Factor(BaseModel):
    tensor: str = Field(description="The tensor the factor comes from ('input', 'kernel', ...).")
    index: list[int] | None = Field(description="Its 0-based index in the caller's layout; null for a constant.")
    value: float


class Term(BaseModel):
    factors: list[Factor]
    value: float = Field(description="The product of the factors.")


class Target(BaseModel):
    tensor: str = Field(description="The output the step writes.")
    index: list[int | None] = Field(description="Where, 0-based; null spans a whole axis (an im2col column).")


class Step(BaseModel):
    """One explained result."""

    id: str = Field(description="Stable id, e.g. 'output[0,1]'; ask for it with ?step_id=.", examples=["output[0,1]"])
    kind: StepKind
    title: str = Field(examples=["Output z(1,2)"])
    message: str = Field(description="One plain sentence.")
    formula: str = Field(description="The symbolic rule, LaTeX.")
    expansion: str = Field(description="The rule with the numbers in it, LaTeX.")
    terms: list[Term]
    result: NestedNumbers | None = Field(description="The value the step writes (a number, a list for a "
                                                     "column or a matrix), or null.")
    target: Target | None
    reads: dict[str, list[list[int]]] = Field(description="Cells read, per tensor: what a display highlights.")
    substeps: list[Step]
    function: str | None = Field(None, description="For a step that applies a function to the sum of its "
                                                   "terms (exp, log, sigmoid, ...), its name.")


class TraceResponse(BaseModel):
    """An op's trace: its numbers and a page of the steps that explain them."""

    op: str
    params: dict[str, Any] = Field(description="The resolved parameters (padding as the cells added, ...).")
    inputs: dict[str, NestedNumbers] = Field(description="The tensors the op read, as float64.")
    outputs: dict[str, Any]
    intermediates: dict[str, Any] = Field(default_factory=dict, description=(
        "Tensors between input and output that steps write (softmax's exponentials, a batch's mean)."))
    formula: str = Field(description="The op's rule, LaTeX.")
    steps: list[Step] = Field(description="The page of steps asked for; never more than step_limit.")
    step_count: int = Field(description="Steps in the whole trace.")
    step_offset: int = Field(description="Position of the first step of this page in the trace.")
    next_step_offset: int | None = Field(description="step_offset of the next page, or null after the last step.")
    notes: list[str] = Field(description="Conventions used and warnings.")


class ConvParams(BaseModel):
    stride: list[int] | int = Field(description="[rows, columns] (conv1d: one number).")
    padding: list[int] = Field(description="[top, bottom, left, right] (conv1d: [left, right]), resolved.")
    dilation: list[int] | int
    groups: int
    mode: Literal["correlation", "convolution"]


class ConvInputs(BaseModel):
    input: NestedNumbers
    kernel: NestedNumbers
    bias: NestedNumbers | None = None
    grad_output: NestedNumbers | None = None


class ConvOutputs(BaseModel):
    output: NestedNumbers = Field(description="z, in the input's rank.")


class ConvBackwardOutputs(BaseModel):
    grad_input: NestedNumbers = Field(description="∂L/∂x, the input's shape.")
    grad_weight: NestedNumbers = Field(description="∂L/∂k, the kernel's shape.")
    grad_bias: NestedNumbers | None = Field(None, description="∂L/∂b, when a bias was given.")


class ConvTrace(TraceResponse):
    op: Literal["conv2d", "conv1d"]
    params: ConvParams
    inputs: ConvInputs
    outputs: ConvOutputs


class ConvBackwardTrace(TraceResponse):
    op: Literal["conv2d_backward", "conv1d_backward"]
    params: ConvParams
    inputs: ConvInputs
    outputs: ConvBackwardOutputs


class PoolParams(BaseModel):
    kind: Literal["max", "avg", "min"]
    kernel_size: list[int]
    stride: list[int]
    padding: list[int] = Field(description="[rows, columns].")
    ceil_mode: bool
    count_include_pad: bool


class PoolInputs(BaseModel):
    input: NestedNumbers
    grad_output: NestedNumbers | None = None


class PoolOutputs(BaseModel):
    output: NestedNumbers


class PoolBackwardOutputs(BaseModel):
    grad_input: NestedNumbers = Field(description="∂L/∂x, the input's shape.")


class PoolTrace(TraceResponse):
    op: Literal["pool2d"]
    params: PoolParams
    inputs: PoolInputs
    outputs: PoolOutputs


class PoolBackwardTrace(TraceResponse):
    op: Literal["pool2d_backward"]
    params: PoolParams
    inputs: PoolInputs
    outputs: PoolBackwardOutputs


class Im2colParams(BaseModel):
    stride: list[int]
    padding: list[int] = Field(description="[top, bottom, left, right], resolved.")
    dilation: list[int]
    kernel_size: list[int]


class Im2colInputs(BaseModel):
    input: NestedNumbers
    kernel: NestedNumbers | None = None


class Im2colOutputs(BaseModel):
    columns: NestedNumbers = Field(description="(C kH kW, L) per sample: one column per window, row-major.")
    cells: list[list[list[int]]] = Field(description="For each column, the input cells it holds (padding "
                                                     "cells have indices outside the input).")
    weight_rows: NestedNumbers | None = Field(None, description="The kernel as rows (C_out, C kH kW).")
    output: NestedNumbers | None = Field(None, description="weight_rows @ columns, reshaped like the convolution.")


class Im2colTrace(TraceResponse):
    op: Literal["im2col"]
    params: Im2colParams
    inputs: Im2colInputs
    outputs: Im2colOutputs


class OutputSizeParams(BaseModel):
    input_size: list[int]
    kernel_size: list[int]
    stride: list[int]
    padding: list[int] = Field(description="[top, bottom, left, right], resolved.")
    dilation: list[int]
    ceil_mode: bool


class OutputSizeOutputs(BaseModel):
    output_size: int | list[int] = Field(description="One number when every argument was one number, "
                                                     "else [rows, columns].")


class OutputSizeTrace(TraceResponse):
    op: Literal["output_size"]
    params: OutputSizeParams
    inputs: dict[str, Any]
    outputs: OutputSizeOutputs


# --- errors ---------------------------------------------------------------------------------

class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: ['body', field, index, ...] or ['query', name].",
                                 examples=[["body", "input", 1, 2]])
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """FastAPI's standard error shape: a list of problems, each naming where it is."""

    detail: list[ErrorItem]


class MessageResponse(BaseModel):
    """FastAPI's shape for an HTTP error that is not about one field."""

    detail: str = Field(examples=["There was an error parsing the body"])
