"""Checking a hand derivation: is CLAIM the gradient (or Jacobian) of EXPR?

The verdict comes from the SymPy oracle (:mod:`.sympy_oracle`), which differentiates the
expression itself, entry by entry — not from matcalc's own answer.  When the claim is
wrong, matcalc's answer is used to say *how* it is wrong, in words: the transpose (a
layout mix-up), a constant factor, right only for symmetric matrices (the missing
symmetric part), the wrong shape, or undefined where the expression is defined; and the
right answer is always shown, with a small concrete counterexample.

When the oracle reaches no verdict (out of time, a SymPy failure, sizes too large to
instantiate) the verdict is *unchecked* (``correct`` is None, exit code 3): comparing the
claim with matcalc's own answer numerically is reported as a note, never as a verdict,
since matcalc's answer is not an independent oracle.

The claim comes parsed, with matcalc's derivation of the expression
(:func:`matcalc.api.check` reads them); the diagnosis differentiates again with other
declarations through the ``diff`` it is given.  This module never imports
:mod:`matcalc.api`: the API depends on the checks, not the reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from ..algebra import Q_HALF, add, mul
from ..errors import EXIT_CODES, EvaluationError, MatcalcError
from ..evaluate import evaluate
from ..limits import MAX_ENTRIES
from ..nodes import Expr, Num, Transpose, Var, map_bottom_up
from ..printing.latex import latex_name
from ..rules.canon import canonical
from ..schema import SCHEMA_VERSION
from ..shapes import shape_str
from .numeric import numpy_functions, numpy_point
from .result import STATUS, CheckResult, sizes_text
from .sizes import instantiate_sizes, positive_variables, size_of, variables_of
from .sympy_oracle import check_derivative

if TYPE_CHECKING:  # the types only: the API depends on this module, not the reverse
    from ..api import Derivative, Expression
    from ..hessian import Hessian

#: diff(expr, wrt, where, layout=…) of :mod:`matcalc.api`, for the diagnosis
Diff = Callable[..., "Derivative"]

OTHER = {"denominator": "numerator", "numerator": "denominator"}


@dataclass
class Verdict:
    """The answer to "is CLAIM the derivative of EXPR with respect to WRT?".

    ``correct`` is True (verified by the SymPy oracle), False (wrong), or None (unchecked:
    the oracle reached no verdict; ``check`` says why)."""

    correct: bool | None
    expression: Expression
    wrt: str
    claim: Expression
    answer: Expression
    layout: str
    diagnosis: list[str] = field(default_factory=list)
    check: CheckResult | None = None
    counterexample: str | None = None
    #: the derivation behind ``answer``: its notes (abstract functions, assumptions,
    #: conditions such as "holds where X is invertible") are shown with the verdict
    derivation: Derivative | Hessian | None = field(default=None, repr=False)
    #: what was claimed: "gradient", "derivative", "Hessian" or "Hessian applied to V" (None: by f's shape)
    what: str | None = None

    @property
    def notes(self) -> list[str]:
        """Abstract functions, assumptions and conditions of the expression and answer."""
        return self.notes_text()

    def notes_text(self, ascii: bool = False) -> list[str]:
        return self.derivation.notes_text(ascii) if self.derivation is not None else []

    @property
    def status(self) -> str:
        """``verified``, ``wrong`` or ``unchecked``."""
        return STATUS[self.correct]

    @property
    def exit_code(self) -> int:
        """0 verified, 1 wrong, 3 unchecked (the command line's exit codes)."""
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the schema of ``matcalc/schema/result.schema.json`` (kind
        ``verdict``): status, correct, the expression, claim and answer (each with its text,
        ASCII and LaTeX forms and shape), wrt, layout, variables, diagnosis, counterexample,
        notes and the check."""
        return {
            "version": SCHEMA_VERSION, "kind": "verdict",
            "status": self.status, "correct": self.correct, "expression": self.expression.forms(),
            "wrt": self.wrt, "claim": self.claim.forms(), "answer": self.answer.forms(), "layout": self.layout,
            "variables": self.expression.variables(), "functions": self.expression.function_list(),
            "diagnosis": list(self.diagnosis), "counterexample": self.counterexample, "notes": self.notes,
            "claimed": self.what or ("gradient" if self.expression.is_scalar else "derivative"),
            "check": self.check.to_dict() if self.check is not None else None,
        }

    def text(self, ascii: bool = False) -> str:
        what = self.what or ("gradient" if self.expression.is_scalar else "derivative")
        layout = "" if self.what and self.what.startswith("Hessian") else f" ({self.layout} layout)"
        head = f"of {self.expression.text(ascii)} with respect to {self.wrt}{layout}"
        lines = []
        notes = [f"  {n}" for n in self.notes_text(ascii)]
        if self.correct:
            lines.append(f"✓ correct: {self.claim.text(ascii)} is the {what} {head}")
            lines.extend(notes)
            if str(self.claim) != str(self.answer):
                lines.append(f"  matcalc writes it {self.answer.text(ascii)}")
            lines.extend(f"  {d}" for d in self.diagnosis)
            if self.check is not None:
                lines.append(f"  {self.check}")
        elif self.correct is None:
            lines.append(f"? unchecked: whether {self.claim.text(ascii)} is the {what} {head} is not known")
            lines.extend(notes)
            if self.check is not None:
                lines.append(f"  {self.check}")
            lines.extend(f"  {d}" for d in self.diagnosis)
            lines.append(f"  matcalc's {what} is {self.answer.text(ascii)}    [{shape_str(self.answer.shape, ascii)}]")
        else:
            lines.append(f"✗ not right: {self.claim.text(ascii)} is not the {what} {head}")
            lines.extend(notes)
            lines.extend(f"  {d}" for d in self.diagnosis)
            lines.append(f"  The {what} is {self.answer.text(ascii)}    [{shape_str(self.answer.shape, ascii)}]")
            if self.counterexample:
                lines.append(f"  Counterexample: {self.counterexample}")
        return "\n".join(lines)

    def markdown(self) -> str:
        """The verdict as a one-row Markdown table (the expression, the claim, the verdict)
        with what the text says below it, for notes."""
        x = latex_name(self.wrt)
        f = "f" if self.expression.is_scalar else "F"
        cell = {"verified": "✓ verified", "wrong": f"✗ wrong: matcalc gives ${self.answer.latex()}$",
                "unchecked": "? unchecked"}[self.status]
        row = [f"${self.expression.latex()}$", f"${self.claim.latex()}$", cell]
        head = rf"$\frac{{\partial {f}}}{{\partial {x}}}$ ({self.layout} layout)"
        if self.what == "Hessian":
            head = r"$H$, the Hessian"
        elif self.what:
            head = rf"$H[{latex_name(self.what.split()[-1])}]$, the Hessian applied to ${latex_name(self.what.split()[-1])}$"
        lines = [rf"| ${f}$ | {head} | check |",
                 "|---|---|---|", "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |", ""]
        lines += [f"- {line.strip()}" for line in self.text().splitlines()[1:] if line.strip()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:  # the text/plain form in a notebook and a REPL
        return self.text()

    def _repr_markdown_(self) -> str:  # Jupyter: the one-row table, typeset
        return self.markdown()


def judge(r: Derivative, c: Expression, diff: Diff, timeout: float = 10.0) -> Verdict:
    """Is the claim ``c`` the derivative that ``r`` derived (with respect to ``r.wrt``, in
    ``r.layout``)?  The verdict is the SymPy oracle's; ``diff`` (:func:`matcalc.diff`)
    serves the diagnosis of a wrong claim.

    >>> from matcalc import diff, parse
    >>> r = diff("x' A x", "x")
    >>> v = judge(r, parse("2 A x", r.expression.where()), diff)
    >>> v.correct, v.diagnosis[0][:40]
    (False, 'The claim is right only when A is symmet')
    """
    e = r.expression
    wrt = r.wrt.name
    layout = r.layout
    answer = r.derivative
    x = r.wrt
    scalar = e.is_scalar
    verdict = Verdict(False, e, wrt, c, answer, layout, derivation=r)

    def as_gradient(t: Expr) -> Expr:
        """The claim in the form the oracle checks: G (scalar f) or the Jacobian DF."""
        if scalar:
            return t if layout == "denominator" else canonical(Transpose(t))
        return t if layout == "numerator" else canonical(Transpose(t))

    want = answer.shape
    got = c.shape
    if got != want:
        flipped = (got[1], got[0])
        if flipped == want and _same_at_points(e, x, Transpose(c.tree), answer.tree):
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
    return _settle(verdict, result, lambda: _numeric_note(e, x, c.tree, answer.tree, result.sizes),
                   lambda: _diagnose(diff, e, x, c.tree, answer.tree, layout, scalar, wrt, result.sizes))


def _settle(verdict: Verdict, result: CheckResult, note: Callable[[], list[str]],
            diagnose: Callable[[], list[str]]) -> Verdict:
    """The oracle's result into the verdict: unchecked (with NumPy's ``note``: matcalc's own
    answer is not an oracle), verified, or wrong (with how, from ``diagnose``)."""
    verdict.check = result
    if result.ok is None:
        verdict.correct = None
        verdict.diagnosis.extend(note())
        return verdict
    if result.ok:
        verdict.correct = True
        return verdict
    if result.method in ("undefined", "not linear", "convention"):  # the check's own reason is the diagnosis
        detail = result.detail.removeprefix("the claim ").removeprefix("matcalc's Hessian ")
        verdict.diagnosis.append(f"The claim {detail}.")
        return verdict
    verdict.diagnosis.extend(diagnose())
    verdict.counterexample = f"at {result.sizes_text()}, {result.detail} (SymPy, {result.method})"
    return verdict


def judge_hessian(h: Hessian, c: Expression, direction: Var | None, hessian: Callable[..., Hessian],
                  timeout: float = 10.0) -> Verdict:
    """Is the claim ``c`` the Hessian H of ``h`` (or, with ``direction`` V, H[V], the Hessian
    applied to V)?  The verdict is the SymPy oracle's, against its own second partials of f;
    ``hessian`` (:func:`matcalc.hessian`) serves the diagnosis of a wrong claim."""
    e = h.expression
    x, y = h.wrt, h.wrt2 or h.wrt
    answer = h.hvp if direction is not None else h.hessian
    if direction is not None and direction.name != h.direction:  # the claim's own name for the direction
        answer = type(answer)(canonical(_renamed(answer.tree, h.direction, direction.name)), None, answer.decls,
                              {**e._shapes, direction.name: direction.shape}, answer.functions, answer.assumptions)
    what = f"Hessian applied to {direction.name}" if direction is not None else "Hessian"
    verdict = Verdict(False, e, x.name if not h.wrt2 else f"{x.name} and {y.name}", c, answer, "denominator",
                      derivation=h, what=what)
    if c.shape != answer.shape and h.wrt2 is not None and direction is None \
            and (c.shape[1], c.shape[0]) == answer.shape and _same_at_points(e, x, Transpose(c.tree), answer.tree):
        verdict.diagnosis.append(f"The claim is the transpose of the mixed Hessian: it is ∂²f/∂vec {y.name} "
                                 f"∂(vec {x.name})ᵀ; {h.name} has one row per entry of vec {x.name}.")
        verdict.counterexample = _counterexample_shapes(e, c.tree, answer.tree)
        return verdict
    if c.shape != answer.shape:
        verdict.diagnosis.append(
            f"The claim has the wrong shape: it is {shape_str(c.shape)}, but the {what} is {shape_str(answer.shape)} "
            + (f"(shaped like {y.name})." if direction is not None else
               f"({h.name}: one row per entry of vec {x.name}, one column per entry of vec {y.name}; "
               f"or write the Hessian applied to a direction, such as {h.direction}, shaped like {y.name})."))
        verdict.counterexample = _counterexample_shapes(e, c.tree, answer.tree)
        return verdict
    result = check_derivative(e.tree, x, c.tree, timeout=timeout, order=2, wrt2=h.wrt2, direction=direction)
    extra = (direction,) if direction is not None else ()

    def diagnose() -> list[str]:
        try:
            return _hessian_diagnosis(h, hessian, c.tree, answer.tree, direction, result.sizes)
        except (MatcalcError, ValueError, FloatingPointError, ZeroDivisionError):  # cannot evaluate at points
            return ["The claim differs from the answer."]

    return _settle(verdict, result, lambda: _numeric_note(e, x, c.tree, answer.tree, result.sizes, extra), diagnose)


def _renamed(t: Expr, old: str, new: str) -> Expr:
    return map_bottom_up(t, lambda n: Var(new, n.dims, n.symmetric) if isinstance(n, Var) and n.name == old else n)


def _hessian_diagnosis(h: Hessian, hessian: Callable[..., Hessian], claim: Expr, answer: Expr,
                       direction: Var | None, sizes: dict[str, int]) -> list[str]:
    """How a wrong Hessian is wrong: a factor, the sign, a transpose (the mixed derivative
    the other way round), the missing symmetrisation (B for d²f = (vec dX)ᵀ B vec dX, where H
    = (B + Bᵀ)/2), or right only for symmetric matrices."""
    e, x = h.expression, h.wrt
    extra = (direction,) if direction is not None else ()
    ev = _evaluator(e, x, sizes=sizes, extra=extra)
    ratio = _constant_ratio(ev, claim, answer)
    if ratio is not None:
        if ratio == -1:
            return ["The claim has the wrong sign: it is minus the Hessian."]
        if abs(ratio) < 1e-12:
            return ["The claim is zero, but the Hessian is not."]
        return [f"The claim differs by a constant factor: it is {_fmt(ratio)} times the Hessian."]
    if direction is None and claim.shape[0] == claim.shape[1]:
        if h.wrt2 is not None and _same(ev, Transpose(claim), answer):
            return [f"The claim is the transpose of the mixed Hessian: it is ∂²f/∂vec {h.wrt2.name} ∂(vec {x.name})ᵀ; "
                    f"{h.name} has one row per entry of vec {x.name}."]
        if h.wrt2 is None and _same(ev, _symmetric_part(claim), answer):
            return ["The claim is not symmetric: with M the claim, d²f = (vec dX)ᵀ M (vec dX) is right, but the "
                    "Hessian is the symmetric (M + Mᵀ)/2 (the second identification table)."]
    if direction is not None and h.wrt2 is None and direction.shape[0] == direction.shape[1] and not direction.is_scalar:
        flipped = Transpose(map_bottom_up(claim, lambda n: Transpose(n) if n == direction else n))
        if _same(ev, Transpose(claim), answer) or _same(ev, flipped, answer):  # dGᵀ: the other layout's gradient
            return [f"The claim is the transpose of the Hessian applied to {direction.name}: it differentiates "
                    f"∂f/∂{x.name} written in numerator layout (Gᵀ, shaped like {x.name}ᵀ); the Hessian applied to "
                    f"{direction.name} is dG with d{x.name} = {direction.name}, G shaped like {x.name}."]
    if direction is not None and h.wrt2 is None and _same_quadratic(ev, claim, answer, direction):
        return [f"The claim gives the right d²f = ⟨{direction.name}, H[{direction.name}]⟩ but is not the symmetric "
                f"map: the Hessian applied to {direction.name} is the symmetric part of the claim's map."]
    square = [v for v in variables_of(e.tree).values() if v.name not in (x.name, getattr(h.wrt2, "name", None))
              and v.shape[0] == v.shape[1] and v.shape != (1, 1) and not v.symmetric]
    if square:
        names = ", ".join(v.name for v in square)
        are = "is" if len(square) == 1 else "are"
        sym_ev = _evaluator(e, x, symmetric=True, sizes=sizes, extra=extra)
        if _same(sym_ev, claim, answer):
            sym = hessian(e.text(), x.name, getattr(h.wrt2, "name", None), _symmetric_where(e, square))
            shown = sym.hvp if direction is not None else sym.hessian
            return [f"The claim is right only when {names} {are} symmetric: it is missing the symmetric part. "
                    f"For symmetric {names} the {'Hessian applied to ' + sym.direction if direction is not None else 'Hessian'}"
                    f" is {shown}; in general it is not."]
    return ["The claim differs from the Hessian (not by a constant factor, a transpose, a symmetric part or the "
            "symmetrisation)."]


def _symmetric_part(claim: Expr) -> Expr:
    """(B + Bᵀ)/2."""
    return mul(Num(Q_HALF), add(claim, Transpose(claim)))


def _same_quadratic(ev: Evaluator, claim: Expr, answer: Expr, v: Var) -> bool:
    """⟨V, claim⟩ = ⟨V, answer⟩ at random points (the same quadratic form d²f)."""
    try:
        for s in (1, 2, 3):
            vv, a, b = ev(v, s), ev(claim, s), ev(answer, s)
            if a.shape != b.shape or not np.isclose(float(np.sum(vv * a)), float(np.sum(vv * b)), rtol=1e-7, atol=1e-9):
                return False
        return True
    except (MatcalcError, ValueError, FloatingPointError):
        return False


def _numeric_note(e: Expression, x: Var, claim: Expr, answer: Expr, sizes: dict[str, int],
                  extra: tuple[Var, ...] = ()) -> list[str]:
    """What NumPy says about the claim against matcalc's answer: a note, not a verdict."""
    try:
        ev = _evaluator(e, x, sizes=sizes, extra=extra)
        same = _same(ev, claim, answer, strict=True)
    except (MatcalcError, ValueError, FloatingPointError, ZeroDivisionError):
        return []
    at = f"at {sizes_text(sizes)} and 3 random points"
    if same:
        return [f"Numerically, {at}, the claim agrees with matcalc's answer; this is not a verification."]
    return [f"Numerically, {at}, the claim differs from matcalc's answer; this is not a verification."]


# ----------------------------------------------------------------------- diagnosis


def _layout_words(layout: str, scalar: bool, wrt: str) -> str:
    if scalar:
        return f"the gradient has the shape of {wrt}" if layout == "denominator" else f"the gradient has the shape of {wrt}ᵀ"
    return "∂F/∂X is the transpose of the Jacobian" if layout == "denominator" else "∂F/∂X is the Jacobian DF"


def _diagnose(diff: Diff, e: Expression, x: Var, claim: Expr, answer: Expr, layout: str, scalar: bool, wrt: str,
              sizes: dict[str, int] | None = None) -> list[str]:
    try:
        return _diagnosis(diff, e, x, claim, answer, layout, scalar, wrt, sizes)
    except (MatcalcError, ValueError, FloatingPointError, ZeroDivisionError):  # cannot evaluate at points
        return ["The claim differs from the answer."]


def _diagnosis(diff: Diff, e: Expression, x: Var, claim: Expr, answer: Expr, layout: str, scalar: bool, wrt: str,
               sizes: dict[str, int] | None) -> list[str]:
    ev = _evaluator(e, x, sizes=sizes)
    ratio = _constant_ratio(ev, claim, answer)
    if ratio is not None:
        if ratio == -1:
            return ["The claim has the wrong sign: it is minus the answer."]
        if abs(ratio) < 1e-12:
            return ["The claim is zero, but the derivative is not."]
        return [f"The claim differs by a constant factor: it is {_fmt(ratio)} times the answer."]
    square = [v for v in variables_of(e.tree).values() if v.name != x.name and v.shape[0] == v.shape[1]
              and v.shape != (1, 1) and not v.symmetric]
    if square:
        names = ", ".join(v.name for v in square)
        are = "is" if len(square) == 1 else "are"
        sym_ev = _evaluator(e, x, symmetric=True, sizes=sizes)
        sym = diff(e.text(), wrt, _symmetric_where(e, square), layout=layout).derivative
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
    condition = _right_when(e, x, claim, answer, sizes)
    if condition is not None:
        what = "gradient" if scalar else "derivative"
        return [f"The claim is right only when {condition}, which the expression does not assume; the {what} "
                "below holds without it."]
    return ["The claim differs from the answer (not by a transpose, a constant factor, a symmetric part or a "
            "condition such as 𝟏ᵀy = 1 or an orthogonal matrix)."]


def _right_when(e: Expression, x: Var, claim: Expr, answer: Expr, sizes: dict[str, int] | None) -> str | None:
    """A condition users take for granted under which the claim equals the answer, in words
    (𝟏ᵀy = 1 for a label y, QᵀQ = I for a square Q), or None: each tried at random points
    that satisfy it."""
    others = [v for v in variables_of(e.tree).values() if v.name != x.name and not v.is_scalar]
    for v in others:
        if v.shape[1] != 1:
            continue

        def summing_to_one(values: dict[str, Any], name: str = v.name) -> None:  # a probability vector
            p = np.abs(values[name]) + 0.1
            values[name] = p / p.sum()

        if _same(_evaluator(e, x, sizes=sizes, condition=summing_to_one), claim, answer):
            return f"𝟏ᵀ{v.name} = 1 (a one-hot or probability vector {v.name})"
    for v in others:
        if v.shape[1] == 1 or v.symmetric:
            continue
        r, c = (size_of(d, sizes or instantiate_sizes(e.tree)) for d in v.shape)

        def orthonormal(values: dict[str, Any], name: str = v.name, tall: bool = r >= c) -> None:
            q = values[name]  # orthonormal columns (QᵀQ = I) of a tall Q, rows of a wide one
            values[name] = np.linalg.qr(q)[0] if tall else np.linalg.qr(q.T)[0].T

        if _same(_evaluator(e, x, sizes=sizes, condition=orthonormal), claim, answer):
            if r == c:
                return f"{v.name} is orthogonal ({v.name}ᵀ {v.name} = I)"
            return (f"{v.name} has orthonormal columns ({v.name}ᵀ {v.name} = I)" if r > c else
                    f"{v.name} has orthonormal rows ({v.name} {v.name}ᵀ = I)")
    return None


def _symmetric_where(e: Expression, square: list[Var]) -> str:
    names = {v.name for v in square}
    return ", ".join(
        part + (" symmetric" if part.split(":")[0].strip() in names else "") for part in e.where().split(", ")
    )


def _fmt(v: float) -> str:
    f = Fraction(v).limit_denominator(12)
    return str(f) if abs(float(f) - v) < 1e-9 else f"{v:.6g}"


Evaluator = Callable[[Expr, int], np.ndarray]


def _evaluator(e: Expression, x: Var, symmetric: bool = False, sizes: dict[str, int] | None = None,
               extra: tuple[Var, ...] = (), condition: Callable[[dict[str, Any]], None] | None = None) -> Evaluator:
    """Evaluate trees at random points (the same point for the same seed), at ``sizes``
    (by default the oracle's); ``condition`` changes the point in place to one that
    satisfies it.  Refuses (EvaluationError) when the variables would have more than
    MAX_ENTRIES entries in all."""
    sizes = dict(sizes) if sizes else instantiate_sizes(e.tree)
    positive = positive_variables(e.tree)
    total = sum(size_of(v.shape[0], sizes) * size_of(v.shape[1], sizes) for v in variables_of(e.tree).values())
    if total > MAX_ENTRIES:
        raise EvaluationError(f"the declared sizes are too large to evaluate at random points ({total} entries, "
                              f"at most {MAX_ENTRIES})")

    def symmetrised(v: Var) -> bool:  # for "right only when A is symmetric": the other square ones
        return v.symmetric or (symmetric and v.shape[0] == v.shape[1] and v.name != x.name)

    def values(seed: int) -> dict[str, Any]:
        out = numpy_point([*variables_of(e.tree).values(), *extra], sizes, positive, np.random.default_rng(seed),
                          symmetric=symmetrised)
        if condition is not None:
            condition(out)
        return {**out, **numpy_functions(sizes, e.tree)}

    def ev(tree: Expr, seed: int) -> np.ndarray:
        return np.atleast_2d(evaluate(tree, values(seed), sizes))

    return ev


def _same(ev: Evaluator, a: Expr, b: Expr, seeds: tuple[int, ...] = (1, 2, 3), strict: bool = False) -> bool:
    """Equal at the random points of ``seeds``; an error evaluating either is "not the
    same", or (``strict``) raised."""
    try:
        for s in seeds:
            va, vb = ev(a, s), ev(b, s)
            if va.shape != vb.shape or not np.allclose(va, vb, rtol=1e-7, atol=1e-9):
                return False
        return True
    except (MatcalcError, ValueError, FloatingPointError):
        if strict:
            raise
        return False


def _same_at_points(e: Expression, x: Var, a: Expr, b: Expr) -> bool:
    """Equal at random points at the oracle's sizes; False where they cannot be evaluated."""
    try:
        return _same(_evaluator(e, x), a, b)
    except EvaluationError:
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


def _counterexample_shapes(e: Expression, claim: Expr, answer: Expr) -> str:
    sizes = instantiate_sizes(e.tree, claim, answer)
    at = "".join(f"{k}={v}, " for k, v in sizes.items())
    at = f"at {at}" if at else ""

    def concrete(t: Expr) -> str:
        return f"{size_of(t.shape[0], sizes)}×{size_of(t.shape[1], sizes)}"

    return f"{at}the claim is {concrete(claim)} but the answer is {concrete(answer)}"
