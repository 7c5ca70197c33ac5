"""Random, well-shaped expressions over the matcalc language, with their NumPy, for
property-based tests.

An expression of a requested shape is built top-down from a vocabulary of declared
variables; every choice goes through ``pick``, so the same generator runs under
Hypothesis (which then shrinks failures) or under a seeded ``random.Random``.  Each
grammar rule builds the text and the NumPy function of what it builds together, so an
expression comes with its own oracle (:class:`oracle.Oracle`), written here and not read
back from the text.

The text never leaves a size open: an identity whose size nothing in the expression fixes
(``tr(I)``) is written with its size (``tr(I_n)``), the one its NumPy has; n and p are the
oracle's sizes of those names, whether or not a variable of the expression has them.  Inputs stay
where the functions are smooth and well conditioned: ``inv`` and ``logdet`` are applied to
I + M Mᵀ, ``log`` and ``sqrt`` to positive expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np

from oracle import Oracle, Point, sigmoid, softmax, softplus

T = TypeVar("T")
Pick = Callable[[Sequence[T]], T]
Fn = Callable[[Point], np.ndarray]

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
NUMBERS = {"2": 2.0, "1/2": 0.5, "3": 3.0, "1/3": 1 / 3}


class Generated(NamedTuple):
    text: str
    wrt: str
    oracle: Oracle


def expression(pick: Pick, depth: int = 3) -> tuple[str, str]:
    """A random scalar or non-scalar expression and a variable of it to differentiate by."""
    text, wrt, _ = generated(pick, depth)
    return text, wrt


def generated(pick: Pick, depth: int = 3) -> Generated:
    """A random scalar or non-scalar expression, a variable of it to differentiate by, and
    its NumPy (the same picks as :func:`expression`)."""
    shape = pick([("1", "1"), ("1", "1"), ("n", "1"), ("n", "p")])
    g = _Builder(pick).gen(shape, depth)
    text = g.text()
    wrt = next((w for w in WRT if _mentions(text, w)), None)
    if wrt is None:  # make sure the expression depends on some variable
        name = {("1", "1"): "alpha", ("n", "1"): "x", ("n", "p"): "X"}[shape]
        g = _cat(g.rows, g.cols, lambda v, f=g.fn: f(v) + v[name], g, f" + {name}")
        text = g.text()
        wrt = next(w for w in WRT if _mentions(text, w))
    return Generated(text, wrt, Oracle(WHERE + ", n: size, p: size", g.fn))


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z_]){name}(?![A-Za-z0-9_(])", text) is not None


# ------------------------------------------------------------------------------ sizes


class _Size:
    """A size of the generated text as matcalc infers it: tied to others by the operations
    (a union–find), ``fixed`` where a variable has it; ``name`` is the size meant."""

    def __init__(self, name: str, fixed: bool) -> None:
        self.name, self.fixed, self.parent = name, fixed, self

    def root(self) -> _Size:
        while self.parent is not self:
            self.parent = self.parent.parent
            self = self.parent
        return self


def _tie(*sizes: _Size) -> None:
    first = sizes[0].root()
    for s in sizes[1:]:
        r = s.root()
        assert r.name == first.name, (r.name, first.name)
        if r is not first:
            r.parent = first
            first.fixed = first.fixed or r.fixed


@dataclass(frozen=True)
class _Identity:
    """An I of the text: written I where its size is fixed, I_n otherwise."""

    size: _Size

    def __str__(self) -> str:
        s = self.size.root()
        return "I" if s.fixed else f"I_{s.name}"


@dataclass(frozen=True)
class _Gen:
    """A generated subexpression: its text (strings and identities), its NumPy (a 2-D
    array of its shape), its two sizes, and for an unbracketed sum its signed terms."""

    parts: tuple[Any, ...]
    fn: Fn
    rows: _Size
    cols: _Size
    sum_terms: tuple[tuple[str, Fn], ...] | None = None

    def text(self) -> str:
        return "".join(str(p) for p in self.parts)

    @property
    def terms(self) -> tuple[tuple[str, Fn], ...]:
        return self.sum_terms or (("+", self.fn),)


def _cat(rows: _Size, cols: _Size, fn: Fn, *pieces: Any, terms: tuple | None = None) -> _Gen:
    parts: list[Any] = []
    for p in pieces:
        parts.extend(p.parts if isinstance(p, _Gen) else (p,))
    return _Gen(tuple(parts), fn, rows, cols, terms)


def _scalar(x: Any) -> np.ndarray:
    return np.array([[float(np.asarray(x).reshape(()))]])


ELEMENTWISE: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    # the function picked, how it is written around its argument, and its NumPy
    "sin": ("sin({})", np.sin), "cos": ("cos({})", np.cos), "tanh": ("tanh({})", np.tanh),
    "sigmoid": ("sigmoid({})", sigmoid), "softplus": ("softplus({})", softplus),
    "exp": ("exp(tanh({}))", lambda z: np.exp(np.tanh(z))),
    "log1p": ("log(1 + ({}) .^ 2)", lambda z: np.log(1 + z ** 2)),
    "sqrt1p": ("sqrt(1 + ({}) .^ 2)", lambda z: np.sqrt(1 + z ** 2)),
    "relu_safe": ("softplus({})", softplus),
}


class _Builder:
    def __init__(self, pick: Pick) -> None:
        self.pick = pick
        self.fixed = {d: _Size(d, True) for d in ("n", "p", "1")}

    def leaf(self, shape: tuple[str, str]) -> _Gen:
        r, c = shape
        name = self.pick(VARIABLES[shape])
        if name == "I":
            s = _Size(r, False)
            return _Gen((_Identity(s),), lambda v: np.eye(v.sizes[r]), s, s)
        rows, cols = self.fixed[r], self.fixed[c]
        if name in NUMBERS:
            return _Gen((name,), lambda v: _scalar(NUMBERS[name]), rows, cols)
        if name.endswith("'"):
            return _Gen((name,), lambda v: v[name[:-1]].T, rows, cols)
        return _Gen((name,), lambda v: v[name], rows, cols)

    def gen(self, shape: tuple[str, str], depth: int) -> _Gen:
        pick = self.pick
        r, c = shape
        if depth <= 0:
            return self.leaf(shape)
        rules = ["leaf", "sum", "product", "product", "scale", "transpose", "hadamard", "elementwise"]
        if shape == ("1", "1"):
            rules += ["trace", "sum_entries", "quadratic", "norm", "power", "logdet", "softmax_ce"]
        if r == c and r != "1":
            rules += ["inverse", "matpow"]
        if c == "1" and r != "1":
            rules += ["softmax", "diag_vector"]
        rule = pick(rules)
        d = depth - 1
        one = self.fixed["1"]
        if rule == "leaf":
            return self.leaf(shape)
        if rule == "sum":
            a = self.gen(shape, d)
            sign = pick(["+", "-"])
            b = self.gen(shape, d)
            _tie(a.rows, b.rows)
            _tie(a.cols, b.cols)
            # a − b + c, unbracketed, is (a − b) + c: the terms of a sum on the right keep their signs
            (_, first), *rest = b.terms
            terms = (*a.terms, (sign, first), *rest)

            def fn(v: Point) -> np.ndarray:
                out = terms[0][1](v)
                for s, term in terms[1:]:
                    out = out + term(v) if s == "+" else out - term(v)
                return out

            return _cat(a.rows, a.cols, fn, a, f" {sign} ", b, terms=terms)
        if rule == "product":
            k = pick(DIMS + ["1"])
            a, b = self.gen((r, k), d), self.gen((k, c), d)
            _tie(a.cols, b.rows)
            return _cat(a.rows, b.cols, lambda v: a.fn(v) @ b.fn(v), "(", a, ") (", b, ")")
        if rule == "scale":
            s = pick(["2", "alpha", "1/3"])
            a = self.gen(shape, d)
            factor = (lambda v: v.alpha) if s == "alpha" else (lambda v: NUMBERS[s])
            return _cat(a.rows, a.cols, lambda v: factor(v) * a.fn(v), f"{s} (", a, ")")
        if rule == "transpose":
            a = self.gen((c, r), d)
            return _cat(a.cols, a.rows, lambda v: a.fn(v).T, "(", a, ")'")
        if rule == "hadamard":
            a, b = self.gen(shape, d), self.gen(shape, d)
            _tie(a.rows, b.rows)
            _tie(a.cols, b.cols)
            return _cat(a.rows, a.cols, lambda v: a.fn(v) * b.fn(v), "(", a, ") ⊙ (", b, ")")
        if rule == "elementwise":
            written, fn = ELEMENTWISE[pick(list(ELEMENTWISE))]
            a = self.gen(shape, d)
            before, after = written.split("{}")
            return _cat(a.rows, a.cols, lambda v: fn(a.fn(v)), before, a, after)
        if rule == "trace":
            k = pick(DIMS)
            a = self.gen((k, k), d)
            _tie(a.rows, a.cols)
            return _cat(one, one, lambda v: _scalar(np.trace(a.fn(v))), "tr(", a, ")")
        if rule == "sum_entries":
            a = self.gen(pick([("n", "p"), ("n", "1"), ("n", "n")]), d)
            return _cat(one, one, lambda v: _scalar(np.sum(a.fn(v))), "sum(", a, ")")
        if rule == "quadratic":
            a = self.gen(("n", "n"), d)
            _tie(a.rows, a.cols, self.fixed["n"])
            return _cat(one, one, lambda v: v.x.T @ a.fn(v) @ v.x, "x' (", a, ") x")
        if rule == "norm":
            a = self.gen(pick([("n", "1"), ("n", "p")]), d)
            return _cat(one, one, lambda v: _scalar(np.linalg.norm(1 + a.fn(v) ** 2)), "norm(1 + (", a, ") .^ 2)")
        if rule == "power":
            a = self.gen(("1", "1"), d)
            return _cat(one, one, lambda v: a.fn(v) ** 2, "(", a, ")^2")
        if rule == "logdet":
            k = pick(DIMS)
            m = self.gen((k, pick(DIMS)), d)
            eye = _Identity(m.rows)
            return _cat(one, one, lambda v: _scalar(np.linalg.slogdet(_gram(m.fn(v)))[1]),
                        "logdet(", eye, " + (", m, ") (", m, ")')")
        if rule == "softmax_ce":
            a = self.gen(("n", "1"), d)
            _tie(a.rows, self.fixed["n"])
            return _cat(one, one, lambda v: -v.a.T @ np.log(softmax(a.fn(v))), "-a' log(softmax(", a, "))")
        if rule == "inverse":
            m = self.gen((r, pick(DIMS)), d)
            eye = _Identity(m.rows)
            return _cat(m.rows, m.rows, lambda v: np.linalg.inv(_gram(m.fn(v))), "inv(", eye, " + (", m, ") (", m, ")')")
        if rule == "matpow":
            a = self.gen(shape, d)
            _tie(a.rows, a.cols)
            return _cat(a.rows, a.cols, lambda v: a.fn(v) @ a.fn(v), "(", a, ")^2")
        if rule == "softmax":
            a = self.gen(shape, d)
            return _cat(a.rows, a.cols, lambda v: softmax(a.fn(v)), "softmax(", a, ")")
        if rule == "diag_vector":
            a, b = self.gen(shape, d), self.gen(shape, d)
            _tie(a.rows, b.rows)
            return _cat(a.rows, b.cols, lambda v: np.diag(a.fn(v).ravel()) @ b.fn(v), "diag(", a, ") (", b, ")")
        raise AssertionError(rule)


def _gram(m: np.ndarray) -> np.ndarray:
    """I + M Mᵀ."""
    return np.eye(len(m)) + m @ m.T
