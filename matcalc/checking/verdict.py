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
(:func:`matcalc.api.check` reads them).  The diagnosis is one ladder (:func:`_diagnose`):
each rung a way claims go wrong, tried in order, for gradients (:data:`GRADIENT_RUNGS`)
and Hessians (:data:`HESSIAN_RUNGS`); a rung that needs the derivative under other
declarations (symmetric matrices) derives it again (:mod:`matcalc.derive`).  This module
never imports :mod:`matcalc.api`: the API depends on the checks, not the reverse.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from ..algebra import Q_HALF, add, mul
from ..derive import FirstOrder, SecondOrder, derive, derive_second
from ..errors import EXIT_CODES, EvaluationError, MatcalcError
from ..evaluate import evaluate
from ..limits import MAX_ENTRIES
from ..nodes import Expr, Num, Transpose, Var, map_bottom_up
from ..printing.latex import latex_name
from ..printing.render import Source
from ..printing.text import to_text
from ..rules.canon import canonical
from ..schema import SCHEMA_VERSION
from ..shapes import shape_str
from ..syntax import parse_tree
from .numeric import numpy_functions, numpy_point
from .result import STATUS, CheckResult, sizes_text
from .sizes import instantiate_sizes, positive_variables, size_of, variables_of
from .sympy_oracle import check_derivative


class Result(Protocol):
    """What a verdict needs of a derivative: its expression, its value, its answer, its notes
    (:class:`matcalc.api.Derivative` is one)."""

    expression: Source
    value: FirstOrder

    @property
    def derivative(self) -> Source: ...
    def notes_text(self, ascii: bool = False) -> list[str]: ...


class HessianResult(Protocol):
    """What a verdict needs of a Hessian (:class:`matcalc.api.Hessian` is one)."""

    expression: Source
    value: SecondOrder
    wrt: Var
    wrt2: Var | None
    direction: str
    name: str

    @property
    def hessian(self) -> Source: ...
    @property
    def hvp(self) -> Source: ...
    def notes_text(self, ascii: bool = False) -> list[str]: ...

OTHER = {"denominator": "numerator", "numerator": "denominator"}


@dataclass
class Verdict:
    """The answer to "is CLAIM the derivative of EXPR with respect to WRT?".

    ``correct`` is True (verified by the SymPy oracle), False (wrong), or None (unchecked:
    the oracle reached no verdict; ``check`` says why)."""

    correct: bool | None
    expression: Source
    wrt: str
    claim: Source
    answer: Source
    layout: str
    diagnosis: list[str] = field(default_factory=list)
    check: CheckResult | None = None
    counterexample: str | None = None
    #: the derivation behind ``answer``: its notes (abstract functions, assumptions,
    #: conditions such as "holds where X is invertible") are shown with the verdict
    derivation: Result | HessianResult | None = field(default=None, repr=False)
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


def judge(r: Result, c: Source, timeout: float = 10.0) -> Verdict:
    """Is the claim ``c`` the derivative that ``r`` derived (with respect to its variable,
    in its layout)?  The verdict is the SymPy oracle's; matcalc's answer only says how a
    wrong claim is wrong.

    >>> from matcalc import diff, parse
    >>> r = diff("x' A x", "x")
    >>> v = judge(r, parse("2 A x", r.expression.where()))
    >>> v.correct, v.diagnosis[0][:40]
    (False, 'The claim is right only when A is symmet')
    """
    e = r.expression
    d = r.value
    x, layout, scalar = d.wrt, d.layout, d.is_scalar
    answer = r.derivative
    verdict = Verdict(False, e, x.name, c, answer, layout, derivation=r)

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
                f"({_layout_words(OTHER[layout], scalar, x.name)}); in {layout} layout "
                f"{_layout_words(layout, scalar, x.name)}."
            )
        else:
            verdict.diagnosis.append(
                f"The claim has the wrong shape: it is {shape_str(got)}, but the {'gradient' if scalar else 'derivative'} "
                f"in {layout} layout is {shape_str(want)} ({_layout_words(layout, scalar, x.name)})."
            )
        verdict.counterexample = _counterexample_shapes(e, c.tree, answer.tree)
        return verdict

    result = check_derivative(e.tree, x, as_gradient(c.tree), timeout=timeout)
    case = _Case(e, x, c.tree, answer.tree, result.sizes, "answer", layout=layout)
    return _settle(verdict, result, lambda: _numeric_note(e, x, c.tree, answer.tree, result.sizes),
                   lambda: _diagnose(case, GRADIENT_RUNGS))


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


def judge_hessian(h: HessianResult, c: Source, direction: Var | None, timeout: float = 10.0) -> Verdict:
    """Is the claim ``c`` the Hessian H of ``h`` (or, with ``direction`` V, H[V], the Hessian
    applied to V)?  The verdict is the SymPy oracle's, against its own second partials of f;
    matcalc's Hessian only says how a wrong claim is wrong."""
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
    case = _Case(e, x, c.tree, answer.tree, result.sizes, "Hessian", wrt2=h.wrt2, direction=direction, name=h.name)
    return _settle(verdict, result, lambda: _numeric_note(e, x, c.tree, answer.tree, result.sizes, extra),
                   lambda: _diagnose(case, HESSIAN_RUNGS))


def _renamed(t: Expr, old: str, new: str) -> Expr:
    return map_bottom_up(t, lambda n: Var(new, n.dims, n.symmetric) if isinstance(n, Var) and n.name == old else n)


# ----------------------------------------------------------------------- the diagnosis

@dataclass
class _Case:
    """A wrong claim and the answer it is compared with: what the rungs of the ladder ask."""

    e: Source
    x: Var
    claim: Expr
    answer: Expr
    sizes: dict[str, int]
    #: "answer" (a gradient or derivative) or "Hessian"
    what: str
    layout: str = "denominator"
    wrt2: Var | None = None
    #: the direction V of a claimed H[V]
    direction: Var | None = None
    #: the Hessian's name, ∂²f/∂vec X ∂(vec X)ᵀ
    name: str = ""

    @property
    def extra(self) -> tuple[Var, ...]:
        return (self.direction,) if self.direction is not None else ()

    @functools.cached_property
    def ev(self) -> Evaluator:
        return _evaluator(self.e, self.x, sizes=self.sizes, extra=self.extra)

    @functools.cached_property
    def square(self) -> list[Var]:
        """The square matrices other than the variables, not declared symmetric."""
        mine = (self.x.name, getattr(self.wrt2, "name", None))
        return [v for v in variables_of(self.e.tree).values() if v.name not in mine
                and v.shape[0] == v.shape[1] and v.shape != (1, 1) and not v.symmetric]


Rung = Callable[[_Case], "list[str] | None"]


def _diagnose(case: _Case, rungs: tuple[Rung, ...]) -> list[str]:
    """How a wrong claim is wrong, in words: the first rung of the ladder that says."""
    try:
        for rung in rungs:
            found = rung(case)
            if found:
                return found
    except (MatcalcError, ValueError, FloatingPointError, ZeroDivisionError):  # cannot evaluate at points
        return [f"The claim differs from the {case.what}."]
    if case.what == "Hessian":
        return ["The claim differs from the Hessian (not by a constant factor, a transpose, a symmetric part or the "
                "symmetrisation)."]
    return ["The claim differs from the answer (not by a transpose, a constant factor, a symmetric part or a "
            "condition such as 𝟏ᵀy = 1 or an orthogonal matrix)."]


def _factor(case: _Case) -> list[str] | None:
    """A constant factor: the sign, zero, or a number times the answer."""
    ratio = _constant_ratio(case.ev, case.claim, case.answer)
    if ratio is None:
        return None
    if ratio == -1:
        return [f"The claim has the wrong sign: it is minus the {case.what}."]
    if abs(ratio) < 1e-12:
        return [f"The claim is zero, but the {'Hessian' if case.what == 'Hessian' else 'derivative'} is not."]
    return [f"The claim differs by a constant factor: it is {_fmt(ratio)} times the {case.what}."]


def _symmetric_only(case: _Case) -> list[str] | None:
    """Right only when the other square matrices are symmetric (the symmetric part is missing)."""
    if not case.square:
        return None
    names = ", ".join(v.name for v in case.square)
    are = "is" if len(case.square) == 1 else "are"
    sym_ev = _evaluator(case.e, case.x, symmetric=True, sizes=case.sizes, extra=case.extra)
    where = _symmetric_where(case.e, case.square)
    if case.what == "Hessian":
        if not _same(sym_ev, case.claim, case.answer):
            return None
        sym = _hessian_of(case.e, case.x, case.wrt2, where)
        shown = sym.hvp if case.direction is not None else sym.hessian
        part = f"Hessian applied to {sym.direction.name}" if case.direction is not None else "Hessian"
        return [f"The claim is right only when {names} {are} symmetric: it is missing the symmetric part. "
                f"For symmetric {names} the {part} is {to_text(shown)}; in general it is not."]
    sym = to_text(_derivative_of(case.e, case.x, where, case.layout))
    if _same(sym_ev, case.claim, case.answer):
        return [f"The claim is right only when {names} {are} symmetric: it is missing the symmetric part. "
                f"For symmetric {names} the answer is {sym}; in general it is not."]
    k = _constant_ratio(sym_ev, case.claim, case.answer)
    if k is not None:
        return [f"The claim is missing the symmetric part, and even for symmetric {names} it is "
                f"{_fmt(k)} times the answer, which is then {sym}."]
    return None


def _transposed(case: _Case) -> list[str] | None:
    """The transpose of a square answer: a layout mix-up."""
    if case.claim.shape[0] == case.claim.shape[1] and _same(case.ev, Transpose(case.claim), case.answer):
        scalar = case.e.tree.is_scalar
        return [f"The claim is the transpose of the answer: a layout mix-up. It follows the {OTHER[case.layout]} "
                f"layout ({_layout_words(OTHER[case.layout], scalar, case.x.name)})."]
    return None


def _conditional(case: _Case) -> list[str] | None:
    """Right only under a condition notes take for granted (𝟏ᵀy = 1, an orthogonal Q)."""
    condition = _right_when(case.e, case.x, case.claim, case.answer, case.sizes)
    if condition is None:
        return None
    what = "gradient" if case.e.tree.is_scalar else "derivative"
    return [f"The claim is right only when {condition}, which the expression does not assume; the {what} "
            "below holds without it."]


def _mixed_transposed(case: _Case) -> list[str] | None:
    if case.direction is None and case.wrt2 is not None and case.claim.shape[0] == case.claim.shape[1] \
            and _same(case.ev, Transpose(case.claim), case.answer):
        return [f"The claim is the transpose of the mixed Hessian: it is ∂²f/∂vec {case.wrt2.name} "
                f"∂(vec {case.x.name})ᵀ; {case.name} has one row per entry of vec {case.x.name}."]
    return None


def _not_symmetrised(case: _Case) -> list[str] | None:
    if case.direction is None and case.wrt2 is None and case.claim.shape[0] == case.claim.shape[1] \
            and _same(case.ev, _symmetric_part(case.claim), case.answer):
        return ["The claim is not symmetric: with M the claim, d²f = (vec dX)ᵀ M (vec dX) is right, but the "
                "Hessian is the symmetric (M + Mᵀ)/2 (the second identification table)."]
    return None


def _transposed_hvp(case: _Case) -> list[str] | None:
    """H[V] transposed: the derivative of the numerator-layout gradient."""
    v, x = case.direction, case.x
    if v is None or case.wrt2 is not None or v.shape[0] != v.shape[1] or v.is_scalar:
        return None
    flipped = Transpose(map_bottom_up(case.claim, lambda n: Transpose(n) if n == v else n))
    if _same(case.ev, Transpose(case.claim), case.answer) or _same(case.ev, flipped, case.answer):
        return [f"The claim is the transpose of the Hessian applied to {v.name}: it differentiates "
                f"∂f/∂{x.name} written in numerator layout (Gᵀ, shaped like {x.name}ᵀ); the Hessian applied to "
                f"{v.name} is dG with d{x.name} = {v.name}, G shaped like {x.name}."]
    return None


def _same_form(case: _Case) -> list[str] | None:
    """A claimed H[V] with the right quadratic form d²f = ⟨V, H[V]⟩ but not the symmetric map."""
    v = case.direction
    if v is not None and case.wrt2 is None and _same_quadratic(case.ev, case.claim, case.answer, v):
        return [f"The claim gives the right d²f = ⟨{v.name}, H[{v.name}]⟩ but is not the symmetric "
                f"map: the Hessian applied to {v.name} is the symmetric part of the claim's map."]
    return None


#: the ladder for a gradient or derivative, and for a Hessian: each rung a way claims go wrong
GRADIENT_RUNGS: tuple[Rung, ...] = (_factor, _symmetric_only, _transposed, _conditional)
HESSIAN_RUNGS: tuple[Rung, ...] = (_factor, _mixed_transposed, _not_symmetrised, _transposed_hvp, _same_form,
                                   _symmetric_only)


def _derivative_of(e: Source, x: Var, where: str, layout: str) -> Expr:
    """The derivative of ``e`` read again with the declarations ``where``."""
    tree = parse_tree(e.text(), where).tree
    return derive(tree, _var(tree, x.name), layout).derivative


def _hessian_of(e: Source, x: Var, y: Var | None, where: str) -> SecondOrder:
    tree = parse_tree(e.text(), where).tree
    names = {n.name for n in tree.walk() if isinstance(n, Var)}
    first = derive(tree, _var(tree, x.name))
    return derive_second(first, _var(tree, y.name) if y is not None else None, frozenset(names))


def _var(tree: Expr, name: str) -> Var:
    return next(n for n in tree.walk() if isinstance(n, Var) and n.name == name)


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


def _numeric_note(e: Source, x: Var, claim: Expr, answer: Expr, sizes: dict[str, int],
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


def _layout_words(layout: str, scalar: bool, wrt: str) -> str:
    if scalar:
        return f"the gradient has the shape of {wrt}" if layout == "denominator" else f"the gradient has the shape of {wrt}ᵀ"
    return "∂F/∂X is the transpose of the Jacobian" if layout == "denominator" else "∂F/∂X is the Jacobian DF"


def _right_when(e: Source, x: Var, claim: Expr, answer: Expr, sizes: dict[str, int] | None) -> str | None:
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


def _symmetric_where(e: Source, square: list[Var]) -> str:
    names = {v.name for v in square}
    return ", ".join(
        part + (" symmetric" if part.split(":")[0].strip() in names else "") for part in e.where().split(", ")
    )


def _fmt(v: float) -> str:
    f = Fraction(v).limit_denominator(12)
    return str(f) if abs(float(f) - v) < 1e-9 else f"{v:.6g}"


Evaluator = Callable[[Expr, int], np.ndarray]


def _evaluator(e: Source, x: Var, symmetric: bool = False, sizes: dict[str, int] | None = None,
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


def _same_at_points(e: Source, x: Var, a: Expr, b: Expr) -> bool:
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


def _counterexample_shapes(e: Source, claim: Expr, answer: Expr) -> str:
    sizes = instantiate_sizes(e.tree, claim, answer)
    at = "".join(f"{k}={v}, " for k, v in sizes.items())
    at = f"at {at}" if at else ""

    def concrete(t: Expr) -> str:
        return f"{size_of(t.shape[0], sizes)}×{size_of(t.shape[1], sizes)}"

    return f"{at}the claim is {concrete(claim)} but the answer is {concrete(answer)}"
