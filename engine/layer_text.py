"""The compact text form of a layer list, read into layer specs and written back.

    conv 8 3x3 p1 / relu / maxpool 2 / conv 16 3x3 / relu / maxpool 2 / flatten / linear 10

Pieces are separated by ``/``, ``;`` or a new line. A piece may start with ``name:``.
Blocks nest: ``res(body | shortcut)`` adds the shortcut (the block's input when it is left out)
to the body and applies ReLU, as ResNet does; ``add(...)`` adds without an activation, as
MobileNetV2 does; ``[ ... ]`` is a sequence of layers, named with ``name: [ ... ]``.

Layer words (options in any order after the numbers):

    conv C KxK [sS] [pP | same | valid] [dD] [gG] [nobias] [frozen]    (also conv2d)
    linear N [nobias] [frozen]                                          (also fc, dense)
    maxpool K [sS] [pP] [ceil]     avgpool K [sS] [pP] [ceil]            (pool = maxpool)
    adaptiveavgpool N | NxM        gap (= adaptiveavgpool 1)
    bn [frozen]    relu    relu6    sigmoid    tanh    softmax    dropout [p]    flatten

Sizes are one number or two written ``HxW`` (``3x3``, ``1x7``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import EngineError

ARGUMENT = "layers"

_WORDS = {
    "conv": "conv2d", "conv2d": "conv2d",
    "linear": "linear", "fc": "linear", "dense": "linear",
    "maxpool": "maxpool2d", "maxpool2d": "maxpool2d", "pool": "maxpool2d",
    "avgpool": "avgpool2d", "avgpool2d": "avgpool2d",
    "adaptiveavgpool": "adaptive_avgpool2d", "adaptiveavgpool2d": "adaptive_avgpool2d",
    "adaptive_avgpool2d": "adaptive_avgpool2d", "gap": "adaptive_avgpool2d",
    "bn": "batchnorm2d", "batchnorm": "batchnorm2d", "batchnorm2d": "batchnorm2d",
    "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
    "dropout": "dropout", "flatten": "flatten",
}
_SHORT = {"conv2d": "conv", "linear": "linear", "maxpool2d": "maxpool", "avgpool2d": "avgpool",
          "adaptive_avgpool2d": "adaptiveavgpool", "batchnorm2d": "bn"}
_TOKEN = re.compile(r"[ \t\r]*(?:(?P<open>res\s*\(|add\s*\(|\[)|(?P<close>[)\]])|(?P<bar>\|)"
                    r"|(?P<sep>[/;\n])|(?P<word>[^\s/;|()\[\]]+))", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_SIZE = re.compile(r"(\d+)(?:[x×*](\d+))?$")


@dataclass
class _Token:
    kind: str
    text: str
    start: int


class _Reader:
    """Recursive descent over the tokens; every layer piece is numbered in reading order."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = self._tokens(text)
        self.at = 0
        self.pieces = 0

    @staticmethod
    def _tokens(text: str) -> list[_Token]:
        tokens = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise EngineError(ARGUMENT, f"cannot read {text[position:position + 20].strip()!r}")
            kind = match.lastgroup or "end"
            tokens.append(_Token(kind, match.group(kind).strip().lower() if kind == "open" else match.group(kind),
                                 match.start(kind)))
            position = match.end()
        return tokens

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def items(self, closers: str) -> list[dict[str, Any]]:
        """Pieces up to one of ``closers`` (or the end when ``closers`` is empty)."""
        out = []
        while True:
            token = self.peek()
            if token is None:
                if closers:
                    expected = " or ".join(closers)
                    raise EngineError(ARGUMENT, f"a block (res(, add( or [) is not closed: expected {expected}",
                                      (self.pieces,))
                return out
            if token.kind == "sep":
                self.at += 1
                continue
            if token.kind in ("close", "bar"):
                if token.text in closers:
                    return out
                raise EngineError(ARGUMENT, f"{token.text!r} at character {token.start + 1} closes nothing",
                                  (self.pieces,))
            out.append(self.item())

    def item(self) -> dict[str, Any]:
        name = None
        token = self.peek()
        if token.kind == "word" and token.text.endswith(":") and len(token.text) > 1:
            name = token.text[:-1]
            if not _NAME.fullmatch(name):
                raise EngineError(ARGUMENT, f"{name!r} is not a name: use letters, digits, '_', '-' and '.'",
                                  (self.pieces,))
            self.at += 1
            token = self.peek()
            if token is None or token.kind not in ("word", "open"):
                raise EngineError(ARGUMENT, f"the name {name!r} names nothing", (self.pieces,))
        spec = self.block(token) if token.kind == "open" else self.layer()
        if name is not None:
            spec["name"] = name
        return spec

    def block(self, token: _Token) -> dict[str, Any]:
        self.at += 1
        if token.text == "[":
            layers = self.items("]")
            self.at += 1
            return {"type": "sequential", "layers": layers}
        body = self.items(")|")
        shortcut: list[dict[str, Any]] = []
        if self.peek().kind == "bar":
            self.at += 1
            shortcut = self.items(")")
        self.at += 1
        spec: dict[str, Any] = {"type": "residual", "body": body, "shortcut": shortcut}
        spec["activation"] = "relu" if token.text.startswith("res") else None
        return spec

    def layer(self) -> dict[str, Any]:
        words = []
        start = self.peek().start
        end = start
        while (token := self.peek()) is not None and token.kind == "word":
            words.append(token.text)
            end = token.start + len(token.text)
            self.at += 1
        if (token := self.peek()) is not None and token.kind == "open":
            raise EngineError(ARGUMENT, f"put a separator (/) before the block at character {token.start + 1}",
                              (self.pieces,))
        piece = self.text[start:end]
        index = self.pieces
        self.pieces += 1
        return read_piece(words, piece, index)


def read_piece(words: list[str], piece: str, index: int) -> dict[str, Any]:
    """One layer from its words: ``['conv', '8', '3x3', 'p1']``."""
    def fail(message: str) -> EngineError:
        return EngineError(ARGUMENT, f"piece {index + 1} {piece!r}: {message}", (index,))

    word = words[0].lower()
    kind = _WORDS.get(word)
    if kind is None:
        raise fail(f"{words[0]!r} is not a layer: use conv, linear, maxpool, avgpool, adaptiveavgpool, gap, bn, "
                   "relu, relu6, sigmoid, tanh, softmax, dropout, flatten, or a block res(...), add(...), [...]")
    spec: dict[str, Any] = {"type": kind}
    if word == "gap":
        spec["output_size"] = 1
    numbers: list[Any] = []
    flags = set()
    for text in words[1:]:
        option = text.lower()
        if kind == "dropout" and re.fullmatch(r"p?(\d*\.\d+|\d+)", option):
            spec["p"] = float(option.lstrip("p"))
        elif _SIZE.match(option):
            numbers.append(_size(option))
        elif option in ("same", "valid"):
            spec["padding"] = option
        elif option in ("nobias", "frozen", "ceil"):
            flags.add(option)
        elif (match := re.fullmatch(r"([spdg])(\d+(?:[x×*]\d+)?|same|valid)", option)) and kind in (
                "conv2d", "maxpool2d", "avgpool2d"):
            letter, value = match.groups()
            key = {"s": "stride", "p": "padding", "d": "dilation", "g": "groups"}[letter]
            if letter in "dg" and kind != "conv2d":
                raise fail(f"{text!r}: only a convolution takes {key}")
            spec[key] = value if value in ("same", "valid") else _size(value)
            if letter == "g" and isinstance(spec[key], list):
                raise fail(f"{text!r}: groups is one number")
        else:
            raise fail(f"{text!r} is not an option of {word}; {_help(kind)}")
    expected = {"conv2d": ("out_channels", "kernel_size"), "linear": ("out_features",),
                "maxpool2d": ("kernel_size",), "avgpool2d": ("kernel_size",),
                "adaptive_avgpool2d": () if word == "gap" else ("output_size",)}.get(kind, ())
    if kind == "conv2d" and numbers and isinstance(numbers[0], list):
        raise fail(f"the number of filters comes first; {_help(kind)}")
    if len(numbers) != len(expected):
        if len(numbers) < len(expected):
            raise fail(f"missing {' and '.join(expected[len(numbers):])}; {_help(kind)}")
        raise fail(f"too many numbers ({', '.join(_size_text(n) for n in numbers)}); {_help(kind)}")
    for key, value in zip(expected, numbers):
        if key in ("out_channels", "out_features") and isinstance(value, list):
            raise fail(f"{key} is one number, got {_size_text(value)}; {_help(kind)}")
        spec[key] = value
    if "nobias" in flags:
        if kind not in ("conv2d", "linear"):
            raise fail(f"'nobias': {word} has no bias")
        spec["bias"] = False
    if "frozen" in flags:
        spec["trainable"] = False
    if "ceil" in flags:
        if kind not in ("maxpool2d", "avgpool2d"):
            raise fail("'ceil': only pooling takes ceil_mode")
        spec["ceil_mode"] = True
    if "padding" in spec and isinstance(spec["padding"], str) and kind != "conv2d":
        raise fail(f"{spec['padding']!r} padding is for convolutions; a pool takes a number")
    return spec


def _size(text: str) -> int | list[int]:
    match = _SIZE.match(text.replace("×", "x").replace("*", "x"))
    first, second = int(match.group(1)), match.group(2)
    return first if second is None else [first, int(second)]


def _size_text(value: Any) -> str:
    return f"{value[0]}x{value[1]}" if isinstance(value, (list, tuple)) else str(value)


def _help(kind: str) -> str:
    return {
        "conv2d": "write conv C KxK [sS] [pP|same|valid] [dD] [gG] [nobias], e.g. conv 16 3x3 s1 p1",
        "linear": "write linear N [nobias], e.g. linear 10",
        "maxpool2d": "write maxpool K [sS] [pP] [ceil], e.g. maxpool 2",
        "avgpool2d": "write avgpool K [sS] [pP] [ceil], e.g. avgpool 2",
        "adaptive_avgpool2d": "write adaptiveavgpool N or NxM, e.g. adaptiveavgpool 7x7, or gap",
        "dropout": "write dropout or dropout 0.5",
    }.get(kind, "it takes no numbers")


def parse_layers(text: str) -> list[dict[str, Any]]:
    """Layer specs from the compact text form; an error names the piece (1-based) and says why.

    The error's location is the 0-based piece index, counting pieces in reading order.
    """
    if not isinstance(text, str):
        raise EngineError(ARGUMENT, f"expected text, got {type(text).__name__}")
    reader = _Reader(text)
    layers = reader.items("")
    if not layers:
        raise EngineError(ARGUMENT, "is empty: write at least one layer, e.g. "
                                    "conv 8 3x3 p1 / relu / flatten / linear 10")
    return layers


# --- writing ---------------------------------------------------------------------------------

def layers_to_text(layers: list[dict[str, Any]], indent: str = "") -> str:
    """The compact text of layer specs: one top-level piece per line, blocks written inline
    unless they hold blocks themselves."""
    return "\n".join(indent + _item_text(spec, indent) for spec in layers)


def _item_text(spec: dict[str, Any], indent: str) -> str:
    name = f"{spec['name']}: " if spec.get("name") else ""
    kind = spec["type"]
    if kind == "sequential":
        inner = spec["layers"]
        if any(s["type"] in ("sequential", "residual") for s in inner):
            return f"{name}[\n{layers_to_text(inner, indent + '  ')}\n{indent}]"
        return f"{name}[{' / '.join(_item_text(s, indent) for s in inner)}]"
    if kind == "residual":
        word = "res" if spec.get("activation", "relu") == "relu" else "add"
        body = " / ".join(_item_text(s, indent) for s in spec["body"])
        shortcut = spec.get("shortcut") or []
        tail = f" | {' / '.join(_item_text(s, indent) for s in shortcut)}" if shortcut else ""
        return f"{name}{word}({body}{tail})"
    return name + _layer_text(spec)


def _layer_text(spec: dict[str, Any]) -> str:
    kind = spec["type"]
    words = [_SHORT.get(kind, kind)]
    if kind == "conv2d":
        words += [str(spec["out_channels"]), _square(spec["kernel_size"])]
    elif kind == "linear":
        words.append(str(spec["out_features"]))
    elif kind in ("maxpool2d", "avgpool2d"):
        words.append(_size_text(spec["kernel_size"]))
    elif kind == "adaptive_avgpool2d":
        words.append(_size_text(spec["output_size"]))
    elif kind == "dropout" and "p" in spec:
        words.append(f"{spec['p']:g}")
    for key, letter in (("stride", "s"), ("padding", "p"), ("dilation", "d"), ("groups", "g")):
        value = spec.get(key)
        if value is None or (key in ("dilation", "groups", "stride") and value == 1 and kind == "conv2d") or (
                key == "padding" and value == 0):
            continue
        if kind in ("maxpool2d", "avgpool2d") and key == "stride" and value == spec["kernel_size"]:
            continue
        words.append(value if isinstance(value, str) else letter + _size_text(value))
    if spec.get("bias") is False:
        words.append("nobias")
    if spec.get("ceil_mode"):
        words.append("ceil")
    if spec.get("trainable") is False:
        words.append("frozen")
    return " ".join(words)


def _square(kernel: Any) -> str:
    if isinstance(kernel, (list, tuple)):
        return f"{kernel[0]}x{kernel[1]}"
    return f"{kernel}x{kernel}"
