"""Checking an answer: cell by cell within the student's rounding, and the usual mistake named.

Every wrong answer here is worked out by making the mistake: a loop by the definition with the
kernel flipped, the bias added to every product, the gradient sent to the last tied maximum, ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from engine import EngineError, Tolerance, check_answer, conv2d, dense, pool2d
from engine.check import CHECKABLE, MAX_CHECKED_CELLS, _flat
from engine.mistakes import EVERY_OP, MISTAKES

X = np.array([[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]], dtype=float)   # seed 000
K = np.array([[1, -1, 0], [0, 1, -1], [1, 0, 1]], dtype=float)
SEED = {"input": X.tolist(), "kernel": K.tolist()}
RNG = np.random.default_rng(7)
X5 = RNG.integers(-3, 4, (5, 5)).astype(float)
K3 = RNG.integers(-2, 3, (3, 3)).astype(float)
POOL = np.array([[1, 3, 2, 9], [4, 6, 1, 5], [7, 2, 8, 3], [0, 4, 3, 6]], dtype=float)
TIES = np.array([[1, 1, 2, 0], [0, 1, 2, 2], [3, 3, 1, 0], [3, 0, 1, 1]], dtype=float)
BATCH = np.array([[1, 2], [3, 6], [5, 10]], dtype=float)


# --- by-the-definition loops, with a switch for each mistake ---------------------------------

def naive_conv2d(x, k, b=0.0, *, stride=1, pad=0, dilation=1, flip=False, bias_each=False, slip=None):
    """z[i, j] = sum_mn x[S i + d m - P, S j + d n - P] k[m, n] + b; ``slip`` negates product (i, j, m, n)."""
    x = np.pad(np.asarray(x, dtype=float), pad)
    k = np.flip(k) if flip else np.asarray(k, dtype=float)
    F = k.shape[0]
    span = dilation * (F - 1) + 1
    rows, cols = ((n - span) // stride + 1 for n in x.shape)
    z = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            total = 0.0
            for m in range(F):
                for n in range(F):
                    product = x[stride * i + dilation * m, stride * j + dilation * n] * k[m, n]
                    if slip == (i, j, m, n):
                        product = -product
                    total += product + (b if bias_each else 0.0)
            z[i, j] = total + (0.0 if bias_each else b)
    return z


def naive_full_correlation(delta, k):
    """∂L/∂x worked as a full cross-correlation of δ with the kernel as written (no rotation)."""
    F = k.shape[0]
    padded = np.pad(delta, F - 1)
    size = padded.shape[0] - F + 1
    return np.array([[np.sum(padded[i:i + F, j:j + F] * k) for j in range(size)] for i in range(size)])


def naive_max_pool_backward(x, delta, window, route):
    """Max pooling's ∂L/∂x with stride = window; ``route`` picks the winners among a window's tied maxima."""
    grad = np.zeros_like(x)
    for i in range(delta.shape[0]):
        for j in range(delta.shape[1]):
            cells = x[window * i:window * (i + 1), window * j:window * (j + 1)]
            tied = [(a, c) for a in range(window) for c in range(window) if cells[a, c] == cells.max()]
            for a, c in route(tied):
                grad[window * i + a, window * j + c] += delta[i, j]
    return grad


def naive_batchnorm(x, *, ddof=0, root=True, eps=1e-5):
    var = x.var(axis=0, ddof=ddof) + eps
    return (x - x.mean(axis=0)) / (np.sqrt(var) if root else var)


def run(op: str, problem: dict[str, Any], output: str | None = None) -> np.ndarray:
    trace = CHECKABLE[op].run(problem)
    return np.asarray(trace.flat_outputs()[output or next(iter(trace.outputs))], dtype=float)


def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --- each mistake, made on purpose --------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    mistake: str
    op: str
    problem: dict[str, Any]
    answer: Any
    output: str | None = None
    says: str = ""   # words the diagnosis must hold

    def __str__(self) -> str:
        return self.mistake


SIGMOID_X = np.array([0.5, -1.0, 2.0])
DELTA = np.array([1.0, 2.0, 3.0])
MSE = {"prediction": [2.9, 1.0, -0.5], "target": [0.0, 0.5, 0.5], "kind": "mse"}
MSE_ERRORS = np.array([2.9, 0.5, -1.0])
LOGITS = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 1.0]])
CE = {"prediction": LOGITS.tolist(), "target": [0, 1], "kind": "softmax_cross_entropy"}
CE_LOSS = -np.mean(np.log(softmax(LOGITS)[[0, 1], [0, 1]]))
SGD = {"params": {"w": [0.2, -0.5], "b": 0.2}, "grads": {"w": [11.6, 0.0], "b": 2.9}, "kind": "sgd", "lr": 0.1}
MOMENTUM = {"params": {"w": [0.2]}, "grads": {"w": [1.0]}, "kind": "sgd", "lr": 0.1, "momentum": 0.9,
            "state": {"step": 1, "velocity": {"w": [0.5]}}}
ADAM = {"params": {"w": [0.2, -0.5]}, "grads": {"w": [1.0, -2.0]}, "kind": "adam", "lr": 0.1}
DROP = {"input": [[1.0, 2.0], [3.0, 4.0]], "p": 0.5, "mask": [[1, 0], [0, 1]]}
KEEP = np.array([[1.0, 0.0], [0.0, 1.0]])
DROP_X = np.array(DROP["input"])
WIDE = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [1, 0, 1, 0]], dtype=float)
pool_ties = {"input": TIES.tolist(), "kernel_size": 2, "grad_output": [[1, 2], [3, 4]]}
dense_batch = {"input": [[1, 2, 3], [4, 5, 6]], "weight": [[1, 0, -1], [2, 1, 0]], "grad_output": [[1, -1], [0, 2]]}
bn_running = {"input": BATCH.tolist(), "momentum": 0.1}

CASES = [
    # convolution
    Case("kernel_flipped", "conv2d", SEED, naive_conv2d(X, K, flip=True), says="rotated 180°"),
    Case("kernel_flipped", "conv2d", {**SEED, "mode": "convolution"}, naive_conv2d(X, K),
         says="a true convolution first rotates it"),
    Case("kernel_flipped", "conv1d", {"input": [3, 4, 5, 1, 2], "kernel": [1, 2, -1]},
         np.convolve([3, 4, 5, 1, 2], [1, 2, -1], mode="valid")),
    Case("kernel_transposed", "conv2d", {"input": X5.tolist(), "kernel": K3.tolist()}, naive_conv2d(X5, K3.T)),
    Case("bias_forgotten", "conv2d", {**SEED, "bias": 0.5}, naive_conv2d(X, K), says="left out"),
    Case("bias_per_term", "conv2d", {**SEED, "bias": 0.5}, naive_conv2d(X, K, 0.5, bias_each=True),
         says="each of the 9 products"),
    Case("stride_misread", "conv2d", {"input": X5.tolist(), "kernel": K3.tolist(), "stride": 2},
         naive_conv2d(X5, K3), says="stride is 2"),
    Case("padding_misread", "conv2d", {**SEED, "padding": "same"}, naive_conv2d(X, K), says="'same'"),
    Case("padding_misread", "conv2d", SEED, naive_conv2d(X, K, pad=1), says="no padding"),
    Case("dilation_ignored", "conv2d", {"input": X5.tolist(), "kernel": [[1, 2], [3, 4]], "dilation": 2},
         naive_conv2d(X5, np.array([[1.0, 2], [3, 4]])), says="dilation 2"),
    Case("relu_applied", "conv2d", {"input": X5.tolist(), "kernel": K3.tolist()},
         np.maximum(naive_conv2d(X5, K3), 0), says="ReLU"),
    Case("sign_slip", "conv2d", SEED, naive_conv2d(X, K, slip=(0, 0, 0, 0)), says="x(1,1)·k(1,1) = 2·1"),
    Case("term_dropped", "dense", {"input": [1, 2, 3], "weight": [[1, 1, 1]]}, [3], says="W(1,3)·x(3) = 1·3"),
    Case("transposed", "conv2d", {"input": X5.tolist(), "kernel": K3.tolist()}, naive_conv2d(X5, K3).T,
         says="Rows and columns are swapped"),
    Case("kernel_flipped", "conv2d/backward", {**SEED, "grad_output": [[1, 2], [-1, 0]]},
         naive_full_correlation(np.array([[1.0, 2], [-1, 0]]), K), "grad_input", says="δ"),
    Case("kernel_flipped", "conv2d/backward", {**SEED, "grad_output": [[1, 2], [-1, 0]]},
         np.flip(naive_conv2d(X, np.array([[1.0, 2], [-1, 0]]))), "grad_weight", says="rotated"),
    Case("delta_averaged", "conv2d/backward", {**SEED, "bias": 0.5, "grad_output": [[1, 2], [-1, 0]]},
         0.5, "grad_bias", says="sum"),
    # pooling
    Case("pool_kind", "pool2d", {"input": POOL.tolist(), "kernel_size": 2},
         POOL.reshape(2, 2, 2, 2).mean(axis=(1, 3)), says="averaged"),
    Case("stride_misread", "pool2d", {"input": POOL.tolist(), "kernel_size": 2},
         [[POOL[i:i + 2, j:j + 2].max() for j in range(3)] for i in range(3)], says="one cell at a time"),
    Case("ceil_mode_misread", "pool2d", {"input": POOL[:3, :3].tolist(), "kernel_size": 2},
         [[6, 2], [7, 8]], says="rounded up"),
    Case("count_include_pad_misread", "pool2d",
         {"input": POOL.tolist(), "kind": "avg", "kernel_size": 2, "padding": 1},
         [[1, 2.5, 9], [5.5, 4.25, 4], [0, 3.5, 6]], says="left out of the average"),
    Case("padding_won", "pool2d", {"input": (-POOL).tolist(), "kernel_size": 2, "padding": 1},
         [[0, 0, 0], [0, -1, 0], [0, 0, 0]], says="padded zero"),
    Case("tie_last_winner", "pool2d/backward", pool_ties,
         naive_max_pool_backward(TIES, np.array([[1.0, 2], [3, 4]]), 2, lambda tied: tied[-1:]), says="last"),
    Case("tie_every_winner", "pool2d/backward", pool_ties,
         naive_max_pool_backward(TIES, np.array([[1.0, 2], [3, 4]]), 2, lambda tied: tied), says="every"),
    Case("pool_gradient_kind", "pool2d/backward", pool_ties,
         np.kron(np.array([[1.0, 2], [3, 4]]), np.full((2, 2), 0.25)), says="spread evenly"),
    # dense
    Case("weight_columns", "dense", {"input": [1, 2], "weight": [[1, 2], [3, -4]]},
         np.array([1, 2]) @ np.array([[1, 2], [3, -4]]), says="row j"),
    Case("weight_not_transposed", "dense/backward", {"input": [1, 2], "weight": [[1, 2], [3, -4]],
                                                     "grad_output": [1, -1]},
         np.array([[1, 2], [3, -4]]) @ np.array([1, -1]), says="Wᵀδ"),
    Case("batch_averaged", "dense/backward", dense_batch,
         np.array(dense_batch["grad_output"]).T @ np.array(dense_batch["input"]) / 2, "grad_weight",
         says="averaged over the 2 samples"),
    Case("transposed", "dense/backward", dense_batch,
         np.array(dense_batch["input"]).T @ np.array(dense_batch["grad_output"]), "grad_weight",
         says="every number is right"),
    # activations
    Case("activation_skipped", "activation", {"input": [[-2, 0.5], [0, 3]], "function": "relu"},
         [[-2, 0.5], [0, 3]], says="negative cell into 0"),
    Case("rectifier_confused", "activation", {"input": [[-2, 0.5], [0, 3]], "function": "leaky_relu", "alpha": 0.1},
         [[0, 0.5], [0, 3]], says="α times"),
    Case("sigmoid_sign", "activation", {"input": SIGMOID_X.tolist(), "function": "sigmoid"},
         1 / (1 + np.exp(SIGMOID_X)), says="e^x"),
    Case("squash_confused", "activation", {"input": SIGMOID_X.tolist(), "function": "sigmoid"},
         np.tanh(SIGMOID_X), says="tanh"),
    Case("softmax_overflow", "activation", {"input": [1000, 1, 2], "function": "softmax"},
         [math.nan, 0.0, 0.0], says="subtracting the row's largest score"),
    Case("softmax_not_normalized", "activation", {"input": [1, 2, 3], "function": "softmax"},
         np.exp([1, 2, 3]), says="not divided by their sum"),
    Case("softmax_axis", "activation", {"input": [[1, 2], [3, 5]], "function": "softmax"},
         softmax(np.array([[1.0, 2], [3, 5]]), axis=0), says="axis 0"),
    Case("delta_not_applied", "activation/backward",
         {"input": SIGMOID_X.tolist(), "function": "sigmoid", "grad_output": DELTA.tolist()},
         (1 / (1 + np.exp(-SIGMOID_X))) * (1 - 1 / (1 + np.exp(-SIGMOID_X))), says="δ · f'(x)"),
    Case("derivative_from_input", "activation/backward",
         {"input": SIGMOID_X.tolist(), "function": "sigmoid", "grad_output": DELTA.tolist()},
         DELTA * SIGMOID_X * (1 - SIGMOID_X), says="x(1 − x)"),
    Case("output_for_derivative", "activation/backward",
         {"input": SIGMOID_X.tolist(), "function": "tanh", "grad_output": DELTA.tolist()},
         DELTA * np.tanh(SIGMOID_X), says="slope"),
    Case("relu_kink", "activation/backward", {"input": [0, -1, 2], "function": "relu", "grad_output": [1, 2, 3]},
         [1, 0, 3], says="At x = 0"),
    Case("softmax_diagonal", "activation/backward",
         {"input": [1, 2, 0.5], "function": "softmax", "grad_output": [1, 0, 0]},
         softmax(np.array([1, 2, 0.5])) * (1 - softmax(np.array([1, 2, 0.5]))) * np.array([1, 0, 0]),
         says="diagonal"),
    # losses
    Case("mse_scale", "loss", MSE, 0.5 * np.sum(MSE_ERRORS ** 2), "loss", says="half sum (½Σ)"),
    Case("mse_scale", "loss", {**MSE, "reduction": "half_sum"}, np.mean(MSE_ERRORS ** 2), "loss",
         says="used the mean (÷N)"),
    Case("mse_scale", "loss", MSE, np.sum(MSE_ERRORS ** 2), "loss", says="plain sum"),
    Case("mse_scale", "loss", MSE, np.sum(MSE_ERRORS ** 2) / 6, "loss", says="1/(2N)"),
    Case("square_derivative", "loss", MSE, MSE_ERRORS / 3, "grad_input", says="The 2 from differentiating"),
    Case("classes_averaged", "loss", CE, CE_LOSS / 3, "loss", says="3 classes"),
    Case("reduction_swapped", "loss", CE, 2 * CE_LOSS, "loss", says="added up"),
    Case("log_base", "loss", CE, CE_LOSS / math.log(10), "loss", says="Base-10"),
    Case("minus_dropped", "loss", CE, -CE_LOSS, "loss", says="minus sign"),
    # output size
    Case("size_rounding", "output-size", {"input_size": 6, "kernel_size": 3, "stride": 2}, 3, says="rounded up"),
    Case("size_rounding", "output-size", {"input_size": 6, "kernel_size": 3, "stride": 2}, 2.5, says="not rounded"),
    Case("size_rounding", "output-size", {"input_size": 7, "kernel_size": 2, "stride": 2}, 4, says="rounded up"),
    Case("plus_one_forgotten", "output-size", {"input_size": 224, "kernel_size": 7, "stride": 2, "padding": 3},
         111, says="+ 1"),
    Case("padding_once", "output-size", {"input_size": 7, "kernel_size": 3, "padding": 2}, 7, says="one side"),
    Case("dilation_ignored", "output-size", {"input_size": 10, "kernel_size": 3, "dilation": 2}, 8,
         says="dilation"),
    # flatten
    Case("flatten_order", "flatten", {"input": [[4, 0], [4, 3]]}, [4, 4, 0, 3], says="column by column"),
    Case("flatten_order", "flatten", {"input": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}, [1, 5, 2, 6, 3, 7, 4, 8],
         says="Keras"),
    # optimizers
    Case("update_added", "optimizer", SGD, [0.2 + 0.1 * 11.6, -0.5], says="against the gradient"),
    Case("update_added", "optimizer", MOMENTUM, [0.2 + 0.1 * (0.9 * 0.5 + 1.0)], says="against the gradient"),
    Case("learning_rate_forgotten", "optimizer", SGD, 0.2 - 2.9, "params.b", says="η = 0.1"),
    Case("weight_decay_forgotten", "optimizer", {**SGD, "weight_decay": 0.5}, [0.2 - 1.16, -0.5],
         says="λw"),
    Case("learning_rate_in_velocity", "optimizer", MOMENTUM, [0.2 - (0.9 * 0.5 + 0.1 * 1.0)],
         says="inside the velocity"),
    Case("adam_uncorrected", "optimizer", ADAM,
         np.array([0.2, -0.5]) - 0.1 * (0.1 * np.array([1.0, -2.0]))
         / (np.sqrt(0.001 * np.array([1.0, 4.0])) + 1e-8), says="bias correction"),
    # batch normalization
    Case("unbiased_variance", "batchnorm", {"input": BATCH.tolist()}, naive_batchnorm(BATCH, ddof=1),
         says="n − 1 = 2"),
    Case("variance_not_rooted", "batchnorm", {"input": BATCH.tolist()}, naive_batchnorm(BATCH, root=False),
         says="standard deviation"),
    Case("gamma_beta_swapped", "batchnorm", {"input": BATCH.tolist(), "gamma": [2, 3], "beta": [0.5, -1]},
         naive_batchnorm(BATCH) * np.array([0.5, -1]) + np.array([2, 3]), says="γ and β"),
    Case("statistics_mode", "batchnorm", {"input": BATCH.tolist()}, BATCH / np.sqrt(1 + 1e-5),
         says="running mean"),
    Case("running_update", "batchnorm", bn_running, 0.9 * BATCH.mean(axis=0), "running_mean",
         says="weighed the old running value"),
    Case("running_update", "batchnorm", bn_running, 0.9 + 0.1 * BATCH.var(axis=0), "running_var",
         says="biased variance"),
    Case("statistics_constant", "batchnorm/backward",
         {"input": BATCH.tolist(), "grad_output": [[1, 0], [0, 1], [-1, 1]]},
         np.array([[1, 0], [0, 1], [-1, 1]]) / np.sqrt(BATCH.var(axis=0) + 1e-5), says="constants"),
    # dropout
    Case("dropout_scale", "dropout", DROP, DROP_X * KEEP, says="not divided by 1 − p"),
    Case("dropout_scale", "dropout", DROP, DROP_X * KEEP * 0.5, says="multiplied by 1 − p"),
    Case("dropout_scale", "dropout", DROP, DROP_X * (1 - KEEP) * 2, says="wrong way round"),
    Case("dropout_scale", "dropout", {**DROP, "variant": "classic", "training": False, "mask": None}, DROP_X,
         says="multiplies every cell by 1 − p"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_mistake_made_on_purpose_is_named(case: Case):
    problem = {k: v for k, v in case.problem.items() if v is not None}
    result = check_answer(case.op, problem, np.asarray(case.answer).tolist(), output=case.output)
    assert not result.correct
    assert result.mistake == case.mistake, result.diagnosis
    assert case.says in result.diagnosis
    assert result.first_wrong_term is None


def test_every_registered_mistake_has_a_case_made_on_purpose():
    registered = {m.code for table in MISTAKES.values() for m in table} | {m.code for m in EVERY_OP}
    assert registered == {case.mistake for case in CASES}


@pytest.mark.parametrize("op", sorted(CHECKABLE))
def test_every_op_has_a_table_of_mistakes(op):
    assert op in MISTAKES


# --- right answers and the tolerance ---------------------------------------------------------------

def test_the_right_answer_is_correct_and_each_cell_points_at_its_step():
    result = check_answer("conv2d", SEED, [[4, 0], [4, 3]])
    assert result.correct and result.wrong_cells == [] and result.mistake is None
    assert [c.step_id for c in result.cells] == ["output[0,0]", "output[0,1]", "output[1,0]", "output[1,1]"]
    assert [c.expected for c in result.cells] == [4, 0, 4, 3]
    assert result.diagnosis == "Right: all 4 cells match."


SEED_DENSE = {"input": [4, 0, 4, 3], "weight": [[0.2, -0.5, 0.4, 0.1]], "bias": [0.2]}   # ŷ = 2.9


@pytest.mark.parametrize("answer", [[2.9], [2.90], ["2.90"], "2.9", 2.9, [[2.9]], ["2.9000"], ["  2.90 "]])
def test_seed_000_prediction_2_9_is_right_however_it_is_written(answer):
    result = check_answer("dense", SEED_DENSE, answer)
    assert result.correct, result.diagnosis
    assert result.cells[0].step_id == "output[0]"


@pytest.mark.parametrize("given, expected, right", [
    (0.33, 1 / 3, True),          # two decimals: within 0.005
    ("0.3333", 1 / 3, True),
    (0.3, 1 / 3, True),           # one decimal: 1/3 rounds to 0.3
    (0.34, 1 / 3, False),
    (3, 2.9, False),              # a whole number allows no rounding
    ("3.0", 2.9, False),          # 3.0 is not 2.9 rounded to one decimal
    (2.95, 2.9, False),
    (4.205, 4.205, True),
    ("4.21", 4.205, True),        # half a unit of 0.01
    (1000, 1000.4, True),         # 1e-3 relative
    (1e-7, 0.0, True),            # 1e-6 absolute
    (1e-5, 0.0, False),
    ("−2.5", -2.5, True),         # a typed minus sign
])
def test_a_cell_is_right_within_the_precision_the_student_wrote(given, expected, right):
    result = check_answer("activation", {"input": [expected], "function": "relu"} if expected >= 0 else
                          {"input": [expected], "function": "leaky_relu", "alpha": 1.0}, [given])
    assert result.correct is right


def test_the_tolerance_can_be_made_strict():
    strict = Tolerance(absolute=1e-9, relative=0.0, rounding=False)
    assert check_answer("activation", {"input": [1 / 3], "function": "relu"}, [0.33]).correct
    assert not check_answer("activation", {"input": [1 / 3], "function": "relu"}, [0.33], tolerance=strict).correct


# --- wrong answers that no usual mistake explains --------------------------------------------------

def test_seed_001_edge_detector_printed_output_has_its_wrong_cells_named():
    # §3.3 of seed 001: a 4×4 image and a vertical-edge kernel; the printed 2×2 output is not what the
    # cross-correlation gives, and no usual mistake gives it either.
    image = np.array([[1, 0, 1, 2], [0, 2, 1, 0], [1, 1, 0, 1], [2, 0, 1, 1]], dtype=float)
    edge = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype=float)
    right = naive_conv2d(image, edge)
    printed = [[0, 3], [2, -1]]
    assert right.tolist() == [[0, 0], [-1, -1]]
    result = check_answer("conv2d", {"input": image.tolist(), "kernel": edge.tolist()}, printed)
    assert not result.correct and result.mistake is None
    assert result.wrong_cells == [[0, 1], [1, 0]]
    assert "(1,2) and (2,1)" in result.diagnosis
    first = result.first_wrong_term
    assert first["step_id"] == "output[0,1]" and first["given"] == 3 and first["expected"] == 0
    terms = first["terms"]
    assert len(terms) == first["term_count"] == 9
    # the window at row 1, column 2 times the kernel, term by term
    window = image[0:3, 1:4]
    assert [t["value"] for t in terms] == pytest.approx((window * edge).ravel().tolist())
    assert [f["index"] for f in terms[0]["factors"]] == [[0, 1], [0, 0]]


def test_a_wrong_scalar_names_the_right_value():
    result = check_answer("loss", {"prediction": [2.9], "target": [0], "kind": "mse", "reduction": "half_sum"}, 4.7)
    assert not result.correct and result.mistake is None
    assert result.diagnosis.startswith("The answer is 4.205, not 4.7")
    assert result.first_wrong_term["step_id"] == "loss"


# --- shapes, cells and outputs -------------------------------------------------------------------

def test_an_answer_of_a_shape_nothing_explains_names_the_shape_expected():
    with pytest.raises(EngineError) as error:
        check_answer("conv2d", SEED, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert error.value.argument == "answer"
    assert "2 rows of 2" in error.value.problem and "(2, 2)" in error.value.problem


def test_a_ragged_answer_is_refused_at_the_short_row():
    with pytest.raises(EngineError) as error:
        check_answer("conv2d", SEED, [[4, 0], [4]])
    assert (error.value.argument, error.value.location) == ("answer", (1,))


@pytest.mark.parametrize("bad, location", [([[4, math.nan], [4, 3]], (0, 1)), ([[4, 0], [math.inf, 3]], (1, 0)),
                                           ([[4, 0], [4, "three"]], (1, 1)), ([[4, 0], [True, 3]], (1, 0))])
def test_a_cell_that_is_not_a_finite_number_is_refused_where_it_is(bad, location):
    with pytest.raises(EngineError) as error:
        check_answer("conv2d", SEED, bad)
    assert (error.value.argument, error.value.location) == ("answer", location)


def test_a_transposed_non_square_answer_is_compared_after_turning_it_back():
    right = naive_conv2d(WIDE, np.eye(2))
    assert right.shape == (2, 3)
    result = check_answer("conv2d", {"input": WIDE.tolist(), "kernel": np.eye(2).tolist()}, right.T)
    assert result.mistake == "transposed" and not result.correct
    assert result.wrong_cells == []
    wrong = right.T.copy()
    wrong[0, 1] += 5
    result = check_answer("conv2d", {"input": WIDE.tolist(), "kernel": np.eye(2).tolist()}, wrong)
    assert result.mistake == "transposed" and result.wrong_cells == [[1, 0]]
    assert "(2,1)" in result.diagnosis


def test_one_cell_can_be_checked_alone():
    right = check_answer("conv2d", SEED, 3, cell=[1, 1])
    assert right.correct and [c.step_id for c in right.cells] == ["output[1,1]"]
    wrong = check_answer("conv2d", SEED, 1, cell=(1, 1))
    assert not wrong.correct and wrong.wrong_cells == [[1, 1]] and wrong.mistake == "sign_slip"
    with pytest.raises(EngineError) as error:
        check_answer("conv2d", SEED, 3, cell=[2, 0])
    assert error.value.argument == "cell"


def test_the_output_checked_can_be_named_and_a_wrong_name_lists_the_outputs():
    problem = {**SEED, "grad_output": [[1, 0], [0, -1]]}
    grad_weight = run("conv2d/backward", problem, "grad_weight")
    result = check_answer("conv2d/backward", problem, grad_weight, output="grad_weight")
    assert result.correct and result.output == "grad_weight" and result.shape == (3, 3)
    assert result.cells[4].step_id == "grad_weight[1,1]"
    with pytest.raises(EngineError) as error:
        check_answer("conv2d/backward", problem, grad_weight, output="weights")
    assert error.value.argument == "output" and "grad_input, grad_weight" in error.value.problem


@pytest.mark.parametrize("op, problem, output, step_id", [
    ("output-size", {"input_size": 7, "kernel_size": 3}, None, "output_size.rows"),
    ("output-size", {"input_size": [7, 6], "kernel_size": 3}, None, "output_size.rows"),
    ("optimizer", MOMENTUM, "state.velocity.w", "velocity.w[0]"),
    ("im2col", {"input": POOL.tolist(), "kernel_size": 2}, None, "columns[0]"),
    ("loss", CE, "loss", "loss"),
])
def test_steps_whose_ids_are_not_the_output_name_are_still_found(op, problem, output, step_id):
    result = check_answer(op, problem, run(op, problem, output), output=output)
    assert result.correct
    assert result.cells[0].step_id == step_id


def test_a_problem_that_cannot_be_checked_is_refused():
    with pytest.raises(EngineError) as error:
        check_answer("dropout", {"input": [1, 2], "p": 0.5}, [2, 0])
    assert error.value.argument == "seed"
    with pytest.raises(EngineError) as error:
        check_answer("conv3d", SEED, 1)
    assert error.value.argument == "op"
    with pytest.raises(EngineError) as error:
        check_answer("conv2d", {**SEED, "kernal": K.tolist()}, 1)
    assert error.value.argument == "kernal"
    with pytest.raises(EngineError) as error:
        check_answer("conv2d", {"input": X.tolist()}, 1)
    assert error.value.argument == "kernel"


def test_a_trace_op_name_and_a_trace_already_computed_are_accepted():
    trace = conv2d(X, K)
    result = check_answer(trace.op, SEED, [[4, 0], [4, 3]], trace=trace)
    assert result.correct and result.op == "conv2d"


def test_an_output_too_large_to_list_is_checked_a_cell_at_a_time():
    x = np.ones((1, 1, 120, 120))
    with pytest.raises(EngineError) as error:
        check_answer("conv2d", {"input": x, "kernel": np.ones((1, 1, 2, 2))}, np.full((1, 1, 119, 119), 4.0))
    assert error.value.argument == "answer" and f"{MAX_CHECKED_CELLS:,}" in error.value.problem
    assert check_answer("conv2d", {"input": x, "kernel": np.ones((1, 1, 2, 2))}, 4, cell=[0, 0, 50, 50]).correct


# --- every op accepts its own answer -----------------------------------------------------------------

RIGHT = {
    "conv2d": SEED, "conv1d": {"input": [3, 4, 5, 1], "kernel": [1, 2]},
    "conv2d/backward": {**SEED, "bias": 0.1, "grad_output": [[1, 0], [0, -1]]},
    "conv1d/backward": {"input": [3, 4, 5], "kernel": [1, 2], "grad_output": [1, -1]},
    "pool2d": {"input": POOL.tolist(), "kernel_size": 2},
    "pool2d/backward": {"input": POOL.tolist(), "kernel_size": 2, "grad_output": [[1, 2], [3, 4]]},
    "im2col": {"input": X.tolist(), "kernel_size": 3, "kernel": K.tolist()},
    "output-size": {"input_size": 224, "kernel_size": 7, "stride": 2, "padding": 3},
    "activation": {"input": [2.0, 1.0, 0.1], "function": "softmax"},
    "activation/backward": {"input": [[-2, 0.5], [0, 3]], "function": "relu", "grad_output": [[1, 1], [1, 1]]},
    "dense": SEED_DENSE, "dense/backward": {**SEED_DENSE, "grad_output": [2.9]},
    "flatten": {"input": [[4, 0], [4, 3]]}, "loss": CE, "optimizer": SGD,
    "batchnorm": {"input": BATCH.tolist()},
    "batchnorm/backward": {"input": BATCH.tolist(), "grad_output": [[1, 0], [0, 1], [-1, 1]]},
    "dropout": {"input": [[1, 2], [3, 4]], "p": 0.5, "seed": 3},
}


@pytest.mark.parametrize("op", sorted(CHECKABLE))
def test_every_op_accepts_its_right_answer_for_every_output(op):
    trace = CHECKABLE[op].run(RIGHT[op])
    for output, value in trace.flat_outputs().items():
        if output == "cells" or output not in _outputs(trace):
            continue
        result = check_answer(op, RIGHT[op], np.asarray(value, dtype=float).tolist(), output=output)
        assert result.correct, (output, result.diagnosis)
    first = check_answer(op, RIGHT[op], np.asarray(next(iter(_flat(trace.outputs).values())), dtype=float).tolist())
    assert first.correct and all(c.step_id is not None for c in first.cells)


def _outputs(trace) -> set[str]:
    return set(_flat(trace.outputs))


def test_the_default_output_is_the_first_one():
    assert check_answer("loss", CE, CE_LOSS).output == "loss"
    assert check_answer("optimizer", SGD, [-0.96, -0.5]).output == "params.w"
    assert check_answer("pool2d", {"input": POOL.tolist(), "kernel_size": 2},
                        pool2d(POOL, kernel_size=2).outputs["output"]).correct
    prediction = dense(SEED_DENSE["input"], SEED_DENSE["weight"], [0.2]).outputs["output"]
    assert check_answer("dense", SEED_DENSE, prediction).correct
