"""The gallery ``/examples``: every worked example, exercise and practice problem of the source
documents (the seeds), grouped by document and topic, each opening the page that works it.

The examples point into the registries the pages already have (the walkthrough presets, the network
presets, the architecture presets and comparisons) by title or name, so a number lives in one place.
A printed answer is checked with ``engine.check_answer`` against the page's own trace; where a seed's
printed result or formula differs from what cnnsteps computes, the example says so in a sentence,
shows the printed value beside the computed one, and links to the page's check of the printed value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from engine import architecture, check_answer, compare_architectures, conv2d, parse_matrix
from engine.check import CHECKABLE
from engine.numfmt import fmt
from engine.presets import COMPARISONS, NETWORKS

from ..render import templates
from . import network as network_page
from .answers import ANSWER, OUTPUT, problem_of
from .walkthrough import SEED000, WALKTHROUGHS

router = APIRouter(include_in_schema=False)


# --- what an example is -------------------------------------------------------------------------

@dataclass(frozen=True)
class Opens:
    """The page an example opens: a walkthrough slug, 'network', 'architecture' or 'compare'; a preset
    of that page's registry by its title (or name), and query fields of the example's own on top."""

    page: str
    preset: str | None = None
    query: dict[str, str] = field(default_factory=dict)


def page(slug: str, preset: str | None = None, **query: str) -> Opens:
    return Opens(slug, preset, query)


def network(preset: str) -> Opens:
    return Opens("network", preset)


def table(preset: str | None = None, **query: str) -> Opens:
    return Opens("architecture", preset, query)


def compare(name: str) -> Opens:
    return Opens("compare", name)


@dataclass(frozen=True)
class Figure:
    """A count the seed prints, beside the one cnnsteps computes (``computed`` calls the engine)."""

    what: str
    printed: str
    printed_value: float
    computed: Callable[[], float]
    shown: Callable[[float], str] = lambda v: f"{v:,.0f}"


@dataclass(frozen=True)
class Example:
    title: str
    opens: Opens
    printed: str = ""
    """What the seed prints as the result, in short."""
    answer: str | Callable[[], str] | None = None
    """The printed answer as matrix text, checked against the page's trace (a function when the value is
    what a printed formula gives rather than a printed number)."""
    output: str | None = None
    """Which output ``answer`` is, when not the op's first."""
    answer_label: str = "Printed"
    """The heading of the answer's grid beside the computed one."""
    figures: tuple[Figure, ...] = ()
    note: str = ""
    """One plain sentence: where the seed and cnnsteps part ways, or the convention that tells them apart."""


@dataclass(frozen=True)
class Topic:
    title: str
    examples: tuple[Example, ...]


@dataclass(frozen=True)
class Seed:
    key: str
    title: str
    about: str
    topics: tuple[Topic, ...]


# --- figures the engine computes ------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _table(preset: str) -> Any:
    return architecture(preset=preset)


@functools.lru_cache(maxsize=8)
def _comparison(name: str) -> Any:
    return compare_architectures(preset=name)


def _row_params(preset: str, row: str) -> Callable[[], float]:
    return lambda: float(next(r["params"] for r in _table(preset).outputs["layers"] if r["name"] == row))


def _side_params(name: str, side: str) -> Callable[[], float]:
    return lambda: float(_comparison(name).outputs[side]["totals"]["params"])


def _ratio(name: str) -> Callable[[], float]:
    return lambda: float(_comparison(name).outputs["ratios"]["params"])


@functools.lru_cache(maxsize=8)
def _custom_table(shape: tuple[int, ...], layers: str) -> Any:
    return architecture(shape, layers)


def _field_size(shape: tuple[int, ...], layers: str, row: int) -> Callable[[], float]:
    return lambda: float(_custom_table(shape, layers).outputs["layers"][row]["receptive_field"]["size"])


def _printed_claim(preset: str, path: str) -> float:
    """A figure the preset's own claims record as printed by the seed."""
    return float(next(c.printed for c in NETWORKS[preset].claims if c.path == path))


def _true_convolution_of_seed000() -> str:
    """What the sum the seed 002 calls cross-correlation, over I(i − m, j − n), gives on seed 000's numbers."""
    out = conv2d(parse_matrix(SEED000["input"]), parse_matrix(SEED000["kernel"]), mode="convolution").outputs["output"]
    return "; ".join(" ".join(fmt(v) for v in row) for row in out)


# --- the seeds' examples -----------------------------------------------------------------------------

FOUR_THREES = "conv 1 3x3 / conv 1 3x3 / conv 1 3x3 / conv 1 3x3"
"""Problem 2 of seed 004: four 3×3 convolutions with stride 1, one channel (the receptive field does not
depend on the channels)."""

SEED004_ROUTE = "0 0 0 0; 0 1 0 2; 3 0 0 0; 0 0 0 4"
"""Problem 4 of seed 004 with δ = [[1, 2], [3, 4]] for its α, β, γ, δ: each at its window's winner."""

SEEDS: tuple[Seed, ...] = (
    Seed("000", "Lecture notes: a toy CNN traced by hand",
         "A 4×4 input through one 3×3 filter, ReLU, flatten and a single output neuron, forward, backward and "
         "through one gradient-descent step; then the shapes and parameters of a network on 16×16 RGB images.",
         (Topic("The toy network, end to end", (
             Example("The whole network: forward, loss, backward and one update", network("Seed 000: the toy network"),
                     "ŷ = 2.9; after the update w = (−0.96, −0.50, −0.76, −0.77) and b = −0.09"),
             Example("The same network trained for ten steps", network("Seed 000, ten training steps")),
             Example("Step 1: the convolution", page("conv2d", "Seed 000: the 4×4 toy network's convolution"),
                     "Z = [[4, 0], [4, 3]]", "4 0; 4 3"),
             Example("Step 1: ReLU on the feature map", page("activation", "Seed 000: ReLU on the 2×2 feature map"),
                     "unchanged: [[4, 0], [4, 3]]", "4 0; 4 3"),
             Example("Step 2: flatten", page("flatten", "Seed 000: the 2×2 feature map"), "p = (4, 0, 4, 3)",
                     "4 0 4 3"),
             Example("Step 2: the fully connected output", page("dense", "Seed 000: the fully connected layer"),
                     "ŷ = 2.9", "2.9"),
             Example("Step 3: the loss's gradient", page("loss", "Seed 000: squared error with ½Σ"),
                     "∂L/∂ŷ = ŷ − t = 2.9", "2.9", "grad_input"),
             Example("Step 3: the weight gradients", page("dense/backward", "Seed 000: δ = 2.9 from the ½Σ squared error"),
                     "∂L/∂w = (11.6, 0, 11.6, 8.7) and ∂L/∂b = 2.9", "11.6 0 11.6 8.7", "grad_weight"),
             Example("Step 3: the gradient-descent update, α = 0.1", page("optimizer", "Seed 000: one SGD step"),
                     "w = (−0.96, −0.50, −0.76, −0.77), b = −0.09", "-0.96 -0.50 -0.76 -0.77", "params.w"),
             Example("Past the notes: the gradient of the 3×3 filter",
                     page("conv2d/backward", "Seed 000's convolution, δ from the dense layer"),
                     note="The notes stop at the dense layer; δ = 2.9·w, laid out as the 2×2 map, carries the "
                          "gradient on into the filter."),
         )), Topic("A network on 16×16×3 images: shapes and parameters", (
             Example("The table of shapes and parameters", table("seed000_rgb16"),
                     "Conv1 224, Conv2 1,168, Dense 1,450 parameters; 2,842 in all"),
             Example("Conv1's output: 16 wide, 3×3, stride 1, padding 1",
                     page("output-size", input_size="16", kernel_size="3", stride="1", padding="1"), "16", "16"),
             Example("Pool1's output: 16 wide, 2×2, stride 2",
                     page("output-size", input_size="16", kernel_size="2", stride="2", padding="0"), "8", "8"),
             Example("Conv2's output: 8 wide, 3×3, stride 1, no padding",
                     page("output-size", input_size="8", kernel_size="3", stride="1", padding="0"), "6", "6"),
             Example("Pool2's output: 6 wide, 2×2, stride 2",
                     page("output-size", input_size="6", kernel_size="2", stride="2", padding="0"), "3", "3"),
             Example("The toy network as a table", table("seed000_toy"), "a 2×2 feature map, 4 values flattened"),
         )))),
    Seed("001", "CNN notes with exercises and answers",
         "Why dense layers do not scale to images, convolution and pooling worked on small matrices, softmax, a "
         "CIFAR-sized network, famous architectures, im2col, and three exercises with answers.",
         (Topic("Why not a dense layer", (
             Example("A 32×32 RGB image into 100 neurons", table("seed001_mlp"), "3,072 × 100 = 307,200 weights",
                     figures=(Figure("parameters of the 100-neuron layer", "307,200",
                                     _printed_claim("seed001_mlp", "row fc params"), _row_params("seed001_mlp", "fc")),),
                     note="The seed counts the weights only; each of the 100 neurons also has a bias, and the "
                          "computed count includes them."),
         )), Topic("Convolution", (
             Example("A vertical edge detector on a 4×4 image", page("conv2d", "Seed 001: vertical edge detector"),
                     "[[0, 3], [2, −1]]", "0 3; 2 -1",
                     note="The printed output is wrong in two of its four cells: the check names them, and the "
                          "step of the first one lists its nine products."),
             Example("The same filter, flipped: the seed's own formula",
                     page("conv2d", "Seed 001: vertical edge detector", mode="convolution"),
                     note="The seed defines convolution with I[i − m, j − n], which flips the kernel, but works its "
                          "example without the flip, as CNN libraries do; this page works the flipped version."),
             Example("Output size: 6×6 input, 3×3 filter, stride 1",
                     page("output-size", input_size="6", kernel_size="3", stride="1", padding="0"), "4 × 4", "4"),
             Example("Output size: the same with stride 2", page("output-size", "Seed 001: 6×6, 3×3, stride 2"),
                     "(6 − 3)/2 + 1 = 2.5, so 2 × 2", "2",
                     note="The seed's formula has no floor, so it reaches 2.5 before dropping the half; "
                          "⌊(6 − 3)/2⌋ + 1 gives 2 directly."),
         )), Topic("Pooling", (
             Example("Max pooling, 2×2 windows, stride 2", page("pool2d", "Seed 001: max pooling"), "[[6, 9], [7, 8]]",
                     "6 9; 7 8"),
             Example("Average pooling on the same input", page("pool2d", "Seed 001: average pooling"),
                     "[[3.5, 4.25], [3.25, 5.0]]", "3.5 4.25; 3.25 5.0"),
         )), Topic("Softmax", (
             Example("Softmax of the scores 2, 1, 0.1", page("activation", "Seed 001: softmax of the scores 2, 1, 0.1"),
                     "0.66, 0.24, 0.10", "0.66 0.24 0.10",
                     note="cnnsteps subtracts the largest score before taking exponentials, so its sum of "
                          "exponentials is smaller than the seed's 11.22; the probabilities are the same."),
         )), Topic("Networks", (
             Example("The 32×32×3 network, layer by layer", table("seed001_cifar"),
                     "32×32×32, 16×16×32, 16×16×64, 8×8×64, then 4,096 values"),
             Example("A 1×1 convolution: 256 channels down to 64", table(input="256x32x32", layers="conv 64 1x1"),
                     "32×32×256 → 32×32×64"),
             Example("Cats against dogs on 128×128×3 images", table("seed001_cats_dogs"),
                     "128×128×32 after Conv1, 16×16×128 after Pool3, 32,768 values",
                     note="The seed gives no padding, but its shapes keep 128×128 through a 3×3 convolution, "
                          "which takes padding 1; the table uses it."),
             Example("LeNet-5", table("lenet5"), "7 layers"),
             Example("AlexNet", table("alexnet"), "8 layers"),
             Example("VGG-16", table("vgg16"), "16 layers, 138 million parameters"),
         )), Topic("Convolution as a matrix product", (
             Example("im2col of a 3×3 input with a 2×2 window", page("im2col", "Seed 001 §11.1: 3×3 input, 2×2 window"),
                     note="The seed writes one window per row and the kernel as a column; cnnsteps follows "
                          "PyTorch's unfold, one window per column and the kernel as a row: the same numbers, "
                          "transposed."),
             Example("Batch normalization of a batch", page("batchnorm", "Four samples, three features")),
         )), Topic("Exercises", (
             Example("Exercise 1.1: 28×28, 5×5 filter, stride 1",
                     page("output-size", input_size="28", kernel_size="5", stride="1", padding="0"), "24 × 24", "24"),
             Example("Exercise 1.2: 100×100, 3×3 filter, stride 2, padding 1",
                     page("output-size", "Seed 001, exercise 1.2"), "50 × 50", "50",
                     note="Its working, (100 − 3 + 2)/2 + 1, is 50.5 without a floor; ⌊99/2⌋ + 1 = 50 is the "
                          "answer it prints."),
             Example("Exercise 1.3: 14×14 after 2×2 max pooling, stride 2",
                     page("output-size", input_size="14", kernel_size="2", stride="2", padding="0"), "7 × 7", "7"),
             Example("Exercise 2: a 2×2 kernel on a 3×3 input", page("conv2d", "Seed 001, exercise 2"),
                     "[[1, 0], [1, 3]]", "1 0; 1 3"),
             Example("Exercise 3: max pooling", page("pool2d", "Seed 001, exercise 3"), "[[8, 5], [7, 9]]", "8 5; 7 9"),
         )))),
    Seed("002", "The mathematics of CNNs, as formulas",
         "Definitions without numbers: each formula opens a walkthrough that works it on an example.",
         (Topic("Convolution", (
             Example("Cross-correlation and convolution, named the wrong way round",
                     page("conv2d", "Seed 000: the 4×4 toy network's convolution"),
                     "cross-correlation: the sum over I(i − m, j − n) K(m, n)", _true_convolution_of_seed000,
                     answer_label="The seed's formula",
                     note="The seed names the sum over I(i − m, j − n) cross-correlation, but that sum flips the "
                          "kernel: it is true convolution. Worked on seed 000's numbers it gives the value checked "
                          "below, not the cross-correlation CNN libraries compute."),
             Example("Several input channels and a bias", page("conv2d", "Two channels")),
             Example("The gradients of a convolution, with the kernel rotated 180°",
                     page("conv2d/backward", "Seed 000's convolution, δ from the dense layer"),
                     note="The seed's ∂L/∂K sums X(m, n)·δ(m, n) without shifting X; each weight K(p, q) in fact "
                          "collects X(m + p, n + q)·δ(m, n), as the steps show."),
         )), Topic("Activations, pooling and dense layers", (
             Example("Leaky ReLU", page("activation", "LeakyReLU with α = 0.1")),
             Example("Sigmoid", page("activation", "Sigmoid")),
             Example("Max pooling", page("pool2d", "Seed 001: max pooling")),
             Example("Average pooling", page("pool2d", "Seed 001: average pooling")),
             Example("A dense layer's gradients: δ·aᵀ, δ and Wᵀ·δ",
                     page("dense/backward", "Seed 000: δ = 2.9 from the ½Σ squared error")),
         )), Topic("Losses and training", (
             Example("Cross-entropy", page("loss", "Seed 003: cross-entropy, true class 7")),
             Example("Mean squared error, averaged over N", page("loss", "The same error with PyTorch's mean")),
             Example("Stochastic gradient descent", page("optimizer", "Seed 000: one SGD step")),
             Example("Adam with β1 = 0.9, β2 = 0.999", page("optimizer", "Seed 002: Adam with PyTorch's defaults, 5 updates")),
             Example("L2 regularization (weight decay)", page("optimizer", "Seed 002: Adam with L2 weight decay"),
                     note="Adding λ/2·‖W‖² to the loss adds λW to each weight's gradient, which is what "
                          "weight_decay = λ does."),
             Example("Dropout while training", page("dropout", "Seed 002: inverted dropout while training, p = 0.5")),
             Example("Dropout at test time, weights scaled by 1 − p", page("dropout", "Seed 002: classic dropout at test time")),
         )))),
    Seed("003", "An MNIST classifier, forward and back",
         "One 6×6 filter on a 28×28 digit, 2×2 max pooling, 121 values into 10 classes with softmax and "
         "cross-entropy, and the backward pass through each layer.",
         (Topic("The network", (
             Example("The network trained on a generated digit", network("Seed 003: an MNIST-style network")),
             Example("Its shapes, layer by layer", table("seed003_mnist"), "23×23, then 11×11, then 121 values"),
             Example("The feature map: 28 wide, a 6×6 filter, stride 1",
                     page("output-size", "Seed 003: MNIST 28×28 with a 6×6 filter"), "23 × 23", "23"),
             Example("The pooled map: 23 wide, 2×2, stride 2",
                     page("output-size", input_size="23", kernel_size="2", stride="2", padding="0"), "11 × 11", "11"),
         )), Topic("Softmax and cross-entropy", (
             Example("Cross-entropy of the printed probabilities, true class 7",
                     page("loss", "Seed 003: cross-entropy, true class 7"), "the prediction is class 7"),
             Example("Softmax with cross-entropy: ∂L/∂z = ŷ − y",
                     page("loss", "Seed 001's scores with softmax cross-entropy")),
             Example("The same through the softmax's Jacobian",
                     page("activation/backward", "Softmax with cross-entropy's δ for class 1")),
         )), Topic("Backward through pooling and convolution", (
             Example("Max pooling sends 0.8 to the winner", page("pool2d/backward", "Seed 003: route 0.8 through one window"),
                     "[[0, 0.8], [0, 0]]", "0 0.8; 0 0"),
             Example("The filter's gradient, a cross-correlation of the input with δ",
                     page("conv2d/backward", "Seed 000's convolution, δ from the dense layer")),
         )))),
    Seed("004", "CNN subject notes: worked examples and practice problems",
         "Output sizes, parameter counts, the gradient of a 1-D convolution, receptive fields, and five practice "
         "problems with answers.",
         (Topic("Worked examples", (
             Example("Example 1: ResNet's first layer, 224 wide, 7×7, stride 2, padding 3",
                     page("output-size", "Seed 004: ResNet's first layer"), "112, so 64 × 112 × 112", "112"),
             Example("Example 1 inside ResNet-50", table("resnet50"), "64 × 112 × 112"),
             Example("Example 2: one 5×5 convolution against two 3×3", compare("five_vs_two_threes"),
                     "102,464 against 73,856 parameters, 28% fewer",
                     figures=(Figure("one 5×5 layer, 64 channels", "102,464", 102464,
                                     _side_params("five_vs_two_threes", "left")),
                              Figure("two 3×3 layers", "73,856", 73856, _side_params("five_vs_two_threes", "right")))),
             Example("Example 3: a 1-D convolution", page("conv1d", "Seed 004, example 3"), "Y = [11, 14]", "11 14"),
             Example("Example 3: its kernel gradient", page("conv1d/backward", "Seed 004, example 3"),
                     "∂L/∂K = [−1, −1]", "-1 -1", "grad_weight"),
         )), Topic("Parameter sharing and receptive fields", (
             Example("A 3×3 convolution against a dense layer on a 256×256 RGB image", compare("conv_vs_dense"),
                     "about 1.8 thousand parameters against billions",
                     figures=(Figure("parameters of the convolution", "~1.8K", 1800,
                                     _side_params("conv_vs_dense", "left"), lambda v: f"{v:,.0f}"),)),
         )), Topic("Practice problems", (
             Example("Problem 1: 32×32×16 through 32 filters, 3×3, stride 1, padding 1",
                     table(input="16x32x32", layers="conv 32 3x3 p1"), "32 × 32 × 32"),
             Example("Problem 2: the receptive field after four 3×3 layers",
                     table(input="1x32x32", layers=FOUR_THREES, rf="3"), "3, 5, 7, 9",
                     figures=(Figure("receptive field after layer 4", "9", 9, _field_size((1, 32, 32), FOUR_THREES, 3)),)),
             Example("Problem 3: max pooling", page("pool2d", "Seed 004, problem 3"), "[[6, 8], [9, 7]]", "6 8; 9 7"),
             Example("Problem 4: the gradient reaches the winners only", page("pool2d/backward", "Seed 004, problem 4"),
                     "α at (1, 1), β at (1, 3), γ at (2, 0), δ at (3, 3), counted from 0", SEED004_ROUTE),
             Example("Problem 5: a depthwise-separable convolution", compare("depthwise_separable"),
                     "Ck² + C² + C parameters, about 1/9 of a standard layer's",
                     figures=(Figure("parameters at C = 64, k = 3", "4,736", 4736,
                                     _side_params("depthwise_separable", "right")),
                              Figure("against a standard 3×3 layer", "about 1/9", 1 / 9, _ratio("depthwise_separable"),
                                     lambda v: f"{v:.3f}")),
                     note="The seed leaves out the depthwise layer's biases, one per channel, and its 1/9 is the "
                          "limit for many channels: at 64 channels the separable layer keeps 13% of the parameters."),
         )))),
)


# --- views ---------------------------------------------------------------------------------------------

class MissingPreset(LookupError):
    pass


def _preset_query(presets: Any, title: str) -> dict[str, str]:
    for p in presets:
        if p.title == title:
            return dict(p.query)
    raise MissingPreset(title)


def href(opens: Opens) -> tuple[str, dict[str, str]]:
    """The path and the query an example opens (MissingPreset when a preset it names is gone)."""
    if opens.page == "network":
        return "/network", {**network_page.DEFAULTS, **_preset_query(network_page.PRESETS, opens.preset or ""),
                            **opens.query}
    if opens.page == "architecture":
        if opens.preset is not None and opens.preset not in NETWORKS:
            raise MissingPreset(opens.preset)
        return "/architecture", ({"preset": opens.preset} if opens.preset else {}) | opens.query
    if opens.page == "compare":
        if opens.preset not in COMPARISONS:
            raise MissingPreset(str(opens.preset))
        return "/architecture/compare", {"preset": opens.preset}
    w = WALKTHROUGHS.get(opens.page)
    if w is None:
        raise MissingPreset(opens.page)
    preset = _preset_query(w.presets, opens.preset) if opens.preset else {}
    return f"/{w.slug}", {**{f.name: f.default for f in w.fields}, **preset, **opens.query}


def _grid(values: np.ndarray, wrong: set[tuple[int, ...]]) -> list[list[tuple[str, bool]]]:
    """A small tensor as rows of (number, wrong?) cells, the last axis across."""
    shape = values.shape
    cells = [(fmt(values[index]), index in wrong) for index in np.ndindex(shape)]
    width = shape[-1] if shape else 1
    return [cells[k:k + width] for k in range(0, len(cells), width)]


def _check(example: Example, path: str, query: dict[str, str]) -> dict[str, Any] | None:
    """The printed answer checked against the page's trace, and the link to the page's own check view."""
    slug = path.lstrip("/")
    if example.answer is None or slug not in CHECKABLE:
        return None
    w = WALKTHROUGHS[slug]
    text = example.answer() if callable(example.answer) else example.answer
    trace = w.run(query)
    problem = w.problem(query) if w.problem is not None else problem_of(slug, trace)
    result = check_answer(slug, problem, parse_matrix(text, "answer"), output=example.output, trace=trace)
    given, expected = np.zeros(tuple(result.shape)), np.zeros(tuple(result.shape))
    for c in result.cells:
        given[tuple(c.index)], expected[tuple(c.index)] = c.given, c.expected
    wrong = {tuple(c.index) for c in result.cells if not c.correct}
    first = next((c for c in result.cells if not c.correct), None)
    position = None if first is None or first.step_id is None else trace.steps.position(first.step_id)
    link = {**query, ANSWER: text, **({OUTPUT: example.output} if example.output else {})}
    return {
        "correct": result.correct, "diagnosis": result.diagnosis, "label": example.answer_label,
        "printed": _grid(given, wrong), "computed": _grid(expected, wrong),
        "href": f"{path}?{urlencode(link)}#check",
        "step_href": None if position is None else f"{path}?{urlencode(query)}#step-{position + 1}",
    }


def _figure(f: Figure) -> dict[str, Any]:
    computed = f.computed()
    agrees = abs(computed - f.printed_value) <= 0.05 * abs(computed) if f.printed.startswith(("~", "about")) \
        else computed == f.printed_value
    return {"what": f.what, "printed": f.printed, "computed": f.shown(computed), "agrees": agrees}


def example_view(example: Example) -> dict[str, Any]:
    view: dict[str, Any] = {"title": example.title, "printed": example.printed, "note": example.note,
                            "href": None, "page": None, "check": None, "figures": [], "differs": False}
    try:
        path, query = href(example.opens)
    except MissingPreset:   # a registry lost the preset: listed without a link (a test keeps this from happening)
        return view
    view.update(href=f"{path}?{urlencode(query)}", page=path, check=_check(example, path, query),
                figures=[_figure(f) for f in example.figures])
    view["differs"] = (view["check"] is not None and not view["check"]["correct"]) \
        or any(not f["agrees"] for f in view["figures"])
    return view


@functools.lru_cache(maxsize=1)
def gallery() -> list[dict[str, Any]]:
    """Every seed's topics with their examples' views (computed once: the seeds do not change)."""
    return [{"key": s.key, "title": s.title, "about": s.about,
             "topics": [{"title": t.title, "examples": [example_view(e) for e in t.examples]} for t in s.topics]}
            for s in SEEDS]


@router.get("/examples", response_class=HTMLResponse, name="examples")
async def examples(request: Request) -> HTMLResponse:
    seeds = gallery()
    views = [e for s in seeds for t in s["topics"] for e in t["examples"]]
    html = templates.get_template("examples.html").render(
        request=request, seeds=seeds, count=len(views), differing=sum(e["differs"] for e in views), present=False)
    return HTMLResponse(html)
