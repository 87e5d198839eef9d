"""Networks people know, as layer specs, with the figures published about them.

The torchvision networks are built as ``torchvision.models`` builds them for a 3×224×224 input,
with its module names. ``published`` figures are torchvision's documented ``num_params`` and
``GFLOPS`` (multiply-accumulates of convolutions and linear layers, in billions); a note on the
table says whether the computed totals agree. The seeds' networks carry the figures the seed
documents print, checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --- spec builders -----------------------------------------------------------------------------


def conv(out: int, k: Any, stride: Any = 1, padding: Any = 0, *, bias: bool = True, groups: int = 1,
         name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "conv2d", "out_channels": out, "kernel_size": k}
    if stride != 1:
        spec["stride"] = stride
    if padding != 0:
        spec["padding"] = padding
    if groups != 1:
        spec["groups"] = groups
    if not bias:
        spec["bias"] = False
    return _named(spec, name)


def linear(out: int, *, bias: bool = True, name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "linear", "out_features": out}
    if not bias:
        spec["bias"] = False
    return _named(spec, name)


def pool(kind: str, k: Any, stride: Any = None, padding: Any = 0, name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind, "kernel_size": k}
    if stride is not None and stride != k:
        spec["stride"] = stride
    if padding:
        spec["padding"] = padding
    return _named(spec, name)


def simple(kind: str, name: str | None = None, **options: Any) -> dict[str, Any]:
    return _named({"type": kind, **options}, name)


def seq(name: str | None, layers: list[dict[str, Any]]) -> dict[str, Any]:
    return _named({"type": "sequential", "layers": layers}, name)


def residual(name: str | None, body: list[dict[str, Any]], shortcut: list[dict[str, Any]] | None = None,
             activation: str | None = "relu") -> dict[str, Any]:
    return _named({"type": "residual", "body": body, "shortcut": shortcut or [], "activation": activation}, name)


def _named(spec: dict[str, Any], name: str | None) -> dict[str, Any]:
    if name is not None:
        spec["name"] = name
    return spec


def _indexed(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Names 0, 1, 2, ... as nn.Sequential gives its layers."""
    return [{**spec, "name": str(k)} for k, spec in enumerate(layers)]


# --- torchvision ---------------------------------------------------------------------------------

def _alexnet() -> list[dict[str, Any]]:
    features = _indexed([
        conv(64, 11, 4, 2), simple("relu"), pool("maxpool2d", 3, 2),
        conv(192, 5, 1, 2), simple("relu"), pool("maxpool2d", 3, 2),
        conv(384, 3, 1, 1), simple("relu"), conv(256, 3, 1, 1), simple("relu"),
        conv(256, 3, 1, 1), simple("relu"), pool("maxpool2d", 3, 2)])
    classifier = _indexed([simple("dropout", p=0.5), linear(4096), simple("relu"), simple("dropout", p=0.5),
                           linear(4096), simple("relu"), linear(1000)])
    return [seq("features", features), simple("adaptive_avgpool2d", "avgpool", output_size=6),
            simple("flatten", "flatten"), seq("classifier", classifier)]


VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def _vgg(config: list[Any]) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    for item in config:
        if item == "M":
            features.append(pool("maxpool2d", 2, 2))
        else:
            features += [conv(item, 3, 1, 1), simple("relu")]
    classifier = _indexed([linear(4096), simple("relu"), simple("dropout", p=0.5), linear(4096), simple("relu"),
                           simple("dropout", p=0.5), linear(1000)])
    return [seq("features", _indexed(features)), simple("adaptive_avgpool2d", "avgpool", output_size=7),
            simple("flatten", "flatten"), seq("classifier", classifier)]


def _basic_block(name: str, inplanes: int, planes: int, stride: int) -> dict[str, Any]:
    body = [conv(planes, 3, stride, 1, bias=False, name="conv1"), simple("batchnorm2d", "bn1"),
            simple("relu", "relu"), conv(planes, 3, 1, 1, bias=False, name="conv2"), simple("batchnorm2d", "bn2")]
    shortcut = None
    if stride != 1 or inplanes != planes:
        shortcut = [seq("downsample", [conv(planes, 1, stride, bias=False, name="0"), simple("batchnorm2d", "1")])]
    return residual(name, body, shortcut)


def _bottleneck(name: str, inplanes: int, planes: int, stride: int) -> dict[str, Any]:
    out = planes * 4
    body = [conv(planes, 1, bias=False, name="conv1"), simple("batchnorm2d", "bn1"), simple("relu", "relu"),
            conv(planes, 3, stride, 1, bias=False, name="conv2"), simple("batchnorm2d", "bn2"), simple("relu", "relu"),
            conv(out, 1, bias=False, name="conv3"), simple("batchnorm2d", "bn3")]
    shortcut = None
    if stride != 1 or inplanes != out:
        shortcut = [seq("downsample", [conv(out, 1, stride, bias=False, name="0"), simple("batchnorm2d", "1")])]
    return residual(name, body, shortcut)


def _resnet(blocks: list[int], bottleneck: bool) -> list[dict[str, Any]]:
    make = _bottleneck if bottleneck else _basic_block
    expansion = 4 if bottleneck else 1
    layers = [conv(64, 7, 2, 3, bias=False, name="conv1"), simple("batchnorm2d", "bn1"), simple("relu", "relu"),
              pool("maxpool2d", 3, 2, 1, name="maxpool")]
    inplanes = 64
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        units = []
        for k in range(count):
            stride = 2 if k == 0 and stage > 1 else 1
            units.append(make(str(k), inplanes, planes, stride))
            inplanes = planes * expansion
        layers.append(seq(f"layer{stage}", units))
    layers += [simple("adaptive_avgpool2d", "avgpool", output_size=1), simple("flatten", "flatten"),
               linear(1000, name="fc")]
    return layers


def _conv_bn_act(name: str | None, out: int, k: int, stride: int = 1, groups: int = 1) -> dict[str, Any]:
    """torchvision's Conv2dNormActivation: convolution without bias, batch norm, ReLU6."""
    return seq(name, [conv(out, k, stride, (k - 1) // 2, bias=False, groups=groups, name="0"),
                      simple("batchnorm2d", "1"), simple("relu6", "2")])


def _mobilenet_v2() -> list[dict[str, Any]]:
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]
    features = [_conv_bn_act("0", 32, 3, 2)]
    inp = 32
    for t, c, n, s in settings:
        for k in range(n):
            stride = s if k == 0 else 1
            hidden = inp * t
            inner = [_conv_bn_act(None, hidden, 1)] if t != 1 else []
            inner.append(_conv_bn_act(None, hidden, 3, stride, groups=hidden))
            inner += [conv(c, 1, bias=False), simple("batchnorm2d")]
            body = [seq("conv", _indexed(inner))]
            name = str(len(features))
            if stride == 1 and inp == c:
                features.append(residual(name, body, activation=None))
            else:
                features.append(seq(name, body))
            inp = c
    features.append(_conv_bn_act(str(len(features)), 1280, 1))
    return [seq("features", features), simple("adaptive_avgpool2d", "avgpool", output_size=1),
            simple("flatten", "flatten"), seq("classifier", _indexed([simple("dropout", p=0.2), linear(1000)]))]


# --- the seeds and LeNet-5 -------------------------------------------------------------------------

def _seed000_rgb() -> list[dict[str, Any]]:
    return [conv(8, 3, 1, 1, name="conv1"), simple("relu", "relu1"), pool("maxpool2d", 2, 2, name="pool1"),
            conv(16, 3, name="conv2"), simple("relu", "relu2"), pool("maxpool2d", 2, 2, name="pool2"),
            simple("flatten", "flatten"), linear(10, name="dense")]


def _lenet5() -> list[dict[str, Any]]:
    return [conv(6, 5, name="c1"), simple("tanh", "tanh1"), pool("avgpool2d", 2, 2, name="s2"),
            conv(16, 5, name="c3"), simple("tanh", "tanh2"), pool("avgpool2d", 2, 2, name="s4"),
            simple("flatten", "flatten"), linear(120, name="c5"), simple("tanh", "tanh3"),
            linear(84, name="f6"), simple("tanh", "tanh4"), linear(10, name="output")]


def _cifar001() -> list[dict[str, Any]]:
    return [conv(32, 3, 1, 1, name="conv1"), simple("relu", "relu1"), pool("maxpool2d", 2, 2, name="pool1"),
            conv(64, 3, 1, 1, name="conv2"), simple("relu", "relu2"), pool("maxpool2d", 2, 2, name="pool2"),
            simple("flatten", "flatten"), linear(128, name="fc1"), simple("relu", "relu3"),
            linear(10, name="fc2"), simple("softmax", "softmax")]


def _cats_dogs001() -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = []
    for k, out in enumerate((32, 64, 128), start=1):
        layers += [conv(out, 3, 1, 1, name=f"conv{k}"), simple("relu", f"relu{k}"),
                   pool("maxpool2d", 2, 2, name=f"pool{k}")]
    return layers + [simple("flatten", "flatten"), linear(512, name="fc1"), simple("relu", "relu4"),
                     linear(2, name="fc2"), simple("softmax", "softmax")]


# --- presets ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A figure a source prints about a network, to check against the computed one.

    ``path``: ``params``, ``macs``, ``weight_layers``, or ``row NAME params`` / ``row NAME
    output_shape`` / ``row NAME features``. ``rounding``: ``gmacs`` compares MACs in billions at
    the printed number's decimals; ``millions`` compares in millions.
    """

    source: str
    what: str
    path: str
    printed: Any
    rounding: str | None = None
    shown: str | None = None
    """The figure as the source prints it, when that differs from ``printed`` (a shape in H×W×C)."""


@dataclass(frozen=True)
class Network:
    name: str
    title: str
    input_shape: tuple[int, ...]
    layers: list[dict[str, Any]]
    source: str
    claims: tuple[Claim, ...] = ()
    published: dict[str, Any] = field(default_factory=dict)
    """torchvision's documented num_params and GFLOPS, where it documents the network."""
    class_name: str = "Net"
    """The model's name at the top of a torchinfo or Keras summary."""


def _torchvision(name: str, title: str, layers: list[dict[str, Any]], params: int, gflops: str,
                 extra: tuple[Claim, ...] = ()) -> Network:
    page = f"torchvision.models.{name}, weights IMAGENET1K_V1"
    class_name = {"alexnet": "AlexNet", "mobilenet_v2": "MobileNetV2"}.get(name, name.rstrip("0123456789").upper()
                                                                          .replace("RESNET", "ResNet"))
    return Network(name, title, (3, 224, 224), layers, f"Built as torchvision builds it ({page}).",
                   (Claim("torchvision", "num_params", "params", params),
                    Claim("torchvision", "GFLOPS", "macs", gflops, "gmacs")) + extra,
                   {"params": params, "gflops": float(gflops), "source": page}, class_name)


def _output(source: str, what: str, row: str, shown: str, hwc: bool = True) -> Claim:
    """A printed output shape, as the source writes it (H×W×C unless ``hwc`` is false)."""
    numbers = tuple(int(n) for n in shown.split("×"))
    shape = numbers[-1:] + numbers[:-1] if hwc and len(numbers) == 3 else numbers
    if len(shape) == 2:  # a single map written H×W
        shape = (1,) + shape
    return Claim(source, what, f"row {row} output_shape", shape, shown=shown)


_SEED000_TABLE = (
    Claim("Seed 000", "Conv1's parameters", "row conv1 params", 224),
    _output("Seed 000", "Conv1's output", "conv1", "16×16×8"),
    _output("Seed 000", "Pool1's output", "pool1", "8×8×8"),
    Claim("Seed 000", "Conv2's parameters", "row conv2 params", 1168),
    _output("Seed 000", "Conv2's output", "conv2", "6×6×16"),
    _output("Seed 000", "Pool2's output", "pool2", "3×3×16"),
    Claim("Seed 000", "the flattened length", "row flatten features", 144),
    Claim("Seed 000", "Dense's parameters", "row dense params", 1450),
    Claim("Seed 000", "the total trainable parameters", "params", 2842),
)

NETWORKS: dict[str, Network] = {n.name: n for n in [
    Network("lenet5", "LeNet-5", (1, 32, 32), _lenet5(),
            "LeCun et al. 1998 with every C3 map connected to all six S2 maps and plain average pooling, "
            "as courses build it today.",
            (Claim("LeCun et al. 1998", "C1's trainable parameters", "row c1 params", 156),
             Claim("LeCun et al. 1998", "C5's trainable parameters", "row c5 params", 48120),
             Claim("LeCun et al. 1998", "F6's trainable parameters", "row f6 params", 10164),
             Claim("LeCun et al. 1998", "C3's trainable parameters (its partial connection table)",
                   "row c3 params", 1516),
             Claim("Seed 001", "the number of layers", "layers", 7)),
            {"params": 61706, "source": "156 + 2,416 + 48,120 + 10,164 + 850 (LeCun et al. 1998's C1, C5 and F6 "
                                        "counts, C3 fully connected)"}, "LeNet5"),
    _torchvision("alexnet", "AlexNet", _alexnet(), 61100840, "0.71",
                 (Claim("Seed 001", "the number of layers", "weight_layers", 8),)),
    _torchvision("vgg11", "VGG-11", _vgg(VGG_CONFIGS["vgg11"]), 132863336, "7.61"),
    _torchvision("vgg16", "VGG-16", _vgg(VGG_CONFIGS["vgg16"]), 138357544, "15.47",
                 (Claim("Seed 001", "the parameters", "params", 138, "millions"),
                  Claim("Seed 001", "the number of layers", "weight_layers", 16))),
    _torchvision("resnet18", "ResNet-18", _resnet([2, 2, 2, 2], False), 11689512, "1.81"),
    _torchvision("resnet34", "ResNet-34", _resnet([3, 4, 6, 3], False), 21797672, "3.66"),
    _torchvision("resnet50", "ResNet-50", _resnet([3, 4, 6, 3], True), 25557032, "4.09",
                 (_output("Seed 004", "the first layer's output", "conv1", "64×112×112", hwc=False),)),
    _torchvision("mobilenet_v2", "MobileNetV2", _mobilenet_v2(), 3504872, "0.30"),
    Network("seed000_rgb16", "Seed 000: the 16×16×3 network", (3, 16, 16), _seed000_rgb(),
            "Seed 000, section IV: conv 8@3×3 pad 1, max pool 2, conv 16@3×3, max pool 2, flatten, dense 10 "
            "(with the ReLUs of its section V).", _SEED000_TABLE),
    Network("seed000_toy", "Seed 000: the 4×4 toy network", (1, 4, 4),
            [conv(1, 3, bias=False, name="conv"), simple("relu", "relu"), simple("flatten", "flatten"),
             linear(1, name="fc")],
            "Seed 000, section II: one 3×3 filter without a bias, ReLU, flatten, one output with a bias.",
            (_output("Seed 000", "the convolution's output", "conv", "2×2"),
             Claim("Seed 000", "the flattened length", "row flatten features", 4))),
    Network("seed001_cifar", "Seed 001: the 32×32×3 network", (3, 32, 32), _cifar001(),
            "Seed 001, section 5: two conv/pool stages, dense 128 and 10.",
            (_output("Seed 001", "the first convolution's output", "conv1", "32×32×32"),
             _output("Seed 001", "the first pooling's output", "pool1", "16×16×32"),
             _output("Seed 001", "the second convolution's output", "conv2", "16×16×64"),
             _output("Seed 001", "the second pooling's output", "pool2", "8×8×64"),
             Claim("Seed 001", "the flattened length", "row flatten features", 4096))),
    Network("seed001_cats_dogs", "Seed 001: cats vs dogs", (3, 128, 128), _cats_dogs001(),
            "Seed 001, section 9. It gives no padding; its shapes (128×128 kept by each 3×3 convolution) "
            "need padding 1.",
            (_output("Seed 001", "Conv1's output", "conv1", "128×128×32"),
             _output("Seed 001", "Pool3's output", "pool3", "16×16×128"),
             Claim("Seed 001", "the flattened length", "row flatten features", 32768))),
    Network("seed001_mlp", "Seed 001: a dense layer on a 32×32 RGB image", (3, 32, 32),
            [simple("flatten", "flatten"), linear(100, name="fc")],
            "Seed 001, section 1.2: 3,072 inputs into 100 neurons.",
            (Claim("Seed 001", "the input neurons", "row flatten features", 3072),
             Claim("Seed 001", "the weights (it counts no biases)", "row fc params", 307200))),
    Network("seed003_mnist", "Seed 003: the MNIST network", (1, 28, 28),
            [conv(1, 6, bias=False, name="conv"), pool("maxpool2d", 2, 2, name="pool"),
             simple("flatten", "flatten"), linear(10, name="fc"), simple("softmax", "softmax")],
            "Seed 003: one 6×6 filter (no bias in its equations), 2×2 max pooling with stride 2, 121 → 10, "
            "softmax.",
            (_output("Seed 003", "the feature map", "conv", "23×23"),
             _output("Seed 003", "the pooled map", "pool", "11×11"),
             Claim("Seed 003", "the flattened length", "row flatten features", 121))),
]}


def _computed(path: str, table: Any) -> Any:
    words = path.split()
    if words[0] == "row":
        rows = [r for r in table.rows if r.name == words[1]]
        if not rows:
            return None
        row = rows[0]
        if words[2] == "features":
            return row.output_shape[0]
        return tuple(row.output_shape) if words[2] == "output_shape" else getattr(row, words[2])
    if path == "weight_layers":
        return sum(r.type in ("conv2d", "linear") for r in table.rows)
    if path == "layers":
        return sum(r.type in ("conv2d", "linear", "maxpool2d", "avgpool2d") for r in table.rows)
    return table.totals[path]


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "×".join(str(n) for n in value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def check_claims(network: Network, table: Any) -> list[str]:
    """One note per source: its printed figures set against the computed ones."""
    sources: dict[str, list[tuple[Claim, str, str, bool]]] = {}
    for claim in network.claims:
        computed = _computed(claim.path, table)
        printed = claim.shown or (claim.printed if isinstance(claim.printed, str) else _show(claim.printed))
        detail = ""
        if claim.rounding == "gmacs":
            decimals = len(claim.printed.split(".")[1])
            agrees = round(computed / 1e9, decimals) == float(claim.printed)
            detail = f"{computed:,} MACs"
            text = f"{computed / 1e9:.{decimals}f} G ({detail})"
        elif claim.rounding == "millions":
            agrees = round(computed / 1e6) == claim.printed
            printed = f"{claim.printed} million"
            detail = text = f"{computed:,}"
        else:
            agrees = computed == claim.printed
            text = "not in the table" if computed is None else _show(computed)
        sources.setdefault(claim.source, []).append((claim, printed, detail if agrees else text, agrees))
    notes = []
    for source, checks in sources.items():
        agree = [f"{c.what} {printed}" + (f" ({detail})" if detail else "") for c, printed, detail, ok in checks if ok]
        if agree:
            listed = agree[0] if len(agree) == 1 else ", ".join(agree[:-1]) + " and " + agree[-1]
            notes.append(f"{source} gives {listed}: the computed figure{'s' * (len(agree) > 1)} "
                         f"agree{'s' * (len(agree) == 1)}.")
        for c, printed, text, ok in checks:
            if not ok:
                notes.append(f"{source} gives {c.what} as {printed}; the computed figure is {text}.")
    return notes


# --- comparisons -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    name: str
    title: str
    input_shape: tuple[int, ...]
    left: list[dict[str, Any]]
    right: list[dict[str, Any]]
    labels: tuple[str, str]
    explanation: str
    formula: str
    """The ratio right/left in symbols, LaTeX."""
    claims: tuple[str, ...] = ()
    """What a seed prints about this comparison, with the computed figures (checked by the tests)."""


COMPARISONS: dict[str, Comparison] = {c.name: c for c in [
    Comparison(
        "five_vs_two_threes", "One 5×5 convolution against two 3×3", (64, 56, 56),
        [conv(64, 5, 1, 2, name="conv5x5"), simple("relu", "relu")],
        [conv(64, 3, 1, 1, name="conv3x3_1"), simple("relu", "relu1"), conv(64, 3, 1, 1, name="conv3x3_2"),
         simple("relu", "relu2")],
        ("One 5×5", "Two 3×3"),
        "Both see a 5×5 region of the input. Two 3×3 layers hold 2·9 = 18 weights per input and output channel "
        "where one 5×5 holds 25, and they put a second ReLU in between.",
        r"\frac{2(9C^2 + C)}{25C^2 + C} \to \frac{18}{25} = 0.72",
        ("Seed 004, example 2, prints 102,464 for one 5×5 and 73,856 for two 3×3 with 64 channels, "
         "'28% fewer': the computed counts agree (27.9% fewer).",)),
    Comparison(
        "depthwise_separable", "Standard against depthwise-separable convolution", (64, 56, 56),
        [conv(64, 3, 1, 1, name="conv")],
        [conv(64, 3, 1, 1, groups=64, name="depthwise"), conv(64, 1, name="pointwise")],
        ("Standard 3×3", "Depthwise 3×3 + pointwise 1×1"),
        "The depthwise layer gives each channel its own 3×3 filter (groups = C); the 1×1 pointwise layer then "
        "mixes the channels. The spatial and the channel mixing are paid for separately instead of together.",
        r"\frac{Ck^2 + C + C^2 + C}{C^2k^2 + C} \approx \frac{1}{k^2} + \frac{1}{C}",
        ("Seed 004, problem 5, counts the depthwise-separable layer as Ck² + C² + C = 4,736 for C = 64, k = 3: "
         "with PyTorch's default biases both layers have one, so it is Ck² + C + C² + C = 4,800.",
         "Its '~1/9 the parameters' is the limit as C grows: at C = 64 the ratio is 4,800/36,928 = 0.130, "
         "about 1/7.7.")),
    Comparison(
        "conv_vs_dense", "A convolution against the dense layer with the same input and output", (3, 256, 256),
        [conv(64, 3, 1, 1, name="conv")],
        [simple("flatten", "flatten"), linear(64 * 256 * 256, name="dense")],
        ("Convolution, 64 filters 3×3", "Dense, 64·256·256 outputs"),
        "Both map the 256×256 RGB image to 64·256·256 = 4,194,304 numbers. The convolution reuses one 3×3×3 "
        "filter at every position (parameter sharing) and looks only at a 3×3 neighbourhood; the dense layer "
        "has a separate weight for every input and output pair.",
        r"\frac{(C_{in}HW + 1)\,C_{out}HW}{(k^2 C_{in} + 1)\,C_{out}} \approx \frac{H^2W^2}{k^2}",
        ("Seed 004 says a 3×3 layer with 64 channels has '~1.8K params vs billions for dense': the convolution "
         "has 1,792; the dense layer has 824,637,915,136, about 825 billion.",)),
]}
