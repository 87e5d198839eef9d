"""The JSON API's pydantic models: strict request bodies and the trace a route answers with.

Request bodies refuse unknown fields and take the engine's keyword names. Whole-number
parameters are strict (``true`` and ``2.0`` are not a stride). Tensors are nested lists of
numbers; their cells are checked in ``app.api.tensors`` so an error can point at one cell.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StrictBool, WithJsonSchema
from pydantic_core import PydanticCustomError

from engine import StepKind
from engine.optim import NAME as PARAMETER_NAME
from engine.practice import PRACTICE_OPS, practice

from .limits import (MAX_ELEMENTS, MAX_NAME_LENGTH, MAX_NAMED_TENSORS, MAX_NETWORK_LAYERS, MAX_PARAMETER,
                     MAX_SEED, MAX_TRAINING_STEPS, MAX_UPDATE_COUNT)

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


def _given(value: Any) -> Any:
    """A required tensor: null is refused here (``read_tensors`` reads None as a tensor left out)."""
    if value is None:
        raise _refuse("number_type", "expected numbers, got null")
    return value


Tensor = Annotated[Any, AfterValidator(_given), WithJsonSchema(_TENSOR_SCHEMA)]
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


# --- layers ---------------------------------------------------------------------------------
# Activations, dense layers, flatten, losses, optimizers, batch normalization and dropout:
# their number fields, request bodies and traces.

def _got(value: Any) -> str:
    return f"{json.dumps(value)} (a boolean)" if type(value) is bool else _shown(value)


def _finite(value: Any, what: str = "") -> float:
    """A JSON number that is finite: booleans, text, NaN and infinity are refused."""
    if type(value) not in (int, float):
        raise _refuse("number_type", f"{what}expected a number, got {_got(value)}")
    try:
        number = float(value)
    except OverflowError:  # a whole number of hundreds of digits
        raise _refuse("number_too_large", f"{what}the number is too large for float64") from None
    if not math.isfinite(number):
        raise _refuse("finite_number", f"{what}expected a finite number, got {_shown(value)}")
    return number


def _range_check(low: float | None, high: float | None, above: bool, below: bool):
    """A check for a finite number within [low, high]; ``above`` and ``below`` leave an end out."""
    parts = ([f"{'above' if above else 'at least'} {low:g}"] if low is not None else []) \
        + ([f"{'below' if below else 'at most'} {high:g}"] if high is not None else [])
    rule = " and ".join(parts)

    def check(value: Any, what: str = "") -> float:
        number = _finite(value, what)
        too_low = low is not None and (number <= low if above else number < low)
        too_high = high is not None and (number >= high if below else number > high)
        if too_low or too_high:
            raise _refuse("out_of_range", f"{what}must be {rule}, got {_shown(value)}")
        return number
    return check


def _range_schema(low: float | None, high: float | None, above: bool, below: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if low is not None:
        schema["exclusiveMinimum" if above else "minimum"] = low
    if high is not None:
        schema["exclusiveMaximum" if below else "maximum"] = high
    return schema


def _number(low: float | None = None, high: float | None = None, *, above: bool = False, below: bool = False):
    """A finite number, optionally within [low, high] (``above``/``below``: that end left out)."""
    check = _range_check(low, high, above, below)
    return Annotated[float, PlainValidator(lambda v: check(v)), WithJsonSchema(_range_schema(low, high, above, below))]


def _whole_between(low: int, high: int):
    """A JSON integer from ``low`` to ``high``; booleans and 2.0 are refused."""
    def check(value: Any) -> int:
        if type(value) is not int:
            raise _refuse("whole_number", f"expected a whole number, got {_got(value)}")
        if not low <= value <= high:
            raise _refuse("out_of_range", f"must be from {low:,} to {high:,}, got {value:,}")
        return value
    return Annotated[int, PlainValidator(check), WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})]


def _betas(value: Any) -> tuple[float, float]:
    check = _range_check(0, 1, False, True)
    if type(value) is not list or len(value) != 2:
        raise _refuse("pair", f"expected two numbers [beta1, beta2], got {_got(value)}")
    return check(value[0], "beta1: "), check(value[1], "beta2: ")


def _named_tensors(value: Any) -> dict[str, Any]:
    """An object of parameter names and tensors; the tensors' cells are checked by the route."""
    if type(value) is not dict:
        raise _refuse("object_type", f'expected an object of names and tensors, such as {{"w": [0.2, -0.5]}}, '
                                     f"got {_got(value)}")
    if not value:
        raise _refuse("empty", "is empty: name at least one parameter")
    if len(value) > MAX_NAMED_TENSORS:
        raise _refuse("too_many_parameters", f"holds {len(value)} parameters; the limit is {MAX_NAMED_TENSORS}")
    for name in value:
        if len(name) > MAX_NAME_LENGTH or not PARAMETER_NAME.fullmatch(name):
            raise _refuse("parameter_name", f"{_shown(name)} is not a usable name: up to {MAX_NAME_LENGTH} letters, "
                                            "digits and '_', with dots between words ('fc1.weight')")
    return value


FiniteNumber = _number()
PositiveNumber = _number(0, above=True)
NonNegativeNumber = _number(0)
Fraction = _number(0, 1, below=True)
"""At least 0 and below 1: a drop probability, a momentum, a beta."""
UnitInterval = _number(0, 1)
LossEps = _number(0, 0.5, above=True, below=True)
Axis = _whole_between(-4, 3)
"""An axis of a tensor of at most 4 axes, counted from 0, or from the end when negative."""
Seed = _whole_between(0, MAX_SEED)
UpdateCount = _whole_between(0, MAX_UPDATE_COUNT)
Betas = Annotated[Any, PlainValidator(_betas), WithJsonSchema(
    {"type": "array", "items": _range_schema(0, 1, False, True), "minItems": 2, "maxItems": 2,
     "description": "[beta1, beta2]"})]

_NUMBER_OR_TENSOR_SCHEMA = {
    "anyOf": [{"type": "number"}, {"type": "array", "items": {}}],
    "description": f"a number, or nested lists of numbers, at most {MAX_ELEMENTS:,} of them",
}
TensorOrNumber = Annotated[Any, AfterValidator(_given), WithJsonSchema(_NUMBER_OR_TENSOR_SCHEMA)]
"""A number or nested lists of numbers. Checked cell by cell by ``app.api.tensors.read_tensors``."""

NamedTensors = Annotated[Any, PlainValidator(_named_tensors), WithJsonSchema({
    "type": "object", "minProperties": 1, "maxProperties": MAX_NAMED_TENSORS,
    "propertyNames": {"pattern": f"^{PARAMETER_NAME.pattern}$", "maxLength": MAX_NAME_LENGTH},
    "additionalProperties": _NUMBER_OR_TENSOR_SCHEMA,
    "description": "parameter names ('w', 'fc1.weight') mapped to a number or nested lists of numbers"})]

ActivationFunction = Literal["relu", "leaky_relu", "relu6", "sigmoid", "tanh", "softmax"]
LossKind = Literal["mse", "cross_entropy", "softmax_cross_entropy", "binary_cross_entropy"]
Reduction = Literal["mean", "sum", "half_sum"]
OptimizerKind = Literal["sgd", "momentum", "adam"]
DropoutVariant = Literal["inverted", "classic"]

SOFTMAX_SCORES = [2.0, 1.0, 0.1]
DENSE_INPUT = [4, 0, 4, 3]   # seed 000's feature map [[4, 0], [4, 3]], flattened
DENSE_WEIGHT = [[0.2, -0.5, 0.4, 0.1]]
SGD_EXAMPLE = {"params": {"w": [0.2, -0.5, 0.4, 0.1], "b": 0.2}, "grads": {"w": [11.6, 0, 11.6, 8.7], "b": 2.9},
               "kind": "sgd", "lr": 0.1}
BATCH = [[1, 2], [3, 6], [5, 10]]

_FUNCTION_DESCRIPTION = ("relu, leaky_relu (slope alpha below 0), relu6, sigmoid, tanh, or softmax (along dim). "
                         "At 0 the derivative of relu is 0 and of leaky_relu is alpha, as in PyTorch.")
_ALPHA_DESCRIPTION = "LeakyReLU's slope for x ≤ 0 (PyTorch's default 0.01); the other functions ignore it."
_DIM_DESCRIPTION = "Softmax: the axis whose scores become probabilities (the last by default); counted from 0, " \
                   "or from the end when negative. The other functions ignore it."


class ActivationRequest(Body):
    """An activation applied to every cell (softmax: to every row along dim)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": SOFTMAX_SCORES, "function": "softmax"},
        {"input": [[-2, 0.5], [0, 3]], "function": "leaky_relu", "alpha": 0.1}]})

    input: TensorOrNumber = _tensor("A number or a tensor of up to 4 axes (softmax: at least one axis).",
                                    SOFTMAX_SCORES)
    function: ActivationFunction = Field(description=_FUNCTION_DESCRIPTION)
    alpha: FiniteNumber = Field(0.01, description=_ALPHA_DESCRIPTION)
    dim: Axis = Field(-1, description=_DIM_DESCRIPTION)


class ActivationBackwardRequest(ActivationRequest):
    """An activation's input gradient, given the output's gradient."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": SOFTMAX_SCORES, "function": "softmax", "grad_output": [1, 0, 0]},
        {"input": [[-2, 0.5], [0, 3]], "function": "relu", "grad_output": [[1, 1], [1, 1]]}]})

    grad_output: TensorOrNumber = _tensor("δ = ∂L/∂y, in the input's shape.", [1, 0, 0])


class DenseRequest(Body):
    """A fully connected layer, y = W x + b."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": DENSE_INPUT, "weight": DENSE_WEIGHT, "bias": [0.2]}]})

    input: Tensor = _tensor("(in,) for one sample, or (N, in) for a batch.", DENSE_INPUT)
    weight: Tensor = _tensor("(out, in): row j holds neuron j's weights (PyTorch's Linear).", DENSE_WEIGHT)
    bias: Bias | None = Field(None, description="One number per neuron (out,), or one number for all; "
                                                "none by default.")


class DenseBackwardRequest(DenseRequest):
    """A dense layer's gradients, given the output's gradient."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": DENSE_INPUT, "weight": DENSE_WEIGHT, "bias": [0.2], "grad_output": [2.9]}]})

    grad_output: Tensor = _tensor("δ = ∂L/∂y: (out,), or (N, out) for a batch.", [2.9])


class FlattenRequest(Body):
    """A feature map's cells in one row."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": [[4, 0], [4, 3]]}, {"input": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}]})

    input: Tensor = _tensor("(H, W), (C, H, W), or (N, C, H, W), whose first axis stays as the batch: "
                            "(N, C·H·W).", [[4, 0], [4, 3]])


class LossRequest(Body):
    """A loss and its gradient with respect to the prediction."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"prediction": [2.9], "target": [0], "kind": "mse", "reduction": "half_sum"},
        {"prediction": SOFTMAX_SCORES, "target": 0, "kind": "softmax_cross_entropy"}]})

    prediction: TensorOrNumber = _tensor(
        "mse and binary_cross_entropy: any shape. cross_entropy (probabilities) and softmax_cross_entropy "
        "(raw scores): (C,) for one sample or (N, C).", [2.9])
    target: TensorOrNumber = _tensor(
        "The prediction's shape; for the cross-entropies also class indices counted from 0: one number for "
        "(C,), N numbers for (N, C).", [0])
    kind: LossKind = Field(description="mse, cross_entropy (on probabilities), softmax_cross_entropy "
                                       "(on raw scores), binary_cross_entropy.")
    reduction: Reduction = Field("mean", description=(
        "mean (MSE and binary cross-entropy over elements, the cross-entropies over samples), sum, or "
        "half_sum (½Σ, MSE only: the gradient is ŷ − t)."))
    eps: LossEps = Field(1e-12, description="Probabilities are clipped to [eps, 1 − eps] before a log.")


class OptimizerState(Body):
    """What an optimizer carries from one update to the next: ``outputs.state`` of the previous response."""

    step: UpdateCount = Field(description="t: the updates taken so far.")
    velocity: NamedTensors | None = Field(None, description="SGD with momentum: each parameter's velocity.")
    m: NamedTensors | None = Field(None, description="Adam: each parameter's running mean of the gradient.")
    v: NamedTensors | None = Field(None, description="Adam: each parameter's running mean of the squared "
                                                     "gradient.")


class OptimizerRequest(Body):
    """One optimizer update of every parameter."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        SGD_EXAMPLE, {**SGD_EXAMPLE, "kind": "adam", "lr": 0.01}]})

    params: NamedTensors = Field(description="The parameters before the update, by name.",
                                 examples=[SGD_EXAMPLE["params"]])
    grads: NamedTensors = Field(description="∂L/∂ each parameter: the same names and shapes.",
                                examples=[SGD_EXAMPLE["grads"]])
    kind: OptimizerKind = Field(description="sgd, momentum or adam; sgd with momentum above 0 follows the "
                                            "momentum rule, as torch.optim.SGD does.")
    lr: PositiveNumber = Field(description="The learning rate η.", examples=[0.1])
    momentum: Fraction = Field(0.0, description="μ in v ← μv + g, w ← w − lr·v (PyTorch's form). "
                                                "Adam takes none: its betas play that part.")
    betas: Betas = Field([0.9, 0.999], description="Adam's [β1, β2], the decay of its running means.")
    eps: PositiveNumber = Field(1e-8, description="Adam: added to √v̂ (outside the square root).")
    weight_decay: NonNegativeNumber = Field(0.0, description="λ: L2 regularization, λw added to each gradient "
                                                             "before the rule.")
    state: OptimizerState | None = Field(None, description="Leave out for the first update; then pass back "
                                                           "outputs.state of the previous response.")


_CHANNEL_DESCRIPTION = "(C,): one number per feature or channel"


class BatchnormRequest(Body):
    """Batch normalization."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": BATCH}, {"input": BATCH, "training": False, "running_mean": [3, 6], "running_var": [4, 16]}]})

    input: Tensor = _tensor("(N, F), (N, C, L) or (N, C, H, W): statistics per feature or channel, over the "
                            "batch and the positions.", BATCH)
    gamma: Tensor | None = Field(None, description=f"The scale γ, {_CHANNEL_DESCRIPTION}; ones by default.")
    beta: Tensor | None = Field(None, description=f"The shift β, {_CHANNEL_DESCRIPTION}; zeros by default.")
    eps: PositiveNumber = Field(1e-5, description="Added to the variance inside the square root.")
    training: StrictBool = Field(True, description="Normalize with the batch's mean and (biased) variance and "
                                                   "update the running ones; false: normalize with the running "
                                                   "statistics.")
    running_mean: Tensor | None = Field(None, description=f"{_CHANNEL_DESCRIPTION}; zeros by default.")
    running_var: Tensor | None = Field(None, description=f"{_CHANNEL_DESCRIPTION}; ones by default.")
    momentum: UnitInterval = Field(0.1, description="running ← (1 − momentum)·running + momentum·batch "
                                                    "(PyTorch's convention; Keras's is 1 minus this).")


class BatchnormBackwardRequest(Body):
    """Training-mode batch normalization's gradients, given the output's gradient."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": BATCH, "grad_output": [[1, 0], [0, 1], [-1, 1]]}]})

    input: Tensor = _tensor("(N, F), (N, C, L) or (N, C, H, W).", BATCH)
    gamma: Tensor | None = Field(None, description=f"The scale γ, {_CHANNEL_DESCRIPTION}; ones by default.")
    beta: Tensor | None = Field(None, description=f"The shift β, {_CHANNEL_DESCRIPTION}; zeros by default "
                                                  "(it changes no gradient but its own).")
    grad_output: Tensor = _tensor("δ = ∂L/∂y, in the input's shape.", [[1, 0], [0, 1], [-1, 1]])
    eps: PositiveNumber = Field(1e-5, description="Added to the variance inside the square root.")


class DropoutRequest(Body):
    """Dropout with a given mask, or one drawn from a seed."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input": [[1, 2], [3, 4]], "p": 0.5, "seed": 0},
        {"input": [[1, 2], [3, 4]], "p": 0.5, "mask": [[1, 0], [0, 1]], "variant": "classic"}]})

    input: Tensor = _tensor("A tensor of 1 to 4 axes.", [[1, 2], [3, 4]])
    p: Fraction = Field(description="The probability of dropping a cell: at least 0 and below 1.", examples=[0.5])
    mask: Tensor | None = Field(None, description="The input's shape: 1 keeps a cell, 0 drops it. Leave out to "
                                                  "draw one.")
    seed: Seed | None = Field(None, description="Draws the mask: a cell is kept where "
                                                "numpy.random.default_rng(seed).random() ≥ p. Without a mask or a "
                                                "seed one is drawn and returned in params.seed.")
    variant: DropoutVariant = Field("inverted", description="inverted: kept cells are divided by 1 − p while "
                                                            "training; classic: evaluation multiplies by 1 − p.")
    training: StrictBool = Field(True, description="False: evaluation mode, nothing is dropped.")


class ActivationParams(BaseModel):
    function: ActivationFunction
    alpha: float | None = Field(None, description="leaky_relu's slope.")
    dim: int | None = Field(None, description="softmax's axis, counted from 0.")


class ActivationInputs(BaseModel):
    input: NestedNumbers
    grad_output: NestedNumbers | None = None


class ActivationOutputs(BaseModel):
    output: NestedNumbers = Field(description="y = f(x), the input's shape.")


class ActivationBackwardOutputs(BaseModel):
    grad_input: NestedNumbers = Field(description="∂L/∂x = δ · f'(x) (softmax: the Jacobian's transpose "
                                                   "times δ).")


class ActivationIntermediates(BaseModel):
    max: NestedNumbers | None = Field(None, description="softmax: each row's largest score m.")
    exp: NestedNumbers | None = Field(None, description="softmax: e^(z − m).")
    sum: NestedNumbers | None = Field(None, description="softmax: each row's sum of e^(z − m).")
    output: NestedNumbers | None = Field(None, description="backward: the forward output f(x).")
    derivative: NestedNumbers | None = Field(None, description="backward, element-wise: f'(x).")
    jacobian: NestedNumbers | None = Field(None, description="softmax backward, rows of up to 8 classes: each row's "
                                                             "J[i][j] = ∂p_i/∂z_j.")
    dot: NestedNumbers | None = Field(None, description="softmax backward, longer rows: Σ_j δ_j p_j.")


class ActivationTrace(TraceResponse):
    op: Literal["activation"]
    params: ActivationParams
    inputs: ActivationInputs
    outputs: ActivationOutputs
    intermediates: ActivationIntermediates


class ActivationBackwardTrace(TraceResponse):
    op: Literal["activation_backward"]
    params: ActivationParams
    inputs: ActivationInputs
    outputs: ActivationBackwardOutputs
    intermediates: ActivationIntermediates


class DenseParams(BaseModel):
    in_features: int
    out_features: int


class DenseInputs(BaseModel):
    input: NestedNumbers
    weight: NestedNumbers
    bias: NestedNumbers | None = Field(None, description="(out,), or the one number added to every neuron.")
    grad_output: NestedNumbers | None = None


class DenseOutputs(BaseModel):
    output: NestedNumbers = Field(description="y: (out,), or (N, out).")


class DenseBackwardOutputs(BaseModel):
    grad_input: NestedNumbers = Field(description="∂L/∂x = Wᵀδ, the input's shape.")
    grad_weight: NestedNumbers = Field(description="∂L/∂W = δ xᵀ (summed over a batch), (out, in).")
    grad_bias: NestedNumbers | None = Field(None, description="∂L/∂b = δ (summed over a batch), when a bias was "
                                                              "given: (out,), or one number for a shared bias.")


class DenseTrace(TraceResponse):
    op: Literal["dense"]
    params: DenseParams
    inputs: DenseInputs
    outputs: DenseOutputs


class DenseBackwardTrace(TraceResponse):
    op: Literal["dense_backward"]
    params: DenseParams
    inputs: DenseInputs
    outputs: DenseBackwardOutputs


class FlattenParams(BaseModel):
    input_shape: list[int]
    output_shape: list[int]


class FlattenInputs(BaseModel):
    input: NestedNumbers


class FlattenOutputs(BaseModel):
    output: NestedNumbers = Field(description="(C·H·W,), or (N, C·H·W): row-major over (channel, row, column).")


class FlattenTrace(TraceResponse):
    op: Literal["flatten"]
    params: FlattenParams
    inputs: FlattenInputs
    outputs: FlattenOutputs


class LossParams(BaseModel):
    kind: LossKind
    reduction: Reduction
    eps: float | None = Field(None, description="The clipping of probabilities (not for mse).")
    target_form: Literal["index", "probabilities"] | None = Field(
        None, description="The cross-entropies: whether the target came as class indices or probabilities.")


class LossInputs(BaseModel):
    prediction: NestedNumbers
    target: NestedNumbers = Field(description="As used: class indices become one-hot rows.")


class LossOutputs(BaseModel):
    loss: float
    grad_input: NestedNumbers = Field(description="∂L/∂prediction, the prediction's shape.")


class LossIntermediates(BaseModel):
    difference: NestedNumbers | None = Field(None, description="mse: ŷ − t.")
    max: NestedNumbers | None = Field(None, description="softmax_cross_entropy: each row's largest score.")
    exp: NestedNumbers | None = Field(None, description="softmax_cross_entropy: e^(z − m).")
    sum: NestedNumbers | None = Field(None, description="softmax_cross_entropy: each row's sum of e^(z − m).")
    probabilities: NestedNumbers | None = Field(None, description="softmax_cross_entropy: softmax(z).")
    log_probabilities: NestedNumbers | None = Field(None, description="The cross-entropies: log p.")
    sample_loss: NestedNumbers | None = Field(None, description="The cross-entropies on a batch: each sample's loss.")
    elementwise_loss: NestedNumbers | None = Field(None, description="binary_cross_entropy: each cell's loss.")


class LossTrace(TraceResponse):
    op: Literal["loss"]
    params: LossParams
    inputs: LossInputs
    outputs: LossOutputs
    intermediates: LossIntermediates


class OptimizerParams(BaseModel):
    kind: OptimizerKind
    lr: float
    momentum: float
    betas: list[float]
    eps: float
    weight_decay: float
    step: int = Field(description="t: this update's number in the run, counting from 1.")


class OptimizerInputs(BaseModel):
    params: dict[str, NestedNumbers]
    grads: dict[str, NestedNumbers]
    state: OptimizerState = Field(description="The state before the update (zeros for a first update).")


class OptimizerOutputs(BaseModel):
    params: dict[str, NestedNumbers] = Field(description="The parameters after the update.")
    state: OptimizerState = Field(description="Pass it back as the next request's state to continue the run.")


class OptimizerIntermediates(BaseModel):
    m_hat: dict[str, NestedNumbers] | None = Field(None, description="Adam: m / (1 − β1^t).")
    v_hat: dict[str, NestedNumbers] | None = Field(None, description="Adam: v / (1 − β2^t).")


class OptimizerTrace(TraceResponse):
    op: Literal["optimizer_step"]
    params: OptimizerParams
    inputs: OptimizerInputs
    outputs: OptimizerOutputs
    intermediates: OptimizerIntermediates


class BatchnormParams(BaseModel):
    eps: float
    training: bool
    momentum: float | None = Field(None, description="Forward only.")


class BatchnormInputs(BaseModel):
    input: NestedNumbers
    gamma: NestedNumbers
    beta: NestedNumbers
    running_mean: NestedNumbers | None = None
    running_var: NestedNumbers | None = None
    grad_output: NestedNumbers | None = None


class BatchnormOutputs(BaseModel):
    output: NestedNumbers = Field(description="y = γ x̂ + β, the input's shape.")
    running_mean: NestedNumbers = Field(description="Updated in training; unchanged in inference.")
    running_var: NestedNumbers = Field(description="Updated with the unbiased variance in training.")


class BatchnormBackwardOutputs(BaseModel):
    grad_input: NestedNumbers = Field(description="∂L/∂x, the input's shape.")
    grad_weight: NestedNumbers = Field(description="∂L/∂γ = Σ δ x̂, per channel.")
    grad_bias: NestedNumbers = Field(description="∂L/∂β = Σ δ, per channel.")


class BatchnormIntermediates(BaseModel):
    mean: NestedNumbers | None = Field(None, description="Training: each channel's batch mean.")
    var: NestedNumbers | None = Field(None, description="Training: each channel's biased batch variance.")
    inv_std: NestedNumbers = Field(description="1 / √(σ² + ε), per channel.")
    x_hat: NestedNumbers = Field(description="The normalized input, the input's shape.")


class BatchnormTrace(TraceResponse):
    op: Literal["batchnorm"]
    params: BatchnormParams
    inputs: BatchnormInputs
    outputs: BatchnormOutputs
    intermediates: BatchnormIntermediates


class BatchnormBackwardTrace(TraceResponse):
    op: Literal["batchnorm_backward"]
    params: BatchnormParams
    inputs: BatchnormInputs
    outputs: BatchnormBackwardOutputs
    intermediates: BatchnormIntermediates


class DropoutParams(BaseModel):
    p: float
    variant: DropoutVariant
    training: bool
    seed: int | None = Field(description="The seed the mask was drawn with (drawn here when none was given); "
                                         "null for a given mask or in evaluation without a seed.")


class DropoutInputs(BaseModel):
    input: NestedNumbers
    mask: NestedNumbers | None = Field(None, description="The mask, when one was given.")


class DropoutOutputs(BaseModel):
    output: NestedNumbers
    mask: NestedNumbers = Field(description="1 kept, 0 dropped (all ones in evaluation).")


class DropoutTrace(TraceResponse):
    op: Literal["dropout"]
    params: DropoutParams
    inputs: DropoutInputs
    outputs: DropoutOutputs


# --- network ---------------------------------------------------------------------------------
# A small network trained on one example: one model per layer type (its "type" picks the model),
# the loss and the optimizer, and the trace with its outputs per layer.

NETWORK_EXAMPLE = {
    "input": SEED_INPUT,
    "layers": [{"type": "conv2d", "weight": SEED_KERNEL, "bias": None}, {"type": "relu"}, {"type": "flatten"},
               {"type": "linear", "weight": DENSE_WEIGHT, "bias": [0.2]}],
    "target": 0, "loss": {"kind": "mse", "reduction": "half_sum"}, "optimizer": {"kind": "sgd", "lr": 0.1},
    "steps": 1,
}
NETWORK_DRAWN_EXAMPLE = {
    "input": SEED_INPUT,
    "layers": [{"type": "conv2d", "out_channels": 2, "kernel_size": 3}, {"type": "relu"},
               {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
               {"type": "linear", "out_features": 2}],
    "target": 1, "loss": {"kind": "softmax_cross_entropy"}, "optimizer": {"kind": "sgd", "lr": 0.1},
    "steps": 3, "seed": 0,
}

_FROZEN_DESCRIPTION = "Keep this layer's parameters as they are: its gradient is worked out but not applied."
_LAYER_BIAS_DESCRIPTION = ("One number per output channel or neuron, or one number for all. With a given weight, "
                           "null or absent means no bias; with a drawn weight the bias is drawn too, unless it "
                           "is false.")
LayerBias = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}},
                                                     {"type": "boolean", "enum": [False]}]})]
"""A bias: a number, a list of numbers, or false for none. Its cells are checked by the route."""


def _layer_count(value: Any) -> Any:
    if type(value) is list and not value:
        raise _refuse("too_short", "is empty: a network has at least one layer")
    if type(value) is list and len(value) > MAX_NETWORK_LAYERS:
        raise _refuse("too_long", f"holds {len(value)} layers; the limit is {MAX_NETWORK_LAYERS} layers "
                                  "in one network")
    return value


def _training_steps(value: Any) -> int:
    if type(value) is not int:
        raise _refuse("whole_number", f"expected a whole number, got {_got(value)}")
    if value < 1:
        raise _refuse("too_small", f"must be at least 1, got {value}")
    if value > MAX_TRAINING_STEPS:
        raise _refuse("too_large", f"{value:,} training steps is over the limit of {MAX_TRAINING_STEPS} "
                                   "in one request")
    return value


TrainingSteps = Annotated[int, PlainValidator(_training_steps), WithJsonSchema(
    {"type": "integer", "minimum": 1, "maximum": MAX_TRAINING_STEPS})]


class NetworkLayer(Body):
    """One layer: only its own fields; an unknown one is refused."""


class NetworkTrainableLayer(NetworkLayer):
    frozen: StrictBool = Field(False, description=_FROZEN_DESCRIPTION)


class NetworkConv2d(NetworkTrainableLayer):
    """A 2-D convolution: a given weight, or out_channels and kernel_size to draw one from the seed."""

    type: Literal["conv2d"]
    weight: Tensor | None = Field(None, description="(kH, kW) for a plain matrix, or (C_out, C_in/groups, kH, kW). "
                                                    "Leave out to draw it.")
    bias: LayerBias | None = Field(None, description=_LAYER_BIAS_DESCRIPTION)
    out_channels: Count | None = Field(None, description="Filters to draw when no weight is given.")
    kernel_size: CountOrPair | None = Field(None, description="The drawn kernel: one number or [rows, columns].")
    stride: CountOrPair = Field(1, description="Step of the window: one number or [rows, columns].")
    padding: Padding2d = Field(0, description="Zeros around the input: a number, [rows, columns], "
                                              "[top, bottom, left, right], 'valid' or 'same'.")
    dilation: CountOrPair = Field(1, description="Spacing between kernel taps: one number or [rows, columns].")
    groups: Count = Field(1, description=_GROUPS_DESCRIPTION)


class NetworkConv1d(NetworkTrainableLayer):
    """A 1-D convolution along a sequence: a given weight, or out_channels and kernel_size to draw one."""

    type: Literal["conv1d"]
    weight: Tensor | None = Field(None, description="(k,) for a plain sequence, or (C_out, C_in/groups, k). "
                                                    "Leave out to draw it.")
    bias: LayerBias | None = Field(None, description=_LAYER_BIAS_DESCRIPTION)
    out_channels: Count | None = Field(None, description="Filters to draw when no weight is given.")
    kernel_size: Count | None = Field(None, description="The drawn kernel's length.")
    stride: Count = Field(1, description="Step of the window.")
    padding: Padding1d = Field(0, description="Zeros at both ends: a number, [left, right], 'valid' or 'same'.")
    dilation: Count = Field(1, description="Spacing between kernel taps.")
    groups: Count = Field(1, description=_GROUPS_DESCRIPTION)


class _NetworkPool(NetworkLayer):
    kernel_size: CountOrPair = Field(description="The window: one number or [rows, columns].")
    stride: OptionalCountOrPair = Field(None, description="Step of the window; by default the window's size.")
    padding: PoolPadding = Field(0, description="Cells around the input, at most half the window: "
                                                "a number or [rows, columns].")


class NetworkMaxPool2d(_NetworkPool):
    """Each window's largest cell; padded cells never win, ties go to the first in row-major order."""

    type: Literal["maxpool2d"]


class NetworkAvgPool2d(_NetworkPool):
    """Each window's average (padded cells count as 0)."""

    type: Literal["avgpool2d"]


class NetworkMinPool2d(_NetworkPool):
    """Each window's smallest cell."""

    type: Literal["minpool2d"]


class NetworkReLU(NetworkLayer):
    """max(0, x) cell by cell; ReLU'(0) = 0."""

    type: Literal["relu"]


class NetworkLeakyReLU(NetworkLayer):
    """x above 0, alpha·x below; LeakyReLU'(0) = alpha."""

    type: Literal["leaky_relu"]
    alpha: FiniteNumber = Field(0.01, description="The slope for x ≤ 0 (PyTorch's default 0.01).")


class NetworkSigmoid(NetworkLayer):
    """1/(1 + e^−x) cell by cell."""

    type: Literal["sigmoid"]


class NetworkTanh(NetworkLayer):
    """tanh(x) cell by cell."""

    type: Literal["tanh"]


class NetworkSoftmax(NetworkLayer):
    """Probabilities along the last axis."""

    type: Literal["softmax"]


class NetworkFlatten(NetworkLayer):
    """The cells in one row, row-major over (C, H, W)."""

    type: Literal["flatten"]


class NetworkLinear(NetworkTrainableLayer):
    """A dense layer, y = W x + b, on a vector (flatten a feature map first)."""

    type: Literal["linear"]
    weight: Tensor | None = Field(None, description="(out, in). Leave out to draw it (give out_features).")
    bias: LayerBias | None = Field(None, description=_LAYER_BIAS_DESCRIPTION)
    out_features: Count | None = Field(None, description="Neurons to draw when no weight is given.")


class NetworkBatchNorm2d(NetworkTrainableLayer):
    """Batch normalization of each channel over its positions (training mode, a batch of this one example)."""

    type: Literal["batchnorm2d"]
    weight: Tensor | None = Field(None, description="The scale γ, one number per channel (C,); ones by default.")
    bias: Tensor | None = Field(None, description="The shift β, one number per channel (C,); zeros by default.")
    eps: PositiveNumber = Field(1e-5, description="Added to the variance inside the square root.")


class NetworkDropout(NetworkLayer):
    """Dropout with a given mask or one drawn from a seed; the same mask serves every training step."""

    type: Literal["dropout"]
    p: Fraction = Field(0.5, description="The probability of dropping a cell: at least 0 and below 1.")
    mask: Tensor | None = Field(None, description="The layer input's shape: 1 keeps a cell, 0 drops it.")
    seed: Seed | None = Field(None, description="Draws the mask; without a mask or a seed, one is drawn from the "
                                                "network's seed and shown in params.layers.")
    variant: DropoutVariant = Field("inverted", description="inverted: kept cells are divided by 1 − p while "
                                                            "training; classic: they pass as they are.")


AnyNetworkLayer = Annotated[
    NetworkConv2d | NetworkConv1d | NetworkMaxPool2d | NetworkAvgPool2d | NetworkMinPool2d | NetworkReLU
    | NetworkLeakyReLU | NetworkSigmoid | NetworkTanh | NetworkSoftmax | NetworkFlatten | NetworkLinear
    | NetworkBatchNorm2d | NetworkDropout,
    Field(discriminator="type")]


class NetworkLoss(Body):
    """The loss of the last layer's output against the target."""

    kind: LossKind = Field(description="mse, cross_entropy (on probabilities), softmax_cross_entropy "
                                       "(on raw scores), binary_cross_entropy.")
    reduction: Reduction = Field("mean", description="mean, sum, or half_sum (½Σ, MSE only).")
    eps: LossEps = Field(1e-12, description="Probabilities are clipped to [eps, 1 − eps] before a log.")


class NetworkOptimizer(Body):
    """The update rule applied after each backward pass."""

    kind: OptimizerKind = Field(description="sgd, momentum or adam (torch.optim's rules).")
    lr: PositiveNumber = Field(description="The learning rate η.", examples=[0.1])
    momentum: Fraction = Field(0.0, description="μ in v ← μv + g, w ← w − lr·v.")
    betas: Betas = Field([0.9, 0.999], description="Adam's [β1, β2].")
    eps: PositiveNumber = Field(1e-8, description="Adam: added to √v̂.")
    weight_decay: NonNegativeNumber = Field(0.0, description="λ: λw added to each gradient (L2).")


class NetworkRequest(Body):
    """One example through a small network: forward, loss, backward and update, ``steps`` times."""

    model_config = ConfigDict(json_schema_extra={"examples": [NETWORK_EXAMPLE, NETWORK_DRAWN_EXAMPLE]})

    input: Tensor = _tensor("One example: (H, W) or (C, H, W) before a conv2d, (L,) or (C, L) before a conv1d, "
                            "(in,) before a linear layer.", SEED_INPUT)
    layers: Annotated[list[AnyNetworkLayer], BeforeValidator(_layer_count)] = Field(
        min_length=1, max_length=MAX_NETWORK_LAYERS,
        description="The layers in order, each an object whose 'type' is one of conv2d, conv1d, maxpool2d, "
                    "avgpool2d, minpool2d, relu, leaky_relu, sigmoid, tanh, softmax, flatten, linear, "
                    "batchnorm2d, dropout.")
    target: TensorOrNumber = _tensor("The last layer's output shape, or a class index for the cross-entropies.", 0)
    loss: NetworkLoss
    optimizer: NetworkOptimizer
    steps: TrainingSteps = Field(1, description=f"Training steps, 1 to {MAX_TRAINING_STEPS}: the trace's steps "
                                                "are the first one's, outputs.losses has one loss per step.")
    seed: Seed | None = Field(None, description="Draws the weights not given (and dropout masks); without one, "
                                                "one is drawn and returned in params.seed.")


class NetworkLayerTensors(BaseModel):
    weight: NestedNumbers
    bias: NestedNumbers | None = None


class NetworkParams(BaseModel):
    layers: list[dict[str, Any]] = Field(description="Each layer as resolved: type, frozen, drawn (its weights or "
                                                     "mask were drawn from the seed) and its options.")
    loss: dict[str, Any] = Field(description="kind, reduction, eps.")
    optimizer: dict[str, Any] = Field(description="kind, lr, momentum, betas, eps, weight_decay.")
    steps: int
    seed: int | None = Field(description="The seed the missing weights were drawn with; null when none was "
                                         "given and nothing was drawn.")


class NetworkInputs(BaseModel):
    input: NestedNumbers
    target: NestedNumbers


class NetworkOutputs(BaseModel):
    prediction: NestedNumbers = Field(description="The last layer's output in the first step.")
    loss: float = Field(description="The first step's loss.")
    losses: list[float] = Field(description="One loss per training step, each measured before that step's update.")
    gradients: list[NetworkLayerTensors | None] = Field(description=(
        "One entry per layer: the first step's ∂L/∂weight and ∂L/∂bias; null for a layer without parameters "
        "and for a frozen one."))
    parameters: list[NetworkLayerTensors | None] = Field(description=(
        "One entry per layer: its weight and bias after the last update (a frozen layer's as given); null for "
        "a layer without parameters."))
    activations: list[NestedNumbers] = Field(description="Each layer's output in the first step, layer 1 first.")


class NetworkTrace(TraceResponse):
    """The first training step: layer by layer forward, the loss, layer by layer backward (last layer first),
    and the update of each parameter. A layer's steps are its op's own, with ids prefixed ``layer2.forward.``,
    ``layer2.backward.``, ``loss.``, ``update.``, each run headed by a ``layer`` step."""

    op: Literal["network"]
    params: NetworkParams
    inputs: NetworkInputs
    outputs: NetworkOutputs
    intermediates: dict[str, Any] = Field(default_factory=dict, description=(
        "The tensors the steps write, by name: act.l (layer l's output; act.0 is the input), delta.l = ∂L/∂act.l, "
        "param.l.weight and param.l.bias, grad.l.weight and grad.l.bias, updated.l.weight and updated.l.bias, "
        "layer.l.<name> (an op's own tensors, such as a softmax's exponentials), loss.<name>."))


# --- architecture ---------------------------------------------------------------------------

from engine.presets import COMPARISONS as _COMPARISONS  # noqa: E402
from engine.presets import NETWORKS as _NETWORKS  # noqa: E402

from .limits import MAX_LAYER_TEXT  # noqa: E402

ArchitecturePresetName = Literal[tuple(_NETWORKS)]  # type: ignore[valid-type]
ComparisonPresetName = Literal[tuple(_COMPARISONS)]  # type: ignore[valid-type]
LayerType = Literal["conv2d", "linear", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "batchnorm2d", "relu", "relu6",
                    "sigmoid", "tanh", "softmax", "dropout", "flatten", "residual", "sequential"]


def _shape(value: Any) -> list[int]:
    if type(value) is not list or len(value) not in (1, 3):
        raise _refuse("shape", f"expected [C, H, W] or [F], got {_shown(value)}")
    return list(_numbers(value, 1, ("C", "H", "W") if len(value) == 3 else ("F",)))


InputShape = Annotated[Any, PlainValidator(_shape), WithJsonSchema(
    {"type": "array", "items": _int_schema(1), "minItems": 1, "maxItems": 3,
     "description": "[C, H, W] (PyTorch's order), or [F] for a flat input"})]


class LayerSpec(Body):
    """One layer or block in PyTorch's terms; which options apply depends on ``type``."""

    type: LayerType
    name: str | None = Field(None, min_length=1, max_length=80, description="Defaults to conv1, relu1, ...; "
                                                                           "a block's layers are named block.layer.")
    trainable: StrictBool = Field(True, description="false: a frozen layer, counted as non-trainable.")
    out_channels: Count | None = Field(None, description="conv2d: filters.")
    in_channels: Count | None = Field(None, description="conv2d: checked against the input when given.")
    kernel_size: CountOrPair | None = Field(None, description="conv2d, maxpool2d, avgpool2d.")
    stride: OptionalCountOrPair = Field(None, description="conv2d (default 1); pools (default kernel_size).")
    padding: Padding2d | None = Field(None, description="conv2d: a number, [rows, columns], [top, bottom, left, right], "
                                                        "'same' or 'valid'; pools: a number or [rows, columns].")
    dilation: CountOrPair | None = Field(None, description="conv2d.")
    groups: Count | None = Field(None, description="conv2d: groups = in_channels is a depthwise convolution.")
    bias: StrictBool | None = Field(None, description="conv2d, linear (default true).")
    out_features: Count | None = Field(None, description="linear.")
    in_features: Count | None = Field(None, description="linear: checked against the input when given.")
    ceil_mode: StrictBool | None = Field(None, description="maxpool2d, avgpool2d.")
    count_include_pad: StrictBool | None = Field(None, description="avgpool2d (no effect on the table).")
    output_size: CountOrPair | None = Field(None, description="adaptive_avgpool2d.")
    num_features: Count | None = Field(None, description="batchnorm2d: checked against the channels when given.")
    p: float | None = Field(None, ge=0, le=1, strict=True, description="dropout's probability.")
    body: list[LayerSpec] | None = Field(None, description="residual: the layers the input goes through.")
    shortcut: list[LayerSpec] | None = Field(None, description="residual: the other path; empty is the identity.")
    activation: Literal["relu", "relu6", "sigmoid", "tanh", "softmax"] | None = Field(
        None, description="residual: applied after the sum (default relu; null for none).")
    layers: list[LayerSpec] | None = Field(None, description="sequential: its layers.")


LAYER_EXAMPLE = [
    {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "kernel_size": 2}, {"type": "conv2d", "out_channels": 16, "kernel_size": 3},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
    {"type": "linear", "out_features": 10}]
Layers = list[LayerSpec] | Annotated[str, Field(min_length=1, max_length=MAX_LAYER_TEXT)]


class ArchitectureRequest(Body):
    """A network's table: an input shape and layers, or a preset."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input_shape": [3, 16, 16], "layers": LAYER_EXAMPLE}, {"preset": "vgg16"},
        {"input_shape": [3, 32, 32], "layers": "conv 8 3x3 p1 / relu / maxpool 2 / flatten / linear 10"}]})

    input_shape: InputShape | None = Field(None, description="[C, H, W]; a preset's own when left out.")
    layers: Layers | None = Field(None, description="Layer specs, or their text form "
                                                    "('conv 8 3x3 p1 / relu / maxpool 2 / flatten / linear 10').")
    preset: ArchitecturePresetName | None = Field(None, description="A network of GET /architecture/presets.")


class ArchitectureCompareRequest(Body):
    """Two layer lists on the same input, or a comparison preset."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"preset": "five_vs_two_threes"},
        {"input_shape": [64, 56, 56], "left": "conv 64 5x5 p2", "right": "conv 64 3x3 p1 / relu / conv 64 3x3 p1"}]})

    input_shape: InputShape | None = Field(None, description="[C, H, W]; the preset's own when left out.")
    left: Layers | None = None
    right: Layers | None = None
    labels: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        None, min_length=2, max_length=2, description="A name for each side.")
    preset: ComparisonPresetName | None = Field(None, description="A comparison of GET /architecture/presets.")


class ReceptiveFieldOut(BaseModel):
    size: int | list[int] = Field(description="Input cells the region spans (one number, or [rows, columns]).")
    jump: int | list[int] = Field(description="Input cells between neighbouring output cells' regions.")
    start: int | list[int] = Field(description="Where output cell 0's region starts, 0-based (negative: padding).")


class ArchitectureRow(BaseModel):
    index: int
    name: str = Field(examples=["layer1.0.conv1"])
    type: str = Field(description="A layer type, 'residual', 'sequential', or 'add' (a residual block's sum).")
    depth: int = Field(description="1 for the top level; a block's layers are one deeper.")
    depth_index: int = Field(description="torchinfo's index among the rows at this depth.")
    parent: int | None = Field(description="The row of the enclosing block.")
    leaf: bool
    input_shape: list[int]
    output_shape: list[int] = Field(description="(C, H, W) or (F,).")
    params: int = Field(description="A block's are its layers'.")
    trainable: bool | None = Field(description="null without parameters; false when any is frozen.")
    macs: int
    mult_adds: int = Field(description="torchinfo's count.")
    receptive_field: ReceptiveFieldOut | None = Field(description="While the output is a map.")
    options: dict[str, Any] = Field(description="The resolved options (padding as 4 numbers, ...).")
    children: list[int]
    steps: list[str] = Field(description="Ids of this row's steps; ask for one with ?step_id=.")


class ArchitectureTotals(BaseModel):
    params: int
    trainable_params: int
    non_trainable_params: int
    macs: int = Field(description="Multiply-accumulates of convolutions and linear layers, bias excluded "
                                  "(torchvision's GFLOPS × 10^9).")
    flops: int = Field(description="2 × macs.")
    mult_adds: int = Field(description="torchinfo's total mult-adds.")
    input_size_mb: float
    forward_backward_mb: float = Field(description="torchinfo's: 2 × the outputs of layers with parameters, 4 bytes "
                                                   "each, 10^6 bytes per MB.")
    params_mb: float
    total_mb: float


class ArchitectureOutputs(BaseModel):
    layers: list[ArchitectureRow]
    totals: ArchitectureTotals


class ArchitectureParams(BaseModel):
    input_shape: list[int]
    preset: str | None
    layer_count: int


class ArchitectureTrace(TraceResponse):
    op: Literal["architecture"]
    params: ArchitectureParams
    inputs: dict[str, Any]
    outputs: ArchitectureOutputs


class ComparisonSide(BaseModel):
    label: str
    layers: list[ArchitectureRow]
    totals: ArchitectureTotals
    output_shape: list[int]
    receptive_field: ReceptiveFieldOut | None


class ComparisonOutputs(BaseModel):
    left: ComparisonSide
    right: ComparisonSide
    ratios: dict[str, float | None] = Field(description="right / left, for params and macs.")


class ComparisonParams(BaseModel):
    input_shape: list[int]
    preset: str | None
    labels: list[str]


class ComparisonTrace(TraceResponse):
    op: Literal["architecture_comparison"]
    params: ComparisonParams
    inputs: dict[str, Any]
    outputs: ComparisonOutputs


class NetworkPresetOut(BaseModel):
    name: str
    title: str
    input_shape: list[int]
    source: str
    published: dict[str, Any] | None = Field(description="torchvision's documented num_params and GFLOPS, where "
                                                         "it documents the network.")
    layers: list[dict[str, Any]]
    text: str = Field(description="The layers in the compact text form.")


class ComparisonPresetOut(BaseModel):
    name: str
    title: str
    input_shape: list[int]
    labels: list[str]
    left: str
    right: str
    explanation: str


class ArchitecturePresets(BaseModel):
    networks: list[NetworkPresetOut]
    comparisons: list[ComparisonPresetOut]


# --- check ----------------------------------------------------------------------------------
# A student's answer to an op's problem: which cells are wrong, and the usual mistake behind them.

CheckOp = Literal["conv2d", "conv2d/backward", "conv1d", "conv1d/backward", "pool2d", "pool2d/backward", "im2col",
                  "output-size", "activation", "activation/backward", "dense", "dense/backward", "flatten", "loss",
                  "optimizer", "batchnorm", "batchnorm/backward", "dropout"]

_ANSWER_SCHEMA = {
    "anyOf": [{"type": "number"}, {"type": "string"}, {"type": "array", "items": {}}],
    "description": ("A number, or nested lists of numbers in the output's shape. A cell may be the text the "
                    "student typed (\"2.90\"), which keeps the decimals written: a cell is right within half a "
                    "unit of its last decimal, 1e-3 relative, or 1e-6."),
}
Answer = Annotated[Any, WithJsonSchema(_ANSWER_SCHEMA)]
CHECK_EXAMPLE = {"op": "conv2d", "problem": {"input": SEED_INPUT, "kernel": SEED_KERNEL},
                 "answer": [[4, 0], [4, 3]]}
CHECK_WRONG_EXAMPLE = {"op": "conv2d", "problem": {"input": SEED_INPUT, "kernel": SEED_KERNEL},
                       "answer": [[4, 0], [4, 1]]}


class CheckRequest(Body):
    """An answer to check against an op's problem."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        CHECK_EXAMPLE, CHECK_WRONG_EXAMPLE,
        {"op": "loss", "problem": {"prediction": [2.9], "target": [0], "kind": "mse", "reduction": "half_sum"},
         "answer": 8.41}]})

    op: CheckOp = Field(description="The op, named as its route: conv2d, pool2d/backward, output-size, ...")
    problem: dict[str, Any] = Field(description="The op's own request body; it is validated as that route "
                                                "validates it, and errors point at ['body', 'problem', field, ...].")
    answer: Answer = Field(description="The student's answer: the whole output, or one number with `cell`.")
    output: str | None = Field(None, max_length=100, description=(
        "Which output is answered: 'grad_weight', 'loss', 'params.w', 'running_var', ...; by default the op's "
        "first output (output, grad_input, loss, output_size, params.<first>)."))
    cell: Annotated[list[_count(0)], Field(min_length=1, max_length=4)] | None = Field(
        None, description="Check one cell only: its index counted from 0, e.g. [0, 1]; `answer` is then a number.")


class CheckedCell(BaseModel):
    index: list[int] = Field(description="The cell, counted from 0.")
    given: float | str = Field(description="The student's number (\"NaN\", \"Infinity\" for an overflow).")
    expected: float
    step_id: str | None = Field(description="The step that works this cell out, e.g. 'output[0,1]'.")
    correct: bool


class CheckResponse(BaseModel):
    """What the check found."""

    op: str
    output: str = Field(description="The output checked.")
    shape: list[int] = Field(description="The checked output's shape.")
    correct: bool
    wrong_cells: list[list[int]] = Field(description="Indices of the wrong cells, counted from 0.")
    cells: list[CheckedCell] = Field(description="Every cell compared; empty when the answer has the shape a "
                                                 "mistake gives (a misread stride or padding) rather than the "
                                                 "output's.")
    diagnosis: str = Field(description="One sentence: right, the usual mistake that gives this answer, or which "
                                       "cells are wrong.")
    mistake: str | None = Field(description="A short code of the mistake named ('kernel_flipped', "
                                            "'bias_forgotten', 'stride_misread', ...), or null.")
    first_wrong_term: dict[str, Any] | None = Field(description=(
        "When no usual mistake explains the answer: the first wrong cell's step (step_id, title, expansion, "
        "given, expected, and its terms) to compare term by term."))


# --- practice ---------------------------------------------------------------------------------
# A problem drawn from a seed, small enough to work by hand, with its answer key.

PracticeOp = Literal[PRACTICE_OPS]
Difficulty = Literal["easy", "medium", "hard"]
PRACTICE_EXAMPLE = practice("conv2d", seed=11)


class PracticeResponse(BaseModel):
    """A practice problem and its answer key."""

    model_config = ConfigDict(json_schema_extra={"examples": [PRACTICE_EXAMPLE]})

    op: PracticeOp = Field(description="The op, named as its route.")
    difficulty: Difficulty
    seed: int = Field(description="The seed the problem was drawn from: the same seed and difficulty give the "
                                  "same problem. Drawn at random (and returned here) when the request has none.")
    prompt: str = Field(description="The question, in one sentence.")
    problem: dict[str, Any] = Field(description="The op's own request body: POST it to /api/v1/<op> for every "
                                                "step, or send it with an answer to /api/v1/check.")
    output: str = Field(description="The output the question asks for (the one /api/v1/check checks by "
                                    "default): 'output', 'grad_input', 'loss', 'params.w', 'output_size', ...")
    answer: Answer = Field(description="The answer key: the value of `output`, a number or nested lists, exactly "
                                       "as the op's route computes it.")


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
