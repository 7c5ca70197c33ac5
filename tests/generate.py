"""Random, well-shaped expressions over the matcalc language, for property-based tests.

An expression of a requested shape is built top-down from a vocabulary of declared
variables; every choice goes through ``pick``, so the same generator runs under
Hypothesis (which then shrinks failures) or under a seeded ``random.Random``.

Inputs stay where the functions are smooth and well conditioned: ``inv`` and ``logdet``
are applied to I + M Mᵀ, ``log`` and ``sqrt`` to positive expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
Pick = Callable[[Sequence[T]], T]

WHERE = "X: n×p, x: n, A: n×n, B: p×n, C: n×p, D: p×p, a: n, b: p, alpha: scalar"
VARIABLES = {
    ("n", "p"): ["X", "C"],
    ("p", "n"): ["X'", "B", "C'"],
    ("n", "n"): ["A", "A'", "I"],
    ("p", "p"): ["D", "D'", "I"],
    ("n", "1"): ["x", "a"],
    ("p", "1"): ["b"],
    ("1", "n"): ["x'", "a'"],
    ("1", "p"): ["b'"],
    ("1", "1"): ["alpha", "2", "1/2", "3"],
}
WRT = ["X", "x", "A", "alpha", "D", "b"]
DIMS = ["n", "p"]


def expression(pick: Pick, depth: int = 3) -> tuple[str, str]:
    """A random scalar or non-scalar expression and a variable of it to differentiate by."""
    shape = pick([("1", "1"), ("1", "1"), ("n", "1"), ("n", "p")])
    text = _gen(pick, shape, depth)
    wrt = next((w for w in WRT if _mentions(text, w)), None)
    if wrt is None:  # make sure the expression depends on some variable
        text = f"{text} + {_leaf_with(shape)}"
        wrt = next(w for w in WRT if _mentions(text, w))
    return text, wrt


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z_]){name}(?![A-Za-z0-9_(])", text) is not None


def _leaf_with(shape: tuple[str, str]) -> str:
    return {("1", "1"): "alpha", ("n", "1"): "x", ("n", "p"): "X"}[shape]


def _gen(pick: Pick, shape: tuple[str, str], depth: int) -> str:
    r, c = shape
    if depth <= 0:
        return pick(VARIABLES[shape])
    rules = ["leaf", "sum", "product", "product", "scale", "transpose", "hadamard", "elementwise"]
    if shape == ("1", "1"):
        rules += ["trace", "sum_entries", "quadratic", "norm", "power", "logdet", "softmax_ce"]
    if r == c and r != "1":
        rules += ["inverse", "matpow"]
    if c == "1" and r != "1":
        rules += ["softmax", "diag_vector"]
    rule = pick(rules)
    d = depth - 1
    if rule == "leaf":
        return pick(VARIABLES[shape])
    if rule == "sum":
        return f"{_gen(pick, shape, d)} {pick(['+', '-'])} {_gen(pick, shape, d)}"
    if rule == "product":
        k = pick(DIMS + ["1"])
        return f"({_gen(pick, (r, k), d)}) ({_gen(pick, (k, c), d)})"
    if rule == "scale":
        return f"{pick(['2', 'alpha', '1/3'])} ({_gen(pick, shape, d)})"
    if rule == "transpose":
        return f"({_gen(pick, (c, r), d)})'"
    if rule == "hadamard":
        return f"({_gen(pick, shape, d)}) ⊙ ({_gen(pick, shape, d)})"
    if rule == "elementwise":
        fn = pick(["sin", "cos", "tanh", "sigmoid", "softplus", "exp", "log1p", "sqrt1p", "relu_safe"])
        inner = _gen(pick, shape, d)
        if fn == "log1p":
            return f"log(1 + ({inner}) .^ 2)"
        if fn == "sqrt1p":
            return f"sqrt(1 + ({inner}) .^ 2)"
        if fn == "exp":
            return f"exp(tanh({inner}))"
        if fn == "relu_safe":
            return f"softplus({inner})"
        return f"{fn}({inner})"
    if rule == "trace":
        k = pick(DIMS)
        return f"tr({_gen(pick, (k, k), d)})"
    if rule == "sum_entries":
        return f"sum({_gen(pick, pick([('n', 'p'), ('n', '1'), ('n', 'n')]), d)})"
    if rule == "quadratic":
        return f"x' ({_gen(pick, ('n', 'n'), d)}) x"
    if rule == "norm":
        return f"norm(1 + ({_gen(pick, pick([('n', '1'), ('n', 'p')]), d)}) .^ 2)"
    if rule == "power":
        return f"({_gen(pick, ('1', '1'), d)})^2"
    if rule == "logdet":
        k = pick(DIMS)
        m = _gen(pick, (k, pick(DIMS)), d)
        return f"logdet(I + ({m}) ({m})')"
    if rule == "softmax_ce":
        return f"-a' log(softmax({_gen(pick, ('n', '1'), d)}))"
    if rule == "inverse":
        m = _gen(pick, (r, pick(DIMS)), d)
        return f"inv(I + ({m}) ({m})')"
    if rule == "matpow":
        return f"({_gen(pick, shape, d)})^2"
    if rule == "softmax":
        return f"softmax({_gen(pick, shape, d)})"
    if rule == "diag_vector":
        return f"diag({_gen(pick, shape, d)}) ({_gen(pick, shape, d)})"
    raise AssertionError(rule)
