"""Checking a hand derivation: is CLAIM the gradient (or Jacobian) of EXPR?

The verdict comes from the SymPy oracle (:mod:`matcalc.oracle`), which differentiates the
expression itself, entry by entry — not from matcalc's own answer.  When the claim is
wrong, matcalc's answer is used to say *how* it is wrong, in words: the transpose (a
layout mix-up), a constant factor, right only for symmetric matrices (the missing
symmetric part), or the wrong shape; and the right answer is always shown, with a small
concrete counterexample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from . import api
from .declare import FuncDecl
from .errors import MatcalcError, ParseError
from .evaluate import evaluate
from .nodes import Expr, Transpose, Var
from .oracle import CheckResult, check_derivative, instantiate_sizes, positive_variables
from .printing.sympy import size_of
from .rules.canon import canonical
from .shapes import shape_str

OTHER = {"denominator": "numerator", "numerator": "denominator"}


@dataclass
class Verdict:
    """The answer to "is CLAIM the derivative of EXPR with respect to WRT?"."""

    correct: bool
    expression: api.Expression
    wrt: str
    claim: api.Expression
    answer: api.Expression
    layout: str
    diagnosis: list[str] = field(default_factory=list)
    check: CheckResult | None = None
    counterexample: str | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.correct else 1

    def text(self, ascii: bool = False) -> str:
        what = "gradient" if self.expression.is_scalar else "derivative"
        head = f"of {self.expression.text(ascii)} with respect to {self.wrt} ({self.layout} layout)"
        lines = []
        if self.correct:
            lines.append(f"✓ correct: {self.claim.text(ascii)} is the {what} {head}")
            if str(self.claim) != str(self.answer):
                lines.append(f"  matcalc writes it {self.answer.text(ascii)}")
            lines.extend(f"  {d}" for d in self.diagnosis)
            if self.check is not None:
                lines.append(f"  {self.check}")
        else:
            lines.append(f"✗ not right: {self.claim.text(ascii)} is not the {what} {head}")
            lines.extend(f"  {d}" for d in self.diagnosis)
            lines.append(f"  The {what} is {self.answer.text(ascii)}    [{shape_str(self.answer.shape, ascii)}]")
            if self.counterexample:
                lines.append(f"  Counterexample: {self.counterexample}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def check(expr: str | api.Expression, wrt: str, claim: str, where: str | Mapping[str, object] | None = None,
          layout: str = "denominator", timeout: float = 10.0) -> Verdict:
    """Is ``claim`` the derivative of ``expr`` with respect to ``wrt`` in ``layout``?

    >>> v = check("x' A x", "x", "2 A x")
    >>> v.correct, v.diagnosis[0][:40]
    (False, 'The claim is right only when A is symmet')
    >>> check("tr(B A X)", "X", "(B A)'").correct
    True
    """
    r = api.diff(expr, wrt, where, layout=layout)
    e = r.expression
    try:
        c = api.parse(claim, e.where(), expect=r.derivative.shape)
    except MatcalcError as err:
        raise type(err)(f"in the claim: {err.message}", err.span, claim) from None
    extra = sorted(set(c.shapes) - set(e.shapes))
    if extra:
        raise ParseError(f"the claim uses {', '.join(extra)}, which {'is' if len(extra) == 1 else 'are'} not in "
                         f"the expression {e}", None, claim)
    answer = r.derivative
    x = r.wrt
    scalar = e.is_scalar
    verdict = Verdict(False, e, wrt, c, answer, layout)

    def as_gradient(t: Expr) -> Expr:
        """The claim in the form the oracle checks: G (scalar f) or the Jacobian DF."""
        if scalar:
            return t if layout == "denominator" else canonical(Transpose(t))
        return t if layout == "numerator" else canonical(Transpose(t))

    want = answer.shape
    got = c.shape
    if got != want:
        flipped = (got[1], got[0])
        if flipped == want and _same(_evaluator(e, x), Transpose(c.tree), answer.tree):
            verdict.diagnosis.append(
                f"The claim is the transpose of the answer: a layout mix-up. It follows the {OTHER[layout]} layout "
                f"({_layout_words(OTHER[layout], scalar, wrt)}); in {layout} layout "
                f"{_layout_words(layout, scalar, wrt)}."
            )
        else:
            verdict.diagnosis.append(
                f"The claim has the wrong shape: it is {shape_str(got)}, but the {'gradient' if scalar else 'derivative'} "
                f"in {layout} layout is {shape_str(want)} ({_layout_words(layout, scalar, wrt)})."
            )
        verdict.counterexample = _counterexample_shapes(e, c.tree, answer.tree)
        return verdict

    result = check_derivative(e.tree, x, as_gradient(c.tree), timeout=timeout)
    verdict.check = result
    if result.ok is None:  # out of time: fall back to NumPy at random points, and say so
        ok = _same(_evaluator(e, x), c.tree, answer.tree)
        verdict.correct = ok
        verdict.diagnosis.append("The SymPy check ran out of time; this verdict compares numerically at random points.")
        return verdict
    if result.ok:
        verdict.correct = True
        return verdict
    verdict.diagnosis.extend(_diagnose(e, x, c.tree, answer.tree, layout, scalar, wrt))
    verdict.counterexample = f"at {result.sizes_text()}, {result.detail} (SymPy, {result.method})"
    return verdict


# ----------------------------------------------------------------------- diagnosis


def _layout_words(layout: str, scalar: bool, wrt: str) -> str:
    if scalar:
        return f"the gradient has the shape of {wrt}" if layout == "denominator" else f"the gradient has the shape of {wrt}ᵀ"
    return "∂F/∂X is the transpose of the Jacobian" if layout == "denominator" else "∂F/∂X is the Jacobian DF"


def _diagnose(e: api.Expression, x: Var, claim: Expr, answer: Expr, layout: str, scalar: bool, wrt: str) -> list[str]:
    ev = _evaluator(e, x)
    ratio = _constant_ratio(ev, claim, answer)
    if ratio is not None:
        if ratio == -1:
            return ["The claim has the wrong sign: it is minus the answer."]
        return [f"The claim differs by a constant factor: it is {_fmt(ratio)} times the answer."]
    square = [v for v in _variables(e.tree) if v.name != x.name and v.shape[0] == v.shape[1]
              and v.shape != (1, 1) and not v.symmetric]
    if square:
        names = ", ".join(v.name for v in square)
        are = "is" if len(square) == 1 else "are"
        sym_ev = _evaluator(e, x, symmetric=True)
        sym = api.diff(e.text(), wrt, _symmetric_where(e, square), layout=layout).derivative
        if _same(sym_ev, claim, answer):
            return [f"The claim is right only when {names} {are} symmetric: it is missing the symmetric part. "
                    f"For symmetric {names} the answer is {sym}; in general it is not."]
        k = _constant_ratio(sym_ev, claim, answer)
        if k is not None:
            return [f"The claim is missing the symmetric part, and even for symmetric {names} it is "
                    f"{_fmt(k)} times the answer, which is then {sym}."]
    if claim.shape[0] == claim.shape[1] and _same(ev, Transpose(claim), answer):
        return [f"The claim is the transpose of the answer: a layout mix-up. It follows the {OTHER[layout]} "
                f"layout ({_layout_words(OTHER[layout], scalar, wrt)})."]
    return ["The claim differs from the answer (not by a transpose, a constant factor or a symmetric part)."]


def _variables(tree: Expr) -> list[Var]:
    seen: dict[str, Var] = {}
    for n in tree.walk():
        if isinstance(n, Var):
            seen.setdefault(n.name, n)
    return list(seen.values())


def _symmetric_where(e: api.Expression, square: list[Var]) -> str:
    names = {v.name for v in square}
    return ", ".join(
        part + (" symmetric" if part.split(":")[0].strip() in names else "") for part in e.where().split(", ")
    )


def _fmt(v: float) -> str:
    f = Fraction(v).limit_denominator(12)
    return str(f) if abs(float(f) - v) < 1e-9 else f"{v:.6g}"


Evaluator = Callable[[Expr, int], np.ndarray]


def _evaluator(e: api.Expression, x: Var, symmetric: bool = False) -> Evaluator:
    """Evaluate trees at random points (the same point for the same seed)."""
    sizes = instantiate_sizes(e.tree)
    positive = positive_variables(e.tree)

    def values(seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        out: dict[str, Any] = {}
        for v in _variables(e.tree):
            r, c = size_of(v.shape[0], sizes), size_of(v.shape[1], sizes)
            a = rng.uniform(0.5, 2.0, (r, c)) if v.name in positive else rng.normal(size=(r, c))
            if v.symmetric or (symmetric and r == c and v.name != x.name):
                a = (a + a.T) / 2
            out[v.name] = a
        for name, decl in e.functions.items():
            out.update(_concrete_functions(name, decl, sizes))
        return out

    def ev(tree: Expr, seed: int) -> np.ndarray:
        return np.atleast_2d(evaluate(tree, values(seed), sizes))

    return ev


def _concrete_functions(name: str, decl: FuncDecl, sizes: dict[str, int]) -> dict[str, Any]:
    if decl.kind == "scalar":
        return {name: lambda y: float(np.sum(np.sin(y)) + 0.5 * np.sum(np.asarray(y) ** 2)),
                f"grad_{name}": lambda y: np.cos(y) + y}
    if decl.kind == "elementwise":
        return {name: np.tanh, f"{name}_prime": lambda y: 1 - np.tanh(y) ** 2}
    out = size_of(decl.out, sizes)  # parse records the size of a vector function's values
    m = np.random.default_rng(11).normal(size=(16, 16))

    def g(y: Any) -> Any:
        return m[:out, : len(y)] @ np.sin(y)

    def jac(y: Any) -> Any:
        return m[:out, : len(y)] * np.cos(y)[None, :]

    return {name: g, f"jac_{name}": jac}


def _same(ev: Evaluator, a: Expr, b: Expr, seeds: tuple[int, ...] = (1, 2, 3)) -> bool:
    try:
        for s in seeds:
            va, vb = ev(a, s), ev(b, s)
            if va.shape != vb.shape or not np.allclose(va, vb, rtol=1e-7, atol=1e-9):
                return False
        return True
    except (MatcalcError, ValueError, FloatingPointError):
        return False


def _constant_ratio(ev: Evaluator, a: Expr, b: Expr) -> float | None:
    ratios = []
    for s in (1, 2, 3):
        va, vb = ev(a, s), ev(b, s)
        if va.shape != vb.shape:
            return None
        denom = float(np.sum(vb * vb))
        if denom < 1e-12:
            return None
        c = float(np.sum(va * vb)) / denom
        if not np.allclose(va, c * vb, rtol=1e-7, atol=1e-9):
            return None
        ratios.append(c)
    if np.allclose(ratios, ratios[0], rtol=1e-7) and not np.isclose(ratios[0], 1.0):
        return ratios[0]
    return None


def _counterexample_shapes(e: api.Expression, claim: Expr, answer: Expr) -> str:
    sizes = instantiate_sizes(e.tree, claim, answer)
    at = ", ".join(f"{k}={v}" for k, v in sizes.items())

    def concrete(t: Expr) -> str:
        return f"{size_of(t.shape[0], sizes)}×{size_of(t.shape[1], sizes)}"

    return f"at {at}, the claim is {concrete(claim)} but the answer is {concrete(answer)}"
